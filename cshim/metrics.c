/*
 * metrics.c: the counts behind SetHandler gowsgi-metrics (metrics.h says
 * where they live and why). The request path does a bucket search over 14
 * constants and a few relaxed atomic adds in its own worker's slot: no lock,
 * no cache line another worker writes.
 */
#include "metrics.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "scoreboard.h"
#include "apr_strings.h"

const long long gowsgi_metrics_bounds_us[GOWSGI_METRICS_BUCKETS] = {
    5000, 10000, 25000, 50000, 75000, 100000, 250000, 500000, 750000, 1000000, 2500000, 5000000, 7500000, 10000000,
};

const char *const gowsgi_metrics_cause_names[GOWSGI_MCAUSES] = {
    "crash", "killed", "exit", "signal", "maximum-requests", "restart-interval", "inactivity-timeout",
    "request-timeout", "deadlock-timeout", "startup-timeout", "cpu-time-limit", "memory-limit", "reload", "other",
};

/* Kept in the parent's retained data: the mapping outlives the module's
 * unloading at each restart, so counts never go backwards across one. */
typedef struct metrics_retained {
    gowsgi_metrics_table *table;
    size_t size;
} metrics_retained;

static gowsgi_metrics_table *table;
static size_t slots_offset;        /* from table to slots[0][0] */
static size_t touched_offset;      /* from table to touched[0][0]: a worker has written its slot of a group */
static size_t inflight_offset;     /* from table to inflight[0] */
static int *group_of;              /* per runtime group (rt->index): its entry, or -1 */
static int group_of_n;

static size_t page_round(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

static size_t layout(int capacity, int workers, size_t *offset, size_t *touched, size_t *inflight)
{
    *touched = page_round(sizeof(gowsgi_metrics_table) + (size_t)capacity * sizeof(gowsgi_metrics_group));
    *offset = page_round(*touched + (size_t)capacity * (size_t)(workers + 1));
    /* workers + 1: the last slot is for a request with no worker of its own
     * (none known in this scoreboard), shared, still atomic. */
    *inflight = page_round(*offset + (size_t)capacity * (size_t)(workers + 1) * sizeof(gowsgi_metrics_slot));
    return *inflight + (size_t)workers * sizeof(gowsgi_metrics_inflight);
}

static int find_or_add(server_rec *s, const char *name)
{
    for (int g = 0; g < table->ngroups; g++)
        if (strcmp(table->groups[g].name, name) == 0)
            return g;
    if (table->ngroups >= table->capacity || strlen(name) >= GOWSGI_METRICS_NAME) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     GOWSGI_LOGNO(0700) "gowsgi: metrics: group '%s' is not counted (%s); a full restart makes room",
                     name,
                     table->ngroups >= table->capacity ? "the table made at start-up is full" : "its name is too long");
        return -1;
    }
    int g = table->ngroups;
    apr_cpystrn(table->groups[g].name, name, GOWSGI_METRICS_NAME);
    __atomic_store_n(&table->ngroups, g + 1, __ATOMIC_RELEASE);
    return g;
}

int gowsgi_metrics_setup(apr_pool_t *pconf, server_rec *s)
{
    metrics_retained *ret = ap_retained_data_get("gowsgi_metrics");
    if (ret == NULL)
        ret = ap_retained_data_create("gowsgi_metrics", sizeof(*ret));
    if (ret->table == NULL) {
        int daemons = 0, threads = 0;
        if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &daemons) != APR_SUCCESS || daemons < 1)
            daemons = 1;
        if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &threads) != APR_SUCCESS || threads < 1)
            threads = 1;
        /* Room for groups added by later graceful restarts; pages no worker
         * writes cost nothing (and the scrape skips them, see touched). */
        int capacity = 2 * (gowsgi_daemon_nrts + 1);
        if (capacity < 64)
            capacity = 64;
        size_t off, touched, inflight;
        size_t size = layout(capacity, daemons * threads, &off, &touched, &inflight);
        void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            ap_log_error(APLOG_MARK, APLOG_ERR, errno, s,
                         GOWSGI_LOGNO(0701) "gowsgi: metrics: cannot map %lu bytes; nothing is counted",
                         (unsigned long)size);
            return OK;
        }
        ret->table = m;
        ret->size = size;
        ret->table->workers = daemons * threads;
        ret->table->thread_limit = threads;
        ret->table->capacity = capacity;
        ret->table->ngroups = 0;
    }
    table = ret->table;
    layout(table->capacity, table->workers, &slots_offset, &touched_offset, &inflight_offset);
    find_or_add(s, "");
    group_of_n = gowsgi_daemon_nrts;   /* this generation's groups */
    group_of = apr_pcalloc(pconf, sizeof(int) * (size_t)(group_of_n + 1));
    for (int g = 0; g < group_of_n; g++)
        group_of[g] = find_or_add(s, gowsgi_daemon_rts[g].conf->name);
    /* The status page's history begins now, not at the monitor's first run
     * (status_history.c). */
    gowsgi_metrics_monitor(pconf, s);
    return OK;
}

