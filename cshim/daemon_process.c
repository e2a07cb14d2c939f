/*
 * daemon_process.c: the Apache parent's side of daemon mode. In post_config
 * (second pass) it opens one channel per WSGIDaemonProcess group
 * (wsgi/daemon_channel.h), forks the group's processes while the parent
 * still holds no Go and no Python, watches them with Apache's other-child
 * registry, starts a new one when one dies (saying how it died), and ends
 * a configuration generation: on a graceful restart the old processes
 * drain (they finish what they serve, take what old Apache children still
 * send, and exit when idle) while the new generation starts at once; on
 * stop or restart they get shutdown-timeout, then are killed.
 */
#include "daemon.h"
#include "metrics.h"
#include "fair_share.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "mpm_common.h"
#include "apr_strings.h"

gowsgi_daemon_rt *gowsgi_daemon_rts;
int gowsgi_daemon_nrts;
int gowsgi_daemon_apache_pid;
int gowsgi_daemon_apache_sid;

static apr_pool_t *generation_pool;
/* Set when Apache stops or restarts hard (its other-child registry says
 * RESTART); a generation that ends without it ends gracefully. */
static int hard_stop;

/* Processes of earlier generations still draining after a graceful
 * restart. Kept in the parent's retained data, which outlives the
 * configuration and this module's code (reloaded at each restart), so it
 * holds no pointers. */
#define GOWSGI_MAX_DRAINING 2048
typedef struct gowsgi_draining {
    pid_t pid;
    apr_time_t deadline;
    int killed;
    char group[64];
    /* Its generation's shared records, kept mapped while it drains: how it
     * died goes there, where the old Apache children that lost a request
     * look (and where its crash handler wrote). Unmapped with the last
     * draining process that uses them. */
    gowsgi_daemon_shared *shared;
    size_t shared_size;
    int index;
    long memory_limit;
} gowsgi_draining;

typedef struct gowsgi_retained {
    int n;
    gowsgi_draining procs[GOWSGI_MAX_DRAINING];
} gowsgi_retained;

/* Named for its size: a module upgraded across a graceful restart must not
 * take an older block of another layout for its own (the older build's
 * draining processes then go unwatched: each still ends at its own drain's
 * end, and with Apache). */
static gowsgi_retained *retained(void)
{
    static char key[48];
    if (key[0] == '\0')
        snprintf(key, sizeof(key), "gowsgi_daemons-%zu", sizeof(gowsgi_retained));
    gowsgi_retained *r = ap_retained_data_get(key);
    return r ? r : ap_retained_data_create(key, sizeof(gowsgi_retained));
}

/* pid is a child of this Apache parent (not a reused pid). */
static int our_child(pid_t pid)
{
    return gowsgi_process_parent(pid) == (int)getpid();
}

/* Drops the i-th draining record, and its generation's shared records
 * once no other draining process uses them. */
static void drop_draining(gowsgi_retained *r, int i)
{
    gowsgi_daemon_shared *shared = r->procs[i].shared;
    size_t size = r->procs[i].shared_size;
    r->procs[i] = r->procs[--r->n];
    if (shared == NULL)
        return;
    for (int j = 0; j < r->n; j++)
        if (r->procs[j].shared == shared)
            return;
    /* The group's last process of that generation: its old Apache
     * children, which still map the records, answer 503 from now on. */
    __atomic_store_n(&shared->generation_ended, 1, __ATOMIC_RELEASE);
    munmap(shared, size);
}

/* Whether a draining process still uses these shared records. */
static int draining_uses(const gowsgi_daemon_shared *shared)
{
    gowsgi_retained *r = retained();
    for (int i = 0; i < r->n; i++)
        if (r->procs[i].shared == shared)
            return 1;
    return 0;
}

static void forget_draining(pid_t pid)
{
    gowsgi_retained *r = retained();
    for (int i = 0; i < r->n; i++) {
        if (r->procs[i].pid == pid) {
            drop_draining(r, i);
            return;
        }
    }
}

static void watch(gowsgi_daemon_proc *dp);

static long limit_of(const gowsgi_daemon_rt *rt)
{
    return rt->memory_limit > 0 ? rt->memory_limit : rt->virtual_memory_limit;
}

