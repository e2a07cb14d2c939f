# A request that crashes in C when the test says so: "?crash" writes
# <GATE_DIR>/started, waits for <GATE_DIR>/go, then dereferences NULL through
# ctypes. The test opens the gate once a graceful restart has left this
# process draining, so the crash is that of a draining process.
import ctypes
import os
import time


def application(environ, start_response):
    if environ.get('QUERY_STRING') == 'crash':
        gate = environ['GATE_DIR']
        open(os.path.join(gate, 'started'), 'w').close()
        deadline = time.time() + 30
        while not os.path.exists(os.path.join(gate, 'go')) and time.time() < deadline:
            time.sleep(0.02)
        ctypes.string_at(0)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'%d' % os.getpid()]
