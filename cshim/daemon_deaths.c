/*
 * daemon_deaths.c: how a daemon process went away, and what is said of it.
 * The reaper (Apache's parent, or the on-demand starter) records each
 * death in the group's shared records with the daemon's own reason, or the
 * signal and what memory-limit makes of it; Apache's children read them
 * back to say why a request was lost (a record a daemon of the group may
 * have written anything into is copied and bounded first).
 */
#include "daemon.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "apr_strings.h"

/* Records how the process in dp ended and says so: the daemon's own reason
 * when it exited on its own, else the signal. Apache hands over either a
 * raw wait status or APR's exit code, which for a signal is its number:
 * the low seven bits are the signal either way. */
const char *gowsgi_daemon_record_death(gowsgi_daemon_shared *sh, int index, pid_t pid, long memory_limit, int status,
                                       char *text, size_t textlen)
{
    gowsgi_daemon_slot *slot = &sh->slots[index];
    gowsgi_daemon_death local;
    /* The slot is the daemon's to write: read it once, bounded. */
    memset(&local, 0, sizeof(local));
    __atomic_store_n(&slot->ready, 0, __ATOMIC_RELEASE);
    int own = __atomic_load_n(&slot->pid, __ATOMIC_ACQUIRE) == (int)pid;
    if (own && __atomic_load_n(&slot->crashed, __ATOMIC_ACQUIRE)) {
        /* It crashed and its handler said how (crash_report.h). */
        local.crashed = 1;
        local.signal = status & 0x7f;
        local.memory_limit = memory_limit;
        memcpy(local.reason, slot->reason, sizeof(local.reason) - 1);
    } else if (own && __atomic_load_n(&slot->exiting, __ATOMIC_ACQUIRE)) {
        local.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : status;
        memcpy(local.reason, slot->reason, sizeof(local.reason) - 1);
    } else {
        local.signal = status & 0x7f;
        local.memory_limit = memory_limit;
    }
    local.when = apr_time_now();
    local.pid = (int)pid;
    gowsgi_daemon_death *d = &sh->deaths[sh->next_death % GOWSGI_DAEMON_DEATHS];
    __atomic_store_n(&d->pid, 0, __ATOMIC_RELEASE);
    memcpy(d, &local, sizeof(*d));
    __atomic_store_n(&d->pid, local.pid, __ATOMIC_RELEASE);
    __atomic_add_fetch(&sh->next_death, 1, __ATOMIC_ACQ_REL);
    return gowsgi_daemon_death_format(&local, text, textlen);
}

const char *gowsgi_daemon_death_format(const gowsgi_daemon_death *d, char *text, size_t len)
{
    /* A process out of memory under memory-limit (RLIMIT_DATA/AS) aborts
     * or faults when C code cannot allocate, or is killed by the kernel. */
    int oom = d->signal && d->memory_limit > 0 &&
              (d->signal == SIGABRT || d->signal == SIGSEGV || d->signal == SIGBUS || d->signal == SIGKILL);
    if (d->crashed) {
        /* "crashed: signal 11 (Segmentation fault) at address 0x0 in thread
         * T; Python stack: f (/x/app.py:12) <- ...; full report in F" */
        int all = (int)strnlen(d->reason, sizeof(d->reason));
        const char *file = oom ? strstr(d->reason, "; full report in ") : NULL;
        int head = file != NULL ? (int)(file - d->reason) : all;
        if (oom)
            snprintf(text, len, "crashed: %.*s; with memory-limit=%ld it has most likely run out of memory%.*s", head,
                     d->reason, d->memory_limit, all - head, d->reason + head);
        else
            snprintf(text, len, "crashed: %.*s", all, d->reason);
    } else if (oom)
        snprintf(text, len, "was killed by signal %d (%s); with memory-limit=%ld it has most likely run out of "
                 "memory", d->signal, strsignal(d->signal), d->memory_limit);
    else if (d->signal)
        snprintf(text, len, "was killed by signal %d (%s)", d->signal, strsignal(d->signal));
    else
        snprintf(text, len, "exited with status %d (%.*s)", d->exit_code, (int)strnlen(d->reason, sizeof(d->reason)),
                 d->reason[0] ? d->reason : "no reason given");
    return text;
}

/* A record from shared memory, copied and made safe to print: a daemon of
 * the group can write anything there. */
static const char *death_text(apr_pool_t *p, const gowsgi_daemon_death *shared)
{
    gowsgi_daemon_death local;
    char text[1024];
    memcpy(&local, shared, sizeof(local));
    local.reason[sizeof(local.reason) - 1] = '\0';
    if (local.signal < 0 || local.signal >= NSIG)
        local.signal = 0;
    return apr_pstrdup(p, gowsgi_daemon_death_format(&local, text, sizeof(text)));
}

const char *gowsgi_daemon_death_cause(apr_pool_t *p, const gowsgi_daemon_rt *rt, int pid, int wait_ms)
{
    const gowsgi_daemon_shared *sh = rt->shared;
    for (int waited = 0;; waited += 20) {
        for (int i = 0; i < GOWSGI_DAEMON_DEATHS; i++)
            if (__atomic_load_n(&sh->deaths[i].pid, __ATOMIC_ACQUIRE) == pid)
                return death_text(p, &sh->deaths[i]);
        if (waited >= wait_ms)
            return NULL;
        apr_sleep(apr_time_from_msec(20));
    }
}

const char *gowsgi_daemon_death_since(apr_pool_t *p, const gowsgi_daemon_rt *rt, apr_time_t since, int wait_ms)
{
    const gowsgi_daemon_shared *sh = rt->shared;
    for (int waited = 0;; waited += 20) {
        const gowsgi_daemon_death *latest = NULL;
        for (int i = 0; i < GOWSGI_DAEMON_DEATHS; i++) {
            const gowsgi_daemon_death *d = &sh->deaths[i];
            if (__atomic_load_n(&d->pid, __ATOMIC_ACQUIRE) != 0 && d->when >= since &&
                (latest == NULL || d->when > latest->when))
                latest = d;
        }
        if (latest != NULL)
            return apr_psprintf(p, "process %d %s", latest->pid, death_text(p, latest));
        if (waited >= wait_ms)
            return NULL;
        apr_sleep(apr_time_from_msec(20));
    }
}

const char *gowsgi_daemon_group_trouble(apr_pool_t *p, const gowsgi_daemon_rt *rt)
{
    for (int i = 0; i < rt->conf->processes; i++) {
        const gowsgi_daemon_slot *slot = &rt->shared->slots[i];
        if (!__atomic_load_n(&slot->ready, __ATOMIC_ACQUIRE) && slot->reason[0] != '\0') {
            char reason[sizeof(slot->reason)];
            memcpy(reason, slot->reason, sizeof(reason));
            reason[sizeof(reason) - 1] = '\0';
            return apr_psprintf(p, "process %d%s %s", __atomic_load_n(&slot->pid, __ATOMIC_ACQUIRE),
                                __atomic_load_n(&slot->crashed, __ATOMIC_ACQUIRE) ? " crashed:" : ":", reason);
        }
    }
    return gowsgi_daemon_death_since(p, rt, 0, 0);
}
