# Probes WSGIRestrictStdout / WSGIRestrictSignal.
import json
import signal
import sys
from urllib.parse import parse_qs


def _handler(signum, frame):
    pass


def application(environ, start_response):
    q = parse_qs(environ.get('QUERY_STRING', ''))
    op = q.get('op', ['print'])[0]
    tok = q.get('tok', ['none'])[0]
    out = {'op': op}
    if op == 'print':
        try:
            print('GOWSGI-RESTRICTED-PRINT ' + tok)
            sys.stdout.flush()
            out['result'] = 'printed'
        except Exception as e:
            out['result'] = 'raised'
            out['type'] = type(e).__name__
            out['message'] = str(e)
    elif op == 'signal':
        try:
            old = signal.signal(signal.SIGUSR2, _handler)
            out['result'] = 'returned'
            out['returned'] = repr(old)
            out['now'] = repr(signal.getsignal(signal.SIGUSR2))
        except Exception as e:
            out['result'] = 'raised'
            out['type'] = type(e).__name__
            out['message'] = str(e)
    body = json.dumps(out).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
