/*
 * status_section.c: a gowsgi section in mod_status's page (server-status,
 * and its ?auto form), through mod_status's optional status_hook. It only
 * reads (group_view.c, metrics.c) and exposes nothing of its own: the page
 * is mod_status's, under the admin's <Location> and Require. Written only
 * with ExtendedStatus On (mod_status turns it on when loaded).
 */
#include "group_view.h"
#include "metrics.h"

#include "apr_optional_hooks.h"
#include "apr_strings.h"
#include "http_protocol.h"
#include "scoreboard.h"
#include "mod_status.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)

static const char *const state_names[GOWSGI_PROC_STATES] = {"starting", "ready", "exiting"};

/* A group's numbers beyond its view: requests served and restarts come
 * from the metrics table (kept across restarts, as gowsgi-metrics's). */
typedef struct group_counts {
    int have;                      /* the table has an entry for the group */
    apr_uint64_t requests;
    apr_uint64_t restarts;
    apr_uint64_t cold_starts;
} group_counts;

static group_counts counts_of(const gowsgi_group_view *v)
{
    group_counts c = {0};
    int e = gowsgi_metrics_group_of(v->rt);
    const gowsgi_metrics_table *t = gowsgi_metrics_get();
    if (e < 0 || t == NULL)
        return c;
    gowsgi_metrics_sums s;
    gowsgi_metrics_sum(e, &s);
    c.have = 1;
    for (int i = 0; i < 5; i++)
        c.requests += s.requests[i];
    for (int i = 0; i < GOWSGI_MCAUSES; i++)
        c.restarts += LOAD(t->groups[e].restarts[i]);
    c.cold_starts = LOAD(t->groups[e].cold_starts);
    return c;
}

static const char *mode_of(const gowsgi_group_view *v)
{
    if (v->rt == NULL)
        return "embedded";
    return v->rt->on_demand ? "on-demand" : "daemon";
}

static int asleep(const gowsgi_group_view *v)
{
    return v->rt != NULL && v->rt->on_demand && LOAD(v->rt->shared->asleep) != 0;
}

/* ?auto's value for a group name: a reader splits at the first colon and
 * trims spaces, so space, '%', control and non-ASCII bytes are written as
 * %XX (RFC 3986's percent-encoding); the name never goes into a key. */
static const char *auto_name(apr_pool_t *p, const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, strlen(name) * 3 + 1), *o = out;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        if (*c <= 0x20 || *c >= 0x7f || *c == '%') {
            *o++ = '%';
            *o++ = hex[*c >> 4];
            *o++ = hex[*c & 15];
        } else
            *o++ = (char)*c;
    }
    *o = '\0';
    return out;
}

/* The virtual host a group was defined in ("" at the top level). */
static const char *vhost_of(const gowsgi_group_view *v)
{
    const server_rec *s = v->rt != NULL ? v->rt->conf->server : NULL;
    return s != NULL && s->is_virtual && s->server_hostname != NULL ? s->server_hostname : "";
}

/* Keys are GoWSGIGroup[<index>]<Field>, as mod_proxy_balancer's
 * ProxyBalancer[<index>]...: no key of Apache's own starts so, and the
 * group's name is a value, never part of a key. Index 0 is Apache's
 * children (embedded mode); then the daemon groups of this generation. */
static void write_auto(request_rec *r, const apr_array_header_t *views)
{
    ap_rprintf(r, "GoWSGIGroups: %d\n", views->nelts);
    for (int g = 0; g < views->nelts; g++) {
        const gowsgi_group_view *v = &APR_ARRAY_IDX(views, g, gowsgi_group_view);
        group_counts c = counts_of(v);
        ap_rprintf(r, "GoWSGIGroup[%d]Name: %s\n", g, auto_name(r->pool, v->name));
        ap_rprintf(r, "GoWSGIGroup[%d]Mode: %s\n", g, mode_of(v));
        ap_rprintf(r, "GoWSGIGroup[%d]Asleep: %d\n", g, asleep(v));
        ap_rprintf(r, "GoWSGIGroup[%d]ProcessesReady: %d\n", g, v->processes[GOWSGI_PROC_READY]);
        ap_rprintf(r, "GoWSGIGroup[%d]ProcessesStarting: %d\n", g, v->processes[GOWSGI_PROC_STARTING]);
        ap_rprintf(r, "GoWSGIGroup[%d]ProcessesExiting: %d\n", g, v->processes[GOWSGI_PROC_EXITING]);
        ap_rprintf(r, "GoWSGIGroup[%d]Pids:", g);
        for (int i = 0; i < v->procs->nelts; i++)
            ap_rprintf(r, " %d", (int)APR_ARRAY_IDX(v->procs, i, gowsgi_proc_view).pid);
        ap_rputs("\n", r);
        ap_rprintf(r, "GoWSGIGroup[%d]ThreadsBusy: %d\n", g, v->busy);
        ap_rprintf(r, "GoWSGIGroup[%d]ThreadsIdle: %d\n", g, v->idle);
        ap_rprintf(r, "GoWSGIGroup[%d]ThreadsNotStarted: %d\n", g, v->not_started);
        if (c.have) {
            ap_rprintf(r, "GoWSGIGroup[%d]Requests: %" APR_UINT64_T_FMT "\n", g, c.requests);
            ap_rprintf(r, "GoWSGIGroup[%d]Restarts: %" APR_UINT64_T_FMT "\n", g, c.restarts);
            ap_rprintf(r, "GoWSGIGroup[%d]ColdStarts: %" APR_UINT64_T_FMT "\n", g, c.cold_starts);
        }
    }
}

