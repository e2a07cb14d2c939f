/*
 * status_json.c: the status page's document (docs/status-json.md), the one
 * source of both views: ?json answers it, and the HTML page fetches it.
 * Read in an Apache child from the metrics table (counts, history, requests
 * in flight), the group views (group_view.h), the groups' shared records
 * (restarts) and the scoreboard. Every string that comes from clients or
 * configuration goes through json_str: escaped, and valid UTF-8 whatever
 * bytes came in (a torn in-flight line included).
 */
#include "metrics.h"
#include "group_view.h"
#include "shim_build.h"

#include "ap_mpm.h"
#include "http_protocol.h"
#include "scoreboard.h"
#include "unixd.h"
#include "apr_strings.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define SHOWN_IN_FLIGHT 10

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;              /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* A JSON string of the first n bytes of s: quotes, backslashes and control
 * characters escaped, and <, > and & too (the document is safe to read
 * anywhere); a byte that is not UTF-8 becomes U+FFFD. */
static void json_strn(request_rec *r, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    char *out = apr_palloc(r->pool, n * 6 + 3), *o = out;
    *o++ = '"';
    for (size_t i = 0; i < n && p[i] != '\0';) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t len = utf8_len(p + i, n - i);
            if (len == 0) {
                memcpy(o, "\\ufffd", 6);
                o += 6;
                i++;
            } else {
                memcpy(o, p + i, len);
                o += len;
                i += len;
            }
            continue;
        }
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&') {
            o += apr_snprintf(o, 7, "\\u%04x", c);
        } else
            *o++ = (char)c;
        i++;
    }
    *o++ = '"';
    ap_rwrite(out, (int)(o - out), r);
}

static void json_str(request_rec *r, const char *s)
{
    if (s == NULL)
        ap_rputs("null", r);
    else
        json_strn(r, s, strlen(s));
}

/* Seconds since the epoch. */
static double secs(apr_time_t t)
{
    return (double)t / 1e6;
}

/* The requests Apache's child pid has served (all of them, WSGI or not):
 * its workers' access counts in the scoreboard. */
static apr_uint64_t child_requests(pid_t pid)
{
    int server_limit = ap_scoreboard_image->global->server_limit;
    int thread_limit = ap_scoreboard_image->global->thread_limit;
    apr_uint64_t n = 0;
    for (int i = 0; i < server_limit; i++) {
        if (ap_get_scoreboard_process(i)->pid != pid)
            continue;
        for (int t = 0; t < thread_limit; t++)
            n += ap_get_scoreboard_worker_from_indexes(i, t)->access_count;
        break;
    }
    return n;
}

static const char *const state_names[GOWSGI_PROC_STATES] = {"starting", "ready", "exiting"};

static void processes(request_rec *r, const gowsgi_group_view *v)
{
    ap_rputs("\"processes\":[", r);
    for (int i = 0; i < v->procs->nelts; i++) {
        const gowsgi_proc_view *pv = &APR_ARRAY_IDX(v->procs, i, gowsgi_proc_view);
        apr_uint64_t requests = 0;
        if (v->rt == NULL) {
            /* Apache counts a worker's requests only with ExtendedStatus
             * On (the default where mod_status is loaded): else unknown. */
            if (!ap_extended_status) {
                ap_rprintf(r, "%s{\"pid\":%d,\"state\":\"%s\",\"started\":%.3f,\"rss_bytes\":%.0f,"
                              "\"cpu_seconds\":%.2f,\"requests\":null}",
                           i ? "," : "", (int)pv->pid, state_names[pv->state], pv->started, pv->rss_bytes,
                           pv->cpu_seconds);
                continue;
            }
            requests = child_requests(pv->pid);
        } else
            for (int k = 0; k < v->rt->conf->processes; k++)
                if (__atomic_load_n(&v->rt->shared->slots[k].pid, __ATOMIC_ACQUIRE) == (int)pv->pid)
                    requests = LOAD(v->rt->shared->slots[k].requests);
        ap_rprintf(r, "%s{\"pid\":%d,\"state\":\"%s\",\"started\":%.3f,\"rss_bytes\":%.0f,\"cpu_seconds\":%.2f,"
                      "\"requests\":%" APR_UINT64_T_FMT "}",
                   i ? "," : "", (int)pv->pid, state_names[pv->state], pv->started, pv->rss_bytes, pv->cpu_seconds,
                   requests);
    }
    ap_rputs("]", r);
}

static void totals(request_rec *r, int e)
{
    gowsgi_metrics_sums s;
    gowsgi_metrics_sum(e, &s);
    apr_uint64_t count = 0;
    for (int c = 0; c < 5; c++)
        count += s.requests[c];
    ap_rprintf(r,
               ",\"totals\":{\"requests\":{\"1xx\":%" APR_UINT64_T_FMT ",\"2xx\":%" APR_UINT64_T_FMT
               ",\"3xx\":%" APR_UINT64_T_FMT ",\"4xx\":%" APR_UINT64_T_FMT ",\"5xx\":%" APR_UINT64_T_FMT
               "},\"count\":%" APR_UINT64_T_FMT ",\"duration_sum\":%.6f,\"slow\":%" APR_UINT64_T_FMT "}",
               s.requests[0], s.requests[1], s.requests[2], s.requests[3], s.requests[4], count,
               (double)s.duration_sum_us / 1e6, s.slow);
}

