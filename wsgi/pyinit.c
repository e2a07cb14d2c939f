/*
 * pyinit.c: CPython start-up and one interpreter per application group, each
 * set up with its streams, modules and environ prototype.
 */
#include "engine.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

gowsgi_settings gowsgi_config;
__thread gowsgi_reqstate *gowsgi_current;

static gowsgi_interp *main_interp;

gowsgi_interp *gowsgi_interp_main(void)
{
    return main_interp;
}

static void set_err(char *err, size_t errlen, const char *what, PyStatus st)
{
    snprintf(err, errlen, "%s: %s%s%s", what, st.func ? st.func : "",
             st.func ? ": " : "", st.err_msg ? st.err_msg : "failed");
}

/* A python-home holding pyvenv.cfg is a virtualenv: point program_name at its
 * interpreter so getpath finds the stdlib of the base install and makes the
 * venv sys.prefix, as mod_wsgi does. Otherwise it is a PYTHONHOME. */
static PyStatus configure_home(PyConfig *config, const char *home)
{
    char cfg[4096];
    struct stat sb;
    snprintf(cfg, sizeof(cfg), "%s/pyvenv.cfg", home);
    if (stat(cfg, &sb) == 0) {
        char exe[4096];
        snprintf(exe, sizeof(exe), "%s/bin/python", home);
        return PyConfig_SetBytesString(config, &config->program_name, exe);
    }
    return PyConfig_SetBytesString(config, &config->home, home);
}

static int setup_interp(gowsgi_interp *it, char *err, size_t errlen);

/* sys.getswitchinterval(), GIL held; 0 when it cannot be read. */
static double current_switch_interval(void)
{
    PyObject *sys = PyImport_ImportModule("sys");
    PyObject *v = sys ? PyObject_CallMethod(sys, "getswitchinterval", NULL) : NULL;
    double d = v ? PyFloat_AsDouble(v) : 0;
    Py_XDECREF(v);
    Py_XDECREF(sys);
    if (PyErr_Occurred() || d < 0) {
        PyErr_Clear();
        d = 0;
    }
    return d;
}

/* WSGITelemetryService: the interpreter's GC datagrams (telemetry_gc.c),
 * its GIL held. Without them it still serves. */
static void gc_telemetry(gowsgi_interp *it)
{
    if (!__atomic_load_n(&gowsgi_telemetry_on, __ATOMIC_RELAXED) || gowsgi_telemetry_gc_install(it) == 0)
        return;
    PyErr_Clear();
    gowsgi_log_processf(GOWSGI_LOG_WARNING,
                        GOWSGI_LOGNO(0020) "gowsgi (pid=%d): WSGITelemetryService: no GC datagrams for interpreter "
                        "'%s': its gc.callbacks entry could not be added",
                        (int)getpid(), it->name);
}

/* Whether this Python was built free-threaded (PEP 703). */
#ifdef Py_GIL_DISABLED
#define FREE_THREADED_BUILD 1
#else
#define FREE_THREADED_BUILD 0
#endif

/* The GIL modes the shim resolved for this process, and mod_wsgi 6's
 * warnings (WSGI0198, WSGI0200; its wording) for what this Python cannot
 * do: said once, as the process starts. mod_wsgi says them as the
 * configuration is read; here the engine says them, since a daemon group
 * may run another Python than the server's. */
static void gil_modes_configure(const gowsgi_init *init)
{
    gowsgi_config.per_interpreter_gil = init->per_interpreter_gil != 0;
    gowsgi_config.ngil_exceptions = init->ngil_exceptions > 0 ? init->ngil_exceptions : 0;
    gowsgi_config.gil_exceptions = calloc((size_t)gowsgi_config.ngil_exceptions + 1, sizeof(char *));
    for (int i = 0; i < gowsgi_config.ngil_exceptions; i++)
        gowsgi_config.gil_exceptions[i] = strdup(init->gil_exceptions[i]);
    int own_gil_asked = gowsgi_config.per_interpreter_gil || gowsgi_config.ngil_exceptions > 0;
    if (own_gil_asked && PY_VERSION_HEX < 0x030C0000)
        gowsgi_log_processf(GOWSGI_LOG_WARNING,
                            GOWSGI_LOGNO(0008) "gowsgi (pid=%d): WSGIPerInterpreterGIL requires Python 3.12 or "
                            "later; directive has "
                            "no effect on this build. This process runs Python %s.",
                            (int)getpid(), PY_VERSION);
    if (init->free_threading && !FREE_THREADED_BUILD)
        gowsgi_log_processf(GOWSGI_LOG_WARNING,
                            GOWSGI_LOGNO(0009) "gowsgi (pid=%d): WSGIFreeThreading On has no effect: this Python "
                            "build does not "
                            "support free-threading (PEP 703). Rebuild Python with --disable-gil to use it. This "
                            "process runs Python %s.",
                            (int)getpid(), PY_VERSION);
    gowsgi_config.free_threading = init->free_threading && FREE_THREADED_BUILD;
}

