/*
 * engine.h: the Python-facing C of the engine. Go owns the lifecycle (which
 * interpreters exist, which scripts are loaded); this C runs a request inside
 * one interpreter with one crossing from Go.
 */
#ifndef GOWSGI_ENGINE_H
#define GOWSGI_ENGINE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "gowsgi.h"
#include "logno.h"
#include <stdlib.h>

/* What 3.10 added and the engine uses, for 3.9. */
#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
static inline PyObject *Py_XNewRef(PyObject *o)
{
    Py_XINCREF(o);
    return o;
}
static inline int PyModule_AddObjectRef(PyObject *m, const char *name, PyObject *value)
{
    Py_XINCREF(value);
    int r = PyModule_AddObject(m, name, value);
    if (r < 0)
        Py_XDECREF(value);
    return r;
}
#endif

/* Without a GIL (a free-threaded build, WSGIFreeThreading On), threads of
 * one interpreter run the engine's C at once: what the GIL serialised is
 * serialised by these. An object's critical section (3.13+; nothing
 * before, where the GIL does it), and a plain lock that is nothing with a
 * GIL. */
#if PY_VERSION_HEX >= 0x030D0000
#define GOWSGI_BEGIN_OBJECT_LOCK(o) Py_BEGIN_CRITICAL_SECTION(o)
#define GOWSGI_END_OBJECT_LOCK() Py_END_CRITICAL_SECTION()
#else
#define GOWSGI_BEGIN_OBJECT_LOCK(o) {
#define GOWSGI_END_OBJECT_LOCK() }
#endif
#ifdef Py_GIL_DISABLED
typedef PyMutex gowsgi_nogil_lock;
#define gowsgi_nogil_lock_acquire(m) PyMutex_Lock(m)
#define gowsgi_nogil_lock_release(m) PyMutex_Unlock(m)
#else
typedef char gowsgi_nogil_lock;
#define gowsgi_nogil_lock_acquire(m) ((void)(m))
#define gowsgi_nogil_lock_release(m) ((void)(m))
#endif

/* The calling thread's thread state, or NULL: renamed public in 3.13. */
#if PY_VERSION_HEX >= 0x030D0000
#define gowsgi_thread_state_unchecked() PyThreadState_GetUnchecked()
#else
#define gowsgi_thread_state_unchecked() _PyThreadState_UncheckedGet()
#endif

/* Interned environ key objects by name, so the names repeated on every
 * request are decoded and hashed once. Fixed size: names a client invents
 * beyond it are decoded per request instead of growing the cache. */
#define GOWSGI_KEY_CACHE_SLOTS 512
#define GOWSGI_KEY_CACHE_MAX 256
typedef struct gowsgi_key_slot {
    char *name;
    size_t len;
    uint32_t hash;
    PyObject *key;
} gowsgi_key_slot;

/* Environ templates (environ_template.c): the environ the last request of a
 * shape built, copied when the next one has the same names in the same
 * order. A few per interpreter, chosen by the number of entries. */
#define GOWSGI_ENVIRON_TEMPLATES 4
struct gowsgi_environ_template;

/* The engine's Python types, one set per interpreter (types.c). */
enum {
    GOWSGI_T_LOG,
    GOWSGI_T_RESTRICTED,
    GOWSGI_T_INPUT,
    GOWSGI_T_START_RESPONSE,
    GOWSGI_T_FILE_WRAPPER,
    GOWSGI_NTYPES
};