/* The group's samples, oldest first. The one the parent overwrites next is
 * left out: it may be half written while this reads. */
static void history(request_rec *r, const gowsgi_metrics_group *e)
{
    apr_uint64_t n = __atomic_load_n(&e->samples, __ATOMIC_ACQUIRE);
    apr_uint64_t first = n > GOWSGI_METRICS_HISTORY - 1 ? n - (GOWSGI_METRICS_HISTORY - 1) : 0;
    ap_rputs(",\"history\":[", r);
    for (apr_uint64_t i = first; i < n; i++) {
        const gowsgi_metrics_sample *x = &e->history[i % GOWSGI_METRICS_HISTORY];
        ap_rprintf(r,
                   "%s{\"t\":%.3f,\"requests\":%" APR_UINT64_T_FMT ",\"duration_sum\":%.6f,\"5xx\":%" APR_UINT64_T_FMT
                   "}",
                   i > first ? "," : "", secs(LOAD(x->t)), LOAD(x->requests), (double)LOAD(x->duration_sum_us) / 1e6,
                   LOAD(x->errors));
    }
    ap_rputs("]", r);
}

/* A death's cause in the words gowsgi-metrics counts it by (metrics.h). */
static const char *death_cause(const gowsgi_daemon_death *d)
{
    static const struct {
        const char *prefix, *cause;
    } reasons[] = {
        {"maximum-requests=", "maximum-requests"},   {"restart-interval=", "restart-interval"},
        {"inactivity-timeout=", "inactivity-timeout"}, {"request-timeout=", "request-timeout"},
        {"deadlock-timeout=", "deadlock-timeout"},   {"startup-timeout=", "startup-timeout"},
        {"cpu-time-limit=", "cpu-time-limit"},       {"memory-limit=", "memory-limit"},
        {"virtual-memory-limit=", "memory-limit"},   {"its script changed", "reload"},
        {"signal ", "signal"},
    };
    if (d->crashed)
        return "crash";
    if (d->signal)
        return "killed";
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (strncmp(d->reason, reasons[i].prefix, strlen(reasons[i].prefix)) == 0)
            return reasons[i].cause;
    return "exit";
}

/* The group's recent deaths (this generation's), newest first. */
static void restarts(request_rec *r, const gowsgi_daemon_rt *rt)
{
    ap_rputs(",\"restarts\":[", r);
    if (rt != NULL) {
        unsigned int n = __atomic_load_n(&rt->shared->next_death, __ATOMIC_ACQUIRE);
        unsigned int shown = n < GOWSGI_DAEMON_DEATHS ? n : GOWSGI_DAEMON_DEATHS;
        gowsgi_daemon_death *d = apr_palloc(r->pool, sizeof(*d));
        char *text = apr_palloc(r->pool, GOWSGI_DAEMON_REASON + 256);
        for (unsigned int k = 0; k < shown; k++) {
            /* A copy: the parent may be writing the oldest record now. */
            memcpy(d, &rt->shared->deaths[(n - 1 - k) % GOWSGI_DAEMON_DEATHS], sizeof(*d));
            d->reason[sizeof(d->reason) - 1] = '\0';
            gowsgi_daemon_death_format(d, text, GOWSGI_DAEMON_REASON + 256);
            ap_rprintf(r, "%s{\"time\":%.3f,\"pid\":%d,\"cause\":\"%s\",\"detail\":", k ? "," : "", secs(d->when), d->pid,
                       death_cause(d));
            json_str(r, text);
            ap_rputs("}", r);
        }
    }
    ap_rputs("]", r);
}

/* The Python a group runs: its resolved build where this process knows it
 * (a daemon resolves its own), else the server's when the group names no
 * other home. */
static const char *python_of(request_rec *r, const gowsgi_daemon_rt *rt)
{
    if (rt == NULL || (rt->python.tag == NULL && rt->python_home == NULL))
        return GOWSGI_PYTHON_TAG;
    if (rt->python.tag != NULL)
        return rt->python.tag;
    return apr_pstrcat(r->pool, "python-home=", rt->python_home, NULL);
}

static void group(request_rec *r, const gowsgi_metrics_table *t, const gowsgi_group_view *v, int first)
{
    const gowsgi_daemon_rt *rt = v->rt;
    int e = gowsgi_metrics_group_of(rt);
    ap_rputs(first ? "{\"name\":" : ",{\"name\":", r);
    json_str(r, v->name);
    ap_rprintf(r, ",\"mode\":\"%s\",\"user\":", rt ? "daemon" : "embedded");
    json_str(r, rt ? rt->user_name : ap_unixd_config.user_name);
    ap_rputs(",\"python\":", r);
    json_str(r, python_of(r, rt));
    ap_rprintf(r, ",\"processes_configured\":%d,\"threads_configured\":%d,\"on_demand\":%s,\"asleep\":%s,",
               rt ? rt->conf->processes : 0, rt ? rt->conf->threads : 0, rt && rt->on_demand ? "true" : "false",
               rt && rt->on_demand && __atomic_load_n(&rt->shared->asleep, __ATOMIC_ACQUIRE) ? "true" : "false");
    processes(r, v);
    ap_rprintf(r, ",\"threads\":{\"busy\":%d,\"idle\":%d,\"not_started\":%d}", v->busy, v->idle, v->not_started);
    if (e >= 0) {
        totals(r, e);
        history(r, &t->groups[e]);
    } else
        ap_rputs(",\"totals\":null,\"history\":[]", r);
    restarts(r, rt);
    ap_rputs("}", r);
}

