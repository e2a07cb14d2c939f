/*
 * gowsgi.h: the C ABI between mod_gowsgi.so (the Apache shim) and libgowsgi.so
 * (the engine). The shim describes a request as flat C data plus a table of I/O
 * callbacks; the engine never sees a request_rec and the shim never sees Python.
 *
 * Kept free of Apache and Python headers so both sides can include it.
 */
#ifndef GOWSGI_H
#define GOWSGI_H

#include <stddef.h>
#include <stdint.h>

#define GOWSGI_ABI_VERSION 13

/* Log levels use Apache's APLOG_* numbering so the shim passes them through. */
enum {
    GOWSGI_LOG_CRIT = 2,
    GOWSGI_LOG_ERR = 3,
    GOWSGI_LOG_WARNING = 4,
    GOWSGI_LOG_NOTICE = 5,
    GOWSGI_LOG_INFO = 6,
    GOWSGI_LOG_DEBUG = 7
};

/* Per-request I/O, implemented by the shim on top of request_rec. */
typedef struct gowsgi_io {
    /* Reads up to len body bytes: >0 bytes read, 0 at end of body, -1 on
     * error (read_error then says why). The first call sends 100-continue if
     * asked. */
    long (*read)(void *ctx, char *buf, size_t len);
    /* Sets the status and response headers. Content-Type and Content-Length
     * are applied to the request as Apache expects. Returns 0. */
    int (*start)(void *ctx, int status, const char *status_line, int nheaders,
                 const char *const *names, const char *const *values);
    /* Writes body bytes: 0, or -1 when the client has gone away. */
    int (*write)(void *ctx, const char *buf, size_t len);
    int (*flush)(void *ctx);
    /* Sends len bytes of fd from offset with sendfile: 0, or -1. */
    int (*sendfile)(void *ctx, int fd, int64_t offset, int64_t len);
    /* One error-log line attributed to this request's client. */
    void (*log)(void *ctx, int level, const char *msg, size_t len);
    /* The request has ended while an app thread is still blocked in read:
     * make that read return (end of body) and do not reuse the connection. */
    void (*interrupt_read)(void *ctx);
    /* Why the last read failed, in Apache's words (valid for the request). */
    const char *(*read_error)(void *ctx);
} gowsgi_io;

/* One request, as the shim resolved it against the configuration. */
typedef struct gowsgi_request {
    void *ctx;                       /* opaque to the engine: handed back to io */
    const gowsgi_io *io;

    const char *script;              /* the WSGI script file (r->filename) */
    int64_t script_mtime;            /* its mtime in microseconds, from Apache's stat */
    const char *process_group;       /* resolved; "" = embedded */
    const char *application_group;   /* resolved; "" = main interpreter */
    const char *callable_object;     /* module attribute to call */
    const char *handler_script;      /* mod_wsgi.handler_script ("" unless WSGIHandlerScript) */

    int script_reloading;            /* reload the script when its mtime changes */
    int enable_sendfile;             /* wsgi.file_wrapper may use io->sendfile */
    int head_only;                   /* HEAD request: run the app, send no body */
    int64_t request_start;           /* r->request_time, microseconds since the epoch */
    void *request_rec;               /* environ['apache.request_rec'] (WSGIPassApacheRequest On, embedded), or NULL */
    int modwsgi6;                    /* GoWSGICompatibility 6: mod_wsgi 6.0's rules where 4.9.4's differ */

    /* The environ's string entries, already latin-1 bytes as Apache holds them. */
    int nenv;
    const char *const *env_keys;
    const char *const *env_vals;
} gowsgi_request;

/* A call into a WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript
 * or WSGIDispatchScript: always in the Apache child (embedded), as
 * mod_wsgi's. The script is loaded as a module (reloaded when its mtime
 * changes and script_reloading is on), then the kind's function is called
 * with an environ made of req's entries plus the engine's own. */
enum {
    GOWSGI_HOOK_ALLOW_ACCESS = 1,    /* allow_access(environ, host=arg1) */
    GOWSGI_HOOK_CHECK_PASSWORD,      /* check_password(environ, user=arg1, password=arg2) */
    GOWSGI_HOOK_GET_REALM_HASH,      /* get_realm_hash(environ, user=arg1, realm=arg2) */
    GOWSGI_HOOK_GROUPS_FOR_USER,     /* groups_for_user(environ, user=arg1) */
    GOWSGI_HOOK_DISPATCH             /* process_group / application_group / callable_object(environ) */
};

