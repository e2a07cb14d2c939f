# Stress probe for tests/stress_test.go: every endpoint (PATH_INFO) is a way
# for an application to misbehave. Markers written to sys.stderr end up in
# Apache's error log, where the tests look for them (prefork spreads requests
# over processes, so in-process state cannot be asked for).
import os
import sys
import threading
import time
from urllib.parse import parse_qs

KEPT = {}


def q(environ, name, default=''):
    return parse_qs(environ.get('QUERY_STRING', '')).get(name, [default])[0]


def mark(*parts):
    sys.stderr.write('stress-marker %s\n' % ' '.join(str(p) for p in parts))
    sys.stderr.flush()


def text(start_response, body, status='200 OK', extra=()):
    body = body.encode() if isinstance(body, str) else body
    start_response(status, [('Content-Type', 'text/plain'),
                            ('Content-Length', str(len(body)))] + list(extra))
    return [body]


class Closing:
    """An iterable that reports close() with its token."""

    def __init__(self, gen, tok, close_raises=False):
        self.gen, self.tok, self.close_raises = gen, tok, close_raises

    def __iter__(self):
        return iter(self.gen)

    def close(self):
        mark('closed', self.tok)
        if self.close_raises:
            raise RuntimeError('stress: close() raises ' + self.tok)


class IterRaises:
    def __iter__(self):
        raise ValueError('stress: __iter__ raises')


def big(environ, start_response):
    # ?mb=<n> MiB in 64 KiB items, or forever when mb=0
    tok, mb = q(environ, 'tok'), int(q(environ, 'mb', '8'))
    chunk = b'x' * 65536
    start_response('200 OK', [('Content-Type', 'application/octet-stream')])

    def gen():
        n = 0
        while mb == 0 or n < mb * 16:
            n += 1
            yield chunk
        mark('finished', tok)
    return Closing(gen(), tok)


def slowstart(environ, start_response):
    tok = q(environ, 'tok')
    time.sleep(float(q(environ, 's', '0.5')))
    mark('slowstart-done', tok)
    return text(start_response, 'late ' + tok)


def upload(environ, start_response):
    tok, total = q(environ, 'tok'), 0
    inp = environ['wsgi.input']
    try:
        while True:
            b = inp.read(8192)
            if not b:
                break
            total += len(b)
    except Exception as e:
        mark('upload-error', tok, type(e).__name__, total)
        raise
    mark('upload-done', tok, total)
    return text(start_response, 'read %d' % total)


def raise_mid(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])

    def gen():
        yield b'first part\n'
        yield b'second part\n'
        raise RuntimeError('stress: raised in the middle of a generator')
    return gen()


def raise_close(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return Closing([b'body before close\n'], q(environ, 'tok'), close_raises=True)


def iter_raises(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return IterRaises()


def nonbytes(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])

    def gen():
        yield b'bytes first\n'
        yield 'then a str\n'
        yield b'never sent\n'
    return gen()


def late_start_response(environ, start_response):
    tok = q(environ, 'tok')

    def later():
        time.sleep(0.2)
        try:
            start_response('500 Late', [('X-Late', 'yes')])
            mark('late-start-response', tok, 'accepted')
        except BaseException as e:
            mark('late-start-response', tok, type(e).__name__)
    threading.Thread(target=later, daemon=True).start()
    return text(start_response, 'returned ' + tok)


def keep(environ, start_response):
    # Keep the request objects for a later request.
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    KEPT.update(input=environ['wsgi.input'], start_response=start_response,
                write=write, errors=environ['wsgi.errors'],
                file_wrapper=environ.get('wsgi.file_wrapper'))
    write(b'kept pid=%d\n' % os.getpid())
    return []


def use_kept(environ, start_response):
    out = ['pid=%d' % os.getpid()]
    if not KEPT:
        out.append('nothing-kept')
    for name, call in [
        ('input.read', lambda: KEPT['input'].read(10)),
        ('input.readline', lambda: KEPT['input'].readline()),
        ('input.iter', lambda: list(KEPT['input'])),
        ('start_response', lambda: KEPT['start_response']('200 OK', [])),
        ('write', lambda: KEPT['write'](b'stale write\n')),
        ('errors.write', lambda: KEPT['errors'].write('stress stale errors write\n')),
        ('errors.flush', lambda: KEPT['errors'].flush()),
    ]:
        if not KEPT:
            break
        try:
            call()
            out.append('%s=ok' % name)
        except Exception as e:
            out.append('%s=%s' % (name, type(e).__name__))
    return text(start_response, ' '.join(out))


def bg_stale(environ, start_response):
    # A thread that uses this request's objects after it has ended.
    tok = q(environ, 'tok')
    inp, errors = environ['wsgi.input'], environ['wsgi.errors']
    holder = {}

    def later():
        time.sleep(0.3)
        res = []
        for name, call in [
            ('input.read', lambda: inp.read(10)),
            ('start_response', lambda: start_response('200 OK', [])),
            ('write', lambda: holder['write'](b'stale\n')),
            ('errors.write', lambda: errors.write('stress bg stale errors write\n')),
        ]:
            try:
                call()
                res.append('%s=ok' % name)
            except Exception as e:
                res.append('%s=%s' % (name, type(e).__name__))
        mark('bg-stale', tok, ' '.join(res))
    threading.Thread(target=later, daemon=True).start()
    holder['write'] = start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'bg-stale ' + tok.encode()]


