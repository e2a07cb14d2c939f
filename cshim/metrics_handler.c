/*
 * metrics_handler.c: SetHandler gowsgi-metrics, Prometheus's text format
 * (0.0.4), or OpenMetrics 1.0 when the scraper's Accept asks for it. Runs
 * in an Apache child and only reads: the counters of every worker and
 * group (metrics.c), the groups' shared records, Apache's scoreboard, and
 * /proc for the processes' memory and CPU time. Nothing is exposed unless a
 * <Location> sets the handler; who may read it is the admin's Require.
 */
#include "metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include "http_protocol.h"
#include "http_request.h"
#include "scoreboard.h"
#include "apr_strings.h"

typedef struct sums {
    apr_uint64_t requests[5];
    apr_uint64_t duration[GOWSGI_METRICS_BUCKETS + 1];
    apr_uint64_t duration_sum_us;
    apr_uint64_t queue[GOWSGI_METRICS_BUCKETS + 1];
    apr_uint64_t queue_sum_us;
    apr_uint64_t slow;
} sums;

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void sum_group(const gowsgi_metrics_table *t, int g, sums *s)
{
    const unsigned char *touched = gowsgi_metrics_touched(g);
    const gowsgi_metrics_slot *slots = gowsgi_metrics_slots(g);
    memset(s, 0, sizeof(*s));
    for (int w = 0; w <= t->workers; w++) {
        if (!__atomic_load_n(&touched[w], __ATOMIC_ACQUIRE))
            continue;
        const gowsgi_metrics_slot *sl = &slots[w];
        for (int i = 0; i < 5; i++)
            s->requests[i] += LOAD(sl->requests[i]);
        for (int i = 0; i <= GOWSGI_METRICS_BUCKETS; i++) {
            s->duration[i] += LOAD(sl->duration[i]);
            s->queue[i] += LOAD(sl->queue[i]);
        }
        s->duration_sum_us += LOAD(sl->duration_sum_us);
        s->queue_sum_us += LOAD(sl->queue_sum_us);
        s->slow += LOAD(sl->slow);
    }
}

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

/* utime+stime (seconds) and resident bytes of pid, from /proc/pid/stat
 * (world-readable); 0 when it is gone. */
static int proc_stat(pid_t pid, double *cpu, double *rss)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* After the command's closing parenthesis (a command may hold spaces):
     * state is field 3, utime 14, stime 15, rss 24. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    unsigned long utime = 0, stime = 0;
    long rsspages = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %*u %*u %ld",
               &utime, &stime, &rsspages) != 3)
        return 0;
    *cpu = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    *rss = (double)rsspages * (double)sysconf(_SC_PAGESIZE);
    return 1;
}

typedef struct proc_row {
    const char *group;
    pid_t pid;
    double cpu, rss;
} proc_row;

/* Apache's children of this server: processes, their worker threads, and
 * their CPU and memory (embedded mode runs in them: group ""). */
static void apache_children(out *o, apr_array_header_t *rows, int *ready, int *exiting, int *busy, int *idle)
{
    int server_limit = ap_scoreboard_image->global->server_limit;
    int thread_limit = ap_scoreboard_image->global->thread_limit;
    for (int i = 0; i < server_limit; i++) {
        process_score *ps = ap_get_scoreboard_process(i);
        if (ps->pid == 0)
            continue;
        if (ps->quiescing)
            (*exiting)++;
        else
            (*ready)++;
        for (int t = 0; t < thread_limit; t++) {
            worker_score *ws = ap_get_scoreboard_worker_from_indexes(i, t);
            if (ws->status == SERVER_DEAD || ws->status == SERVER_GRACEFUL)
                continue;
            if (ws->status == SERVER_READY)
                (*idle)++;
            else
                (*busy)++;
        }
        proc_row *row = apr_array_push(rows);
        row->group = "";
        row->pid = ps->pid;
        if (!proc_stat(ps->pid, &row->cpu, &row->rss))
            rows->nelts--;
    }
    (void)o;
}

