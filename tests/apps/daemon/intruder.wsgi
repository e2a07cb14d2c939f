# Runs embedded in an Apache child (as Apache's user) and plays a process
# that is not part of this Apache but got hold of a daemon group's channel:
# it forks, and the grandchild (its parent is the Apache child, not the
# Apache parent) sends a connection over every SOCK_SEQPACKET descriptor it
# inherited, then reports whether any daemon answered. gowsgi's daemons
# check each peer and must refuse it (daemon_serve.c, peer_allowed).
#
# In a daemon (/scan) it plays a tenant looking for another tenant's
# secrets in its own process: every readable mapping of its memory
# (/proc/self/maps and /proc/self/mem) is searched for each needle, and
# its open descriptors are listed. The needles arrive as two hex halves
# that are never joined, so the search cannot find the copy it was given.
# With op=shrink it looks for its group's shared records (a memfd named
# gowsgi-daemon-group) among its descriptors and tries to truncate them.
import binascii
import errno
import json
import os
import socket
import struct


def _seqpacket_fds():
    out = []
    for name in os.listdir('/proc/self/fd'):
        fd = int(name)
        try:
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_SEQPACKET:
                out.append(fd)
        except OSError:
            pass
        finally:
            s.close()
    return sorted(out)


def _try(fd):
    chan = socket.socket(fileno=os.dup(fd))
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        socket.send_fds(chan, [b'c'], [theirs.fileno()])
    except OSError as e:
        return 'send failed: %s' % e.strerror
    finally:
        theirs.close()
        chan.close()
    mine.settimeout(3)
    try:
        data = mine.recv(64)
    except socket.timeout:
        return 'no answer'
    except OSError as e:
        return 'error: %s' % e.strerror
    finally:
        mine.close()
    if not data:
        return 'closed'
    # 5-byte header: length, type; 16 is ACCEPT.
    if len(data) >= 5 and data[4] == 16:
        return 'accepted'
    return 'answered %r' % data[:8]


def _regions():
    with open('/proc/self/maps') as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split('-'))
            if parts[1][0] == 'r':
                yield lo, hi, parts[5] if len(parts) > 5 else ''


def _scan(needles):
    """needles: name -> (first half, second half), bytes."""
    # A process that changed its uid is not dumpable, which leaves
    # /proc/self/mem to root: the tenant can simply ask to be again.
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
    found = {name: [] for name in needles}
    keep = max(len(a) + len(b) for a, b in needles.values())
    mem = os.open('/proc/self/mem', os.O_RDONLY)
    scanned = 0
    try:
        for lo, hi, path in _regions():
            carry = b''
            off = lo
            while off < hi:
                n = min(1 << 20, hi - off)
                try:
                    chunk = os.pread(mem, n, off)
                except OSError:
                    break
                if not chunk:
                    break
                scanned += len(chunk)
                data = carry + chunk
                for name, (a, b) in needles.items():
                    i = data.find(a)
                    while i >= 0:
                        if data[i + len(a):i + len(a) + len(b)] == b:
                            found[name].append('%x %s' % (off - len(carry) + i, path))
                            break
                        i = data.find(a, i + 1)
                carry = data[-keep:]
                off += len(chunk)
    finally:
        os.close(mem)
    return found, scanned


def _fds():
    out = {}
    for name in os.listdir('/proc/self/fd'):
        try:
            out[name] = os.readlink('/proc/self/fd/' + name)
        except OSError:
            pass
    return out


def scan(environ, start_response):
    needles = {}
    for item in environ.get('QUERY_STRING', '').split('&'):
        if '=' not in item:
            continue
        name, halves = item.split('=', 1)
        if name == 'op':
            continue
        a, b = halves.split('.')
        needles[name] = (binascii.unhexlify(a), binascii.unhexlify(b))
    found, scanned = _scan(needles)
    body = json.dumps({'pid': os.getpid(), 'exe': os.readlink('/proc/self/exe'), 'found': found,
                       'scanned': scanned, 'fds': _fds()}).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]


def shrink(environ, start_response):
    """Looks for the group's shared records (a memfd) among its own
    descriptors and tries to cut them to nothing: were it allowed, every
    process that maps them (Apache's parent and children) would SIGBUS."""
    held = {}
    for name, target in _fds().items():
        if 'gowsgi-daemon-group' not in target:
            continue
        try:
            os.ftruncate(int(name), 0)
            held[name] = 'truncated'
        except OSError as e:
            held[name] = 'refused: %s' % errno.errorcode.get(e.errno, e.errno)
    body = json.dumps({'pid': os.getpid(), 'held': held}).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]


def application(environ, start_response):
    if environ.get('QUERY_STRING', '').startswith('op=scan'):
        return scan(environ, start_response)
    if environ.get('QUERY_STRING', '').startswith('op=shrink'):
        return shrink(environ, start_response)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            res = {'pid': os.getpid(), 'ppid': os.getppid(),
                   'attempts': {str(fd): _try(fd) for fd in _seqpacket_fds()}}
        except Exception as e:  # report, never fall back into Apache's code
            res = {'error': repr(e)}
        os.write(w, json.dumps(res).encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    os.waitpid(pid, 0)
    body = b''.join(chunks)
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
