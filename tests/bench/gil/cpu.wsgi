# A CPU-bound request for the GIL-modes benchmark (tests/bench/gil): pure
# Python arithmetic, no I/O, about 30 ms on one core.
import mod_wsgi

N = 200000


def application(environ, start_response):
    total = 0
    for i in range(N):
        total += i * i % 7
    body = ('%s %s %d\n' % (mod_wsgi.process_group, mod_wsgi.application_group, total)).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
