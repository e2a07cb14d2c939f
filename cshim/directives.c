/*
 * directives.c: gowsgi's configuration directives.
 *
 * Accepts the complete mod_wsgi 4.9.4 directive set (45 directives) with
 * the same contexts, argument forms and validations, plus GoWSGILibrary.
 * Values are only parsed and stored here; %{...} names are resolved per
 * request by the hooks.
 *
 * Error messages keep mod_wsgi's wording but always start with the
 * directive name ("WSGIDaemonProcess: ..."), so that configtest output,
 * which adds only file and line, names the directive.
 *
 * Directives gowsgi does not act on yet are still accepted (an unknown
 * directive would stop Apache starting) and are recorded in
 * gowsgi_globals.unhonoured, so start-up logs one warning per use.
 */


#include "directive_parse.h"
#include "fair_share.h"
#include "group_python.h"
#include "shim.h"

#include "http_core.h"

#include <libgen.h>


/* ------------------------------------------------------------------------ */
/* Main-server-only settings (S)                                             */
/* ------------------------------------------------------------------------ */

/* Describes an On/Off directive: where it goes and whether it is honoured. */
typedef struct gw_flag_desc {
    int *global;            /* S directive: field of gowsgi_globals */
    size_t dir_offset;      /* otherwise: int field of gowsgi_dir_conf */
    const char *unhonoured; /* NULL = honoured */
} gw_flag_desc;

static const char *gw_set_flag(cmd_parms *cmd, void *mconfig, const char *v)
{
    const gw_flag_desc *d = (const gw_flag_desc *)cmd->info;
    int value;

    if (d->global) {
        const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
        if (err)
            FAIL(err);
    }

    value = gowsgi_parse_onoff(v);
    if (value < 0)
        FAIL(apr_pstrcat(cmd->pool, cmd->cmd->name, " must be one of: Off | On", NULL));

    if (d->global)
        *d->global = value;
    else
        *(int *)((char *)mconfig + d->dir_offset) = value;

    if (d->unhonoured)
        gowsgi_cmd_unhonoured(cmd, d->unhonoured);
    return NULL;
}

/* WSGIMapHEADToGET Off|On|Auto. Stored where mod_wsgi 4.9.4 stores it: in
 * a section or .htaccess (cmd->path set) for the directory, otherwise for
 * the server being read (main or <VirtualHost>; see
 * gowsgi_merge_server_conf for what a vhost inherits). */
static const char *gw_set_map_head(cmd_parms *cmd, void *mconfig, const char *v)
{
    int value = gowsgi_parse_onoff(v);

    if (value < 0 && strcasecmp(v, "Auto") == 0)
        value = GOWSGI_MAP_HEAD_AUTO;
    if (value < 0)
        FAIL("WSGIMapHEADToGET must be one of: Off | On | Auto");
    if (cmd->path != NULL) {
        ((gowsgi_dir_conf *)mconfig)->map_head_to_get = value;
    } else {
        gowsgi_server_conf *sconf = ap_get_module_config(cmd->server->module_config, &gowsgi_module);
        sconf->map_head_to_get = value;
    }
    return NULL;
}

/* Describes a one-string S directive. */
typedef struct gw_str_desc {
    const char **global;
    const char *unhonoured;
} gw_str_desc;

static const char *gw_set_global_str(cmd_parms *cmd, void *mconfig,
                                     const char *v)
{
    const gw_str_desc *d = (const gw_str_desc *)cmd->info;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)mconfig;
    if (err)
        FAIL(err);
    *d->global = v;
    if (d->unhonoured)
        gowsgi_cmd_unhonoured(cmd, d->unhonoured);
    return NULL;
}

static const char *gw_set_library(cmd_parms *cmd, void *mconfig, const char *v)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *path;

    (void)mconfig;
    if (err)
        FAIL(err);
    /* Relative to ServerRoot, like LoadModule. */
    path = ap_server_root_relative(cmd->pool, v);
    if (path == NULL)
        FAIL(apr_pstrcat(cmd->pool, "Invalid library path '", v, "'.", NULL));
    gowsgi_globals.library_path = path;
    return NULL;
}

/* GoWSGIWorkerShare: the worker share of groups without worker-share=. */
static const char *gw_set_worker_share(cmd_parms *cmd, void *mconfig, const char *v)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)mconfig;
    if (err)
        FAIL(err);
    if (!gowsgi_fair_share_parse(v, NULL, NULL))
        FAIL(gowsgi_fair_share_invalid(cmd->pool, "the daemon process groups", v));
    gowsgi_globals.worker_share = v;
    return NULL;
}

/* WSGIDaemonStart: how groups without their own start= start
 * (daemon_starter.c). */
