/*
 * config.h: gowsgi's configuration records, filled by the directive table
 * (directives.c) and read by the hooks. Names and defaults follow mod_wsgi 4.9.4.
 */
#ifndef GOWSGI_CONFIG_H
#define GOWSGI_CONFIG_H

#include "httpd.h"
#include "http_config.h"
#include "ap_regex.h"
#include "apr_tables.h"

/* Tri-state flags: UNSET means "inherit" when merging. */
#define GOWSGI_UNSET (-1)

/* WSGIMapHEADToGET values. */
enum { GOWSGI_MAP_HEAD_OFF = 0, GOWSGI_MAP_HEAD_ON = 1, GOWSGI_MAP_HEAD_AUTO = 2 };

/* Where a directive was written, for log lines: "file:line". */
typedef struct gowsgi_where {
    const char *file;
    int line;
} gowsgi_where;

/* WSGIScriptAlias / WSGIScriptAliasMatch. */
typedef struct gowsgi_alias {
    const char *location;          /* URL prefix, or the regex source for Match */
    const char *target;            /* file or directory; may hold $N for Match */
    ap_regex_t *regex;             /* NULL for the prefix form */
    const char *process_group;     /* NULL = not given on the alias */
    const char *application_group; /* NULL = not given */
    const char *callable_object;   /* NULL = not given */
    int pass_authorization;        /* GOWSGI_UNSET = not given */
    gowsgi_where where;
} gowsgi_alias;

/* WSGIDaemonProcess: every option is parsed and validated; the values are
 * kept so later work can honour them. */
typedef struct gowsgi_daemon {
    const char *name;
    const char *server_name;       /* ServerName of the defining vhost; NULL at top level */
    server_rec *server;            /* the defining server; its server_hostname is final
                                    * only after the whole config is read (a ServerName
                                    * may follow WSGIDaemonProcess in the vhost) */
    gowsgi_where where;
    apr_table_t *options;          /* option name -> value, as written */
    int processes;                 /* 1 */
    int processes_given;           /* wsgi.multiprocess rule */
    int threads;                   /* 15 */
} gowsgi_daemon;

/* WSGIImportScript. */
typedef struct gowsgi_import_script {
    const char *script;
    const char *process_group;     /* "" = Apache's children */
    const char *application_group;
    const char *callable_object;   /* a preloaded alias's callable; NULL for WSGIImportScript */
    gowsgi_where where;
} gowsgi_import_script;

/* WSGIHandlerScript. */
typedef struct gowsgi_handler_script {
    const char *name;              /* the handler name for SetHandler/AddHandler */
    const char *script;
    const char *process_group;
    const char *application_group;
    int pass_authorization;
    gowsgi_where where;
} gowsgi_handler_script;

/* A directive accepted but not honoured: warned about once at start-up. */
typedef struct gowsgi_unhonoured {
    const char *directive;
    const char *detail;            /* what happens instead */
    gowsgi_where where;
} gowsgi_unhonoured;

/* <WSGIInterpreterOptions process-group= application-group=> (mod_wsgi 6):
 * the settings of the interpreters it selects (interp_options.c). */
typedef struct gowsgi_interp_options {
    const char *process_group;     /* NULL: any; "" (%{GLOBAL}): Apache's children */
    const char *application_group; /* NULL: any; "" (%{GLOBAL}): the main interpreter */
    int per_interpreter_gil;       /* -1 unset, 0, 1 */
    int free_threading;            /* -1 unset, 0, 1 */
    const char *switch_interval;   /* WSGISwitchInterval inside; NULL unset */
    const char *python_path;       /* WSGIPythonPath inside: a layer after the process's path; NULL unset */
    int restrict_stdin;            /* WSGIRestrictStdin/Stdout/Signal inside: -1 unset, 0, 1 */
    int restrict_stdout;
    int restrict_signal;
    gowsgi_where where;
} gowsgi_interp_options;

/* Process-wide settings: directives allowed only in the main server config.
 * Reset before each configuration read (pre_config). */
