/*
 * metrics.c: mod_wsgi.process_metrics(), request_metrics() and
 * server_metrics(), with mod_wsgi 4.9.4's keys and value types. The
 * scoreboard behind server_metrics() is the shim's (gowsgi_init.scoreboard):
 * it walks Apache's records and this file turns them into the dict.
 *
 * What a request pays for them: its thread's counters (thread-local, no
 * lock, no atomic read-modify-write) and one clock read at its end. The
 * per-request timings behind request_metrics() are recorded only once
 * someone has called request_metrics(), as in mod_wsgi.
 */
#include "engine.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/times.h>
#include <unistd.h>

long long gowsgi_now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000000LL + tv.tv_usec;
}

/* ---- per-thread counters ------------------------------------------------ */

/* Every thread that served a request, by thread id - 1. The records live as
 * long as the process (threads serving requests do too), so readers on
 * other threads never see one freed. */
#define THREADS_MAX 4096
static gowsgi_thread_metrics *threads[THREADS_MAX];
static int nthreads;
static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread gowsgi_thread_metrics *mine;
static gowsgi_thread_metrics overflow;   /* beyond THREADS_MAX: counted, not listed */

gowsgi_thread_metrics *gowsgi_thread_metrics_get(void)
{
    if (__builtin_expect(mine != NULL, 1))
        return mine;
    gowsgi_thread_metrics *tm = calloc(1, sizeof(*tm));
    pthread_mutex_lock(&threads_lock);
    if (tm != NULL && nthreads < THREADS_MAX) {
        tm->id = nthreads + 1;
        threads[nthreads] = tm;
        __atomic_store_n(&nthreads, nthreads + 1, __ATOMIC_RELEASE);
    } else {
        free(tm);
        tm = &overflow;
        tm->id = THREADS_MAX + 1;
    }
    pthread_mutex_unlock(&threads_lock);
    mine = tm;
    return tm;
}

static int threads_started(void)
{
    return __atomic_load_n(&nthreads, __ATOMIC_ACQUIRE);
}

static long long load(const long long *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Busy time (microseconds, in-flight requests up to now), finished
 * requests and requests running, summed over the threads. */
static void totals(long long now, long long *busy, long long *finished, long *active)
{
    *busy = 0;
    *finished = 0;
    *active = 0;
    int n = threads_started();
    for (int i = 0; i < n; i++) {
        gowsgi_thread_metrics *tm = threads[i];
        long long since = load(&tm->since), requests = load(&tm->requests);
        *busy += load(&tm->busy);
        if (since != 0) {
            (*active)++;
            requests--;
            if (now > since)
                *busy += now - since;
        }
        *finished += requests;
    }
}

/* Per request thread (by mod_wsgi.thread_id - 1, at most max): requests
 * finished, busy microseconds (the running request's up to now) and how
 * long its running request has run (0: idle). Returns how many threads
 * have served a request, for telemetry's per-thread arrays. */
int gowsgi_metrics_threads(long long now, long long *finished, long long *busy, long long *elapsed, int max)
{
    int n = threads_started();
    for (int i = 0; i < n && i < max; i++) {
        gowsgi_thread_metrics *tm = threads[i];
        long long since = load(&tm->since), requests = load(&tm->requests);
        busy[i] = load(&tm->busy);
        elapsed[i] = 0;
        if (since != 0) {
            requests--;
            if (now > since) {
                busy[i] += now - since;
                elapsed[i] = now - since;
            }
        }
        finished[i] = requests;
    }
    return n;
}

/* ---- process facts ------------------------------------------------------ */

static long long restart_time;

void gowsgi_metrics_process_started(void)
{
    restart_time = gowsgi_now_us();
}

static long long max_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (long long)ru.ru_maxrss * 1024LL;
}

static long long current_rss(void)
{
    long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lld %lld", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * (long long)sysconf(_SC_PAGESIZE);
}

static void cpu_times(double *user, double *sys)
{
    struct tms t;
    double tick = (double)sysconf(_SC_CLK_TCK);
    times(&t);
    *user = (double)t.tms_utime / tick;
    *sys = (double)t.tms_stime / tick;
}

