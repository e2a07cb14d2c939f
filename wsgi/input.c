/*
 * input.c: wsgi.input. Reads the request body through the shim's read callback
 * with the GIL released; keeps a small buffer for readline().
 */
#include "engine.h"

#define INPUT_CHUNK 8192

typedef struct {
    PyObject_HEAD
    gowsgi_reqstate *rs;     /* NULL once the request has ended */
    char *buf;
    size_t start, end, cap;
    int eof;
    int failed;              /* a read failed: every later read fails too */
} InputObject;

static int expired(InputObject *self)
{
    if (self->rs == NULL) {
        PyErr_SetString(PyExc_OSError, "request object has expired");
        return 1;
    }
    return 0;
}

/* Reads from the client into dst: bytes read, 0 at end, -1 with an exception. */
static Py_ssize_t read_client(InputObject *self, char *dst, size_t len)
{
    long n;
    gowsgi_reqstate *rs = self->rs;
    if (self->eof)
        return 0;
    /* A broken body must never look complete to the app: mod_wsgi's words. */
    if (self->failed) {
        PyErr_SetString(PyExc_OSError, "Apache/mod_wsgi request data read error: Input is already in error state.");
        return -1;
    }
    if (gowsgi_io_claim(rs) != 0)
        return -1;
    rs->io_reading = 1;
    /* Timed for the request_finished event and telemetry's input_read_time. */
    long long t0 = rs->observed || __atomic_load_n(&gowsgi_telemetry_on, __ATOMIC_RELAXED) ? gowsgi_now_us() : 0;
    rs->input_reads++;
    Py_BEGIN_ALLOW_THREADS
    n = rs->req->io->read(rs->req->ctx, dst, len);
    Py_END_ALLOW_THREADS
    if (t0 != 0)
        rs->input_time += gowsgi_now_us() - t0;
    if (n > 0)
        rs->input_bytes += n;
    if (n < 0) {
        self->failed = 1;
        PyErr_Format(PyExc_OSError, "Apache/mod_wsgi request data read error: %s.",
                     rs->req->io->read_error(rs->req->ctx));
        gowsgi_io_release(rs);
        return -1;
    }
    gowsgi_io_release(rs);
    if (n == 0)
        self->eof = 1;
    return (Py_ssize_t)n;
}

static size_t buffered(InputObject *self)
{
    return self->end - self->start;
}

/* Makes room for at least want bytes after end. */
static int reserve(InputObject *self, size_t want)
{
    if (self->start > 0 && self->start == self->end)
        self->start = self->end = 0;
    if (self->cap - self->end >= want)
        return 0;
    if (self->start > 0) {
        memmove(self->buf, self->buf + self->start, buffered(self));
        self->end -= self->start;
        self->start = 0;
        if (self->cap - self->end >= want)
            return 0;
    }
    size_t cap = self->end + want + self->cap;
    char *grown = PyMem_Realloc(self->buf, cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->buf = grown;
    self->cap = cap;
    return 0;
}

/* Reads exactly size bytes, or to the end when size < 0 or the body is shorter. */
static PyObject *read_bytes(InputObject *self, Py_ssize_t size)
{
    size_t have = buffered(self);
    if (size >= 0 && (size_t)size <= have) {
        PyObject *out = PyBytes_FromStringAndSize(self->buf + self->start, size);
        self->start += (size_t)size;
        return out;
    }
    /* Grow towards size rather than trusting it: read(10**9) must not
     * allocate a gigabyte for a short body. */
    size_t want = size >= 0 ? (size_t)size : (size_t)PY_SSIZE_T_MAX;
    size_t cap = have + INPUT_CHUNK * 8;
    if (cap > want)
        cap = want;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
    if (out == NULL)
        return NULL;
    memcpy(PyBytes_AS_STRING(out), self->buf + self->start, have);
    self->start = self->end = 0;
    size_t got = have;
    while (got < want) {
        if (got == cap) {
            cap = cap * 2 > want ? want : cap * 2;
            if (_PyBytes_Resize(&out, (Py_ssize_t)cap) != 0)
                return NULL;
        }
        Py_ssize_t n = read_client(self, PyBytes_AS_STRING(out) + got, cap - got);
        if (n < 0) {
            Py_DECREF(out);
            return NULL;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got != cap && _PyBytes_Resize(&out, (Py_ssize_t)got) != 0)
        return NULL;
    return out;
}

static int size_arg(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t *size)
{
    *size = -1;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "expected at most one argument");
        return -1;
    }
    if (nargs == 1 && args[0] != Py_None) {
        *size = PyLong_AsSsize_t(args[0]);
        if (*size == -1 && PyErr_Occurred())
            return -1;
    }
    return 0;
}

