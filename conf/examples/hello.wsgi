# The example app `make run` serves: a greeting, plus the environ on /environ.
def application(environ, start_response):
    if environ.get('PATH_INFO') == '/environ':
        body = ''.join('%s = %r\n' % kv for kv in sorted(environ.items())).encode('utf-8')
        start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8')])
        return [body]
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello, World!']
