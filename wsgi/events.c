/*
 * events.c: mod_wsgi's event API for APM agents: subscribe_events(),
 * subscribe_shutdown(), request_data(), mod_wsgi.active_requests, and the
 * events request_started, response_started, request_finished and
 * process_stopping, with mod_wsgi 4.9.4's names, arguments and event keys.
 * A callback is called as callback(name, **event); a dict it returns is
 * merged into the event (request_started's application_object may so
 * replace the application). Its exceptions are logged with their traceback
 * and never break the request.
 *
 * Nothing here runs unless someone subscribed (gowsgi_events_wanted), or
 * the app asked for request_data().
 */
#include "engine.h"

#include <pthread.h>
#include <sys/resource.h>

/* ---- subscribing -------------------------------------------------------- */

int gowsgi_callbacks_append(PyObject *module, const char *attr, PyObject *callback)
{
    PyObject *list = PyObject_GetAttrString(module, attr);
    if (list == NULL)
        return -1;
    int rc = PyList_Append(list, callback);
    Py_DECREF(list);
    return rc;
}

static PyObject *subscribe(PyObject *module, PyObject *args, const char *attr)
{
    PyObject *callback;
    if (!PyArg_ParseTuple(args, "O", &callback) || gowsgi_callbacks_append(module, attr, callback) != 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *subscribe_events(PyObject *module, PyObject *args)
{
    return subscribe(module, args, "event_callbacks");
}

static PyObject *subscribe_shutdown(PyObject *module, PyObject *args)
{
    return subscribe(module, args, "shutdown_callbacks");
}

/* The request's request_data dict, made on first use and listed in
 * mod_wsgi.active_requests under the request id until the request ends.
 * Borrowed; NULL with an exception. */
static PyObject *request_data_of(gowsgi_reqstate *rs)
{
    if (rs->request_data != NULL)
        return rs->request_data;
    rs->request_data = PyDict_New();
    if (rs->request_data == NULL)
        return NULL;
    const gowsgi_request *req = rs->req;
    for (int i = 0; i < req->nenv; i++) {
        if (strcmp(req->env_keys[i], "mod_wsgi.request_id") == 0) {
            rs->request_id = gowsgi_latin1(req->env_vals[i]);
            break;
        }
    }
    if (rs->request_id != NULL && rs->it->active_requests != NULL &&
        PyDict_SetItem(rs->it->active_requests, rs->request_id, rs->request_data) != 0)
        PyErr_Clear();   /* the app's own request_data still works */
    PyErr_Clear();
    return rs->request_data;
}

static PyObject *request_data(PyObject *module, PyObject *unused)
{
    gowsgi_reqstate *rs = gowsgi_current;
    if (rs == NULL || rs->ended) {
        PyErr_SetString(PyExc_RuntimeError, "no active request for thread");
        return NULL;
    }
    PyObject *d = request_data_of(rs);
    Py_XINCREF(d);
    return d;
}

PyMethodDef gowsgi_event_methods[] = {
    {"subscribe_events", subscribe_events, METH_VARARGS, NULL},
    {"subscribe_shutdown", subscribe_shutdown, METH_VARARGS, NULL},
    {"request_data", request_data, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static int add_list(gowsgi_interp *it, PyObject *module, const char *name, PyObject *obj, PyObject **keep)
{
    if (obj == NULL)
        return -1;
    if (PyModule_AddObjectRef(module, name, obj) != 0) {
        Py_DECREF(obj);
        return -1;
    }
    *keep = obj;   /* the module's reference and ours */
    return 0;
}

int gowsgi_events_install(gowsgi_interp *it, PyObject *module)
{
    if (PyModule_AddFunctions(module, gowsgi_event_methods) != 0 ||
        PyModule_AddFunctions(module, gowsgi_metrics_methods) != 0 ||
        add_list(it, module, "event_callbacks", PyList_New(0), &it->event_callbacks) != 0 ||
        add_list(it, module, "shutdown_callbacks", PyList_New(0), &it->shutdown_callbacks) != 0 ||
        add_list(it, module, "active_requests", PyDict_New(), &it->active_requests) != 0)
        return -1;
    return 0;
}

/* ---- publishing --------------------------------------------------------- */

static void call_callbacks(const char *name, PyObject *callbacks, PyObject *event)
{
    if (callbacks == NULL || !PyList_Check(callbacks))
        return;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(callbacks); i++) {
        PyObject *callback = PyList_GET_ITEM(callbacks, i);
        Py_INCREF(callback);
        PyObject *args = Py_BuildValue("(s)", name);
        PyObject *res = args ? PyObject_Call(callback, args, event) : NULL;
        if (res != NULL && PyDict_Check(res) && PyDict_Update(event, res) != 0)
            Py_CLEAR(res);
        if (res == NULL)
            gowsgi_log_exception(NULL,
                                 GOWSGI_LOGNO(0446) "gowsgi (pid=%d): Exception occurred within event callback.",
                                 (int)getpid());
        Py_XDECREF(res);
        Py_XDECREF(args);
        Py_DECREF(callback);
    }
}

static void publish(gowsgi_interp *it, const char *name, PyObject *event)
{
    /* An exception pending from the app must not leak into the callbacks. */
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    Py_XINCREF(it->event_callbacks);
    Py_XINCREF(it->shutdown_callbacks);
    PyObject *events = it->event_callbacks, *shutdown = it->shutdown_callbacks;
    call_callbacks(name, events, event);
    if (strcmp(name, "process_stopping") == 0)
        call_callbacks(name, shutdown, event);
    else if (strcmp(name, "process_signal") == 0)
        call_callbacks(name, it->signal_callbacks, event);
    Py_XDECREF(events);
    Py_XDECREF(shutdown);
    PyErr_Restore(type, value, tb);
}

/* event[key] = v, consuming v; errors are dropped (the event goes out
 * without that key rather than failing the request). */
static void put(PyObject *event, const char *key, PyObject *v)
{
    if (v == NULL || PyDict_SetItemString(event, key, v) != 0)
        PyErr_Clear();
    Py_XDECREF(v);
}

static void put_ref(PyObject *event, const char *key, PyObject *v)
{
    Py_XINCREF(v);
    put(event, key, v);
}

static double seconds(long long us)
{
    return (double)us / 1e6;
}

static PyObject *env_get(PyObject *environ, const char *key)
{
    PyObject *v = PyDict_GetItemString(environ, key);   /* borrowed */
    Py_XINCREF(v);
    return v;
}

/* environ's decimal string value as a long long, or 0. */
static long long env_number(PyObject *environ, const char *key)
{
    PyObject *v = PyDict_GetItemString(environ, key);
    if (v != NULL && PyFloat_Check(v))   /* GoWSGICompatibility 6: seconds */
        return (long long)(PyFloat_AS_DOUBLE(v) * 1e6);
    if (v == NULL || !PyUnicode_Check(v))
        return 0;
    const char *s = PyUnicode_AsUTF8(v);
    if (s == NULL) {
        PyErr_Clear();
        return 0;
    }
    return strtoll(s, NULL, 10);
}

static void thread_cpu(double *user, double *sys)
{
    struct rusage ru;
    *user = *sys = 0;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return;
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void gowsgi_events_request_started(gowsgi_reqstate *rs, PyObject *environ, PyObject **callable)
{
    PyObject *event = PyDict_New();
    if (event == NULL) {
        PyErr_Clear();
        return;
    }
    rs->observed = 1;
    thread_cpu(&rs->cpu_user_start, &rs->cpu_system_start);
    put(event, "request_id", env_get(environ, "mod_wsgi.request_id"));
    put(event, "thread_id", env_get(environ, "mod_wsgi.thread_id"));
    put(event, "daemon_connects", PyLong_FromLongLong(env_number(environ, "mod_wsgi.daemon_connects")));
    put(event, "daemon_restarts", PyLong_FromLongLong(env_number(environ, "mod_wsgi.daemon_restarts")));
    put(event, "request_start", PyFloat_FromDouble(seconds(rs->req->request_start)));
    put(event, "queue_start", PyFloat_FromDouble(seconds(env_number(environ, "mod_wsgi.queue_start"))));
    put(event, "daemon_start", PyFloat_FromDouble(seconds(env_number(environ, "mod_wsgi.daemon_start"))));
    put_ref(event, "application_object", *callable);
    put_ref(event, "request_environ", environ);
    put(event, "application_start", PyFloat_FromDouble(seconds(rs->app_start)));
    PyObject *data = request_data_of(rs);
    if (data == NULL)
        PyErr_Clear();
    put_ref(event, "request_data", data);

    publish(rs->it, "request_started", event);

    /* A callback may wrap the application. */
    PyObject *wrapper = PyDict_GetItemString(event, "application_object");
    if (wrapper != NULL && wrapper != *callable) {
        Py_INCREF(wrapper);
        Py_SETREF(*callable, wrapper);
    }
    Py_DECREF(event);
}

void gowsgi_events_response_started(gowsgi_reqstate *rs, PyObject *status, PyObject *headers,
                                    PyObject *exc_info)
{
    PyObject *event = PyDict_New();
    if (event == NULL) {
        PyErr_Clear();
        return;
    }
    PyObject *data = request_data_of(rs);
    if (data == NULL)
        PyErr_Clear();
    if (rs->request_id != NULL)
        put_ref(event, "request_id", rs->request_id);
    put_ref(event, "response_status", status);
    put_ref(event, "response_headers", headers);
    put_ref(event, "exception_info", exc_info);
    put_ref(event, "request_data", data);
    publish(rs->it, "response_started", event);
    Py_DECREF(event);
}

void gowsgi_events_request_finished(gowsgi_reqstate *rs)
{
    long long finish = gowsgi_now_us();
    PyObject *event = PyDict_New();
    if (event == NULL) {
        PyErr_Clear();
        return;
    }
    PyObject *data = request_data_of(rs);
    if (data == NULL)
        PyErr_Clear();
    double app_time = seconds(finish - rs->app_start);
    if (app_time < 0)
        app_time = 0;
    if (rs->request_id != NULL)
        put_ref(event, "request_id", rs->request_id);
    put(event, "input_reads", PyLong_FromLongLong(rs->input_reads));
    put(event, "input_length", PyLong_FromLongLong(rs->input_bytes));
    put(event, "input_time", PyFloat_FromDouble(seconds(rs->input_time)));
    put(event, "output_length", PyLong_FromLongLong(rs->body_sent));
    put(event, "output_writes", PyLong_FromLongLong(rs->output_writes));
    if (rs->observed && rs->cpu_user_start != 0.0) {
        /* The thread's CPU over the request, capped at its wall time; left
         * out while the thread had no user time at the start (mod_wsgi's rules). */
        double user, sys;
        thread_cpu(&user, &sys);
        user -= rs->cpu_user_start;
        sys -= rs->cpu_system_start;
        if (user < 0)
            user = 0;
        if (sys < 0)
            sys = 0;
        double total = user + sys;
        if (total > 0 && total > app_time) {
            user = user / total * app_time;
            sys = app_time - user;
        }
        put(event, "cpu_user_time", PyFloat_FromDouble(user));
        put(event, "cpu_system_time", PyFloat_FromDouble(sys));
    }
    put(event, "output_time", PyFloat_FromDouble(seconds(rs->output_time)));
    put(event, "application_finish", PyFloat_FromDouble(seconds(finish)));
    put(event, "application_time", PyFloat_FromDouble(app_time));
    put_ref(event, "request_data", data);
    publish(rs->it, "request_finished", event);
    Py_DECREF(event);
}

void gowsgi_events_request_end(gowsgi_reqstate *rs)
{
    if (rs->request_data == NULL)
        return;
    if (rs->request_id != NULL && rs->it->active_requests != NULL) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (PyDict_DelItem(rs->it->active_requests, rs->request_id) != 0)
            PyErr_Clear();
        PyErr_Restore(type, value, tb);
    }
    Py_CLEAR(rs->request_id);
    Py_CLEAR(rs->request_data);
}

/* ---- process exit ------------------------------------------------------- */

#define INTERPS_MAX 1024
static gowsgi_interp *interps[INTERPS_MAX];
static int ninterps;
static pthread_mutex_t interps_lock = PTHREAD_MUTEX_INITIALIZER;

void gowsgi_interps_add(gowsgi_interp *it)
{
    pthread_mutex_lock(&interps_lock);
    if (ninterps < INTERPS_MAX)
        interps[ninterps++] = it;
    pthread_mutex_unlock(&interps_lock);
}

int gowsgi_interps_snapshot(gowsgi_interp **out, int max)
{
    pthread_mutex_lock(&interps_lock);
    int n = ninterps < max ? ninterps : max;
    memcpy(out, interps, sizeof(*out) * (size_t)n);
    pthread_mutex_unlock(&interps_lock);
    return n;
}

void gowsgi_publish_process_stopping(const char *reason)
{
    static gowsgi_interp *list[INTERPS_MAX];
    int n = gowsgi_interps_snapshot(list, INTERPS_MAX);
    for (int i = 0; i < n; i++) {
        PyThreadState *ts = gowsgi_enter(list[i]);
        PyObject *event = PyDict_New();
        if (event != NULL) {
            put(event, "shutdown_reason", PyUnicode_DecodeLatin1(reason, (Py_ssize_t)strlen(reason), NULL));
            publish(list[i], "process_stopping", event);
            Py_DECREF(event);
        }
        PyErr_Clear();
        gowsgi_leave(ts);
    }
}

/* mod_wsgi 6's process_signal (subscribe_signals), with its keys. */
void gowsgi_publish_process_signal(int signum, const char *signame)
{
    static gowsgi_interp *list[INTERPS_MAX];
    int n = gowsgi_interps_snapshot(list, INTERPS_MAX);
    for (int i = 0; i < n; i++) {
        PyThreadState *ts = gowsgi_enter(list[i]);
        PyObject *event = PyDict_New();
        if (event != NULL) {
            put(event, "signame", PyUnicode_FromString(signame));
            put(event, "signum", PyLong_FromLong(signum));
            publish(list[i], "process_signal", event);
            Py_DECREF(event);
        }
        PyErr_Clear();
        gowsgi_leave(ts);
    }
}

/* atexit's handlers, in each sub-interpreter and then the main one (the
 * order in which mod_wsgi destroys them). Python itself is not finalised:
 * the process ends next, and Py_Finalize waits for non-daemon threads (the
 * shutdown hangs WSGIDestroyInterpreter Off was made for). */
void gowsgi_run_atexit(void)
{
    static gowsgi_interp *list[INTERPS_MAX];
    if (!gowsgi_config.destroy_interpreter)
        return;
    int n = gowsgi_interps_snapshot(list, INTERPS_MAX);
    for (int i = n - 1; i >= 0; i--) {
        PyThreadState *ts = gowsgi_enter(list[i]);
        PyObject *mod = PyImport_ImportModule("atexit");
        PyObject *r = mod ? PyObject_CallMethod(mod, "_run_exitfuncs", NULL) : NULL;
        if (r == NULL)
            gowsgi_log_exception(NULL,
                                 GOWSGI_LOGNO(0447) "gowsgi (pid=%d): Exception occurred within exit functions.",
                                 (int)getpid());
        Py_XDECREF(r);
        Py_XDECREF(mod);
        gowsgi_leave(ts);
    }
}