/* WSGIPerInterpreterGIL for an application group (never the main
 * interpreter: it keeps the process's GIL, as mod_wsgi says). */
static int wants_own_gil(const char *name)
{
    if (*name == '\0')
        return 0;
    int v = gowsgi_config.per_interpreter_gil;
    for (int i = 0; i < gowsgi_config.ngil_exceptions; i++)
        if (strcmp(gowsgi_config.gil_exceptions[i], name) == 0)
            return !v;
    return v;
}

/* WSGISwitchInterval / switch-interval= (mod_wsgi 6): sys.setswitchinterval
 * once Python is up, in the main interpreter (the interval is the shared
 * GIL's, so every interpreter without its own GIL has it; own-GIL ones get
 * it as they are made). Skipped, with 6's warning, when there is no GIL. */
static double switch_interval;

static void apply_switch_interval_of(double interval, const char *where)
{
    if (interval <= 0)
        return;
    PyObject *sys = PyImport_ImportModule("sys");
    PyObject *r = sys ? PyObject_CallMethod(sys, "setswitchinterval", "d", interval) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(sys);
    if (r == NULL) {
        gowsgi_log_processf(GOWSGI_LOG_ERR,
                            GOWSGI_LOGNO(0010) "gowsgi (pid=%d): could not set switch interval %.6fs for %s",
                            (int)getpid(), interval, where);
        PyErr_Clear();
        return;
    }
    gowsgi_log_processf(GOWSGI_LOG_INFO,
                        GOWSGI_LOGNO(0011) "gowsgi (pid=%d): Set switch interval %.6fs for %s.", (int)getpid(),
                        interval, where);
}

static void apply_switch_interval(const char *where)
{
    apply_switch_interval_of(switch_interval, where);
}

/* WSGISwitchInterval inside a container naming application group name
 * (mod_wsgi 6): set in an interpreter with its own GIL; in one sharing the
 * process's GIL it would change every interpreter's, so it is skipped with
 * 6's warnings (WSGI0199, WSGI0205). The main interpreter's is the
 * process's (the shim resolves it so). Returns whether it was the
 * interpreter's to set. */
static int apply_own_switch_interval(const char *name, int own_gil, const char *where)
{
    gowsgi_interp_settings opts;
    gowsgi_interp_settings_of(name, &opts);
    if (opts.switch_interval == NULL)
        return 0;
    double interval = strtod(opts.switch_interval, NULL);
    if (gowsgi_config.free_threading)
        gowsgi_log_processf(GOWSGI_LOG_WARNING,
                            GOWSGI_LOGNO(0018) "gowsgi (pid=%d): Skipping per-interpreter switch interval %.6fs "
                            "for interpreter '%s': free-threading is active in this process so there is no GIL switch interval to set.",
                            (int)getpid(), interval, name);
    else if (!own_gil)
        gowsgi_log_processf(GOWSGI_LOG_WARNING,
                            GOWSGI_LOGNO(0019) "gowsgi (pid=%d): Skipping per-interpreter switch interval %.6fs "
                            "for interpreter '%s': setting it would mutate the process-global value because this interpreter does not "
                            "have its own GIL.",
                            (int)getpid(), interval, name);
    else
        apply_switch_interval_of(interval, where);
    return 1;
}

static void set_switch_interval(const char *text)
{
    if (text == NULL)
        return;
    if (gowsgi_config.free_threading) {
        gowsgi_log_processf(GOWSGI_LOG_WARNING,
                            GOWSGI_LOGNO(0012) "gowsgi (pid=%d): Skipping WSGISwitchInterval %ss in process group "
                            "'%s': free-threading is active in this process so there is no GIL switch interval to set.",
                            (int)getpid(), text, gowsgi_config.process_group);
        return;
    }
    switch_interval = strtod(text, NULL);
    char where[300];
    snprintf(where, sizeof(where), "process group '%s'", gowsgi_config.process_group);
    apply_switch_interval(where);
}

