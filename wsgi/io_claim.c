/*
 * io_claim.c: one reader or writer at a time per request. Reads and
 * writes run with the GIL released, and an app may hand wsgi.input or
 * write() to its own threads: two threads inside Apache's filters for one
 * request, or one still inside after the request ended, would corrupt the
 * child. The state lives on the runner's stack, so the runner waits for
 * every user before it returns.
 */
#include "engine.h"

#include <unistd.h>

/* What the GIL kept to one thread at a time, when there is none. */
static gowsgi_nogil_lock io_lock;

int gowsgi_io_claim(gowsgi_reqstate *rs)
{
    gowsgi_nogil_lock_acquire(&io_lock);
    rs->io_users++;
    /* The request's own thread goes first: an app thread blocked reading a
     * body the client sends only after seeing the response would otherwise
     * hold the response back until Apache's Timeout. */
    if (rs->io_busy && rs->io_reading && gowsgi_current == rs)
        rs->req->io->interrupt_read(rs->req->ctx);
    while (rs->io_busy && !rs->ended) {
        gowsgi_nogil_lock_release(&io_lock);
        Py_BEGIN_ALLOW_THREADS
        usleep(200);
        Py_END_ALLOW_THREADS
        gowsgi_nogil_lock_acquire(&io_lock);
    }
    if (rs->ended) {
        rs->io_users--;
        gowsgi_nogil_lock_release(&io_lock);
        PyErr_SetString(PyExc_OSError, "request object has expired");
        return -1;
    }
    rs->io_busy = 1;
    gowsgi_nogil_lock_release(&io_lock);
    return 0;
}

void gowsgi_io_release(gowsgi_reqstate *rs)
{
    gowsgi_nogil_lock_acquire(&io_lock);
    rs->io_busy = 0;
    rs->io_reading = 0;
    rs->io_users--;
    gowsgi_nogil_lock_release(&io_lock);
}

void gowsgi_io_end(gowsgi_reqstate *rs)
{
    gowsgi_nogil_lock_acquire(&io_lock);
    rs->ended = 1;
    /* A thread blocked reading a body the client will only send after the
     * response would hold this request until Apache's Timeout. */
    if (rs->io_busy && rs->io_reading)
        rs->req->io->interrupt_read(rs->req->ctx);
    while (rs->io_users > 0) {
        gowsgi_nogil_lock_release(&io_lock);
        Py_BEGIN_ALLOW_THREADS
        usleep(1000);
        Py_END_ALLOW_THREADS
        gowsgi_nogil_lock_acquire(&io_lock);
    }
    gowsgi_nogil_lock_release(&io_lock);
}
