# Runs embedded in an Apache child (as Apache's user) and plays a process
# that is not part of this Apache but got hold of a daemon group's channel:
# it forks, and the grandchild (its parent is the Apache child, not the
# Apache parent) sends a connection over every SOCK_SEQPACKET descriptor it
# inherited, then reports whether any daemon answered. gowsgi's daemons
# check each peer and must refuse it (daemon_serve.c, peer_allowed).
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


def application(environ, start_response):
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
