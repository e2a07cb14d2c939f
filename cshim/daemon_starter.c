/*
 * daemon_starter.c: on-demand daemon groups (start=on-demand, or
 * WSGIDaemonStart on-demand). Apache's parent wakes only once a second and
 * Apache's children cannot signal it, so a small process of its own starts
 * such groups: the starter, forked by the parent in post_config (second
 * pass) when some group is on-demand, as mod_cgid forks its daemon. It runs
 * as root, single-threaded, with no Go and no Python; it forks the groups'
 * processes through the same path as the parent (daemon_process.c,
 * daemon_child.c, the launcher), reaps them, and records their deaths where
 * the parent records its own.
 *
 * An Apache child that finds a group with no process ready sends the
 * group's index on the wake socket (a datagram socketpair per generation)
 * and waits as for a slow start (daemon_forward.c). The starter starts at
 * most WSGIDaemonStartLimit groups at once and queues the rest in order. A
 * process that exits at inactivity-timeout is not restarted; its group
 * sleeps until a wake, or a connection queued on its channel (a request
 * that came as the last process went), starts it again.
 *
 * A graceful restart drains the old starter: new requests go to the new
 * generation, which starts at once the groups that were awake; the old
 * one's processes drain, and it still starts groups for requests that
 * Apache children of its generation hold, until the last of them has gone
 * (each group's channel hangs up then) or graceful-timeout; stop
 * and restart stop it, its processes within shutdown-timeout. The parent
 * watches it as an other child and starts a new one if it dies; its
 * processes die with it (PR_SET_PDEATHSIG).
 */
#include "daemon.h"
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ap_listen.h"
#include "ap_mpm.h"
#include "apr_hash.h"
#include "apr_strings.h"

#define DEFAULT_START_LIMIT 4

/* Names of the on-demand groups that were awake when a graceful restart
 * began, in the parent's retained data: the next generation starts them at
 * once rather than making their next request wait. A name too long for a
 * record is left to start on its next request. */
#define AWAKE_MAX 2048
#define AWAKE_NAME 96
typedef struct awake_list {
    int n;
    char names[AWAKE_MAX][AWAKE_NAME];
} awake_list;

static awake_list *awake_retained(void)
{
    awake_list *a = ap_retained_data_get("gowsgi_starter_awake");
    return a ? a : ap_retained_data_create("gowsgi_starter_awake", sizeof(awake_list));
}

/* This generation's starter, as the parent sees it. */
static int wake_fd[2] = {-1, -1};   /* [0] send end (Apache's children), [1] receive end (the starter) */
static apr_proc_t starter;           /* pid 0: none */
static apr_pool_t *starter_pool;     /* its registration, cleared at each fork */
static int starter_ending;           /* the generation ends: not restarted */
static int start_limit;
static int *wake_first;              /* groups to start at once (awake before a graceful restart) */
static int nwake_first;
static int sig_fd = -1;              /* the starter's own signalfd */

/* A group as the starter sees it. */
typedef enum { ASLEEP, QUEUED, STARTING, AWAKE } group_state;
typedef struct group {
    group_state state;
    apr_time_t woken;                /* when the wake that started it came */
    apr_time_t started;              /* when its processes were forked */
    int stalled;                     /* starting, but no longer holding a start slot */
    apr_time_t sampled;              /* starting: when its CPU time was last read */
    long long busy_ns;               /* how long its threads had run or waited to run then */
    int carried;                     /* started because it was awake before a graceful restart */
    int next;                        /* the queue, by index; -1 ends it */
} group;

typedef struct starter_state {
    group *groups;
    int queue_head, queue_tail;
    int nstarting;                   /* starting groups holding a slot */
    int nstalled;                    /* starting groups that gave theirs up */
    int draining, stopping;
    int orphaned;                    /* draining: no Apache child of its generation is left */
    int ended_said;                  /* its groups' records say the generation has ended */
    apr_time_t deadline;             /* draining or stopping: stragglers are killed after it */
    int expired;                     /* the deadline passed */
    apr_pool_t *pool;
} starter_state;

static void enqueue(starter_state *st, int g)
{
    st->groups[g].state = QUEUED;
    st->groups[g].next = -1;
    if (st->queue_tail >= 0)
        st->groups[st->queue_tail].next = g;
    else
        st->queue_head = g;
    st->queue_tail = g;
}

