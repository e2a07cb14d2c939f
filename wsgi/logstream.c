/*
 * logstream.c: the error-log streams. As in mod_wsgi, each is an
 * io.TextIOWrapper (utf-8, errors='replace', line buffered, write-through)
 * over a mod_wsgi.Log buffer that writes whole lines to Apache's error log.
 * wsgi.errors is bound to its request; sys.stdout and sys.stderr are process
 * streams that attribute each line to the request the thread is running, if
 * any.
 */
#include "engine.h"

#include <stdarg.h>

typedef struct {
    PyObject_HEAD
    gowsgi_request *req;     /* NULL for a process stream, or once detached */
    int bound;               /* created for a request (wsgi.errors) */
    int server;              /* server-wide lines, never a request's */
    int expired;             /* closed, or its request has ended */
    int level;
    PyObject *name;
    char *buf;               /* pending partial line */
    size_t len, cap;
} LogObject;

/* Each interpreter has its own copy of the type (types.c): an object is one
 * of ours when it has our deallocator. */
static void log_dealloc(LogObject *self);

/* The line is handed on with the GIL held; a daemon writing its own log
 * may release it around the write itself (daemon_log.c), once the line is
 * copied: nothing here touches self, s or req after the call. */
static void emit(LogObject *self, const char *s, size_t n)
{
    gowsgi_request *req = self->req;
    if (req == NULL && !self->bound && !self->server && gowsgi_current != NULL)
        req = gowsgi_current->req;
    gowsgi_log_may_release = 1;
    if (req != NULL && __builtin_expect(req->modwsgi6, 0))
        gowsgi_log_modwsgi6_line(req, self->level, s, n);
    else if (req != NULL)
        req->io->log(req->ctx, self->level, s, n);   /* logno: none, the app's */
    else if (gowsgi_config.log != NULL)
        gowsgi_config.log(self->level, s, n);   /* logno: none, the app's */
    gowsgi_log_may_release = 0;
}

void gowsgi_log_processf(int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0 && gowsgi_config.log != NULL)
        gowsgi_config.log(level, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);   /* logno: fmt's */
}