static const char *gw_set_daemon_start(cmd_parms *cmd, void *mconfig, const char *v)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)mconfig;
    if (err)
        FAIL(err);
    if (strcasecmp(v, "on-demand") == 0)
        gowsgi_globals.daemon_start_on_demand = 1;
    else if (strcasecmp(v, "eager") == 0)
        gowsgi_globals.daemon_start_on_demand = 0;
    else
        FAIL(apr_pstrcat(cmd->pool, "WSGIDaemonStart must be on-demand or eager, not '", v, "'.", NULL));
    return NULL;
}

/* WSGIDaemonStartLimit: how many on-demand groups may be starting at once. */
static const char *gw_set_daemon_start_limit(cmd_parms *cmd, void *mconfig, const char *v)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    int n;

    (void)mconfig;
    if (err)
        FAIL(err);
    if (!gowsgi_parse_int(v, &n) || n < 1 || n > 1024)
        FAIL(apr_pstrcat(cmd->pool, "WSGIDaemonStartLimit must be a number from 1 to 1024, not '", v, "'.", NULL));
    gowsgi_globals.daemon_start_limit = n;
    return NULL;
}

static const char *gw_set_socket_prefix(cmd_parms *cmd, void *mconfig,
                                        const char *v)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *path;

    (void)mconfig;
    if (err)
        FAIL(err);
    path = ap_server_root_relative(cmd->pool, v);
    if (path == NULL)
        FAIL(apr_pstrcat(cmd->pool, "Invalid WSGISocketPrefix '", v, "'.", NULL));
    gowsgi_globals.socket_prefix = path;
    gowsgi_cmd_unhonoured(cmd, DETAIL_NO_SOCKETS);
    return NULL;
}

/* The same list mod_wsgi prints, built from what this APR supports. */
static const char gw_mutex_list[] =
    "Valid accept mutex mechanisms for this platform are: default"
#if APR_HAS_FLOCK_SERIALIZE
    ", flock"
#endif
#if APR_HAS_FCNTL_SERIALIZE
    ", fcntl"
#endif
#if APR_HAS_SYSVSEM_SERIALIZE
    ", sysvsem"
#endif
#if APR_HAS_POSIXSEM_SERIALIZE
    ", posixsem"
#endif
#if APR_HAS_PROC_PTHREAD_SERIALIZE
    ", pthread"
#endif
    ".";

static const char *gw_set_accept_mutex(cmd_parms *cmd, void *mconfig,
                                       const char *v)
{
    static const char *const known[] = {
        "default",
#if APR_HAS_FLOCK_SERIALIZE
        "flock",
#endif
#if APR_HAS_FCNTL_SERIALIZE
        "fcntl",
#endif
#if APR_HAS_SYSVSEM_SERIALIZE
        "sysvsem",
#endif
#if APR_HAS_POSIXSEM_SERIALIZE
        "posixsem",
#endif
#if APR_HAS_PROC_PTHREAD_SERIALIZE
        "pthread",
#endif
    };
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    size_t i;

    (void)mconfig;
    if (err)
        FAIL(err);
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcasecmp(v, known[i]) == 0) {
            gowsgi_globals.accept_mutex = known[i];
            gowsgi_cmd_unhonoured(cmd, "not needed: only an idle daemon thread takes a request "
                                       "from its group's channel, so there is nothing to lock");
            return NULL;
        }
    }
    FAIL(apr_pstrcat(cmd->pool, "Accept mutex lock mechanism '", v,
                     "' is invalid. ", gw_mutex_list, NULL));
}

static const char *gw_set_python_optimize(cmd_parms *cmd, void *mconfig,
                                          const char *v)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    int n;

    (void)mconfig;
    if (err)
        FAIL(err);
    /* mod_wsgi takes atoi(v) unchecked; Python only knows levels 0..2. */
    if (!gowsgi_parse_int(v, &n) || n < 0 || n > 2)
        FAIL("WSGIPythonOptimize must be one of: 0 | 1 | 2");
    gowsgi_globals.python_optimize = n;
    return NULL;
}

static const char *gw_set_python_hash_seed(cmd_parms *cmd, void *mconfig,
                                           const char *v)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)mconfig;
    if (err)
        FAIL(err);
    /* Checked here, as mod_wsgi does, so Python cannot reject it later. */
    if (*v != '\0' && strcmp(v, "random") != 0) {
        apr_int64_t n;
        if (!apr_isdigit(*v) || !gowsgi_parse_int64(v, &n) || n < 0 ||
            n > APR_INT64_C(4294967295)) {
            FAIL("WSGIPythonHashSeed must be \"random\" or an integer "
                 "in range [0; 4294967295]");
        }
    }
    gowsgi_globals.python_hash_seed = v;
    return NULL;
}

static const char *gw_add_python_warnings(cmd_parms *cmd, void *mconfig,
                                          const char *v)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)mconfig;
    if (err)
        FAIL(err);
    /* Repeatable: each one is a separate -W option, applied in order. */
    *(const char **)apr_array_push(gowsgi_globals.python_warnings) = v;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* WSGIScriptAlias, WSGIScriptAliasMatch (S V)                               */