static int dequeue(starter_state *st)
{
    int g = st->queue_head;
    if (g >= 0) {
        st->queue_head = st->groups[g].next;
        if (st->queue_head < 0)
            st->queue_tail = -1;
    }
    return g;
}

/* The running process pid of an on-demand group (a death is rare enough
 * to look through them all; nothing grows with each start). */
static gowsgi_daemon_proc *proc_of(pid_t pid)
{
    for (int g = 0; g < gowsgi_daemon_nrts; g++) {
        gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        if (!rt->on_demand)
            continue;
        for (int i = 0; i < rt->conf->processes; i++)
            if (rt->procs[i].running && rt->procs[i].proc.pid == pid)
                return &rt->procs[i];
    }
    return NULL;
}

static int group_running(const gowsgi_daemon_rt *rt)
{
    for (int i = 0; i < rt->conf->processes; i++)
        if (rt->procs[i].running)
            return 1;
    return 0;
}

/* Whether it still starts groups: also while draining, for the requests
 * that Apache children of its generation still hold (a slow client's,
 * one on a kept connection), until the last of them is gone. */
static int hears_wakes(const starter_state *st)
{
    /* A group started in the drain's last seconds could not serve before
     * the generation ends. */
    return !st->stopping && !st->orphaned && !st->expired &&
           !(st->draining && apr_time_now() >= st->deadline - apr_time_from_sec(2));
}

/* Draining, the group has no process and none will start: the Apache
 * children of this generation answer its requests 503 at once
 * (daemon_forward.c) rather than waiting for a start. */
static void say_ended(const starter_state *st, int g)
{
    if (st->draining && !hears_wakes(st))
        __atomic_store_n(&gowsgi_daemon_rts[g].shared->generation_ended, 1, __ATOMIC_RELEASE);
}

/* A start is over (up, dead, or no fork succeeded): its slot, if it still
 * held one, is free. */
static void start_ended(starter_state *st, int g)
{
    if (st->groups[g].stalled)
        st->nstalled--;
    else
        st->nstarting--;
    st->groups[g].stalled = 0;
}

/* Forks the group's processes that are not running. */
static void start_group(starter_state *st, int g)
{
    gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
    st->groups[g].state = STARTING;
    st->groups[g].stalled = 0;
    st->groups[g].started = st->groups[g].sampled = apr_time_now();
    st->groups[g].busy_ns = 0;   /* its processes are new */
    st->nstarting++;
    __atomic_store_n(&rt->shared->asleep, 0, __ATOMIC_RELEASE);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, gowsgi_main_server,
                 GOWSGI_LOGNO(0500) "gowsgi: starting on-demand daemon process group "
                 "'%s' (%d of at most %d starting at once)", rt->conf->name, st->nstarting, start_limit);
    for (int i = 0; i < rt->conf->processes; i++) {
        gowsgi_daemon_proc *dp = &rt->procs[i];
        if (!dp->running)
            gowsgi_daemon_spawn_fork(dp);
    }
    if (!group_running(rt)) {
        /* No fork succeeded (said): asleep again, and the waiting requests'
         * next wakes try again. */
        start_ended(st, g);
        st->groups[g].state = ASLEEP;
        __atomic_store_n(&rt->shared->asleep, 1, __ATOMIC_RELEASE);
    }
}

/* Also while draining: the queued groups were woken by requests that
 * Apache children of this generation still hold. */
static void start_queued(starter_state *st)
{
    while (st->nstarting < start_limit && hears_wakes(st)) {
        int g = dequeue(st);
        if (g < 0)
            break;
        start_group(st, g);
    }
}

/* A request wants group g (a wake, or a connection on its channel). */
static void wake(starter_state *st, int g, apr_time_t now)
{
    if (g < 0 || g >= gowsgi_daemon_nrts || !gowsgi_daemon_rts[g].on_demand || !hears_wakes(st))
        return;
    if (st->groups[g].state != ASLEEP)
        return;   /* already starting, queued or up */
    st->groups[g].woken = now;
    st->groups[g].carried = 0;
    if (st->nstarting < start_limit)
        start_group(st, g);
    else {
        enqueue(st, g);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, gowsgi_main_server,
                     GOWSGI_LOGNO(0501) "gowsgi: on-demand daemon process group '%s' "
                     "waits its turn to start (%d starting at once)", gowsgi_daemon_rts[g].conf->name, st->nstarting);
    }
}

