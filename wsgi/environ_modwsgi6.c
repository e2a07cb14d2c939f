/*
 * environ_modwsgi6.c: the engine's own environ entries under
 * GoWSGICompatibility 6 (cshim/modwsgi_compat.c), as mod_wsgi 6.0.5 sets
 * them (its wsgi_adapter.c): the request's instants as float seconds since
 * the epoch (request_start, queue_start, daemon_start, application_start;
 * queue_start and daemon_start 0.0 in embedded mode), and none of 4.9.4's
 * script_start, total_requests, thread_requests, daemon_connects or
 * daemon_restarts. The shim has already left out 4.9.4's strings.
 */
#include "engine.h"

#include <stdlib.h>

/* The decimal microseconds the daemon put among the request's entries
 * (daemon_serve.c, last), or 0 in embedded mode. */
static long long entry_us(const gowsgi_request *req, const char *key)
{
    for (int i = req->nenv - 1; i >= 0; i--)
        if (strcmp(req->env_keys[i], key) == 0)
            return strtoll(req->env_vals[i], NULL, 10);
    return 0;
}

static int set_seconds(PyObject *env, const char *key, long long us)
{
    PyObject *v = PyFloat_FromDouble((double)us / 1e6);
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItemString(env, key, v);
    Py_DECREF(v);
    return rc;
}

static int drop(PyObject *env, const char *key)
{
    if (PyDict_GetItemString(env, key) == NULL)
        return 0;
    return PyDict_DelItemString(env, key);
}

int gowsgi_environ_modwsgi6(PyObject *env, const gowsgi_request *req, const gowsgi_reqstate *rs)
{
    int daemon = req->process_group[0] != '\0';
    if (set_seconds(env, "mod_wsgi.request_start", req->request_start) != 0 ||
        set_seconds(env, "mod_wsgi.queue_start", daemon ? entry_us(req, "mod_wsgi.queue_start") : 0) != 0 ||
        set_seconds(env, "mod_wsgi.daemon_start", daemon ? entry_us(req, "mod_wsgi.daemon_start") : 0) != 0 ||
        set_seconds(env, "mod_wsgi.application_start", rs->app_start) != 0)
        return -1;
    if (daemon && (drop(env, "mod_wsgi.daemon_connects") != 0 || drop(env, "mod_wsgi.daemon_restarts") != 0))
        return -1;
    return 0;
}
