# A script whose import takes SLOW_IMPORT_SECONDS (4): preloaded in a daemon
# process (WSGIScriptAlias with process-group= and application-group=), it
# keeps the process starting that long (daemon_apps_test.go).
import json
import os
import time

IMPORTED_AT = time.time()
time.sleep(4)
READY_AT = time.time()


def application(environ, start_response):
    # ?sleep=N: the response takes N s more (daemon_slowstart_test.go).
    q = environ.get('QUERY_STRING', '')
    if q.startswith('sleep='):
        time.sleep(float(q[6:]))
    body = json.dumps({'pid': os.getpid(), 'imported_at': IMPORTED_AT, 'ready_at': READY_AT}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]