static const char *record_death(gowsgi_daemon_proc *dp, int status, char *text, size_t textlen)
{
    return gowsgi_daemon_record_death(dp->rt->shared, dp->index, dp->proc.pid, limit_of(dp->rt), status, text, textlen);
}

void gowsgi_daemons_hard_stop(void)
{
    hard_stop = 1;
}

static int server_stopping(void)
{
    int state = AP_MPMQ_STOPPING;
    ap_mpm_query(AP_MPMQ_MPM_STATE, &state);
    return state == AP_MPMQ_STOPPING;
}

int gowsgi_daemon_spawn_fork(gowsgi_daemon_proc *dp)
{
    /* The slot is reset before the fork: the new process may write its
     * reason at once. The registration lives in the slot's own pool, so
     * respawns do not grow the generation's. */
    gowsgi_daemon_slot *slot = &dp->rt->shared->slots[dp->index];
    __atomic_store_n(&slot->ready, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&slot->exiting, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&slot->idle, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&slot->crashed, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&slot->quiet_until, 0, __ATOMIC_RELEASE);   /* its predecessor's */
    __atomic_store_n(&slot->requests, 0, __ATOMIC_RELEASE);
    slot->reason[0] = '\0';
    apr_pool_clear(dp->pool);
    apr_status_t rv = apr_proc_fork(&dp->proc, dp->pool);
    if (rv == APR_INCHILD)
        gowsgi_daemon_child_main(dp->rt, dp->index);   /* does not return */
    if (rv != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, gowsgi_main_server,
                     GOWSGI_LOGNO(0102) "gowsgi: cannot fork daemon process %d of group '%s'; trying again shortly",
                     dp->index,
                     dp->rt->conf->name);
        dp->running = 0;
        return -1;
    }
    dp->running = 1;
    dp->started = apr_time_now();
    dp->backoff = 0;
    __atomic_store_n(&slot->pid, (int)dp->proc.pid, __ATOMIC_RELEASE);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, gowsgi_main_server,
                 GOWSGI_LOGNO(0103) "gowsgi: started daemon process %d of group '%s' (pid %d)",
                 dp->index, dp->rt->conf->name,
                 (int)dp->proc.pid);
    return 0;
}

static void spawn(gowsgi_daemon_proc *dp)
{
    if (gowsgi_daemon_spawn_fork(dp) == 0)
        watch(dp);
}

gowsgi_exit_cause gowsgi_daemon_exit_cause(const gowsgi_daemon_slot *slot)
{
    if (!__atomic_load_n(&slot->exiting, __ATOMIC_ACQUIRE) || __atomic_load_n(&slot->crashed, __ATOMIC_ACQUIRE))
        return GOWSGI_EXIT_CRASH;
    /* The engine's reason (wsgi/daemon.go, monitor) begins with the limit
     * that was reached. */
    if (strncmp(slot->reason, "inactivity-timeout=", 19) == 0)
        return GOWSGI_EXIT_IDLE;
    return GOWSGI_EXIT_OWN;
}

gowsgi_exit_cause gowsgi_daemon_died(gowsgi_daemon_proc *dp, int status, int restart)
{
    /* Dead before it ever took a request, not by its own choice (a crash
     * while starting): the next one waits before it starts, so a crash at
     * start-up cannot become a fork loop. */
    gowsgi_daemon_slot *slot = &dp->rt->shared->slots[dp->index];
    int exiting = __atomic_load_n(&slot->exiting, __ATOMIC_ACQUIRE);
    dp->running = 0;
    dp->backoff = !__atomic_load_n(&slot->ready, __ATOMIC_ACQUIRE) && !exiting;
    gowsgi_exit_cause cause = gowsgi_daemon_exit_cause(slot);
    char text[1024];
    const char *how = record_death(dp, status, text, sizeof(text));
    __atomic_store_n(&slot->cause, (int)cause, __ATOMIC_RELEASE);
    if (!dp->stopping)
        gowsgi_metrics_death(dp->rt, slot, status);
    ap_log_error(APLOG_MARK, restart && !exiting ? APLOG_ERR : APLOG_INFO, 0, gowsgi_main_server,
                 GOWSGI_LOGNO(0104) "gowsgi: daemon process %d of group '%s' (pid %d) %s%s",
                 dp->index, dp->rt->conf->name,
                 (int)dp->proc.pid, how, restart ? "; starting a new one" : "");
    return cause;
}