/* One Python interpreter = one application group in this process. */
typedef struct gowsgi_interp {
    int index;                    /* slot in each thread's thread-state cache */
    PyInterpreterState *interp;
    const char *name;             /* application group; "" = main interpreter */
    PyObject *base_environ;       /* the constant environ entries, copied per request */
    PyObject *key_script_name;    /* interned keys the runner touches */
    PyObject *key_path_info;
    PyObject *key_https;
    PyObject *key_path;
    PyObject *key_url_scheme;
    PyObject *key_input;
    PyObject *key_errors;
    PyObject *key_content_length;
    PyObject *key_script_start;
    PyObject *key_total_requests;
    PyObject *key_thread_id;
    PyObject *key_thread_requests;
    PyObject *str_http;
    PyObject *str_https;
    PyObject *str_close;
    PyObject *str_fileno;
    PyObject *str_tell;
    PyObject *str_utf8;
    PyObject *str_replace;
    PyObject *str_encoding;
    PyObject *str_errors;
    PyObject *str_line_buffering;
    PyObject *str_write_through;
    PyObject *text_io_wrapper;    /* io.TextIOWrapper, for the log streams */
    PyObject *stdout_log;         /* the mod_wsgi.Log buffers behind sys.stdout / sys.stderr */
    PyObject *stderr_log;
    /* mod_wsgi.event_callbacks / shutdown_callbacks / active_requests (strong
     * references to the module's objects; events.c). The runner's only cost
     * when nobody subscribed: one look at the size of event_callbacks. */
    PyObject *event_callbacks;
    PyObject *shutdown_callbacks;
    PyObject *active_requests;
    PyObject *request_timeout;    /* mod_wsgi.RequestTimeout (six_api.c) */
    PyObject *signal_callbacks;   /* mod_wsgi.signal_callbacks (six_api.c) */
    PyTypeObject *types[GOWSGI_NTYPES];  /* this interpreter's copies of the engine's types */
    int own_gil;                  /* made with a GIL of its own (PEP 684) */
    gowsgi_nogil_lock key_cache_lock; /* the cache's, when there is no GIL */
    int key_cache_used;
    gowsgi_key_slot key_cache[GOWSGI_KEY_CACHE_SLOTS];
    struct gowsgi_environ_template *environ_templates[GOWSGI_ENVIRON_TEMPLATES]; /* under key_cache_lock */
} gowsgi_interp;

/* A loaded script: its callable, swapped only with the interpreter's GIL
 * held; loaded and mtime are read without it (atomics). The one record of
 * an app's state: Go's loader and the C fast path both ask it. */
typedef struct gowsgi_app {
    PyObject *callable;           /* strong reference, or NULL */
    PyObject *module;
    long long mtime;              /* of the loaded source, microseconds */
    int loaded;
} gowsgi_app;

/* Whether the app can serve a request that saw its script at mtime: the
 * one freshness rule. */
static inline int gowsgi_app_current(const gowsgi_app *app, long long mtime, int reloading)
{
    return __atomic_load_n(&app->loaded, __ATOMIC_ACQUIRE) &&
           (!reloading || __atomic_load_n(&app->mtime, __ATOMIC_ACQUIRE) == mtime);
}

/* Per-process settings copied from gowsgi_init. */
typedef struct gowsgi_settings {
    int multithread;
    int multiprocess;
    int run_once;
    int max_processes;
    int threads_per_process;
    int apache_max_processes;
    int apache_threads_per_process;
    const char *process_group;
    int restrict_stdin;
    int restrict_stdout;
    int restrict_signal;
    const char *mpm_name;
    const char *server_description;
    const char *server_built;
    int apache_version[3];
    int destroy_interpreter;      /* WSGIDestroyInterpreter: run atexit at process exit */
    void (*log)(int level, const char *msg, size_t len);
    gowsgi_scoreboard_fn scoreboard; /* NULL: server_metrics() answers None */
    int free_threading;           /* WSGIFreeThreading On and this Python can: the GIL is off */
    int per_interpreter_gil;      /* WSGIPerInterpreterGIL of groups not in gil_exceptions */
    int ngil_exceptions;
    char **gil_exceptions;
} gowsgi_settings;

extern gowsgi_settings gowsgi_config;

/* The request a thread is running, so sys.stdout/stderr can attribute lines. */
typedef struct gowsgi_reqstate gowsgi_reqstate;
extern __thread gowsgi_reqstate *gowsgi_current;
/* Set by the error-log streams around a line they hand on: a daemon that
 * writes its own log may release the GIL while the line is written
 * (daemon_log.c). */
extern __thread int gowsgi_log_may_release;

/* pyinit.c */
int gowsgi_py_initialize(const gowsgi_init *init, const char *executable, char *err, size_t errlen);
gowsgi_interp *gowsgi_interp_main(void);
gowsgi_interp *gowsgi_interp_create(const char *name, int index, char *err, size_t errlen);

