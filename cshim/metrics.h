/*
 * metrics.h: the counters behind SetHandler gowsgi-metrics (README,
 * "Monitoring"). One shared mapping made by Apache's parent once, kept
 * across generations in its retained data: a table of group names (entry 0
 * is embedded mode, group ""), and per group one slot per Apache worker
 * (ServerLimit x ThreadLimit), each written only by its own worker thread
 * with relaxed atomic adds (no lock on the request path) and summed at
 * scrape time (only the slots a worker has written: a byte per slot says so). The parent and the starter count daemon deaths by cause.
 */
#ifndef GOWSGI_METRICS_H
#define GOWSGI_METRICS_H

#include "daemon.h"

/* OpenTelemetry's http.server.request.duration buckets, in microseconds. */
#define GOWSGI_METRICS_BUCKETS 14
extern const long long gowsgi_metrics_bounds_us[GOWSGI_METRICS_BUCKETS];

/* Why a daemon process went, as counted (the error log's words). */
typedef enum gowsgi_metrics_cause {
    GOWSGI_MCAUSE_CRASH = 0,        /* crashed (the crash report names the signal) */
    GOWSGI_MCAUSE_KILLED,           /* a signal it did not declare (kill -9, the OOM killer) */
    GOWSGI_MCAUSE_EXIT,             /* exited without saying why */
    GOWSGI_MCAUSE_SIGNAL,           /* stopped on a signal it declared */
    GOWSGI_MCAUSE_MAXIMUM_REQUESTS,
    GOWSGI_MCAUSE_RESTART_INTERVAL,
    GOWSGI_MCAUSE_INACTIVITY,
    GOWSGI_MCAUSE_REQUEST_TIMEOUT,
    GOWSGI_MCAUSE_DEADLOCK,
    GOWSGI_MCAUSE_STARTUP_TIMEOUT,
    GOWSGI_MCAUSE_CPU_TIME_LIMIT,
    GOWSGI_MCAUSE_MEMORY_LIMIT,
    GOWSGI_MCAUSE_RELOAD,
    GOWSGI_MCAUSE_OTHER,
    GOWSGI_MCAUSES
} gowsgi_metrics_cause;
extern const char *const gowsgi_metrics_cause_names[GOWSGI_MCAUSES];

/* One worker's counts for one group. */
typedef struct gowsgi_metrics_slot {
    apr_uint64_t requests[5];                        /* 1xx .. 5xx */
    apr_uint64_t duration[GOWSGI_METRICS_BUCKETS + 1];   /* per bucket (not cumulative); last: +Inf */
    apr_uint64_t duration_sum_us;
    apr_uint64_t queue[GOWSGI_METRICS_BUCKETS + 1];
    apr_uint64_t queue_sum_us;
    apr_uint64_t slow;                               /* over WSGISlowRequests */
} gowsgi_metrics_slot;

/* The status page's history (status_history.c): every 5 s Apache's parent
 * records each group's cumulative counts, 72 of them (6 minutes). */
#define GOWSGI_METRICS_HISTORY 72
#define GOWSGI_METRICS_SAMPLE_USEC 5000000
typedef struct gowsgi_metrics_sample {
    apr_int64_t t;                 /* when, microseconds since the epoch */
    apr_uint64_t requests;         /* all classes */
    apr_uint64_t duration_sum_us;
    apr_uint64_t errors;           /* 5xx */
} gowsgi_metrics_sample;

#define GOWSGI_METRICS_NAME 128
typedef struct gowsgi_metrics_group {
    char name[GOWSGI_METRICS_NAME];
    apr_uint64_t restarts[GOWSGI_MCAUSES];
    apr_uint64_t cold_starts;
    apr_uint64_t samples;          /* written so far: the next goes to history[samples % HISTORY] */
    gowsgi_metrics_sample history[GOWSGI_METRICS_HISTORY];
} gowsgi_metrics_group;

/* The request an Apache worker runs now, for the status page's slowest
 * requests in flight: written by that worker alone at the request's start
 * and cleared at its end (relaxed stores: a reader may see a torn line).
 * A cache line pair of its own, so no two workers write one line. */
