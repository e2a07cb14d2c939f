/*
 * environ.c: builds the WSGI environ. The constant entries live in a prebuilt
 * dict copied per request; the shim's CGI variables are decoded as latin-1
 * (PEP 3333 native strings) and adjusted the way mod_wsgi 4.9.4 does.
 */
#include "engine.h"

#include <stdatomic.h>
#include <sys/time.h>

static atomic_long total_requests;
static atomic_long thread_counter;
static __thread long thread_id;
static __thread long thread_requests;

static int set_str(PyObject *d, const char *key, PyObject *v)
{
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

int gowsgi_environ_prepare(gowsgi_interp *it)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return -1;
    const int *av = gowsgi_config.apache_version;
    if (set_str(d, "wsgi.version", Py_BuildValue("(ii)", 1, 0)) != 0 ||
        PyDict_SetItemString(d, "wsgi.multithread", gowsgi_config.multithread ? Py_True : Py_False) != 0 ||
        PyDict_SetItemString(d, "wsgi.multiprocess", gowsgi_config.multiprocess ? Py_True : Py_False) != 0 ||
        PyDict_SetItemString(d, "wsgi.run_once", Py_False) != 0 ||
        PyDict_SetItemString(d, "wsgi.input_terminated", Py_True) != 0 ||
        PyDict_SetItemString(d, "wsgi.file_wrapper", (PyObject *)&gowsgi_FileWrapperType) != 0 ||
        set_str(d, "apache.version", Py_BuildValue("(iii)", av[0], av[1], av[2])) != 0 ||
        set_str(d, "mod_wsgi.version", Py_BuildValue("(iii)", 4, 9, 4)) != 0) {
        Py_DECREF(d);
        return -1;
    }
    it->base_environ = d;
    return 0;
}

/* mod_wsgi collapses repeated slashes in SCRIPT_NAME and PATH_INFO. */
static PyObject *collapse_slashes(const char *s)
{
    size_t n = strlen(s);
    char stack[1024] = {0};
    char *buf = n < sizeof(stack) ? stack : PyMem_Malloc(n + 1);
    if (buf == NULL)
        return PyErr_NoMemory();
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '/' && j > 0 && buf[j - 1] == '/')
            continue;
        buf[j++] = s[i];
    }
    PyObject *out = PyUnicode_DecodeLatin1(buf, (Py_ssize_t)j, NULL);
    if (buf != stack)
        PyMem_Free(buf);
    return out;
}

static PyObject *microseconds_now(void)
{
    struct timeval tv;
    char buf[32];
    gettimeofday(&tv, NULL);
    snprintf(buf, sizeof(buf), "%lld", (long long)tv.tv_sec * 1000000LL + tv.tv_usec);
    return PyUnicode_FromString(buf);
}

PyObject *gowsgi_environ_build(gowsgi_interp *it, gowsgi_request *req, gowsgi_reqstate *rs)
{
    PyObject *env = PyDict_Copy(it->base_environ);
    if (env == NULL)
        return NULL;
    int https = 0, have_path_info = 0;
    for (int i = 0; i < req->nenv; i++) {
        const char *k = req->env_keys[i], *v = req->env_vals[i];
        PyObject *key, *val;
        switch (k[0]) {
        case 'P':
            if (strcmp(k, "PATH") == 0)
                continue;   /* mod_wsgi deletes PATH */
            if (strcmp(k, "PATH_INFO") == 0) {
                have_path_info = 1;
                val = collapse_slashes(v);
                if (val == NULL || PyDict_SetItem(env, it->key_path_info, val) != 0 ||
                    PyDict_SetItemString(env, "mod_wsgi.path_info", val) != 0) {
                    Py_XDECREF(val);
                    goto fail;
                }
                Py_DECREF(val);
                continue;
            }
            break;
        case 'S':
            if (strcmp(k, "SCRIPT_NAME") == 0) {
                val = collapse_slashes(v);
                if (val == NULL || PyDict_SetItem(env, it->key_script_name, val) != 0 ||
                    PyDict_SetItemString(env, "mod_wsgi.script_name", val) != 0) {
                    Py_XDECREF(val);
                    goto fail;
                }
                Py_DECREF(val);
                continue;
            }
            break;
        case 'H':
            if (strcmp(k, "HTTPS") == 0) {
                /* mod_wsgi maps HTTPS to wsgi.url_scheme and drops it. */
                https = strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0;
                continue;
            }
            break;
        }
        key = gowsgi_latin1(k);
        val = gowsgi_latin1(v);
        if (key == NULL || val == NULL || PyDict_SetItem(env, key, val) != 0) {
            Py_XDECREF(key);
            Py_XDECREF(val);
            goto fail;
        }
        Py_DECREF(key);
        Py_DECREF(val);
    }
    if (!have_path_info) {
        PyObject *empty = PyUnicode_FromString("");
        if (empty == NULL || PyDict_SetItem(env, it->key_path_info, empty) != 0 ||
            PyDict_SetItemString(env, "mod_wsgi.path_info", empty) != 0) {
            Py_XDECREF(empty);
            goto fail;
        }
        Py_DECREF(empty);
    }
    if (PyDict_SetItem(env, it->key_url_scheme, https ? it->str_https : it->str_http) != 0 ||
        PyDict_SetItem(env, it->key_input, rs->input) != 0 ||
        PyDict_SetItem(env, it->key_errors, rs->errors) != 0)
        goto fail;

    if (thread_id == 0)
        thread_id = atomic_fetch_add(&thread_counter, 1) + 1;
    thread_requests++;
    if (set_str(env, "mod_wsgi.script_start", microseconds_now()) != 0 ||
        set_str(env, "mod_wsgi.total_requests",
                PyLong_FromLong(atomic_fetch_add(&total_requests, 1) + 1)) != 0 ||
        set_str(env, "mod_wsgi.thread_id", PyLong_FromLong(thread_id)) != 0 ||
        set_str(env, "mod_wsgi.thread_requests", PyLong_FromLong(thread_requests)) != 0)
        goto fail;
    return env;
fail:
    Py_DECREF(env);
    return NULL;
}
