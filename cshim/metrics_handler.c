/*
 * metrics_handler.c: SetHandler gowsgi-metrics, Prometheus's text format
 * (0.0.4), or OpenMetrics 1.0 when the scraper's Accept asks for it. Runs
 * in an Apache child and only reads: the counters of every worker and
 * group (metrics.c), the groups' shared records, Apache's scoreboard, and
 * /proc for the processes' memory and CPU time. Nothing is exposed unless a
 * <Location> sets the handler; who may read it is the admin's Require.
 */
#include "metrics.h"
#include "group_view.h"

#include "http_protocol.h"
#include "http_request.h"
#include "scoreboard.h"
#include "apr_strings.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* A label value: backslash, double quote and newline escaped. */
static const char *label(apr_pool_t *p, const char *v)
{
    if (strpbrk(v, "\\\"\n") == NULL)
        return v;
    char *out = apr_palloc(p, strlen(v) * 2 + 1), *o = out;
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            *o++ = '\\';
        if (*v == '\n') {
            *o++ = '\\';
            *o++ = 'n';
            continue;
        }
        *o++ = *v;
    }
    *o = '\0';
    return out;
}

typedef struct out {
    request_rec *r;
    int openmetrics;
} out;

/* A family's HELP and TYPE lines. OpenMetrics names a counter's family
 * without its _total suffix (and allows no bare double quote in a HELP:
 * the texts have none). */
static void family(out *o, const char *name, const char *type, const char *help)
{
    size_t n = strlen(name);
    const char *fam = name;
    if (o->openmetrics && strcmp(type, "counter") == 0 && n > 6 && strcmp(name + n - 6, "_total") == 0)
        fam = apr_pstrndup(o->r->pool, name, n - 6);
    ap_rprintf(o->r, "# HELP %s %s\n# TYPE %s %s\n", fam, help, fam, type);
}

static void histogram(out *o, const char *name, const char *group, const apr_uint64_t *buckets,
                      apr_uint64_t sum_us)
{
    /* gowsgi_metrics_bounds_us as Prometheus writes them (APR's %g would
     * drop the leading zero). */
    static const char *const le[GOWSGI_METRICS_BUCKETS] = {
        "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "5", "7.5", "10",
    };
    apr_uint64_t cum = 0;
    for (int i = 0; i < GOWSGI_METRICS_BUCKETS; i++) {
        cum += buckets[i];
        ap_rprintf(o->r, "%s_bucket{group=\"%s\",le=\"%s\"} %" APR_UINT64_T_FMT "\n", name, group, le[i], cum);
    }
    cum += buckets[GOWSGI_METRICS_BUCKETS];
    ap_rprintf(o->r, "%s_bucket{group=\"%s\",le=\"+Inf\"} %" APR_UINT64_T_FMT "\n", name, group, cum);
    ap_rprintf(o->r, "%s_sum{group=\"%s\"} %.6f\n", name, group, (double)sum_us / 1e6);
    ap_rprintf(o->r, "%s_count{group=\"%s\"} %" APR_UINT64_T_FMT "\n", name, group, cum);
}

