/*
 * config.c: gowsgi's configuration records: resetting the process-wide
 * settings before each read, creating and merging the per-server and
 * per-directory records, and the start-up report of what is not honoured.
 */
#include "directive_parse.h"
#include "logno.h"

/* Lets APLOG_MARK tag our warnings with this module (for LogLevel gowsgi:...). */
APLOG_USE_MODULE(gowsgi);

gowsgi_global gowsgi_globals;

/* ------------------------------------------------------------------------ */
/* Config records                                                            */
/* ------------------------------------------------------------------------ */

void gowsgi_globals_reset(apr_pool_t *pconf)
{
    /* Everything from the previous read lived in the old pconf; start over. */
    memset(&gowsgi_globals, 0, sizeof(gowsgi_globals));
    gowsgi_globals.python_optimize = 0;
    gowsgi_globals.dont_write_bytecode = 0;
    gowsgi_globals.destroy_interpreter = 1;
    gowsgi_globals.restrict_embedded = 0;
    gowsgi_globals.python_required = 0;
    gowsgi_globals.restrict_stdin = 0;     /* mod_wsgi restricts only if On */
    gowsgi_globals.restrict_stdout = 0;
    gowsgi_globals.restrict_signal = 1;
    gowsgi_globals.lazy_initialization = 1;
    gowsgi_globals.case_sensitivity = 1;
    gowsgi_globals.verbose_debugging = 0;
    gowsgi_globals.server_metrics = 0;
    gowsgi_globals.socket_rotation = 1;
    gowsgi_globals.python_warnings = apr_array_make(pconf, 2, sizeof(const char *));
    gowsgi_globals.daemons = apr_array_make(pconf, 4, sizeof(gowsgi_daemon));
    gowsgi_globals.import_scripts = apr_array_make(pconf, 2,
                                                   sizeof(gowsgi_import_script));
    gowsgi_globals.unhonoured = apr_array_make(pconf, 4, sizeof(gowsgi_unhonoured));
    gowsgi_globals.interp_options = apr_array_make(pconf, 2, sizeof(gowsgi_interp_options));
}

void *gowsgi_create_server_conf(apr_pool_t *p, server_rec *s)
{
    (void)s;
    /* aliases stays NULL until a WSGIScriptAlias, so merging can tell
     * "none in this vhost" from "an empty list"; map_head_to_get starts
     * Off, as mod_wsgi 4.9.4's (its field is never given a default). */
    gowsgi_server_conf *conf = apr_pcalloc(p, sizeof(gowsgi_server_conf));
    conf->map_head_to_get = GOWSGI_MAP_HEAD_OFF;
    conf->compat = GOWSGI_UNSET;
    return conf;
}

void *gowsgi_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    gowsgi_server_conf *base = basev, *add = addv;
    gowsgi_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    /* mod_wsgi appends: a vhost's own aliases first (the first match wins),
     * then the main server's, so a site-wide mount still applies. */
    if (add->aliases && base->aliases)
        conf->aliases = apr_array_append(p, add->aliases, base->aliases);
    else
        conf->aliases = add->aliases ? add->aliases : base->aliases;
    /* mod_wsgi takes the vhost's own value whenever it is not -1, and an
     * unset one is 0 (Off): the main server's does not reach a vhost that
     * has a WSGI directive of its own. (Apache creates a module's config
     * for a vhost, and merges, only when one of its directives appears
     * there, in a section of it too; a vhost without shares the main
     * server's config, value and all.) */
    conf->map_head_to_get = add->map_head_to_get;
    /* GoWSGICompatibility: a vhost's own value, else the main server's. */
    conf->compat = add->compat != GOWSGI_UNSET ? add->compat : base->compat;
    return conf;
}

void *gowsgi_create_dir_conf(apr_pool_t *p, char *dir)
{
    gowsgi_dir_conf *dc = apr_pcalloc(p, sizeof(*dc));

    (void)dir;
    /* Pointers are NULL (unset) from apr_pcalloc; flags need UNSET. */
    dc->group_authoritative = GOWSGI_UNSET;
    dc->pass_apache_request = GOWSGI_UNSET;
    dc->pass_authorization = GOWSGI_UNSET;
    dc->script_reloading = GOWSGI_UNSET;
    dc->error_override = GOWSGI_UNSET;
    dc->chunked_request = GOWSGI_UNSET;
    dc->map_head_to_get = GOWSGI_UNSET;
    dc->ignore_activity = GOWSGI_UNSET;
    dc->enable_sendfile = GOWSGI_UNSET;
    return dc;
}

#define PICK(f) (add->f ? add->f : base->f)
#define PICK_FLAG(f) (add->f != GOWSGI_UNSET ? add->f : base->f)

/* Handler scripts: the base's, overridden by name by the child's
 * (mod_wsgi overlays the two hashes the same way). */