/* ------------------------------------------------------------------------ */

static const char *gw_add_script_alias(cmd_parms *cmd, void *mconfig,
                                       const char *args)
{
    gowsgi_server_conf *sconf =
        ap_get_module_config(cmd->server->module_config, &gowsgi_module);
    int is_match = cmd->info != NULL;
    const char *location, *target, *name, *value, *bad;
    gowsgi_alias *alias;
    ap_regex_t *regex = NULL;
    const char *process_group = NULL;
    const char *application_group = NULL;
    const char *callable_object = NULL;
    int pass_authorization = GOWSGI_UNSET;

    (void)mconfig;

    location = ap_getword_conf(cmd->pool, &args);
    if (*location == '\0' || *args == '\0')
        FAIL(apr_pstrcat(cmd->pool, cmd->cmd->name,
                         " requires at least two arguments, ",
                         cmd->cmd->errmsg, NULL));
    target = ap_getword_conf(cmd->pool, &args);
    if (*target == '\0')
        FAIL(apr_pstrcat(cmd->pool, cmd->cmd->name,
                         " requires at least two arguments, ",
                         cmd->cmd->errmsg, NULL));

    while (*args) {
        if (!gowsgi_parse_option(cmd->pool, &args, &name, &value, &bad)) {
            if (*bad == '\0')
                break;      /* only trailing white space was left */
            return gowsgi_cmd_bad_option(cmd, "script alias", bad);
        }
        if (strcmp(name, "application-group") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI application group.");
            application_group = gowsgi_parse_group(value);
        }
        else if (strcmp(name, "process-group") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI process group.");
            process_group = gowsgi_parse_group(value);
        }
        else if (strcmp(name, "callable-object") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI callable object.");
            callable_object = value;
        }
        else if (strcmp(name, "pass-authorization") == 0) {
            pass_authorization = gowsgi_parse_onoff(value);
            if (pass_authorization < 0)
                FAIL("Invalid value for authorization flag.");
        }
        else {
            return gowsgi_cmd_bad_option(cmd, "script alias",
                                 apr_pstrcat(cmd->pool, name, "=", value, NULL));
        }
    }

    if (is_match) {
        regex = ap_pregcomp(cmd->pool, location, AP_REG_EXTENDED);
        if (regex == NULL)
            FAIL("Regular expression could not be compiled.");
    }

    /*
     * Both groups given literally (and, for Match, a target without $N):
     * mod_wsgi preloads the script at process start. The daemon group must
     * then already be defined; embedded ones go on the import list.
     */
    if (process_group && application_group &&
        !strstr(process_group, "%{") && !strstr(application_group, "%{") &&
        (!is_match || !strchr(target, '$'))) {
        if (*process_group) {
            const char *err = gowsgi_cmd_check_group(cmd, process_group);
            if (err)
                FAIL(err);
        }
        gowsgi_import_script *imp =
            (gowsgi_import_script *)apr_array_push(gowsgi_globals.import_scripts);
        imp->script = target;
        imp->process_group = process_group;
        imp->application_group = application_group;
        imp->callable_object = NULL;   /* import only, as mod_wsgi preloads */
        imp->where = gowsgi_cmd_where(cmd);
    }

    /* A vhost's list is its own; the merge inherits the base list only when
     * the vhost has none (mod_wsgi's wsgi_merge_server_config). */
    if (sconf->aliases == NULL)
        sconf->aliases = apr_array_make(cmd->pool, 4, sizeof(gowsgi_alias));
    alias = (gowsgi_alias *)apr_array_push(sconf->aliases);
    alias->location = location;
    alias->target = target;
    alias->regex = regex;
    alias->process_group = process_group;
    alias->application_group = application_group;
    alias->callable_object = callable_object;
    alias->pass_authorization = pass_authorization;
    alias->where = gowsgi_cmd_where(cmd);

    return NULL;
}

/* ------------------------------------------------------------------------ */
/* S V D settings kept in the per-directory record                            */
/* ------------------------------------------------------------------------ */

static const char *gw_set_process_group(cmd_parms *cmd, void *mconfig,
                                        const char *v)
{
    gowsgi_dir_conf *dc = gowsgi_cmd_dconf(mconfig);

    (void)cmd;
    dc->process_group = gowsgi_parse_group(v);
    return NULL;
}

static const char *gw_set_application_group(cmd_parms *cmd, void *mconfig,
                                            const char *v)
{
    (void)cmd;
    gowsgi_cmd_dconf(mconfig)->application_group = gowsgi_parse_group(v);
    return NULL;
}

static const char *gw_set_callable_object(cmd_parms *cmd, void *mconfig,
                                          const char *v)
{
    (void)cmd;
    gowsgi_cmd_dconf(mconfig)->callable_object = v;
    return NULL;
}

