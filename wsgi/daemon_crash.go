package wsgi

/*
#include "engine.h"
#include "daemon_signals.h"
*/
import "C"

import (
	"os"
	"runtime/debug"
)

// crashFile is the crash report's file (crash_report.h): kept referenced,
// or the collector would close the descriptor the C handler writes to.
var crashFile *os.File

// crashReporting: a crash in C is the C handler's to report (the shim
// installed it before Go loaded, and Go forwards it faults outside Go
// code). What is left for Go:
//
//   - its own fatal errors: their report goes to the crash report's file
//     too, where the handler finds it (SIGABRT follows) and names it;
//   - SIGSEGV, SIGBUS and SIGFPE sent by kill(2) rather than raised by a
//     fault, which Go does not forward: left to Go, it would print a dump
//     of every goroutine and die of SIGQUIT (it relays one to collect the
//     other threads' stacks), so a SIGBUS was reported as "killed by
//     signal 3 (Quit)". The process dies of the signal sent
//     (daemon_signals.c, in C: os/signal would keep two OS threads).
func crashReporting(init *C.gowsgi_daemon_init) {
	if init.crash_fd >= 0 {
		crashFile = os.NewFile(uintptr(init.crash_fd), "gowsgi crash report")
		if err := debug.SetCrashOutput(crashFile, debug.CrashOptions{}); err != nil {
			crashFile = nil
		}
	}
	// sigaction(2) fails only for a signal that does not exist.
	_ = C.gowsgi_daemon_crash_signals_install()
}
