# A page with a server-side include of another page of the same app
# (daemon_giveup_test.go): the include is a subrequest to the same group.
def application(environ, start_response):
    if environ.get('PATH_INFO', '') == '/inner':
        body = b'inner'
    else:
        body = b'before <!--#include virtual="/ssi/inner" --> after\n'
    start_response('200 OK', [('Content-Type', 'text/html'), ('Content-Length', str(len(body)))])
    return [body]
