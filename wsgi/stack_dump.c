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
            gowsgi_log_processf(GOWSGI_LOG_INFO, "gowsgi (pid=%d): Thread %llu executing file \"%s\", line %d, in %s",
                                (int)getpid(), thread_id, file, line, name);
        else
            gowsgi_log_processf(GOWSGI_LOG_INFO, "gowsgi (pid=%d): called from file \"%s\", line %d, in %s%s",
                                (int)getpid(), file, line, name, back ? "," : ".");
        Py_DECREF(code);
        Py_DECREF(frame);
        frame = back;
    }
}

void gowsgi_log_python_stacks(void)
{
    PyThreadState *ts = gowsgi_enter(gowsgi_interp_main());
    PyObject *frames = _PyThread_CurrentFrames();   /* every interpreter's threads */
    if (frames == NULL) {
        PyErr_Clear();
        gowsgi_log_processf(GOWSGI_LOG_INFO, "gowsgi (pid=%d): could not read the Python threads' current frames",
                            (int)getpid());
    } else if (PyDict_GET_SIZE(frames) > 0) {
        gowsgi_log_processf(GOWSGI_LOG_INFO, "gowsgi (pid=%d): Dumping stack trace for active Python threads.",
                            (int)getpid());
        Py_ssize_t pos = 0;
        PyObject *id, *frame;
        while (PyDict_Next(frames, &pos, &id, &frame)) {
            unsigned long long thread_id = PyLong_AsUnsignedLongLong(id);
            PyErr_Clear();   /* ids are unsigned longs; no error may reach the frame calls */
            if (PyFrame_Check(frame))
                log_frames(thread_id, (PyFrameObject *)frame);
        }
    }
    Py_XDECREF(frames);
    gowsgi_leave(ts);
}