static void signal_group(const starter_state *st, gowsgi_daemon_rt *rt, int sig);
static void signal_ready(const starter_state *st, gowsgi_daemon_rt *rt);

/* How much its running processes' threads have run or waited to run (on a
 * CPU or in its run queue: /proc's schedstat, nanoseconds), and whether
 * any of them is running, runnable or waiting on a disk right now. -1 when
 * the kernel does not say. */
static long long group_busy_ns(const gowsgi_daemon_rt *rt, int *active)
{
    long long total = 0;
    *active = 0;
    for (int i = 0; i < rt->conf->processes; i++) {
        if (!rt->procs[i].running)
            continue;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/task", (int)rt->procs[i].proc.pid);
        DIR *d = opendir(path);
        if (d == NULL)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            int tid = atoi(e->d_name);
            if (tid <= 0)
                continue;
            char file[64], buf[512];
            unsigned long long ran = 0, waited = 0;
            snprintf(file, sizeof(file), "/proc/%d/task/%d/schedstat", (int)rt->procs[i].proc.pid, tid);
            FILE *f = fopen(file, "re");
            if (f == NULL)
                continue;   /* a thread that ended meanwhile */
            int got = fscanf(f, "%llu %llu", &ran, &waited);
            fclose(f);
            if (got != 2) {
                closedir(d);
                return -1;
            }
            total += (long long)(ran + waited);
            snprintf(file, sizeof(file), "/proc/%d/task/%d/stat", (int)rt->procs[i].proc.pid, tid);
            if ((f = fopen(file, "re")) == NULL)
                continue;
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            buf[n] = '\0';
            const char *state = strrchr(buf, ')');
            if (state != NULL && (state[2] == 'R' || state[2] == 'D'))
                *active = 1;
        }
        closedir(d);
    }
    return total;
}

/* A start that waits on something (a database, a lock, a sleep at
 * import) rather than working: after its first second, none of its
 * threads running, runnable or waiting on a disk, and all of them together
 * run or wanted to run less than a fifth of the last second; or one that
 * has outlasted socket-timeout, which the requests that woke it have
 * stopped waiting for. It stays STARTING (ready or dead, it ends as any
 * start) but gives up its start slot: WSGIDaemonStartLimit bounds the
 * starts that contend for the machine (a start slowed by the others still
 * wants the CPU, and keeps its slot), and one tenant's hung import must not
 * hold back the others' cold starts. */
static void release_stalled(starter_state *st, apr_time_t now)
{
    for (int g = 0; g < gowsgi_daemon_nrts && st->nstarting > 0; g++) {
        group *gr = &st->groups[g];
        if (gr->state != STARTING || gr->stalled || now - gr->sampled < apr_time_from_sec(1))
            continue;
        const gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        int active;
        long long busy = group_busy_ns(rt, &active);
        double used = busy < 0 ? -1 : (double)(busy - gr->busy_ns) / 1e9;
        double over = (double)(now - gr->sampled) / (double)APR_USEC_PER_SEC;
        int outlasted = now - gr->started >= apr_time_from_sec(rt->socket_timeout);
        gr->sampled = now;
        if (busy >= 0)
            gr->busy_ns = busy;
        if (!outlasted && (busy < 0 || active || used >= over / 5))
            continue;
        gr->stalled = 1;
        st->nstarting--;
        st->nstalled++;
        char why[96];
        if (outlasted)
            snprintf(why, sizeof(why), "longer than socket-timeout=%d", rt->socket_timeout);
        else
            snprintf(why, sizeof(why), "it ran %.2f s of the last %.1f s: it waits on something", used, over);
        int pid = 0;   /* the process to look at (py-spy, strace) */
        for (int i = 0; i < rt->conf->processes && pid == 0; i++)
            if (rt->procs[i].running)
                pid = (int)rt->procs[i].proc.pid;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, gowsgi_main_server,
                     GOWSGI_LOGNO(0510) "gowsgi: on-demand daemon process group '%s' (pid %d) has been starting "
                     "for %.1f s (%s); it no longer holds one of the %d start slots", rt->conf->name, pid,
                     (double)(now - gr->started) / (double)APR_USEC_PER_SEC, why, start_limit);
    }
}

