/*
 * crash_traceback.c: the Python stacks of a crash report (crash_report.c)
 * where libpython does not export faulthandler's writers. Up to 3.12 the
 * handler calls CPython's _Py_DumpTraceback and _Py_DumpTracebackThreads
 * (found with dlsym); CPython 3.13 made both internal (no longer in
 * libpython's dynamic symbols), and a crash report lost its Python stack.
 * These write the same text faulthandler does ("  File "x", line N in f",
 * innermost first; "Current thread 0x... (most recent call first):" per
 * thread), from a signal handler: write(2) only, no lock, no allocation.
 * The shim and the launcher resolve them with dlsym (module/exports.map).
 */
#include "engine.h"

#include <unistd.h>

#define MAX_FRAMES 100
#define MAX_THREADS 100

static void put(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void puts_(int fd, const char *s)
{
    put(fd, s, strlen(s));
}

static void put_num(int fd, unsigned long v, unsigned base, int width)
{
    char buf[32];
    int i = sizeof(buf);
    do {
        buf[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while ((v > 0 || (int)sizeof(buf) - i < width) && i > 0);
    put(fd, buf + i, sizeof(buf) - (size_t)i);
}

#if PY_VERSION_HEX >= 0x030D0000 && PY_VERSION_HEX < 0x030E0000
/* A str as faulthandler writes it: ASCII as is, anything else escaped. */
static void put_str(int fd, PyObject *s)
{
    if (s == NULL || !PyUnicode_Check(s)) {
        puts_(fd, "???");
        return;
    }
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    for (Py_ssize_t i = 0; i < n && i < 500; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= ' ' && c < 0x7f) {
            char b = (char)c;
            put(fd, &b, 1);
        } else if (c <= 0xff) {
            puts_(fd, "\\x");
            put_num(fd, c, 16, 2);
        } else if (c <= 0xffff) {
            puts_(fd, "\\u");
            put_num(fd, c, 16, 4);
        } else {
            puts_(fd, "\\U");
            put_num(fd, c, 16, 8);
        }
    }
    if (n > 500)
        puts_(fd, "...");
}

/* The two leading members of 3.13's _PyInterpreterFrame
 * (Include/internal/pycore_frame.h), the only ones read here: the code
 * object (Py_None in the C-stack shim frames, which are skipped, as
 * faulthandler skips them) and the calling frame. The rest is reached
 * through libpython's own PyUnstable_InterpreterFrame_GetLine. */
typedef struct frame313 {
    PyObject *f_executable;
    struct frame313 *previous;
} frame313;

static void dump_frames(int fd, PyThreadState *ts)
{
    frame313 *f = (frame313 *)ts->current_frame;
    int depth = 0;
    if (f == NULL) {
        puts_(fd, "  <no Python frame>\n");
        return;
    }
    for (; f != NULL; f = f->previous) {
        if (f->f_executable == NULL || !PyCode_Check(f->f_executable))
            continue;   /* a shim frame */
        if (depth++ >= MAX_FRAMES) {
            puts_(fd, "  ...\n");
            return;
        }
        PyCodeObject *code = (PyCodeObject *)f->f_executable;
        puts_(fd, "  File \"");
        put_str(fd, code->co_filename);
        puts_(fd, "\", line ");
        int line = PyUnstable_InterpreterFrame_GetLine((struct _PyInterpreterFrame *)f);
        if (line >= 0)
            put_num(fd, (unsigned long)line, 10, 1);
        else
            puts_(fd, "???");
        puts_(fd, " in ");
        put_str(fd, code->co_name);
        puts_(fd, "\n");
    }
    if (depth == 0)
        puts_(fd, "  <no Python frame>\n");
}
#else
static void dump_frames(int fd, PyThreadState *ts)
{
    (void)ts;
    puts_(fd, "  <no Python frame>\n");
}
#endif

/* As _Py_DumpTraceback: one thread's stack. */
void gowsgi_crash_dump_traceback(int fd, void *tstate)
{
    if (tstate != NULL)
        dump_frames(fd, (PyThreadState *)tstate);
}

/* As _Py_DumpTracebackThreads: every thread of tstate's interpreter (of
 * interp's when tstate is NULL), the crashing one marked "Current". */
const char *gowsgi_crash_dump_threads(int fd, void *interp, void *tstate)
{
    PyThreadState *current = (PyThreadState *)tstate;
    PyInterpreterState *in = (PyInterpreterState *)interp;
    if (in == NULL && current != NULL)
        in = current->interp;
    if (in == NULL)
        return "unable to get the interpreter state";
    int n = 0;
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(in); ts != NULL; ts = PyThreadState_Next(ts)) {
        if (n > 0)
            puts_(fd, "\n");
        if (n++ >= MAX_THREADS) {
            puts_(fd, "...\n");
            break;
        }
        puts_(fd, ts == current ? "Current thread 0x" : "Thread 0x");
        put_num(fd, ts->thread_id, 16, (int)sizeof(unsigned long) * 2);
        puts_(fd, " (most recent call first):\n");
        dump_frames(fd, ts);
    }
    return NULL;
}