static const char *gw_set_restrict_process(cmd_parms *cmd, void *mconfig,
                                           const char *args)
{
    gowsgi_dir_conf *dc = gowsgi_cmd_dconf(mconfig);

    /* Each use replaces the list, as in mod_wsgi. */
    dc->restrict_process = apr_array_make(cmd->pool, 4, sizeof(const char *));
    while (*args) {
        const char *w = ap_getword_conf(cmd->pool, &args);
        if (*w == '\0')
            break;
        *(const char **)apr_array_push(dc->restrict_process) = gowsgi_parse_group(w);
    }
    return NULL;
}

/* Where WSGIDispatchScript and the access/auth script directives keep
 * their script and application group (cmd_data of each table entry). */
typedef struct gw_script_desc {
    const char *what;              /* for messages: "dispatch", "auth user", ... */
    apr_size_t script_offset;      /* in gowsgi_dir_conf */
    apr_size_t group_offset;
} gw_script_desc;

#define SCRIPT_DESC(what, field) \
    { what, APR_OFFSETOF(gowsgi_dir_conf, field##_script), \
      APR_OFFSETOF(gowsgi_dir_conf, field##_application_group) }

static gw_script_desc s_dispatch = SCRIPT_DESC("dispatch", dispatch);
static gw_script_desc s_access = SCRIPT_DESC("access", access);
static gw_script_desc s_auth_user = SCRIPT_DESC("auth user", auth_user);
static gw_script_desc s_auth_group = SCRIPT_DESC("auth group", auth_group);

/* "path [application-group=A]" for the dispatch/access/auth scripts. */
static const char *gw_set_script_with_group(cmd_parms *cmd, void *mconfig, const char *args)
{
    const gw_script_desc *d = (const gw_script_desc *)cmd->info;
    const char *what = d->what;
    char *dc = (char *)gowsgi_cmd_dconf(mconfig);
    const char **script = (const char **)(dc + d->script_offset);
    const char **group = (const char **)(dc + d->group_offset);
    const char *name, *value, *bad;
    const char *s, *g = NULL;

    s = ap_getword_conf(cmd->pool, &args);
    if (*s == '\0')
        FAIL(apr_psprintf(cmd->pool, "Location of %s script not supplied.", what));

    while (*args) {
        if (!gowsgi_parse_option(cmd->pool, &args, &name, &value, &bad)) {
            if (*bad == '\0')
                break;
            return gowsgi_cmd_bad_option(cmd, apr_pstrcat(cmd->pool, what, " script",
                                                  NULL), bad);
        }
        if (strcmp(name, "application-group") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI application group.");
            g = gowsgi_parse_group(value);
        }
        else {
            return gowsgi_cmd_bad_option(cmd, apr_pstrcat(cmd->pool, what, " script",
                                                  NULL),
                                 apr_pstrcat(cmd->pool, name, "=", value, NULL));
        }
    }
    *script = s;
    *group = g;
    /* These scripts run in Apache's children: Python must start there
     * even under WSGIRestrictEmbedded On (mod_wsgi's wsgi_python_required). */
    gowsgi_globals.python_required = 1;
    return NULL;
}

static const char *gw_add_handler_script(cmd_parms *cmd, void *mconfig,
                                         const char *args)
{
    gowsgi_dir_conf *dc = gowsgi_cmd_dconf(mconfig);
    gowsgi_handler_script hs, *list;
    const char *name, *value, *bad;
    int i;

    memset(&hs, 0, sizeof(hs));
    hs.pass_authorization = GOWSGI_UNSET;
    hs.name = ap_getword_conf(cmd->pool, &args);
    if (*hs.name == '\0')
        FAIL("Name for handler script not supplied.");
    hs.script = ap_getword_conf(cmd->pool, &args);
    if (*hs.script == '\0')
        FAIL("Location of handler script not supplied.");

    while (*args) {
        if (!gowsgi_parse_option(cmd->pool, &args, &name, &value, &bad)) {
            if (*bad == '\0')
                break;
            return gowsgi_cmd_bad_option(cmd, "handler script", bad);
        }
        if (strcmp(name, "process-group") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI process group.");
            hs.process_group = gowsgi_parse_group(value);
        }
        else if (strcmp(name, "application-group") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI application group.");
            hs.application_group = gowsgi_parse_group(value);
        }
        else if (strcmp(name, "pass-authorization") == 0) {
            hs.pass_authorization = gowsgi_parse_onoff(value);
            if (hs.pass_authorization < 0)
                FAIL("Invalid value for authorization flag.");
        }
        else {
            return gowsgi_cmd_bad_option(cmd, "handler script",
                                 apr_pstrcat(cmd->pool, name, "=", value, NULL));
        }
    }
    hs.where = gowsgi_cmd_where(cmd);

    /* Keyed by handler name: redefining a name in the same scope replaces it
     * (mod_wsgi keeps them in a hash). */
    if (dc->handler_scripts == NULL)
        dc->handler_scripts = apr_array_make(cmd->pool, 2,
                                             sizeof(gowsgi_handler_script));
    list = (gowsgi_handler_script *)dc->handler_scripts->elts;
    for (i = 0; i < dc->handler_scripts->nelts; i++) {
        if (strcmp(list[i].name, hs.name) == 0) {
            list[i] = hs;
            break;
        }
    }
    if (i == dc->handler_scripts->nelts)
        *(gowsgi_handler_script *)apr_array_push(dc->handler_scripts) = hs;
    return NULL;
}

/*
 * Header name to its CGI variable, as mod_wsgi's wsgi_http2env:
 * X-Forwarded-For -> HTTP_X_FORWARDED_FOR.
 */
static const char *gw_http2env(apr_pool_t *p, const char *h)
{
    char *env = apr_pstrcat(p, "HTTP_", h, NULL);
    char *c;

    for (c = env + 5; *c; c++)
        *c = apr_isalnum(*c) ? apr_toupper(*c) : '_';
    return env;
}

static const char *gw_set_trusted_proxy_headers(cmd_parms *cmd, void *mconfig,
                                                const char *args)
{
    gowsgi_dir_conf *dc = gowsgi_cmd_dconf(mconfig);

    /* Repeated uses in one scope add to the list, as in mod_wsgi. */
    if (dc->trusted_proxy_headers == NULL)
        dc->trusted_proxy_headers = apr_array_make(cmd->pool, 4,
                                                   sizeof(const char *));
    while (*args) {
        const char *w = ap_getword_conf(cmd->pool, &args);
        if (*w == '\0')
            break;
        *(const char **)apr_array_push(dc->trusted_proxy_headers) =
            gw_http2env(cmd->pool, w);
    }
    return NULL;
}

/* mod_wsgi's pre-check: digits and dots (v4) or hex and colons (v6). */
static int gw_looks_like_ip(const char *ip)
{
    const char *set = strchr(ip, ':') ? "0123456789abcdef:/" : "0123456789./";

    if (*ip == '\0')
        return 0;
    return ip[strspn(ip, set)] == '\0';
}

static const char *gw_set_trusted_proxies(cmd_parms *cmd, void *mconfig,
                                          const char *args)
{
    gowsgi_dir_conf *dc = gowsgi_cmd_dconf(mconfig);

    if (dc->trusted_proxies == NULL)
        dc->trusted_proxies = apr_array_make(cmd->pool, 4,
                                             sizeof(gowsgi_proxy_net));
    while (*args) {
        const char *spec = ap_getword_conf(cmd->pool, &args);
        char *ip, *mask;
        apr_ipsubnet_t *sub;
        apr_status_t rv;
        gowsgi_proxy_net *net;

        if (*spec == '\0')
            break;
        if (!gw_looks_like_ip(spec))
            FAIL(apr_pstrcat(cmd->pool, "Unable to parse trusted proxy IP "
                             "address/subnet of \"", spec, "\".", NULL));
        ip = apr_pstrdup(cmd->temp_pool, spec);
        if ((mask = strchr(ip, '/')) != NULL)
            *mask++ = '\0';
        rv = apr_ipsubnet_create(&sub, ip, mask, cmd->pool);
        if (rv != APR_SUCCESS) {
            char msg[128];
            apr_strerror(rv, msg, sizeof(msg));
            FAIL(apr_pstrcat(cmd->pool, "Unable to parse trusted proxy IP "
                             "address/subnet of \"", spec, "\". ", msg, NULL));
        }
        net = (gowsgi_proxy_net *)apr_array_push(dc->trusted_proxies);
        net->spec = spec;
        net->subnet = sub;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The command table                                                         */
/* ------------------------------------------------------------------------ */

/* Not const: command_rec.cmd_data is a plain void *; never written. */
#define DIR_FLAG(field, unh) \
    { NULL, APR_OFFSETOF(gowsgi_dir_conf, field), unh }
#define GLOBAL_FLAG(field, unh) \
    { &gowsgi_globals.field, 0, unh }

static gw_flag_desc f_lazy_init = GLOBAL_FLAG(lazy_initialization, DETAIL_LAZY);
static gw_flag_desc f_verbose = GLOBAL_FLAG(verbose_debugging, NULL);
static gw_flag_desc f_dont_write = GLOBAL_FLAG(dont_write_bytecode, NULL);
static gw_flag_desc f_destroy = GLOBAL_FLAG(destroy_interpreter, DETAIL_EXIT_CHILDREN);
static gw_flag_desc f_restrict_emb = GLOBAL_FLAG(restrict_embedded, NULL);
static gw_flag_desc f_restrict_stdin = GLOBAL_FLAG(restrict_stdin, NULL);
static gw_flag_desc f_restrict_stdout = GLOBAL_FLAG(restrict_stdout, NULL);
static gw_flag_desc f_restrict_signal = GLOBAL_FLAG(restrict_signal, NULL);
static gw_flag_desc f_case = GLOBAL_FLAG(case_sensitivity, NULL);
static gw_flag_desc f_server_metrics = GLOBAL_FLAG(server_metrics, NULL);
static gw_flag_desc f_socket_rotation = GLOBAL_FLAG(socket_rotation, DETAIL_NO_SOCKETS);

static gw_flag_desc f_pass_request = DIR_FLAG(pass_apache_request, NULL);
static gw_flag_desc f_pass_auth = DIR_FLAG(pass_authorization, NULL);
static gw_flag_desc f_reloading = DIR_FLAG(script_reloading, NULL);
static gw_flag_desc f_error_override = DIR_FLAG(error_override, NULL);
static gw_flag_desc f_chunked = DIR_FLAG(chunked_request, NULL);
static gw_flag_desc f_ignore_activity = DIR_FLAG(ignore_activity, NULL);
static gw_flag_desc f_sendfile = DIR_FLAG(enable_sendfile, NULL);
static gw_flag_desc f_group_auth = DIR_FLAG(group_authoritative, NULL);

static gw_str_desc s_python_home = { &gowsgi_globals.python_home, NULL };

/* WSGIPythonHome: as any string, and a virtualenv's Python must be able to
 * run (group_python.c): daemon groups without python-home= run it, and
 * embedded mode must be the server's (checked once the whole config is
 * read: gowsgi_check_python_home). */
static const char *gw_set_python_home(cmd_parms *cmd, void *mconfig, const char *v)
{
    const char *err = gw_set_global_str(cmd, mconfig, v);
    if (err != NULL)
        return err;
    gowsgi_python py;
    char *dir = apr_pstrdup(cmd->pool, gowsgi_engine_library(cmd->pool));
    err = gowsgi_python_resolve(cmd->pool, "WSGIPythonHome ", v, NULL, dirname(dir), &py);
    /* Outside configtest the server starts anyway (as for python-home=,
     * daemon_directives.c): the groups that would run it cannot start. */
    if (err != NULL && ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL)
        FAIL(err);
    if (err != NULL)
        return NULL;
    gowsgi_globals.python_home_tag = py.executable != NULL ? py.tag : NULL;
    gowsgi_globals.python_home_where = gowsgi_cmd_where(cmd);
    return NULL;
}
static gw_str_desc s_python_path = { &gowsgi_globals.python_path, NULL };
static gw_str_desc s_python_eggs = { &gowsgi_globals.python_eggs, NULL };
static gw_str_desc s_newrelic_cfg =
    { &gowsgi_globals.newrelic_config_file, DETAIL_NEWRELIC };
static gw_str_desc s_newrelic_env =
    { &gowsgi_globals.newrelic_environment, DETAIL_NEWRELIC };

/* Context flags, as mod_wsgi 4.9.4 (checked with apache2 -L):
 * S = RSRC_CONF plus a GLOBAL_ONLY check in the handler; S V = RSRC_CONF;
 * S V D = RSRC_CONF|ACCESS_CONF (no OR_*: not allowed in .htaccess);
 * OR_FILEINFO = S V D and .htaccess with FileInfo;
 * OR_AUTHCFG = D and .htaccess with AuthConfig. */
#define SVD (RSRC_CONF | ACCESS_CONF)

const command_rec gowsgi_directives[] = {
    AP_INIT_RAW_ARGS("WSGIScriptAlias", gw_add_script_alias, NULL, RSRC_CONF,
                     "Map location to target WSGI script file."),
    AP_INIT_RAW_ARGS("WSGIScriptAliasMatch", gw_add_script_alias, "*", RSRC_CONF,
                     "Map location pattern to target WSGI script file."),
    AP_INIT_RAW_ARGS("WSGIDaemonProcess", gowsgi_cmd_daemon_process, NULL, RSRC_CONF,
                     "Specify details of daemon processes to start."),
    AP_INIT_TAKE1("WSGISocketPrefix", gw_set_socket_prefix, NULL, RSRC_CONF,
                  "Path prefix for the daemon process sockets."),
    AP_INIT_TAKE1("WSGISocketRotation", gw_set_flag, &f_socket_rotation, RSRC_CONF,
                  "Enable/Disable rotation of daemon process sockets."),
    AP_INIT_TAKE1("WSGIAcceptMutex", gw_set_accept_mutex, NULL, RSRC_CONF,
                  "Set accept mutex type for daemon processes."),
    AP_INIT_TAKE1("WSGILazyInitialization", gw_set_flag, &f_lazy_init, RSRC_CONF,
                  "Enable/Disable lazy Python initialization."),
    AP_INIT_TAKE1("WSGIVerboseDebugging", gw_set_flag, &f_verbose, RSRC_CONF,
                  "Enable/Disable verbose debugging messages."),
    AP_INIT_TAKE1("WSGIDontWriteBytecode", gw_set_flag, &f_dont_write, RSRC_CONF,
                  "Enable/Disable writing of byte code."),
    AP_INIT_TAKE1("WSGIPythonWarnings", gw_add_python_warnings, NULL, RSRC_CONF,
                  "Control Python warning messages."),
    AP_INIT_TAKE1("WSGIPythonOptimize", gw_set_python_optimize, NULL, RSRC_CONF,
                  "Set level of Python compiler optimisations."),
    AP_INIT_TAKE1("WSGIPythonHome", gw_set_python_home, &s_python_home, RSRC_CONF,
                  "Python prefix/exec_prefix absolute path names."),
    AP_INIT_TAKE1("WSGIPythonPath", gw_set_global_str, &s_python_path, RSRC_CONF,
                  "Python module search path."),
    AP_INIT_TAKE1("WSGIPythonEggs", gw_set_global_str, &s_python_eggs, RSRC_CONF,
                  "Python eggs cache directory."),
    AP_INIT_TAKE1("WSGIPythonHashSeed", gw_set_python_hash_seed, NULL, RSRC_CONF,
                  "Python hash seed."),
    AP_INIT_TAKE1("WSGIDestroyInterpreter", gw_set_flag, &f_destroy, RSRC_CONF,
                  "Enable/Disable destruction of Python interpreter."),
    AP_INIT_TAKE1("WSGIRestrictEmbedded", gw_set_flag, &f_restrict_emb, RSRC_CONF,
                  "Enable/Disable use of embedded mode."),
    AP_INIT_TAKE1("WSGIRestrictStdin", gw_set_flag, &f_restrict_stdin, RSRC_CONF,
                  "Enable/Disable restrictions on use of STDIN."),
    AP_INIT_TAKE1("WSGIRestrictStdout", gw_set_flag, &f_restrict_stdout, RSRC_CONF,
                  "Enable/Disable restrictions on use of STDOUT."),
    AP_INIT_TAKE1("WSGIRestrictSignal", gw_set_flag, &f_restrict_signal, RSRC_CONF,
                  "Enable/Disable restrictions on use of signal()."),
    AP_INIT_TAKE1("WSGICaseSensitivity", gw_set_flag, &f_case, RSRC_CONF,
                  "Define whether file system is case sensitive."),
    AP_INIT_RAW_ARGS("WSGIRestrictProcess", gw_set_restrict_process, NULL, SVD,
                     "Limit selectable WSGI process groups."),
    AP_INIT_TAKE1("WSGIProcessGroup", gw_set_process_group, NULL, SVD,
                  "Name of the WSGI process group."),
    AP_INIT_TAKE1("WSGIApplicationGroup", gw_set_application_group, NULL, SVD,
                  "Application interpreter group."),
    AP_INIT_TAKE1("WSGICallableObject", gw_set_callable_object, NULL, OR_FILEINFO,
                  "Name of entry point in WSGI script file."),
    AP_INIT_RAW_ARGS("WSGIImportScript", gowsgi_cmd_import_script, NULL, RSRC_CONF,
                     "Location of WSGI import script."),
    AP_INIT_RAW_ARGS("WSGIDispatchScript", gw_set_script_with_group, &s_dispatch, SVD,
                     "Location of WSGI dispatch script."),
    AP_INIT_TAKE1("WSGIPassApacheRequest", gw_set_flag, &f_pass_request, SVD,
                  "Enable/Disable Apache request object."),
    AP_INIT_TAKE1("WSGIPassAuthorization", gw_set_flag, &f_pass_auth, OR_FILEINFO,
                  "Enable/Disable WSGI authorization."),
    AP_INIT_TAKE1("WSGIScriptReloading", gw_set_flag, &f_reloading, OR_FILEINFO,
                  "Enable/Disable script reloading mechanism."),
    AP_INIT_TAKE1("WSGIErrorOverride", gw_set_flag, &f_error_override, OR_FILEINFO,
                  "Enable/Disable overriding of error pages."),
    AP_INIT_TAKE1("WSGIChunkedRequest", gw_set_flag, &f_chunked, OR_FILEINFO,
                  "Enable/Disable support for chunked requests."),
    AP_INIT_TAKE1("WSGIMapHEADToGET", gw_set_map_head, NULL, OR_FILEINFO,
                  "Enable/Disable mapping of HEAD to GET."),
    AP_INIT_TAKE1("WSGIIgnoreActivity", gw_set_flag, &f_ignore_activity, OR_FILEINFO,
                  "Enable/Disable reset of inactvity timeout."),
    AP_INIT_RAW_ARGS("WSGITrustedProxyHeaders", gw_set_trusted_proxy_headers, NULL,
                     OR_FILEINFO, "Specify a list of trusted proxy headers."),
    AP_INIT_RAW_ARGS("WSGITrustedProxies", gw_set_trusted_proxies, NULL,
                     OR_FILEINFO, "Specify a list of trusted proxies."),
    AP_INIT_TAKE1("WSGIEnableSendfile", gw_set_flag, &f_sendfile, OR_FILEINFO,
                  "Enable/Disable support for kernel sendfile."),
    AP_INIT_RAW_ARGS("WSGIAccessScript", gw_set_script_with_group, &s_access, OR_AUTHCFG,
                     "Location of WSGI host access script file."),
    AP_INIT_RAW_ARGS("WSGIAuthUserScript", gw_set_script_with_group, &s_auth_user, OR_AUTHCFG,
                     "Location of WSGI user auth script file."),
    AP_INIT_RAW_ARGS("WSGIAuthGroupScript", gw_set_script_with_group, &s_auth_group, OR_AUTHCFG,
                     "Location of WSGI group auth script file."),
    AP_INIT_TAKE1("WSGIGroupAuthoritative", gw_set_flag, &f_group_auth, OR_AUTHCFG,
                  "Enable/Disable as being authoritative on groups."),
    AP_INIT_RAW_ARGS("WSGIHandlerScript", gw_add_handler_script, NULL, SVD,
                     "Location of WSGI handler script file."),
    AP_INIT_TAKE1("WSGIServerMetrics", gw_set_flag, &f_server_metrics, RSRC_CONF,
                  "Enabled/Disable access to server metrics."),
    AP_INIT_TAKE1("WSGINewRelicConfigFile", gw_set_global_str, &s_newrelic_cfg,
                  RSRC_CONF, "New Relic monitoring agent configuration file."),
    AP_INIT_TAKE1("WSGINewRelicEnvironment", gw_set_global_str, &s_newrelic_env,
                  RSRC_CONF, "New Relic monitoring agent environment."),
    /* mod_wsgi 6's GIL modes (interp_options.c). */
    AP_INIT_TAKE1("WSGIPerInterpreterGIL", gowsgi_cmd_gil_flag, NULL, RSRC_CONF,
                  "Enable/Disable per-interpreter GIL for sub-interpreters (Python 3.12+)."),
    AP_INIT_TAKE1("WSGIFreeThreading", gowsgi_cmd_gil_flag, NULL, RSRC_CONF,
                  "Enable/Disable free-threaded Python (GIL disabled) for the matched process "
                  "(Python 3.13+ free-threaded build)."),
    AP_INIT_RAW_ARGS("<WSGIInterpreterOptions", gowsgi_cmd_interp_options, NULL, RSRC_CONF,
                     "Container scoping per-interpreter options to a named process-group "
                     "and/or application-group."),
    /* mod_wsgi 6's other server-wide directives (six_directives.c). */
    AP_INIT_TAKE1("WSGISwitchInterval", gowsgi_cmd_switch_interval, NULL, RSRC_CONF,
                  "Python GIL switch interval in seconds (sys.setswitchinterval)."),
    AP_INIT_TAKE1("WSGISlowRequests", gowsgi_cmd_slow_requests, NULL, RSRC_CONF,
                  "Seconds after which a still running request is reported as slow."),
    AP_INIT_TAKE12("WSGITelemetryService", gowsgi_cmd_telemetry_service, NULL, RSRC_CONF,
                   "Telemetry target 'unix:/path' [interval=SECONDS]."),
    AP_INIT_RAW_ARGS("WSGITelemetryOptions", gowsgi_cmd_telemetry_options, NULL, RSRC_CONF,
                     "Telemetry capture flags: [+|-]Flag ... | None | All."),
    AP_INIT_TAKE1("GoWSGILibrary", gw_set_library, NULL, RSRC_CONF,
                  "Path of libgowsgi.so (default: beside mod_gowsgi.so)."),
    AP_INIT_TAKE1("GoWSGIWorkerShare", gw_set_worker_share, NULL, RSRC_CONF,
                  "How many of Apache's workers a daemon process group may hold (default: 50%)."),
    AP_INIT_TAKE1("WSGIDaemonStart", gw_set_daemon_start, NULL, RSRC_CONF,
                  "How daemon process groups without start= start: eager (default) or on-demand."),
    AP_INIT_TAKE1("WSGIDaemonStartLimit", gw_set_daemon_start_limit, NULL, RSRC_CONF,
                  "How many on-demand daemon process groups may be starting at once (default: 4)."),
    AP_INIT_TAKE1("GoWSGICompatibility", gowsgi_cmd_compat, NULL, RSRC_CONF,
                  "Where mod_wsgi 4.9.4 and 6.0 differ, whose rules apply: 4 (default) or 6."),
    { NULL }
};
