# Writes marked lines to the error log from a daemon: at import (outside any
# request: print to sys.stderr and a Python warning) and in a request
# (print to sys.stderr and wsgi.errors). The marks carry the process group,
# so a test can tell which daemon wrote which line and where it landed.
import json
import os
import sys
import warnings

import mod_wsgi

GROUP = mod_wsgi.process_group
print('IMPORT-STDERR-%s' % GROUP, file=sys.stderr)
warnings.warn('IMPORT-WARNING-%s' % GROUP)


def application(environ, start_response):
    mark = environ.get('QUERY_STRING', '')
    print('REQ-STDERR-%s-%s' % (GROUP, mark), file=sys.stderr)
    environ['wsgi.errors'].write('REQ-ERRORS-%s-%s\n' % (GROUP, mark))
    # What Apache escapes in a logged line: controls, a backslash, bytes
    # over 0x7e (a quote stays as it is).
    environ['wsgi.errors'].write('REQ-ESCAPED-%s-%s tab\there back\\slash quote" esc\x1b[31m cr\r bs\b '
                                 'utf8-\u00e9 c1-\u009b2J del\x7f\n' % (GROUP, mark))
    environ['wsgi.errors'].flush()
    body = json.dumps({'pid': os.getpid(), 'group': GROUP}).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