/* Apache's other-child registry tells us when a daemon dies (DEATH), when
 * the server restarts or stops (RESTART), and when this generation's pool
 * goes (UNREGISTER). */
static void maintenance(int reason, void *data, apr_wait_t status)
{
    gowsgi_daemon_proc *dp = data;
    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST: {
        /* Not running before unregistering: that calls back (UNREGISTER). */
        dp->running = 0;
        apr_proc_other_child_unregister(dp);
        int restart = !dp->stopping && !server_stopping();
        if (reason == APR_OC_REASON_DEATH)
            gowsgi_daemon_died(dp, status, restart);
        else {
            gowsgi_daemon_slot *slot = &dp->rt->shared->slots[dp->index];
            dp->backoff = !__atomic_load_n(&slot->ready, __ATOMIC_ACQUIRE) &&
                          !__atomic_load_n(&slot->exiting, __ATOMIC_ACQUIRE);
        }
        if (restart)
            spawn(dp);
        break;
    }
    case APR_OC_REASON_RESTART:
        /* Apache is stopping or restarting hard: stop now. */
        hard_stop = 1;
        if (dp->running && !dp->stopping) {
            dp->stopping = 1;
            kill(dp->proc.pid, SIGTERM);
        }
        apr_proc_other_child_unregister(dp);
        break;
    case APR_OC_REASON_UNREGISTER:
        break;   /* the generation's pool is going: stop_all decides */
    default:
        break;
    }
}

static void watch(gowsgi_daemon_proc *dp)
{
    apr_proc_other_child_register(&dp->proc, maintenance, dp, NULL, dp->pool);
}

/* When the generation ends (restart or stop), every daemon was told to stop
 * (SIGTERM: it finishes what it is serving); wait for them up to the
 * groups' shutdown-timeout, then kill what is left. Every one is reaped. */
/* A graceful restart: the old processes drain while the new generation
 * starts; the next generation watches them (watch_draining). */
static void drain_all(void)
{
    gowsgi_retained *r = retained();
    apr_time_t now = apr_time_now();
    for (int g = 0; g < gowsgi_daemon_nrts; g++) {
        gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        for (int i = 0; i < rt->conf->processes; i++) {
            gowsgi_daemon_proc *dp = &rt->procs[i];
            if (!dp->running)
                continue;
            dp->stopping = 1;
            kill(dp->proc.pid, SIGUSR2);   /* drain (SIGUSR1 is an eviction) */
            if (r->n >= GOWSGI_MAX_DRAINING - 1) {   /* the last for the starter */
                kill(dp->proc.pid, SIGTERM);   /* no room to watch it: it stops now */
                continue;
            }
            gowsgi_draining *d = &r->procs[r->n++];
            d->pid = dp->proc.pid;
            d->deadline = now + apr_time_from_sec(rt->graceful_timeout);
            d->killed = 0;
            apr_cpystrn(d->group, rt->conf->name, sizeof(d->group));
            d->shared = rt->shared;
            d->shared_size = rt->shared_size;
            d->index = i;
            d->memory_limit = limit_of(rt);
        }
    }
    /* The on-demand starter drains its own processes, then exits; it is
     * watched as they are (index -1: no slot of its own). */
    int timeout = gowsgi_starter_timeout(1);
    pid_t starter = gowsgi_starter_end(1);
    if (starter > 0 && r->n < GOWSGI_MAX_DRAINING) {
        gowsgi_draining *d = &r->procs[r->n++];
        memset(d, 0, sizeof(*d));
        d->pid = starter;
        d->deadline = now + apr_time_from_sec(timeout);
        d->index = -1;
        apr_cpystrn(d->group, "(on-demand starter)", sizeof(d->group));
    } else if (starter > 0)
        kill(starter, SIGTERM);
}

int gowsgi_in_daemon;