/* d[key] = v; consumes v. */
static int put(PyObject *d, const char *key, PyObject *v)
{
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

/* ---- process_metrics() -------------------------------------------------- */

static PyObject *process_metrics(PyObject *self, PyObject *unused)
{
    /* mod_wsgi 6: with WSGITelemetryService the reporter is the metrics'
     * consumer; the accessors answer None so an in-app reporter stands down. */
    if (__atomic_load_n(&gowsgi_telemetry_on, __ATOMIC_RELAXED))
        Py_RETURN_NONE;
    long long now = gowsgi_now_us(), busy, finished;
    long active;
    double user, sys;
    totals(now, &busy, &finished, &active);
    cpu_times(&user, &sys);

    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    PyObject *list = PyList_New(0);
    if (list == NULL ||
        put(d, "pid", PyLong_FromLong(getpid())) != 0 ||
        put(d, "request_busy_time", PyFloat_FromDouble((double)busy / 1e6)) != 0 ||
        put(d, "request_count", PyLong_FromLongLong(finished)) != 0 ||
        put(d, "memory_max_rss", PyLong_FromLongLong(max_rss())) != 0 ||
        put(d, "memory_rss", PyLong_FromLongLong(current_rss())) != 0 ||
        put(d, "cpu_user_time", PyFloat_FromDouble(user)) != 0 ||
        put(d, "cpu_system_time", PyFloat_FromDouble(sys)) != 0 ||
        put(d, "restart_time", PyFloat_FromDouble((double)restart_time / 1e6)) != 0 ||
        put(d, "current_time", PyFloat_FromDouble((double)now / 1e6)) != 0 ||
        put(d, "running_time", PyLong_FromLongLong((now - restart_time) / 1000000LL)) != 0 ||
        put(d, "request_threads", PyLong_FromLong(threads_started())) != 0 ||
        put(d, "active_requests", PyLong_FromLong(active)) != 0 ||
        PyDict_SetItemString(d, "threads", list) != 0)
        goto fail;
    int n = threads_started();
    for (int i = 0; i < n; i++) {
        PyObject *t = PyDict_New();
        if (t == NULL || put(t, "thread_id", PyLong_FromLong(threads[i]->id)) != 0 ||
            put(t, "request_count", PyLong_FromLongLong(load(&threads[i]->requests))) != 0 ||
            PyList_Append(list, t) != 0) {
            Py_XDECREF(t);
            goto fail;
        }
        Py_DECREF(t);
    }
    Py_DECREF(list);
    return d;
fail:
    Py_XDECREF(list);
    Py_DECREF(d);
    return NULL;
}

/* ---- request_metrics() -------------------------------------------------- */

int gowsgi_request_metrics_on;

#define BUCKETS 16
static pthread_mutex_t sample_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    long long requests;
    double server, queue, daemon, application;       /* totals, seconds */
    int server_b[BUCKETS], queue_b[BUCKETS], daemon_b[BUCKETS], application_b[BUCKETS];
    long long status[5];                             /* mod_wsgi 6's status_1xx .. status_5xx */
} sample;

/* mod_wsgi's buckets: <= 5 ms, doubling, the last one open-ended. */
static void bucket(int *b, double seconds)
{
    double limit = 0.005;
    int i = 0;
    while (i < 14 && seconds > limit) {
        limit *= 2;
        i++;
    }
    b[i]++;
}

static long long env_time(const gowsgi_request *req, const char *key)
{
    for (int i = 0; i < req->nenv; i++)
        if (strcmp(req->env_keys[i], key) == 0)
            return strtoll(req->env_vals[i], NULL, 10);
    return 0;
}

int gowsgi_request_phases(const gowsgi_reqstate *rs, long long finish, long long us[4])
{
    const gowsgi_request *req = rs->req;
    int daemon = gowsgi_config.process_group[0] != '\0';
    long long request_start = req->request_start, app_start = rs->app_start;
    long long queue_start = daemon ? env_time(req, "mod_wsgi.queue_start") : 0;
    long long daemon_start = daemon ? env_time(req, "mod_wsgi.daemon_start") : 0;
    us[1] = us[2] = 0;
    us[3] = finish - app_start;
    if (queue_start) {
        us[0] = queue_start - request_start;
        us[1] = daemon_start - queue_start;
        us[2] = app_start - daemon_start;
    } else {
        us[0] = app_start - request_start;
    }
    /* A clock stepped back mid-request: no negative phase. */
    for (int i = 0; i < 4; i++)
        if (us[i] < 0)
            us[i] = 0;
    return queue_start != 0;
}