static int append(LogObject *self, const char *s, size_t n)
{
    if (self->len + n > self->cap) {
        size_t cap = (self->len + n) * 2 + 64;
        char *grown = PyMem_Realloc(self->buf, cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->buf = grown;
        self->cap = cap;
    }
    memcpy(self->buf + self->len, s, n);
    self->len += n;
    return 0;
}

/* The pending partial line out. Callers hold the object's lock (a
 * critical section, when there is no GIL). */
static void flush_pending_locked(LogObject *self)
{
    if (self->len == 0)
        return;
    size_t len = self->len;
    self->len = 0;   /* before: emit may let another thread append */
    emit(self, self->buf, len);
}

void gowsgi_log_flush_pending(PyObject *obj)
{
    LogObject *self = (LogObject *)obj;
    if (obj == NULL || Py_TYPE(obj)->tp_dealloc != (destructor)log_dealloc)
        return;
    GOWSGI_BEGIN_OBJECT_LOCK(obj);
    flush_pending_locked(self);
    GOWSGI_END_OBJECT_LOCK();
}

static int write_text(LogObject *self, const char *s, Py_ssize_t n)
{
    while (n > 0) {
        const char *nl = memchr(s, '\n', (size_t)n);
        if (nl == NULL)
            return append(self, s, (size_t)n);
        size_t line = (size_t)(nl - s);
        if (self->len > 0) {
            if (append(self, s, line) != 0)
                return -1;
            size_t len = self->len;
            self->len = 0;   /* before: emit may let another thread append */
            emit(self, self->buf, len);
        } else {
            emit(self, s, line);
        }
        s = nl + 1;
        n -= (Py_ssize_t)line + 1;
    }
    return 0;
}

static int expired(LogObject *self)
{
    if (self->expired || (self->bound && self->req == NULL)) {
        /* wsgi.errors kept past its request, as mod_wsgi reports it. */
        PyErr_SetString(PyExc_RuntimeError, "log object has expired");
        return 1;
    }
    return 0;
}

/* The TextIOWrapper hands over utf-8 bytes; code using the buffer directly
 * may pass str, as mod_wsgi's "s#" accepts both. */
static PyObject *log_write(LogObject *self, PyObject *args)
{
    const char *s;
    Py_ssize_t n;
    if (expired(self) || !PyArg_ParseTuple(args, "s#:write", &s, &n))
        return NULL;
    int rc;
    GOWSGI_BEGIN_OBJECT_LOCK(self);
    rc = write_text(self, s, n);
    GOWSGI_END_OBJECT_LOCK();
    if (rc != 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *log_writelines(LogObject *self, PyObject *args)
{
    PyObject *seq, *it, *item;
    if (expired(self) || !PyArg_ParseTuple(args, "O:writelines", &seq))
        return NULL;
    if ((it = PyObject_GetIter(seq)) == NULL)
        goto not_strings;
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *one = PyTuple_Pack(1, item);
        PyObject *r = one ? log_write(self, one) : NULL;
        Py_XDECREF(one);
        Py_DECREF(item);
        if (r == NULL) {
            Py_DECREF(it);
            goto not_strings;
        }
        Py_DECREF(r);
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
not_strings:
    PyErr_SetString(PyExc_TypeError, "argument must be sequence of strings");
    return NULL;
}

/* Quiet once expired (mod_wsgi raises): the wrapper's finalizer flushes
 * after every request, and an exception there would be made and dropped
 * each time. */
static PyObject *log_flush(LogObject *self, PyObject *Py_UNUSED(ignored))
{
    GOWSGI_BEGIN_OBJECT_LOCK(self);
    if (!self->expired && !(self->bound && self->req == NULL))
        flush_pending_locked(self);
    GOWSGI_END_OBJECT_LOCK();
    Py_RETURN_NONE;
}

/* Flushes and expires, as mod_wsgi's close(); closing twice is harmless. */
static PyObject *log_close(LogObject *self, PyObject *Py_UNUSED(ignored))
{
    GOWSGI_BEGIN_OBJECT_LOCK(self);
    if (!self->expired && !(self->bound && self->req == NULL))
        flush_pending_locked(self);
    self->req = NULL;
    self->expired = 1;
    GOWSGI_END_OBJECT_LOCK();
    Py_RETURN_NONE;
}

static PyObject *log_false(LogObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    Py_RETURN_FALSE;
}

static PyObject *log_true(LogObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    Py_RETURN_TRUE;
}

static PyObject *log_fileno(LogObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    PyErr_SetString(PyExc_OSError, "Apache/mod_wsgi log object is not associated with a file descriptor.");
    return NULL;
}

static PyObject *log_get_name(LogObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->name);
}

static PyObject *log_get_encoding(LogObject *self, void *Py_UNUSED(closure))
{
    (void)self;
    return PyUnicode_FromString("utf-8");
}

static PyObject *log_get_errors(LogObject *self, void *Py_UNUSED(closure))
{
    (void)self;
    return PyUnicode_FromString("replace");
}

static PyObject *log_get_closed(LogObject *self, void *Py_UNUSED(closure))
{
    (void)self;
    Py_RETURN_FALSE;
}

static void log_dealloc(LogObject *self)
{
    if (!self->expired)
        flush_pending_locked(self);   /* the last reference: no other thread has it */
    Py_XDECREF(self->name);
    PyMem_Free(self->buf);
    gowsgi_object_free((PyObject *)self);
}

static PyMethodDef log_methods[] = {
    {"flush", (PyCFunction)log_flush, METH_NOARGS, NULL},
    {"close", (PyCFunction)log_close, METH_NOARGS, NULL},
    {"isatty", (PyCFunction)log_false, METH_NOARGS, NULL},
    {"write", (PyCFunction)log_write, METH_VARARGS, NULL},
    {"writelines", (PyCFunction)log_writelines, METH_VARARGS, NULL},
    {"readable", (PyCFunction)log_false, METH_NOARGS, NULL},
    {"seekable", (PyCFunction)log_false, METH_NOARGS, NULL},
    {"writable", (PyCFunction)log_true, METH_NOARGS, NULL},
    {"fileno", (PyCFunction)log_fileno, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef log_getset[] = {
    {"name", (getter)log_get_name, NULL, NULL, NULL},
    {"closed", (getter)log_get_closed, NULL, NULL, NULL},
    {"encoding", (getter)log_get_encoding, NULL, NULL, NULL},
    {"errors", (getter)log_get_errors, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject gowsgi_LogType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mod_wsgi.Log",
    .tp_basicsize = sizeof(LogObject),
    .tp_dealloc = (destructor)log_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = log_methods,
    .tp_getset = log_getset,
};

PyObject *gowsgi_log_new(gowsgi_request *req, int level, const char *name)
{
    PyTypeObject *tp = gowsgi_type(GOWSGI_T_LOG);
    LogObject *self = tp ? PyObject_New(LogObject, tp) : NULL;
    if (self == NULL)
        return NULL;
    self->req = req;
    self->bound = req != NULL;
    self->server = 0;
    self->expired = 0;
    self->level = level;
    self->name = PyUnicode_FromString(name);
    self->buf = NULL;
    self->len = self->cap = 0;
    if (self->name == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

PyObject *gowsgi_log_new_server(int level, const char *name)
{
    PyObject *self = gowsgi_log_new(NULL, level, name);
    if (self != NULL)
        ((LogObject *)self)->server = 1;
    return self;
}

PyObject *gowsgi_log_wrap(gowsgi_interp *it, PyObject *buffer)
{
    /* TextIOWrapper(buffer, "utf-8", "replace", None, True, True):
     * line_buffering and write_through, so every line reaches the log at once. */
    PyObject *args[] = {buffer, it->str_utf8, it->str_replace, Py_None, Py_True, Py_True};
    return PyObject_Vectorcall(it->text_io_wrapper, args, 6, NULL);
}

/* wsgi.errors. An io.TextIOWrapper costs about a fifth of a whole hello
 * request to make (a codec lookup and a Python-level incremental encoder;
 * measured with callgrind), so each thread keeps one per interpreter and
 * hands it to the next request, as long as nothing outside the finished
 * request still holds it or its buffer and the app changed nothing on it. */
typedef struct errors_slot {
    PyObject *stream;
    LogObject *buffer;
} errors_slot;

static __thread errors_slot *errors_slots;
static __thread int errors_slots_len;

static errors_slot *errors_slot_for(int index)
{
    if (index >= errors_slots_len) {
        int len = index + 8;
        errors_slot *grown = PyMem_RawRealloc(errors_slots, sizeof(*grown) * (size_t)len);
        if (grown == NULL)
            return NULL;
        memset(grown + errors_slots_len, 0, sizeof(*grown) * (size_t)(len - errors_slots_len));
        errors_slots = grown;
        errors_slots_len = len;
    }
    return &errors_slots[index];
}

PyObject *gowsgi_errors_open(gowsgi_interp *it, gowsgi_request *req, PyObject **buffer)
{
    errors_slot *slot = errors_slot_for(it->index);
    if (slot == NULL)
        return PyErr_NoMemory();
    if (slot->stream == NULL) {
        PyObject *buf = gowsgi_log_new(req, GOWSGI_LOG_ERR, "<wsgi.errors>");
        PyObject *stream = buf ? gowsgi_log_wrap(it, buf) : NULL;
        if (stream == NULL) {
            Py_XDECREF(buf);
            return NULL;
        }
        slot->stream = stream;
        slot->buffer = (LogObject *)buf;
    }
    slot->buffer->req = req;
    *buffer = Py_NewRef((PyObject *)slot->buffer);
    return Py_NewRef(slot->stream);
}

/* The attributes reconfigure() can change, as the wrapper was made. */
static int stream_unchanged(gowsgi_interp *it, PyObject *stream)
{
    PyObject **dict = _PyObject_GetDictPtr(stream);
    if (dict != NULL && *dict != NULL && PyDict_GET_SIZE(*dict) > 0)
        return 0;
    PyObject *names[] = {it->str_line_buffering, it->str_write_through};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        PyObject *v = PyObject_GetAttr(stream, names[i]);
        int same = v == Py_True;
        Py_XDECREF(v);
        if (!same) {
            PyErr_Clear();
            return 0;
        }
    }
    PyObject *names_str[] = {it->str_encoding, it->str_errors};
    PyObject *want[] = {it->str_utf8, it->str_replace};
    for (size_t i = 0; i < 2; i++) {
        PyObject *v = PyObject_GetAttr(stream, names_str[i]);
        int same = v != NULL && PyUnicode_Check(v) && PyUnicode_Compare(v, want[i]) == 0;
        Py_XDECREF(v);
        if (!same) {
            PyErr_Clear();
            return 0;
        }
    }
    return 1;
}

void gowsgi_errors_release(gowsgi_interp *it, PyObject *stream, PyObject *buffer)
{
    errors_slot *slot = errors_slot_for(it->index);
    if (slot == NULL || slot->stream != stream)
        return;
    /* Held by the slot and the caller only (the wrapper holds the buffer):
     * nobody can see a later request's lines through them. */
    if (Py_REFCNT(stream) == 2 && Py_REFCNT(buffer) == 3 && !slot->buffer->expired &&
        stream_unchanged(it, stream))
        return;
    Py_CLEAR(slot->stream);
    Py_CLEAR(slot->buffer);
}

void gowsgi_log_detach(PyObject *obj)
{
    LogObject *self = (LogObject *)obj;
    GOWSGI_BEGIN_OBJECT_LOCK(obj);
    flush_pending_locked(self);
    self->req = NULL;
    GOWSGI_END_OBJECT_LOCK();
}

/* A stand-in for sys.stdin/sys.stdout under WSGIRestrictStdin/Stdout On: any
 * use raises, with mod_wsgi's message. */
typedef struct {
    PyObject_HEAD
    PyObject *name;
} RestrictedObject;

static PyObject *restricted_getattro(RestrictedObject *self, PyObject *attr)
{
    (void)attr;
    PyErr_Format(PyExc_OSError, "%U access restricted by mod_wsgi", self->name);
    return NULL;
}

static void restricted_dealloc(RestrictedObject *self)
{
    Py_XDECREF(self->name);
    gowsgi_object_free((PyObject *)self);
}

PyTypeObject gowsgi_RestrictedType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mod_wsgi.Restricted",
    .tp_basicsize = sizeof(RestrictedObject),
    .tp_dealloc = (destructor)restricted_dealloc,
    .tp_getattro = (getattrofunc)restricted_getattro,
    .tp_flags = Py_TPFLAGS_DEFAULT,
};

PyObject *gowsgi_restricted_new(const char *name)
{
    PyTypeObject *tp = gowsgi_type(GOWSGI_T_RESTRICTED);
    RestrictedObject *self = tp ? PyObject_New(RestrictedObject, tp) : NULL;
    if (self == NULL)
        return NULL;
    self->name = PyUnicode_FromString(name);
    return (PyObject *)self;
}