static apr_status_t stop_all(void *unused)
{
    (void)unused;
    if (gowsgi_in_daemon)
        return APR_SUCCESS;   /* a daemon's copy of the parent's pool: not its business */
    if (!hard_stop) {
        drain_all();
        goto release;
    }
    /* Stop or hard restart: draining processes of earlier generations go too. */
    gowsgi_retained *r = retained();
    for (int i = 0; i < r->n; i++)
        if (our_child(r->procs[i].pid))
            kill(r->procs[i].pid, SIGTERM);
    int starter_timeout = gowsgi_starter_timeout(0);
    pid_t starter = gowsgi_starter_end(0);
    int timeout = 0;
    for (int g = 0; g < gowsgi_daemon_nrts; g++) {
        gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        if (rt->shutdown_timeout > timeout)
            timeout = rt->shutdown_timeout;
        for (int i = 0; i < rt->conf->processes; i++) {
            gowsgi_daemon_proc *dp = &rt->procs[i];
            if (dp->running && !dp->stopping) {
                dp->stopping = 1;
                kill(dp->proc.pid, SIGTERM);
            }
        }
    }
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(timeout);
    apr_time_t starter_deadline = apr_time_now() + apr_time_from_sec(starter_timeout);
    for (;;) {
        int left = 0;
        if (starter > 0) {
            /* It stops its processes within their shutdown-timeout. */
            int status;
            pid_t w = waitpid(starter, &status, WNOHANG);
            if (w == starter || (w < 0 && errno == ECHILD))
                starter = 0;
            else if (apr_time_now() >= starter_deadline) {
                kill(starter, SIGKILL);   /* its processes die with it */
                waitpid(starter, &status, 0);
                starter = 0;
            } else
                left++;
        }
        for (int g = 0; g < gowsgi_daemon_nrts; g++) {
            gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
            for (int i = 0; i < rt->conf->processes; i++) {
                gowsgi_daemon_proc *dp = &rt->procs[i];
                if (!dp->running)
                    continue;
                int status;
                pid_t r = waitpid(dp->proc.pid, &status, WNOHANG);
                if (r == dp->proc.pid || (r < 0 && errno == ECHILD))
                    dp->running = 0;   /* reaped here, or already by the MPM */
                else if (apr_time_now() >= deadline) {
                    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, gowsgi_main_server,
                                 GOWSGI_LOGNO(0105) "gowsgi: daemon process %d of group '%s' (pid %d) did not stop "
                                 "within shutdown-timeout=%d; killing it", i, rt->conf->name, (int)dp->proc.pid,
                                 rt->shutdown_timeout);
                    kill(dp->proc.pid, SIGKILL);
                    waitpid(dp->proc.pid, &status, 0);
                    dp->running = 0;
                } else {
                    left++;
                }
            }
        }
        for (int i = 0; i < r->n; i++) {
            int status;
            pid_t w = waitpid(r->procs[i].pid, &status, WNOHANG);
            if (w == r->procs[i].pid || (w < 0 && errno == ECHILD))
                drop_draining(r, i--);
            else if (apr_time_now() >= deadline) {
                kill(r->procs[i].pid, SIGKILL);
                waitpid(r->procs[i].pid, &status, 0);
                drop_draining(r, i--);
            } else {
                left++;
            }
        }
        if (left == 0)
            break;
        apr_sleep(apr_time_from_msec(20));
    }
release:
    for (int g = 0; g < gowsgi_daemon_nrts; g++) {
        gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        close(rt->channel[0]);
        close(rt->channel[1]);
        if (rt->shared != NULL && rt->shared != MAP_FAILED && !draining_uses(rt->shared)) {
            /* No process of the group drains (none was running, or there
             * was no room to watch it): this generation's children answer
             * 503 at once. On-demand groups are the starter's to say. */
            if (!rt->on_demand)
                __atomic_store_n(&rt->shared->generation_ended, 1, __ATOMIC_RELEASE);
            munmap(rt->shared, rt->shared_size);
        }
        if (rt->shared_fd >= 0)
            close(rt->shared_fd);
    }
    gowsgi_daemon_rts = NULL;
    gowsgi_daemon_nrts = 0;
    return APR_SUCCESS;
}

/* A draining process of an earlier generation: reaped and logged when it
 * exits, killed if it outlives its deadline. */
