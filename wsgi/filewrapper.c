/*
 * filewrapper.c: wsgi.file_wrapper. For a real file it adds Content-Length
 * when the app gave none (file size minus the current position, as mod_wsgi)
 * and, with WSGIEnableSendfile On, hands the file to Apache's sendfile.
 */
#include "engine.h"

#include <sys/stat.h>

/* The largest read() the generic path makes of a regular file. */
#define FILE_BLOCK_MAX (1 << 20)

typedef struct {
    PyObject_HEAD
    PyObject *filelike;
    Py_ssize_t blksize;
} FileWrapperObject;

static PyObject *fw_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"filelike", "blksize", NULL};
    PyObject *filelike;
    Py_ssize_t blksize = 8192;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|n:FileWrapper", kwlist, &filelike, &blksize))
        return NULL;
    FileWrapperObject *self = (FileWrapperObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    Py_INCREF(filelike);
    self->filelike = filelike;
    self->blksize = blksize > 0 ? blksize : 8192;
    return (PyObject *)self;
}

static void fw_dealloc(FileWrapperObject *self)
{
    Py_XDECREF(self->filelike);
    gowsgi_object_free((PyObject *)self);
}

static PyObject *fw_iter(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

static PyObject *read_block(FileWrapperObject *self, Py_ssize_t size)
{
    PyObject *data = PyObject_CallMethod(self->filelike, "read", "n", size);
    if (data == NULL)
        return NULL;
    if (PyObject_Length(data) == 0) {
        Py_DECREF(data);
        return NULL;   /* StopIteration */
    }
    return data;
}

static PyObject *fw_iternext(FileWrapperObject *self)
{
    return read_block(self, self->blksize);
}

static PyObject *fw_close(FileWrapperObject *self, PyObject *Py_UNUSED(ignored))
{
    if (PyObject_HasAttrString(self->filelike, "close"))
        return PyObject_CallMethod(self->filelike, "close", NULL);
    Py_RETURN_NONE;
}

static PyMethodDef fw_methods[] = {
    {"close", (PyCFunction)fw_close, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyObject *fw_get_filelike(FileWrapperObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->filelike);
}

static PyObject *fw_get_blksize(FileWrapperObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(self->blksize);
}

static PyGetSetDef fw_getset[] = {
    {"filelike", (getter)fw_get_filelike, NULL, NULL, NULL},
    {"blksize", (getter)fw_get_blksize, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject gowsgi_FileWrapperType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mod_wsgi.FileWrapper",
    .tp_basicsize = sizeof(FileWrapperObject),
    .tp_dealloc = (destructor)fw_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_iter = fw_iter,
    .tp_iternext = (iternextfunc)fw_iternext,
    .tp_methods = fw_methods,
    .tp_getset = fw_getset,
    .tp_new = fw_new,
};

/* fileno() and tell() of a regular file, or -1 (no exception) when the
 * object is not one. */
static int file_position(PyObject *filelike, int *fd, long long *pos, long long *size)
{
    PyObject *r = PyObject_CallMethod(filelike, "fileno", NULL);
    if (r == NULL)
        goto no;
    *fd = (int)PyLong_AsLong(r);
    Py_DECREF(r);
    if (*fd < 0 || PyErr_Occurred())
        goto no;
    r = PyObject_CallMethod(filelike, "tell", NULL);
    if (r == NULL)
        goto no;
    *pos = PyLong_AsLongLong(r);
    Py_DECREF(r);
    if (*pos < 0 || PyErr_Occurred())
        goto no;
    struct stat sb;
    if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        goto no;
    *size = (long long)sb.st_size;
    return 0;
no:
    PyErr_Clear();
    return -1;
}

static int add_content_length(gowsgi_reqstate *rs, long long length)
{
    PyObject *pair = Py_BuildValue("(y y)", "Content-Length", "0");
    char buf[32];
    if (pair == NULL)
        return -1;
    snprintf(buf, sizeof(buf), "%lld", length);
    PyObject *value = PyBytes_FromString(buf);
    if (value == NULL) {
        Py_DECREF(pair);
        return -1;
    }
    Py_SETREF(((PyTupleObject *)pair)->ob_item[1], value);
    int rc = PyList_Append(rs->headers, pair);
    Py_DECREF(pair);
    rs->content_length = length;
    return rc;
}

int gowsgi_filewrapper_send(gowsgi_interp *it, gowsgi_reqstate *rs, PyObject *wrapper)
{
    FileWrapperObject *fw = (FileWrapperObject *)wrapper;
    int fd;
    long long pos, size;
    Py_ssize_t block = fw->blksize;
    (void)it;

    if (rs->started && !rs->headers_sent && file_position(fw->filelike, &fd, &pos, &size) == 0) {
        long long remaining = size > pos ? size - pos : 0;
        if (rs->content_length < 0 && add_content_length(rs, remaining) != 0)
            return -1;
        long long length = rs->content_length < remaining ? rs->content_length : remaining;
        if (rs->req->enable_sendfile) {
            int rc;
            if (gowsgi_send_headers(rs) != 0)
                return -1;
            if (length > 0) {
                if (gowsgi_io_claim(rs) != 0)
                    return -1;
                Py_BEGIN_ALLOW_THREADS
                rc = rs->req->io->sendfile(rs->req->ctx, fd, pos, length);
                Py_END_ALLOW_THREADS
                if (rc != 0)
                    rs->client_gone = 1;
                else
                    rs->body_sent += length;
                gowsgi_io_release(rs);
                if (rc != 0) {
                    PyErr_SetString(PyExc_OSError, "failed to send file: client connection closed");
                    return -1;
                }
            }
            return 0;
        }
        /* For a regular file the block size is a hint, as mod_wsgi treats
         * it (it hands Apache the file): never ask read() for more than is
         * left to send, nor for more than a bounded block at a time. */
        if (block > length)
            block = length > 0 ? (Py_ssize_t)length : 1;
        if (block > FILE_BLOCK_MAX)
            block = FILE_BLOCK_MAX;
    }
    /* Generic path: read blocks; Content-Length (declared or added) truncates. */
    PyObject *item;
    while ((item = read_block(fw, block)) != NULL) {
        int rc = PyBytes_Check(item) ? gowsgi_send_body(rs, PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item)) : -1;
        if (!PyBytes_Check(item))
            PyErr_Format(PyExc_TypeError, "sequence of byte string values expected, value of type %.200s found",
                         Py_TYPE(item)->tp_name);
        Py_DECREF(item);
        if (rc != 0)
            return -1;
        if (rs->content_length >= 0 && rs->body_sent >= rs->content_length)
            break;
    }
    return PyErr_Occurred() ? -1 : 0;
}
