/*
 * fair_share.c: no daemon group holds more than its share of Apache's
 * workers (ARCHITECTURE.md section 7, "Fair share").
 *
 * The counters live in an anonymous MAP_SHARED region the parent makes per
 * configuration generation, before it forks the daemons; Apache's children
 * inherit it, each daemon unmaps it at once (gowsgi_fair_share_forget), so
 * a tenant's code cannot reset its own group's count. Per group: how many
 * requests Apache's children are forwarding to it now, server-wide. Per
 * Apache child process: a record of its own part of each count, so that
 * when a child dies (even by a crash, mid-request) the parent takes its part
 * back out (child_status hook). A request costs a compare-and-swap on the
 * group's count and an add on the child's record, each way; no lock.
 */
#include "daemon.h"
#include "fair_share.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "mpm_common.h"
#include "apr_hash.h"
#include "apr_strings.h"

/* In r->notes while r holds a place in a group's count. */
#define FAIR_NOTE "gowsgi-fair-share"
/* A group's share when it is 100%: no check at all (mod_http2's workers
 * are threads of their own, over MaxRequestWorkers). */
#define FAIR_NO_LIMIT INT_MAX
/* How often a group that stays over its share is named again. */
#define STILL_OVER_EVERY apr_time_from_sec(60)

typedef struct fair_group {
    int held;                      /* requests forwarded to the group now */
    int share;                     /* at most this many (set before any child exists) */
    int over;                      /* a burst of refusals is on: logged once */
    unsigned int refused;          /* refusals in this burst */
    apr_time_t logged;             /* the last line about this burst */
} fair_group;

typedef struct fair_region {
    int ngroups;
    int nrecords;
    int workers;                   /* Apache's MaxRequestWorkers, as the MPM reports it */
    fair_group groups[];
    /* then nrecords records of (ngroups + 1) ints: the child's pid (0: free),
     * then its part of each group's count */
} fair_region;

static fair_region *region;
static size_t region_size;

/* This process's record (Apache's children): -1 not claimed yet, -2 none
 * free (its requests are counted in the totals only). */
static int my_record = -1;
static pthread_mutex_t claim_lock = PTHREAD_MUTEX_INITIALIZER;

static int *record_of(int i)
{
    int *base = (int *)&region->groups[region->ngroups];
    return base + (size_t)i * (size_t)(region->ngroups + 1);
}

int gowsgi_fair_share_parse(const char *v, int *count, int *percent)
{
    char *end;
    if (v == NULL || *v < '0' || *v > '9')
        return 0;
    errno = 0;
    long n = strtol(v, &end, 10);
    int is_percent = *end == '%';
    if (errno != 0 || n < 1 || (is_percent && (n > 100 || end[1] != '\0')) || (!is_percent && *end != '\0') ||
        n > 1000000)
        return 0;
    if (count)
        *count = is_percent ? 0 : (int)n;
    if (percent)
        *percent = is_percent ? (int)n : 0;
    return 1;
}

const char *gowsgi_fair_share_invalid(apr_pool_t *p, const char *what, const char *v)
{
    return apr_psprintf(p, "Invalid worker share '%s' for %s: a percentage of Apache's workers (1%% to 100%%) or a "
                        "number of workers (at least 1).", v, what);
}

static int mpm_query(int what, int fallback)
{
    int v = 0;
    return ap_mpm_query(what, &v) == APR_SUCCESS && v > 0 ? v : fallback;
}

static apr_status_t unmap(void *unused)
{
    (void)unused;
    if (gowsgi_in_daemon)
        return APR_SUCCESS;   /* a daemon's copy of the parent's pool */
    if (region != NULL)
        munmap(region, region_size);
    region = NULL;
    return APR_SUCCESS;
}

/* A group's share: its own worker-share=, else GoWSGIWorkerShare, else
 * half of Apache's workers. A default never keeps a group below its own
 * threads and a quarter more waiting for them; what is given is exact. */
