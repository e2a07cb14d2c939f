/*
 * hooks.c: calls into the scripts of WSGIAccessScript, WSGIAuthUserScript,
 * WSGIAuthGroupScript and WSGIDispatchScript (gowsgi_hook in gowsgi.h).
 * Like a request, a hook whose script Go has loaded and that is still
 * current runs here without entering Go; anything else goes to Go, which
 * loads the script and registers it (fastpath.c). The function's answer is
 * read as mod_wsgi 4.9.4 reads it, and every failure is one error-log line
 * (plus the traceback) naming the script.
 */
#include "engine.h"

#include <stdarg.h>
#include <unistd.h>

#include "_cgo_export.h"

/* A hook script is registered in the fast table under this callable name:
 * no WSGI callable is ever called it, so a script that is both an app and
 * a hook keeps two entries. */
static const char hook_callable[] = "";

static void hook_log(const gowsgi_hook *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hook_log(const gowsgi_hook *h, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    h->req.io->log(h->req.ctx, GOWSGI_LOG_ERR, line, strlen(line));   /* logno: fmt's */
}

/* mod_ssl.is_https() and mod_ssl.var_lookup(name), as mod_wsgi's auth
 * environ has them. They hold the hook through a capsule whose context
 * marks it expired once the call is over: an app that keeps them gets
 * mod_wsgi's RuntimeError, not a dangling pointer. */
static gowsgi_hook *live_hook(PyObject *capsule)
{
    if (PyCapsule_GetContext(capsule) != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "request object has expired");
        return NULL;
    }
    return PyCapsule_GetPointer(capsule, NULL);
}

static PyObject *ssl_is_https(PyObject *capsule, PyObject *unused)
{
    (void)unused;
    gowsgi_hook *h = live_hook(capsule);
    return h ? PyLong_FromLong(h->is_https) : NULL;
}

static PyObject *ssl_var_lookup(PyObject *capsule, PyObject *item)
{
    gowsgi_hook *h = live_hook(capsule);
    if (h == NULL)
        return NULL;
    PyObject *latin = NULL;
    if (PyUnicode_Check(item)) {
        latin = PyUnicode_AsLatin1String(item);
        if (latin == NULL) {
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError, "byte string value expected, value containing non 'latin-1' "
                                             "characters found");
            return NULL;
        }
        item = latin;
    }
    if (!PyBytes_Check(item)) {
        PyErr_Format(PyExc_TypeError, "byte string value expected, value of type %.200s found",
                     Py_TYPE(item)->tp_name);
        return NULL;
    }
    const char *value = h->ssl_var ? h->ssl_var(h->req.ctx, PyBytes_AS_STRING(item)) : NULL;
    Py_XDECREF(latin);
    if (value == NULL)
        Py_RETURN_NONE;
    return gowsgi_latin1(value);
}

static PyMethodDef ssl_is_https_def = {"ssl_is_https", ssl_is_https, METH_NOARGS, NULL};
static PyMethodDef ssl_var_lookup_def = {"ssl_var_lookup", ssl_var_lookup, METH_O, NULL};