def bg_read_race(environ, start_response):
    # A background thread blocks in wsgi.input.read() while the request ends
    # without having read its body.
    tok = q(environ, 'tok')
    inp = environ['wsgi.input']

    def reader():
        try:
            n = len(inp.read())
            mark('bg-read', tok, 'ok', n)
        except BaseException as e:
            mark('bg-read', tok, type(e).__name__)
    threading.Thread(target=reader, daemon=True).start()
    time.sleep(0.1)
    return text(start_response, 'returned ' + tok)


def bg_write_race(environ, start_response):
    # A background thread calls write() while the request thread streams.
    tok = q(environ, 'tok')
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    stop = threading.Event()

    def writer():
        n = 0
        try:
            while not stop.is_set() and n < 2000:
                write(b'w' * 512)
                n += 1
            mark('bg-write', tok, 'stopped', n)
        except BaseException as e:
            mark('bg-write', tok, type(e).__name__, n)
    th = threading.Thread(target=writer, daemon=True)
    th.start()

    def gen():
        for _ in range(200):
            yield b'g' * 512
        stop.set()
    return gen()


_printer_started = False


def printer(environ, start_response):
    # Background threads print continuously for ?s= seconds.
    global _printer_started
    secs = float(q(environ, 's', '2'))

    def loop(stream, i):
        end = time.time() + secs
        n = 0
        while time.time() < end:
            print('stress-bg-print thread=%d n=%d %s' % (i, n, 'p' * 100), file=stream)
            n += 1
            time.sleep(0.001)
    if not _printer_started:
        _printer_started = True
        for i in range(4):
            threading.Thread(target=loop, args=(sys.stdout if i % 2 else sys.stderr, i),
                             daemon=True).start()
    return text(start_response, 'printing')


def outlive(environ, start_response):
    # A non-daemon thread that outlives the request (and would outlive the
    # process if the interpreter waited for it at exit).
    tok = q(environ, 'tok')

    def sleeper():
        while True:
            time.sleep(0.05)
    threading.Thread(target=sleeper, daemon=q(environ, 'daemon') == '1', name='stress-' + tok).start()
    return text(start_response, 'spawned ' + tok)


def sysexit(environ, start_response):
    sys.exit(3)


def huge_header(environ, start_response):
    n = int(q(environ, 'n', '61440'))
    return text(start_response, 'huge header', extra=[('X-Huge', 'h' * n)])


def many_headers(environ, start_response):
    n = int(q(environ, 'n', '5000'))
    return text(start_response, 'many headers', extra=[('X-Many-%d' % i, str(i)) for i in range(n)])


def ctrl_status(environ, start_response):
    kind = q(environ, 'k', 'ctl')
    status = {'ctl': '200 O\x01K\x7f\x1b', 'nul': '200 OK\x00junk', 'tab': '200\tOK',
              'cr': '200 OK\rX-Injected: 1', 'long': '200 ' + 'R' * 10000}[kind]
    return text(start_response, 'status ' + kind, status=status)


def ctrl_header(environ, start_response):
    kind = q(environ, 'k', 'nul')
    value = {'nul': 'a\x00b', 'ctl': 'a\x01\x7f', 'cr': 'a\rX-Injected: 1'}[kind]
    return text(start_response, 'header ' + kind, extra=[('X-Ctl', value)])


def cl_short(environ, start_response):
    # Content-Length promises more than is sent.
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '100')])
    return [b'only ten b']


def cl_long(environ, start_response):
    # Content-Length promises less than is sent.
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '10')])
    return [b'0123456789', b'this must never reach the client']


def cl_long_gen(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '10')])

    def gen():
        yield b'01234'
        yield b'56789EXTRA'
        yield b'MORE EXTRA'
    return gen()


def echo(environ, start_response):
    # Concurrency probe: echoes the token and the interpreter's identity.
    import mod_wsgi
    tok = q(environ, 'tok')
    g = environ.get('mod_wsgi.application_group', '')
    mine = globals().setdefault('_group_seen', g)
    time.sleep(float(q(environ, 's', '0')))
    if mine != g:
        body = 'MIXED interpreter: module loaded for %r serves %r' % (mine, g)
    else:
        body = 'tok=%s group=%s modgroup=%s' % (tok, g, getattr(mod_wsgi, 'application_group', '?'))
    return text(start_response, body)


def ok(environ, start_response):
    return text(start_response, 'ok pid=%d' % os.getpid())


ROUTES = {
    '/ok': ok, '/big': big, '/slowstart': slowstart, '/upload': upload,
    '/raise_mid': raise_mid, '/raise_close': raise_close, '/iter_raises': iter_raises,
    '/nonbytes': nonbytes, '/late_start_response': late_start_response,
    '/keep': keep, '/use_kept': use_kept, '/bg_stale': bg_stale,
    '/bg_read_race': bg_read_race, '/bg_write_race': bg_write_race,
    '/printer': printer, '/outlive': outlive, '/sysexit': sysexit,
    '/huge_header': huge_header, '/many_headers': many_headers,
    '/ctrl_status': ctrl_status, '/ctrl_header': ctrl_header,
    '/cl_short': cl_short, '/cl_long': cl_long, '/cl_long_gen': cl_long_gen,
    '/echo': echo,
}


def application(environ, start_response):
    route = ROUTES.get(environ.get('PATH_INFO', ''))
    if route is None:
        return text(start_response, 'no route', status='404 Not Found')
    return route(environ, start_response)
