# The tenants benchmark's app (tests/bench/tenants.go): a hello app that
# imports nothing, as small as a tenant's app can be.
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]
