/*
 * daemon_log.h: a daemon process's error log (ARCHITECTURE.md section 7,
 * "its output is its own"): every line it writes, outside a request or in
 * one, goes to the ErrorLog of the vhost that defines its group under its
 * own pid, written by the process itself (errorlog_line.h), not sent to an
 * Apache child to log under the child's pid.
 */
#ifndef GOWSGI_DAEMON_LOG_H
#define GOWSGI_DAEMON_LOG_H

#include "gowsgi.h"

#include <stddef.h>

/* Takes over the process's log (init->base.log) when init->log names a
 * destination; before Python starts. */
void gowsgi_daemon_log_install(gowsgi_daemon_init *init);
/* The client of a request, "ip:port", and its Referer (or NULL), from the
 * request's environ, for its log lines. */
void gowsgi_daemon_log_client(const char *const *keys, const char *const *vals, int n, char *remote,
                              size_t remote_len, const char **referer);
/* Whether this process writes its own log (else a request's lines go as
 * LOG frames, and its client need not be looked up). */
int gowsgi_daemon_log_own(void);
/* Writes one line of a request: 0, or -1 when this process does not write
 * its own log (the line goes as a LOG frame then). */
int gowsgi_daemon_log_request(const char *remote, const char *referer, int level, const char *msg, size_t len);

#endif
