# Which Python serves the request (pythons_test.go): the version, the
# interpreter and prefixes it took, and that its own C extensions and
# mod_wsgi's module work. ?sleep=S holds the request S seconds first.
import json
import os
import sys
import sysconfig
import time

import _json
import _socket
import mod_wsgi


def application(environ, start_response):
    qs = environ.get('QUERY_STRING', '')
    if qs.startswith('sleep='):
        time.sleep(float(qs[6:]))
    out = {
        'version': '%d.%d' % sys.version_info[:2],
        'full_version': sys.version.split()[0],
        'gil_disabled': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),
        'executable': sys.executable,
        'prefix': sys.prefix,
        'base_prefix': sys.base_prefix,
        'stdlib': os.path.dirname(os.__file__),
        'extension': _socket.__file__ if hasattr(_socket, '__file__') else 'built-in',
        'process_group': mod_wsgi.process_group,
        'application_group': mod_wsgi.application_group,
        'mod_wsgi_version': list(mod_wsgi.version),
        'pid': os.getpid(),
        'wsgi_version': list(environ['wsgi.version']),
    }
    body = json.dumps(out, sort_keys=True).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
