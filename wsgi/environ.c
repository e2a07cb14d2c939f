/*
 * environ.c: builds the WSGI environ. The constant entries live in a prebuilt
 * dict copied per request; the shim's CGI variables are decoded as latin-1
 * (PEP 3333 native strings) and adjusted the way mod_wsgi 4.9.4 does.
 */
#include "engine.h"

#include <stdatomic.h>
#include <sys/time.h>

static atomic_long total_requests;

static int set_str(PyObject *d, const char *key, PyObject *v)
{
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

/* Sets d[key] = v and releases v (a new reference, or NULL on error). */
static int set_new(PyObject *d, PyObject *key, PyObject *v)
{
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItem(d, key, v);
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
        PyDict_SetItemString(d, "wsgi.run_once", gowsgi_config.run_once ? Py_True : Py_False) != 0 ||
        PyDict_SetItemString(d, "wsgi.input_terminated", Py_True) != 0 ||
        PyDict_SetItemString(d, "wsgi.file_wrapper", (PyObject *)it->types[GOWSGI_T_FILE_WRAPPER]) != 0 ||
        set_str(d, "apache.version", Py_BuildValue("(iii)", av[0], av[1], av[2])) != 0 ||
        set_str(d, "mod_wsgi.version", Py_BuildValue("(iii)", 4, 9, 4)) != 0) {
        Py_DECREF(d);
        return -1;
    }
    it->base_environ = d;
    return 0;
}

/* Returns a new reference to the key object for name: from the cache, or
 * decoded (and cached while there is room). */
static PyObject *environ_key_locked(gowsgi_interp *it, const char *name);

static PyObject *environ_key(gowsgi_interp *it, const char *name)
{
    gowsgi_nogil_lock_acquire(&it->key_cache_lock);
    PyObject *key = environ_key_locked(it, name);
    gowsgi_nogil_lock_release(&it->key_cache_lock);
    return key;
}

static PyObject *environ_key_locked(gowsgi_interp *it, const char *name)
{
    uint32_t h = 2166136261u;   /* FNV-1a: cheap, and only picks the slot */
    size_t len = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++, len++)
        h = (h ^ *p) * 16777619u;
    for (uint32_t i = 0; i < GOWSGI_KEY_CACHE_SLOTS; i++) {
        gowsgi_key_slot *slot = &it->key_cache[(h + i) & (GOWSGI_KEY_CACHE_SLOTS - 1)];
        if (slot->key == NULL) {
            PyObject *key = PyUnicode_DecodeLatin1(name, (Py_ssize_t)len, NULL);
            if (key == NULL || it->key_cache_used >= GOWSGI_KEY_CACHE_MAX)
                return key;
            char *copy = PyMem_RawMalloc(len + 1);
            if (copy == NULL)
                return key;
            memcpy(copy, name, len + 1);
            PyUnicode_InternInPlace(&key);
            slot->name = copy;
            slot->len = len;
            slot->hash = h;
            slot->key = key;
            it->key_cache_used++;
            Py_INCREF(key);
            return key;
        }
        if (slot->hash == h && slot->len == len && memcmp(slot->name, name, len) == 0) {
            Py_INCREF(slot->key);
            return slot->key;
        }
    }
    return PyUnicode_DecodeLatin1(name, (Py_ssize_t)len, NULL);
}

/* mod_wsgi collapses repeated slashes in SCRIPT_NAME and PATH_INFO. Apache
 * has usually merged them already (MergeSlashes), so look before copying. */
PyObject *gowsgi_collapse_slashes(const char *s)
{
    size_t n = strlen(s);
    if (strstr(s, "//") == NULL)
        return PyUnicode_DecodeLatin1(s, (Py_ssize_t)n, NULL);
    char *buf = PyMem_Malloc(n + 1);
    if (buf == NULL)
        return PyErr_NoMemory();
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '/' && j > 0 && buf[j - 1] == '/')
            continue;
        buf[j++] = s[i];
    }
    PyObject *out = PyUnicode_DecodeLatin1(buf, (Py_ssize_t)j, NULL);
    PyMem_Free(buf);
    return out;
}

/* A decimal str without printf: this runs on every request. */
static PyObject *microseconds(long long us)
{
    char buf[24];
    char *p = buf + sizeof(buf);
    unsigned long long v = us < 0 ? 0ull - (unsigned long long)us : (unsigned long long)us;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (us < 0)
        *--p = '-';
    Py_ssize_t len = (Py_ssize_t)(buf + sizeof(buf) - p);
    PyObject *s = PyUnicode_New(len, 127);
    if (s != NULL)
        memcpy(PyUnicode_1BYTE_DATA(s), p, (size_t)len);
    return s;
}

/* The request's entries and the constant ones, built afresh. kinds[i] and
 * keys[i] (a new reference, or NULL) say what entry i became; *distinct is
 * false when two entries set the same key (a template could not tell which
 * of them a changed value belongs to). */