/* What a hook call came to. Failures are logged by the engine, with the
 * script and the cause. */
enum {
    GOWSGI_HOOK_UNLOADED = -2,       /* the script would not load */
    GOWSGI_HOOK_FAILED = -1,         /* no such function, it raised, or returned the wrong type */
    GOWSGI_HOOK_NONE = 0,            /* returned None */
    GOWSGI_HOOK_TRUE = 1,
    GOWSGI_HOOK_FALSE = 2,
    GOWSGI_HOOK_VALUE = 3            /* returned strings: handed to put() */
};

typedef struct gowsgi_hook {
    gowsgi_request req;              /* script, script_mtime, application_group, script_reloading,
                                      * env_*, ctx and io (only io->log is used) */
    int kind;
    const char *arg1, *arg2;
    int is_https;                    /* mod_ssl.is_https() */
    /* mod_ssl.var_lookup(name): the value, or NULL for None. */
    const char *(*ssl_var)(void *ctx, const char *name);
    /* Each string a call returned: the user name (check_password), the hash
     * (get_realm_hash), every group (groups_for_user), or index 0, 1, 2 for
     * a dispatch's process group, application group, callable object. */
    void (*put)(void *ctx, int index, const char *s, size_t len);
} gowsgi_hook;

/* One file to import at process start (WSGIImportScript, or a preloaded alias). */
typedef struct gowsgi_import {
    const char *script;
    const char *application_group;
    const char *callable_object;     /* NULL for WSGIImportScript */
    const char *where;               /* "file:line" for log messages */
} gowsgi_import;

/* Apache's scoreboard, for mod_wsgi.server_metrics(). The shim walks it
 * (cshim/scoreboard.c) and hands each record to a visitor the engine gives
 * (wsgi/metrics.c builds the dict); the strings are the shim's copies,
 * valid during the call. Times are microseconds since the epoch. */
typedef struct gowsgi_sb_global {
    int server_limit;
    int thread_limit;
    int running_generation;
    int64_t restart_time;
} gowsgi_sb_global;

typedef struct gowsgi_sb_process {
    int process_num;
    int pid;
    int generation;
    int quiescing;
} gowsgi_sb_process;

typedef struct gowsgi_sb_worker {
    int thread_num;
    int generation;
    char status;                     /* mod_wsgi's letter: . _ S R W K L D C G I */
    unsigned long access_count;
    uint64_t bytes_served;
    int64_t start_time;
    int64_t stop_time;
    int64_t last_used;
    const char *client;
    const char *request;
    const char *vhost;
} gowsgi_sb_worker;

/* Each callback returns 0 to go on, -1 to stop the walk. global comes first,
 * then each process followed by its thread_limit workers. */
typedef struct gowsgi_sb_visitor {
    void *ctx;
    int (*global)(void *ctx, const gowsgi_sb_global *g);
    int (*process)(void *ctx, const gowsgi_sb_process *p);
    int (*worker)(void *ctx, const gowsgi_sb_worker *w);
} gowsgi_sb_visitor;

/* Walks the scoreboard: 0 when walked, 1 when this process has none (a
 * daemon forked before Apache made it), -1 when a callback stopped it. */
typedef int (*gowsgi_scoreboard_fn)(const gowsgi_sb_visitor *v);

/* An application group whose <WSGIInterpreterOptions> settings (mod_wsgi 6)
 * differ from its process's: each is already resolved (cshim/
 * interp_options.c), so it replaces the process's for that interpreter. */
typedef struct gowsgi_interp_override {
    const char *application_group;   /* "" = the main interpreter */
    const char *python_path_layers;  /* as gowsgi_init's, in full; or NULL */
    int restrict_stdin;
    int restrict_stdout;
    int restrict_signal;
    const char *switch_interval;     /* from a container naming it: set when it has its own GIL; or NULL */
} gowsgi_interp_override;