void gowsgi_metrics_forget(void)
{
    metrics_retained *ret = ap_retained_data_get("gowsgi_metrics");
    if (ret != NULL && ret->table != NULL)
        munmap(ret->table, ret->size);
    table = NULL;
}

int gowsgi_metrics_groups_now(void)
{
    return group_of_n;
}

const gowsgi_metrics_table *gowsgi_metrics_get(void)
{
    return table;
}

const unsigned char *gowsgi_metrics_touched(int g)
{
    return (const unsigned char *)table + touched_offset + (size_t)g * (size_t)(table->workers + 1);
}

const gowsgi_metrics_slot *gowsgi_metrics_slots(int g)
{
    return (const gowsgi_metrics_slot *)((const char *)table + slots_offset) + (size_t)g * (size_t)(table->workers + 1);
}

int gowsgi_metrics_group_of(const gowsgi_daemon_rt *rt)
{
    if (table == NULL)
        return -1;
    if (rt == NULL)
        return 0;
    return rt->index >= 0 && rt->index < group_of_n ? group_of[rt->index] : -1;
}

/* The worker running r (table->workers: none known): Apache's scoreboard
 * lays its worker records out as one array, ServerLimit x ThreadLimit; the
 * request's handle names the worker running it now. */
static long worker_of(request_rec *r)
{
    if (r->connection->sbh != NULL && ap_scoreboard_image != NULL) {
        worker_score *ws = ap_get_scoreboard_worker(r->connection->sbh);
        long i = ws != NULL ? (long)(ws - ap_scoreboard_image->servers[0]) : -1;
        if (i >= 0 && i < table->workers)
            return i;
    }
    return table->workers;
}

/* Worker w's slot for group g. */
static gowsgi_metrics_slot *slot_at(long w, int g)
{
    /* Once per worker and group: the scrape reads only slots written to
     * (a slot's page is shared memory, made real by reading it). */
    unsigned char *touched = (unsigned char *)table + touched_offset + (size_t)g * (size_t)(table->workers + 1) + w;
    if (!__atomic_load_n(touched, __ATOMIC_RELAXED))
        __atomic_store_n(touched, 1, __ATOMIC_RELEASE);
    return (gowsgi_metrics_slot *)((char *)table + slots_offset) + (size_t)g * (size_t)(table->workers + 1) + w;
}

/* This worker's slot for group g. */
static gowsgi_metrics_slot *slot_for(request_rec *r, int g)
{
    return slot_at(worker_of(r), g);
}

static int bucket(long long us)
{
    int b = 0;
    while (b < GOWSGI_METRICS_BUCKETS && us > gowsgi_metrics_bounds_us[b])
        b++;
    return b;
}

#define ADD(field, n) __atomic_fetch_add(&(field), (apr_uint64_t)(n), __ATOMIC_RELAXED)

void gowsgi_metrics_request(request_rec *r, const gowsgi_daemon_rt *rt, int status, gowsgi_metrics_inflight *flight)
{
    int g = gowsgi_metrics_group_of(rt);
    if (g < 0)
        return;
    /* The request's in-flight record names its worker: the scoreboard is
     * not asked twice. */
    gowsgi_metrics_slot *slot;
    if (flight != NULL) {
        __atomic_store_n(&flight->since, 0, __ATOMIC_RELEASE);
        slot = slot_at((long)(flight - (gowsgi_metrics_inflight *)((char *)table + inflight_offset)), g);
    } else
        slot = slot_for(r, g);
    long long us = (long long)(apr_time_now() - r->request_time);
    if (us < 0)
        us = 0;
    int cls = status / 100 - 1;
    if (cls < 0 || cls > 4)
        cls = 4;                   /* not an HTTP status: counted as the server's error it becomes */
    ADD(slot->requests[cls], 1);
    ADD(slot->duration[bucket(us)], 1);
    ADD(slot->duration_sum_us, us);
    if (gowsgi_globals.slow_requests != NULL && us >= gowsgi_globals.slow_requests_us)
        ADD(slot->slow, 1);
}

gowsgi_metrics_inflight *gowsgi_metrics_begin(request_rec *r, const gowsgi_daemon_rt *rt)
{
    int g = gowsgi_metrics_group_of(rt);
    if (g < 0)
        return NULL;
    long w = worker_of(r);
    if (w >= table->workers)
        return NULL;
    gowsgi_metrics_inflight *f = (gowsgi_metrics_inflight *)((char *)table + inflight_offset) + w;
    /* A subrequest or internal redirect within a WSGI request: the outer
     * one is the one in flight, and it clears the record. (A top-level
     * request overwrites whatever a child that died left there.) */
    if ((r->main != NULL || r->prev != NULL) && __atomic_load_n(&f->since, __ATOMIC_RELAXED) != 0)
        return NULL;
    static int self;               /* this process's pid, once asked */
    int pid = __atomic_load_n(&self, __ATOMIC_RELAXED);
    if (pid == 0) {
        pid = (int)getpid();
        __atomic_store_n(&self, pid, __ATOMIC_RELAXED);
    }
    size_t m = strlen(r->method), n = r->unparsed_uri != NULL ? strlen(r->unparsed_uri) : 0;
    if (m > GOWSGI_METRICS_LINE - 2)
        m = GOWSGI_METRICS_LINE - 2;
    if (n > GOWSGI_METRICS_LINE - 2 - m)
        n = GOWSGI_METRICS_LINE - 2 - m;
    memcpy(f->line, r->method, m);
    f->line[m] = ' ';
    if (n > 0)
        memcpy(f->line + m + 1, r->unparsed_uri, n);
    f->line[m + 1 + n] = '\0';
    __atomic_store_n(&f->group, g, __ATOMIC_RELAXED);
    __atomic_store_n(&f->pid, pid, __ATOMIC_RELAXED);
    __atomic_store_n(&f->since, r->request_time > 0 ? r->request_time : 1, __ATOMIC_RELEASE);
    return f;
}

