# What an interpreter got of mod_wsgi 6's <WSGIInterpreterOptions>
# (tests/interp_options_test.go): its sys.path head, whether its standard
# streams are restricted, whether signal.signal is the restricted no-op,
# and its switch interval.
import json
import signal
import sys

import mod_wsgi


def _handler(signum, frame):
    pass


def _signal():
    try:
        signal.signal(signal.SIGUSR2, _handler)
    except Exception as e:
        return "raised " + type(e).__name__
    return "ignored" if signal.getsignal(signal.SIGUSR2) is not _handler else "installed"


def application(environ, start_response):
    body = {
        "application_group": mod_wsgi.application_group,
        "process_group": mod_wsgi.process_group,
        "path": [p for p in sys.path if "/interp-options/" in p],
        "stdout": type(sys.stdout).__name__,
        "stdin": type(sys.stdin).__name__,
        "signal": _signal(),
        "switch_interval": sys.getswitchinterval(),
    }
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
