# Reload probe for tests/stress_test.go: copied into the server root with
# @VERSION@ replaced, then rewritten and touched while requests are in flight.
import os
import time

VERSION = '@VERSION@'
# module-level work, so that a reload takes a moment
_table = [str(i) * 8 for i in range(20000)]


def application(environ, start_response):
    time.sleep(0.01)
    body = ('version=%s pid=%d n=%d' % (VERSION, os.getpid(), len(_table))).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