static int set_new(PyObject *d, const char *key, PyObject *v)
{
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

/* An entry from Apache's tables: key and value latin-1, as the request
 * environ decodes them (a variable's name may hold any byte). */
static int set_latin1(PyObject *d, const char *key, const char *val)
{
    PyObject *k = gowsgi_latin1(key), *v = k ? gowsgi_latin1(val) : NULL;
    int rc = v ? PyDict_SetItem(d, k, v) : -1;
    Py_XDECREF(k);
    Py_XDECREF(v);
    return rc;
}

/* The environ a hook sees: the shim's strings (latin-1), then what only
 * Python can hold. The auth and access scripts get mod_wsgi's
 * Auth_environ; a dispatch script gets the request's environ strings. */
static PyObject *hook_environ(gowsgi_hook *h, PyObject *errors, PyObject *capsule)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    for (int i = 0; i < h->req.nenv; i++)
        if (set_latin1(d, h->req.env_keys[i], h->req.env_vals[i]) != 0)
            goto fail;
    if (PyDict_SetItemString(d, "wsgi.errors", errors) != 0)
        goto fail;
    if (h->req.request_rec != NULL &&
        set_new(d, "apache.request_rec", PyCapsule_New(h->req.request_rec, NULL, NULL)) != 0)
        goto fail;
    if (h->kind == GOWSGI_HOOK_DISPATCH)
        return d;
    const int *av = gowsgi_config.apache_version;
    if (set_new(d, "apache.version", Py_BuildValue("(iii)", av[0], av[1], av[2])) != 0 ||
        set_new(d, "mod_wsgi.version", Py_BuildValue("(iii)", 4, 9, 4)) != 0 ||
        set_new(d, "mod_wsgi.script_reloading", PyLong_FromLong(h->req.script_reloading != 0)) != 0 ||
        set_new(d, "mod_ssl.is_https", PyCFunction_New(&ssl_is_https_def, capsule)) != 0 ||
        set_new(d, "mod_ssl.var_lookup", PyCFunction_New(&ssl_var_lookup_def, capsule)) != 0)
        goto fail;
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

/* A str (latin-1) or bytes result handed to put(); 0, or -1 when it is
 * neither (no exception set) or a str with other characters (the
 * UnicodeEncodeError pending). */
static int put_string(gowsgi_hook *h, int index, PyObject *v)
{
    PyObject *latin = NULL;
    if (PyUnicode_Check(v)) {
        latin = PyUnicode_AsLatin1String(v);
        if (latin == NULL)
            return -1;
        v = latin;
    }
    if (!PyBytes_Check(v))
        return -1;
    h->put(h->req.ctx, index, PyBytes_AS_STRING(v), (size_t)PyBytes_GET_SIZE(v));
    Py_XDECREF(latin);
    return 0;
}

/* check_password's and get_realm_hash's arguments: str, as mod_wsgi
 * passes them. A user name or password that is not UTF-8 cannot be one
 * (mod_wsgi's child crashes on it): the caller refuses it. */
static PyObject *credential_args(gowsgi_hook *h, PyObject *environ)
{
    PyObject *a1 = PyUnicode_DecodeUTF8(h->arg1, (Py_ssize_t)strlen(h->arg1), NULL);
    PyObject *a2 = a1 ? PyUnicode_DecodeUTF8(h->arg2, (Py_ssize_t)strlen(h->arg2), NULL) : NULL;
    PyObject *args = a2 ? PyTuple_Pack(3, environ, a1, a2) : NULL;
    Py_XDECREF(a1);
    Py_XDECREF(a2);
    return args;
}

static int read_access(gowsgi_hook *h, PyObject *result)
{
    if (result == Py_None)
        return GOWSGI_HOOK_NONE;
    if (PyBool_Check(result))
        return result == Py_True ? GOWSGI_HOOK_TRUE : GOWSGI_HOOK_FALSE;
    hook_log(h,
             GOWSGI_LOGNO(0437) "gowsgi (pid=%d): Indicator of host accessibility returned from '%s' must a boolean "
             "or None.", (int)getpid(), h->req.script);
    return GOWSGI_HOOK_FAILED;
}

static int read_password(gowsgi_hook *h, PyObject *result)
{
    if (result == Py_None)
        return GOWSGI_HOOK_NONE;
    if (result == Py_True)
        return GOWSGI_HOOK_TRUE;
    if (result == Py_False)
        return GOWSGI_HOOK_FALSE;
    if (PyUnicode_Check(result)) {
        /* The user name Apache then knows the client by. */
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(result, &n);
        if (s != NULL) {
            h->put(h->req.ctx, 0, s, (size_t)n);
            return GOWSGI_HOOK_VALUE;
        }
        return GOWSGI_HOOK_FAILED;
    }
    PyErr_SetString(PyExc_TypeError, "Basic auth provider must return True, False None or user name as string");
    return GOWSGI_HOOK_FAILED;
}

static int read_realm_hash(gowsgi_hook *h, PyObject *result)
{
    if (result == Py_None)
        return GOWSGI_HOOK_NONE;
    if (put_string(h, 0, result) == 0)
        return GOWSGI_HOOK_VALUE;
    PyErr_Clear();   /* replaced by mod_wsgi's TypeError */
    if (PyUnicode_Check(result))
        PyErr_SetString(PyExc_TypeError, "Digest auth provider must return None or string object, value "
                                         "containing non 'latin-1' characters found");
    else
        PyErr_SetString(PyExc_TypeError, "Digest auth provider must return None or string object");
    return GOWSGI_HOOK_FAILED;
}

static int read_groups(gowsgi_hook *h, PyObject *result)
{
    PyObject *iter = PyObject_GetIter(result), *item;
    if (iter == NULL) {
        /* The TypeError stays, for the traceback after this line. */
        hook_log(h,
                 GOWSGI_LOGNO(0438) "gowsgi (pid=%d): Groups for user returned from '%s' must be an iterable "
                 "sequence of byte strings.", (int)getpid(),
                 h->req.script);
        return GOWSGI_HOOK_FAILED;
    }
    int index = 0, status = GOWSGI_HOOK_VALUE;
    while ((item = PyIter_Next(iter)) != NULL) {
        int rc = put_string(h, index++, item);
        if (rc != 0) {
            if (PyUnicode_Check(item))
                hook_log(h,
                         GOWSGI_LOGNO(0439) "gowsgi (pid=%d): Groups for user returned from '%s' must be an iterable "
                         "sequence of byte strings, "
                         "value containing non 'latin-1' characters found", (int)getpid(), h->req.script);
            else
                hook_log(h,
                         GOWSGI_LOGNO(0438) "gowsgi (pid=%d): Groups for user returned from '%s' must be an iterable "
                         "sequence of byte strings.", (int)getpid(),
                         h->req.script);
            Py_DECREF(item);
            status = GOWSGI_HOOK_FAILED;
            break;
        }
        Py_DECREF(item);
    }
    Py_DECREF(iter);
    return PyErr_Occurred() ? GOWSGI_HOOK_FAILED : status;
}

/* Each of the dispatch script's optional functions may override one
 * routing setting; None leaves it alone. */
static int run_dispatch(gowsgi_hook *h, PyObject *module, PyObject *environ)
{
    static const char *const names[] = {"process_group", "application_group", "callable_object"};
    static const char *const what[] = {"Process group", "Application group", "Callable object"};
    PyObject *args = PyTuple_Pack(1, environ);
    if (args == NULL)
        return GOWSGI_HOOK_FAILED;
    int status = GOWSGI_HOOK_VALUE;
    for (int i = 0; i < 3 && status != GOWSGI_HOOK_FAILED; i++) {
        PyObject *fn = PyObject_GetAttrString(module, names[i]);
        if (fn == NULL) {
            PyErr_Clear();
            continue;
        }
        PyObject *result = PyObject_Call(fn, args, NULL);
        Py_DECREF(fn);
        if (result == NULL) {
            status = GOWSGI_HOOK_FAILED;
            break;
        }
        if (result != Py_None && put_string(h, i, result) != 0) {
            PyErr_Clear();   /* replaced by mod_wsgi's TypeError */
            /* mod_wsgi's words, which differ by function. */
            if (PyUnicode_Check(result))
                PyErr_Format(PyExc_TypeError, "%s must be a byte string, value containing non 'latin-1' "
                             "characters found", what[i]);
            else
                PyErr_Format(PyExc_TypeError, "%s must be a %s", what[i], i == 0 ? "byte string" : "string object");
            status = GOWSGI_HOOK_FAILED;
        }
        Py_DECREF(result);
    }
    Py_DECREF(args);
    return status;
}

/* mod_wsgi's words for a script that lacks the function it is there for. */
static void log_missing_function(const gowsgi_hook *h)
{
    const char *s = h->req.script;
    switch (h->kind) {
    case GOWSGI_HOOK_ALLOW_ACCESS:
        hook_log(h,
                 GOWSGI_LOGNO(0440) "gowsgi (pid=%d): Target WSGI host access script '%s' does not provide host "
                 "validator.", (int)getpid(), s);
        break;
    case GOWSGI_HOOK_CHECK_PASSWORD:
        hook_log(h,
                 GOWSGI_LOGNO(0441) "gowsgi (pid=%d): Target WSGI user authentication script '%s' does not provide "
                 "'Basic' auth provider.", (int)getpid(), s);
        break;
    case GOWSGI_HOOK_GET_REALM_HASH:
        hook_log(h,
                 GOWSGI_LOGNO(0442) "gowsgi (pid=%d): Target WSGI user authentication script '%s' does not provide "
                 "'Digest' auth provider.", (int)getpid(), s);
        break;
    default:
        hook_log(h,
                 GOWSGI_LOGNO(0443) "gowsgi (pid=%d): Target WSGI group authentication script '%s' does not provide "
                 "group provider.", (int)getpid(), s);
        break;
    }
}

static const char *function_name(int kind)
{
    switch (kind) {
    case GOWSGI_HOOK_ALLOW_ACCESS:
        return "allow_access";
    case GOWSGI_HOOK_CHECK_PASSWORD:
        return "check_password";
    case GOWSGI_HOOK_GET_REALM_HASH:
        return "get_realm_hash";
    default:
        return "groups_for_user";
    }
}

static int call_function(gowsgi_hook *h, PyObject *module, PyObject *environ)
{
    PyObject *fn = PyObject_GetAttrString(module, function_name(h->kind));
    if (fn == NULL) {
        PyErr_Clear();
        log_missing_function(h);
        return GOWSGI_HOOK_FAILED;
    }
    PyObject *args = NULL, *arg;
    switch (h->kind) {
    case GOWSGI_HOOK_ALLOW_ACCESS:
        /* The client's host name or address: ASCII. */
        arg = h->arg1 ? gowsgi_latin1(h->arg1) : Py_NewRef(Py_None);
        args = arg ? PyTuple_Pack(2, environ, arg) : NULL;
        Py_XDECREF(arg);
        break;
    case GOWSGI_HOOK_CHECK_PASSWORD:
    case GOWSGI_HOOK_GET_REALM_HASH:
        args = credential_args(h, environ);
        if (args == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            PyErr_Clear();
            Py_DECREF(fn);
            hook_log(h,
                     GOWSGI_LOGNO(0444) "gowsgi (pid=%d): User name or %s sent to '%s' is not valid UTF-8: access "
                     "denied.", (int)getpid(),
                     h->kind == GOWSGI_HOOK_CHECK_PASSWORD ? "password" : "realm", h->req.script);
            return GOWSGI_HOOK_FALSE;
        }
        break;
    default:
        /* A user another provider authenticated: UTF-8 as mod_wsgi
         * decodes it, or refused. */
        arg = PyUnicode_DecodeUTF8(h->arg1, (Py_ssize_t)strlen(h->arg1), NULL);
        if (arg == NULL) {
            PyErr_Clear();
            Py_DECREF(fn);
            hook_log(h,
                     GOWSGI_LOGNO(0445) "gowsgi (pid=%d): User name sent to '%s' is not valid UTF-8: access denied.",
                     (int)getpid(), h->req.script);
            return GOWSGI_HOOK_FAILED;
        }
        args = PyTuple_Pack(2, environ, arg);
        Py_DECREF(arg);
        break;
    }
    PyObject *result = args ? PyObject_Call(fn, args, NULL) : NULL;
    Py_DECREF(fn);
    Py_XDECREF(args);
    if (result == NULL)
        return GOWSGI_HOOK_FAILED;
    int status;
    switch (h->kind) {
    case GOWSGI_HOOK_ALLOW_ACCESS:
        status = read_access(h, result);
        break;
    case GOWSGI_HOOK_CHECK_PASSWORD:
        status = read_password(h, result);
        break;
    case GOWSGI_HOOK_GET_REALM_HASH:
        status = read_realm_hash(h, result);
        break;
    default:
        status = read_groups(h, result);
        break;
    }
    Py_DECREF(result);
    return status;
}

int gowsgi_hook_run(gowsgi_interp *it, gowsgi_app *app, gowsgi_hook *h)
{
    PyThreadState *ts = gowsgi_enter(it);
    int status = GOWSGI_HOOK_FAILED;
    PyObject *module = app->module, *errors = NULL, *stream = NULL, *capsule = NULL, *environ = NULL;
    Py_XINCREF(module);
    /* wsgi.errors as an app's: a TextIOWrapper over a Log buffer. */
    errors = gowsgi_log_new(&h->req, GOWSGI_LOG_ERR, "wsgi.errors");
    stream = errors ? gowsgi_log_wrap(it, errors) : NULL;
    capsule = PyCapsule_New(h, NULL, NULL);
    if (module != NULL && stream != NULL && capsule != NULL && (environ = hook_environ(h, stream, capsule)) != NULL)
        status = h->kind == GOWSGI_HOOK_DISPATCH ? run_dispatch(h, module, environ)
                                                 : call_function(h, module, environ);
    if (PyErr_Occurred()) {
        gowsgi_log_exception(&h->req,
                             GOWSGI_LOGNO(0429) "gowsgi (pid=%d): Exception occurred processing WSGI script '%s'.",
                             (int)getpid(),
                             h->req.script);
        status = GOWSGI_HOOK_FAILED;
    }
    if (capsule != NULL)
        PyCapsule_SetContext(capsule, (void *)1);   /* expired */
    if (errors != NULL)
        gowsgi_log_detach(errors);
    Py_XDECREF(environ);
    Py_XDECREF(capsule);
    Py_XDECREF(stream);
    Py_XDECREF(errors);
    Py_XDECREF(module);
    gowsgi_leave(ts);
    return status;
}

int gowsgi_call_hook(gowsgi_hook *h)
{
    gowsgi_interp *it;
    gowsgi_app *app;
    if (gowsgi_fast_lookup(h->req.application_group, h->req.script, hook_callable, &it, &app) &&
        gowsgi_app_current(app, h->req.script_mtime, h->req.script_reloading))
        return gowsgi_hook_run(it, app, h);
    return gowsgiDecideHook(h);
}
