# Imports a module that is only reachable through WSGIPythonPath.
def application(environ, start_response):
    try:
        import gowsgi_testlib
        body = gowsgi_testlib.MARKER.encode()
    except ImportError as e:
        body = ('ImportError: %s' % e).encode()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