/* "1234, 1240 (starting)": a group's processes, the state said when not ready. */
static const char *pids_html(apr_pool_t *p, const gowsgi_group_view *v)
{
    apr_array_header_t *parts = apr_array_make(p, v->procs->nelts * 2 + 1, sizeof(const char *));
    for (int i = 0; i < v->procs->nelts; i++) {
        const gowsgi_proc_view *pv = &APR_ARRAY_IDX(v->procs, i, gowsgi_proc_view);
        if (i > 0)
            APR_ARRAY_PUSH(parts, const char *) = ", ";
        APR_ARRAY_PUSH(parts, const char *) =
            pv->state == GOWSGI_PROC_READY ? apr_itoa(p, (int)pv->pid)
                                           : apr_psprintf(p, "%d (%s)", (int)pv->pid, state_names[pv->state]);
    }
    return apr_array_pstrcat(p, parts, 0);
}

static const char *name_html(apr_pool_t *p, const gowsgi_group_view *v)
{
    return v->rt == NULL ? "<i>Apache's children</i>" : ap_escape_html2(p, v->name, 0);
}

static const char *mode_html(const gowsgi_group_view *v)
{
    if (v->rt == NULL || !v->rt->on_demand)
        return mode_of(v);
    return asleep(v) ? "daemon, on-demand, asleep" : "daemon, on-demand, awake";
}

static void write_html(request_rec *r, const apr_array_header_t *views, int notable)
{
    apr_pool_t *p = r->pool;
    ap_rputs("<hr /><h2>gowsgi</h2>\n", r);
    if (notable) {
        /* As mod_status's own ?notable: a line per group, no table. */
        for (int g = 0; g < views->nelts; g++) {
            const gowsgi_group_view *v = &APR_ARRAY_IDX(views, g, gowsgi_group_view);
            group_counts c = counts_of(v);
            ap_rprintf(r, "<b>%s</b> (%s): %d ready, %d starting, %d exiting (%s); threads %d busy, %d idle, "
                          "%d not started; %" APR_UINT64_T_FMT " requests<br />\n",
                       name_html(p, v), mode_html(v), v->processes[GOWSGI_PROC_READY],
                       v->processes[GOWSGI_PROC_STARTING], v->processes[GOWSGI_PROC_EXITING], pids_html(p, v),
                       v->busy, v->idle, v->not_started, c.requests);
        }
        return;
    }
    ap_rputs("<table border=\"0\" class=\"gowsgi\"><tr><th>Group</th><th>Virtual host</th><th>Mode</th>"
             "<th>Ready</th><th>Starting</th><th>Exiting</th><th>PIDs</th>"
             "<th>Busy</th><th>Idle</th><th>Not started</th><th>Requests</th><th>Restarts</th></tr>\n", r);
    for (int g = 0; g < views->nelts; g++) {
        const gowsgi_group_view *v = &APR_ARRAY_IDX(views, g, gowsgi_group_view);
        group_counts c = counts_of(v);
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td>"
                      "<td>%d</td><td>%d</td><td>%s</td>",
                   name_html(p, v), ap_escape_html2(p, vhost_of(v), 0), mode_html(v),
                   v->processes[GOWSGI_PROC_READY], v->processes[GOWSGI_PROC_STARTING],
                   v->processes[GOWSGI_PROC_EXITING], pids_html(p, v), v->busy, v->idle,
                   v->rt != NULL ? apr_itoa(p, v->not_started) : "-");
        if (c.have)
            ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td><td>%s</td></tr>\n", c.requests,
                       v->rt != NULL ? apr_psprintf(p, "%" APR_UINT64_T_FMT, c.restarts) : "-");
        else
            ap_rputs("<td>-</td><td>-</td></tr>\n", r);
    }
    ap_rputs("</table>\n<p>Ready, Starting, Exiting: processes. Busy, Idle, Not started: threads (Apache's "
             "workers for embedded mode). Requests: answered since the server started, across restarts. "
             "Restarts: daemon processes that went without being told to.</p>\n", r);
}

static int status_hook(request_rec *r, int flags)
{
    /* The rule: only with ExtendedStatus On. */
    if (!ap_extended_status)
        return OK;
    apr_array_header_t *views = gowsgi_group_views(r->pool);
    if (flags & AP_STATUS_SHORT)
        write_auto(r, views);
    else
        write_html(r, views, (flags & AP_STATUS_NOTABLE) != 0);
    return OK;
}

void gowsgi_status_section_register(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}
