# Environ probe: dumps environ (str values as is, others as repr) plus
# interpreter facts as JSON. Used by most integration tests.
import builtins
import json
import locale
import os
import sys

try:
    import mod_wsgi as _mw
except ImportError:  # pragma: no cover
    _mw = None

_counter = 0


def _py_facts(environ):
    global _counter
    _counter += 1
    # interpreter-wide counter (shared by every script in one sub-interpreter)
    box = builtins.__dict__.setdefault('_gowsgi_interp_counter', [0])
    box[0] += 1
    facts = {
        'pid': os.getpid(),
        'module_counter': _counter,
        'interp_counter': box[0],
        'module_name': __name__,
        'argv': list(sys.argv),
        'orig_argv': list(getattr(sys, 'orig_argv', [])),
        'prefix': sys.prefix,
        'base_prefix': sys.base_prefix,
        'executable': sys.executable,
        'path': list(sys.path),
        'optimize': sys.flags.optimize,
        'dont_write_bytecode': bool(sys.dont_write_bytecode),
        'flag_dont_write_bytecode': sys.flags.dont_write_bytecode,
        'hash_randomization': sys.flags.hash_randomization,
        'hash_abc': str(hash('abc')),
        'warnoptions': list(sys.warnoptions),
        'debug': __debug__,
        'imported_marker': getattr(builtins, '_gowsgi_import_script_pid', None),
        'stdin_type': type(sys.stdin).__name__,
        # How Python started on the process's locale (mod_wsgi 4.9.4 and
        # 6.0 differ: README, "mod_wsgi 4.9.4 vs 6.0").
        'filesystem_encoding': sys.getfilesystemencoding(),
        'utf8_mode': sys.flags.utf8_mode,
        'preferred_encoding': locale.getpreferredencoding(False),
        'lc_ctype': locale.setlocale(locale.LC_CTYPE),
        'environ_lc_ctype': os.environ.get('LC_CTYPE'),
    }
    if _mw is not None:
        facts['mod_wsgi'] = {
            'version': list(_mw.version),
            'process_group': _mw.process_group,
            'application_group': _mw.application_group,
        }
    return facts


def application(environ, start_response):
    env = {}
    types = {}
    for k, v in environ.items():
        if isinstance(v, str):
            env[k] = v
        else:
            env[k] = repr(v)
            types[k] = type(v).__name__
    body = json.dumps({'environ': env, 'types': types, 'py': _py_facts(environ)},
                      sort_keys=True, indent=1).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body))),
                              ('X-Method', environ['REQUEST_METHOD'])])
    return [body]


def other(environ, start_response):
    body = b'callable=other'
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]


def fromenv(environ, start_response):
    body = b'callable=fromenv'
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
