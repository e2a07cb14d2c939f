/*
 * runner.c: runs one WSGI request inside an interpreter: builds environ, calls
 * the application, iterates its response and writes it through the shim's
 * callbacks, C to C. This is the second (and last) Go/C crossing per request.
 */
#include "engine.h"

/* Logs the pending exception for this request under the head line what
 * (a format of the pid and the script); a write to a departed client is
 * not the app's fault and is logged quietly. Returns the status to answer with
 * when nothing was sent yet. */
static int report_error(gowsgi_reqstate *rs, const char *what)
{
    if (rs->client_gone && PyErr_ExceptionMatches(PyExc_OSError)) {
        static const char msg[] = GOWSGI_LOGNO(0430) "gowsgi: client closed the connection before the response was "
                                  "sent";
        PyErr_Clear();
        rs->req->io->log(rs->req->ctx, GOWSGI_LOG_DEBUG, msg, sizeof(msg) - 1);   /* logno: msg's */
        return GOWSGI_INCOMPLETE;
    }
    /* mod_wsgi 6's interrupt-timeout: the request outran request-timeout
     * and its thread was interrupted (request_slots.c). 504, as 6; the
     * Apache child logs the line (daemon_serve.c says how long). */
    if (rs->it->request_timeout != NULL && PyErr_ExceptionMatches(rs->it->request_timeout)) {
        PyErr_Clear();
        return rs->headers_sent ? GOWSGI_INCOMPLETE : 504;
    }
    if (rs->req->modwsgi6) {
        gowsgi_log_modwsgi6_exception(rs->req);
        return rs->headers_sent ? GOWSGI_INCOMPLETE : 500;
    }
    if (PyErr_ExceptionMatches(PyExc_SystemExit))
        gowsgi_log_exception(rs->req,
                             GOWSGI_LOGNO(0431) "gowsgi (pid=%d): SystemExit exception raised by WSGI script '%s' "
                             "ignored.",
                             (int)getpid(), rs->req->script);
    else
        gowsgi_log_exception(rs->req, what, (int)getpid(), rs->req->script);   /* logno: what's */
    return rs->headers_sent ? GOWSGI_INCOMPLETE : 500;
}

static int send_item(gowsgi_reqstate *rs, PyObject *item)
{
    if (!PyBytes_Check(item)) {
        PyErr_Format(PyExc_TypeError, "sequence of byte string values expected, value of type %.200s found",
                     Py_TYPE(item)->tp_name);
        return -1;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(item);
    if (n == 0)
        return 0;   /* PEP 3333: empty items do not trigger the headers */
    return gowsgi_send_body(rs, PyBytes_AS_STRING(item), n);
}

static int flush(gowsgi_reqstate *rs)
{
    int rc;
    if (rs->client_gone || !rs->headers_sent)
        return 0;
    if (gowsgi_io_claim(rs) != 0)
        return -1;
    Py_BEGIN_ALLOW_THREADS
    rc = rs->req->io->flush(rs->req->ctx);
    Py_END_ALLOW_THREADS
    if (rc != 0)
        rs->client_gone = 1;
    gowsgi_io_release(rs);
    return 0;
}

/* Sends the body; returns 0, or -1 with a Python exception set. */
static int send_result(gowsgi_interp *it, gowsgi_reqstate *rs, PyObject *result)
{
    if (Py_TYPE(result) == it->types[GOWSGI_T_FILE_WRAPPER])
        return gowsgi_filewrapper_send(it, rs, result);
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        /* The common case: the whole body at once, no flush between items.
         * The GIL is released while each item is written, so another thread
         * may change a list meanwhile: hold the item, re-read the size. */
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(result); i++) {
            PyObject *item = PySequence_Fast_GET_ITEM(result, i);
            Py_INCREF(item);
            int rc = send_item(rs, item);
            Py_DECREF(item);
            if (rc != 0)
                return -1;
            if (rs->content_length >= 0 && rs->body_sent >= rs->content_length)
                break;
        }
        return 0;
    }
    PyObject *iter = PyObject_GetIter(result), *item;
    if (iter == NULL)
        return -1;
    while ((item = PyIter_Next(iter)) != NULL) {
        int rc = send_item(rs, item);
        Py_DECREF(item);
        if (rc != 0) {
            Py_DECREF(iter);
            return -1;
        }
        /* A generator streams: each item reaches the client as produced. */
        if (flush(rs) != 0) {
            Py_DECREF(iter);
            return -1;
        }
        if (rs->client_gone ||
            (rs->content_length >= 0 && rs->body_sent >= rs->content_length))
            break;
    }
    Py_DECREF(iter);
    return PyErr_Occurred() ? -1 : 0;
}

/* The thread's busy time for process_metrics(); the request's times for
 * request_metrics() once someone asked for them. */
static void gowsgi_request_done(gowsgi_reqstate *rs)
{
    gowsgi_thread_metrics *tm = gowsgi_thread_metrics_get();
    if (tm->since == 0)
        return;
    long long now = gowsgi_now_us();
    __atomic_store_n(&tm->busy, tm->busy + (now > tm->since ? now - tm->since : 0), __ATOMIC_RELAXED);
    __atomic_store_n(&tm->since, 0, __ATOMIC_RELAXED);
    if (__builtin_expect(__atomic_load_n(&gowsgi_request_metrics_on, __ATOMIC_RELAXED), 0))
        gowsgi_metrics_record(rs, now);
}

