# wsgi.input probe. QUERY_STRING selects the reading strategy; the result
# is JSON describing exactly what was read.
import hashlib
import json
from urllib.parse import parse_qs


def application(environ, start_response):
    q = parse_qs(environ.get('QUERY_STRING', ''))
    op = q.get('op', ['read'])[0]
    n = int(q.get('n', ['7'])[0])
    inp = environ['wsgi.input']
    out = {'op': op}
    data = b''
    if op == 'read':
        data = inp.read()
    elif op == 'readn':
        chunks = []
        while True:
            c = inp.read(n)
            if not c:
                break
            chunks.append(len(c))
            data += c
        out['chunks'] = chunks
    elif op == 'readline':
        lines = []
        while True:
            line = inp.readline(n) if 'n' in q else inp.readline()
            if not line:
                break
            lines.append(line.decode('latin-1'))
            data += line
        out['lines'] = lines
    elif op == 'readlines':
        hint = int(q['hint'][0]) if 'hint' in q else None
        lines = inp.readlines(hint) if hint is not None else inp.readlines()
        out['lines'] = [l.decode('latin-1') for l in lines]
        data = b''.join(lines)
        out['rest'] = inp.read().decode('latin-1')
    elif op == 'iter':
        lines = [l for l in inp]
        out['lines'] = [l.decode('latin-1') for l in lines]
        data = b''.join(lines)
    elif op == 'eof':
        data = inp.read()
        out['after_read'] = repr(inp.read())
        out['after_read_n'] = repr(inp.read(10))
        out['after_readline'] = repr(inp.readline())
    elif op == 'noread':
        pass
    out['len'] = len(data)
    out['md5'] = hashlib.md5(data).hexdigest()
    out['content_length'] = environ.get('CONTENT_LENGTH', None)
    out['has_content_length'] = 'CONTENT_LENGTH' in environ
    out['transfer_encoding'] = environ.get('HTTP_TRANSFER_ENCODING', None)
    out['input_terminated'] = repr(environ.get('wsgi.input_terminated'))
    if q.get('echo'):
        out['data'] = data.decode('latin-1')
    body = json.dumps(out).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