int gowsgi_py_initialize(const gowsgi_init *init, const char *executable, char *err, size_t errlen)
{
    PyStatus st;
    PyConfig config;

    gowsgi_config.multithread = init->multithread;
    gowsgi_config.multiprocess = init->multiprocess;
    gowsgi_config.max_processes = init->max_processes;
    gowsgi_config.threads_per_process = init->max_threads;
    gowsgi_config.run_once = init->run_once;
    gowsgi_config.process_group = strdup(init->process_group ? init->process_group : "");
    gowsgi_config.apache_max_processes = init->apache_max_processes ? init->apache_max_processes : init->max_processes;
    gowsgi_config.apache_threads_per_process = init->apache_max_threads ? init->apache_max_threads : init->max_threads;
    gowsgi_config.restrict_stdin = init->restrict_stdin;
    gowsgi_config.restrict_stdout = init->restrict_stdout;
    gowsgi_config.restrict_signal = init->restrict_signal;
    gowsgi_config.mpm_name = strdup(init->mpm_name ? init->mpm_name : "");
    gowsgi_config.server_description =
        strdup(init->server_description ? init->server_description : "");
    gowsgi_config.server_built = strdup(init->server_built ? init->server_built : "");
    memcpy(gowsgi_config.apache_version, init->apache_version,
           sizeof(gowsgi_config.apache_version));
    gowsgi_config.destroy_interpreter = init->destroy_interpreter;
    gowsgi_config.log = init->log;
    gowsgi_config.scoreboard = init->scoreboard;
    gowsgi_metrics_process_started();
    gil_modes_configure(init);
    gowsgi_interp_options_configure(init);
    if ((init->slow_requests != NULL || init->telemetry_target != NULL) &&
        gowsgi_slots_enable(init->max_threads, init->slow_requests) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (init->telemetry_target != NULL && gowsgi_telemetry_open(init) != 0)
        gowsgi_log_processf(GOWSGI_LOG_ERR,
                            GOWSGI_LOGNO(0013) "gowsgi (pid=%d): WSGITelemetryService %s: cannot make a socket for it",
                            (int)getpid(), init->telemetry_target);

    /* The Python config (not isolated) so PYTHON* variables behave as under
     * mod_wsgi; but no signal handlers and no argv parsing: Apache owns both. */
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    config.configure_c_stdio = 0;
    config.optimization_level = init->optimize;
    config.write_bytecode = !init->dont_write_bytecode;
    if (init->hash_seed != NULL && strcmp(init->hash_seed, "random") != 0) {
        config.use_hash_seed = 1;
        config.hash_seed = strtoul(init->hash_seed, NULL, 10);
    }
#ifdef Py_GIL_DISABLED
    /* As mod_wsgi 6: the GIL stays on unless WSGIFreeThreading On asks
     * (CPython's default would turn it back on at the first extension that
     * does not declare Py_mod_gil, with a warning). 0 disables, 1 enables. */
    config.enable_gil = gowsgi_config.free_threading ? 0 : 1;
#endif
    /* mod_wsgi 4.9.4 starts Python with Py_Initialize(), which neither
     * coerces a C or POSIX locale to C.UTF-8 (PEP 538) nor turns on UTF-8
     * mode (PEP 540) and ignores PYTHONCOERCECLOCALE and PYTHONUTF8: under
     * Apache's LANG=C its apps get 'ascii' from
     * sys.getfilesystemencoding(). mod_wsgi 6.0 starts it from the Python
     * config, which does both (and sets LC_CTYPE in os.environ). Before the
     * first PyConfig_Set*, which would pre-initialise from the config. In
     * Apache's children the shim has set LC_CTYPE already, before Apache's
     * threads ran: a load at the first embedded request, beside them, must
     * not call setlocale again. */
    if (!init->python_modwsgi6) {
        PyPreConfig preconfig;
        PyPreConfig_InitPythonConfig(&preconfig);
        preconfig.parse_argv = 0;
        preconfig.configure_locale = !init->locale_set;
        preconfig.coerce_c_locale = 0;
        preconfig.coerce_c_locale_warn = 0;
        preconfig.utf8_mode = 0;
        st = Py_PreInitialize(&preconfig);
        if (PyStatus_Exception(st))
            goto fail;
    }
    /* No argv, as Py_Initialize() has none: sys.argv is [''] while Python
     * starts and sys.orig_argv stays [], as under mod_wsgi; each
     * interpreter's sys.argv becomes ['mod_wsgi'] in setup_interp. The
     * program name gives the prefix: Python would otherwise look for
     * python3 on PATH, or settle on "/" without the system's
     * dist-packages. */
    st = PyConfig_SetBytesString(&config, &config.program_name, executable);
    if (PyStatus_Exception(st))
        goto fail;
    if (init->python_home != NULL && *init->python_home) {
        st = configure_home(&config, init->python_home);
        if (PyStatus_Exception(st))
            goto fail;
    }
    for (int i = 0; i < init->nwarnings; i++) {
        wchar_t *w = Py_DecodeLocale(init->warnings[i], NULL);
        if (w == NULL)
            continue;
        st = PyWideStringList_Append(&config.warnoptions, w);
        PyMem_RawFree(w);
        if (PyStatus_Exception(st))
            goto fail;
    }
    st = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(st))
        goto fail;
    PyConfig_Clear(&config);

    main_interp = calloc(1, sizeof(*main_interp));
    main_interp->index = 0;
    main_interp->interp = PyInterpreterState_Main();
    main_interp->name = "";
    if (setup_interp(main_interp, err, errlen) != 0)
        return -1;
    gowsgi_interps_add(main_interp);
    gc_telemetry(main_interp);
    set_switch_interval(init->switch_interval);
    if (__atomic_load_n(&gowsgi_telemetry_on, __ATOMIC_RELAXED))
        gowsgi_telemetry_started(current_switch_interval());
    *gowsgi_thread_state_slot(0) = PyThreadState_Get();
    PyEval_SaveThread();
    return 0;

fail:
    set_err(err, errlen, "Python initialisation failed", st);
    PyConfig_Clear(&config);
    return -1;
}