typedef struct drain_watch {
    apr_proc_t proc;
} drain_watch;

static void drain_maintenance(int reason, void *data, apr_wait_t status)
{
    drain_watch *w = data;
    gowsgi_retained *r = retained();
    gowsgi_draining *d = NULL;
    for (int i = 0; i < r->n; i++)
        if (r->procs[i].pid == w->proc.pid)
            d = &r->procs[i];
    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST: {
        apr_proc_other_child_unregister(w);
        /* Drained and exited on its own, or died meanwhile (a crash, a
         * kill): the latter is recorded as any death is, so the old
         * children that lost a request can say why, and logged as one. */
        int died = reason == APR_OC_REASON_LOST || d == NULL || d->shared == NULL ? 0 :
                   __atomic_load_n(&d->shared->slots[d->index].crashed, __ATOMIC_ACQUIRE) ||
                   (!__atomic_load_n(&d->shared->slots[d->index].exiting, __ATOMIC_ACQUIRE) && (status & 0x7f));
        if (died) {
            char text[GOWSGI_DAEMON_REASON + 256];
            const char *how = gowsgi_daemon_record_death(d->shared, d->index, w->proc.pid, d->memory_limit, status, text,
                                              sizeof(text));
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, gowsgi_main_server,
                         GOWSGI_LOGNO(0106) "gowsgi: daemon process %d of group '%s' "
                         "from before the graceful restart %s", (int)w->proc.pid, d->group, how);
        } else {
            if (d != NULL && d->shared != NULL)
                gowsgi_daemon_record_death(d->shared, d->index, w->proc.pid, d->memory_limit, status, NULL, 0);
            if (d != NULL && d->index < 0)
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, gowsgi_main_server,
                             GOWSGI_LOGNO(0107) "gowsgi: the on-demand starter %d from "
                             "before the graceful restart has drained its processes and exited", (int)w->proc.pid);
            else
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, gowsgi_main_server,
                             GOWSGI_LOGNO(0108) "gowsgi: daemon process %d of group '%s' from before the graceful "
                             "restart has drained "
                             "and exited", (int)w->proc.pid, d ? d->group : "?");
        }
        forget_draining(w->proc.pid);
        break;
    }
    case APR_OC_REASON_RESTART:
        hard_stop = 1;
        apr_proc_other_child_unregister(w);
        break;
    case APR_OC_REASON_UNREGISTER:
        break;
    default:
        if (d != NULL && !d->killed && apr_time_now() > d->deadline && our_child(d->pid)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, gowsgi_main_server,
                         GOWSGI_LOGNO(0109) "gowsgi: daemon process %d of group '%s' was still busy at the end of "
                         "its graceful-timeout "
                         "after a graceful restart; killing it", (int)d->pid, d->group);
            kill(d->pid, SIGKILL);
            d->killed = 1;
        }
        break;
    }
    (void)status;
}

static void watch_draining(apr_pool_t *pconf)
{
    gowsgi_retained *r = retained();
    for (int i = 0; i < r->n; i++) {
        if (!our_child(r->procs[i].pid)) {
            r->procs[i--] = r->procs[--r->n];   /* already gone */
            continue;
        }
        drain_watch *w = apr_pcalloc(pconf, sizeof(*w));
        w->proc.pid = r->procs[i].pid;
        apr_proc_other_child_register(&w->proc, drain_maintenance, w, NULL, pconf);
    }
}

/* Whether the group's processes exec the launcher (isolated) or run the
 * engine in the fork of Apache's parent, and why not, once per start. */
