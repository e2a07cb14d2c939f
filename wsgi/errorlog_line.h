/*
 * errorlog_line.h: one error-log line in Apache's default ErrorLog format,
 * written by a daemon process itself to its virtual host's error log (a
 * file or a piped logger's pipe, by descriptor) or to syslog. No Apache and
 * no Python here: the launcher (wsgi/launcher/) and the engine both use it,
 * so every line of a daemon carries the daemon's own pid and goes to the
 * log of the vhost that defines its group (ARCHITECTURE.md section 7).
 */
#ifndef GOWSGI_ERRORLOG_LINE_H
#define GOWSGI_ERRORLOG_LINE_H

#include <stddef.h>

#include "gowsgi.h"

/* Writes msg (len bytes, no newline) at level (APLOG_* numbering) as
 * Apache's default format does: "[time] [module:level] [pid N(:tid T)]
 * [remote ip:port] msg(, referer: R)". remote and referer may be NULL.
 * Nothing is written when the line is above the log's level. */
void gowsgi_errorlog_write(const gowsgi_daemon_log *log, int level, const char *remote, const char *referer,
                           const char *msg, size_t len);

/* Called, when set, around the one blocking call that writes a formatted
 * line (write() to the file or pipe, or syslog()), after msg, remote and
 * referer have been copied: the engine releases the GIL there, so that a
 * piped logger that stops reading stalls only the thread that writes, not
 * every Python thread of the process (as mod_wsgi's Log object releases it
 * around ap_log_error). unblock's result is handed to reblock. */
void gowsgi_errorlog_set_unblock(void *(*unblock)(void), void (*reblock)(void *));

#endif