gowsgi_interp *gowsgi_interp_create(const char *name, int index, char *err, size_t errlen)
{
    int own_gil = wants_own_gil(name);
    if (own_gil && gowsgi_config.free_threading) {
        gowsgi_log_processf(GOWSGI_LOG_WARNING,
                            GOWSGI_LOGNO(0014) "gowsgi (pid=%d): Skipping per-interpreter GIL for interpreter '%s' "
                            "in process group '%s': free-threading is active in this process so there is no GIL to "
                            "allocate per interpreter.",
                            (int)getpid(), name, gowsgi_config.process_group);
        own_gil = 0;
    }
    if (PY_VERSION_HEX < 0x030C0000)
        own_gil = 0;   /* warned at start */
    PyThreadState *main_ts = gowsgi_enter(main_interp);
    PyThreadState *ts = NULL;
#if PY_VERSION_HEX >= 0x030C0000
    if (own_gil) {
        /* CPython's own default for an isolated interpreter, as mod_wsgi 6
         * makes it (_PyInterpreterConfig_INIT): its own GIL and allocator,
         * no fork or exec (subprocess fails there), no daemon threads, and
         * an extension module that does not declare it supports such
         * interpreters fails its import. The main interpreter's GIL is
         * released on the way; the new one's is held on return. */
        PyInterpreterConfig cfg = {
            .use_main_obmalloc = 0,
            .allow_fork = 0,
            .allow_exec = 0,
            .allow_threads = 1,
            .allow_daemon_threads = 0,
            .check_multi_interp_extensions = 1,
            .gil = PyInterpreterConfig_OWN_GIL,
        };
        PyStatus st = Py_NewInterpreterFromConfig(&ts, &cfg);
        if (PyStatus_Exception(st)) {
            set_err(err, errlen, "Py_NewInterpreterFromConfig (own GIL) failed", st);
            size_t n = strlen(err);
            snprintf(err + n, errlen - n, " for application group '%s'", name);
            ts = NULL;
        }
    } else
#endif
    {
        ts = Py_NewInterpreter();
        if (ts == NULL)
            snprintf(err, errlen, "Py_NewInterpreter failed for application group '%s'", name);
    }
    if (ts == NULL) {
        /* CPython put this thread back on main_ts, its GIL held. */
        PyThreadState_Swap(main_ts);
        gowsgi_leave(main_ts);
        return NULL;
    }
    gowsgi_interp *it = calloc(1, sizeof(*it));
    it->own_gil = own_gil;
    it->index = index;
    it->interp = ts->interp;
    it->name = strdup(name);
    char where[300];
    snprintf(where, sizeof(where), "interpreter '%s' (own GIL)", name);
    if (!apply_own_switch_interval(name, own_gil, where) && own_gil)
        apply_switch_interval(where);
    if (setup_interp(it, err, errlen) != 0) {
        /* Keep the interpreter: ending it here could run arbitrary finalisers. */
        PyEval_SaveThread();
        *gowsgi_thread_state_slot(index) = ts;
        free((void *)it->name);
        free(it);
        return NULL;
    }
    *gowsgi_thread_state_slot(index) = ts;
    gowsgi_interps_add(it);
    gc_telemetry(it);
    PyEval_SaveThread();
    return it;
}