void gowsgi_metrics_record(gowsgi_reqstate *rs, long long finish)
{
    int daemon = gowsgi_config.process_group[0] != '\0';
    long long us[4];
    gowsgi_request_phases(rs, finish, us);
    double server = (double)us[0] / 1e6, queue = (double)us[1] / 1e6, dtime = (double)us[2] / 1e6,
           app = (double)us[3] / 1e6;
    pthread_mutex_lock(&sample_lock);
    sample.requests++;
    sample.server += server;
    sample.queue += queue;
    sample.daemon += dtime;
    sample.application += app;
    bucket(sample.server_b, server);
    if (daemon) {
        bucket(sample.queue_b, queue);
        bucket(sample.daemon_b, dtime);
    }
    bucket(sample.application_b, app);
    /* mod_wsgi 6: no start_response (the app raised: 500) counts as 5xx;
     * a status outside 100-599 is not counted. */
    int st = rs->status == 0 ? 500 : rs->status;
    if (st >= 100 && st < 600)
        sample.status[st / 100 - 1]++;
    pthread_mutex_unlock(&sample_lock);
}

static PyObject *int_list(const int *v, int n)
{
    PyObject *l = PyList_New(n);
    for (int i = 0; l != NULL && i < n; i++) {
        PyObject *x = PyLong_FromLong(v[i]);
        if (x == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, i, x);
    }
    return l;
}

/* The previous sample's end: process-wide, as mod_wsgi's statics. */
static long long start_time, start_busy, start_count;
static double start_user, start_sys;
static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;

/* Starts recording: the next request_metrics() covers from now. Caller
 * holds call_lock. */
static void start_sample(long long now, long long busy, long long count, double user, double sys)
{
    start_time = now;
    start_busy = busy;
    start_count = count;
    start_user = user;
    start_sys = sys;
    pthread_mutex_lock(&sample_lock);
    memset(&sample, 0, sizeof(sample));
    pthread_mutex_unlock(&sample_lock);
    int n = threads_started();
    for (int i = 0; i < n; i++)
        threads[i]->sampled = load(&threads[i]->requests);
    __atomic_store_n(&gowsgi_request_metrics_on, 1, __ATOMIC_RELEASE);
}

/* mod_wsgi 6's mod_wsgi.start_recording_metrics(): idempotent, None; the
 * next request_metrics() returns the interval since the first call. */
/* Set by start_recording_metrics(): the app is written for mod_wsgi 6, and
 * request_metrics() adds 6's status_1xx .. status_5xx (4.9.4's keys
 * otherwise, as an app written for 4.x expects). */
static int six_recording;

static PyObject *start_recording_metrics(PyObject *self, PyObject *unused)
{
    long long now = gowsgi_now_us(), busy, count;
    long active;
    double user, sys;
    (void)self;
    (void)unused;
    totals(now, &busy, &count, &active);
    cpu_times(&user, &sys);
    pthread_mutex_lock(&call_lock);
    if (start_time == 0)
        start_sample(now, busy, count, user, sys);
    __atomic_store_n(&six_recording, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&call_lock);
    Py_RETURN_NONE;
}