/* Starting groups with a process ready now: their cold start is over. */
static void check_started(starter_state *st, apr_time_t now)
{
    for (int g = 0; g < gowsgi_daemon_nrts && st->nstarting + st->nstalled > 0; g++) {
        if (st->groups[g].state != STARTING)
            continue;
        gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        for (int i = 0; i < rt->conf->processes; i++) {
            if (!rt->procs[i].running || !__atomic_load_n(&rt->shared->slots[i].ready, __ATOMIC_ACQUIRE))
                continue;
            apr_time_t took = now - st->groups[g].woken;
            start_ended(st, g);
            st->groups[g].state = AWAKE;
            __atomic_store_n(&rt->shared->start_failed, 0, __ATOMIC_RELEASE);
            /* A group carried awake over a graceful restart was not woken
             * by a request: not a cold start. */
            if (!st->groups[g].carried) {
                __atomic_add_fetch(&rt->shared->cold_starts, 1, __ATOMIC_ACQ_REL);
                gowsgi_metrics_cold_start(rt);
                __atomic_store_n(&rt->shared->last_cold_start_usec, (long long)took, __ATOMIC_RELEASE);
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, gowsgi_main_server,
                             GOWSGI_LOGNO(0502) "gowsgi: cold start of daemon process group "
                             "'%s' took %.3f s (process %d, pid %d ready)", rt->conf->name, (double)took / 1e6, i,
                             (int)rt->procs[i].proc.pid);
            }
            st->groups[g].carried = 0;
            /* Up during a graceful end: it serves what old Apache children
             * send (the request that woke it), then drains. */
            if (st->draining)
                signal_ready(st, rt);
            break;
        }
    }
    start_queued(st);
}

/* Whether a connection waits on the group's channel (one that has hung
 * up reads as readable, but nobody is left to send on it). */
static int channel_waiting(const gowsgi_daemon_rt *rt)
{
    struct pollfd p = {.fd = rt->channel[1], .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) && !(p.revents & POLLHUP);
}

static void reaped(starter_state *st, pid_t pid, int status)
{
    gowsgi_daemon_proc *dp = proc_of(pid);
    if (dp == NULL)
        return;
    gowsgi_daemon_rt *rt = dp->rt;
    int g = rt->index;
    /* A process that served and stopped for its own reason other than
     * idleness (maximum-requests, a reload, ...): a new one at once, as an
     * eager group's. Idle, crashed, or never up (Python could not start):
     * the group sleeps when it has no other process, until a request wants
     * it (then a crash while starting backs off first), so a broken group
     * that nobody asks for is not retried forever. */
    int ending = st->draining || st->stopping;
    const gowsgi_daemon_slot *slot = &rt->shared->slots[dp->index];
    int was_ready = __atomic_load_n(&slot->ready, __ATOMIC_ACQUIRE);
    int restart = !ending && was_ready && gowsgi_daemon_exit_cause(slot) == GOWSGI_EXIT_OWN;
    /* Requests waiting for a group that failed to come up are bounded by
     * connect-timeout, not socket-timeout (daemon_forward.c). */
    __atomic_store_n(&rt->shared->start_failed, !was_ready, __ATOMIC_RELEASE);
    gowsgi_daemon_died(dp, status, restart);
    if (restart && gowsgi_daemon_spawn_fork(dp) == 0)
        return;
    if (group_running(rt))
        return;
    say_ended(st, g);
    if (st->groups[g].state == STARTING)
        start_ended(st, g);   /* died while starting */
    else if (st->groups[g].state == QUEUED)
        return;
    st->groups[g].state = ASLEEP;
    __atomic_store_n(&rt->shared->asleep, 1, __ATOMIC_RELEASE);
    /* A request that came as it went is on the channel: start again now. */
    if (hears_wakes(st) && channel_waiting(rt))
        wake(st, g, apr_time_now());
    start_queued(st);
}

static void reap_all(starter_state *st)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        reaped(st, pid, status);
}

static int any_running(void)
{
    for (int g = 0; g < gowsgi_daemon_nrts; g++)
        if (gowsgi_daemon_rts[g].on_demand && group_running(&gowsgi_daemon_rts[g]))
            return 1;
    return 0;
}

