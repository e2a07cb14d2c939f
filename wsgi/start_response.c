/*
 * start_response.c: the start_response callable, the write() callable it
 * returns, response status/header validation (PEP 3333 and mod_wsgi's
 * messages), and sending headers and body through the shim.
 */
#include "engine.h"

#include <errno.h>
#include <stdlib.h>

typedef struct {
    PyObject_HEAD
    gowsgi_reqstate *rs;     /* NULL once the request has ended */
} StartResponseObject;

static int expired(StartResponseObject *self)
{
    if (self->rs == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "request object has expired");
        return 1;
    }
    return 0;
}

/* Encodes a native string to latin-1 bytes, as PEP 3333 requires
 * (mod_wsgi's messages). */
static PyObject *latin1_bytes(PyObject *s)
{
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "expected unicode object, value of type %.200s found",
                     Py_TYPE(s)->tp_name);
        return NULL;
    }
    PyObject *b = PyUnicode_AsLatin1String(s);
    if (b == NULL) {
        PyErr_SetString(PyExc_ValueError, "unicode object contains non latin-1 characters");
        return NULL;
    }
    return b;
}

static int has_newline(PyObject *b)
{
    const char *s = PyBytes_AS_STRING(b);
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    return memchr(s, '\n', (size_t)n) != NULL || memchr(s, '\r', (size_t)n) != NULL;
}

/* Parses the status line "NNN reason" with mod_wsgi's rules and messages
 * (the reason may be empty, the space may not): returns the code, or -1 with
 * an exception. */
static int parse_status(PyObject *line, int modwsgi6)
{
    const char *s = PyBytes_AS_STRING(line);
    Py_ssize_t n = PyBytes_GET_SIZE(line);
    if (n < 3 || s[0] < '1' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' ||
        (n > 3 && s[3] >= '0' && s[3] <= '9')) {
        if (modwsgi6)   /* mod_wsgi 6.0's words (wsgi_validate.c) */
            PyErr_Format(PyExc_ValueError, "status code must be a 3 digit integer: %R", line);
        else
            PyErr_SetString(PyExc_ValueError, "status code is not a 3 digit integer");
        return -1;
    }
    /* mod_wsgi 6.0 takes a bare code (HTTP/2 sends no reason phrase). */
    if (n == 3 && modwsgi6)
        return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    if (n == 3 || s[3] != ' ') {
        if (modwsgi6)
            PyErr_Format(PyExc_ValueError, "no space following status code: %R", line);
        else
            PyErr_SetString(PyExc_ValueError, "no space following status code");
        return -1;
    }
    /* Apache would quietly replace a status line with control characters;
     * mod_wsgi refuses it, and so do we. */
    for (Py_ssize_t i = 4; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            if (modwsgi6)
                PyErr_Format(PyExc_ValueError, "control character in status reason phrase: %R", line);
            else
                PyErr_SetString(PyExc_ValueError, "control character present in reason phrase");
            return -1;
        }
    }
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* A header name: mod_wsgi's checks (empty, control, space), then Apache's
 * token rule, which its header filter would otherwise enforce later with a
 * bare 500 and no word of which script or header. */
static int check_header_name(PyObject *name)
{
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(name);
    Py_ssize_t n = PyBytes_GET_SIZE(name);
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "header name is empty");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f) {
            PyErr_SetString(PyExc_ValueError, "control character present in header name");
            return -1;
        }
        if (s[i] == ' ') {
            PyErr_SetString(PyExc_ValueError, "space character present in header name");
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] >= 0x80 || strchr("()<>@,;:\\\"/[]?={}\t", s[i]) != NULL) {
            PyErr_Format(PyExc_ValueError, "invalid character present in header name '%s'", (const char *)s);
            return -1;
        }
    }
    return 0;
}

/* Validates headers: a list of (str, str); returns a list of (bytes, bytes).
 * Checks and messages in mod_wsgi's order. */
