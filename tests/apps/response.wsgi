# Response-side probe. QUERY_STRING 'op' selects a behaviour; 'tok' is a
# marker written to the error log so tests can find their own lines.
import os
import sys
from urllib.parse import parse_qs

BIGFILE = os.path.join(os.path.dirname(__file__), 'static', 'file.txt')


class Closing(object):
    def __init__(self, chunks, tok, fail_at=None):
        self.chunks = chunks
        self.tok = tok
        self.fail_at = fail_at

    def __iter__(self):
        for i, c in enumerate(self.chunks):
            if self.fail_at is not None and i == self.fail_at:
                raise RuntimeError('iteration failure ' + self.tok)
            yield c

    def close(self):
        sys.stderr.write('GOWSGI-CLOSE-CALLED %s\n' % self.tok)
        sys.stderr.flush()


def application(environ, start_response):
    q = parse_qs(environ.get('QUERY_STRING', ''))
    op = q.get('op', ['hello'])[0]
    tok = q.get('tok', ['none'])[0]
    text = [('Content-Type', 'text/plain')]

    if op == 'hello':
        start_response('200 OK', text)
        return [b'hello world']
    if op == 'latin1hdr':
        start_response('200 OK', text + [('X-Euro', 'price \u20ac ' + tok)])
        return [b'should not be seen']
    if op == 'latin1ok':
        start_response('200 OK', text + [('X-Latin', 'caf\u00e9')])
        return [b'ok']
    if op == 'strbody':
        start_response('200 OK', text)
        return ['a str body ' + tok]
    if op == 'tuplehdrs':
        start_response('200 OK', tuple(text))
        return [b'tuple headers']
    if op == 'badstatus':
        start_response('OK', text)
        return [b'bad status']
    if op == 'clshort':
        start_response('200 OK', text + [('Content-Length', '5')])
        return Closing([b'hello', b' world'], tok)
    if op == 'head':
        start_response('200 OK', text + [('X-Head-Test', 'yes')])
        return Closing([b'head body that must not be sent'], tok)
    if op == 'close':
        start_response('200 OK', text)
        return Closing([b'a', b'b', b'c'], tok)
    if op == 'closefail':
        start_response('200 OK', text)
        return Closing([b'a', b'b', b'c'], tok, fail_at=1)
    if op == 'write':
        write = start_response('200 OK', text)
        write(b'written-')
        write(b'by-write-')
        return [b'then-iterable']
    if op == 'twice':
        start_response('200 OK', text + [('X-First', '1')])
        start_response('201 Created', text + [('X-Second', '2')])
        return [b'second wins']
    if op == 'twiceafter':
        start_response('200 OK', text)
        def gen():
            yield b'first;'
            try:
                start_response('500 Oops', text)
                yield b'no-error'
            except Exception as e:
                yield ('%s: %s' % (type(e).__name__, e)).encode()
        return gen()
    if op == 'excinfo':
        start_response('200 OK', text + [('X-First', '1')])
        try:
            raise ValueError('before output')
        except ValueError:
            start_response('503 Custom Failure', text + [('X-Exc', 'yes')], sys.exc_info())
        return [b'error page']
    if op == 'excinfoafter':
        start_response('200 OK', text)
        def gen():
            yield b'partial;'
            try:
                raise ValueError('after output ' + tok)
            except ValueError:
                start_response('500 Error', text, sys.exc_info())
            yield b'not reached'
        return gen()
    if op == 'filewrapper':
        f = open(BIGFILE, 'rb')
        skip = int(q.get('skip', ['0'])[0])
        if skip:
            f.seek(skip)
        hdrs = list(text)
        if 'cl' in q:
            hdrs.append(('Content-Length', q['cl'][0]))
        start_response('200 OK', hdrs)
        return environ['wsgi.file_wrapper'](f, 4096)
    if op == 'filewrapper_blksize':
        f = open(BIGFILE, 'rb')
        start_response('200 OK', list(text))
        return environ['wsgi.file_wrapper'](f, 100)
    if op == 'location':
        start_response('200 OK', text + [('Location', '/resp?op=hello')])
        return [b'location body']
    if op == 'connclose':
        start_response('200 OK', text + [('Connection', 'close')])
        return [b'conn close']
    if op == 'multi':
        start_response('200 OK', text + [('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2'), ('X-Multi', 'x')])
        return [b'one', b'', b'two']
    start_response('404 Not Found', text)
    return [b'unknown op']
