# Sleeps for ?s=<seconds> (default 2) and reports the pid.
import os
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    q = parse_qs(environ.get('QUERY_STRING', ''))
    s = float(q.get('s', ['2'])[0])
    time.sleep(s)
    body = ('slept %s pid=%d' % (s, os.getpid())).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