typedef struct flight {
    apr_time_t since;
    int group;
    int pid;
    char line[GOWSGI_METRICS_LINE];
} flight;

static int older_first(const void *a, const void *b)
{
    apr_time_t x = ((const flight *)a)->since, y = ((const flight *)b)->since;
    return x < y ? -1 : x > y;
}

/* The oldest WSGI requests Apache's workers run now. A worker's record is
 * trusted only while the scoreboard says the worker is busy, in the child
 * that wrote it: a child that died mid-request leaves its record set. */
static void in_flight(request_rec *r, const gowsgi_metrics_table *t, apr_time_t now)
{
    int server_limit = ap_scoreboard_image->global->server_limit;
    int thread_limit = ap_scoreboard_image->global->thread_limit;
    int ngroups = __atomic_load_n(&t->ngroups, __ATOMIC_ACQUIRE);
    apr_array_header_t *all = apr_array_make(r->pool, 16, sizeof(flight));
    for (int w = 0; w < t->workers; w++) {
        const gowsgi_metrics_inflight *f = gowsgi_metrics_inflight_of(w);
        apr_time_t since = __atomic_load_n(&f->since, __ATOMIC_ACQUIRE);
        if (since == 0)
            continue;
        int i = w / t->thread_limit, th = w % t->thread_limit;
        if (i >= server_limit || th >= thread_limit)
            continue;
        int st = ap_get_scoreboard_worker_from_indexes(i, th)->status;
        if (st == SERVER_DEAD || st == SERVER_READY || st == SERVER_STARTING || st == SERVER_IDLE_KILL ||
            __atomic_load_n(&f->pid, __ATOMIC_RELAXED) != (int)ap_get_scoreboard_process(i)->pid)
            continue;
        flight fl;
        fl.group = __atomic_load_n(&f->group, __ATOMIC_RELAXED);
        fl.pid = __atomic_load_n(&f->pid, __ATOMIC_RELAXED);
        memcpy(fl.line, f->line, sizeof(fl.line));
        fl.line[sizeof(fl.line) - 1] = '\0';
        fl.since = since;
        /* Ended, or another request began, while it was copied. */
        if (__atomic_load_n(&f->since, __ATOMIC_ACQUIRE) != since || fl.group < 0 || fl.group >= ngroups)
            continue;
        *(flight *)apr_array_push(all) = fl;
    }
    qsort(all->elts, (size_t)all->nelts, sizeof(flight), older_first);
    ap_rputs(",\"in_flight\":[", r);
    for (int k = 0; k < all->nelts && k < SHOWN_IN_FLIGHT; k++) {
        const flight *fl = &APR_ARRAY_IDX(all, k, flight);
        ap_rputs(k ? ",{\"group\":" : "{\"group\":", r);
        json_str(r, t->groups[fl->group].name);
        ap_rprintf(r, ",\"pid\":%d,\"since\":%.3f,\"elapsed\":%.3f,\"request\":", fl->pid, secs(fl->since),
                   now > fl->since ? secs(now - fl->since) : 0.0);
        json_str(r, fl->line);
        ap_rputs("}", r);
    }
    ap_rprintf(r, "],\"in_flight_total\":%d", all->nelts);
}

void gowsgi_status_json(request_rec *r)
{
    const gowsgi_metrics_table *t = gowsgi_metrics_get();
    apr_time_t now = apr_time_now();
    ap_rputs("{\"server\":{\"version\":", r);
    json_str(r, "gowsgi/" GOWSGI_VERSION);
    ap_rputs(",\"apache\":", r);
    json_str(r, ap_get_server_banner());
    ap_rputs(",\"hostname\":", r);
    json_str(r, r->server->server_hostname);
    ap_rprintf(r, ",\"mpm\":\"%s\",\"generation_started\":%.3f,\"now\":%.3f,\"sample_seconds\":%d},\"groups\":[",
               ap_show_mpm(), secs(ap_scoreboard_image->global->restart_time), secs(now),
               GOWSGI_METRICS_SAMPLE_USEC / 1000000);
    apr_array_header_t *views = gowsgi_group_views(r->pool);
    const gowsgi_group_view *v = (const gowsgi_group_view *)views->elts;
    for (int g = 0; g < views->nelts; g++)
        group(r, t, &v[g], g == 0);
    ap_rputs("]", r);
    in_flight(r, t, now);
    ap_rputs("}\n", r);
}
