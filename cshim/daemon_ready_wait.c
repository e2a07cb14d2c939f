/*
 * daemon_ready_wait.c: a request waiting for its group's process to be
 * ready sleeps on that process's ready word (a futex in the group's shared
 * records, which a daemon wakes when it sets it: wsgi/daemon.go) rather
 * than for a fixed tick, so that it goes on the moment the process is up
 * instead of up to a tick later. The tick stays the bound: a process that
 * dies, another slot that gets ready first, or a kernel without the wake
 * (a futex on shared memory: any Linux) costs no more than before.
 */
#include "daemon.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void gowsgi_daemon_wait_ready(const gowsgi_daemon_rt *rt, int msec)
{
    int *word = NULL;
    for (int i = 0; i < rt->conf->processes && word == NULL; i++) {
        gowsgi_daemon_slot *slot = &rt->shared->slots[i];
        /* On its way up, as daemon_forward.c's group_starting has it: not
         * one going (exiting) or waiting out a failed start (a reason). */
        if (__atomic_load_n(&slot->pid, __ATOMIC_ACQUIRE) > 0 && !__atomic_load_n(&slot->ready, __ATOMIC_ACQUIRE) &&
            !__atomic_load_n(&slot->exiting, __ATOMIC_ACQUIRE) && slot->reason[0] == '\0')
            word = &slot->ready;
    }
    if (word == NULL) {
        /* No process on its way up (a wake not yet heard by the starter):
         * nothing to sleep on. */
        apr_sleep(apr_time_from_msec(msec));
        return;
    }
    struct timespec ts = {msec / 1000, (long)(msec % 1000) * 1000000L};
    /* Not FUTEX_PRIVATE: the word is in memory shared with the daemon.
     * Returns at once if it is no longer 0 (EAGAIN); a signal (EINTR) or
     * the timeout just sends the caller round its loop again. */
    if (syscall(SYS_futex, word, FUTEX_WAIT, 0, &ts, NULL, 0) != 0 && errno != EAGAIN && errno != EINTR &&
        errno != ETIMEDOUT)
        apr_sleep(apr_time_from_msec(msec));
}
