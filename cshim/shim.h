/*
 * shim.h: the hooks of mod_gowsgi.so and what they share. The shim maps Apache
 * onto the engine ABI (wsgi/gowsgi.h); it holds no Python and no Go.
 */
#ifndef GOWSGI_SHIM_H
#define GOWSGI_SHIM_H

#include "config.h"
#include "gowsgi.h"
#include "logno.h"

#include "http_log.h"

/* mod_gowsgi.c declares the module record, which carries the log index. */
#ifndef GOWSGI_MODULE_RECORD
APLOG_USE_MODULE(gowsgi);
#endif

/* engine_load.c: the engine in this child, or NULL when it failed to start. */
extern gowsgi_serve_fn gowsgi_engine_serve;
extern const char *gowsgi_engine_error;
void gowsgi_engine_load(apr_pool_t *pchild, server_rec *s);
/* Or at the first request that needs it (gowsgi_engine_ready, a no-op
 * once it has been tried or when it was loaded at child_init). */
void gowsgi_engine_defer(apr_pool_t *pchild, server_rec *s);
void gowsgi_engine_ready(void);
/* What Python's start changes in the whole process (PYTHON_EGG_CACHE, the
 * LC_CTYPE locale), done in child_init before Apache's worker threads run. */
void gowsgi_engine_process_setup(void);
/* crash_setup.c: an Apache child that crashes in C says so with the
 * crashing thread's Python stack (after libpython loads, before the engine). */
void gowsgi_child_crash_report(void);
/* The path of libgowsgi.so: GoWSGILibrary, or beside mod_gowsgi.so. */
const char *gowsgi_engine_library(apr_pool_t *p);

/* prefork_exit.c: a prefork child stopped while it serves a WSGI request
 * (between begin and end, which nest) ends at once. */
void gowsgi_prefork_exit_setup(void);
void gowsgi_prefork_serving_begin(void);
void gowsgi_prefork_serving_end(void);

/* engine_settings.c: the engine's start-up settings from the configuration. */
void gowsgi_engine_settings(apr_pool_t *p, gowsgi_init *init);
gowsgi_import *gowsgi_engine_imports(apr_pool_t *p, const char *process_group, int *n);
/* interp_options.c: what <WSGIInterpreterOptions> and the GIL directives
 * resolve to for process group pg ("" for Apache's children): the GIL
 * modes, the restrictions, the path layers, and the application groups
 * whose settings differ. */
void gowsgi_engine_interp_options(apr_pool_t *p, const char *pg, gowsgi_init *init);
const char *gowsgi_resolve_switch_interval(const char *pg);

/* alias.c: WSGIScriptAlias / WSGIScriptAliasMatch in translate_name. */
int gowsgi_translate_name(request_rec *r);
int gowsgi_is_script_aliased(request_rec *r);

/* groups.c: %{GLOBAL}, %{RESOURCE}, %{SERVER}, %{HOST}, %{ENV:var} expansion. */
const char *gowsgi_application_group(request_rec *r, const char *spec);
const char *gowsgi_process_group(request_rec *r, const char *spec);
const char *gowsgi_callable_object(request_rec *r, const char *spec);

/* cgi_vars.c: the CGI variables of the request, as flat arrays. */
void gowsgi_path_translated_configure(server_rec *s);
int gowsgi_path_translated_from_request(request_rec *r);
void gowsgi_environ(request_rec *r, const gowsgi_dir_conf *dconf, int pass_authorization,
                    gowsgi_request *req);

/* modwsgi_compat.c: GoWSGICompatibility; 1 when the request (the server)
 * takes mod_wsgi 6.0's rules, and the CGI variables 6.0 does not set. */
int gowsgi_modwsgi6(const request_rec *r);
int gowsgi_server_modwsgi6(const server_rec *s);
unsigned gowsgi_modwsgi6_kept(const apr_table_t *env);
void gowsgi_modwsgi6_drop(apr_table_t *env, unsigned kept);

/* proxy_headers.c: WSGITrustedProxyHeaders / WSGITrustedProxies. */
void gowsgi_proxy_headers(request_rec *r, const gowsgi_dir_conf *dconf);

/* apache_io.c: the engine's I/O callbacks over request_rec. */
extern const gowsgi_io gowsgi_request_io;
void *gowsgi_request_ctx(request_rec *r);
/* The response is complete: lets a client waiting for "100 Continue" have it. */
void gowsgi_request_done(void *ctx);
/* Ends a response that broke after it started: the client must see it cut short. */
void gowsgi_request_break(void *ctx);
void gowsgi_log_process(int level, const char *msg, size_t len);
extern server_rec *gowsgi_main_server;

/* scoreboard.c: Apache's scoreboard walked for the engine (gowsgi_init.scoreboard). */
int gowsgi_scoreboard_read(const gowsgi_sb_visitor *v);

/* handler.c */
int gowsgi_handler(request_rec *r);

#endif
