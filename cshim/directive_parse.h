/*
 * directive_parse.h: what the directive files share: parsing helpers, the
 * error-message convention (every message starts with the directive name)
 * and the texts of the "accepted but not honoured" start-up warnings.
 */
#ifndef GOWSGI_DIRECTIVE_PARSE_H
#define GOWSGI_DIRECTIVE_PARSE_H

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_regex.h"
#include "apr_lib.h"
#include "apr_network_io.h"
#include "apr_strings.h"
#include "apr_tables.h"
#include "apr_user.h"

#include "config.h"

/* The "what happens instead" texts of the start-up warnings. */
#define DETAIL_IGNORED "not implemented yet: ignored"
/* Why the New Relic directives and options do nothing (mod_wsgi 6 removed them). */
#define DETAIL_NEWRELIC \
    "ignored: the New Relic agent is not loaded for you (mod_wsgi 6 removed this too); " \
    "wrap the application with the agent's own WSGI wrapper in the script"
/* WSGILazyInitialization Off would start Python in the Apache parent. */
#define DETAIL_LAZY \
    "ignored: gowsgi never starts Python in the Apache parent (what Off asks); each child " \
    "and daemon process starts its own, as with On"
#define DETAIL_NO_SOCKETS \
    "not needed: gowsgi's daemon processes are reached through a channel " \
    "the Apache parent hands to its children, not a socket file"

const char *gowsgi_cmd_err(cmd_parms *cmd, const char *msg);
/* In a directive handler: return msg as this directive's error. */
#define FAIL(msg) return gowsgi_cmd_err(cmd, (msg))
gowsgi_where gowsgi_cmd_where(cmd_parms *cmd);
int gowsgi_cmd_in_htaccess(cmd_parms *cmd);
void gowsgi_cmd_unhonoured(cmd_parms *cmd, const char *detail);
int gowsgi_parse_onoff(const char *v);
const char *gowsgi_parse_group(const char *v);
int gowsgi_parse_int(const char *v, int *out);
int gowsgi_parse_int64(const char *v, apr_int64_t *out);
int gowsgi_parse_option(apr_pool_t *p, const char **line, const char **name, const char **value, const char **bad);
const char *gowsgi_cmd_bad_option(cmd_parms *cmd, const char *what, const char *text);
gowsgi_dir_conf *gowsgi_cmd_dconf(void *mconfig);
const char *gowsgi_cmd_check_group(cmd_parms *cmd, const char *group);

/* interp_options.c */
const char *gowsgi_cmd_gil_flag(cmd_parms *cmd, void *mconfig, const char *v);
const char *gowsgi_cmd_interp_options(cmd_parms *cmd, void *mconfig, const char *arg);

/* six_directives.c */
const char *gowsgi_check_switch_interval(const char *v);
const char *gowsgi_cmd_switch_interval(cmd_parms *cmd, void *mconfig, const char *v);
const char *gowsgi_cmd_slow_requests(cmd_parms *cmd, void *mconfig, const char *v);
const char *gowsgi_cmd_telemetry_service(cmd_parms *cmd, void *mconfig, const char *target, const char *option);
const char *gowsgi_cmd_telemetry_options(cmd_parms *cmd, void *mconfig, const char *args);

/* modwsgi_compat.c */
const char *gowsgi_cmd_compat(cmd_parms *cmd, void *mconfig, const char *v);

/* daemon_directives.c */
const char *gowsgi_cmd_daemon_process(cmd_parms *cmd, void *mconfig, const char *args);
const char *gowsgi_cmd_import_script(cmd_parms *cmd, void *mconfig, const char *args);

#endif