/* interp_options.c: what one interpreter gets of <WSGIInterpreterOptions>
 * (mod_wsgi 6): its application group's settings, else the process's. */
typedef struct gowsgi_interp_settings {
    int restrict_stdin;
    int restrict_stdout;
    int restrict_signal;
    const char *python_path_layers;  /* '\n' between layers, ':' within; NULL: none */
    const char *switch_interval;     /* its own (a container names it); NULL: the process's */
} gowsgi_interp_settings;
void gowsgi_interp_options_configure(const gowsgi_init *init);
void gowsgi_interp_settings_of(const char *name, gowsgi_interp_settings *out);

/* types.c: the engine's types as this interpreter sees them (the static
 * ones, or its own heap copies when it has its own GIL), and the
 * gowsgi_interp of the interpreter this thread runs now (NULL: not one of
 * the engine's). */
int gowsgi_types_install(gowsgi_interp *it);
gowsgi_interp *gowsgi_interp_current(void);
/* The current interpreter's type, or NULL with an exception set. */
PyTypeObject *gowsgi_type(int which);
/* The end of an engine object's deallocator: frees it, and lets go of
 * its type when that is an own-GIL interpreter's heap copy. */
void gowsgi_object_free(PyObject *self);

/* thread_state.c: this thread's cached thread state for an interpreter. */
PyThreadState **gowsgi_thread_state_slot(int index);
PyThreadState *gowsgi_enter(gowsgi_interp *it);
void gowsgi_leave(PyThreadState *ts);

/* six_api.c: mod_wsgi 6's additions to the mod_wsgi module. */
int gowsgi_six_api_install(gowsgi_interp *it, PyObject *module);
/* Set once a daemon process's app called mod_wsgi.subscribe_signals(). */
extern int gowsgi_signal_subscribed;
/* events.c: mod_wsgi 6's process_signal event, in every interpreter. */
void gowsgi_publish_process_signal(int signum, const char *signame);

/* request_slots.c: what each request thread runs, for WSGISlowRequests and
 * interrupt-timeout. Off (gowsgi_slots_on 0) unless enabled. */
extern int gowsgi_slots_on;
/* The thread's last request was interrupted this long (us) after it began; 0: not. */
extern __thread long long gowsgi_slot_interrupted_after;
int gowsgi_slots_enable(int threads, const char *slow_requests);
void gowsgi_slot_begin(gowsgi_interp *it, const gowsgi_request *req);
void gowsgi_slot_end(const gowsgi_reqstate *rs, int http_status);
/* Logs each request that crossed WSGISlowRequests since the last scan. */
void gowsgi_slots_scan_slow(void);
/* Injects RequestTimeout into each request running fire_us or longer and
 * not yet interrupted (takes each one's GIL); returns how many. */
int gowsgi_slots_interrupt_due(long long fire_us);
/* Requests interrupted grace_us ago or more and still running; requests
 * running stuck_us or longer. */
void gowsgi_slots_overdue(long long grace_us, long long stuck_us, int *overdue, int *stuck);

/* telemetry.c: WSGITelemetryService (mod_wsgi 6's datagrams, a subset). */
extern int gowsgi_telemetry_on;
int gowsgi_telemetry_open(const gowsgi_init *init);
/* PROCESS_STARTED, once Python runs (6 sends its switch interval). */
void gowsgi_telemetry_started(double switch_interval);
/* At a request's end, its thread: its phases, I/O and status into the sample. */
void gowsgi_telemetry_record(const gowsgi_reqstate *rs, int http_status);
void gowsgi_telemetry_tick(void);
/* A SLOW_REQUEST record; rs (the request, which has ended) for a completed
 * one, NULL for a running one. */
void gowsgi_telemetry_slow(const gowsgi_reqstate *rs, long long start_us, long long now_us, unsigned long thread_id,
                           const char *method, const char *script_name, const char *path_info,
                           const char *user_agent, int status);