static PyObject *intern(const char *s)
{
    return PyUnicode_InternFromString(s);
}

/* sys.stdout and sys.stderr: process streams (TextIOWrappers over Log
 * buffers) that attribute each line to the thread's current request. */
static int setup_streams(gowsgi_interp *it)
{
    PyObject *io = PyImport_ImportModule("io");
    it->text_io_wrapper = io ? PyObject_GetAttrString(io, "TextIOWrapper") : NULL;
    Py_XDECREF(io);
    if (it->text_io_wrapper == NULL)
        return -1;
    it->stdout_log = gowsgi_log_new(NULL, GOWSGI_LOG_ERR, "<stdout>");
    it->stderr_log = gowsgi_log_new(NULL, GOWSGI_LOG_ERR, "<stderr>");
    if (it->stdout_log == NULL || it->stderr_log == NULL)
        return -1;
    gowsgi_interp_settings opts;
    gowsgi_interp_settings_of(it->name, &opts);
    PyObject *out = opts.restrict_stdout ? gowsgi_restricted_new("sys.stdout")
                                                  : gowsgi_log_wrap(it, it->stdout_log);
    PyObject *errs = gowsgi_log_wrap(it, it->stderr_log);
    int rc = -1;
    if (out != NULL && errs != NULL && PySys_SetObject("stdout", out) == 0 &&
        PySys_SetObject("stderr", errs) == 0 && PySys_SetObject("__stdout__", out) == 0 &&
        PySys_SetObject("__stderr__", errs) == 0)
        rc = 0;
    Py_XDECREF(out);
    Py_XDECREF(errs);
    if (rc != 0 || !opts.restrict_stdin)
        return rc;
    PyObject *in = gowsgi_restricted_new("sys.stdin");
    if (in == NULL || PySys_SetObject("stdin", in) != 0 || PySys_SetObject("__stdin__", in) != 0)
        rc = -1;
    Py_XDECREF(in);
    return rc;
}

/* sys.argv as mod_wsgi sets it in every interpreter. */
static int set_argv(void)
{
    PyObject *argv = Py_BuildValue("[s]", "mod_wsgi");
    int rc = argv != NULL ? PySys_SetObject("argv", argv) : -1;
    Py_XDECREF(argv);
    return rc;
}

static int setup_interp(gowsgi_interp *it, char *err, size_t errlen)
{
    it->key_script_name = intern("SCRIPT_NAME");
    it->key_path_info = intern("PATH_INFO");
    it->key_https = intern("HTTPS");
    it->key_path = intern("PATH");
    it->key_url_scheme = intern("wsgi.url_scheme");
    it->key_input = intern("wsgi.input");
    it->key_errors = intern("wsgi.errors");
    it->key_content_length = intern("CONTENT_LENGTH");
    it->key_script_start = intern("mod_wsgi.script_start");
    it->key_total_requests = intern("mod_wsgi.total_requests");
    it->key_thread_id = intern("mod_wsgi.thread_id");
    it->key_thread_requests = intern("mod_wsgi.thread_requests");
    it->str_http = intern("http");
    it->str_https = intern("https");
    it->str_close = intern("close");
    it->str_fileno = intern("fileno");
    it->str_tell = intern("tell");
    it->str_utf8 = intern("utf-8");
    it->str_replace = intern("replace");
    it->str_encoding = intern("encoding");
    it->str_errors = intern("errors");
    it->str_line_buffering = intern("line_buffering");
    it->str_write_through = intern("write_through");
    if (PyErr_Occurred() || set_argv() != 0 || gowsgi_types_install(it) != 0 || setup_streams(it) != 0 ||
        gowsgi_modules_install(it) != 0 || gowsgi_environ_prepare(it) != 0) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *s = value ? PyObject_Str(value) : NULL;
        snprintf(err, errlen, "setting up interpreter '%s' failed: %s", it->name,
                 s && PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : "unknown error");
        Py_XDECREF(s);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        PyErr_Clear();
        return -1;
    }
    return 0;
}