int gowsgi_metrics_handler(request_rec *r)
{
    if (r->handler == NULL || strcmp(r->handler, "gowsgi-metrics") != 0)
        return DECLINED;
    r->allowed |= (AP_METHOD_BIT << M_GET);
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
    sums *s = apr_pcalloc(r->pool, sizeof(sums) * (size_t)ngroups);
    const char **names = apr_pcalloc(r->pool, sizeof(char *) * (size_t)ngroups);
    for (int g = 0; g < ngroups; g++) {
        sum_group(t, g, &s[g]);
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

    /* Gauges of this generation: its groups' shared records. */
    apr_array_header_t *rows = apr_array_make(r->pool, 16, sizeof(proc_row));
    int ready = 0, exiting = 0, busy = 0, idle = 0;
    apache_children(&o, rows, &ready, &exiting, &busy, &idle);
    family(&o, "gowsgi_processes", "gauge",
           "Processes by group and state (group empty: Apache's children, which run embedded mode).");
    ap_rprintf(r, "gowsgi_processes{group=\"\",state=\"ready\"} %d\ngowsgi_processes{group=\"\",state=\"exiting\"} %d\n",
               ready, exiting);
    int *gidle = apr_pcalloc(r->pool, sizeof(int) * (size_t)(nrts + 1));
    int *gready = apr_pcalloc(r->pool, sizeof(int) * (size_t)(nrts + 1));
    for (int g = 0; g < nrts; g++) {
        const gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        const char *name = label(r->pool, rt->conf->name);
        int st[3] = {0, 0, 0};   /* starting, ready, exiting */
        for (int i = 0; i < rt->conf->processes; i++) {
            const gowsgi_daemon_slot *slot = &rt->shared->slots[i];
            pid_t pid = __atomic_load_n(&slot->pid, __ATOMIC_ACQUIRE);
            proc_row row = {name, pid, 0, 0};
            if (pid <= 0 || !proc_stat(pid, &row.cpu, &row.rss))
                continue;           /* none yet, or gone */
            if (__atomic_load_n(&slot->exiting, __ATOMIC_ACQUIRE))
                st[2]++;
            else if (__atomic_load_n(&slot->ready, __ATOMIC_ACQUIRE)) {
                st[1]++;
                gidle[g] += __atomic_load_n(&slot->idle, __ATOMIC_ACQUIRE);
            } else
                st[0]++;
            *(proc_row *)apr_array_push(rows) = row;
        }
        gready[g] = st[1];
        ap_rprintf(r, "gowsgi_processes{group=\"%s\",state=\"starting\"} %d\n"
                      "gowsgi_processes{group=\"%s\",state=\"ready\"} %d\n"
                      "gowsgi_processes{group=\"%s\",state=\"exiting\"} %d\n",
                   name, st[0], name, st[1], name, st[2]);
    }
    family(&o, "gowsgi_threads", "gauge",
           "Worker threads by group and state: Apache's workers (group empty) busy or idle; a daemon group's "
           "threads busy (running a request), idle (started, waiting for one) or not started yet.");
    ap_rprintf(r, "gowsgi_threads{group=\"\",state=\"busy\"} %d\ngowsgi_threads{group=\"\",state=\"idle\"} %d\n",
               busy, idle);
    for (int g = 0; g < nrts; g++) {
        const gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        const char *name = label(r->pool, rt->conf->name);
        /* Busy: the group's requests an app thread has begun (their
         * tickets, daemon_ticket.h, say BEGUN until the request ends). */
        int gbusy = 0;
        for (unsigned int i = 0; i < rt->ntickets; i++)
            gbusy += (__atomic_load_n(&rt->tickets[i].word, __ATOMIC_ACQUIRE) & 3) == GOWSGI_TICKET_BEGUN;
        int not_started = gready[g] * rt->conf->threads - gbusy - gidle[g];
        ap_rprintf(r, "gowsgi_threads{group=\"%s\",state=\"busy\"} %d\n"
                      "gowsgi_threads{group=\"%s\",state=\"idle\"} %d\n"
                      "gowsgi_threads{group=\"%s\",state=\"not_started\"} %d\n",
                   name, gbusy, name, gidle[g], name, not_started > 0 ? not_started : 0);
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

    proc_row *pr = (proc_row *)rows->elts;
    family(&o, "gowsgi_process_resident_memory_bytes", "gauge", "Resident memory of each process, in bytes.");
    for (int i = 0; i < rows->nelts; i++)
        ap_rprintf(r, "gowsgi_process_resident_memory_bytes{group=\"%s\",pid=\"%d\"} %.0f\n", pr[i].group,
                   (int)pr[i].pid, pr[i].rss);
    family(&o, "gowsgi_process_cpu_seconds_total", "counter",
           "User and system CPU time of each process, in seconds (a new process is a new series).");
    for (int i = 0; i < rows->nelts; i++)
        ap_rprintf(r, "gowsgi_process_cpu_seconds_total{group=\"%s\",pid=\"%d\"} %.2f\n", pr[i].group,
                   (int)pr[i].pid, pr[i].cpu);
    if (o.openmetrics)
        ap_rputs("# EOF\n", r);
    return OK;
}
