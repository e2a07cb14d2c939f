# Surface probe for the differential tests (differential_surface_test.go).
# QUERY_STRING 'op' selects a behaviour; every op that can observe an
# exception reports its type and message as JSON so that the two servers'
# answers can be compared exactly.
import json
import os
import signal
import sys
from urllib.parse import parse_qs

SMALLFILE = os.path.join(os.path.dirname(__file__), 'static', 'file.txt')


def _type_name(x):
    t = type(x)
    return '%s.%s' % (t.__module__, t.__qualname__)


def _surface(x):
    """Type name, sorted dir() and, per public attribute, the type name of
    its value (or of the exception raised when getting it)."""
    out = {'type': _type_name(x), 'dir': sorted(dir(x)), 'attrs': {}}
    if isinstance(x, type):
        # a class: its own name, not just 'builtins.type'
        out['class'] = '%s.%s' % (x.__module__, x.__qualname__)
    for name in out['dir']:
        if name.startswith('_'):
            continue
        try:
            out['attrs'][name] = _type_name(getattr(x, name))
        except BaseException as e:
            out['attrs'][name] = 'raised ' + _type_name(e)
    return out


def _value(f):
    try:
        v = f()
    except BaseException as e:
        return 'raised %s: %s' % (_type_name(e), e)
    if v is None or isinstance(v, (bool, int, str)):
        return v
    return 'value of type ' + _type_name(v)


def _simple(x):
    """Values of the simple attributes of a text stream."""
    out = {}
    for name in ('encoding', 'errors', 'line_buffering', 'write_through', 'name', 'mode', 'closed'):
        if name in ('name', 'mode') and not hasattr(x, name):
            out[name] = 'absent'
            continue
        out[name] = _value(lambda: getattr(x, name))
    for name in ('readable', 'writable', 'seekable', 'isatty'):
        out[name + '()'] = _value(lambda: getattr(x, name)())
    return out


def _exc(e):
    return {'type': _type_name(e), 'message': str(e)}


def _handler(signum, frame):
    pass


def _json(start_response, out, status='200 OK'):
    body = json.dumps(out, sort_keys=True, indent=1).encode('utf-8')
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(body)))])
    return [body]


def application(environ, start_response):
    q = parse_qs(environ.get('QUERY_STRING', ''))
    op = q.get('op', ['hello'])[0]
    text = [('Content-Type', 'text/plain')]

    if op == 'hello':
        start_response('200 OK', text)
        return [b'hello world']

    if op == 'surface':
        errors = environ['wsgi.errors']
        wrapper = environ['wsgi.file_wrapper']
        out = {
            'wsgi.input': _surface(environ['wsgi.input']),
            'wsgi.errors': _surface(errors),
            'wsgi.errors simple': _simple(errors),
            'sys.stdout simple': _simple(sys.stdout),
            'sys.stderr simple': _simple(sys.stderr),
            'wsgi.file_wrapper': _surface(wrapper),
            'sys.stdout': _surface(sys.stdout),
            'sys.stderr': _surface(sys.stderr),
        }
        if hasattr(errors, 'buffer'):
            out['wsgi.errors.buffer'] = _surface(errors.buffer)
        else:
            out['wsgi.errors.buffer'] = 'absent'
        with open(SMALLFILE, 'rb') as f:
            out['wsgi.file_wrapper instance'] = _surface(wrapper(f, 8192))
        return _json(start_response, out)

    if op == 'nophrase':
        # A status without a reason phrase (and so without a space).
        start_response('200', text)
        return [b'status without reason phrase']

    if op == 'badname':
        names = {
            'space': 'X Bad',
            'ctrl': 'X\x01Bad',
            'empty': '',
            'colon': 'X:Bad',
            'latin1': 'X-\u00e9',
        }
        start_response('200 OK', text + [(names[q['which'][0]], 'v')])
        return [b'bad header name was accepted']

    if op == 'readtwice':
        # Read the whole body twice; report bytes or the exception of each.
        inp = environ['wsgi.input']
        reads = []
        for _ in range(2):
            try:
                reads.append({'data': inp.read().decode('latin-1')})
            except BaseException as e:
                reads.append(_exc(e))
        return _json(start_response, {'reads': reads})

    if op == 'bigwrapper':
        f = open(SMALLFILE, 'rb')
        start_response('200 OK', text)
        return environ['wsgi.file_wrapper'](f, 2 ** 40)

    if op == 'surrogate':
        out = {}
        try:
            out['returned'] = repr(environ['wsgi.errors'].write('\udcff x\n'))
            out['raised'] = None
        except BaseException as e:
            out['raised'] = _exc(e)
        return _json(start_response, out)

    if op == 'signal':
        out = {}
        try:
            old = signal.signal(signal.SIGUSR1, _handler)
            out['result'] = 'returned'
            out['returned'] = repr(old)
        except BaseException as e:
            out['result'] = 'raised'
            out['raised'] = _exc(e)
        return _json(start_response, out)

    if op == 'exit':
        sys.exit()

    start_response('404 Not Found', text)
    return [b'unknown op']
