# Crashes in C, for daemon_crash_test.go. QUERY_STRING 'op':
#   segv      a NULL dereference in C (a broken C extension): ctypes.string_at(0)
#   thread    the same, in a thread the app started (not one of gowsgi's)
#   bus       a real bus error: reading, through ctypes, a page of an mmap
#             whose file was truncated under it
#   kill-bus  os.kill(os.getpid(), SIGBUS): the signal sent, not a fault
#   raise-segv  the request's thread sends itself SIGSEGV (pthread_kill, as
#             raise(3) and faulthandler._sigsegv() do): a crash, reported
#   go-fatal  what the Go runtime does when it dies of a fault in its own
#             code, imitated: its report into the crash report's (unnamed)
#             file, then SIGQUIT to the process
#   (none)    the pid, as JSON
import ctypes
import json
import mmap
import os
import signal
import tempfile
import threading
import time


def null_deref():
    return ctypes.string_at(0)


def truncated_mmap_read():
    fd, path = tempfile.mkstemp()
    os.unlink(path)
    os.ftruncate(fd, mmap.PAGESIZE)
    m = mmap.mmap(fd, mmap.PAGESIZE)
    os.ftruncate(fd, 0)
    address = ctypes.addressof(ctypes.c_char.from_buffer(m))
    return ctypes.string_at(address, 1)


def go_fatal():
    for fd in os.listdir('/proc/self/fd'):
        try:
            target = os.readlink('/proc/self/fd/' + fd)
        except OSError:
            continue
        if '/#' in target and target.endswith(' (deleted)'):
            os.write(int(fd), b'fatal error: imitated by crash.wsgi\n\ngoroutine 1 [running]:\n')
            break
    os.kill(os.getpid(), signal.SIGQUIT)
    time.sleep(5)


def raise_segv():
    signal.pthread_kill(threading.get_ident(), signal.SIGSEGV)
    time.sleep(5)


def application(environ, start_response):
    op = environ.get('QUERY_STRING', '')
    if op == 'segv':
        null_deref()
    elif op == 'thread':
        t = threading.Thread(target=null_deref, name='crasher')
        t.start()
        t.join()
    elif op == 'bus':
        truncated_mmap_read()
    elif op == 'go-fatal':
        go_fatal()
    elif op == 'raise-segv':
        raise_segv()
    elif op == 'kill-bus':
        os.kill(os.getpid(), signal.SIGBUS)
        time.sleep(5)   # a signal sent is delivered when it is: never answer
    body = json.dumps({'pid': os.getpid()}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
