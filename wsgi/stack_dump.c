/*
 * stack_dump.c: what every Python thread was doing, written to the error log
 * at info level, when a daemon process stops for request-timeout. The
 * requests that outran the limit will never finish, so their stacks are the
 * only account of where they were stuck. Same lines as mod_wsgi's, innermost
 * frame first.
 */
#include "engine.h"

#include <frameobject.h>   /* PyFrame_GetBack, PyFrame_Check before 3.11 */

#include <unistd.h>

static void log_frames(unsigned long long thread_id, PyFrameObject *top)
{
    PyFrameObject *frame = (PyFrameObject *)Py_NewRef((PyObject *)top);
    while (frame != NULL) {
        PyCodeObject *code = PyFrame_GetCode(frame);
        PyFrameObject *back = PyFrame_GetBack(frame);
        const char *file = PyUnicode_AsUTF8(code->co_filename);
        const char *name = PyUnicode_AsUTF8(code->co_name);
        if (file == NULL || name == NULL) {
            PyErr_Clear();
            file = file ? file : "?";
            name = name ? name : "?";
        }
        int line = PyFrame_GetLineNumber(frame);
        if (frame == top)
            gowsgi_log_processf(GOWSGI_LOG_INFO,
                                GOWSGI_LOGNO(0217) "gowsgi (pid=%d): Thread %llu executing file \"%s\", line %d, in %s",
                                (int)getpid(), thread_id, file, line, name);
        else
            gowsgi_log_processf(GOWSGI_LOG_INFO,
                                GOWSGI_LOGNO(0218) "gowsgi (pid=%d): called from file \"%s\", line %d, in %s%s",
                                (int)getpid(), file, line, name, back ? "," : ".");
        Py_DECREF(code);
        Py_DECREF(frame);
        frame = back;
    }
}

static void log_header_once(int *said)
{
    if (!*said)
        gowsgi_log_processf(GOWSGI_LOG_INFO,
                            GOWSGI_LOGNO(0219) "gowsgi (pid=%d): Dumping stack trace for active Python threads.",
                            (int)getpid());
    *said = 1;
}

#ifdef Py_GIL_DISABLED
/* No GIL stops the threads: _PyThread_CurrentFrames stops the world
 * itself on a free-threaded build. */
void gowsgi_log_python_stacks(void)
{
    int said = 0;
    PyThreadState *ts = gowsgi_enter(gowsgi_interp_main());
    PyObject *frames = _PyThread_CurrentFrames();   /* every interpreter's threads */
    if (frames == NULL) {
        PyErr_Clear();
        gowsgi_log_processf(GOWSGI_LOG_INFO,
                            GOWSGI_LOGNO(0220) "gowsgi (pid=%d): could not read the Python threads' current frames",
                            (int)getpid());
    } else {
        Py_ssize_t pos = 0;
        PyObject *id, *frame;
        while (PyDict_Next(frames, &pos, &id, &frame)) {
            unsigned long long thread_id = PyLong_AsUnsignedLongLong(id);
            PyErr_Clear();   /* ids are unsigned longs; no error may reach the frame calls */
            if (PyFrame_Check(frame)) {
                log_header_once(&said);
                log_frames(thread_id, (PyFrameObject *)frame);
            }
        }
    }
    Py_XDECREF(frames);
    gowsgi_leave(ts);
}
#else
/* Interpreter by interpreter, each under its own GIL: with a GIL per
 * interpreter (PEP 684) another interpreter's threads run while one GIL is
 * held, so reading their frames (what _PyThread_CurrentFrames does for
 * all, making frame objects in their interpreters) would race them. */
void gowsgi_log_python_stacks(void)
{
    enum { MAX = 1024 };
    static gowsgi_interp *list[MAX];
    int said = 0;
    int n = gowsgi_interps_snapshot(list, MAX);
    for (int i = 0; i < n; i++) {
        PyThreadState *self = gowsgi_enter(list[i]);
        for (PyThreadState *t = PyInterpreterState_ThreadHead(list[i]->interp); t != NULL;
             t = PyThreadState_Next(t)) {
            if (t == self)
                continue;
            PyFrameObject *frame = PyThreadState_GetFrame(t);   /* new reference, or NULL */
            if (frame == NULL)
                continue;
            log_header_once(&said);
            log_frames((unsigned long long)t->thread_id, frame);
            Py_DECREF(frame);
        }
        PyErr_Clear();
        gowsgi_leave(self);
    }
}
#endif
