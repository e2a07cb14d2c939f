/*
 * daemon_log.c: see daemon_log.h.
 */
#include "daemon_log.h"
#include "engine.h"
#include "errorlog_line.h"

#include <stdio.h>
#include <string.h>

static gowsgi_daemon_log daemon_log;
static int own_log;

__thread int gowsgi_log_may_release;

/* Whether this thread holds the GIL: the thread state that runs Python now
 * is its own. (PyGILState_Check answers 1 for any thread once a
 * sub-interpreter exists, before 3.12; and before 3.12 the current thread
 * state is the process's, not the thread's.) */
static int holds_gil(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyThreadState *ts = PyThreadState_GetUnchecked();
#else
    PyThreadState *ts = gowsgi_thread_state_unchecked();
#endif
    return ts != NULL && ts->thread_id == PyThread_get_thread_ident();
}

/* Around the write of a line (errorlog_line.h): the GIL is released only
 * for a line written from Python's own streams (logstream.c says so),
 * whose caller touches nothing shared once it is formatted; a traceback or
 * a stack dump being walked keeps it. */
static void *release_gil(void)
{
    if (!gowsgi_log_may_release || !holds_gil())
        return NULL;
    return PyEval_SaveThread();
}

static void retake_gil(void *held)
{
    if (held != NULL)
        PyEval_RestoreThread((PyThreadState *)held);
}

static void process_line(int level, const char *msg, size_t len)
{
    gowsgi_errorlog_write(&daemon_log, level, NULL, NULL, msg, len);   /* logno: the writer's, or none */
}

void gowsgi_daemon_log_install(gowsgi_daemon_init *init)
{
    if (init->log.fd < 0 && init->log.syslog_facility < 0)
        return;
    daemon_log = init->log;
    own_log = 1;
    init->base.log = process_line;
    gowsgi_errorlog_set_unblock(release_gil, retake_gil);
}

void gowsgi_daemon_log_client(const char *const *keys, const char *const *vals, int n, char *remote,
                              size_t remote_len, const char **referer)
{
    const char *addr = NULL, *port = NULL;
    *referer = NULL;
    for (int i = 0; i < n; i++) {
        if (strcmp(keys[i], "REMOTE_ADDR") == 0)
            addr = vals[i];
        else if (strcmp(keys[i], "REMOTE_PORT") == 0)
            port = vals[i];
        else if (strcmp(keys[i], "HTTP_REFERER") == 0)
            *referer = vals[i];
    }
    snprintf(remote, remote_len, "%s:%s", addr ? addr : "", port ? port : "0");
}

int gowsgi_daemon_log_own(void)
{
    return own_log;
}

int gowsgi_daemon_log_request(const char *remote, const char *referer, int level, const char *msg, size_t len)
{
    if (!own_log)
        return -1;
    gowsgi_errorlog_write(&daemon_log, level, remote, referer, msg, len);   /* logno: the writer's, or none */
    return 0;
}
