/*
 * request_slots.c: one record per request thread of what it runs now
 * (method, URI, start, interpreter, Python thread id), kept only when
 * something watches: WSGISlowRequests (both modes) and mod_wsgi 6's
 * request-timeout with interrupt-timeout (daemon mode). A watcher thread
 * reads the records (slow-request lines; which thread to interrupt) with
 * the record's lock, never the request's own state.
 *
 * Lock order: an interpreter's GIL, then a slot's lock (the runner holds
 * the GIL when it begins and ends a slot; the interrupter takes the GIL
 * before the slot). The slow-request scan takes slot locks only.
 */
#include "engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct gowsgi_slot {
    pthread_mutex_t lock;
    long long start;              /* microseconds; 0: no request */
    long long seq;                /* this slot's requests so far */
    gowsgi_interp *it;
    unsigned long thread_id;      /* PyThread_get_thread_ident() of the slot's thread */
    long long interrupted_at;     /* when RequestTimeout was injected; 0: not */
    int slow_logged;              /* the crossing line was written */
    char method[16];
    char uri[400];
    char script_name[200];        /* for telemetry's slow records */
    char path_info[200];
    char user_agent[200];
} gowsgi_slot;

int gowsgi_slots_on;
static gowsgi_slot *slots;
static int nslots, used;
static long long slow_threshold = -1;   /* microseconds; -1: WSGISlowRequests not set */
static __thread gowsgi_slot *my_slot;
__thread long long gowsgi_slot_interrupted_after;

int gowsgi_slots_enable(int threads, const char *slow_requests)
{
    if (slow_requests != NULL)
        slow_threshold = (long long)(strtod(slow_requests, NULL) * 1e6);
    if (slots != NULL)
        return 0;
    /* Apache's threads or the group's, and room for hook threads. */
    int n = (threads > 0 ? threads : 1) + 16;
    gowsgi_slot *s = calloc((size_t)n, sizeof(*s));
    if (s == NULL)
        return -1;
    for (int i = 0; i < n; i++)
        pthread_mutex_init(&s[i].lock, NULL);
    slots = s;
    nslots = n;
    __atomic_store_n(&gowsgi_slots_on, 1, __ATOMIC_RELEASE);
    return 0;
}

static const char *group_name(void)
{
    return gowsgi_config.process_group[0] ? gowsgi_config.process_group : "(embedded)";
}

void gowsgi_slot_begin(gowsgi_interp *it, const gowsgi_request *req)
{
    if (my_slot == NULL) {
        int i = __atomic_fetch_add(&used, 1, __ATOMIC_ACQ_REL);
        if (i >= nslots)
            return;   /* more request threads than foreseen: this one is not watched */
        my_slot = &slots[i];
        my_slot->thread_id = PyThread_get_thread_ident();
    }
    gowsgi_slot *s = my_slot;
    pthread_mutex_lock(&s->lock);
    s->it = it;
    s->seq++;
    s->interrupted_at = 0;
    s->slow_logged = 0;
    snprintf(s->method, sizeof(s->method), "%s", gowsgi_request_env(req, "REQUEST_METHOD"));
    snprintf(s->uri, sizeof(s->uri), "%s", gowsgi_request_env(req, "REQUEST_URI"));
    if (__atomic_load_n(&gowsgi_telemetry_on, __ATOMIC_RELAXED)) {
        snprintf(s->script_name, sizeof(s->script_name), "%s", gowsgi_request_env(req, "SCRIPT_NAME"));
        snprintf(s->path_info, sizeof(s->path_info), "%s", gowsgi_request_env(req, "PATH_INFO"));
        snprintf(s->user_agent, sizeof(s->user_agent), "%s", gowsgi_request_env(req, "HTTP_USER_AGENT"));
    }
    s->start = gowsgi_now_us();
    pthread_mutex_unlock(&s->lock);
}

