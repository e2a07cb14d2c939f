# The one WSGI application every benchmark variant serves (gowsgi and
# mod_wsgi, embedded and daemon). The static-file floor serves the same bodies
# from files written by the driver (tests/bench/config.go), so the byte
# patterns below must stay in step with bodies.go.
import hashlib
import os
import time

HELLO = b"Hello, World!"  # 13 bytes
BLOCK = bytes(range(256)) * 256  # 64 KiB
STREAM_BLOCKS = 16  # 16 x 64 KiB = 1 MiB
RESPONSE_HEADERS = [("X-Bench-%02d" % i, "response-header-value-%02d" % i) for i in range(1, 21)]


def _stream():
    for _ in range(STREAM_BLOCKS):
        yield BLOCK


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/hello":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
        return [HELLO]
    if path == "/64k":
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(BLOCK)))])
        return [BLOCK]
    if path == "/stream":
        # No Content-Length: the server must stream (chunked on HTTP/1.1).
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _stream()
    if path == "/upload":
        stream = environ["wsgi.input"]
        remaining = int(environ.get("CONTENT_LENGTH") or 0)
        digest = hashlib.sha256()
        total = 0
        while remaining > 0:
            data = stream.read(min(remaining, 65536))
            if not data:
                break
            digest.update(data)
            total += len(data)
            remaining -= len(data)
        body = ("%s %d" % (digest.hexdigest(), total)).encode("ascii")
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/headers":
        count = sum(1 for k in environ if k.startswith("HTTP_X_BENCH_"))
        body = str(count).encode("ascii")
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
                       + RESPONSE_HEADERS)
        return [body]
    if path == "/sleep":
        time.sleep(0.02)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
        return [HELLO]
    if path == "/pid":
        # Used by the driver to tell where requests run (daemon-mode probe).
        body = ("%d %s" % (os.getpid(), environ.get("mod_wsgi.process_group", ""))).encode("ascii")
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
    return [b"not found"]
