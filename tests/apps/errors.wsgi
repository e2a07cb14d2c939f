# Error-path probe: uncaught exceptions and the three ways of writing to the
# Apache error log.
import sys
from urllib.parse import parse_qs


def application(environ, start_response):
    q = parse_qs(environ.get('QUERY_STRING', ''))
    op = q.get('op', ['raise'])[0]
    tok = q.get('tok', ['none'])[0]
    if op == 'raise':
        raise RuntimeError('deliberate failure ' + tok)
    if op == 'raiselater':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        raise RuntimeError('failure after start_response ' + tok)
    if op == 'print':
        print('GOWSGI-PRINT ' + tok)
        sys.stdout.flush()
    elif op == 'stderr':
        sys.stderr.write('GOWSGI-STDERR ' + tok + '\n')
        sys.stderr.flush()
    elif op == 'errors':
        environ['wsgi.errors'].write('GOWSGI-WSGIERRORS ' + tok + '\n')
        environ['wsgi.errors'].flush()
    elif op == 'noreturn':
        return None
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'logged ' + tok.encode()]