static PyObject *request_metrics(PyObject *self, PyObject *unused)
{
    if (__atomic_load_n(&gowsgi_telemetry_on, __ATOMIC_RELAXED))
        Py_RETURN_NONE;   /* mod_wsgi 6, as process_metrics() */
    int max_threads = gowsgi_config.threads_per_process > 0 ? gowsgi_config.threads_per_process : 1;
    long long now = gowsgi_now_us(), busy, count;
    long active;
    double user, sys;
    totals(now, &busy, &count, &active);
    cpu_times(&user, &sys);

    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    pthread_mutex_lock(&call_lock);
    if (start_time == 0) {
        /* The first call starts the sample and returns {}, as mod_wsgi
         * 4.9.4 (mod_wsgi 6 apps call start_recording_metrics() first). */
        start_sample(now, busy, count, user, sys);
        pthread_mutex_unlock(&call_lock);
        return d;
    }
    double period = (double)(now - start_time) / 1e6;
    double busy_s = (double)(busy - start_busy) / 1e6;
    long long requests = count - start_count;
    double user_rate = period > 0 ? (user - start_user) / period : 0;
    double sys_rate = period > 0 ? (sys - start_sys) / period : 0;
    long long prev_start = start_time;
    start_time = now;
    start_busy = busy;
    start_count = count;
    start_user = user;
    start_sys = sys;

    int *per_thread = calloc((size_t)max_threads, sizeof(int));
    int threads_active = 0;
    int n = threads_started();
    for (int i = 0; i < n; i++) {
        long long r = load(&threads[i]->requests);
        if (per_thread != NULL && i < max_threads)
            per_thread[i] = (int)(r - threads[i]->sampled);
        threads[i]->sampled = r;
    }
    for (int i = 0; per_thread != NULL && i < max_threads; i++)
        threads_active += per_thread[i] != 0;

    pthread_mutex_lock(&sample_lock);
    typeof(sample) s = sample;
    memset(&sample, 0, sizeof(sample));
    pthread_mutex_unlock(&sample_lock);
    pthread_mutex_unlock(&call_lock);

    double avg_server = 0, avg_queue = 0, avg_daemon = 0, avg_app = 0;
    if (s.requests) {
        avg_server = s.server / (double)s.requests;
        avg_queue = s.queue / (double)s.requests;
        avg_daemon = s.daemon / (double)s.requests;
        avg_app = s.application / (double)s.requests;
    }
    int daemon = gowsgi_config.process_group[0] != '\0';
    if (per_thread == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    if (put(d, "pid", PyLong_FromLong(getpid())) != 0 ||
        put(d, "start_time", PyFloat_FromDouble((double)prev_start / 1e6)) != 0 ||
        put(d, "stop_time", PyFloat_FromDouble((double)now / 1e6)) != 0 ||
        put(d, "sample_period", PyFloat_FromDouble(period)) != 0 ||
        put(d, "cpu_user_time", PyFloat_FromDouble(user_rate)) != 0 ||
        put(d, "cpu_system_time", PyFloat_FromDouble(sys_rate)) != 0 ||
        put(d, "memory_max_rss", PyLong_FromLongLong(max_rss())) != 0 ||
        put(d, "memory_rss", PyLong_FromLongLong(current_rss())) != 0 ||
        put(d, "request_threads_maximum", PyLong_FromLong(max_threads)) != 0 ||
        put(d, "request_threads_started", PyLong_FromLong(n)) != 0 ||
        put(d, "capacity_utilization",
            PyFloat_FromDouble(period > 0 ? busy_s / period / max_threads : 0)) != 0 ||
        put(d, "request_count", PyLong_FromLongLong(requests)) != 0 ||
        put(d, "request_throughput", PyFloat_FromDouble(period > 0 ? (double)requests / period : 0)) != 0 ||
        put(d, "server_time_buckets", int_list(s.server_b, BUCKETS)) != 0 ||
        put(d, "queue_time_buckets", int_list(s.queue_b, BUCKETS)) != 0 ||
        put(d, "daemon_time_buckets", int_list(s.daemon_b, BUCKETS)) != 0 ||
        put(d, "application_time_buckets", int_list(s.application_b, BUCKETS)) != 0 ||
        put(d, "request_threads_buckets", int_list(per_thread, max_threads)) != 0 ||
        put(d, "request_threads_active", PyLong_FromLong(threads_active)) != 0 ||
        put(d, "server_time", PyFloat_FromDouble(avg_server)) != 0)
        goto fail;
    if (__atomic_load_n(&six_recording, __ATOMIC_ACQUIRE) &&
        (put(d, "status_1xx", PyLong_FromLongLong(s.status[0])) != 0 ||
         put(d, "status_2xx", PyLong_FromLongLong(s.status[1])) != 0 ||
         put(d, "status_3xx", PyLong_FromLongLong(s.status[2])) != 0 ||
         put(d, "status_4xx", PyLong_FromLongLong(s.status[3])) != 0 ||
         put(d, "status_5xx", PyLong_FromLongLong(s.status[4])) != 0))
        goto fail;
    if (daemon) {
        if (put(d, "queue_time", PyFloat_FromDouble(avg_queue)) != 0 ||
            put(d, "daemon_time", PyFloat_FromDouble(avg_daemon)) != 0)
            goto fail;
    } else if (PyDict_SetItemString(d, "queue_time", Py_None) != 0 ||
               PyDict_SetItemString(d, "daemon_time", Py_None) != 0) {
        goto fail;
    }
    if (put(d, "application_time", PyFloat_FromDouble(avg_app)) != 0)
        goto fail;
    free(per_thread);
    return d;
fail:
    free(per_thread);
    Py_DECREF(d);
    return NULL;
}

/* ---- server_metrics() --------------------------------------------------- */

/* The dict being built while the shim walks the scoreboard. */
typedef struct sb_build {
    PyObject *result;
    PyObject *processes;
    PyObject *workers;                /* the current process's list */
} sb_build;

static PyObject *seconds(int64_t us)
{
    return PyFloat_FromDouble((double)us / 1e6);
}

static int sb_global(void *ctx, const gowsgi_sb_global *g)
{
    sb_build *b = ctx;
    long long now = gowsgi_now_us();
    if (put(b->result, "server_limit", PyLong_FromLong(g->server_limit)) != 0 ||
        put(b->result, "thread_limit", PyLong_FromLong(g->thread_limit)) != 0 ||
        put(b->result, "running_generation", PyLong_FromLong(g->running_generation)) != 0 ||
        put(b->result, "restart_time", seconds(g->restart_time)) != 0 ||
        put(b->result, "current_time", seconds(now)) != 0 ||
        /* whole seconds, as mod_wsgi's (a 32-bit count) */
        put(b->result, "running_time", PyLong_FromLongLong((uint32_t)((now - g->restart_time) / 1000000LL))) != 0)
        return -1;
    return 0;
}

static int sb_process(void *ctx, const gowsgi_sb_process *p)
{
    sb_build *b = ctx;
    PyObject *d = PyDict_New(), *workers = PyList_New(0);
    if (d == NULL || workers == NULL || PyList_Append(b->processes, d) != 0 ||
        put(d, "process_num", PyLong_FromLong(p->process_num)) != 0 ||
        put(d, "pid", PyLong_FromLong(p->pid)) != 0 ||
        put(d, "generation", PyLong_FromLong(p->generation)) != 0 ||
        put(d, "quiescing", PyBool_FromLong(p->quiescing)) != 0 ||
        PyDict_SetItemString(d, "workers", workers) != 0) {
        Py_XDECREF(d);
        Py_XDECREF(workers);
        return -1;
    }
    Py_DECREF(d);
    Py_XSETREF(b->workers, workers);
    return 0;
}

static PyObject *latin1(const char *s)
{
    return PyUnicode_DecodeLatin1(s, (Py_ssize_t)strlen(s), NULL);
}

static int sb_worker(void *ctx, const gowsgi_sb_worker *w)
{
    sb_build *b = ctx;
    PyObject *d = PyDict_New();
    if (d == NULL || b->workers == NULL || PyList_Append(b->workers, d) != 0 ||
        put(d, "thread_num", PyLong_FromLong(w->thread_num)) != 0 ||
        put(d, "generation", PyLong_FromLong(w->generation)) != 0 ||
        put(d, "status", PyUnicode_FromStringAndSize(&w->status, 1)) != 0 ||
        put(d, "access_count", PyLong_FromUnsignedLong(w->access_count)) != 0 ||
        put(d, "bytes_served", PyLong_FromUnsignedLongLong(w->bytes_served)) != 0 ||
        put(d, "start_time", seconds(w->start_time)) != 0 ||
        put(d, "stop_time", seconds(w->stop_time)) != 0 ||
        put(d, "last_used", seconds(w->last_used)) != 0 ||
        put(d, "client", latin1(w->client)) != 0 ||
        put(d, "request", latin1(w->request)) != 0 ||
        put(d, "vhost", latin1(w->vhost)) != 0) {
        Py_XDECREF(d);
        return -1;
    }
    Py_DECREF(d);
    return 0;
}

/* mod_wsgi answers None unless WSGIServerMetrics (in a daemon process, its
 * group's server-metrics=) is On, or when the process has no scoreboard. */
static PyObject *server_metrics(PyObject *self, PyObject *unused)
{
    if (gowsgi_config.scoreboard == NULL)
        Py_RETURN_NONE;
    sb_build b = {PyDict_New(), PyList_New(0), NULL};
    static const gowsgi_sb_visitor visitor = {NULL, sb_global, sb_process, sb_worker};
    gowsgi_sb_visitor v = visitor;
    v.ctx = &b;
    PyObject *result = NULL;
    if (b.result == NULL || b.processes == NULL)
        goto done;
    int rc = gowsgi_config.scoreboard(&v);
    if (rc == 1) {
        result = Py_NewRef(Py_None);
    } else if (rc == 0 && PyDict_SetItemString(b.result, "processes", b.processes) == 0) {
        result = Py_NewRef(b.result);
    } else if (!PyErr_Occurred()) {
        PyErr_SetString(PyExc_RuntimeError, "server_metrics(): the scoreboard could not be read");
    }
done:
    Py_XDECREF(b.workers);
    Py_XDECREF(b.processes);
    Py_XDECREF(b.result);
    return result;
}

PyMethodDef gowsgi_metrics_methods[] = {
    {"process_metrics", process_metrics, METH_NOARGS, NULL},
    {"request_metrics", request_metrics, METH_NOARGS, NULL},
    {"start_recording_metrics", start_recording_metrics, METH_NOARGS, NULL},
    {"server_metrics", server_metrics, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};