/* Per-process start-up settings (the main server's WSGIPython* directives). */
typedef struct gowsgi_init {
    int abi_version;
    int embedded;                    /* 0: WSGIRestrictEmbedded On, no Python here */
    const char *python_home;         /* NULL = the built-in prefix */
    const char *python_executable;   /* the interpreter whose prefix Python takes; NULL = the build's */
    const char *python_path;         /* ':'-separated, site.addsitedir order; or NULL */
    int optimize;                    /* WSGIPythonOptimize */
    const char *hash_seed;           /* NULL = random */
    int dont_write_bytecode;
    int nwarnings;
    const char *const *warnings;     /* WSGIPythonWarnings, -W syntax */
    int restrict_stdin;
    int restrict_stdout;
    int restrict_signal;
    int case_sensitivity;            /* WSGICaseSensitivity On: module names hash the lower-cased path */
    int verbose_debugging;           /* WSGIVerboseDebugging On */
    int nimports;
    const gowsgi_import *imports;

    int max_threads;                 /* threads per process (Apache's, or the group's) */
    int multithread;                 /* wsgi.multithread */
    int multiprocess;                /* wsgi.multiprocess */
    int run_once;                    /* wsgi.run_once */
    int max_processes;               /* for the mod_wsgi / apache modules */
    const char *process_group;       /* mod_wsgi.process_group: "" in Apache's children */
    const char *path_first;          /* put first in each interpreter's sys.path (a daemon's home=) */
    int apache_max_threads;          /* apache.threads_per_process (the MPM's) */
    int apache_max_processes;        /* apache.maximum_processes */
    const char *mpm_name;
    const char *server_description;  /* ap_get_server_description() */
    const char *server_built;
    int apache_version[3];

    /* Process-scoped error-log line (no request). */
    void (*log)(int level, const char *msg, size_t len);

    int destroy_interpreter;         /* WSGIDestroyInterpreter: atexit handlers run at exit */

    /* GoWSGICompatibility 6 where this process's Python starts (Apache's
     * main server; the vhost that defines a daemon group): Python starts as
     * mod_wsgi 6.0 starts it, with PEP 538's locale coercion and PEP 540's
     * UTF-8 mode under a C or POSIX locale. 0: as 4.9.4, with neither. */
    int python_modwsgi6;
    /* LC_CTYPE is already set from the environment (Apache's children:
     * cshim/engine_load.c, gowsgi_engine_process_setup): under 4.9.4's
     * rules Python leaves the locale alone (its configure_locale off). */
    int locale_set;

    /* mod_wsgi.server_metrics(): NULL when it answers None (WSGIServerMetrics
     * Off in Apache's children; the group's server-metrics= Off in a daemon). */
    gowsgi_scoreboard_fn scoreboard;

    /* mod_wsgi 6's GIL modes, resolved by the shim for this process's
     * group (cshim/gil_modes.c); what the process's Python cannot do is
     * warned about by the engine, which knows its Python. */
    int free_threading;              /* WSGIFreeThreading On: run with the GIL disabled */
    int per_interpreter_gil;         /* WSGIPerInterpreterGIL of the application groups below not named */
    int ngil_exceptions;
    const char *const *gil_exceptions; /* application groups whose WSGIPerInterpreterGIL is the opposite */

    /* mod_wsgi 6 (cshim/six_directives.c), as written in the configuration
     * (validated there): NULL when not given. */
    const char *switch_interval;     /* sys.setswitchinterval() seconds: WSGISwitchInterval or switch-interval= */
    const char *slow_requests;       /* WSGISlowRequests: seconds after which a running request is logged */
    const char *telemetry_target;    /* WSGITelemetryService "unix:/path", or NULL */
    int telemetry_interval_ms;       /* its interval= (0: 1 s) */
    int telemetry_options;           /* WSGITelemetryOptions flags (1: CaptureUserAgent) */

    /* WSGIPythonPath inside <WSGIInterpreterOptions> (mod_wsgi 6): layers
     * each put first on sys.path after python_path, least specific first;
     * '\n' between layers, ':' between a layer's directories; or NULL. */
    const char *python_path_layers;
    int ninterp_overrides;
    const gowsgi_interp_override *interp_overrides;
} gowsgi_init;

/* Where a daemon process writes its error-log lines itself (wsgi/
 * errorlog_line.h): the ErrorLog of the virtual host that defines its group
 * (the main server's outside any vhost), under its own pid, in Apache's
 * default format. Request lines carry the client as "[remote ip:port]". */
typedef struct gowsgi_daemon_log {
    int fd;                          /* that ErrorLog's file or pipe (O_APPEND); -1: none */
    int syslog_facility;             /* >= 0: "ErrorLog syslog": syslog(3) with this facility */
    const char *ident;               /* syslog ident (Apache's argv[0]) */
    int level;                       /* that vhost's LogLevel for this module (APLOG_*) */
    int threaded;                    /* write ":tid N" after the pid, as Apache does */
    const char *module;              /* "[module:level]": "gowsgi" */
} gowsgi_daemon_log;