/* SIGUSR2 while draining carries what is left of the drain (sigqueue's
 * value, milliseconds): a process started late in it must be gone by the
 * deadline, not a whole graceful-timeout after its start. */
static int drain_left_ms(const starter_state *st)
{
    apr_time_t ms = apr_time_as_msec(st->deadline - apr_time_now());
    return ms > 1 ? (int)(ms < INT32_MAX ? ms : INT32_MAX) : 1;
}

static void signal_group(const starter_state *st, gowsgi_daemon_rt *rt, int sig)
{
    union sigval left = {.sival_int = sig == SIGUSR2 && st->draining ? drain_left_ms(st) : 0};
    for (int i = 0; i < rt->conf->processes; i++)
        if (rt->procs[i].running) {
            rt->procs[i].stopping = 1;
            if (left.sival_int > 0)
                sigqueue(rt->procs[i].proc.pid, sig, left);
            else
                kill(rt->procs[i].proc.pid, sig);
        }
}

/* Draining: the group's processes that are up drain; one still starting
 * would die of the signal before its handler is there, and goes when its
 * generation's channel hangs up instead. */
static void signal_ready(const starter_state *st, gowsgi_daemon_rt *rt)
{
    union sigval left = {.sival_int = drain_left_ms(st)};
    for (int i = 0; i < rt->conf->processes; i++)
        if (rt->procs[i].running && __atomic_load_n(&rt->shared->slots[i].ready, __ATOMIC_ACQUIRE)) {
            rt->procs[i].stopping = 1;
            sigqueue(rt->procs[i].proc.pid, SIGUSR2, left);
        }
}

/* A graceful end leaves a group that is starting alone until it is up
 * (check_started drains it then): a process told to drain before its
 * engine is there would die of the signal, and the request that woke it,
 * in an old Apache child, would wait for nothing. */
static void signal_all(starter_state *st, int sig)
{
    for (int g = 0; g < gowsgi_daemon_nrts; g++) {
        gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        if (rt->on_demand && !(sig == SIGUSR2 && st->groups[g].state == STARTING))
            signal_group(st, rt, sig);
    }
}

/* The longest graceful-timeout (or shutdown-timeout) of the on-demand groups. */
static int longest_timeout(int graceful)
{
    int timeout = 0;
    for (int g = 0; g < gowsgi_daemon_nrts; g++) {
        const gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        int t = graceful ? rt->graceful_timeout : rt->shutdown_timeout;
        if (rt->on_demand && t > timeout)
            timeout = t;
    }
    return timeout;
}

/* Graceful: the processes drain (SIGUSR2, as the parent's do) within the
 * longest graceful-timeout; stop: SIGTERM, within shutdown-timeout. */
static void end(starter_state *st, int graceful)
{
    int timeout = longest_timeout(graceful);
    if (graceful) {
        if (st->draining || st->stopping)
            return;
        st->draining = 1;
    } else {
        if (st->stopping)
            return;
        st->stopping = 1;
    }
    st->deadline = apr_time_now() + apr_time_from_sec(timeout);
    signal_all(st, graceful ? SIGUSR2 : SIGTERM);
}

static void kill_stragglers(void)
{
    for (int g = 0; g < gowsgi_daemon_nrts; g++) {
        gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        if (!rt->on_demand)
            continue;
        for (int i = 0; i < rt->conf->processes; i++)
            if (rt->procs[i].running) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, gowsgi_main_server,
                             GOWSGI_LOGNO(0503) "gowsgi: daemon process %d of "
                             "group '%s' (pid %d) did not stop within its %s; killing it", i, rt->conf->name,
                             (int)rt->procs[i].proc.pid, "graceful-timeout or shutdown-timeout");
                kill(rt->procs[i].proc.pid, SIGKILL);
            }
    }
}

