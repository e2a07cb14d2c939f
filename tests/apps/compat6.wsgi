# Where mod_wsgi 4.9.4 and 6.0 differ (tests/modwsgi_compat_test.go):
# ?status=200 answers with that status line as given (a bare code is
# 4.9.4's 500 and 6.0's 200); ?exit=1 ends the process mid-request, before
# any response (in daemon mode: 4.9.4's 500, 6.0's 502); ?say=TOKEN writes
# TOKEN to sys.stderr and wsgi.errors, then raises RuntimeError(TOKEN).
import os
import sys
from urllib.parse import parse_qs


def application(environ, start_response):
    q = parse_qs(environ.get('QUERY_STRING', ''))
    if 'exit' in q:
        os._exit(3)
    if 'say' in q:
        token = q['say'][0]
        print('stderr ' + token, file=sys.stderr)
        environ['wsgi.errors'].write('errors ' + token + '\n')
        raise RuntimeError(token)
    start_response(q.get('status', ['200 OK'])[0], [('Content-Type', 'text/plain')])
    return [b'compat6\n']