static PyObject *input_read(InputObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;
    if (expired(self) || size_arg(args, nargs, &size) != 0)
        return NULL;
    return read_bytes(self, size);
}

static PyObject *readline(InputObject *self, Py_ssize_t size)
{
    size_t scanned = 0;
    for (;;) {
        size_t have = buffered(self);
        size_t limit = size >= 0 && (size_t)size < have ? (size_t)size : have;
        char *nl = memchr(self->buf + self->start + scanned, '\n', limit - scanned);
        if (nl != NULL)
            return read_bytes(self, nl - (self->buf + self->start) + 1);
        if ((size >= 0 && have >= (size_t)size) || self->eof)
            return read_bytes(self, (Py_ssize_t)limit);
        scanned = limit;
        if (reserve(self, INPUT_CHUNK) != 0)
            return NULL;
        Py_ssize_t n = read_client(self, self->buf + self->end, self->cap - self->end);
        if (n < 0)
            return NULL;
        self->end += (size_t)n;
    }
}

static PyObject *input_readline(InputObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;
    if (expired(self) || size_arg(args, nargs, &size) != 0)
        return NULL;
    return readline(self, size);
}

static PyObject *input_readlines(InputObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t hint, total = 0;
    if (expired(self) || size_arg(args, nargs, &hint) != 0)
        return NULL;
    PyObject *lines = PyList_New(0);
    while (lines != NULL) {
        PyObject *line = readline(self, -1);
        if (line == NULL) {
            Py_CLEAR(lines);
            break;
        }
        Py_ssize_t n = PyBytes_GET_SIZE(line);
        if (n == 0) {
            Py_DECREF(line);
            break;
        }
        int rc = PyList_Append(lines, line);
        Py_DECREF(line);
        if (rc != 0) {
            Py_CLEAR(lines);
            break;
        }
        total += n;
        if (hint > 0 && total >= hint)
            break;
    }
    return lines;
}

static PyObject *input_iter(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

static PyObject *input_iternext(InputObject *self)
{
    if (expired(self))
        return NULL;
    PyObject *line = readline(self, -1);
    if (line != NULL && PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return NULL;   /* StopIteration */
    }
    return line;
}

static PyObject *input_close(InputObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    Py_RETURN_NONE;
}

static void input_dealloc(InputObject *self)
{
    PyMem_Free(self->buf);
    gowsgi_object_free((PyObject *)self);
}

static PyMethodDef input_methods[] = {
    {"read", (PyCFunction)(void (*)(void))input_read, METH_FASTCALL, NULL},
    {"readline", (PyCFunction)(void (*)(void))input_readline, METH_FASTCALL, NULL},
    {"readlines", (PyCFunction)(void (*)(void))input_readlines, METH_FASTCALL, NULL},
    {"close", (PyCFunction)input_close, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

PyTypeObject gowsgi_InputType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mod_wsgi.Input",
    .tp_basicsize = sizeof(InputObject),
    .tp_dealloc = (destructor)input_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_iter = input_iter,
    .tp_iternext = (iternextfunc)input_iternext,
    .tp_methods = input_methods,
};

PyObject *gowsgi_input_new(gowsgi_reqstate *rs)
{
    /* The request's interpreter is known: no lookup of the current one. */
    InputObject *self = PyObject_New(InputObject, rs->it->types[GOWSGI_T_INPUT]);
    if (self == NULL)
        return NULL;
    self->rs = rs;
    self->buf = NULL;
    self->start = self->end = self->cap = 0;
    self->eof = 0;
    self->failed = 0;
    return (PyObject *)self;
}

void gowsgi_input_detach(PyObject *obj)
{
    ((InputObject *)obj)->rs = NULL;
}