static void starter_main(void) __attribute__((noreturn));
static void starter_main(void)
{
    /* Out of Apache's session and process group (prefork signals its
     * whole group); stopped with the parent, however it ends. */
    gowsgi_in_daemon = 1;   /* the parent's cleanups it inherited are not its business */
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
    if (getppid() != gowsgi_daemon_apache_pid)
        _exit(0);
    prctl(PR_SET_NAME, "gowsgi-starter", 0, 0, 0);
    ap_close_listeners();
    close(wake_fd[0]);
    wake_fd[0] = -1;
    /* It never sends on a channel: once the Apache children of its
     * generation and the parent have closed theirs, the channels hang up,
     * which is how a draining starter knows that no request can come. */
    for (int g = 0; g < gowsgi_daemon_nrts; g++) {
        gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        if (rt->channel[0] >= 0) {
            close(rt->channel[0]);
            rt->channel[0] = -1;
        }
        /* An eager group's is its daemons' alone: a connection sent as
         * the last of them goes must fail, not wait where none reads. */
        if (!rt->on_demand && rt->channel[1] >= 0) {
            close(rt->channel[1]);
            rt->channel[1] = -1;
        }
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR2);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGWINCH, SIG_IGN);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sig_fd < 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, gowsgi_main_server,
                     GOWSGI_LOGNO(0504) "gowsgi: the on-demand starter cannot "
                     "watch its signals (signalfd)");
        _exit(1);
    }

    starter_state st;
    memset(&st, 0, sizeof(st));
    apr_pool_create(&st.pool, starter_pool);
    st.groups = apr_pcalloc(st.pool, sizeof(group) * (size_t)(gowsgi_daemon_nrts > 0 ? gowsgi_daemon_nrts : 1));
    st.queue_head = st.queue_tail = -1;
    struct pollfd *fds = apr_pcalloc(st.pool, sizeof(struct pollfd) * (size_t)(gowsgi_daemon_nrts + 2));
    int *fd_group = apr_pcalloc(st.pool, sizeof(int) * (size_t)(gowsgi_daemon_nrts + 2));
    for (int g = 0; g < gowsgi_daemon_nrts; g++) {
        gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        if (!rt->on_demand)
            continue;
        /* A starter that replaces one that died: its processes died with
         * it (PR_SET_PDEATHSIG), whatever their slots still say. */
        for (int i = 0; i < rt->conf->processes; i++) {
            __atomic_store_n(&rt->shared->slots[i].ready, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&rt->shared->slots[i].pid, 0, __ATOMIC_RELEASE);
            rt->procs[i].running = 0;
            rt->procs[i].stopping = 0;
        }
        __atomic_store_n(&rt->shared->asleep, 1, __ATOMIC_RELEASE);
        __atomic_store_n(&rt->shared->generation_ended, 0, __ATOMIC_RELEASE);
    }
    apr_time_t now = apr_time_now();
    for (int i = 0; i < nwake_first; i++) {
        wake(&st, wake_first[i], now);
        if (wake_first[i] >= 0 && wake_first[i] < gowsgi_daemon_nrts)
            st.groups[wake_first[i]].carried = 1;
    }

    for (;;) {
        int n = 0;
        fds[n].fd = sig_fd;
        fds[n].events = POLLIN;
        fd_group[n++] = -1;
        if (hears_wakes(&st)) {
            fds[n].fd = wake_fd[1];
            fds[n].events = POLLIN;
            fd_group[n++] = -1;
            /* A sleeping group's channel: a connection queued there wakes
             * it too (one sent as its last process went idle). Draining,
             * one channel is watched for its hang-up in any case. */
            int watched = 0;
            for (int g = 0; g < gowsgi_daemon_nrts; g++)
                if (gowsgi_daemon_rts[g].on_demand && (st.groups[g].state == ASLEEP || (st.draining && !watched))) {
                    fds[n].fd = gowsgi_daemon_rts[g].channel[1];
                    fds[n].events = st.groups[g].state == ASLEEP ? POLLIN : 0;
                    fd_group[n++] = g;
                    watched = 1;
                }
        }
        /* Starting groups are looked at every 10 ms (a daemon says it is
         * ready in shared memory); an end has its deadline. */
        /* A stalled start is looked at for its end four times a second. */
        int timeout = st.nstarting > 0 ? 10 : st.nstalled > 0 ? 250 : (st.draining || st.stopping) ? 100 : -1;
        int rc = poll(fds, (nfds_t)n, timeout);
        if (rc < 0 && errno != EINTR)
            _exit(1);
        now = apr_time_now();
        if (rc > 0) {
            for (int i = 0; i < n; i++) {
                if (!(fds[i].revents & (POLLIN | POLLERR | POLLHUP)))
                    continue;
                if (fds[i].fd == sig_fd) {
                    struct signalfd_siginfo si;
                    while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                        if (si.ssi_signo == SIGUSR2)
                            end(&st, 1);
                        else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                            end(&st, 0);
                    }
                    reap_all(&st);
                } else if (fd_group[i] < 0) {
                    uint32_t index;
                    while (recv(wake_fd[1], &index, sizeof(index), MSG_DONTWAIT) == (ssize_t)sizeof(index))
                        wake(&st, (int)index, now);
                } else if (fds[i].revents & POLLHUP) {
                    /* Every sender closed it: the Apache children of this
                     * generation are gone (it hangs up only then, the
                     * parent having closed its own as the generation
                     * ended). */
                    st.orphaned = 1;
                } else if (fds[i].revents & POLLIN) {
                    wake(&st, fd_group[i], now);
                }
            }
        }
        if (st.nstarting + st.nstalled > 0) {
            check_started(&st, now);
            release_stalled(&st, now);
            start_queued(&st);
        }
        if (st.draining && !hears_wakes(&st) && !st.ended_said) {
            /* No group of this generation starts again: those asleep or
             * waiting their turn have ended; one starting or up ends when
             * its last process goes (reaped). */
            st.ended_said = 1;
            for (int g = 0; g < gowsgi_daemon_nrts; g++)
                if (gowsgi_daemon_rts[g].on_demand &&
                    (st.groups[g].state == ASLEEP || st.groups[g].state == QUEUED))
                    say_ended(&st, g);
        }
        if (st.draining || st.stopping) {
            reap_all(&st);
            if (!any_running() && !hears_wakes(&st) && st.nstarting + st.nstalled == 0)
                _exit(0);
            if (now >= st.deadline && !st.expired) {
                st.expired = 1;
                kill_stragglers();
            }
        }
        if (getppid() != gowsgi_daemon_apache_pid)
            end(&st, 0);   /* Apache's parent is gone: so go we */
    }
}