static void gowsgi_daemon_isolation(apr_pool_t *pconf, gowsgi_daemon_rt *rt)
{
    const char *metrics = apr_table_get(rt->conf->options, "server-metrics");
    server_rec *s = rt->conf->server ? rt->conf->server : gowsgi_main_server;
    const char *launcher = gowsgi_daemon_launcher(pconf);
    rt->launcher = NULL;
    rt->builtin_launcher = NULL;
    if (metrics != NULL && strcasecmp(metrics, "On") == 0) {
        /* mod_wsgi.server_metrics() reads Apache's scoreboard, anonymous
         * shared memory that no exec keeps. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     GOWSGI_LOGNO(0110) "gowsgi: daemon process group '%s' has server-metrics=On: its processes read "
                     "Apache's scoreboard, so they run in a fork of Apache's parent and are not isolated (they hold a "
                     "copy of the whole server configuration)", rt->conf->name);
        return;
    }
    if (launcher == NULL || access(launcher, X_OK) != 0) {
        int err = launcher != NULL ? errno : 0;
        ap_log_error(APLOG_MARK, APLOG_WARNING, err, s,
                     GOWSGI_LOGNO(0111) "gowsgi: daemon process group '%s': no launcher at %s (gowsgi-daemon, "
                     "installed beside "
                     "mod_gowsgi.so): its processes run in a fork of Apache's parent and are not isolated (they "
                     "hold a copy of the whole server configuration)", rt->conf->name,
                     launcher ? launcher : "(the module's own path is unknown)");
        return;
    }
    rt->launcher = launcher;
    rt->builtin_launcher = gowsgi_daemon_builtin_launcher(pconf, launcher);
}

static apr_status_t forget_pool(void *unused)
{
    (void)unused;
    generation_pool = NULL;
    /* The generation's groups go with its pool (a graceful restart drains
     * them without releasing them: drain_all), so a next generation with
     * none does not see them. Registered first, this runs last. */
    gowsgi_daemon_rts = NULL;
    gowsgi_daemon_nrts = 0;
    return APR_SUCCESS;
}

/* One ticket (daemon_ticket.h) per request this server's children can
 * forward at once, twice over (mod_http2's workers, a graceful restart's
 * overlap), and some spare. With none left a request goes without one:
 * it is only not retried if its process dies before it begins. */
static unsigned int tickets_needed(void)
{
    int daemons = 0, threads = 0;
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &daemons);
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &threads);
    long n = (long)(daemons > 0 ? daemons : 16) * (threads > 0 ? threads : 64) * 2 + 64;
    return n > 65536 ? 65536u : (unsigned int)n;
}

void gowsgi_daemon_tickets_reclaim(server_rec *s, pid_t pid)
{
    for (int g = 0; g < gowsgi_daemon_nrts; g++) {
        gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        if (rt->tickets == NULL)
            continue;
        unsigned n = gowsgi_ticket_reclaim(rt->tickets, rt->ntickets, (int)pid);
        if (n > 0)
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                         GOWSGI_LOGNO(0112) "gowsgi: Apache child %d exited holding %u ticket%s of "
                         "daemon process group '%s'; %s free again", (int)pid, n, n == 1 ? "" : "s", rt->conf->name,
                         n == 1 ? "it is" : "they are");
    }
}

/* Each group holds three descriptors in the parent (its channel's two
 * ends, its shared records) and one in every Apache child: a server with
 * 1,000 groups needs more than the usual soft limit of 1,024. */
static void raise_fd_limit(server_rec *s, int groups)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur >= (rlim_t)groups * 3 + 256)
        return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < (rlim_t)groups * 3 + 256)
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                     GOWSGI_LOGNO(0113) "gowsgi: %d daemon process groups need about %d "
                     "descriptors; the limit is %lu (raise RLIMIT_NOFILE, for example ulimit -n in envvars)",
                     groups, groups * 3 + 256, (unsigned long)rl.rlim_cur);
    else
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                     GOWSGI_LOGNO(0114) "gowsgi: raised the descriptor limit from %lu to %lu for %d "
                     "daemon process groups", (unsigned long)was, (unsigned long)rl.rlim_cur, groups);
}

