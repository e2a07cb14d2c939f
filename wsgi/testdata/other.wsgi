# A second callable name, for callable-object selection.
def handler(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'from handler']
