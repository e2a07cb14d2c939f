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

/* Lets APLOG_MARK tag our warnings with this module (for LogLevel gowsgi:...). */
APLOG_USE_MODULE(gowsgi);

gowsgi_global gowsgi_globals;

/* The "what happens instead" texts of the start-up warnings. */
#define DETAIL_DAEMON \
    "daemon mode is not implemented yet: requests for daemon process " \
    "groups run embedded in Apache's children, as the Apache user"
#define DETAIL_IGNORED "not implemented yet: ignored"
#define DETAIL_DAEMON_ONLY \
    "only affects daemon mode, which is not implemented yet: ignored"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Prefix an error with the directive name unless it already starts with it
 * (Apache's own messages, e.g. from ap_check_cmd_context, already do).
 */
static const char *gw_err(cmd_parms *cmd, const char *msg)
{
    const char *name = cmd->cmd->name;
    size_t n = strlen(name);

    if (msg == NULL)
        return NULL;
    if (strncmp(msg, name, n) == 0 && (msg[n] == ' ' || msg[n] == ':'))
        return msg;
    return apr_pstrcat(cmd->pool, name, ": ", msg, NULL);
}

#define FAIL(msg) return gw_err(cmd, (msg))

/* Where the directive being processed was written. */
static gowsgi_where gw_where(cmd_parms *cmd)
{
    gowsgi_where w;

    w.file = NULL;
    w.line = 0;
    if (cmd->directive) {
        w.file = cmd->directive->filename;
        w.line = cmd->directive->line_num;
    }
    return w;
}

/*
 * True while a .htaccess file is being read. Apache's convention (see
 * http_config.h: "If cmd->pool == cmd->temp_pool ... assume .htaccess
 * context") is what ap_check_cmd_context(cmd, NOT_IN_HTACCESS) tests, so we
 * ask that public function rather than compare the pools ourselves.
 */
static int gw_in_htaccess(cmd_parms *cmd)
{
    return ap_check_cmd_context(cmd, NOT_IN_HTACCESS) != NULL;
}

/*
 * Record a directive that is accepted but not honoured. Only the server
 * configuration is recorded: a .htaccess file is read per request with
 * cmd->pool being the request pool, so appending to the pconf-lifetime
 * global list from there would grow it on every request (and point into
 * freed memory). Such uses are silently accepted, as documented.
 */
static void gw_unhonoured(cmd_parms *cmd, const char *detail)
{
    gowsgi_unhonoured *u;

    if (gw_in_htaccess(cmd) || gowsgi_globals.unhonoured == NULL)
        return;
    u = (gowsgi_unhonoured *)apr_array_push(gowsgi_globals.unhonoured);
    u->directive = cmd->cmd->name;
    u->detail = detail;
    u->where = gw_where(cmd);
}

/* On/Off, case-insensitive as in mod_wsgi. Returns 0/1, or -1 if neither. */
static int gw_onoff(const char *v)
{
    if (strcasecmp(v, "Off") == 0)
        return 0;
    if (strcasecmp(v, "On") == 0)
        return 1;
    return -1;
}

/* "%{GLOBAL}" is stored as "" (the main interpreter / embedded mode). */
static const char *gw_group(const char *v)
{
    return strcmp(v, "%{GLOBAL}") == 0 ? "" : v;
}

/*
 * Strict decimal integer: the whole string must be a number that fits an
 * int. mod_wsgi uses atoi() (so "2x" is 2); we reject such values instead,
 * with the same message, because they are always typing mistakes.
 */
static int gw_int(const char *v, int *out)
{
    char *end;
    long n;

    if (*v == '\0')
        return 0;
    errno = 0;
    n = strtol(v, &end, 10);
    if (*end != '\0' || errno == ERANGE || n < INT_MIN || n > INT_MAX)
        return 0;
    *out = (int)n;
    return 1;
}

static int gw_int64(const char *v, apr_int64_t *out)
{
    char *end;
    apr_int64_t n;

    if (*v == '\0')
        return 0;
    errno = 0;
    n = apr_strtoi64(v, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return 0;
    *out = n;
    return 1;
}

/*
 * Read one "name=value" option, as mod_wsgi's wsgi_parse_option: the name
 * runs to '=' with no white space, the value is one Apache word (quotes
 * allowed). On failure *bad is the offending word, for the message.
 */
static int gw_option(apr_pool_t *p, const char **line, const char **name,
                     const char **value, const char **bad)
{
    const char *str = *line;
    const char *end;

    while (*str && apr_isspace(*str))
        ++str;

    end = str;
    while (*end && *end != '=' && !apr_isspace(*end))
        ++end;

    if (*str == '\0' || *str == '=' || *end != '=') {
        const char *rest = str;
        *bad = ap_getword_conf(p, &rest);
        *line = rest;
        return 0;
    }

    *name = apr_pstrmemdup(p, str, end - str);
    *line = end + 1;
    *value = ap_getword_conf(p, line);
    return 1;
}

/* "Invalid option to WSGI <what> definition: '<text>'." */
static const char *gw_bad_option(cmd_parms *cmd, const char *what,
                                 const char *text)
{
    return gw_err(cmd, apr_psprintf(cmd->pool,
                  "Invalid option to WSGI %s definition: '%s'.", what, text));
}

/* Per-directory (or server-default) record of the directive. */
static gowsgi_dir_conf *gw_dconf(void *mconfig)
{
    return (gowsgi_dir_conf *)mconfig;
}

/*
 * Checks mod_wsgi makes when a directive names a daemon group at parse
 * time (WSGIImportScript, preloading WSGIScriptAlias): the group must be
 * defined earlier, and one defined in a <VirtualHost> is only usable from
 * a server with the same ServerName.
 */
static const char *gw_check_group(cmd_parms *cmd, const char *group)
{
    const gowsgi_daemon *d = gowsgi_find_daemon(group);
    const char *here = cmd->server->server_hostname;
    const char *there;

    if (d == NULL)
        return "WSGI process group not yet configured.";
    if (d->server == NULL || !d->server->is_virtual)
        return NULL;
    there = d->server->server_hostname;
    if (here && there && strcmp(here, there) != 0)
        return "WSGI process group not accessible.";
    if ((!here && there) || (here && !there))
        return "WSGI process group not matchable.";
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Main-server-only settings (S)                                             */
/* ------------------------------------------------------------------------ */

/* Describes an On/Off directive: where it goes and whether it is honoured. */
typedef struct gw_flag_desc {
    int *global;            /* S directive: field of gowsgi_globals */
    size_t dir_offset;      /* otherwise: int field of gowsgi_dir_conf */
    int allow_auto;         /* WSGIMapHEADToGET also takes Auto */
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

    value = gw_onoff(v);
    if (value < 0 && d->allow_auto && strcasecmp(v, "Auto") == 0)
        value = GOWSGI_MAP_HEAD_AUTO;
    if (value < 0) {
        FAIL(apr_pstrcat(cmd->pool, cmd->cmd->name, " must be one of: Off | On",
                         d->allow_auto ? " | Auto" : "", NULL));
    }

    if (d->global)
        *d->global = value;
    else
        *(int *)((char *)mconfig + d->dir_offset) = value;

    if (d->unhonoured)
        gw_unhonoured(cmd, d->unhonoured);
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
        gw_unhonoured(cmd, d->unhonoured);
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
    gw_unhonoured(cmd, DETAIL_DAEMON_ONLY);
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
            gw_unhonoured(cmd, DETAIL_DAEMON_ONLY);
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
    if (!gw_int(v, &n) || n < 0 || n > 2)
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
        if (!apr_isdigit(*v) || !gw_int64(v, &n) || n < 0 ||
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
        if (!gw_option(cmd->pool, &args, &name, &value, &bad)) {
            if (*bad == '\0')
                break;      /* only trailing white space was left */
            return gw_bad_option(cmd, "script alias", bad);
        }
        if (strcmp(name, "application-group") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI application group.");
            application_group = gw_group(value);
        }
        else if (strcmp(name, "process-group") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI process group.");
            process_group = gw_group(value);
        }
        else if (strcmp(name, "callable-object") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI callable object.");
            callable_object = value;
        }
        else if (strcmp(name, "pass-authorization") == 0) {
            pass_authorization = gw_onoff(value);
            if (pass_authorization < 0)
                FAIL("Invalid value for authorization flag.");
        }
        else {
            return gw_bad_option(cmd, "script alias",
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
            const char *err = gw_check_group(cmd, process_group);
            if (err)
                FAIL(err);
        }
        else {
            gowsgi_import_script *imp =
                (gowsgi_import_script *)apr_array_push(gowsgi_globals.import_scripts);
            imp->script = target;
            imp->process_group = process_group;
            imp->application_group = application_group;
            imp->where = gw_where(cmd);
        }
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
    alias->where = gw_where(cmd);

    /* The alias itself works; only routing to a daemon group does not. */
    if (process_group && *process_group) {
        gw_unhonoured(cmd, apr_pstrcat(cmd->pool, "process-group=",
                                       process_group, ": ", DETAIL_DAEMON,
                                       NULL));
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* WSGIDaemonProcess (S V)                                                   */
/* ------------------------------------------------------------------------ */

/* User name or #uid; sets *uid. Returns 0 if no such user. */
static int gw_lookup_user(apr_pool_t *p, const char *v, apr_uid_t *uid,
                          int check_uid_exists)
{
    apr_gid_t gid;

    if (*v == '#') {
        int n;
        char *name;
        if (!gw_int(v + 1, &n) || n < 0)
            return 0;
        *uid = (apr_uid_t)n;
        if (check_uid_exists && apr_uid_name_get(&name, *uid, p) != APR_SUCCESS)
            return 0;
        return 1;
    }
    return apr_uid_get(uid, &gid, v, p) == APR_SUCCESS;
}

/* Group name or #gid. Returns 0 if no such group. */
static int gw_lookup_group(apr_pool_t *p, const char *v, int check_gid_exists)
{
    apr_gid_t gid;

    if (*v == '#') {
        int n;
        char *name;
        if (!gw_int(v + 1, &n) || n < 0)
            return 0;
        if (check_gid_exists &&
            apr_gid_name_get(&name, (apr_gid_t)n, p) != APR_SUCCESS)
            return 0;
        return 1;
    }
    return apr_gid_get(&gid, v, p) == APR_SUCCESS;
}

/* Integer options checked the same way: value >= min. */
typedef struct gw_int_opt {
    const char *name;
    const char *what;       /* for "Invalid <what> for WSGI daemon process." */
    int min;
} gw_int_opt;

static const gw_int_opt gw_int_opts[] = {
    { "processes", "process count", 1 },
    { "stack-size", "stack size", 1 },
    { "maximum-requests", "request count", 0 },
    { "startup-timeout", "startup timeout", 0 },
    { "shutdown-timeout", "shutdown timeout", 0 },
    { "deadlock-timeout", "deadlock timeout", 0 },
    { "inactivity-timeout", "inactivity timeout", 0 },
    { "request-timeout", "request timeout", 0 },
    { "graceful-timeout", "graceful timeout", 0 },
    { "eviction-timeout", "eviction timeout", 0 },
    { "restart-interval", "restart interval", 0 },
    { "connect-timeout", "connect timeout", 0 },
    { "socket-timeout", "socket timeout", 0 },
    { "queue-timeout", "queue timeout", 0 },
    { "listen-backlog", "listen backlog", 0 },
    { "response-socket-timeout", "response socket timeout", 0 },
    { "cpu-time-limit", "CPU time limit", 0 },
    { "cpu-priority", "CPU priority", INT_MIN },
    { NULL, NULL, 0 }
};

/* Buffer sizes: 0 (default) or at least min. */
typedef struct gw_buf_opt {
    const char *name;
    const char *what;
    int min;
    const char *too_small;
} gw_buf_opt;

static const gw_buf_opt gw_buf_opts[] = {
    { "send-buffer-size", "send buffer size", 512,
      "Send buffer size must be >= 512 bytes, or 0 for system default." },
    { "receive-buffer-size", "receive buffer size", 512,
      "Receive buffer size must be >= 512 bytes, or 0 for system default." },
    { "header-buffer-size", "header buffer size", 8192,
      "Header buffer size must be >= 8192 bytes, or 0 for default." },
    { "response-buffer-size", "response buffer size", 65536,
      "Response buffer size must be >= 65536 bytes, or 0 for default." },
    { NULL, NULL, 0, NULL }
};

/* Options taking any string. */
static const char *const gw_str_opts[] = {
    "lang", "locale", "python-home", "python-path", "python-eggs",
    "display-name", "newrelic-config-file", "newrelic-environment", NULL
};

static const char *gw_invalid_daemon(cmd_parms *cmd, const char *what)
{
    return gw_err(cmd, apr_psprintf(cmd->pool,
                  "Invalid %s for WSGI daemon process.", what));
}

/* Validates one option; returns an error (unprefixed is fine) or NULL. */
static const char *gw_daemon_option(cmd_parms *cmd, gowsgi_daemon *d,
                                    const char *name, const char *value)
{
    apr_pool_t *p = cmd->pool;
    apr_uid_t uid;
    int i, n;

    for (i = 0; gw_int_opts[i].name; i++) {
        if (strcmp(name, gw_int_opts[i].name) == 0) {
            if (!gw_int(value, &n) || n < gw_int_opts[i].min)
                return gw_invalid_daemon(cmd, gw_int_opts[i].what);
            if (strcmp(name, "processes") == 0) {
                d->processes = n;
                d->processes_given = 1;   /* makes wsgi.multiprocess True */
            }
            return NULL;
        }
    }
    for (i = 0; gw_buf_opts[i].name; i++) {
        if (strcmp(name, gw_buf_opts[i].name) == 0) {
            if (!gw_int(value, &n))
                return gw_invalid_daemon(cmd, gw_buf_opts[i].what);
            if (n != 0 && n < gw_buf_opts[i].min)
                return gw_buf_opts[i].too_small;
            return NULL;
        }
    }
    for (i = 0; gw_str_opts[i]; i++) {
        if (strcmp(name, gw_str_opts[i]) == 0)
            return NULL;
    }

    if (strcmp(name, "threads") == 0) {
        if (!gw_int(value, &n) || n < 0 || n > 65533)
            return gw_invalid_daemon(cmd, "thread count");
        d->threads = n;
    }
    else if (strcmp(name, "user") == 0) {
        if (*value == '\0')
            return gw_invalid_daemon(cmd, "user");
        /* mod_wsgi rejects uid 0 before checking that a #uid exists. */
        if (!gw_lookup_user(p, value, &uid, 0))
            return apr_pstrcat(p, "bad user name ", value, NULL);
        if (uid == 0)
            return "WSGI process blocked from running as root.";
        if (*value == '#' && !gw_lookup_user(p, value, &uid, 1))
            return "Couldn't determine user name from uid.";
    }
    else if (strcmp(name, "group") == 0) {
        if (*value == '\0')
            return gw_invalid_daemon(cmd, "group");
        if (!gw_lookup_group(p, value, 0))
            return apr_pstrcat(p, "bad group name ", value, NULL);
    }
    else if (strcmp(name, "supplementary-groups") == 0) {
        const char *items = value;
        const char *g;
        long max = sysconf(_SC_NGROUPS_MAX);
        long count = 1;     /* the primary group counts too */

        if (max < 0)
            max = NGROUPS_MAX;
        while (*(g = ap_getword(p, &items, ',')) != '\0') {
            if (count >= max)
                return "Too many supplementary groups WSGI daemon process";
            if (!gw_lookup_group(p, g, 0))
                return apr_pstrcat(p, "bad group name ", g, NULL);
            count++;
        }
    }
    else if (strcmp(name, "umask") == 0) {
        char *end;
        long mask;
        if (*value == '\0')
            return gw_invalid_daemon(cmd, "umask");
        errno = 0;
        mask = strtol(value, &end, 8);
        if (*end != '\0' || errno == ERANGE || mask < 0)
            return gw_invalid_daemon(cmd, "umask");
    }
    else if (strcmp(name, "chroot") == 0) {
        if (geteuid() != 0)
            return "Cannot chroot WSGI daemon process when not root.";
        if (*value != '/')
            return gw_invalid_daemon(cmd, "chroot directory");
    }
    else if (strcmp(name, "home") == 0) {
        if (*value != '/')
            return gw_invalid_daemon(cmd, "home directory");
    }
    else if (strcmp(name, "socket-user") == 0) {
        if (*value == '\0')
            return gw_invalid_daemon(cmd, "socket user");
        if (!gw_lookup_user(p, value, &uid, 1))
            return *value == '#' ? "Couldn't determine user name from socket user."
                                 : apr_pstrcat(p, "bad user name ", value, NULL);
    }
    else if (strcmp(name, "script-user") == 0) {
        if (*value == '\0')
            return gw_invalid_daemon(cmd, "script user");
        if (!gw_lookup_user(p, value, &uid, 1))
            return *value == '#' ? "Couldn't determine uid from script user."
                                 : apr_pstrcat(p, "bad user name ", value, NULL);
    }
    else if (strcmp(name, "script-group") == 0) {
        if (*value == '\0')
            return gw_invalid_daemon(cmd, "script group");
        if (!gw_lookup_group(p, value, 1))
            return *value == '#' ? "Couldn't determine gid from script group."
                                 : apr_pstrcat(p, "bad group name ", value, NULL);
    }
    else if (strcmp(name, "memory-limit") == 0 ||
             strcmp(name, "virtual-memory-limit") == 0) {
        apr_int64_t bytes;
        if (!gw_int64(value, &bytes) || bytes < 0)
            return gw_invalid_daemon(cmd, name[0] == 'm' ? "memory limit"
                                                         : "virtual memory limit");
    }
    else if (strcmp(name, "server-metrics") == 0) {
        if (gw_onoff(value) < 0)
            return gw_invalid_daemon(cmd, "server metrics flag");
    }
    else {
        return gw_bad_option(cmd, "daemon process",
                             apr_pstrcat(p, name, "=", value, NULL));
    }
    return NULL;
}

static const char *gw_add_daemon_process(cmd_parms *cmd, void *mconfig,
                                         const char *args)
{
    gowsgi_daemon d;
    const char *name, *value, *bad, *err;

    (void)mconfig;
    memset(&d, 0, sizeof(d));
    d.processes = 1;
    d.threads = 15;
    d.options = apr_table_make(cmd->pool, 8);

    d.name = ap_getword_conf(cmd->pool, &args);
    if (*d.name == '\0')
        FAIL("Name of WSGI daemon process not supplied.");

    while (*args) {
        if (!gw_option(cmd->pool, &args, &name, &value, &bad)) {
            if (*bad == '\0')
                break;
            return gw_bad_option(cmd, "daemon process", bad);
        }
        err = gw_daemon_option(cmd, &d, name, value);
        if (err)
            FAIL(err);
        apr_table_set(d.options, name, value);  /* a repeated option: last wins */
    }

    if (apr_table_get(d.options, "script-user") &&
        apr_table_get(d.options, "script-group"))
        FAIL("Only one of script-user and script-group allowed.");

    /* Names are unique server-wide, across all virtual hosts. */
    if (gowsgi_find_daemon(d.name))
        FAIL("Name duplicates previous WSGI daemon definition.");

    d.server = cmd->server;
    d.server_name = cmd->server->is_virtual ? cmd->server->server_hostname : NULL;
    d.where = gw_where(cmd);
    *(gowsgi_daemon *)apr_array_push(gowsgi_globals.daemons) = d;

    gw_unhonoured(cmd, DETAIL_DAEMON);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* WSGIImportScript (S V)                                                    */
/* ------------------------------------------------------------------------ */

static const char *gw_add_import_script(cmd_parms *cmd, void *mconfig,
                                        const char *args)
{
    gowsgi_import_script imp;
    const char *name, *value, *bad;

    (void)mconfig;
    memset(&imp, 0, sizeof(imp));
    imp.script = ap_getword_conf(cmd->pool, &args);
    if (*imp.script == '\0')
        FAIL("Location of import script not supplied.");

    while (*args) {
        if (!gw_option(cmd->pool, &args, &name, &value, &bad)) {
            if (*bad == '\0')
                break;
            return gw_bad_option(cmd, "import script", bad);
        }
        if (strcmp(name, "application-group") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI application group.");
            imp.application_group = value;
        }
        else if (strcmp(name, "process-group") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI process group.");
            imp.process_group = value;
        }
        else {
            return gw_bad_option(cmd, "import script",
                                 apr_pstrcat(cmd->pool, name, "=", value, NULL));
        }
    }

    if (imp.application_group == NULL)
        FAIL("Name of WSGI application group required.");
    imp.application_group = gw_group(imp.application_group);
    if (imp.process_group == NULL)
        FAIL("Name of WSGI process group required.");
    imp.process_group = gw_group(imp.process_group);
    imp.where = gw_where(cmd);

    /* As mod_wsgi: any other name (even %{RESOURCE}) must be a daemon group
     * defined earlier in the file. */
    if (*imp.process_group) {
        const char *err = gw_check_group(cmd, imp.process_group);
        if (err)
            FAIL(err);
        gw_unhonoured(cmd, "not imported: daemon mode is not implemented yet");
        return NULL;
    }

    *(gowsgi_import_script *)apr_array_push(gowsgi_globals.import_scripts) = imp;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* S V D settings kept in the per-directory record                            */
/* ------------------------------------------------------------------------ */

static const char *gw_set_process_group(cmd_parms *cmd, void *mconfig,
                                        const char *v)
{
    gowsgi_dir_conf *dc = gw_dconf(mconfig);

    dc->process_group = gw_group(v);
    /* %{GLOBAL} means embedded, which is exactly what happens. */
    if (*dc->process_group)
        gw_unhonoured(cmd, DETAIL_DAEMON);
    return NULL;
}

static const char *gw_set_application_group(cmd_parms *cmd, void *mconfig,
                                            const char *v)
{
    (void)cmd;
    gw_dconf(mconfig)->application_group = gw_group(v);
    return NULL;
}

static const char *gw_set_callable_object(cmd_parms *cmd, void *mconfig,
                                          const char *v)
{
    (void)cmd;
    gw_dconf(mconfig)->callable_object = v;
    return NULL;
}

static const char *gw_set_restrict_process(cmd_parms *cmd, void *mconfig,
                                           const char *args)
{
    gowsgi_dir_conf *dc = gw_dconf(mconfig);

    /* Each use replaces the list, as in mod_wsgi. */
    dc->restrict_process = apr_array_make(cmd->pool, 4, sizeof(const char *));
    while (*args) {
        const char *w = ap_getword_conf(cmd->pool, &args);
        if (*w == '\0')
            break;
        *(const char **)apr_array_push(dc->restrict_process) = gw_group(w);
    }
    gw_unhonoured(cmd, DETAIL_DAEMON_ONLY);
    return NULL;
}

/* "path [application-group=A]" for the dispatch/access/auth scripts. */
static const char *gw_script_with_group(cmd_parms *cmd, const char *args,
                                        const char *what, const char **script,
                                        const char **group)
{
    const char *name, *value, *bad;
    const char *s, *g = NULL;

    s = ap_getword_conf(cmd->pool, &args);
    if (*s == '\0')
        FAIL(apr_psprintf(cmd->pool, "Location of %s script not supplied.", what));

    while (*args) {
        if (!gw_option(cmd->pool, &args, &name, &value, &bad)) {
            if (*bad == '\0')
                break;
            return gw_bad_option(cmd, apr_pstrcat(cmd->pool, what, " script",
                                                  NULL), bad);
        }
        if (strcmp(name, "application-group") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI application group.");
            g = gw_group(value);
        }
        else {
            return gw_bad_option(cmd, apr_pstrcat(cmd->pool, what, " script",
                                                  NULL),
                                 apr_pstrcat(cmd->pool, name, "=", value, NULL));
        }
    }
    *script = s;
    *group = g;
    gw_unhonoured(cmd, DETAIL_IGNORED);
    return NULL;
}

static const char *gw_set_dispatch_script(cmd_parms *cmd, void *mconfig,
                                          const char *args)
{
    gowsgi_dir_conf *dc = gw_dconf(mconfig);
    return gw_script_with_group(cmd, args, "dispatch", &dc->dispatch_script,
                                &dc->dispatch_application_group);
}

static const char *gw_set_access_script(cmd_parms *cmd, void *mconfig,
                                        const char *args)
{
    gowsgi_dir_conf *dc = gw_dconf(mconfig);
    return gw_script_with_group(cmd, args, "access", &dc->access_script,
                                &dc->access_application_group);
}

static const char *gw_set_auth_user_script(cmd_parms *cmd, void *mconfig,
                                           const char *args)
{
    gowsgi_dir_conf *dc = gw_dconf(mconfig);
    return gw_script_with_group(cmd, args, "auth user", &dc->auth_user_script,
                                &dc->auth_user_application_group);
}

static const char *gw_set_auth_group_script(cmd_parms *cmd, void *mconfig,
                                            const char *args)
{
    gowsgi_dir_conf *dc = gw_dconf(mconfig);
    return gw_script_with_group(cmd, args, "auth group", &dc->auth_group_script,
                                &dc->auth_group_application_group);
}

static const char *gw_add_handler_script(cmd_parms *cmd, void *mconfig,
                                         const char *args)
{
    gowsgi_dir_conf *dc = gw_dconf(mconfig);
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
        if (!gw_option(cmd->pool, &args, &name, &value, &bad)) {
            if (*bad == '\0')
                break;
            return gw_bad_option(cmd, "handler script", bad);
        }
        if (strcmp(name, "process-group") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI process group.");
            hs.process_group = gw_group(value);
        }
        else if (strcmp(name, "application-group") == 0) {
            if (*value == '\0')
                FAIL("Invalid name for WSGI application group.");
            hs.application_group = gw_group(value);
        }
        else if (strcmp(name, "pass-authorization") == 0) {
            hs.pass_authorization = gw_onoff(value);
            if (hs.pass_authorization < 0)
                FAIL("Invalid value for authorization flag.");
        }
        else {
            return gw_bad_option(cmd, "handler script",
                                 apr_pstrcat(cmd->pool, name, "=", value, NULL));
        }
    }
    hs.where = gw_where(cmd);

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

    gw_unhonoured(cmd, apr_pstrcat(cmd->pool, DETAIL_IGNORED,
                                   " (no handler called '", hs.name,
                                   "' is registered)", NULL));
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
    gowsgi_dir_conf *dc = gw_dconf(mconfig);

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
    gowsgi_dir_conf *dc = gw_dconf(mconfig);

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
    { NULL, APR_OFFSETOF(gowsgi_dir_conf, field), 0, unh }
#define GLOBAL_FLAG(field, unh) \
    { &gowsgi_globals.field, 0, 0, unh }

static gw_flag_desc f_lazy_init = GLOBAL_FLAG(lazy_initialization, DETAIL_IGNORED);
static gw_flag_desc f_verbose = GLOBAL_FLAG(verbose_debugging, DETAIL_IGNORED);
static gw_flag_desc f_dont_write = GLOBAL_FLAG(dont_write_bytecode, NULL);
static gw_flag_desc f_destroy = GLOBAL_FLAG(destroy_interpreter, DETAIL_IGNORED);
static gw_flag_desc f_restrict_emb = GLOBAL_FLAG(restrict_embedded, NULL);
static gw_flag_desc f_restrict_stdin = GLOBAL_FLAG(restrict_stdin, NULL);
static gw_flag_desc f_restrict_stdout = GLOBAL_FLAG(restrict_stdout, NULL);
static gw_flag_desc f_restrict_signal = GLOBAL_FLAG(restrict_signal, NULL);
static gw_flag_desc f_case = GLOBAL_FLAG(case_sensitivity, DETAIL_IGNORED);
static gw_flag_desc f_server_metrics = GLOBAL_FLAG(server_metrics, DETAIL_IGNORED);
static gw_flag_desc f_socket_rotation = GLOBAL_FLAG(socket_rotation, DETAIL_DAEMON_ONLY);

static gw_flag_desc f_pass_request = DIR_FLAG(pass_apache_request, DETAIL_IGNORED);
static gw_flag_desc f_pass_auth = DIR_FLAG(pass_authorization, NULL);
static gw_flag_desc f_reloading = DIR_FLAG(script_reloading, NULL);
static gw_flag_desc f_error_override = DIR_FLAG(error_override, DETAIL_DAEMON_ONLY);
static gw_flag_desc f_chunked = DIR_FLAG(chunked_request, NULL);
static gw_flag_desc f_map_head =
    { NULL, APR_OFFSETOF(gowsgi_dir_conf, map_head_to_get), 1, NULL };
static gw_flag_desc f_ignore_activity = DIR_FLAG(ignore_activity, DETAIL_DAEMON_ONLY);
static gw_flag_desc f_sendfile = DIR_FLAG(enable_sendfile, NULL);
static gw_flag_desc f_group_auth = DIR_FLAG(group_authoritative, DETAIL_IGNORED);

static gw_str_desc s_python_home = { &gowsgi_globals.python_home, NULL };
static gw_str_desc s_python_path = { &gowsgi_globals.python_path, NULL };
static gw_str_desc s_python_eggs = { &gowsgi_globals.python_eggs, NULL };
static gw_str_desc s_newrelic_cfg =
    { &gowsgi_globals.newrelic_config_file, DETAIL_IGNORED };
static gw_str_desc s_newrelic_env =
    { &gowsgi_globals.newrelic_environment, DETAIL_IGNORED };

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
    AP_INIT_RAW_ARGS("WSGIDaemonProcess", gw_add_daemon_process, NULL, RSRC_CONF,
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
    AP_INIT_TAKE1("WSGIPythonHome", gw_set_global_str, &s_python_home, RSRC_CONF,
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
    AP_INIT_RAW_ARGS("WSGIImportScript", gw_add_import_script, NULL, RSRC_CONF,
                     "Location of WSGI import script."),
    AP_INIT_RAW_ARGS("WSGIDispatchScript", gw_set_dispatch_script, NULL, SVD,
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
    AP_INIT_TAKE1("WSGIMapHEADToGET", gw_set_flag, &f_map_head, OR_FILEINFO,
                  "Enable/Disable mapping of HEAD to GET."),
    AP_INIT_TAKE1("WSGIIgnoreActivity", gw_set_flag, &f_ignore_activity, OR_FILEINFO,
                  "Enable/Disable reset of inactvity timeout."),
    AP_INIT_RAW_ARGS("WSGITrustedProxyHeaders", gw_set_trusted_proxy_headers, NULL,
                     OR_FILEINFO, "Specify a list of trusted proxy headers."),
    AP_INIT_RAW_ARGS("WSGITrustedProxies", gw_set_trusted_proxies, NULL,
                     OR_FILEINFO, "Specify a list of trusted proxies."),
    AP_INIT_TAKE1("WSGIEnableSendfile", gw_set_flag, &f_sendfile, OR_FILEINFO,
                  "Enable/Disable support for kernel sendfile."),
    AP_INIT_RAW_ARGS("WSGIAccessScript", gw_set_access_script, NULL, OR_AUTHCFG,
                     "Location of WSGI host access script file."),
    AP_INIT_RAW_ARGS("WSGIAuthUserScript", gw_set_auth_user_script, NULL, OR_AUTHCFG,
                     "Location of WSGI user auth script file."),
    AP_INIT_RAW_ARGS("WSGIAuthGroupScript", gw_set_auth_group_script, NULL, OR_AUTHCFG,
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
    AP_INIT_TAKE1("GoWSGILibrary", gw_set_library, NULL, RSRC_CONF,
                  "Path of libgowsgi.so (default: beside mod_gowsgi.so)."),
    { NULL }
};

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
}

void *gowsgi_create_server_conf(apr_pool_t *p, server_rec *s)
{
    (void)s;
    /* aliases stays NULL until a WSGIScriptAlias, so merging can tell
     * "none in this vhost" from "an empty list". */
    return apr_pcalloc(p, sizeof(gowsgi_server_conf));
}

void *gowsgi_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    gowsgi_server_conf *base = basev, *add = addv;
    gowsgi_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->aliases = add->aliases ? add->aliases : base->aliases;
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
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "gowsgi: %s at %s:%d is accepted but not honoured: %s",
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