void gowsgi_telemetry_stopping(const char *reason, int active);
/* PROCESS_STOPPED, once, at the very end of the process (after the last sample). */
void gowsgi_telemetry_stopped(const char *reason, int active, int graceful);
/* telemetry_gc.c: GC_SNAPSHOT and GC_EVENT per interpreter. */
typedef struct gowsgi_gc_counters {
    long long count[3], threshold[3], collections[3], collected[3], uncollectable[3];
    int enabled;
    long long freeze_count;
    unsigned long long dropped;   /* events lost to a full ring since the last sample */
} gowsgi_gc_counters;
typedef struct gowsgi_gc_event {
    long long start_us, duration_us, collected, uncollectable;
    int generation;
} gowsgi_gc_event;
/* Its gc.callbacks entry, this interpreter's GIL held: 0, or -1 with an exception. */
int gowsgi_telemetry_gc_install(gowsgi_interp *it);
void gowsgi_telemetry_gc_tick(void);
/* telemetry.c: sends one interpreter's GC datagrams; -1 once PROCESS_STOPPED is sent. */
int gowsgi_telemetry_send_gc(const gowsgi_gc_counters *c, const gowsgi_gc_event *ev, int nev, const char *interp_name);

/* exception_log.c: logs the pending Python exception with its traceback
 * after a head line formatted from fmt (its id first, logno.h); clears it. */
