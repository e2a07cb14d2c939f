# The app behind tests/status_page_test.go: answers the status it is asked
# for (?status=404); ?pid=1 answers its process id; ?hold=NAME holds the
# request until the file release-NAME exists beside this script (at most
# 60 s), so that the test can look at it while it is in flight.
import os
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def application(environ, start_response):
    params = dict(p.split('=', 1) for p in environ.get('QUERY_STRING', '').split('&') if '=' in p)
    if 'hold' in params:
        release = os.path.join(HERE, 'release-' + ''.join(c for c in params['hold'] if c.isalnum()))
        deadline = time.time() + 60
        while not os.path.exists(release) and time.time() < deadline:
            time.sleep(0.05)
    status = int(params.get('status', '200'))
    body = str(os.getpid()).encode() if 'pid' in params else b'ok'
    start_response('%d Status' % status, [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
