package wsgi

/*
#include "daemon_signals.h"
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// daemonEnvGOMAXPROCS is what the forked daemon process left of Apache's
// GOMAXPROCS when it set its own (cshim/daemon_child.c): "-" for none,
// "=value" for Apache's value.
const daemonEnvGOMAXPROCS = "GOWSGI_DAEMON_GOMAXPROCS"

// restoreDaemonEnvironment undoes the GOMAXPROCS=1 a daemon process's Go
// runtime started with (one P from the start: docs/benchmarks.md, "Go
// runtime in an idle daemon"), so that Python's os.environ is Apache's,
// as under mod_wsgi. Before Python starts; Go's own GOMAXPROCS stays 1
// (DaemonMain).
func restoreDaemonEnvironment() {
	was, ok := os.LookupEnv(daemonEnvGOMAXPROCS)
	if !ok {
		return
	}
	// Errors are impossible here (valid names, no NUL): nothing to report.
	_ = os.Unsetenv(daemonEnvGOMAXPROCS)
	if v, set := strings.CutPrefix(was, "="); set {
		_ = os.Setenv("GOMAXPROCS", v)
	} else {
		_ = os.Unsetenv("GOMAXPROCS")
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