/* With the request's GIL held, before the thread state is left. */
void gowsgi_slot_end(const gowsgi_reqstate *rs, int http_status)
{
    const gowsgi_request *req = rs->req;
    gowsgi_slot *s = my_slot;
    gowsgi_slot_interrupted_after = 0;
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    long long now = gowsgi_now_us(), start = s->start;
    /* Past the threshold though the scan did not see it running (it
     * ended between two looks, or the threshold is 0: mod_wsgi 6 then
     * reports every request): its end is reported all the same. */
    int slow = s->slow_logged || (slow_threshold >= 0 && start != 0 && now - start >= slow_threshold);
    if (s->interrupted_at != 0) {
        /* An exception injected but not yet raised must not hit this
         * thread's next request. */
        PyThreadState_SetAsyncExc(s->thread_id, NULL);
        gowsgi_slot_interrupted_after = s->interrupted_at - start;
    }
    s->start = 0;
    pthread_mutex_unlock(&s->lock);
    if (__atomic_load_n(&gowsgi_telemetry_on, __ATOMIC_RELAXED) && slow && start != 0 && slow_threshold >= 0)
        gowsgi_telemetry_slow(rs, start, now, s->thread_id, s->method, s->script_name, s->path_info,
                              s->user_agent, http_status);
    if (slow && start != 0) {
        char line[700];
        int n = snprintf(line, sizeof(line),
                         GOWSGI_LOGNO(0448) "gowsgi (pid=%d): slow request finished: %s %s in process group '%s' "
                         "after %.3f s (WSGISlowRequests %.3f), status %d",
                         (int)getpid(), s->method, s->uri, group_name(), (double)(now - start) / 1e6,
                         (double)slow_threshold / 1e6, http_status);
        if (n > 0)
            req->io->log(req->ctx, GOWSGI_LOG_WARNING, line,   /* logno: above */
                         (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    }
}

void gowsgi_slots_scan_slow(void)
{
    if (slow_threshold < 0)
        return;
    int n = __atomic_load_n(&used, __ATOMIC_ACQUIRE);
    if (n > nslots)
        n = nslots;
    for (int i = 0; i < n; i++) {
        gowsgi_slot *s = &slots[i];
        char method[sizeof(s->method)], uri[sizeof(s->uri)];
        char script_name[sizeof(s->script_name)], path_info[sizeof(s->path_info)], agent[sizeof(s->user_agent)];
        unsigned long thread_id = 0;
        long long now = gowsgi_now_us(), start;
        pthread_mutex_lock(&s->lock);
        start = s->start;
        int due = start != 0 && !s->slow_logged && now - start >= slow_threshold;
        if (due) {
            s->slow_logged = 1;
            memcpy(method, s->method, sizeof(method));
            memcpy(uri, s->uri, sizeof(uri));
            memcpy(script_name, s->script_name, sizeof(script_name));
            memcpy(path_info, s->path_info, sizeof(path_info));
            memcpy(agent, s->user_agent, sizeof(agent));
            thread_id = s->thread_id;
        }
        pthread_mutex_unlock(&s->lock);
        if (due && __atomic_load_n(&gowsgi_telemetry_on, __ATOMIC_RELAXED))
            gowsgi_telemetry_slow(NULL, start, now, thread_id, method, script_name, path_info, agent, 0);
        if (due)
            gowsgi_log_processf(GOWSGI_LOG_WARNING,
                                GOWSGI_LOGNO(0449) "gowsgi (pid=%d): slow request: %s %s in process group '%s' has "
                                "run %.3f s (WSGISlowRequests %.3f)",
                                (int)getpid(), method, uri, group_name(), (double)(now - start) / 1e6,
                                (double)slow_threshold / 1e6);
    }
}

int gowsgi_slots_interrupt_due(long long fire_us)
{
    int n = __atomic_load_n(&used, __ATOMIC_ACQUIRE), done = 0;
    if (n > nslots)
        n = nslots;
    for (int i = 0; i < n; i++) {
        gowsgi_slot *s = &slots[i];
        pthread_mutex_lock(&s->lock);
        long long now = gowsgi_now_us(), seq = s->seq;
        gowsgi_interp *it = s->it;
        int due = s->start != 0 && s->interrupted_at == 0 && now - s->start >= fire_us && it != NULL &&
                  it->request_timeout != NULL;
        pthread_mutex_unlock(&s->lock);
        if (!due)
            continue;
        /* SetAsyncExc looks for the thread among the current
         * interpreter's: enter the one the request runs in. */
        PyThreadState *ts = gowsgi_enter(it);
        pthread_mutex_lock(&s->lock);
        if (s->start != 0 && s->seq == seq && s->interrupted_at == 0) {
            s->interrupted_at = gowsgi_now_us();
            if (PyThreadState_SetAsyncExc(s->thread_id, it->request_timeout) == 1)
                done++;
        }
        pthread_mutex_unlock(&s->lock);
        gowsgi_leave(ts);
    }
    return done;
}

void gowsgi_slots_overdue(long long grace_us, long long stuck_us, int *overdue, int *stuck)
{
    int n = __atomic_load_n(&used, __ATOMIC_ACQUIRE);
    long long now = gowsgi_now_us();
    *overdue = *stuck = 0;
    if (n > nslots)
        n = nslots;
    for (int i = 0; i < n; i++) {
        gowsgi_slot *s = &slots[i];
        pthread_mutex_lock(&s->lock);
        if (s->start != 0 && s->interrupted_at != 0 && now - s->interrupted_at >= grace_us)
            (*overdue)++;
        if (s->start != 0 && now - s->start >= stuck_us)
            (*stuck)++;
        pthread_mutex_unlock(&s->lock);
    }
}
