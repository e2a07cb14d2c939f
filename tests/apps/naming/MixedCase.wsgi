# The module name mod_wsgi gives this script (WSGICaseSensitivity decides
# whether its mixed-case path is lower-cased first), and whether the request
# carries apache.request_rec (WSGIPassApacheRequest).
def application(environ, start_response):
    rec = environ.get('apache.request_rec')
    body = '%s %s' % (__name__, type(rec).__name__ if 'apache.request_rec' in environ else '-')
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body.encode()]