static PyObject *build_fresh(gowsgi_interp *it, gowsgi_request *req, unsigned char *kinds, PyObject **keys,
                             int *distinct)
{
    /* Sized once for everything that goes in: growing rehashes every key. */
    PyObject *env = _PyDict_NewPresized(req->nenv + PyDict_GET_SIZE(it->base_environ) + 12);
    if (env == NULL)
        return NULL;
    int https = 0, have_path_info = 0;
    Py_ssize_t sets = 0;
    for (int i = 0; i < req->nenv; i++) {
        const char *k = req->env_keys[i], *v = req->env_vals[i];
        PyObject *key = NULL, *val;
        kinds[i] = GOWSGI_ENV_PLAIN;
        switch (k[0]) {
        case 'P':
            if (strcmp(k, "PATH") == 0) {
                kinds[i] = GOWSGI_ENV_SKIP;
                continue;   /* mod_wsgi deletes PATH */
            }
            if (strcmp(k, "PATH_INFO") == 0) {
                have_path_info = 1;
                kinds[i] = GOWSGI_ENV_SLASHES;
                key = Py_NewRef(it->key_path_info);
            }
            break;
        case 'S':
            if (strcmp(k, "SCRIPT_NAME") == 0) {
                kinds[i] = GOWSGI_ENV_SLASHES;
                key = Py_NewRef(it->key_script_name);
            }
            break;
        case 'H':
            if (strcmp(k, "HTTPS") == 0) {
                /* mod_wsgi maps HTTPS to wsgi.url_scheme and drops it. */
                https = strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0;
                kinds[i] = GOWSGI_ENV_FIXED;
                continue;
            }
            break;
        }
        if (key == NULL)
            key = environ_key(it, k);
        keys[i] = key;
        val = kinds[i] == GOWSGI_ENV_SLASHES ? gowsgi_collapse_slashes(v) : gowsgi_latin1(v);
        if (key == NULL || val == NULL || PyDict_SetItem(env, key, val) != 0) {
            Py_XDECREF(val);
            goto fail;
        }
        Py_DECREF(val);
        sets++;
    }
    if (!have_path_info) {
        PyObject *empty = PyUnicode_FromString("");
        if (empty == NULL || PyDict_SetItem(env, it->key_path_info, empty) != 0) {
            Py_XDECREF(empty);
            goto fail;
        }
        Py_DECREF(empty);
        sets++;
    }
    /* The constants go in last: PyDict_Update into an empty dict would
     * replace its pre-sized table with a copy of the small base one. */
    if (PyDict_Update(env, it->base_environ) != 0 ||
        PyDict_SetItem(env, it->key_url_scheme, https ? it->str_https : it->str_http) != 0)
        goto fail;
    *distinct = PyDict_GET_SIZE(env) == sets + PyDict_GET_SIZE(it->base_environ) + 1;
    return env;
fail:
    Py_DECREF(env);
    return NULL;
}

const char *gowsgi_request_env(const gowsgi_request *req, const char *key)
{
    for (int i = 0; i < req->nenv; i++)
        if (strcmp(req->env_keys[i], key) == 0)
            return req->env_vals[i];
    return "";
}

PyObject *gowsgi_environ_build(gowsgi_interp *it, gowsgi_request *req, gowsgi_reqstate *rs)
{
    gowsgi_nogil_lock_acquire(&it->key_cache_lock);
    PyObject *env = gowsgi_environ_template_use(it, req);
    gowsgi_nogil_lock_release(&it->key_cache_lock);
    if (env == NULL) {
        if (PyErr_Occurred())
            return NULL;
        unsigned char kinds_stack[64];
        PyObject *keys_stack[64];
        unsigned char *kinds = kinds_stack;
        PyObject **keys = keys_stack;
        if (req->nenv > 64) {
            kinds = PyMem_Malloc((size_t)req->nenv);
            keys = PyMem_Malloc(sizeof(PyObject *) * (size_t)req->nenv);
            if (kinds == NULL || keys == NULL) {
                PyMem_Free(kinds);
                PyMem_Free(keys);
                return PyErr_NoMemory();
            }
        }
        memset(keys, 0, sizeof(PyObject *) * (size_t)req->nenv);
        int distinct = 0;
        env = build_fresh(it, req, kinds, keys, &distinct);
        if (env != NULL && distinct) {
            gowsgi_nogil_lock_acquire(&it->key_cache_lock);
            gowsgi_environ_template_store(it, req, env, kinds, keys);
            gowsgi_nogil_lock_release(&it->key_cache_lock);
        }
        for (int i = 0; i < req->nenv; i++)
            Py_XDECREF(keys[i]);
        if (kinds != kinds_stack) {
            PyMem_Free(kinds);
            PyMem_Free(keys);
        }
        if (env == NULL)
            return NULL;
    }
    if (PyDict_SetItem(env, it->key_input, rs->input) != 0 ||
        PyDict_SetItem(env, it->key_errors, rs->errors_stream) != 0)
        goto fail;

    /* The thread's counters for process_metrics() (metrics.c): plain
     * stores to this thread's record, read by others relaxed. */
    gowsgi_thread_metrics *tm = gowsgi_thread_metrics_get();
    long long requests = tm->requests + 1;
    rs->app_start = gowsgi_now_us();
    __atomic_store_n(&tm->requests, requests, __ATOMIC_RELAXED);
    __atomic_store_n(&tm->since, rs->app_start, __ATOMIC_RELAXED);
    if (__builtin_expect(req->modwsgi6, 0)) {
        if (set_new(env, it->key_thread_id, PyLong_FromLong(tm->id)) != 0 ||
            gowsgi_environ_modwsgi6(env, req, rs) != 0)
            goto fail;
    } else if (set_new(env, it->key_script_start, microseconds(rs->app_start)) != 0 ||
               set_new(env, it->key_total_requests, PyLong_FromLong(atomic_fetch_add(&total_requests, 1) + 1)) != 0 ||
               set_new(env, it->key_thread_id, PyLong_FromLong(tm->id)) != 0 ||
               set_new(env, it->key_thread_requests, PyLong_FromLongLong(requests)) != 0) {
        goto fail;
    }
    /* WSGIPassApacheRequest On: a PyCapsule of the request_rec, unnamed as
     * mod_wsgi makes it. */
    if (req->request_rec != NULL &&
        set_str(env, "apache.request_rec", PyCapsule_New(req->request_rec, NULL, NULL)) != 0)
        goto fail;
    return env;
fail:
    Py_DECREF(env);
    return NULL;
}
