/*
 * crash_report.h: a process that crashes in C says so in one line (issue 14,
 * item 2; ARCHITECTURE.md section 7, "Its output is its own"): the signal,
 * the faulting address and thread, and the Python stack of the crashing
 * thread when it has one, instead of the Go runtime's dump of every
 * goroutine.
 *
 * Why it works: Go's c-shared runtime forwards a synchronous signal (SIGSEGV,
 * SIGBUS, SIGFPE) raised outside Go code (in cgo calls, that is in Python and
 * its C extensions, or on threads Go did not make) to the handler that was
 * installed before the runtime loaded, and it installs none of its own for
 * SIGILL, SIGTRAP, SIGABRT or SIGSYS. So this is installed after libpython is
 * loaded and before libgowsgi.so is.
 *
 * Compiled into the shim (and whatever else starts a daemon: a launcher can
 * call it the same way); it includes no Python header and resolves the few
 * CPython functions it needs with dlsym when it is installed.
 */
#ifndef GOWSGI_CRASH_REPORT_H
#define GOWSGI_CRASH_REPORT_H

#include <stddef.h>

typedef struct gowsgi_crash_report_config {
    /* Who crashed, for the line written when there is nowhere to record
     * the cause (reason NULL): "daemon process of group 'G'". */
    const char *who;
    /* A short name for the report's file name (the group's). */
    const char *name;
    /* Where the cause goes for the process that reports the death (the
     * daemon's shared slot): the handler writes the text, NUL-terminated,
     * then stores the signal number in *crashed. NULL: the handler writes
     * its line to log_fd instead. */
    char *reason;
    size_t reason_size;
    int *crashed;
    int log_fd;
    /* Directory where the full report (the stacks of the crashing
     * interpreter's threads, and the Go runtime's own report on a fatal
     * error in Go) is kept, in a file that appears only if the process
     * crashes; NULL: no file. The process must be able to write there. */
    const char *dir;
} gowsgi_crash_report_config;

/* Installs the handlers (unless gowsgi_crash_report_handlers did) and
 * what they report. Call with libpython loaded (RTLD_GLOBAL) and before
 * libgowsgi.so is loaded, on the only thread there is. Returns the
 * descriptor of the unnamed report file (give it to the engine: Go's fatal
 * errors are written there too), or -1 when there is none. */
int gowsgi_crash_report_install(const gowsgi_crash_report_config *config);

/* Only the handlers, with nothing to say yet: a crash before
 * gowsgi_crash_report_install just dies of its signal. For a program with
 * the engine linked in (gowsgi-daemon-X.Y), whose Go runtime starts from a
 * constructor: it calls this from an earlier one, so that Go forwards
 * faults in C to these as it does when libgowsgi.so is loaded after them.
 * gowsgi_crash_report_install then leaves the handlers as they are. */
void gowsgi_crash_report_handlers(void);

/* Once libgowsgi.so is loaded (its dlopen handle): the handler asks the
 * engine which of the crashing thread's Python thread states runs code
 * (one per application group). Without it, CPython's answer is taken: the
 * thread's first thread state, as faulthandler does.
 *
 * It also stands a handler in front of Go's for SIGSEGV, SIGBUS and SIGFPE:
 * Go forwards faults, but takes a signal a thread sent itself (raise,
 * pthread_kill) for one sent from outside, and lets the thread carry on.
 * Such a signal is reported as a crash, on that thread, before it can do
 * anything more; everything else still goes to Go's handler. Call it right
 * after the dlopen, before any code runs that could crash. */
void gowsgi_crash_report_engine(void *engine);

#endif
