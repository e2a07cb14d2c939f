# A tenant whose requests are stuck (fairshare_test.go): each request says
# it entered (a file in 'dir' named by 'tok'), then waits until 'dir'/open
# exists, at most 'max' seconds (20), so the test's requests end by
# themselves whatever happens.
import os
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    q = parse_qs(environ.get('QUERY_STRING', ''))
    d = q['dir'][0]
    tok = q.get('tok', [''])[0]
    if tok:
        with open(os.path.join(d, 'in-' + tok), 'w') as f:
            f.write(str(os.getpid()))
    deadline = time.time() + float(q.get('max', ['20'])[0])
    gate = os.path.join(d, 'open')
    while not os.path.exists(gate) and time.time() < deadline:
        time.sleep(0.02)
    body = b'released\n' if os.path.exists(gate) else b'timed out\n'
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