int gowsgi_daemons_start(apr_pool_t *pconf, server_rec *s)
{
    apr_array_header_t *daemons = gowsgi_globals.daemons;
    apr_pool_cleanup_register(pconf, NULL, forget_pool, apr_pool_cleanup_null);
    watch_draining(pconf);
    if (daemons == NULL || daemons->nelts == 0)
        return OK;
    raise_fd_limit(s, daemons->nelts);
    generation_pool = pconf;
    hard_stop = 0;
    gowsgi_daemon_apache_pid = (int)getpid();
    gowsgi_daemon_apache_sid = (int)getsid(0);
    gowsgi_daemon_nrts = daemons->nelts;
    gowsgi_daemon_rts = apr_pcalloc(pconf, sizeof(gowsgi_daemon_rt) * (size_t)daemons->nelts);
    /* Registered before the other-child entries, so it runs after their
     * UNREGISTER (pool cleanups run last-registered first). */
    apr_pool_cleanup_register(pconf, NULL, stop_all, apr_pool_cleanup_null);
    for (int g = 0; g < daemons->nelts; g++) {
        gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        rt->conf = &APR_ARRAY_IDX(daemons, g, gowsgi_daemon);
        rt->index = g;
        rt->channel[0] = rt->channel[1] = -1;
        rt->shared_fd = -1;
        const char *err = gowsgi_daemon_settings(pconf, rt);
        if (err != NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                         GOWSGI_LOGNO(0115) "gowsgi: WSGIDaemonProcess %s at %s:%d: %s", rt->conf->name,
                         rt->conf->where.file, rt->conf->where.line, err);
            return !OK;
        }
        int rc = gowsgi_channel_open(rt->channel);
        if (rc != 0) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, -rc, s,
                         GOWSGI_LOGNO(0116) "gowsgi: cannot open the channel of daemon group '%s'",
                         rt->conf->name);
            return !OK;
        }
        /* listen-backlog: how many connections may wait for a free daemon
         * thread. The channel's queue is bounded by its send buffer, which
         * each waiting connection takes about 768 bytes of (the kernel
         * doubles what is set). Past it, a child waits up to
         * connect-timeout, then answers 503. */
        int backlog = (int)apr_atoi64(apr_table_get(rt->conf->options, "listen-backlog")
                                          ? apr_table_get(rt->conf->options, "listen-backlog") : "100");
        int sndbuf = (backlog > 0 ? backlog : 1) * 384;
        setsockopt(rt->channel[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        if (getrandom(rt->secret, sizeof(rt->secret), 0) != (ssize_t)sizeof(rt->secret)) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                         GOWSGI_LOGNO(0117) "gowsgi: no random secret for daemon group '%s'",
                         rt->conf->name);
            return !OK;
        }
        rt->procs = apr_pcalloc(pconf, sizeof(gowsgi_daemon_proc) * (size_t)rt->conf->processes);
        size_t slots = sizeof(gowsgi_daemon_shared) + sizeof(gowsgi_daemon_slot) * (size_t)rt->conf->processes;
        slots = (slots + sizeof(gowsgi_ticket) - 1) / sizeof(gowsgi_ticket) * sizeof(gowsgi_ticket);
        rt->ntickets = tickets_needed();
        size_t size = slots + sizeof(gowsgi_ticket) * rt->ntickets;
        /* A memfd, not anonymous memory: a daemon that execs the launcher
         * maps it again from the descriptor it is handed. Sealed at its
         * size: a process that holds the descriptor (a launched daemon
         * until it has mapped it) could otherwise shrink it, and every
         * access past the new end would SIGBUS in all that map it, this
         * parent and every Apache child included. */
        rt->shared_fd = memfd_create("gowsgi-daemon-group", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (rt->shared_fd < 0 || ftruncate(rt->shared_fd, (off_t)size) != 0)
            rt->shared = MAP_FAILED;
        else if (fcntl(rt->shared_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                         GOWSGI_LOGNO(0118) "gowsgi: cannot seal the shared memory of daemon group "
                         "'%s' at its size (memfd F_ADD_SEALS)", rt->conf->name);
            return !OK;
        } else
            rt->shared = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, rt->shared_fd, 0);
        if (rt->shared == MAP_FAILED) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                         GOWSGI_LOGNO(0119) "gowsgi: no shared memory for daemon group '%s'",
                         rt->conf->name);
            return !OK;
        }
        rt->shared_size = size;
        rt->tickets = (gowsgi_ticket *)(void *)((char *)rt->shared + slots);
        gowsgi_daemon_isolation(pconf, rt);
    }
    /* The worker-share counters too (fair_share.c): a daemon unmaps them. */
    const char *share_err = gowsgi_fair_share_start(pconf, s, gowsgi_daemon_rts, gowsgi_daemon_nrts);
    if (share_err != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, GOWSGI_LOGNO(0120) "gowsgi: %s", share_err);
        return !OK;
    }
    /* The metrics table too (metrics.c): the starter counts deaths in it. */
    gowsgi_metrics_setup(pconf, s);
    /* Every channel exists before the first fork: a daemon closes the ends
     * that are not its own. On-demand groups are the starter's to fork
     * (daemon_starter.c), when a request first wants them. */
    for (int g = 0; g < gowsgi_daemon_nrts; g++) {
        gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        if (rt->on_demand)
            __atomic_store_n(&rt->shared->asleep, 1, __ATOMIC_RELEASE);
        for (int i = 0; i < rt->conf->processes; i++) {
            rt->procs[i].rt = rt;
            rt->procs[i].index = i;
            apr_pool_create(&rt->procs[i].pool, pconf);
            if (!rt->on_demand)
                spawn(&rt->procs[i]);
        }
    }
    return gowsgi_starter_start(pconf, s);
}