static int group_share(const gowsgi_daemon_rt *rt, int workers, const char **how)
{
    int count = 0, percent = 0;
    const char *given = apr_table_get(rt->conf->options, "worker-share");
    const char *v = given ? given : gowsgi_globals.worker_share ? gowsgi_globals.worker_share
                                                                 : GOWSGI_FAIR_SHARE_DEFAULT;
    if (!gowsgi_fair_share_parse(v, &count, &percent))
        gowsgi_fair_share_parse(GOWSGI_FAIR_SHARE_DEFAULT, &count, &percent);   /* validated when read */
    *how = given ? "worker-share=" : gowsgi_globals.worker_share ? "GoWSGIWorkerShare " : "default ";
    if (percent == 100)
        return FAIR_NO_LIMIT;
    int share = count ? count : (int)((long)workers * percent / 100);
    if (share < 1)
        share = 1;
    if (given)
        return share;
    int own = rt->conf->processes * (rt->conf->threads > 0 ? rt->conf->threads : 1);
    int floor = own + (own + 3) / 4;
    return share > floor ? share : floor;
}

/* Groups with one share, for the start-up summary. */
#define FAIR_LINES_MAX 20
typedef struct fair_summary {
    int share, n;
    const char *how, *names;
} fair_summary;

const char *gowsgi_fair_share_start(apr_pool_t *pconf, server_rec *s, gowsgi_daemon_rt *rts, int nrts)
{
    /* MaxRequestWorkers: prefork says 1 thread, event and worker their
     * ThreadsPerChild; MAX_DAEMONS is MaxRequestWorkers over that. */
    int threads = 1;
    if (mpm_query(AP_MPMQ_IS_THREADED, AP_MPMQ_NOT_SUPPORTED) != AP_MPMQ_NOT_SUPPORTED)
        threads = mpm_query(AP_MPMQ_MAX_THREADS, 1);
    int workers = mpm_query(AP_MPMQ_MAX_DAEMONS, 1) * threads;
    /* A record per Apache child: those exiting while others start in their
     * scoreboard slots (event and worker) are counted too. */
    int nrecords = 2 * mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, 16);
    if (nrecords < 16)
        nrecords = 16;
    size_t size = sizeof(fair_region) + sizeof(fair_group) * (size_t)nrts +
                  sizeof(int) * (size_t)nrecords * (size_t)(nrts + 1);
    fair_region *reg = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (reg == MAP_FAILED)
        return apr_psprintf(pconf, "no shared memory for the worker shares (%s)", strerror(errno));
    region = reg;
    region_size = size;
    apr_pool_cleanup_register(pconf, NULL, unmap, apr_pool_cleanup_null);
    reg->ngroups = nrts;
    reg->nrecords = nrecords;
    reg->workers = workers;
    ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, s,
                 GOWSGI_LOGNO(0322) "gowsgi: the worker-share counters are at 0x%lx, %lu bytes "
                 "(Apache's parent and children only)", (unsigned long)(uintptr_t)reg, (unsigned long)size);
    /* A line per group; past FAIR_LINES_MAX groups, a line per distinct
     * share naming a few of its groups (a host with 1,000 tenants does not
     * log 1,000 lines at each start). */
    apr_hash_t *same = nrts > FAIR_LINES_MAX ? apr_hash_make(pconf) : NULL;
    apr_array_header_t *order = apr_array_make(pconf, 4, sizeof(fair_summary *));
    for (int g = 0; g < nrts; g++) {
        const char *how, *v = apr_table_get(rts[g].conf->options, "worker-share");
        reg->groups[g].share = group_share(&rts[g], workers, &how);
        if (v == NULL)
            v = gowsgi_globals.worker_share ? gowsgi_globals.worker_share : GOWSGI_FAIR_SHARE_DEFAULT;
        if (same != NULL) {
            const char *key = apr_psprintf(pconf, "%d|%s%s", reg->groups[g].share, how, v);
            fair_summary *f = apr_hash_get(same, key, APR_HASH_KEY_STRING);
            if (f == NULL) {
                f = apr_pcalloc(pconf, sizeof(*f));
                f->share = reg->groups[g].share;
                f->how = apr_pstrcat(pconf, how, v, NULL);
                f->names = "";
                apr_hash_set(same, key, APR_HASH_KEY_STRING, f);
                APR_ARRAY_PUSH(order, fair_summary *) = f;
            }
            if (f->n++ < 3)
                f->names = apr_psprintf(pconf, "%s%s'%s'", f->names, f->n > 1 ? ", " : "", rts[g].conf->name);
            continue;
        }
        if (reg->groups[g].share == FAIR_NO_LIMIT)
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                         GOWSGI_LOGNO(0323) "gowsgi: daemon process group '%s' may hold any number of "
                         "Apache's workers (%s%s: no limit)", rts[g].conf->name, how, v);
        else
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                         GOWSGI_LOGNO(0324) "gowsgi: daemon process group '%s' may hold %d of Apache's %d "
                         "workers (%s%s)", rts[g].conf->name, reg->groups[g].share, workers, how, v);
    }
    for (int i = 0; i < order->nelts; i++) {
        const fair_summary *f = APR_ARRAY_IDX(order, i, fair_summary *);
        const char *more = f->n > 3 ? apr_psprintf(pconf, " and %d more", f->n - 3) : "";
        if (f->share == FAIR_NO_LIMIT)
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                         GOWSGI_LOGNO(0325) "gowsgi: %d daemon process groups (%s%s) may each hold any "
                         "number of Apache's workers (%s: no limit)", f->n, f->names, more, f->how);
        else
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                         GOWSGI_LOGNO(0326) "gowsgi: %d daemon process groups (%s%s) may each hold %d of "
                         "Apache's %d workers (%s)", f->n, f->names, more, f->share, workers, f->how);
    }
    return NULL;
}