const gowsgi_metrics_inflight *gowsgi_metrics_inflight_of(int w)
{
    return (const gowsgi_metrics_inflight *)((const char *)table + inflight_offset) + w;
}

void gowsgi_metrics_queue(request_rec *r, const gowsgi_daemon_rt *rt, apr_time_t wait)
{
    int g = gowsgi_metrics_group_of(rt);
    if (g < 0)
        return;
    gowsgi_metrics_slot *slot = slot_for(r, g);
    long long us = wait < 0 ? 0 : (long long)wait;
    ADD(slot->queue[bucket(us)], 1);
    ADD(slot->queue_sum_us, us);
}

/* The cause the error log names: the engine's reason begins with the limit
 * that was reached (wsgi/daemon.go). */
static gowsgi_metrics_cause classify(const gowsgi_daemon_slot *slot, int status)
{
    static const struct {
        const char *prefix;
        gowsgi_metrics_cause cause;
    } reasons[] = {
        {"maximum-requests=", GOWSGI_MCAUSE_MAXIMUM_REQUESTS}, {"restart-interval=", GOWSGI_MCAUSE_RESTART_INTERVAL},
        {"inactivity-timeout=", GOWSGI_MCAUSE_INACTIVITY},     {"request-timeout=", GOWSGI_MCAUSE_REQUEST_TIMEOUT},
        {"deadlock-timeout=", GOWSGI_MCAUSE_DEADLOCK},         {"startup-timeout=", GOWSGI_MCAUSE_STARTUP_TIMEOUT},
        {"cpu-time-limit=", GOWSGI_MCAUSE_CPU_TIME_LIMIT},     {"memory-limit=", GOWSGI_MCAUSE_MEMORY_LIMIT},
        {"virtual-memory-limit=", GOWSGI_MCAUSE_MEMORY_LIMIT}, {"its script changed", GOWSGI_MCAUSE_RELOAD},
        {"signal ", GOWSGI_MCAUSE_SIGNAL},
    };
    if (__atomic_load_n(&slot->crashed, __ATOMIC_ACQUIRE))
        return GOWSGI_MCAUSE_CRASH;
    if (!__atomic_load_n(&slot->exiting, __ATOMIC_ACQUIRE))
        return WIFSIGNALED(status) ? GOWSGI_MCAUSE_KILLED : GOWSGI_MCAUSE_EXIT;
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (strncmp(slot->reason, reasons[i].prefix, strlen(reasons[i].prefix)) == 0)
            return reasons[i].cause;
    return GOWSGI_MCAUSE_OTHER;
}

void gowsgi_metrics_death(const gowsgi_daemon_rt *rt, const gowsgi_daemon_slot *slot, int status)
{
    int g = gowsgi_metrics_group_of(rt);
    if (g < 0)
        return;
    ADD(table->groups[g].restarts[classify(slot, status)], 1);
}

void gowsgi_metrics_cold_start(const gowsgi_daemon_rt *rt)
{
    int g = gowsgi_metrics_group_of(rt);
    if (g >= 0)
        ADD(table->groups[g].cold_starts, 1);
}

void gowsgi_metrics_sum(int g, gowsgi_metrics_sums *s)
{
    const unsigned char *touched = gowsgi_metrics_touched(g);
    const gowsgi_metrics_slot *slots = gowsgi_metrics_slots(g);
    memset(s, 0, sizeof(*s));
    for (int w = 0; w <= table->workers; w++) {
        if (!__atomic_load_n(&touched[w], __ATOMIC_ACQUIRE))
            continue;
        const gowsgi_metrics_slot *sl = &slots[w];
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
        for (int i = 0; i < 5; i++)
            s->requests[i] += LOAD(sl->requests[i]);
        for (int i = 0; i <= GOWSGI_METRICS_BUCKETS; i++) {
            s->duration[i] += LOAD(sl->duration[i]);
            s->queue[i] += LOAD(sl->queue[i]);
        }
        s->duration_sum_us += LOAD(sl->duration_sum_us);
        s->queue_sum_us += LOAD(sl->queue_sum_us);
        s->slow += LOAD(sl->slow);
#undef LOAD
    }
}
