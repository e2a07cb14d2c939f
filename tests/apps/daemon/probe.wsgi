# Daemon-mode probe (daemon_test.go). QUERY_STRING 'op' selects a
# behaviour; the default reports, as JSON, the process the request ran in
# (ids, user, cwd, environment, title, threads, umask) and the WSGI facts
# that differ between embedded and daemon mode.
import errno
import glob
import hashlib
import json
import os
import pwd
import socket
import sys
import threading
import time
from urllib.parse import parse_qs

try:
    import mod_wsgi as _mw
except ImportError:  # pragma: no cover
    _mw = None

_STATIC = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'static', 'file.txt')


def _json(start_response, out, status='200 OK'):
    body = json.dumps(out, sort_keys=True, indent=1).encode('utf-8')
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(body)))])
    return [body]


def _umask():
    # os.umask can only be read by setting it; put it back at once.
    m = os.umask(0o022)
    os.umask(m)
    return '%04o' % m


def _fds():
    out = {}
    for fd in sorted(os.listdir('/proc/self/fd'), key=int):
        try:
            out[fd] = os.readlink('/proc/self/fd/' + fd)
        except OSError as e:
            out[fd] = 'error: %s' % e.strerror
    return out


def _socket_of(name):
    """A socket object over a duplicate of descriptor name, or None (the
    duplicate is closed when the descriptor is not a socket)."""
    try:
        fd = os.dup(int(name))
    except OSError:
        return None
    try:
        return socket.socket(fileno=fd)
    except OSError:
        os.close(fd)
        return None


def _facts(environ):
    try:
        name = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        name = None
    with open('/proc/self/cmdline', 'rb') as f:
        cmdline = f.read().decode('latin-1')
    mw = {}
    if _mw is not None:
        for attr in ('process_group', 'application_group', 'threads_per_process', 'maximum_processes'):
            mw[attr] = getattr(_mw, attr, 'absent')
    return {
        'pid': os.getpid(),
        'ppid': os.getppid(),
        'uid': os.getuid(),
        'euid': os.geteuid(),
        'gid': os.getgid(),
        'egid': os.getegid(),
        'groups': sorted(os.getgroups()),
        'user': name,
        'cwd': os.getcwd(),
        'HOME': os.environ.get('HOME'),
        'USER': os.environ.get('USER'),
        'LOGNAME': os.environ.get('LOGNAME'),
        'argv': list(sys.argv),
        'cmdline': cmdline,
        'umask': _umask(),
        'thread_name': threading.current_thread().name,
        'thread_daemon': threading.current_thread().daemon,
        'active_count': threading.active_count(),
        'environ_mod_wsgi': {k: v for k, v in environ.items()
                             if k.startswith('mod_wsgi.') and isinstance(v, str)},
        'multithread': environ.get('wsgi.multithread'),
        'multiprocess': environ.get('wsgi.multiprocess'),
        'run_once': environ.get('wsgi.run_once'),
        'module': mw,
        'prefix': sys.prefix,
        'base_prefix': sys.base_prefix,
        'path': list(sys.path),
    }


def _pause(seconds):
    # a frame of its own: a request-timeout's stack dump shows two
    time.sleep(seconds)


