package wsgi

/*
#include <errno.h>
#include <unistd.h>
#include "daemon_signals.h"

// Blocks the calling thread until fd has a byte to read (or is closed).
static int gowsgi_wait_fd(int fd)
{
	char b;
	for (;;) {
		ssize_t n = read(fd, &b, 1);
		if (n >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// restoreDaemonEnvironment undoes what a daemon process's Go runtime
// started with (cshim/daemon_child.c, go_runtime_environment): GOMAXPROCS=1
// (one P from the start: docs/benchmarks.md, "Go runtime in an idle
// daemon") and containermaxprocs=0 in GODEBUG (no cgroup files kept open),
// so that Python's os.environ is Apache's, as under mod_wsgi. The forked
// process left each variable's old value in GOWSGI_DAEMON_<name>: "-" for
// none, "=value" for Apache's value. Before Python starts; Go's own
// GOMAXPROCS stays 1 (DaemonMain).
func restoreDaemonEnvironment() {
	for _, name := range []string{"GOMAXPROCS", "GODEBUG"} {
		note := "GOWSGI_DAEMON_" + name
		was, ok := os.LookupEnv(note)
		if !ok {
			continue
		}
		// Errors are impossible here (valid names, no NUL): nothing to report.
		_ = os.Unsetenv(note)
		if v, set := strings.CutPrefix(was, "="); set {
			_ = os.Setenv(name, v)
		} else {
			_ = os.Unsetenv(name)
		}
	}
}

// daemonSignals delivers sigs to the monitor as os/signal's Notify would
// (a full channel drops one), without its two OS threads: a C handler
// writes each to a pipe that Go's poller watches (daemon_signals.c).
func daemonSignals(sigs ...syscall.Signal) (<-chan os.Signal, error) {
	cs := make([]C.int, len(sigs))
	for i, s := range sigs {
		cs[i] = C.int(s)
	}
	fd := C.gowsgi_daemon_signals_install(&cs[0], C.int(len(cs)))
	if fd < 0 {
		return nil, fmt.Errorf("installing signal handlers: %w", syscall.Errno(-fd))
	}
	pipe := os.NewFile(uintptr(fd), "gowsgi signals") // non-blocking: read through the poller
	ch := make(chan os.Signal, 4)
	go func() {
		var buf [16]byte
		for {
			n, err := pipe.Read(buf[:])
			for _, b := range buf[:n] {
				select {
				case ch <- syscall.Signal(b):
				default:
				}
			}
			if err != nil {
				return // never: the pipe's write end stays open
			}
		}
	}()
	return ch, nil
}

// offMainThread runs fn on a goroutine while the calling thread (the
// process's main thread, on which DaemonMain is called from C and which
// Go keeps locked to it) waits in C. Run on that locked thread, each
// wake-up of the monitor (its tick, a signal) handed Go's one P to it and
// back, and Go kept a spare OS thread for the hand-offs
// (docs/benchmarks.md, "Go runtime in an idle daemon"). If no pipe can be
// made, fn runs here.
func offMainThread(fn func()) {
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
		fn()
		return
	}
	finished := make(chan struct{})
	go func() {
		defer func() { _ = syscall.Close(fds[1]) }() // wakes the main thread
		defer close(finished)
		fn()
	}()
	C.gowsgi_wait_fd(C.int(fds[0]))
	<-finished // at once (the pipe closes after it), and orders fn's writes before what follows
	_ = syscall.Close(fds[0])
}