static void starter_maintenance(int reason, void *data, apr_wait_t status);

static void fork_starter(void)
{
    apr_pool_clear(starter_pool);
    apr_status_t rv = apr_proc_fork(&starter, starter_pool);
    if (rv == APR_INCHILD)
        starter_main();
    if (rv != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, gowsgi_main_server,
                     GOWSGI_LOGNO(0505) "gowsgi: cannot fork the on-demand starter; "
                     "on-demand daemon process groups cannot start");
        starter.pid = 0;
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, gowsgi_main_server,
                 GOWSGI_LOGNO(0506) "gowsgi: started the on-demand starter (pid %d)",
                 (int)starter.pid);
    apr_proc_other_child_register(&starter, starter_maintenance, &starter, NULL, starter_pool);
}

static int server_stopping(void)
{
    int state = AP_MPMQ_STOPPING;
    ap_mpm_query(AP_MPMQ_MPM_STATE, &state);
    return state == AP_MPMQ_STOPPING;
}

static void starter_maintenance(int reason, void *data, apr_wait_t status)
{
    (void)data;
    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST: {
        pid_t pid = starter.pid;
        apr_proc_other_child_unregister(&starter);
        starter.pid = 0;
        if (starter_ending || server_stopping())
            break;
        /* Its processes went with it: requests wake the groups again. */
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, gowsgi_main_server,
                     GOWSGI_LOGNO(0507) "gowsgi: the on-demand starter (pid %d) %s %d; "
                     "starting a new one", (int)pid, (status & 0x7f) ? "was killed by signal" : "exited with status",
                     (status & 0x7f) ? status & 0x7f : (status >> 8) & 0xff);
        wake_first = NULL;
        nwake_first = 0;
        fork_starter();
        break;
    }
    case APR_OC_REASON_RESTART:
        /* Apache stops or restarts hard: so does the starter, now. */
        starter_ending = 1;
        gowsgi_daemons_hard_stop();
        if (starter.pid > 0)
            kill(starter.pid, SIGTERM);
        apr_proc_other_child_unregister(&starter);
        break;
    default:
        break;
    }
}