void gowsgi_fair_share_forget(void)
{
    if (region != NULL)
        munmap(region, region_size);
    region = NULL;
}

/* The parent: a child that exited no longer holds what its record says. */
void gowsgi_fair_share_child_exited(server_rec *s, pid_t pid)
{
    if (region == NULL || gowsgi_in_daemon)
        return;
    for (int i = 0; i < region->nrecords; i++) {
        int *rec = record_of(i);
        if (__atomic_load_n(&rec[0], __ATOMIC_ACQUIRE) != (int)pid)
            continue;
        /* Nobody else writes a dead child's record; it is free once the
         * counts are out. */
        for (int g = 0; g < region->ngroups; g++) {
            int n = __atomic_exchange_n(&rec[1 + g], 0, __ATOMIC_ACQ_REL);
            if (n == 0)
                continue;
            /* Never below 0: a child killed inside enter or leave may
             * have its record one over its part of the count (see enter). */
            int *held = &region->groups[g].held, h = __atomic_load_n(held, __ATOMIC_ACQUIRE);
            while (!__atomic_compare_exchange_n(held, &h, h > n ? h - n : 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                ;
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                         GOWSGI_LOGNO(0327) "gowsgi: Apache child %d exited while forwarding %d "
                         "request%s to daemon process group '%s'; %s no longer count%s against its worker share",
                         (int)pid, n, n == 1 ? "" : "s", gowsgi_daemon_rts[g].conf->name, n == 1 ? "it" : "they",
                         n == 1 ? "s" : "");
        }
        __atomic_store_n(&rec[0], 0, __ATOMIC_RELEASE);
        return;
    }
}

/* This child's record, claimed at its first forwarded request. */
static int claim_record(void)
{
    int rec = __atomic_load_n(&my_record, __ATOMIC_ACQUIRE);
    if (rec != -1)
        return rec >= 0 ? rec : -1;
    pthread_mutex_lock(&claim_lock);
    rec = my_record;
    if (rec == -1) {
        int pid = (int)getpid();
        rec = -2;
        for (int i = 0; i < region->nrecords && rec < 0; i++) {
            int free_pid = 0;
            if (__atomic_compare_exchange_n(&record_of(i)[0], &free_pid, pid, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
                rec = i;
        }
        __atomic_store_n(&my_record, rec, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&claim_lock);
    return rec >= 0 ? rec : -1;
}

static int refuse(request_rec *r, const gowsgi_daemon_rt *rt, fair_group *g, int held)
{
    __atomic_add_fetch(&g->refused, 1, __ATOMIC_ACQ_REL);
    apr_time_t now = apr_time_now();
    int calm = 0;
    /* One line when a burst starts; a group that stays over is named again
     * once a minute at most, never per request. */
    if (__atomic_compare_exchange_n(&g->over, &calm, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&g->logged, now, __ATOMIC_RELEASE);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      GOWSGI_LOGNO(0328) "gowsgi: daemon process group '%s' holds %d of Apache's %d "
                      "workers, its worker share: requests over it get 503 with Retry-After: %d until it is down "
                      "to %d", rt->conf->name, held, region->workers, GOWSGI_FAIR_SHARE_RETRY_AFTER, g->share / 2);
    } else {
        apr_time_t last = __atomic_load_n(&g->logged, __ATOMIC_ACQUIRE);
        if (now - last >= STILL_OVER_EVERY &&
            __atomic_compare_exchange_n(&g->logged, &last, now, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          GOWSGI_LOGNO(0329) "gowsgi: daemon process group '%s' still holds its worker "
                          "share (%d of Apache's %d workers); %u requests refused so far in this burst",
                          rt->conf->name, held, region->workers, __atomic_load_n(&g->refused, __ATOMIC_ACQUIRE));
    }
    apr_table_setn(r->err_headers_out, "Retry-After", APR_STRINGIFY(GOWSGI_FAIR_SHARE_RETRY_AFTER));
    return HTTP_SERVICE_UNAVAILABLE;
}

int gowsgi_fair_share_enter(request_rec *r, const gowsgi_daemon_rt *rt, gowsgi_fair_ticket *t)
{
    t->group = t->record = -1;
    if (region == NULL || rt->index >= region->ngroups)
        return OK;
    /* An internal redirect (a 200 with a local Location) or a subrequest
     * (mod_include's <!--#include virtual-->) runs while the request that
     * made it still holds its place: the same worker, counted once. */
    for (request_rec *m = r; m != NULL; m = m->main)
        for (request_rec *q = m; q != NULL; q = q->prev)
            if (q != r && apr_table_get(q->notes, FAIR_NOTE) != NULL)
                return OK;
    fair_group *g = &region->groups[rt->index];
    int share = g->share;
    if (share == FAIR_NO_LIMIT)
        return OK;
    /* The child's record first, the count after (and in leave the count
     * first, the record last): a child killed between the two leaves a
     * record at least its part of the count, never less, so the parent
     * takes back all of it; at worst one too many, and the group may hold
     * one more than its share until it is idle (leave stops at 0), never
     * less than its share for good. */
    t->record = claim_record();
    if (t->record >= 0)
        __atomic_add_fetch(&record_of(t->record)[1 + rt->index], 1, __ATOMIC_ACQ_REL);
    int held = __atomic_load_n(&g->held, __ATOMIC_ACQUIRE);
    /* Exact: a request is counted only while the count is under the share. */
    do {
        if (held >= share) {
            if (t->record >= 0)
                __atomic_sub_fetch(&record_of(t->record)[1 + rt->index], 1, __ATOMIC_ACQ_REL);
            t->record = -1;
            return refuse(r, rt, g, held);
        }
    } while (!__atomic_compare_exchange_n(&g->held, &held, held + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    t->group = rt->index;
    apr_table_setn(r->notes, FAIR_NOTE, "1");
    return OK;
}

void gowsgi_fair_share_leave(request_rec *r, const gowsgi_daemon_rt *rt, gowsgi_fair_ticket *t)
{
    if (t->group < 0 || region == NULL)
        return;
    fair_group *g = &region->groups[t->group];
    /* Never below 0 (a dead child's part taken back once too often, see
     * enter): the count is right again once the group is idle. */
    int held = __atomic_load_n(&g->held, __ATOMIC_ACQUIRE);
    while (!__atomic_compare_exchange_n(&g->held, &held, held > 0 ? held - 1 : 0, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
        ;
    held = held > 0 ? held - 1 : 0;
    if (t->record >= 0)
        __atomic_sub_fetch(&record_of(t->record)[1 + t->group], 1, __ATOMIC_ACQ_REL);
    t->group = -1;
    apr_table_unset(r->notes, FAIR_NOTE);
    /* The burst ends when the group is down to half its share, not at the
     * first request that ends: a stuck group hovering at its share would
     * otherwise log at every request. */
    int over = 1;
    if (held <= g->share / 2 && __atomic_load_n(&g->over, __ATOMIC_ACQUIRE) &&
        __atomic_compare_exchange_n(&g->over, &over, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        unsigned int refused = __atomic_exchange_n(&g->refused, 0, __ATOMIC_ACQ_REL);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      GOWSGI_LOGNO(0330) "gowsgi: daemon process group '%s' is down to %d of its worker "
                      "share of %d; %u request%s over it got 503", rt->conf->name, held, g->share, refused,
                      refused == 1 ? "" : "s");
    }
}
