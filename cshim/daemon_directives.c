/*
 * daemon_directives.c: WSGIDaemonProcess with all 43 of its 4.9.4 options,
 * mod_wsgi 6's switch-interval=, interrupt-timeout= and
 * response-flush-delay= (and gowsgi's own worker-share=,
 * python-executable= and start=), and
 * WSGIImportScript, which names a daemon group. Everything is validated as
 * mod_wsgi 4.9.4 validates it and kept for daemon mode.
 */
#include "directive_parse.h"
#include "fair_share.h"

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
        if (!gowsgi_parse_int(v + 1, &n) || n < 0)
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
        if (!gowsgi_parse_int(v + 1, &n) || n < 0)
            return 0;
        if (check_gid_exists &&
            apr_gid_name_get(&name, (apr_gid_t)n, p) != APR_SUCCESS)
            return 0;
        return 1;
    }
    return apr_gid_get(&gid, v, p) == APR_SUCCESS;
}

/* The most processes= a group may have: far beyond any real group, and
 * far below what would exhaust the host (each is a Python). */
#define GOWSGI_MAX_GROUP_PROCESSES 1024

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
    /* mod_wsgi 6 */
    { "interrupt-timeout", "interrupt timeout", 0 },
    { "response-flush-delay", "response flush delay", 0 },
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
    return gowsgi_cmd_err(cmd, apr_psprintf(cmd->pool,
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
            if (!gowsgi_parse_int(value, &n) || n < gw_int_opts[i].min)
                return gw_invalid_daemon(cmd, gw_int_opts[i].what);
            if (strcmp(name, "processes") == 0) {
                /* mod_wsgi forks whatever it is given, all at start: a
                 * slip of the keyboard (processes=65536) is a fork storm
                 * that takes the host down before Apache answers. */
                if (n > GOWSGI_MAX_GROUP_PROCESSES)
                    return gowsgi_cmd_err(cmd, apr_psprintf(p,
                                  "Invalid process count for WSGI daemon process: processes=%d is more than "
                                  "one group may have (%d).", n, GOWSGI_MAX_GROUP_PROCESSES));
                d->processes = n;
                d->processes_given = 1;   /* makes wsgi.multiprocess True */
            }
            return NULL;
        }
    }
    for (i = 0; gw_buf_opts[i].name; i++) {
        if (strcmp(name, gw_buf_opts[i].name) == 0) {
            if (!gowsgi_parse_int(value, &n))
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
        if (!gowsgi_parse_int(value, &n) || n < 0 || n > 65533)
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
        if (!gowsgi_parse_int64(value, &bytes) || bytes < 0)
            return gw_invalid_daemon(cmd, name[0] == 'm' ? "memory limit"
                                                         : "virtual memory limit");
    }
    else if (strcmp(name, "worker-share") == 0) {
        /* gowsgi's own (fair_share.c). */
        if (!gowsgi_fair_share_parse(value, NULL, NULL))
            return gowsgi_fair_share_invalid(p, "WSGI daemon process", value);
    }
    else if (strcmp(name, "server-metrics") == 0) {
        if (gowsgi_parse_onoff(value) < 0)
            return gw_invalid_daemon(cmd, "server metrics flag");
    }
    else if (strcmp(name, "switch-interval") == 0) {
        /* mod_wsgi 6: a positive number of seconds (six_directives.c). */
        if (gowsgi_check_switch_interval(value) != NULL)
            return gw_invalid_daemon(cmd, "switch interval");
    }
    else if (strcmp(name, "start") == 0) {
        /* gowsgi's own (daemon_starter.c). */
        if (strcmp(value, "on-demand") != 0 && strcmp(value, "eager") != 0)
            return gw_invalid_daemon(cmd, "start mode (on-demand or eager)");
    }
    else if (strcmp(name, "python-executable") == 0) {
        /* gowsgi's own (group_python.c). */
        if (*value != '/')
            return gw_invalid_daemon(cmd, "python executable (an absolute path)");
    }
    else {
        return gowsgi_cmd_bad_option(cmd, "daemon process",
                             apr_pstrcat(p, name, "=", value, NULL));
    }
    return NULL;
}

/* Options accepted and validated but not acted on: each one given is
 * named in a start-up warning with the reason (README, "Daemon mode"). */
static const char *const gw_unhonoured_options[][2] = {
    {"chroot", "is not implemented yet: ignored"},
    {"newrelic-config-file", "is " DETAIL_NEWRELIC},
    {"newrelic-environment", "is " DETAIL_NEWRELIC},
    {"response-flush-delay", "is not needed: gowsgi's daemon marks each point where the response "
     "must reach the client (a flush, each yielded item) and the Apache child flushes there "
     "only, never because the daemon's output ran dry for a moment, so there is nothing to delay"},
    {NULL, NULL}
};

static void gw_warn_unhonoured_options(cmd_parms *cmd, apr_table_t *options)
{
    int i;

    if (apr_table_get(options, "socket-user"))
        gowsgi_cmd_unhonoured(cmd, "option socket-user= is not needed: there is "
                              "no socket file to own (" DETAIL_NO_SOCKETS ")");

    for (i = 0; gw_unhonoured_options[i][0]; i++) {
        if (apr_table_get(options, gw_unhonoured_options[i][0]))
            gowsgi_cmd_unhonoured(cmd, apr_pstrcat(cmd->pool, "option ",
                                  gw_unhonoured_options[i][0], "= ",
                                  gw_unhonoured_options[i][1], NULL));
    }
}

const char *gowsgi_cmd_daemon_process(cmd_parms *cmd, void *mconfig,
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
        if (!gowsgi_parse_option(cmd->pool, &args, &name, &value, &bad)) {
            if (*bad == '\0')
                break;
            return gowsgi_cmd_bad_option(cmd, "daemon process", bad);
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
    d.where = gowsgi_cmd_where(cmd);
    *(gowsgi_daemon *)apr_array_push(gowsgi_globals.daemons) = d;

    gw_warn_unhonoured_options(cmd, d.options);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* WSGIImportScript (S V)                                                    */
/* ------------------------------------------------------------------------ */

const char *gowsgi_cmd_import_script(cmd_parms *cmd, void *mconfig,
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
        if (!gowsgi_parse_option(cmd->pool, &args, &name, &value, &bad)) {
            if (*bad == '\0')
                break;
            return gowsgi_cmd_bad_option(cmd, "import script", bad);
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
            return gowsgi_cmd_bad_option(cmd, "import script",
                                 apr_pstrcat(cmd->pool, name, "=", value, NULL));
        }
    }

    if (imp.application_group == NULL)
        FAIL("Name of WSGI application group required.");
    imp.application_group = gowsgi_parse_group(imp.application_group);
    if (imp.process_group == NULL)
        FAIL("Name of WSGI process group required.");
    imp.process_group = gowsgi_parse_group(imp.process_group);
    imp.where = gowsgi_cmd_where(cmd);

    /* As mod_wsgi: any other name (even %{RESOURCE}) must be a daemon group
     * defined earlier in the file. */
    if (*imp.process_group) {
        const char *err = gowsgi_cmd_check_group(cmd, imp.process_group);
        if (err)
            FAIL(err);
    }

    *(gowsgi_import_script *)apr_array_push(gowsgi_globals.import_scripts) = imp;
    return NULL;
}
