/*
 * daemon_forward_ticket.c: a forwarded request's ticket in its group's
 * shared memory (daemon_ticket.h), from the Apache child's side. Claimed
 * once per request, armed with a seq of its own for each attempt, freed
 * when the outcome is decided; while the child waits for a first sign of
 * life, each tick looks whether a process began the attempt, and takes it
 * back from a process that did not (a stopped one, say) so that another
 * process gets it.
 */
#include "daemon_forward.h"

#include <unistd.h>

/* How long a process found not answering is left alone on kept connections. */
#define QUIET_FOR apr_time_from_sec(2)

/* A seq no other attempt of any child has: this process's pid and a count. */
static uint64_t next_seq(void)
{
    static int self;
    static uint32_t count;
    int pid = __atomic_load_n(&self, __ATOMIC_RELAXED);
    if (pid == 0) {
        pid = (int)getpid();
        __atomic_store_n(&self, pid, __ATOMIC_RELAXED);
    }
    return (uint64_t)(uint32_t)pid << 32 | __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
}

/* A request that found every ticket of its group taken goes without one: it
 * is not sent elsewhere if its process dies or stops before beginning it.
 * Never silently: a warning when this process's first request finds none,
 * then not again until one of its requests has found one (a burst). */
static void no_ticket(const gowsgi_forward *f)
{
    static int burst;
    if (f->rt->tickets == NULL)
        return;
    if (f->ticket >= 0) {
        if (__atomic_load_n(&burst, __ATOMIC_RELAXED))
            __atomic_store_n(&burst, 0, __ATOMIC_RELAXED);
        return;
    }
    int calm = 0;
    if (__atomic_compare_exchange_n(&burst, &calm, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, f->r,
                      GOWSGI_LOGNO(0304) "gowsgi: all %u tickets of daemon process group '%s' are "
                      "taken: requests go without one (not sent to another process if theirs dies or stops before "
                      "beginning them) until one is free: %s", f->rt->ntickets, gowsgi_forward_group(f),
                      f->r->filename);
}

/* A ticket, so that a request no app has begun can go elsewhere. */
void gowsgi_forward_ticket_claim(gowsgi_forward *f)
{
    const gowsgi_daemon_rt *rt = f->rt;
    static __thread unsigned ticket_hint;
    f->ticket = rt->tickets != NULL ? gowsgi_ticket_claim(rt->tickets, rt->ntickets, &ticket_hint, next_seq()) : -1;
    no_ticket(f);
}

/* Each attempt its own seq: a process late with an older one cannot begin
 * this one. */
void gowsgi_forward_ticket_arm(gowsgi_forward *f)
{
    f->seq = next_seq();
    gowsgi_ticket_arm(gowsgi_forward_ticket(f), f->seq);
}

apr_status_t gowsgi_forward_ticket_free(void *data)
{
    gowsgi_forward *f = data;
    if (f->ticket >= 0)
        gowsgi_ticket_free(gowsgi_forward_ticket(f));
    f->ticket = -1;
    return APR_SUCCESS;
}

/* A process of the group that is stopped (SIGSTOP, a debugger): its pid,
 * or 0. Read from /proc, only when a request waits without a sign of life;
 * under hidepid= /proc hides it, and this sees nothing. */
static int stopped_process(const gowsgi_daemon_rt *rt)
{
    for (int i = 0; i < rt->conf->processes; i++) {
        int pid = __atomic_load_n(&rt->shared->slots[i].pid, __ATOMIC_ACQUIRE);
        if (pid <= 0)
            continue;
        char state;
        int ppid, sid;
        if (gowsgi_process_stat(pid, &state, &ppid, &sid) == 0 && (state == 'T' || state == 't'))
            return pid;
    }
    return 0;
}

static void mark_quiet(const gowsgi_daemon_rt *rt, int pid)
{
    for (int i = 0; i < rt->conf->processes; i++) {
        gowsgi_daemon_slot *slot = &rt->shared->slots[i];
        if (pid > 0 && __atomic_load_n(&slot->pid, __ATOMIC_ACQUIRE) == pid)
            __atomic_store_n(&slot->quiet_until, apr_time_now() + QUIET_FOR, __ATOMIC_RELEASE);
    }
}

/* A tick passed with no frame. QUIET when the attempt was taken back (the
 * caller sends it to another process), else 0: wait on. */
int gowsgi_forward_tick_passed(gowsgi_forward *f)
{
    gowsgi_ticket *t = gowsgi_forward_ticket(f);
    if (gowsgi_ticket_state(t, f->seq) == GOWSGI_TICKET_BEGUN || f->in.end > f->in.start) {
        f->begun_seen = 1;   /* the app runs, or frames are on their way */
        return 0;
    }
    int taker = __atomic_load_n(&t->taker_pid, __ATOMIC_ACQUIRE), quiet;
    const char *how;
    if (f->reused) {
        quiet = f->kept_pid;
        how = "on a kept connection";
    } else if (taker != 0) {
        quiet = taker;
        how = "after taking it";
    } else if (!f->blind_resent && (quiet = stopped_process(f->rt)) != 0) {
        /* Maybe queued behind busy processes, maybe taken by the stopped
         * one before it could say so: sent again once, not every tick. */
        f->blind_resent = 1;
        how = "while it is stopped";
    } else {
        return 0;
    }
    if (!gowsgi_ticket_cancel(t, f->seq)) {
        f->begun_seen = 1;   /* begun meanwhile */
        return 0;
    }
    mark_quiet(f->rt, quiet);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, f->r,
                  GOWSGI_LOGNO(0302) "gowsgi: daemon process of group '%s' (pid %d) did not begin "
                  "the request %s within %d ms; sending it to another process: %s", gowsgi_forward_group(f), quiet,
                  how, f->reused ? GOWSGI_FWD_TICK_KEPT_MS : GOWSGI_FWD_TICK_CHANNEL_MS, f->r->filename);
    return GOWSGI_FWD_QUIET;
}
