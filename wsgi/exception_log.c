/*
 * exception_log.c: a pending Python exception written to the error log, one
 * line per traceback line, attributed to the request when there is one.
 */
#include "engine.h"

#include <stdarg.h>
#include <unistd.h>

static void log_line(const gowsgi_request *req, int level, const char *msg, size_t len)
{
    if (req != NULL)
        req->io->log(req->ctx, level, msg, len);   /* logno: the head's, or a traceback's line */
    else if (gowsgi_config.log != NULL)
        gowsgi_config.log(level, msg, len);   /* logno: the same */
}

void gowsgi_log_exception(const gowsgi_request *req, const char *fmt, ...)
{
    char head[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    gowsgi_log_exception_as(req, head);   /* logno: fmt's */
}

void gowsgi_log_exception_as(const gowsgi_request *req, const char *head)
{
    PyObject *type, *value, *tb;
    log_line(req, GOWSGI_LOG_ERR, head, strlen(head));   /* logno: the caller's head */

    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL)
        return;
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *mod = PyImport_ImportModule("traceback");
    PyObject *lines = mod ? PyObject_CallMethod(mod, "format_exception", "OOO", type,
                                                value ? value : Py_None, tb ? tb : Py_None)
                          : NULL;
    PyObject *empty = PyUnicode_FromString("");
    PyObject *text = lines && empty ? PyUnicode_Join(empty, lines) : NULL;
    Py_XDECREF(empty);
    if (text != NULL) {
        Py_ssize_t size;
        const char *s = PyUnicode_AsUTF8AndSize(text, &size);
        while (s != NULL && size > 0) {
            const char *nl = memchr(s, '\n', (size_t)size);
            Py_ssize_t line = nl ? nl - s : size;
            if (line > 0)
                log_line(req, GOWSGI_LOG_ERR, s, (size_t)line);   /* logno: none, the traceback's */
            s += line + (nl ? 1 : 0);
            size -= line + (nl ? 1 : 0);
        }
    }
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(lines);
    Py_XDECREF(mod);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}