typedef struct gowsgi_global {
    const char *library_path;      /* GoWSGILibrary; NULL = beside mod_gowsgi.so */
    const char *worker_share;      /* GoWSGIWorkerShare; NULL = fair_share.c's default */
    int daemon_start_on_demand;    /* WSGIDaemonStart on-demand: groups without start= (Off) */
    int daemon_start_limit;        /* WSGIDaemonStartLimit; 0 = 4 */
    const char *python_home;
    const char *python_home_tag;   /* the Python of a WSGIPythonHome virtualenv, or NULL */
    gowsgi_where python_home_where;
    const char *python_path;
    const char *python_eggs;
    int python_optimize;           /* 0 */
    const char *python_hash_seed;  /* NULL = random */
    apr_array_header_t *python_warnings;   /* const char * */
    int dont_write_bytecode;       /* Off */
    int destroy_interpreter;       /* On */
    int restrict_embedded;         /* Off */
    int python_required;           /* access/auth/dispatch scripts: Python runs in Apache's children
                                    * even under WSGIRestrictEmbedded On, as mod_wsgi's */
    int restrict_stdin;            /* Off in practice */
    int restrict_stdout;           /* Off in practice */
    int restrict_signal;           /* On */
    int lazy_initialization;       /* On */
    int case_sensitivity;          /* On */
    int verbose_debugging;         /* Off */
    int server_metrics;            /* Off */
    int socket_rotation;           /* On */
    const char *socket_prefix;
    const char *accept_mutex;
    const char *newrelic_config_file;
    const char *newrelic_environment;
    apr_array_header_t *daemons;         /* gowsgi_daemon */
    apr_array_header_t *import_scripts;  /* gowsgi_import_script: WSGIImportScript and the
                                          * preload of WSGIScriptAlias with both groups given,
                                          * for Apache's children and for daemon groups */
    apr_array_header_t *unhonoured;      /* gowsgi_unhonoured */
    int per_interpreter_gil;             /* WSGIPerInterpreterGIL outside a container: Off */
    int free_threading;                  /* WSGIFreeThreading outside a container: Off */
    apr_array_header_t *interp_options;  /* gowsgi_interp_options, in file order */
    /* mod_wsgi 6 (six_directives.c), as written; NULL when not given. */
    const char *switch_interval;         /* WSGISwitchInterval (seconds) */
    const char *slow_requests;           /* WSGISlowRequests (seconds) */
    long long slow_requests_us;          /* the same in microseconds (metrics.c) */
    int telemetry_options;               /* WSGITelemetryOptions flags */
    const char *telemetry_target;        /* WSGITelemetryService "unix:/path" */
    int telemetry_interval_ms;           /* its interval= (0: 1 s) */
} gowsgi_global;

/* Per-server (main server and each <VirtualHost>). */
typedef struct gowsgi_server_conf {
    apr_array_header_t *aliases;   /* gowsgi_alias, in file order */
    int map_head_to_get;           /* WSGIMapHEADToGET at server scope, Off when
                                    * not given (mod_wsgi 4.9.4 never gives its
                                    * field the documented Auto); a vhost with a
                                    * WSGI directive of its own has its own (Off
                                    * unless set there), one without shares the
                                    * main server's */
    int compat;                    /* GoWSGICompatibility: 4, 6, or GOWSGI_UNSET (= 4) */
} gowsgi_server_conf;

/* Per-directory, also holding the S/V-level defaults of S V D directives. */
typedef struct gowsgi_dir_conf {
    const char *process_group;     /* NULL unset; "" = %{GLOBAL} */
    const char *application_group; /* NULL unset; "" = %{GLOBAL} */
    const char *callable_object;   /* NULL unset */
    apr_array_header_t *restrict_process;  /* const char *, NULL unset */
    const char *dispatch_script;
    const char *dispatch_application_group;
    apr_array_header_t *handler_scripts;   /* gowsgi_handler_script, NULL unset */
    const char *access_script;
    const char *access_application_group;
    const char *auth_user_script;
    const char *auth_user_application_group;
    const char *auth_group_script;
    const char *auth_group_application_group;
    int group_authoritative;
    int pass_apache_request;
    int pass_authorization;
    int script_reloading;
    int error_override;
    int chunked_request;
    int map_head_to_get;           /* set in a section or .htaccess only */
    int ignore_activity;
    int enable_sendfile;
    apr_array_header_t *trusted_proxy_headers; /* const char *, NULL unset */
    apr_array_header_t *trusted_proxies;       /* gowsgi_proxy_net, NULL unset */
} gowsgi_dir_conf;

/* One WSGITrustedProxies entry. */
typedef struct gowsgi_proxy_net {
    const char *spec;              /* as written, for logs */
    struct apr_ipsubnet_t *subnet;
} gowsgi_proxy_net;

extern module AP_MODULE_DECLARE_DATA gowsgi_module;
extern gowsgi_global gowsgi_globals;
extern const command_rec gowsgi_directives[];

/* directives.c */
void gowsgi_globals_reset(apr_pool_t *pconf);
void *gowsgi_create_server_conf(apr_pool_t *p, server_rec *s);
void *gowsgi_merge_server_conf(apr_pool_t *p, void *base, void *add);
void *gowsgi_create_dir_conf(apr_pool_t *p, char *dir);
void *gowsgi_merge_dir_conf(apr_pool_t *p, void *base, void *add);
/* Logs one warning per directive accepted but not honoured. */
/* WSGIDestroyInterpreter's warning, given only where it applies: prefork's
 * children exit from a signal handler, where nothing may enter Python, so
 * neither process_stopping nor atexit handlers run in them. */
#define DETAIL_EXIT_CHILDREN \
    "atexit handlers and mod_wsgi's process_stopping event (subscribe_shutdown) run in daemon " \
    "processes only, not when an Apache child exits: prefork's children exit from a signal " \
    "handler, where nothing may enter Python, and on worker and event running them there " \
    "crashed the child now and then in testing"
void gowsgi_warn_unhonoured(server_rec *s);
/* The daemon group called name, or NULL. */
const gowsgi_daemon *gowsgi_find_daemon(const char *name);

#endif