int gowsgi_metrics_handler(request_rec *r)
{
    if (r->handler == NULL || strcmp(r->handler, "gowsgi-metrics") != 0)
        return DECLINED;
    /* The 405's Allow header: GET (and HEAD) only; r->allowed alone
     * would leave it saying TRACE. */
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    const gowsgi_metrics_table *t = gowsgi_metrics_get();
    if (t == NULL || ap_scoreboard_image == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      GOWSGI_LOGNO(0702) "gowsgi: metrics: no counters in this server (see its start-up log)");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    const char *accept = apr_table_get(r->headers_in, "Accept");
    out o = {r, accept != NULL && ap_strcasestr(accept, "application/openmetrics-text") != NULL};
    ap_set_content_type(r, o.openmetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                         : "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only)
        return OK;

    int ngroups = __atomic_load_n(&t->ngroups, __ATOMIC_ACQUIRE);
    int nrts = gowsgi_metrics_groups_now();
    gowsgi_metrics_sums *s = apr_pcalloc(r->pool, sizeof(*s) * (size_t)ngroups);
    const char **names = apr_pcalloc(r->pool, sizeof(char *) * (size_t)ngroups);
    for (int g = 0; g < ngroups; g++) {
        gowsgi_metrics_sum(g, &s[g]);
        names[g] = label(r->pool, t->groups[g].name);
    }
    static const char *const classes[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

    family(&o, "gowsgi_requests_total", "counter",
           "WSGI requests answered, by daemon process group (empty: embedded mode) and status class.");
    for (int g = 0; g < ngroups; g++)
        for (int c = 0; c < 5; c++)
            ap_rprintf(r, "gowsgi_requests_total{group=\"%s\",code_class=\"%s\"} %" APR_UINT64_T_FMT "\n", names[g], classes[c],
                       s[g].requests[c]);
    family(&o, "gowsgi_request_duration_seconds", "histogram",
           "Time from a WSGI request's arrival to its answer, in seconds (OpenTelemetry's "
           "http.server.request.duration buckets).");
    for (int g = 0; g < ngroups; g++)
        histogram(&o, "gowsgi_request_duration_seconds", names[g], s[g].duration, s[g].duration_sum_us);
    family(&o, "gowsgi_queue_wait_seconds", "histogram",
           "Time a daemon-mode request waited for a thread of its group, in seconds.");
    for (int g = 1; g < ngroups; g++)
        histogram(&o, "gowsgi_queue_wait_seconds", names[g], s[g].queue, s[g].queue_sum_us);
    family(&o, "gowsgi_slow_requests_total", "counter",
           "WSGI requests that took at least WSGISlowRequests seconds from their arrival (0 when not set).");
    for (int g = 0; g < ngroups; g++)
        ap_rprintf(r, "gowsgi_slow_requests_total{group=\"%s\"} %" APR_UINT64_T_FMT "\n", names[g], s[g].slow);
    family(&o, "gowsgi_process_restarts_total", "counter",
           "Daemon processes that went without being told to, by the cause the error log names.");
    for (int g = 1; g < ngroups; g++)
        for (int c = 0; c < GOWSGI_MCAUSES; c++) {
            apr_uint64_t n = LOAD(t->groups[g].restarts[c]);
            if (n > 0)
                ap_rprintf(r, "gowsgi_process_restarts_total{group=\"%s\",cause=\"%s\"} %" APR_UINT64_T_FMT "\n", names[g],
                           gowsgi_metrics_cause_names[c], n);
        }
    family(&o, "gowsgi_cold_starts_total", "counter",
           "Times a request woke an on-demand daemon process group.");
    for (int g = 0; g < nrts; g++) {
        int e = gowsgi_metrics_group_of(&gowsgi_daemon_rts[g]);
        if (e > 0 && gowsgi_daemon_rts[g].on_demand)
            ap_rprintf(r, "gowsgi_cold_starts_total{group=\"%s\"} %" APR_UINT64_T_FMT "\n", names[e], LOAD(t->groups[e].cold_starts));
    }

    /* Gauges of this generation: Apache's scoreboard, its groups' shared
     * records, /proc. */
    apr_array_header_t *views = gowsgi_group_views(r->pool);
    const gowsgi_group_view *v = (const gowsgi_group_view *)views->elts;
    static const char *const pstates[GOWSGI_PROC_STATES] = {"starting", "ready", "exiting"};
    family(&o, "gowsgi_processes", "gauge",
           "Processes by group and state (group empty: Apache's children, which run embedded mode).");
    for (int g = 0; g < views->nelts; g++)
        for (int st = 0; st < GOWSGI_PROC_STATES; st++)
            if (v[g].rt != NULL || st != GOWSGI_PROC_STARTING)
                ap_rprintf(r, "gowsgi_processes{group=\"%s\",state=\"%s\"} %d\n", label(r->pool, v[g].name),
                           pstates[st], v[g].processes[st]);
    family(&o, "gowsgi_threads", "gauge",
           "Worker threads by group and state: Apache's workers (group empty) busy or idle; a daemon group's "
           "threads busy (running a request), idle (started, waiting for one) or not started yet.");
    for (int g = 0; g < views->nelts; g++) {
        const char *name = label(r->pool, v[g].name);
        ap_rprintf(r, "gowsgi_threads{group=\"%s\",state=\"busy\"} %d\ngowsgi_threads{group=\"%s\",state=\"idle\"} %d\n",
                   name, v[g].busy, name, v[g].idle);
        if (v[g].rt != NULL)
            ap_rprintf(r, "gowsgi_threads{group=\"%s\",state=\"not_started\"} %d\n", name, v[g].not_started);
    }
    family(&o, "gowsgi_group_asleep", "gauge",
           "1 when an on-demand daemon process group has no process (the next request starts one).");
    for (int g = 0; g < nrts; g++)
        if (gowsgi_daemon_rts[g].on_demand)
            ap_rprintf(r, "gowsgi_group_asleep{group=\"%s\"} %d\n", label(r->pool, gowsgi_daemon_rts[g].conf->name),
                       __atomic_load_n(&gowsgi_daemon_rts[g].shared->asleep, __ATOMIC_ACQUIRE) ? 1 : 0);
    family(&o, "gowsgi_last_cold_start_seconds", "gauge",
           "How long the last wake of an on-demand group took, from the request to a ready process.");
    for (int g = 0; g < nrts; g++)
        if (gowsgi_daemon_rts[g].on_demand)
            ap_rprintf(r, "gowsgi_last_cold_start_seconds{group=\"%s\"} %.6f\n",
                       label(r->pool, gowsgi_daemon_rts[g].conf->name),
                       (double)__atomic_load_n(&gowsgi_daemon_rts[g].shared->last_cold_start_usec, __ATOMIC_ACQUIRE) /
                           1e6);

    family(&o, "gowsgi_process_resident_memory_bytes", "gauge", "Resident memory of each process, in bytes.");
    for (int g = 0; g < views->nelts; g++)
        for (int i = 0; i < v[g].procs->nelts; i++) {
            const gowsgi_proc_view *pv = &APR_ARRAY_IDX(v[g].procs, i, gowsgi_proc_view);
            ap_rprintf(r, "gowsgi_process_resident_memory_bytes{group=\"%s\",pid=\"%d\"} %.0f\n",
                       label(r->pool, v[g].name), (int)pv->pid, pv->rss_bytes);
        }
    family(&o, "gowsgi_process_cpu_seconds_total", "counter",
           "User and system CPU time of each process, in seconds (a new process is a new series).");
    for (int g = 0; g < views->nelts; g++)
        for (int i = 0; i < v[g].procs->nelts; i++) {
            const gowsgi_proc_view *pv = &APR_ARRAY_IDX(v[g].procs, i, gowsgi_proc_view);
            ap_rprintf(r, "gowsgi_process_cpu_seconds_total{group=\"%s\",pid=\"%d\"} %.2f\n",
                       label(r->pool, v[g].name), (int)pv->pid, pv->cpu_seconds);
        }
    if (o.openmetrics)
        ap_rputs("# EOF\n", r);
    return OK;
}
