/*
 * daemon_log_target.c: where a daemon group's processes write their error
 * log (ARCHITECTURE.md section 7, "its output is its own"), resolved in the
 * parent at start-up: the ErrorLog of the virtual host that defines the
 * group (the main server's outside any vhost), as a descriptor the daemon
 * writes finished lines to itself (wsgi/errorlog_line.h), with that vhost's
 * LogLevel for this module. So the daemon needs nothing of Apache's to log:
 * not its server_rec, not its other vhosts' logs.
 */
#define SYSLOG_NAMES 1
#include "daemon.h"

#include <syslog.h>

#include "apr_portable.h"
#include "http_core.h"
#include "http_main.h"
#include "apr_strings.h"


/* "syslog" or "syslog:facility", as Apache parses it (default local7). */
static int syslog_facility(const char *fname)
{
    const char *colon = strchr(fname, ':');
    if (colon == NULL)
        return LOG_LOCAL7;
    for (const CODE *c = facilitynames; c->c_name != NULL; c++)
        if (strcasecmp(colon + 1, c->c_name) == 0)
            return c->c_val;
    return LOG_LOCAL7;
}

void gowsgi_daemon_log_target(apr_pool_t *p, gowsgi_daemon_rt *rt)
{
    server_rec *s = rt->conf->server ? rt->conf->server : gowsgi_main_server;
    gowsgi_daemon_log *log = &rt->log;
    memset(log, 0, sizeof(*log));
    log->fd = -1;
    log->syslog_facility = -1;
    log->module = "gowsgi";
    log->ident = ap_server_argv0;
    log->level = ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX);
    /* Apache 2.4 as Debian ships it writes ":tid N" (the kernel's thread
     * id) under every MPM, prefork included (measured against mod_wsgi). */
    log->threaded = 1;
    apr_os_file_t fd;
    if (s->error_log != NULL && apr_os_file_get(&fd, s->error_log) == APR_SUCCESS) {
        log->fd = fd;   /* a file, or a piped logger's pipe */
    } else if (s->error_fname != NULL && strncasecmp(s->error_fname, "syslog", 6) == 0) {
        log->syslog_facility = syslog_facility(s->error_fname);
    } else {
        /* Another error-log provider: only Apache can feed it. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     GOWSGI_LOGNO(0006) "gowsgi: daemon process group '%s': its ErrorLog (%s) is neither a file, a "
                     "pipe nor syslog; "
                     "its processes write their lines to Apache's standard error instead", rt->conf->name,
                     s->error_fname ? s->error_fname : "none");
        log->fd = STDERR_FILENO;
    }
    core_server_config *core = ap_get_core_module_config(s->module_config);
    if (core != NULL && core->error_log_format != NULL)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     GOWSGI_LOGNO(0007) "gowsgi: daemon process group '%s' writes its own error-log lines in "
                     "Apache's default format; "
                     "the ErrorLogFormat of %s:%d is not applied to them", rt->conf->name,
                     s->server_hostname ? s->server_hostname : "the server", s->port);
    (void)p;
}