void gowsgi_log_exception(const gowsgi_request *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with the head line as given. */
void gowsgi_log_exception_as(const gowsgi_request *req, const char *head);
/* log_modwsgi6.c: a request's lines under GoWSGICompatibility 6. */
void gowsgi_log_modwsgi6_line(const gowsgi_request *req, int level, const char *s, size_t n);
void gowsgi_log_modwsgi6_exception(const gowsgi_request *req);

/* stack_dump.c: every Python thread's stack to the error log (info level).
 * Takes the GIL: call from a thread that holds no Python thread state. */
void gowsgi_log_python_stacks(void);

/* environ.c */
int gowsgi_environ_prepare(gowsgi_interp *it);
/* The value of the request's CGI entry key, or "" when it has none. */
const char *gowsgi_request_env(const gowsgi_request *req, const char *key);
PyObject *gowsgi_environ_build(gowsgi_interp *it, gowsgi_request *req,
                               gowsgi_reqstate *rs);
/* environ_modwsgi6.c: the engine's entries under GoWSGICompatibility 6. */
int gowsgi_environ_modwsgi6(PyObject *env, const gowsgi_request *req, const gowsgi_reqstate *rs);
/* PATH_INFO and SCRIPT_NAME as mod_wsgi passes them (repeated slashes
 * collapsed), as a new str. */
PyObject *gowsgi_collapse_slashes(const char *s);

/* environ_template.c. How the environ builder turned each of the request's
 * entries into the dict, so that a template knows what a changed value
 * means. */
enum {
    GOWSGI_ENV_PLAIN,     /* key = name, value latin-1 */
    GOWSGI_ENV_SLASHES,   /* PATH_INFO, SCRIPT_NAME: value with slashes collapsed */
    GOWSGI_ENV_SKIP,      /* PATH: not passed */
    GOWSGI_ENV_FIXED,     /* HTTPS: decides wsgi.url_scheme; another value is another shape */
};
/* A new environ holding the request's entries and the constant ones, from
 * the template of its shape; NULL without an exception when there is none
 * (build it, then offer it to gowsgi_environ_template_store). Call with
 * it->key_cache_lock held. */
PyObject *gowsgi_environ_template_use(gowsgi_interp *it, const gowsgi_request *req);
/* Keeps a copy of env (just built from req: kinds[i] and keys[i], the dict
 * key or NULL, say what entry i became) as the template of req's shape.
 * Never fails: without memory there is simply no template. Call with
 * it->key_cache_lock held. */
void gowsgi_environ_template_store(gowsgi_interp *it, const gowsgi_request *req, PyObject *env,
                                   const unsigned char *kinds, PyObject *const *keys);

/* fastpath.c: the shim's entry point, and Go's registration of loaded apps. */
int gowsgi_serve(gowsgi_request *req);
/* The app this request names is loaded here from an older version of its
 * script (a daemon process then makes way for a new one). */
int gowsgi_app_stale(const gowsgi_request *req);
void gowsgi_fast_register(gowsgi_interp *it, gowsgi_app *app, const char *group, const char *script,
                          const char *callable);
/* The registered app for (group, script, callable): 1, or 0 when there is none. */
int gowsgi_fast_lookup(const char *group, const char *script, const char *callable, gowsgi_interp **it,
                       gowsgi_app **app);

/* hooks.c: the shim's entry for access/auth/dispatch scripts, and the call
 * itself once Go has the script loaded. */
int gowsgi_call_hook(gowsgi_hook *hook);
int gowsgi_hook_run(gowsgi_interp *it, gowsgi_app *app, gowsgi_hook *hook);

/* runner.c */
int gowsgi_run(gowsgi_interp *it, gowsgi_app *app, gowsgi_request *req);

/* start_response.c: the response state shared by start_response, write() and the runner. */
struct gowsgi_reqstate {
    gowsgi_request *req;
    PyObject *status_line;        /* bytes, "200 OK" */
    int status;
    PyObject *headers;            /* list of (bytes name, bytes value) */
    int headers_sent;
    int started;                  /* start_response called */
    long long content_length;     /* declared, or -1 */
    long long body_sent;
    int client_gone;
    int io_busy;                  /* a thread is in a read/write (GIL released) */
    int io_reading;               /* ... and it is a read of the request body */
    int io_users;                 /* threads in or waiting for one; the runner
                                   * waits for 0 before it returns (rs is on its stack) */
    int ended;                    /* the request is over: new I/O is refused */
    PyObject *input;              /* per-request objects, detached at the end */
    PyObject *start_response;
    PyObject *errors;             /* the mod_wsgi.Log buffer of wsgi.errors */
    PyObject *errors_stream;      /* wsgi.errors: a TextIOWrapper over it */
    /* For mod_wsgi's events and metrics (events.c, metrics.c). */
    gowsgi_interp *it;
    PyObject *request_data;       /* mod_wsgi.request_data(), made on first use */
    PyObject *request_id;         /* its key in mod_wsgi.active_requests */
    int observed;                 /* request_started was published: time the I/O */
    long long app_start;          /* microseconds: the application is called */
    long long input_reads, input_bytes, input_time;
    long long output_writes, output_time;
    double cpu_user_start, cpu_system_start;
};
/* Claims the request's I/O for this thread, one at a time: 0, or -1 with an
 * exception when the request has ended. GIL held on entry and return; the
 * caller releases the GIL for the I/O, then calls gowsgi_io_release and
 * touches rs no more. */
int gowsgi_io_claim(gowsgi_reqstate *rs);
void gowsgi_io_release(gowsgi_reqstate *rs);
/* Ends the request for other threads and waits until none uses it. */
void gowsgi_io_end(gowsgi_reqstate *rs);

extern PyTypeObject gowsgi_StartResponseType;
PyObject *gowsgi_start_response_new(gowsgi_reqstate *rs);
/* Sends the headers if not yet sent; then body bytes honouring Content-Length. */
int gowsgi_send_headers(gowsgi_reqstate *rs);
int gowsgi_send_body(gowsgi_reqstate *rs, const char *data, Py_ssize_t len);
void gowsgi_start_response_detach(PyObject *sr);

/* input.c */
extern PyTypeObject gowsgi_InputType;
PyObject *gowsgi_input_new(gowsgi_reqstate *rs);
void gowsgi_input_detach(PyObject *input);

/* logstream.c: file-like objects writing lines to the error log. */
/* One server-wide line (no request), cut at 1 KiB. */
void gowsgi_log_processf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern PyTypeObject gowsgi_LogType;
/* req == NULL: a process stream (sys.stdout/stderr) that attributes lines to
 * the thread's current request when there is one. */
PyObject *gowsgi_log_new(gowsgi_request *req, int level, const char *name);
/* A buffer for server-wide lines: never attributed to a request. */
PyObject *gowsgi_log_new_server(int level, const char *name);
/* The io.TextIOWrapper over a log buffer that apps see, as mod_wsgi's. */
PyObject *gowsgi_log_wrap(gowsgi_interp *it, PyObject *buffer);
/* wsgi.errors for a request (new references to the stream and, in *buffer,
 * its Log buffer), reused from this thread's last request when it can be. */
PyObject *gowsgi_errors_open(gowsgi_interp *it, gowsgi_request *req, PyObject **buffer);
/* After the request dropped its references (buffer detached): keeps the
 * pair for the next request only if nothing else holds or changed it. */
void gowsgi_errors_release(gowsgi_interp *it, PyObject *stream, PyObject *buffer);
void gowsgi_log_detach(PyObject *log);
void gowsgi_log_flush_pending(PyObject *log);
extern PyTypeObject gowsgi_RestrictedType;
PyObject *gowsgi_restricted_new(const char *name);

/* signal_restrict.c: signal.signal() as a logged no-op (GIL held). */
int gowsgi_signal_restrict_install(void);

/* filewrapper.c */
extern PyTypeObject gowsgi_FileWrapperType;
/* Sends a FileWrapper response through sendfile or read/write. Returns 0, or
 * -1 with a Python exception set. Sets Content-Length when missing. */
int gowsgi_filewrapper_send(gowsgi_interp *it, gowsgi_reqstate *rs, PyObject *wrapper);

/* modules.c: `import mod_wsgi` and `import apache`. */
int gowsgi_modules_install(gowsgi_interp *it);

/* events.c: mod_wsgi's event API. Each publishing call is made only when
 * gowsgi_events_wanted() says someone subscribed; GIL held. */
static inline int gowsgi_events_wanted(const gowsgi_interp *it)
{
    return it->event_callbacks != NULL && PyList_GET_SIZE(it->event_callbacks) != 0;
}
extern PyMethodDef gowsgi_event_methods[];
int gowsgi_events_install(gowsgi_interp *it, PyObject *module);
/* request_started: may replace *callable by the application_object a
 * callback returned (a new reference either way). */
void gowsgi_events_request_started(gowsgi_reqstate *rs, PyObject *environ, PyObject **callable);
void gowsgi_events_response_started(gowsgi_reqstate *rs, PyObject *status, PyObject *headers,
                                    PyObject *exc_info);
void gowsgi_events_request_finished(gowsgi_reqstate *rs);
/* Drops the request's request_data and its active_requests entry. */
void gowsgi_events_request_end(gowsgi_reqstate *rs);
/* Every interpreter of this process, for process_stopping and atexit. */
void gowsgi_interps_add(gowsgi_interp *it);
/* A copy of that list, at most max of them. */
int gowsgi_interps_snapshot(gowsgi_interp **out, int max);
/* Appends callback to the module attribute list attr (subscribe_events, subscribe_signals). */
int gowsgi_callbacks_append(PyObject *module, const char *attr, PyObject *callback);
/* process_stopping in every interpreter; then, when WSGIDestroyInterpreter
 * is On, each one's atexit handlers. Each takes the GIL: call from a thread
 * that holds no Python thread state, never from a signal handler. */
void gowsgi_publish_process_stopping(const char *reason);
void gowsgi_run_atexit(void);

/* metrics.c: process_metrics(), request_metrics(), server_metrics(). */
extern PyMethodDef gowsgi_metrics_methods[];
long long gowsgi_now_us(void);
/* This thread's counters, registered on its first request. */
typedef struct gowsgi_thread_metrics {
    long id;                      /* mod_wsgi.thread_id: 1, 2, ... */
    long long requests;           /* mod_wsgi.thread_requests */
    long long busy;               /* microseconds spent in finished requests */
    long long since;              /* start of the running request; 0 when idle */
    long long sampled;            /* requests at the last request_metrics() */
} gowsgi_thread_metrics;
gowsgi_thread_metrics *gowsgi_thread_metrics_get(void);
void gowsgi_metrics_process_started(void);
/* request_metrics() was called once: requests record their times. */
extern int gowsgi_request_metrics_on;
void gowsgi_metrics_record(gowsgi_reqstate *rs, long long finish);
/* The request's server, queue, daemon and application times (microseconds,
 * the application's up to finish); non-zero when it came through a daemon. */
int gowsgi_request_phases(const gowsgi_reqstate *rs, long long finish, long long us[4]);
int gowsgi_metrics_threads(long long now, long long *finished, long long *busy, long long *elapsed, int max);

/* Interned-key helpers */
static inline PyObject *gowsgi_latin1(const char *s)
{
    return PyUnicode_DecodeLatin1(s, (Py_ssize_t)strlen(s), NULL);
}

#endif
