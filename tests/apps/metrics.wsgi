# The app behind tests/metrics_test.go: answers the status it is asked for
# (?status=404), after ?sleep= seconds; ?pid=1 answers its process id.
import os
import time


def application(environ, start_response):
    params = dict(p.split('=', 1) for p in environ.get('QUERY_STRING', '').split('&') if '=' in p)
    if 'sleep' in params:
        time.sleep(float(params['sleep']))
    status = int(params.get('status', '200'))
    body = str(os.getpid()).encode() if 'pid' in params else b'ok'
    start_response('%d Status' % status, [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
