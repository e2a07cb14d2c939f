package wsgi

/*
#include <signal.h>
#include "engine.h"

// Dies of sig as if no handler were in the way: the parent's waitpid sees
// it, and a core is dumped where enabled.
static void gowsgi_die_of(int sig)
{
	struct sigaction dfl;
	sigset_t mask;
	__builtin_memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, sig);
	pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
	raise(sig);
}
*/
import "C"

import (
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
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
//     fault, which Go does not forward: without a handler here it would
//     print a dump of every goroutine and die of SIGQUIT (it relays one to
//     collect the other threads' stacks), so a SIGBUS was reported as
//     "killed by signal 3 (Quit)". The process dies of the signal sent.
func crashReporting(init *C.gowsgi_daemon_init) {
	if init.crash_fd >= 0 {
		crashFile = os.NewFile(uintptr(init.crash_fd), "gowsgi crash report")
		if err := debug.SetCrashOutput(crashFile, debug.CrashOptions{}); err != nil {
			crashFile = nil
		}
	}
	sent := make(chan os.Signal, 1)
	signal.Notify(sent, syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE)
	go func() {
		sig := (<-sent).(syscall.Signal)
		C.gowsgi_die_of(C.int(sig))
	}()
}
