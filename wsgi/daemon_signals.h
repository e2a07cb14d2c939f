/*
 * daemon_signals.h: the signals of a daemon process, taken in C rather than
 * by Go's os/signal (daemon_signals.c).
 */
#ifndef GOWSGI_DAEMON_SIGNALS_H
#define GOWSGI_DAEMON_SIGNALS_H

/* Installs a handler for each of sigs[0..n) that writes the signal's number
 * (one byte) to a pipe; returns the pipe's read end (non-blocking,
 * close-on-exec) or -errno. Once per process. */
int gowsgi_daemon_signals_install(const int *sigs, int n);

/* Wakes the monitor as a signal would, with the byte 0 that no signal
 * has: it looks at the process again (a request began while it slept). */
void gowsgi_daemon_monitor_nudge(void);

/* The milliseconds left to drain that the last SIGUSR2 carried (sent with
 * sigqueue(3) by the on-demand starter, whose generation ends at one
 * deadline however late it started the process), or 0 when it carried
 * none (the parent's kill(2): the group's graceful-timeout is what is
 * left). */
int gowsgi_daemon_drain_within_ms(void);

/* SIGSEGV, SIGBUS and SIGFPE sent by kill(2) or tgkill(2) kill the process
 * with that signal; faults go on to the handler that was there (Go's, which
 * forwards those outside Go code to the crash report's). Returns 0 or
 * -errno. */
int gowsgi_daemon_crash_signals_install(void);

#endif