#define GOWSGI_METRICS_LINE 112
typedef struct gowsgi_metrics_inflight {
    apr_int64_t since;             /* the request's arrival (r->request_time); 0: none */
    int group;                     /* its group entry */
    int pid;                       /* the Apache child it ran in (a child that died mid-request leaves its record) */
    char line[GOWSGI_METRICS_LINE];   /* method, space, URI: truncated, NUL-terminated */
} __attribute__((aligned(64))) gowsgi_metrics_inflight;

typedef struct gowsgi_metrics_table {
    int workers;                   /* ServerLimit x ThreadLimit at creation */
    int thread_limit;
    int capacity;                  /* group entries */
    int ngroups;                   /* in use (the parent appends) */
    gowsgi_metrics_group groups[]; /* then, page-aligned: touched[capacity][workers + 1],
                                    * slots[capacity][workers + 1], inflight[workers] */
} gowsgi_metrics_table;

/* The parent, once the generation's groups are known (after
 * gowsgi_daemons_start): maps the table (first generation) and gives each
 * group its entry. */
int gowsgi_metrics_setup(apr_pool_t *pconf, server_rec *s);
/* A forked daemon process: it holds no other tenant's counts. */
void gowsgi_metrics_forget(void);

/* The request path (an Apache worker): r, served by rt's group (NULL:
 * embedded), begins (its worker's in-flight record, or NULL: none kept);
 * it answered status (its in-flight record, if any, is cleared); the time
 * a daemon request waited for a daemon thread. */
gowsgi_metrics_inflight *gowsgi_metrics_begin(request_rec *r, const gowsgi_daemon_rt *rt);
void gowsgi_metrics_request(request_rec *r, const gowsgi_daemon_rt *rt, int status, gowsgi_metrics_inflight *flight);
void gowsgi_metrics_queue(request_rec *r, const gowsgi_daemon_rt *rt, apr_time_t wait);
/* The parent or the starter: a process of rt's group went (not told to). */
void gowsgi_metrics_death(const gowsgi_daemon_rt *rt, const gowsgi_daemon_slot *slot, int status);
/* The starter: a request woke rt's on-demand group (the group's shared
 * record counts it too, but that record is new in each generation). */
void gowsgi_metrics_cold_start(const gowsgi_daemon_rt *rt);

/* Group entry g's counts, summed over every worker that wrote some. */
typedef struct gowsgi_metrics_sums {
    apr_uint64_t requests[5];
    apr_uint64_t duration[GOWSGI_METRICS_BUCKETS + 1];
    apr_uint64_t duration_sum_us;
    apr_uint64_t queue[GOWSGI_METRICS_BUCKETS + 1];
    apr_uint64_t queue_sum_us;
    apr_uint64_t slow;
} gowsgi_metrics_sums;
void gowsgi_metrics_sum(int g, gowsgi_metrics_sums *s);

/* For the handler (metrics_handler.c): the table (NULL: none), the slots of
 * group entry g, and the entry of a runtime group (-1: none). */
const gowsgi_metrics_table *gowsgi_metrics_get(void);
const gowsgi_metrics_slot *gowsgi_metrics_slots(int g);
const unsigned char *gowsgi_metrics_touched(int g);
int gowsgi_metrics_group_of(const gowsgi_daemon_rt *rt);
/* Worker w's in-flight record (w < table->workers). */
const gowsgi_metrics_inflight *gowsgi_metrics_inflight_of(int w);
/* Apache's parent, from its monitor hook (status_history.c): every
 * GOWSGI_METRICS_SAMPLE_USEC, each group's counts into its history. */
int gowsgi_metrics_monitor(apr_pool_t *p, server_rec *s);
/* How many of gowsgi_daemon_rts this generation has (0: none). */
int gowsgi_metrics_groups_now(void);

/* metrics_handler.c: SetHandler gowsgi-metrics. */
int gowsgi_metrics_handler(request_rec *r);
/* status_handler.c: SetHandler gowsgi-status, the live page and its
 * ?json; status_json.c writes the JSON document both views use. */
int gowsgi_status_handler(request_rec *r);
void gowsgi_status_json(request_rec *r);

#endif
