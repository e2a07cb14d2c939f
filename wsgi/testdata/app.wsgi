# One app, many behaviours, chosen by PATH_INFO: exercised by engine_test.go.
import os
import sys

counter = 0


class Closing:
    def __init__(self, errors):
        self.errors = errors

    def __iter__(self):
        yield b'body'

    def close(self):
        self.errors.write('close called\n')


def application(environ, start_response):
    global counter
    counter += 1
    path = environ.get('HTTP_X_ROUTE', environ['PATH_INFO'])
    plain = [('Content-Type', 'text/plain')]

    if path == '/hello':
        start_response('200 OK', plain)
        return [b'Hello, World!']
    if path == '/environ':
        start_response('200 OK', plain)
        return [repr(sorted((k, v) for k, v in environ.items() if isinstance(v, (str, bool, int, tuple)))).encode()]
    if path == '/counter':
        start_response('200 OK', plain)
        import mod_wsgi
        return [('%s %d' % (mod_wsgi.application_group, counter)).encode()]
    if path == '/input':
        inp = environ['wsgi.input']
        mode = environ['QUERY_STRING']
        if mode == 'all':
            out = inp.read()
        elif mode == 'n':
            out = inp.read(3) + b'|' + inp.read(3) + b'|' + inp.read()
        elif mode == 'readline':
            out = inp.readline() + b'|' + inp.readline(2) + b'|' + inp.readline()
        elif mode == 'readlines':
            out = b'|'.join(inp.readlines())
        elif mode == 'iter':
            out = b'|'.join(line for line in inp)
        elif mode == 'errors':
            results = []
            for _ in range(2):
                try:
                    results.append(repr(inp.read()))
                except Exception as e:
                    results.append('%s: %s' % (type(e).__name__, e))
            out = '|'.join(results).encode()
        else:
            out = repr(inp.read()).encode() + repr(inp.read()).encode()
        start_response('200 OK', plain)
        return [out]
    if path == '/str':
        start_response('200 OK', plain)
        return ['not bytes']
    if path == '/latin1':
        start_response('200 OK', [('X-Bad', '\u20ac')])
        return [b'x']
    if path == '/raise':
        raise RuntimeError('boom from the app')
    if path == '/truncate':
        start_response('200 OK', [('Content-Length', '5')])
        return [b'abc', b'defgh']
    if path == '/short':
        start_response('200 OK', [('Content-Length', '100')])
        return [b'only ten b']
    if path == '/badlength':
        start_response('200 OK', [('Content-Length', 'abc')])
        return [b'x']
    if path == '/write':
        write = start_response('200 OK', plain)
        write(b'abc')
        return [b'def']
    if path == '/close':
        start_response('200 OK', plain)
        return Closing(environ['wsgi.errors'])
    if path == '/twice':
        start_response('500 Oops', plain)
        start_response('201 Created', plain)
        return [b'x']
    if path == '/excinfo':
        def gen():
            start_response('200 OK', plain)
            yield b'partial'
            try:
                raise ValueError('late failure')
            except ValueError:
                start_response('500 Error', plain, sys.exc_info())
        return gen()
    if path == '/file':
        start_response('200 OK', plain)
        return environ['wsgi.file_wrapper'](open(environ['SCRIPT_FILENAME'], 'rb'))
    if path == '/file-cl':
        start_response('200 OK', [('Content-Length', '10')])
        return environ['wsgi.file_wrapper'](open(environ['SCRIPT_FILENAME'], 'rb'))
    if path == '/stream':
        start_response('200 OK', plain)
        return (b'chunk%d' % i for i in range(3))
    if path == '/print':
        print('hello from print')
        sys.stderr.write('to stderr\n')
        environ['wsgi.errors'].write('to errors\n')
        start_response('200 OK', plain)
        return [b'ok']
    if path == '/signal':
        import signal
        signal.signal(signal.SIGUSR1, lambda *a: None)
        start_response('200 OK', plain)
        return [b'still here']
    if path == '/empty':
        start_response('204 No Content', [])
        return []
    if path == '/nostart':
        return [b'never started']
    if path == '/badstatus':
        start_response('OK', plain)
        return [b'x']
    if path == '/noreason':
        start_response('200', plain)
        return [b'x']
    if path == '/badheader':
        name = {'space': 'X Bad', 'control': 'X\x01Bad', 'empty': '', 'colon': 'X:Bad',
                'latin1': 'X-\u00e9'}[environ['QUERY_STRING']]
        start_response('200 OK', [(name, 'v')])
        return [b'x']
    if path == '/exit':
        sys.exit(3)
    if path == '/errors':
        errors = environ['wsgi.errors']
        errors.write('\udcff lone surrogate\n')
        print('via print', file=errors, flush=True)
        start_response('200 OK', plain)
        return [' '.join(str(x) for x in (
            type(errors).__name__, type(errors.buffer).__name__, errors.name, errors.encoding,
            errors.errors, errors.line_buffering, errors.write_through, errors.newlines)).encode()]
    if path == '/keep-errors':
        global kept_errors
        kept_errors = environ['wsgi.errors']
        start_response('200 OK', plain)
        return [b'kept']
    if path == '/use-kept-errors':
        try:
            kept_errors.write('late line\n')
            outcome = 'no error'
        except RuntimeError as e:
            outcome = str(e)
        fresh = environ['wsgi.errors'] is not kept_errors
        environ['wsgi.errors'].write('fresh line\n')
        start_response('200 OK', plain)
        return [('%s fresh=%s' % (outcome, fresh)).encode()]
    if path == '/reconfigure-errors':
        environ['wsgi.errors'].reconfigure(line_buffering=False)
        start_response('200 OK', plain)
        return [str(id(environ['wsgi.errors'])).encode()]
    if path == '/errors-id':
        start_response('200 OK', plain)
        return [str(environ['wsgi.errors'].line_buffering).encode()]
    if path == '/file-huge-block':
        start_response('200 OK', plain)
        return environ['wsgi.file_wrapper'](open(environ['SCRIPT_FILENAME'], 'rb'), 2**40)
    start_response('404 Not Found', plain)
    return [b'no route ' + path.encode()]
