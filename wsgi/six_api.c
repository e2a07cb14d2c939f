/*
 * six_api.c: what mod_wsgi 6 added to the `mod_wsgi` module, beside the
 * metrics (metrics.c): the RequestTimeout exception that request-timeout
 * with interrupt-timeout injects (request_slots.c), LogHandler (a
 * logging.Handler writing to Apache's error log at the level that matches
 * the record's) and subscribe_signals(). Signatures and semantics are 6.0.5's
 * (its wsgi_logger.c, wsgi_metrics.c); the code is ours.
 */
#include "engine.h"

/* Python's logging level to Apache's, as mod_wsgi 6 maps them. */
static int apache_level(long python_level)
{
    if (python_level >= 50)
        return GOWSGI_LOG_CRIT;
    if (python_level >= 40)
        return GOWSGI_LOG_ERR;
    if (python_level >= 30)
        return GOWSGI_LOG_WARNING;
    if (python_level >= 20)
        return GOWSGI_LOG_INFO;
    return GOWSGI_LOG_DEBUG;
}

/* mod_wsgi._log_record(levelno, text): each line of text, at the Apache
 * level for levelno, attributed to the thread's request when it has one
 * (LogHandler.emit's end). */
static PyObject *log_record(PyObject *module, PyObject *args)
{
    long levelno;
    const char *text;
    Py_ssize_t len;
    (void)module;
    if (!PyArg_ParseTuple(args, "ls#", &levelno, &text, &len))
        return NULL;
    int level = apache_level(levelno);
    gowsgi_request *req = gowsgi_current != NULL && !gowsgi_current->ended ? gowsgi_current->req : NULL;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        gowsgi_log_may_release = 1;
        if (req != NULL)
            req->io->log(req->ctx, level, p, n);   /* logno: none, the app's (mod_wsgi.LogHandler) */
        else if (gowsgi_config.log != NULL)
            gowsgi_config.log(level, p, n);   /* logno: none, the app's */
        gowsgi_log_may_release = 0;
        p = nl ? nl + 1 : end;
    }
    Py_RETURN_NONE;
}

/* LogHandler is made at its first use (module __getattr__, PEP 562): an
 * interpreter whose app never asks does not import logging for it. */
static const char log_handler_source[] =
    "import logging\n"
    "class LogHandler(logging.Handler):\n"
    "    \"\"\"A logging.Handler writing each record to Apache's error log at the\n"
    "    matching level (CRITICAL crit, ERROR error, WARNING warn, INFO info,\n"
    "    below that debug), attributed to the thread's request if any.\"\"\"\n"
    "    def emit(self, record):\n"
    "        try:\n            msg = self.format(record)\n"
    "        except Exception:\n"
    "            self.handleError(record)\n"
    "            return\n"
    "        _log_record(record.levelno, msg)\n";

static PyObject *module_getattr(PyObject *module, PyObject *name)
{
    if (!PyUnicode_Check(name) || PyUnicode_CompareWithASCIIString(name, "LogHandler") != 0) {
        PyErr_Format(PyExc_AttributeError, "module 'mod_wsgi' has no attribute '%U'", name);
        return NULL;
    }
    PyObject *globals = PyDict_New(), *log = NULL, *r = NULL, *cls = NULL;
    if (globals == NULL)
        return NULL;
    PyObject *modname = PyUnicode_FromString("mod_wsgi");
    int bad = modname == NULL || PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) != 0 ||
              PyDict_SetItemString(globals, "__name__", modname) != 0;
    Py_XDECREF(modname);
    if (bad)
        goto done;
    log = PyObject_GetAttrString(module, "_log_record");
    if (log == NULL || PyDict_SetItemString(globals, "_log_record", log) != 0)
        goto done;
    r = PyRun_String(log_handler_source, Py_file_input, globals, globals);
    if (r == NULL)
        goto done;
    cls = PyDict_GetItemString(globals, "LogHandler");
    Py_XINCREF(cls);
    if (cls != NULL && PyModule_AddObjectRef(module, "LogHandler", cls) != 0)
        Py_CLEAR(cls);
done:
    Py_XDECREF(r);
    Py_XDECREF(log);
    Py_DECREF(globals);
    return cls;
}

int gowsgi_signal_subscribed;

/* mod_wsgi.subscribe_signals(callback): registers the callback and returns
 * it (a decorator), as mod_wsgi 6. In a daemon process a SIGHUP is then
 * published to it as process_signal instead of stopping the process
 * (daemon.go); SIGUSR2 is not (gowsgi's daemons drain on it: README).
 * Elsewhere, as 6, the call is said to have no effect. */
static PyObject *subscribe_signals(PyObject *module, PyObject *args)
{
    PyObject *callback;
    if (!PyArg_ParseTuple(args, "O", &callback) || gowsgi_callbacks_append(module, "signal_callbacks", callback) != 0)
        return NULL;
    if (gowsgi_config.process_group[0] != '\0')
        __atomic_store_n(&gowsgi_signal_subscribed, 1, __ATOMIC_RELEASE);
    else
        gowsgi_log_processf(GOWSGI_LOG_INFO,
                            GOWSGI_LOGNO(0451) "gowsgi (pid=%d): mod_wsgi.subscribe_signals() called outside daemon "
                            "mode; the callback will not be invoked. Signal callbacks are only delivered in daemon "
                            "mode processes.", (int)getpid());
    Py_INCREF(callback);
    return callback;
}

static PyMethodDef six_methods[] = {
    {"_log_record", log_record, METH_VARARGS, NULL},
    {"__getattr__", module_getattr, METH_O, NULL},
    {"subscribe_signals", subscribe_signals, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

int gowsgi_six_api_install(gowsgi_interp *it, PyObject *module)
{
    PyObject *list = PyList_New(0);
    if (list == NULL || PyModule_AddObjectRef(module, "signal_callbacks", list) != 0) {
        Py_XDECREF(list);
        return -1;
    }
    it->signal_callbacks = list;   /* the module's reference and ours */
    /* A BaseException, so `except Exception:` in the app does not catch it. */
    it->request_timeout = PyErr_NewExceptionWithDoc(
        "mod_wsgi.RequestTimeout",
        "Raised in a request's thread when it outruns request-timeout (daemon mode, interrupt-timeout set).",
        PyExc_BaseException, NULL);
    if (it->request_timeout == NULL || PyModule_AddObjectRef(module, "RequestTimeout", it->request_timeout) != 0)
        return -1;
    return PyModule_AddFunctions(module, six_methods);
}