static PyObject *convert_headers(PyObject *headers, long long *content_length)
{
    if (!PyList_Check(headers)) {
        PyErr_Format(PyExc_TypeError, "expected list object for headers, value of type %.200s found",
                     Py_TYPE(headers)->tp_name);
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(headers);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    *content_length = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(headers, i);
        if (!PyTuple_Check(item)) {
            PyErr_Format(PyExc_TypeError, "list of tuple values expected for headers, value of type %.200s found",
                         Py_TYPE(item)->tp_name);
            goto fail;
        }
        if (PyTuple_GET_SIZE(item) != 2) {
            PyErr_Format(PyExc_ValueError, "tuple of length 2 expected for header, length is %d",
                         (int)PyTuple_GET_SIZE(item));
            goto fail;
        }
        PyObject *name = latin1_bytes(PyTuple_GET_ITEM(item, 0));
        if (name == NULL)
            goto fail;
        if (check_header_name(name) != 0) {
            Py_DECREF(name);
            goto fail;
        }
        PyObject *value = latin1_bytes(PyTuple_GET_ITEM(item, 1));
        if (value == NULL) {
            Py_DECREF(name);
            goto fail;
        }
        if (has_newline(value)) {
            PyErr_SetString(PyExc_ValueError, "carriage return/line feed character present in header value");
            Py_DECREF(name);
            Py_DECREF(value);
            goto fail;
        }
        if (strcasecmp(PyBytes_AS_STRING(name), "Content-Length") == 0) {
            /* mod_wsgi refuses what it cannot parse; the last one counts. */
            const char *text = PyBytes_AS_STRING(value);
            char *end;
            errno = 0;
            long long v = strtoll(text, &end, 10);
            if (errno != 0 || end == text || *end != '\0' || v < 0 || text[0] == '+' || text[0] == ' ') {
                PyErr_SetString(PyExc_ValueError, "invalid content length");
                Py_DECREF(name);
                Py_DECREF(value);
                goto fail;
            }
            *content_length = v;
        }
        PyObject *pair = PyTuple_Pack(2, name, value);
        Py_DECREF(name);
        Py_DECREF(value);
        if (pair == NULL)
            goto fail;
        PyList_SET_ITEM(out, i, pair);
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyObject *write_method(StartResponseObject *self, PyObject *data)
{
    if (expired(self))
        return NULL;
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "byte string value expected, value of type %.200s found",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (gowsgi_send_body(self->rs, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data)) != 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef start_response_methods[] = {
    {"write", (PyCFunction)write_method, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyObject *start_response_call(StartResponseObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"status", "response_headers", "exc_info", NULL};
    PyObject *status, *headers, *exc_info = Py_None;
    if (expired(self))
        return NULL;
    /* The usual call, positional only, without the parser's format walk;
     * anything else gets the parser (and its messages). */
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    if ((kwds == NULL || PyDict_GET_SIZE(kwds) == 0) && (nargs == 2 || nargs == 3)) {
        status = PyTuple_GET_ITEM(args, 0);
        headers = PyTuple_GET_ITEM(args, 1);
        if (nargs == 3)
            exc_info = PyTuple_GET_ITEM(args, 2);
    } else if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:start_response", kwlist, &status,
                                            &headers, &exc_info))
        return NULL;
    gowsgi_reqstate *rs = self->rs;

    if (exc_info != Py_None) {
        if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
            PyErr_SetString(PyExc_RuntimeError, "exception info must be a tuple of length 3");
            return NULL;
        }
        if (rs->headers_sent) {
            /* PEP 3333: too late to change the response, re-raise the app's error. */
            PyObject *t = PyTuple_GET_ITEM(exc_info, 0), *v = PyTuple_GET_ITEM(exc_info, 1),
                     *tb = PyTuple_GET_ITEM(exc_info, 2);
            Py_INCREF(t);
            Py_INCREF(v);
            Py_INCREF(tb);
            PyErr_Restore(t, v, tb == Py_None ? NULL : tb);
            if (tb == Py_None)
                Py_DECREF(tb);
            return NULL;
        }
    } else if (rs->headers_sent) {
        PyErr_SetString(PyExc_RuntimeError, "headers have already been sent");
        return NULL;
    }

    if (__builtin_expect(gowsgi_events_wanted(rs->it), 0))
        gowsgi_events_response_started(rs, status, headers, exc_info);

    PyObject *line = latin1_bytes(status);
    if (line == NULL)
        return NULL;
    int code = parse_status(line, rs->req->modwsgi6);
    if (code < 0) {
        Py_DECREF(line);
        return NULL;
    }
    long long content_length;
    PyObject *converted = convert_headers(headers, &content_length);
    if (converted == NULL) {
        Py_DECREF(line);
        return NULL;
    }
    Py_XSETREF(rs->status_line, line);
    Py_XSETREF(rs->headers, converted);
    rs->status = code;
    rs->content_length = content_length;
    rs->started = 1;
    /* The bound write method, as getattr(self, "write") makes it, without
     * the name lookup. */
    return PyCFunction_NewEx(&start_response_methods[0], (PyObject *)self, NULL);
}

/* Hands status and headers to the shim; the caller holds the request's I/O. */
static int send_headers_claimed(gowsgi_reqstate *rs)
{
    if (rs->headers_sent)
        return 0;
    if (!rs->started) {
        PyErr_SetString(PyExc_RuntimeError, "response has not been started");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(rs->headers);
    const char *stack_names[32], *stack_values[32];
    const char **names = stack_names, **values = stack_values;
    if (n > 32) {
        names = PyMem_Malloc(sizeof(char *) * (size_t)n);
        values = PyMem_Malloc(sizeof(char *) * (size_t)n);
        if (names == NULL || values == NULL) {
            PyMem_Free(names);
            PyMem_Free(values);
            PyErr_NoMemory();
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(rs->headers, i);
        names[i] = PyBytes_AS_STRING(PyTuple_GET_ITEM(pair, 0));
        values[i] = PyBytes_AS_STRING(PyTuple_GET_ITEM(pair, 1));
    }
    gowsgi_request *req = rs->req;
    req->io->start(req->ctx, rs->status, PyBytes_AS_STRING(rs->status_line), (int)n,
                   names, values);
    if (names != stack_names) {
        PyMem_Free(names);
        PyMem_Free(values);
    }
    rs->headers_sent = 1;
    return 0;
}

int gowsgi_send_headers(gowsgi_reqstate *rs)
{
    if (rs->headers_sent)
        return 0;
    if (gowsgi_io_claim(rs) != 0)
        return -1;
    int rc = send_headers_claimed(rs);
    gowsgi_io_release(rs);
    return rc;
}

int gowsgi_send_body(gowsgi_reqstate *rs, const char *data, Py_ssize_t len)
{
    int rc = 0;
    if (gowsgi_io_claim(rs) != 0)
        return -1;
    if (send_headers_claimed(rs) != 0) {
        gowsgi_io_release(rs);
        return -1;
    }
    if (rs->content_length >= 0 && rs->body_sent + len > rs->content_length)
        len = (Py_ssize_t)(rs->content_length - rs->body_sent);   /* truncate, as mod_wsgi */
    if (len > 0 && !rs->client_gone) {
        gowsgi_request *req = rs->req;
        /* Timed for the request_finished event and telemetry's output_write_time. */
        long long t0 = rs->observed || __atomic_load_n(&gowsgi_telemetry_on, __ATOMIC_RELAXED) ? gowsgi_now_us() : 0;
        rs->output_writes++;
        Py_BEGIN_ALLOW_THREADS
        rc = req->io->write(req->ctx, data, (size_t)len);
        Py_END_ALLOW_THREADS
        if (t0 != 0)
            rs->output_time += gowsgi_now_us() - t0;
        if (rc != 0)
            rs->client_gone = 1;
        else
            rs->body_sent += len;
    }
    gowsgi_io_release(rs);
    if (rc != 0) {
        PyErr_SetString(PyExc_OSError, "failed to write response data: client connection closed");
        return -1;
    }
    return 0;
}

static void start_response_dealloc(StartResponseObject *self)
{
    gowsgi_object_free((PyObject *)self);
}

PyTypeObject gowsgi_StartResponseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mod_wsgi.StartResponse",
    .tp_basicsize = sizeof(StartResponseObject),
    .tp_dealloc = (destructor)start_response_dealloc,
    .tp_call = (ternaryfunc)start_response_call,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = start_response_methods,
};

PyObject *gowsgi_start_response_new(gowsgi_reqstate *rs)
{
    StartResponseObject *self = PyObject_New(StartResponseObject, rs->it->types[GOWSGI_T_START_RESPONSE]);
    if (self != NULL)
        self->rs = rs;
    return (PyObject *)self;
}

void gowsgi_start_response_detach(PyObject *sr)
{
    ((StartResponseObject *)sr)->rs = NULL;
}
