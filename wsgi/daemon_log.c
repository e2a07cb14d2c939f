/*
 * daemon_log.c: see daemon_log.h.
 */
#include "daemon_log.h"
#include "errorlog_line.h"

#include <stdio.h>
#include <string.h>

static gowsgi_daemon_log daemon_log;
static int own_log;

static void process_line(int level, const char *msg, size_t len)
{
    gowsgi_errorlog_write(&daemon_log, level, NULL, NULL, msg, len);
}

void gowsgi_daemon_log_install(gowsgi_daemon_init *init)
{
    if (init->log.fd < 0 && init->log.syslog_facility < 0)
        return;
    daemon_log = init->log;
    own_log = 1;
    init->base.log = process_line;
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

int gowsgi_daemon_log_request(const char *remote, const char *referer, int level, const char *msg, size_t len)
{
    if (!own_log)
        return -1;
    gowsgi_errorlog_write(&daemon_log, level, remote, referer, msg, len);
    return 0;
}