static apr_array_header_t *gw_merge_handlers(apr_pool_t *p,
                                             apr_array_header_t *base,
                                             apr_array_header_t *add)
{
    apr_array_header_t *out;
    const gowsgi_handler_script *b, *a;
    int i, j;

    if (!base || !add)
        return add ? add : base;
    out = apr_array_make(p, base->nelts + add->nelts,
                         sizeof(gowsgi_handler_script));
    b = (const gowsgi_handler_script *)base->elts;
    a = (const gowsgi_handler_script *)add->elts;
    for (i = 0; i < base->nelts; i++) {
        for (j = 0; j < add->nelts; j++)
            if (strcmp(b[i].name, a[j].name) == 0)
                break;
        if (j == add->nelts)
            *(gowsgi_handler_script *)apr_array_push(out) = b[i];
    }
    for (j = 0; j < add->nelts; j++)
        *(gowsgi_handler_script *)apr_array_push(out) = a[j];
    return out;
}

void *gowsgi_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    gowsgi_dir_conf *base = basev, *add = addv;
    gowsgi_dir_conf *dc = apr_pcalloc(p, sizeof(*dc));

    /* The child wins whenever it set a value (mod_wsgi L300-420). */
    dc->process_group = PICK(process_group);
    dc->application_group = PICK(application_group);
    dc->callable_object = PICK(callable_object);
    dc->restrict_process = PICK(restrict_process);

    /* A script and its application-group travel together: a child's script
     * without application-group must not pick up the parent's group. */
    if (add->dispatch_script) {
        dc->dispatch_script = add->dispatch_script;
        dc->dispatch_application_group = add->dispatch_application_group;
    } else {
        dc->dispatch_script = base->dispatch_script;
        dc->dispatch_application_group = base->dispatch_application_group;
    }
    if (add->access_script) {
        dc->access_script = add->access_script;
        dc->access_application_group = add->access_application_group;
    } else {
        dc->access_script = base->access_script;
        dc->access_application_group = base->access_application_group;
    }
    if (add->auth_user_script) {
        dc->auth_user_script = add->auth_user_script;
        dc->auth_user_application_group = add->auth_user_application_group;
    } else {
        dc->auth_user_script = base->auth_user_script;
        dc->auth_user_application_group = base->auth_user_application_group;
    }
    if (add->auth_group_script) {
        dc->auth_group_script = add->auth_group_script;
        dc->auth_group_application_group = add->auth_group_application_group;
    } else {
        dc->auth_group_script = base->auth_group_script;
        dc->auth_group_application_group = base->auth_group_application_group;
    }

    dc->handler_scripts = gw_merge_handlers(p, base->handler_scripts,
                                            add->handler_scripts);

    dc->group_authoritative = PICK_FLAG(group_authoritative);
    dc->pass_apache_request = PICK_FLAG(pass_apache_request);
    dc->pass_authorization = PICK_FLAG(pass_authorization);
    dc->script_reloading = PICK_FLAG(script_reloading);
    dc->error_override = PICK_FLAG(error_override);
    dc->chunked_request = PICK_FLAG(chunked_request);
    dc->map_head_to_get = PICK_FLAG(map_head_to_get);
    dc->ignore_activity = PICK_FLAG(ignore_activity);
    dc->enable_sendfile = PICK_FLAG(enable_sendfile);

    dc->trusted_proxy_headers = PICK(trusted_proxy_headers);
    dc->trusted_proxies = PICK(trusted_proxies);
    return dc;
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                   */
/* ------------------------------------------------------------------------ */

void gowsgi_warn_unhonoured(server_rec *s)
{
    const gowsgi_unhonoured *u;
    int i;

    if (gowsgi_globals.unhonoured == NULL)
        return;
    u = (const gowsgi_unhonoured *)gowsgi_globals.unhonoured->elts;
    for (i = 0; i < gowsgi_globals.unhonoured->nelts; i++) {
        /* Said only where Python runs in Apache's children. */
        if (strcmp(u[i].detail, DETAIL_EXIT_CHILDREN) == 0 && gowsgi_globals.restrict_embedded == 1 &&
            !gowsgi_globals.python_required)
            continue;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     GOWSGI_LOGNO(0001) "gowsgi: %s at %s:%d is accepted but not honoured: %s",
                     u[i].directive, u[i].where.file ? u[i].where.file : "(unknown)",
                     u[i].where.line, u[i].detail);
    }
}

const gowsgi_daemon *gowsgi_find_daemon(const char *name)
{
    const gowsgi_daemon *d;
    int i;

    if (name == NULL || gowsgi_globals.daemons == NULL)
        return NULL;
    d = (const gowsgi_daemon *)gowsgi_globals.daemons->elts;
    for (i = 0; i < gowsgi_globals.daemons->nelts; i++) {
        if (strcmp(d[i].name, name) == 0)
            return &d[i];
    }
    return NULL;
}
