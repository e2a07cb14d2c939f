/*
 * daemon_start.h: what a daemon process that cannot start, or waits before
 * starting, says and does, the same whether it is a fork of Apache's parent
 * (cshim/daemon_child.c) or the launcher (wsgi/launcher/main.c). Plain C:
 * the launcher includes none of Apache's headers.
 */
#ifndef GOWSGI_DAEMON_START_H
#define GOWSGI_DAEMON_START_H

#include "logno.h"

/* How long a process that could not start waits before exiting, and the
 * next one waits before starting after one died while starting, so a
 * broken group cannot become a fork loop. */
#define GOWSGI_SETUP_FAILURE_BACKOFF 5

/* The log line of a failed start: index, group, pid, what, ": " or "",
 * strerror or "", the back-off. */
#define GOWSGI_SETUP_FAILURE_LINE                                                                              \
    GOWSGI_LOGNO(0100) "gowsgi: daemon process %d of group '%s' (pid %d) could not start: %s%s%s; retrying in %d " \
                       "seconds"
/* Its reason in the process's slot (what the parent and the 503 say). */
#define GOWSGI_SETUP_FAILURE_REASON "could not start: %s%s%s"

/* The log line of a back-off (index, group, pid, seconds), and the reason
 * in the slot while it lasts: a request does not wait for a process that
 * may well fail again (cshim/daemon_forward.c, group_starting), and its
 * 503 says why. The slot's reason is cleared when the wait is over. */
#define GOWSGI_BACKOFF_LINE                                                                                    \
    GOWSGI_LOGNO(0101) "gowsgi: daemon process %d of group '%s' (pid %d): the last one died while starting; " \
                       "waiting %d seconds first"
#define GOWSGI_BACKOFF_REASON "the last one died while starting; waiting %d seconds before starting again"

#endif
