# mod_wsgi 6 surface (tests/mw6_test.go): switch interval, RequestTimeout,
# LogHandler, request_metrics() status counters, telemetry (mw6_telemetry_test.go).
import gc
import json
import logging
import os
import sys
import time
from urllib.parse import parse_qs

import mod_wsgi

log = logging.getLogger("mw6test")
log.propagate = False
log.setLevel(logging.DEBUG)
log.addHandler(mod_wsgi.LogHandler())

SAW_TIMEOUT = []
SUBSCRIBED = []


def application(environ, start_response):
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    op = q.get("op", "facts")
    body = {"pid": os.getpid(), "group": mod_wsgi.process_group}
    status = "200 OK"
    if op == "facts":
        body["switch_interval"] = sys.getswitchinterval()
        body["request_timeout_base"] = mod_wsgi.RequestTimeout.__mro__[1].__name__
        body["saw_timeout"] = list(SAW_TIMEOUT)
    elif op == "loop":
        # Python code running (time.sleep returns every 50 ms), as in the
        # observation of 6.0.5: the injected exception lands at once.
        swallow = q.get("swallow") == "1"
        end = time.time() + float(q.get("s", "30"))
        while time.time() < end:
            try:
                time.sleep(0.05)
            except mod_wsgi.RequestTimeout:
                SAW_TIMEOUT.append(q.get("tag", ""))
                environ["wsgi.errors"].write("mw6 app saw RequestTimeout %s\n" % q.get("tag", ""))
                if not swallow:
                    raise
    elif op == "sleep":
        time.sleep(float(q.get("s", "1")))
    elif op == "log":
        tag = q.get("tag", "x")
        log.debug("mw6-debug-" + tag)
        log.info("mw6-info-" + tag)
        log.warning("mw6-warning-" + tag)
        log.error("mw6-error-" + tag)
        log.critical("mw6-critical-" + tag)
    elif op == "start":
        body["start"] = mod_wsgi.start_recording_metrics()
    elif op == "status":
        status = q.get("code", "200") + " X"
    elif op == "raise":
        raise RuntimeError("mw6 test error")
    elif op == "metrics":
        m = mod_wsgi.request_metrics()
        body["metrics"] = {k: m.get(k) for k in ("status_1xx", "status_2xx", "status_3xx", "status_4xx",
                                                   "status_5xx", "request_count")} if m else m
    elif op == "subscribe":
        if not SUBSCRIBED:
            @mod_wsgi.subscribe_signals
            def on_signal(name, **event):
                sys.stderr.write("mw6 got %s %s %s\n" % (name, event.get("signame"), event.get("signum")))
                sys.stderr.flush()
            SUBSCRIBED.append(on_signal)
    elif op == "gc":
        # Telemetry's GC datagrams: n reference cycles, then a full
        # collection. Collected first, so no automatic collection (700
        # allocations away) takes some of the cycles before ours.
        gc.collect()
        for _ in range(int(q.get("n", "100"))):
            a = []
            a.append(a)
        del a
        body["collected"] = gc.collect(2)
    elif op == "signals":
        cb = lambda *a, **k: None
        body["same"] = mod_wsgi.subscribe_signals(cb) is cb
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