int gowsgi_run(gowsgi_interp *it, gowsgi_app *app, gowsgi_request *req)
{
    PyThreadState *ts = gowsgi_enter(it);
    gowsgi_reqstate rs;
    memset(&rs, 0, sizeof(rs));
    rs.req = req;
    rs.it = it;
    rs.content_length = -1;
    gowsgi_reqstate *outer = gowsgi_current;
    gowsgi_current = &rs;
    if (__builtin_expect(__atomic_load_n(&gowsgi_slots_on, __ATOMIC_RELAXED), 0))
        gowsgi_slot_begin(it, req);
    int status = 0, called = 0;
    PyObject *callable = app->callable, *environ = NULL, *args = NULL, *result = NULL;
    Py_XINCREF(callable);

    rs.input = gowsgi_input_new(&rs);
    rs.errors_stream = gowsgi_errors_open(it, req, &rs.errors);
    rs.start_response = gowsgi_start_response_new(&rs);
    if (callable == NULL || rs.input == NULL || rs.errors_stream == NULL || rs.start_response == NULL ||
        (environ = gowsgi_environ_build(it, req, &rs)) == NULL ||
        (args = PyTuple_Pack(2, environ, rs.start_response)) == NULL) {
        status = report_error(&rs,
                              GOWSGI_LOGNO(0432) "gowsgi (pid=%d): Failed to prepare request for WSGI script '%s'.");
        goto done;
    }

    /* mod_wsgi's events: with no subscriber, this one test is all they cost. */
    called = 1;
    if (__builtin_expect(gowsgi_events_wanted(it), 0)) {
        gowsgi_events_request_started(&rs, environ, &callable);
        Py_SETREF(args, PyTuple_Pack(2, environ, rs.start_response));
        if (args == NULL) {
            status = report_error(&rs,
                                  GOWSGI_LOGNO(0432) "gowsgi (pid=%d): Failed to prepare request for WSGI script "
                                  "'%s'.");
            goto done;
        }
    }
    result = PyObject_Call(callable, args, NULL);
    if (result == NULL) {
        status = report_error(&rs,
                              GOWSGI_LOGNO(0429) "gowsgi (pid=%d): Exception occurred processing WSGI script '%s'.");
        goto done;
    }
    if (send_result(it, &rs, result) != 0) {
        status = report_error(&rs,
                              GOWSGI_LOGNO(0429) "gowsgi (pid=%d): Exception occurred processing WSGI script '%s'.");
    } else if (!rs.headers_sent) {
        if (gowsgi_send_headers(&rs) != 0)
            status = report_error(&rs,
                                  GOWSGI_LOGNO(0429) "gowsgi (pid=%d): Exception occurred processing WSGI script "
                                  "'%s'.");
    }
    /* A body shorter than its declared length leaves the client waiting
     * for bytes that the next response would otherwise supply. */
    if (status == 0 && rs.headers_sent && rs.content_length >= 0 && rs.body_sent < rs.content_length &&
        !req->head_only)
        status = GOWSGI_INCOMPLETE;
    /* PEP 3333: close() is called whatever happened while iterating. A
     * plain list or tuple has none: asking would raise and clear an
     * AttributeError on every request. */
    if (!PyList_CheckExact(result) && !PyTuple_CheckExact(result) && PyObject_HasAttr(result, it->str_close)) {
        PyObject *r = PyObject_CallMethodNoArgs(result, it->str_close);
        if (r == NULL) {
            /* After a complete response the error is logged and that is all. */
            int s = report_error(&rs,
                                 GOWSGI_LOGNO(0429) "gowsgi (pid=%d): Exception occurred processing WSGI script '%s'.");
            if (status == 0 && !rs.headers_sent)
                status = s;
        }
        Py_XDECREF(r);
    }

done:
    if (called && __builtin_expect(gowsgi_events_wanted(it), 0))
        gowsgi_events_request_finished(&rs);
    gowsgi_request_done(&rs);
    if (rs.input)
        gowsgi_input_detach(rs.input);
    if (rs.errors)
        gowsgi_log_detach(rs.errors);
    if (rs.start_response)
        gowsgi_start_response_detach(rs.start_response);
    /* Threads the app started may still be inside a read or write of this
     * request (GIL released); rs lives on this stack, so wait for them. */
    gowsgi_io_end(&rs);
    gowsgi_log_flush_pending(it->stdout_log);
    gowsgi_log_flush_pending(it->stderr_log);
    Py_XDECREF(result);
    Py_XDECREF(args);
    Py_XDECREF(environ);
    Py_XDECREF(rs.input);
    if (rs.errors_stream)
        gowsgi_errors_release(it, rs.errors_stream, rs.errors);
    Py_XDECREF(rs.errors_stream);
    Py_XDECREF(rs.errors);
    Py_XDECREF(rs.start_response);
    Py_XDECREF(rs.status_line);
    Py_XDECREF(rs.headers);
    Py_XDECREF(callable);
    gowsgi_events_request_end(&rs);
    int http_status = status == 0 || status == GOWSGI_INCOMPLETE ? (rs.status ? rs.status : 500) : status;
    if (__builtin_expect(__atomic_load_n(&gowsgi_telemetry_on, __ATOMIC_RELAXED), 0))
        gowsgi_telemetry_record(&rs, http_status);
    if (__builtin_expect(__atomic_load_n(&gowsgi_slots_on, __ATOMIC_RELAXED), 0))
        gowsgi_slot_end(&rs, http_status);
    gowsgi_current = outer;
    gowsgi_leave(ts);
    return status;
}