static apr_status_t starter_cleanup(void *unused)
{
    (void)unused;
    if (gowsgi_in_daemon)
        return APR_SUCCESS;
    if (wake_fd[0] >= 0)
        close(wake_fd[0]);
    if (wake_fd[1] >= 0)
        close(wake_fd[1]);
    wake_fd[0] = wake_fd[1] = -1;
    starter_pool = NULL;
    return APR_SUCCESS;
}

int gowsgi_starter_start(apr_pool_t *pconf, server_rec *s)
{
    int on_demand = 0;
    starter.pid = 0;
    starter_ending = 0;
    for (int g = 0; g < gowsgi_daemon_nrts; g++)
        on_demand += gowsgi_daemon_rts[g].on_demand;
    awake_list *awake = awake_retained();
    if (on_demand == 0) {
        awake->n = 0;
        return OK;
    }
    start_limit = gowsgi_globals.daemon_start_limit > 0 ? gowsgi_globals.daemon_start_limit : DEFAULT_START_LIMIT;
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, wake_fd) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                     GOWSGI_LOGNO(0508) "gowsgi: cannot open the on-demand starter's wake socket");
        return !OK;
    }
    /* A wake is four bytes: room for every group's many times over. */
    int rcvbuf = 1 << 20;
    setsockopt(wake_fd[1], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    apr_pool_create(&starter_pool, pconf);
    apr_pool_cleanup_register(pconf, NULL, starter_cleanup, apr_pool_cleanup_null);

    /* The groups awake before a graceful restart, by name. */
    apr_hash_t *names = apr_hash_make(pconf);
    for (int i = 0; i < awake->n && i < AWAKE_MAX; i++)
        apr_hash_set(names, awake->names[i], APR_HASH_KEY_STRING, "");
    wake_first = apr_pcalloc(pconf, sizeof(int) * (size_t)on_demand);
    nwake_first = 0;
    for (int g = 0; g < gowsgi_daemon_nrts && awake->n > 0; g++)
        if (gowsgi_daemon_rts[g].on_demand && apr_hash_get(names, gowsgi_daemon_rts[g].conf->name,
                                                           APR_HASH_KEY_STRING) != NULL)
            wake_first[nwake_first++] = g;
    awake->n = 0;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 GOWSGI_LOGNO(0509) "gowsgi: %d of %d daemon process groups start on demand (at most %d "
                 "at once)%s", on_demand, gowsgi_daemon_nrts, start_limit,
                 nwake_first ? apr_psprintf(pconf, "; %d awake before the graceful restart start now", nwake_first)
                             : "");
    fork_starter();
    return OK;
}

void gowsgi_starter_wake(const gowsgi_daemon_rt *rt)
{
    if (wake_fd[0] < 0)
        return;
    uint32_t index = (uint32_t)rt->index;
    /* Never blocks: a full queue or a starter being replaced drops it, and
     * the waiting request sends it again. */
    (void)send(wake_fd[0], &index, sizeof(index), MSG_DONTWAIT | MSG_NOSIGNAL);
}

void gowsgi_starter_child_init(void)
{
    if (wake_fd[1] >= 0)
        close(wake_fd[1]);
    wake_fd[1] = -1;
}

void gowsgi_starter_close(void)
{
    for (int i = 0; i < 2; i++)
        if (wake_fd[i] >= 0) {
            close(wake_fd[i]);
            wake_fd[i] = -1;
        }
    if (sig_fd >= 0) {
        close(sig_fd);
        sig_fd = -1;
    }
}

pid_t gowsgi_starter_end(int graceful)
{
    pid_t pid = starter.pid;
    starter_ending = 1;
    if (pid <= 0)
        return 0;
    if (graceful) {
        /* Remember who was awake, for the next generation. */
        awake_list *awake = awake_retained();
        awake->n = 0;
        for (int g = 0; g < gowsgi_daemon_nrts && awake->n < AWAKE_MAX; g++) {
            const gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
            if (rt->on_demand && !__atomic_load_n(&rt->shared->asleep, __ATOMIC_ACQUIRE) &&
                strlen(rt->conf->name) < AWAKE_NAME)
                apr_cpystrn(awake->names[awake->n++], rt->conf->name, AWAKE_NAME);
        }
    }
    kill(pid, graceful ? SIGUSR2 : SIGTERM);
    return pid;
}

int gowsgi_starter_timeout(int graceful)
{
    return longest_timeout(graceful) + 2;   /* the starter kills its own stragglers first */
}