void gowsgi_daemons_child_init(void)
{
    gowsgi_starter_child_init();
    /* An Apache child only ever sends on a channel, and keeps the shared
     * records mapped without their descriptor. */
    for (int g = 0; g < gowsgi_daemon_nrts; g++) {
        if (gowsgi_daemon_rts[g].channel[1] >= 0) {
            close(gowsgi_daemon_rts[g].channel[1]);
            gowsgi_daemon_rts[g].channel[1] = -1;
        }
        if (gowsgi_daemon_rts[g].shared_fd >= 0) {
            close(gowsgi_daemon_rts[g].shared_fd);
            gowsgi_daemon_rts[g].shared_fd = -1;
        }
    }
}

const gowsgi_daemon_rt *gowsgi_daemon_runtime(const gowsgi_daemon *conf)
{
    /* conf is an element of the configuration's array, in the order of the
     * runtimes: found at once (a server with 1,000 groups scans none per
     * request); a copy of it is looked for. */
    apr_array_header_t *daemons = gowsgi_globals.daemons;
    if (daemons != NULL && daemons->nelts == gowsgi_daemon_nrts && conf >= (gowsgi_daemon *)daemons->elts &&
        conf < (gowsgi_daemon *)daemons->elts + daemons->nelts) {
        const gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[conf - (gowsgi_daemon *)daemons->elts];
        if (rt->conf == conf)
            return rt;
    }
    for (int g = 0; g < gowsgi_daemon_nrts; g++)
        if (gowsgi_daemon_rts[g].conf == conf)
            return &gowsgi_daemon_rts[g];
    return NULL;
}

int gowsgi_daemon_group_ready(const gowsgi_daemon_rt *rt)
{
    for (int i = 0; i < rt->conf->processes; i++)
        if (__atomic_load_n(&rt->shared->slots[i].ready, __ATOMIC_ACQUIRE))
            return 1;
    return 0;
}

int gowsgi_daemons_monitor(apr_pool_t *p, server_rec *s)
{
    (void)p;
    (void)s;
    if (gowsgi_in_daemon)
        return DECLINED;
    /* Draining processes of earlier generations past their deadline. */
    gowsgi_retained *r = retained();
    apr_time_t now = apr_time_now();
    for (int i = 0; i < r->n; i++) {
        gowsgi_draining *d = &r->procs[i];
        if (!d->killed && now > d->deadline && our_child(d->pid)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, gowsgi_main_server,
                         GOWSGI_LOGNO(0109) "gowsgi: daemon process %d of group '%s' was still busy at the end of "
                         "its graceful-timeout "
                         "after a graceful restart; killing it", (int)d->pid, d->group);
            kill(d->pid, SIGKILL);
            d->killed = 1;
        }
    }
    /* Slots whose fork failed. */
    if (!server_stopping())
        for (int g = 0; g < gowsgi_daemon_nrts; g++)
            for (int i = 0; i < gowsgi_daemon_rts[g].conf->processes; i++) {
                gowsgi_daemon_proc *dp = &gowsgi_daemon_rts[g].procs[i];
                if (!dp->running && !dp->stopping && !gowsgi_daemon_rts[g].on_demand)
                    spawn(dp);
            }
    return DECLINED;
}