/* One daemon process of a WSGIDaemonProcess group, handed to
 * gowsgi_daemon_main in the forked process once it runs as the group's user
 * (cshim/daemon_process.c). The daemon serves connections that arrive on
 * channel_fd (wsgi/daemon_channel.h) until it is told to stop or reaches a
 * limit, then returns its exit status. */
typedef struct gowsgi_daemon_init {
    gowsgi_init base;                /* Python settings, with the group's python-home/path */
    const char *group;               /* the process group's name */
    int process_index;               /* 0 .. processes-1 */
    int threads;                     /* worker threads; 0: only import scripts run */
    int channel_fd;                  /* the receive end of the group's channel */
    const unsigned char *secret;     /* GOWSGI_DAEMON_SECRET_SIZE bytes every request carries */
    int parent_pid;                  /* the Apache parent: peers must be its children */
    int parent_sid;                  /* ... and in its session (daemons leave it) */
    unsigned int peer_uid;           /* Apache's User: the only peer uid accepted */
    int maximum_requests;            /* 0: no limit */
    int shutdown_timeout;            /* seconds */
    int socket_timeout;              /* seconds */
    int restart_interval;            /* seconds, 0: none */
    int inactivity_timeout;          /* seconds, 0: none */
    int request_timeout;             /* seconds, 0: none */
    int interrupt_timeout;           /* seconds (mod_wsgi 6): request-timeout interrupts the thread first; 0: not */
    int queue_timeout;               /* seconds, 0: none */
    int graceful_timeout;            /* seconds a graceful stop may take */
    int eviction_timeout;            /* seconds, for SIGUSR1; 0: graceful_timeout */
    int cpu_time_limit;              /* seconds of CPU (SIGXCPU then drains) */
    int deadlock_timeout;            /* seconds the GIL may stay unobtainable; 0: no watch */
    int startup_timeout;             /* seconds a script may keep failing to load; 0: none */
    int send_buffer_size;            /* SO_SNDBUF of each connection's daemon end; 0: the OS's */
    int receive_buffer_size;         /* SO_RCVBUF likewise */
    char *exit_reason;               /* the engine writes why the process stops here */
    size_t exit_reason_size;
    /* Shared by the group's processes: the pid of the one replacing itself
     * for a changed script, 0 when none is; so they go one at a time. */
    int *reload_token;
    /* Set once the process takes requests, so Apache's children know the
     * group is up (the parent clears it when the process goes). */
    int *ready;
    /* How many of its worker threads wait for a request now: Apache's
     * children send on a kept connection only to a process that has one. */
    int *idle;
    /* The crash report's file (wsgi/crash_report.h), unnamed until a crash:
     * the Go runtime writes its own report of a fatal error there. -1: none. */
    int crash_fd;
    /* The group's tickets (daemon_ticket.h): a request is begun only once
     * its ticket says so, so a child can send one that was not elsewhere. */
    struct gowsgi_ticket *tickets;
    unsigned int ntickets;
    /* Its error log: when log.fd >= 0 or log.syslog_facility >= 0 the
     * process writes every line there itself (request lines too), else
     * through base.log and LOG frames. */
    gowsgi_daemon_log log;
} gowsgi_daemon_init;

#define GOWSGI_DAEMON_SECRET_SIZE 32

/* gowsgi_handle's answer when the response was started but is incomplete
 * (shorter than its Content-Length, or broken off by an error): the shim
 * must not reuse the connection, or the client would read the next
 * response as the rest of this body. */
#define GOWSGI_INCOMPLETE (-1)

/* Exported by libgowsgi.so. */
typedef int (*gowsgi_child_init_fn)(const gowsgi_init *init, char *errbuf, size_t errlen);
/* Returns 0 when the response was produced (Apache's OK), GOWSGI_INCOMPLETE,
 * or an HTTP status for Apache to answer with its own error document. */
typedef int (*gowsgi_serve_fn)(gowsgi_request *req);
/* Calls a hook script (gowsgi_hook); returns GOWSGI_HOOK_*. */
typedef int (*gowsgi_call_hook_fn)(gowsgi_hook *hook);
/* Runs a daemon process; returns its exit status. */
typedef int (*gowsgi_daemon_main_fn)(const gowsgi_daemon_init *init);


#endif
