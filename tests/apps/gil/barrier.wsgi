# GIL modes (gil_modes_test.go): a rendezvous only two requests running
# Python at the same instant can pass.
#
# ?file=F&side=S&timeout=T: side S (0 or 1) marks byte S of F (an mmap
# shared with the other side, which may run in another interpreter of
# this process) and spins, in pure Python, until it sees the other side's
# byte, or for T seconds. It never releases its GIL meanwhile: the switch
# interval is set far beyond T at import (per interpreter with its own
# GIL, process-wide with a shared one), and nothing in the loop blocks.
# So two requests on one GIL never overlap: the second waits for the GIL
# until the first gives up and unmarks its byte, then spins alone. One
# passes only when both run at once, on two GILs or none, and then both do.
#
# ?op=facts: which Python and GIL this interpreter has.
# ?op=import&name=M: imports M; the ImportError's text if it fails.
# ?op=sleep&s=S: sleeps S seconds (in _nap, for the stack dump's lines).
import json
import mmap
import os
import sys
import sysconfig
import time
import urllib.parse

import mod_wsgi

sys.setswitchinterval(1000.0)


def facts():
    gil = getattr(sys, '_is_gil_enabled', None)
    return {
        'version': '%d.%d' % sys.version_info[:2],
        'free_threaded_build': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),
        'gil_enabled': gil() if gil else True,
        'switch_interval': sys.getswitchinterval(),
        'process_group': mod_wsgi.process_group,
        'application_group': mod_wsgi.application_group,
        'pid': os.getpid(),
    }


def rendezvous(path, side, timeout):
    fd = os.open(path, os.O_RDWR)
    try:
        m = mmap.mmap(fd, 2)
    finally:
        os.close(fd)
    other = 1 - side
    m[side] = 1
    deadline = time.monotonic() + timeout
    passed = False
    spins = 0
    while True:
        if m[other] == 1:
            passed = True
            break
        spins += 1
        if spins % 100000 == 0 and time.monotonic() > deadline:
            break
    # Passed: the mark stays (the file serves one pair), so the other side
    # sees it however late it looks. Given up: unmarked, so a side that
    # runs only after this one never meets it.
    if not passed:
        m[side] = 0
    m.close()
    return {'passed': passed, 'spins': spins}


def _nap(seconds):
    time.sleep(seconds)
    return {'slept': seconds}


def application(environ, start_response):
    q = dict(urllib.parse.parse_qsl(environ.get('QUERY_STRING', '')))
    op = q.get('op', 'rendezvous')
    if op == 'facts':
        out = facts()
    elif op == 'import':
        try:
            __import__(q['name'])
            out = {'imported': True}
        except ImportError as e:
            out = {'imported': False, 'error': '%s: %s' % (type(e).__name__, e)}
    elif op == 'sleep':
        out = _nap(float(q['s']))
    else:
        out = rendezvous(q['file'], int(q['side']), float(q.get('timeout', '10')))
        out.update(facts())
    body = json.dumps(out).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]
