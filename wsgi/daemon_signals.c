/*
 * daemon_signals.c: a daemon process's signals without Go's os/signal,
 * which keeps two OS threads of its own for as long as the process lives
 * (one blocked receiving signals, one that keeps them unblocked somewhere;
 * each a Go M with its stacks: docs/benchmarks.md, "Go runtime in an idle
 * daemon"). The monitor's signals reach it through a pipe that Go's poller
 * watches, as promptly as a channel of os/signal's would.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
#include "daemon_signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int signal_pipe[2] = {-1, -1};

/* The daemon process. A child an app forks (os.fork, multiprocessing)
 * keeps these handlers, and the pipe: there a signal sent to it does what
 * it does to a plain Python process (SIGTERM, SIGHUP, SIGUSR1 end it), so
 * that multiprocessing's terminate() works, and is never reported to the
 * daemon's monitor. (os/signal's queue swallowed it: the child lived on.) */
static pid_t signals_owner;

/* Dies of sig as if no handler were in the way: the parent's waitpid sees
 * it, and a core is dumped where enabled. */
static void die_of(int sig)
{
    struct sigaction dfl;
    sigset_t mask;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    sigemptyset(&mask);
    sigaddset(&mask, sig);
    pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
    raise(sig);
}

/* One byte per signal; a full pipe drops it, as a full os/signal channel
 * does (the monitor acts on the first of each kind). */
static int drain_within_ms;

int gowsgi_daemon_drain_within_ms(void)
{
    return __atomic_load_n(&drain_within_ms, __ATOMIC_ACQUIRE);
}

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    int saved = errno;
    if (getpid() != signals_owner) {
        die_of(sig);
        errno = saved;
        return;
    }
    if (sig == SIGUSR2)
        __atomic_store_n(&drain_within_ms, info != NULL && info->si_code == SI_QUEUE ? info->si_value.sival_int : 0,
                         __ATOMIC_RELEASE);
    unsigned char b = (unsigned char)sig;
    ssize_t rc = write(signal_pipe[1], &b, 1);
    (void)rc;
    errno = saved;
}

void gowsgi_daemon_monitor_nudge(void)
{
    unsigned char b = 0;
    if (signal_pipe[1] >= 0 && write(signal_pipe[1], &b, 1) < 0) {
        /* full: the monitor has a byte to read and will look anyway */
    }
}

/* Go's flags for its own handlers: SA_ONSTACK above all (a signal may land
 * on a thread running Go code on a goroutine's small stack). */
static int install(int sig, void (*fn)(int, siginfo_t *, void *), struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigfillset(&sa.sa_mask);
    return sigaction(sig, &sa, old) == 0 ? 0 : -errno;
}

int gowsgi_daemon_signals_install(const int *sigs, int n)
{
    if (signal_pipe[0] >= 0)
        return -EBUSY;
    if (pipe2(signal_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        return -errno;
    signals_owner = getpid();
    for (int i = 0; i < n; i++) {
        int rc = install(sigs[i], on_signal, NULL);
        if (rc != 0)
            return rc;
    }
    return signal_pipe[0];
}

static const int crash_sigs[] = {SIGSEGV, SIGBUS, SIGFPE};
static struct sigaction crash_prev[sizeof(crash_sigs) / sizeof(crash_sigs[0])];

/* Sent (Go's test for it: SI_USER or SI_TKILL): Go would print every
 * goroutine and die of SIGQUIT, so a SIGBUS was reported as "killed by
 * signal 3 (Quit)". A fault: the handler that was there (Go's, or the
 * crash report's in front of it). So is a signal a thread sent itself
 * (raise(3), pthread_kill(3), faulthandler._sigsegv()): the crash report
 * reports it as a crash, with that thread's Python stack
 * (crash_report.c, first()). */
static void on_crash_signal(int sig, siginfo_t *info, void *ctx)
{
    int own_thread = info->si_code == SI_TKILL && info->si_pid == getpid();
    if (!own_thread && (info->si_code == SI_USER || info->si_code == SI_TKILL)) {
        die_of(sig);   /* in the daemon, and in a child an app forked */
        return;
    }
    for (size_t i = 0; i < sizeof(crash_sigs) / sizeof(crash_sigs[0]); i++) {
        if (crash_sigs[i] != sig)
            continue;
        const struct sigaction *prev = &crash_prev[i];
        if (prev->sa_flags & SA_SIGINFO)
            prev->sa_sigaction(sig, info, ctx);
        else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN)
            prev->sa_handler(sig);
        else
            die_of(sig);
        return;
    }
}

int gowsgi_daemon_crash_signals_install(void)
{
    for (size_t i = 0; i < sizeof(crash_sigs) / sizeof(crash_sigs[0]); i++) {
        int rc = install(crash_sigs[i], on_crash_signal, &crash_prev[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}