def application(environ, start_response):
    q = parse_qs(environ.get('QUERY_STRING', ''))
    op = q.get('op', ['facts'])[0]
    text = [('Content-Type', 'text/plain')]

    if op == 'facts':
        return _json(start_response, _facts(environ))

    if op == 'sleep':
        # the facts, after a pause (concurrent requests spread over processes)
        _pause(float(q.get('s', ['0.3'])[0]))
        return _json(start_response, _facts(environ))

    if op == 'rec':
        # At its start, the request's id, this process's pid and when the
        # daemon took the request (mod_wsgi.daemon_start, microseconds),
        # appended to the file 'f' (one write: lines from concurrent
        # requests do not mix); then a pause of 's' seconds, or until the
        # file 'go' exists (60 s at most). What ran where, and how many
        # times, for daemon_faults_test.go.
        line = '%s %d %s\n' % (q['id'][0], os.getpid(), environ.get('mod_wsgi.daemon_start', '0'))
        fd = os.open(q['f'][0], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        if 'go' in q:
            deadline = time.time() + 60
            while not os.path.exists(q['go'][0]) and time.time() < deadline:
                time.sleep(0.02)
        else:
            _pause(float(q.get('s', ['0'])[0]))
        start_response('200 OK', text)
        return [line.encode()]

    if op == 'fds':
        return _json(start_response, {'pid': os.getpid(), 'fds': _fds()})

    if op == 'connect':
        # Try to connect to every UNIX socket matching the glob; report the
        # errno name of each attempt ('connected' when it worked).
        out = {}
        for path in sorted(glob.glob(q['glob'][0])):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.connect(path)
                out[path] = 'connected'
            except OSError as e:
                out[path] = errno.errorcode.get(e.errno, str(e.errno))
            finally:
                s.close()
        return _json(start_response, {'uid': os.getuid(), 'results': out})

    if op == 'echo':
        data = environ['wsgi.input'].read()
        start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                                  ('X-Md5', hashlib.md5(data).hexdigest())])
        return [data]

    if op == 'lines':
        # line iteration over wsgi.input
        n, h = 0, hashlib.md5()
        for line in environ['wsgi.input']:
            n += 1
            h.update(line)
        return _json(start_response, {'lines': n, 'md5': h.hexdigest()})

    if op == 'stream':
        # Yield a first chunk, then wait (up to 10 s) until the file named
        # by 'go' exists: the client can only create it after it has seen
        # the first chunk, so the chunk must have been flushed.
        go = q['go'][0]

        def gen():
            yield b'first\n'
            deadline = time.time() + 10
            while not os.path.exists(go) and time.time() < deadline:
                time.sleep(0.02)
            yield b'second\n' if os.path.exists(go) else b'timeout\n'
        start_response('200 OK', text)
        return gen()

    if op == 'bigheader':
        n = int(q.get('n', ['40000'])[0])
        start_response('200 OK', text + [('X-Big', 'x' * n)])
        return [b'big header sent']

    if op == 'notfound':
        start_response('404 Not Found', text)
        return [b'app says not found']

    if op == 'raise':
        raise RuntimeError('daemon probe failure ' + q.get('tok', ['none'])[0])

    if op == 'badstatus':
        start_response('OK', text)
        return [b'bad status']

    if op == 'badheader':
        start_response('200 OK', text + [('X-Bad', 'line\nbreak')])
        return [b'bad header value']

    if op == 'filewrapper':
        f = open(_STATIC, 'rb')
        start_response('200 OK', text)
        return environ['wsgi.file_wrapper'](f, 4096)

    if op == 'stack':
        # The stack size of the thread running the request.
        import ctypes
        libc = ctypes.CDLL(None)
        libc.pthread_self.restype = ctypes.c_ulong
        attr = ctypes.create_string_buffer(128)
        libc.pthread_getattr_np(ctypes.c_ulong(libc.pthread_self()), attr)
        size = ctypes.c_size_t()
        libc.pthread_attr_getstacksize(attr, ctypes.byref(size))
        libc.pthread_attr_destroy(attr)
        return _json(start_response, {'stack_size': size.value})

    if op == 'conns':
        # The inodes of this process's stream sockets: its connections from
        # Apache's children, the one this request came on and any kept.
        out = []
        for name in os.listdir('/proc/self/fd'):
            try:
                target = os.readlink('/proc/self/fd/' + name)
            except OSError:
                continue
            s = _socket_of(name)
            if s is None:
                continue
            try:
                if target.startswith('socket:') and s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM:
                    out.append(target)
            except OSError:
                pass
            finally:
                s.close()
        return _json(start_response, {'conns': sorted(out)})
    if op == 'sockbufs':
        # SO_SNDBUF / SO_RCVBUF of this process's stream sockets (with
        # threads=1: the connection this request came on).
        out = []
        for name in os.listdir('/proc/self/fd'):
            s = _socket_of(name)
            if s is None:
                continue
            try:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM:
                    out.append([s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
                                s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)])
            except OSError:
                pass
            finally:
                s.close()
        return _json(start_response, {'bufs': out})

    if op == 'holdgil':
        # A C call that keeps the GIL (PyDLL does not release it): what a
        # deadlocked extension looks like to the process.
        import ctypes
        ctypes.PyDLL(None).sleep(int(q.get('s', ['10'])[0]))
        start_response('200 OK', text)
        return [b'released']

    if op == 'holdgil_later':
        # The same from a thread of the app's, 'after' seconds from now,
        # while the process may serve nothing: the request ends at once.
        import ctypes, threading
        hold = int(q.get('s', ['10'])[0])
        threading.Timer(float(q.get('after', ['0.5'])[0]),
                        lambda: ctypes.PyDLL(None).sleep(hold)).start()
        start_response('200 OK', text)
        return [b'scheduled']

    if op == 'hog':
        # More memory than the group's memory-limit allows.
        data = bytearray(int(q['n'][0]))
        start_response('200 OK', text)
        return [b'allocated %d' % len(data)]

    if op == 'abort':
        # What C code that cannot allocate often does.
        os.abort()

    if op == 'location':
        # CGI semantics of daemon mode: a 200 with a local Location is an
        # internal redirect (the body is dropped).
        start_response('200 OK', text + [('Location', q['to'][0])])
        return [b'body of the redirecting response']

    if op == 'method':
        start_response('200 OK', text)
        return [('method=%s body=%r' % (environ['REQUEST_METHOD'],
                                        environ['wsgi.input'].read())).encode()]

    if op == 'head':
        start_response('200 OK', text + [('X-Method', environ['REQUEST_METHOD'])])
        return [b'body for ' + environ['REQUEST_METHOD'].encode()]

    start_response('404 Not Found', text)
    return [b'unknown op']
