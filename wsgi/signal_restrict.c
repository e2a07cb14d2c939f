/*
 * signal_restrict.c: WSGIRestrictSignal On. signal.signal() from app code
 * becomes a logged no-op that returns the handler it was given, as under
 * mod_wsgi: signals belong to Apache. A process the app forks gets the real
 * signal.signal back.
 */
#include "engine.h"

#include <unistd.h>

static pid_t installed_pid;

/* self is the real signal.signal. */
static PyObject *signal_ignored(PyObject *real, PyObject *args)
{
    int signum;
    PyObject *handler;
    if (getpid() != installed_pid)
        return PyObject_Call(real, args, NULL);
    if (!PyArg_ParseTuple(args, "iO:signal", &signum, &handler))
        return NULL;

    gowsgi_log_processf(GOWSGI_LOG_WARNING,
                        GOWSGI_LOGNO(0450) "gowsgi (pid=%d): Callback registration for signal %d ignored.",
                        (int)getpid(), signum);

    /* The app's stack, at the same level: a C function adds no frame of
     * its own, so the last frame shown is the caller's. */
    PyObject *traceback = PyImport_ImportModule("traceback");
    PyObject *log = gowsgi_log_new_server(GOWSGI_LOG_WARNING, "<signal>");
    PyObject *r = traceback && log ? PyObject_CallMethod(traceback, "print_stack", "OOO", Py_None, Py_None, log)
                                   : NULL;
    if (r == NULL)
        PyErr_Clear();   /* the warning line is out; the stack is a courtesy */
    Py_XDECREF(r);
    gowsgi_log_flush_pending(log);
    Py_XDECREF(log);
    Py_XDECREF(traceback);
    return Py_NewRef(handler);
}

static PyMethodDef signal_ignored_def = {"signal", signal_ignored, METH_VARARGS, NULL};

int gowsgi_signal_restrict_install(void)
{
    PyObject *signal = PyImport_ImportModule("signal");
    PyObject *real = signal ? PyObject_GetAttrString(signal, "signal") : NULL;
    PyObject *ignored = real ? PyCFunction_New(&signal_ignored_def, real) : NULL;
    int rc = ignored ? PyObject_SetAttrString(signal, "signal", ignored) : -1;
    installed_pid = getpid();
    Py_XDECREF(ignored);
    Py_XDECREF(real);
    Py_XDECREF(signal);
    return rc;
}
