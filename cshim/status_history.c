/*
 * status_history.c: the status page's history "over the last minutes",
 * there as soon as the page opens. Apache's parent runs the monitor hook
 * about once a second (event, worker and prefork alike); every
 * GOWSGI_METRICS_SAMPLE_USEC it sums each group entry's counters
 * (gowsgi_metrics_sum) into that entry's ring of GOWSGI_METRICS_HISTORY
 * samples in the metrics table (metrics.h). The page derives rate and mean
 * latency per interval from consecutive samples. Only the parent writes the
 * ring: a sample's fields first, then the count that publishes it.
 */
#include "metrics.h"

int gowsgi_metrics_monitor(apr_pool_t *p, server_rec *s)
{
    gowsgi_metrics_table *t = (gowsgi_metrics_table *)gowsgi_metrics_get();
    if (t == NULL)
        return DECLINED;
    apr_time_t now = apr_time_now();
    int ngroups = __atomic_load_n(&t->ngroups, __ATOMIC_ACQUIRE);
    for (int g = 0; g < ngroups; g++) {
        gowsgi_metrics_group *e = &t->groups[g];
        apr_uint64_t n = __atomic_load_n(&e->samples, __ATOMIC_RELAXED);
        if (n > 0) {
            apr_int64_t last = __atomic_load_n(&e->history[(n - 1) % GOWSGI_METRICS_HISTORY].t, __ATOMIC_RELAXED);
            /* A clock set back: sample now rather than wait for it. */
            if (now - last < GOWSGI_METRICS_SAMPLE_USEC && now >= last)
                continue;
        }
        gowsgi_metrics_sums sum;
        gowsgi_metrics_sum(g, &sum);
        gowsgi_metrics_sample *x = &e->history[n % GOWSGI_METRICS_HISTORY];
        apr_uint64_t requests = 0;
        for (int c = 0; c < 5; c++)
            requests += sum.requests[c];
        __atomic_store_n(&x->t, (apr_int64_t)now, __ATOMIC_RELAXED);
        __atomic_store_n(&x->requests, requests, __ATOMIC_RELAXED);
        __atomic_store_n(&x->duration_sum_us, sum.duration_sum_us, __ATOMIC_RELAXED);
        __atomic_store_n(&x->errors, sum.requests[4], __ATOMIC_RELAXED);
        __atomic_store_n(&e->samples, n + 1, __ATOMIC_RELEASE);
    }
    return DECLINED;
}
