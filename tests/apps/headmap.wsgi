# WSGIMapHEADToGET probe: answers as pywps does (a HEAD is refused with 405,
# any other method gets a page), and says in X-Method which REQUEST_METHOD
# it saw. ?type=T sets the Content-Type (default text/html); ?cl=0 leaves
# Content-Length out; ?gen=1 returns the body from a generator, in three
# pieces.
from urllib.parse import parse_qs


def application(environ, start_response):
    method = environ['REQUEST_METHOD']
    query = parse_qs(environ.get('QUERY_STRING', ''))
    ctype = query.get('type', ['text/html'])[0]
    if method == 'HEAD':
        status = '405 Method Not Allowed'
        body = b'<html><body>HEAD is not allowed</body></html>\n'
        headers = [('Allow', 'GET, POST')]
    else:
        status = '200 OK'
        body = ('<html><body>' + 'capabilities ' * 250 + '</body></html>\n').encode()
        headers = []
    headers += [('Content-Type', ctype), ('X-Method', method)]
    if query.get('cl', ['1'])[0] != '0':
        headers.append(('Content-Length', str(len(body))))
    start_response(status, headers)
    if query.get('gen', ['0'])[0] == '1':
        third = len(body) // 3
        return (piece for piece in (body[:third], body[third:2 * third], body[2 * third:]))
    return [body]
