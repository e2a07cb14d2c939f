/*
 * daemon_child.c: a daemon process between fork() and the engine. Before any
 * thread exists, and in this order (ARCHITECTURE.md section 5): leave
 * Apache's process group, close Apache's listeners and every descriptor
 * that is not this group's, take the group's identity (never root), find
 * its Python as that user (group_python.c), ask to die with the parent, go home, set the umask, locale and limits; then exec
 * the launcher (daemon_launch.c, ARCHITECTURE.md section 7), which loads
 * libpython and libgowsgi.so in a fresh image that holds nothing of any
 * other tenant; a server-metrics=On group (it reads Apache's scoreboard,
 * which no exec keeps) loads them here instead. A setup
 * failure is logged with its cause and the process waits before exiting,
 * so a broken group cannot become a fork loop.
 */
#include "daemon.h"
#include "daemon_launch.h"
#include "fair_share.h"
#include "metrics.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errorlog_line.h"
#include "daemon_start.h"

#include "ap_listen.h"
#include "http_main.h"
#include "unixd.h"
#include "apr_strings.h"

#include "shim_build.h"
#include "crash_report.h"

static gowsgi_daemon_slot *exit_slot;
static int apache_sid;
/* Set once Apache's log descriptors may be closed (on the way to exec):
 * a failure is then written to stderr, the group's vhost log. */
static int logs_moved;

/* The parent reads why a process went: say it, then go. */
static void note_exit(const char *why)
{
    if (exit_slot == NULL)
        return;
    snprintf(exit_slot->reason, sizeof(exit_slot->reason), "%s", why);
    __atomic_store_n(&exit_slot->exiting, 1, __ATOMIC_RELEASE);
}

static void fail(gowsgi_daemon_rt *rt, int index, const char *what, int err) __attribute__((noreturn));
static void fail(gowsgi_daemon_rt *rt, int index, const char *what, int err)
{
    char why[160];
    if (logs_moved) {
        char line[1024];
        gowsgi_daemon_log log = rt->log;
        log.fd = STDERR_FILENO;
        int n = snprintf(line, sizeof(line), GOWSGI_SETUP_FAILURE_LINE, index, rt->conf->name, (int)getpid(), what,
                         err ? ": " : "", err ? strerror(err) : "", GOWSGI_SETUP_FAILURE_BACKOFF);
        gowsgi_errorlog_write(&log, APLOG_CRIT, NULL, NULL, line,   /* logno: GOWSGI_SETUP_FAILURE_LINE's */
                              n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
    } else {
        /* Apache's own line adds the error (ap_log_error's status). */
        ap_log_error(APLOG_MARK, APLOG_CRIT, err, rt->conf->server, GOWSGI_SETUP_FAILURE_LINE, index,
                     rt->conf->name, (int)getpid(), what, "", "", GOWSGI_SETUP_FAILURE_BACKOFF);
    }
    snprintf(why, sizeof(why), GOWSGI_SETUP_FAILURE_REASON, what, err ? ": " : "", err ? strerror(err) : "");
    note_exit(why);
    sleep(GOWSGI_SETUP_FAILURE_BACKOFF);
    _exit(1);
}

/* Apache's handlers and mask are the parent's business; Go installs its own
 * for the signals the engine listens to. SIGPIPE and SIGXFSZ are ignored,
 * as Python's own start ignores them (mod_wsgi's daemons, Apache's
 * children): a write to a closed pipe or past RLIMIT_FSIZE is an OSError
 * for the app, not the process's death. */
static void reset_signals(void)
{
    sigset_t none;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The process title mod_wsgi gives: written over Apache's argv[0], padded
 * with spaces and cut to its length (the other arguments stay). */
static void set_title(const char *title)
{
    char *argv0 = (char *)gowsgi_main_server->process->argv[0];
    if (argv0 == NULL)
        return;
    size_t room = strlen(argv0), len = strlen(title);
    memset(argv0, ' ', room);
    memcpy(argv0, title, len < room ? len : room);
    prctl(PR_SET_NAME, title, 0, 0, 0);
}

/* Nothing of another group may stay in a daemon: not its channel, not its
 * shared records (a tenant could forge them), not its secret. */
static void close_others(gowsgi_daemon_rt *own)
{
    ap_close_listeners();
    gowsgi_fair_share_forget();   /* its group's worker count is Apache's to keep */
    gowsgi_metrics_forget();      /* every group's request counts: Apache's too */
    for (int g = 0; g < gowsgi_daemon_nrts; g++) {
        gowsgi_daemon_rt *rt = &gowsgi_daemon_rts[g];
        close(rt->channel[0]);   /* a daemon never sends on a channel */
        if (rt == own) {
            /* Its own records stay mapped; their descriptor goes to the
             * launcher only. A process that runs the tenant's code here
             * must not hold it (it could resize the records under
             * everyone that maps them, were they not sealed). */
            if (!own->launcher && own->shared_fd >= 0) {
                close(own->shared_fd);
                own->shared_fd = -1;
            }
            continue;
        }
        close(rt->channel[1]);
        explicit_bzero(rt->secret, sizeof(rt->secret));
        if (rt->shared != NULL && rt->shared != MAP_FAILED)
            munmap(rt->shared, rt->shared_size);
        rt->shared = NULL;
        if (rt->shared_fd >= 0)
            close(rt->shared_fd);
        rt->shared_fd = -1;
    }
}

/* A process that loads the engine here, without an exec (server-metrics=
 * On), still holds descriptors of Apache's that are not close-on-exec: a
 * program the app starts without closing them (os.system()) would inherit
 * them. Nothing here execs, so every one above standard error is marked,
 * as daemon_launch.c's arrange closes them (close_range, or one by one).
 * (The launcher does the same for the channel that exec gives it.) */
static void close_on_exec_above_stderr(void)
{
    if (close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return;
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = STDERR_FILENO + 1; fd < (max > 0 ? max : 65536); fd++) {
        int flags = fcntl((int)fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC))
            fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

/* os.environ says who the process runs as, as mod_wsgi fixes it up: HOME
 * always, USER, USERNAME and LOGNAME where Apache's environment had them. */
static void fix_environment(void)
{
    struct passwd *pw = getpwuid(geteuid());
    if (pw == NULL)
        return;
    const char *names[] = {"USER", "USERNAME", "LOGNAME"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (getenv(names[i]) != NULL)
            setenv(names[i], pw->pw_name, 1);
    setenv("HOME", pw->pw_dir, 1);
}

/* Go's runtime in a daemon process the launcher runs reads these from the
 * environment exec gave, once, as it initialises, before any of the
 * engine's code runs (a server-metrics=On process loads the engine
 * without an exec, and its Go reads Apache's original environment, so
 * this is not done there):
 * - GOMAXPROCS=1: it starts with one P. The engine sets 1 anyway
 *   (wsgi/daemon.go), and each P it starts with leaves its own spans and
 *   caches behind (docs/benchmarks.md, "Go runtime in an idle daemon":
 *   0.2 MiB a process).
 * - containermaxprocs=0 in GODEBUG: it reads the cgroup's CPU limit once
 *   and closes its files, rather than keeping two descriptors open for
 *   the life of the process (an app listing its descriptors saw them) to
 *   follow a limit the engine's GOMAXPROCS overrides anyway.
 * GOWSGI_DAEMON_<name> tells DaemonMain what to put back before Python
 * reads os.environ: "-" for unset, "=value" for Apache's own. */
static void go_runtime_variable(const char *name, const char *value, int after_apaches)
{
    const char *was = getenv(name);
    char note[64], *saved = NULL, *mixed = NULL;
    snprintf(note, sizeof(note), "GOWSGI_DAEMON_%s", name);
    if (was != NULL && asprintf(&saved, "=%s", was) < 0)
        return;   /* left as Apache's: the engine's GOMAXPROCS(1) still applies */
    if (was != NULL && after_apaches && *was && asprintf(&mixed, "%s,%s", was, value) < 0) {
        free(saved);
        return;
    }
    setenv(note, saved != NULL ? saved : "-", 1);
    setenv(name, mixed != NULL ? mixed : value, 1);   /* Apache's own settings stay */
    free(saved);
    free(mixed);
}

static void go_runtime_environment(void)
{
    go_runtime_variable("GOMAXPROCS", "1", 0);
    go_runtime_variable("GODEBUG", "containermaxprocs=0", 1);
}

/* stack-size= for the threads gowsgi-daemon-X.Y's Go runtime starts from
 * its constructor, before the launcher has read its settings: read there
 * from the environment, and removed from it before Python starts
 * (wsgi/launcher/engine_builtin.c, main.c). */
static void early_stack_size(gowsgi_daemon_rt *rt)
{
    if (rt->stack_size <= 0)
        return;
    char value[32];
    snprintf(value, sizeof(value), "%ld", rt->stack_size);
    setenv(GOWSGI_LAUNCH_STACK_SIZE_ENV, value, 1);
}

static void set_limit(gowsgi_daemon_rt *rt, int index, int resource, long value, const char *what)
{
    if (value <= 0)
        return;
    /* CPU: a soft limit only, so SIGXCPU asks for a graceful restart (the
     * engine drains) rather than the hard limit's kill. */
    struct rlimit rl = {(rlim_t)value, resource == RLIMIT_CPU ? RLIM_INFINITY : (rlim_t)value};
    if (setrlimit(resource, &rl) != 0)
        fail(rt, index, what, errno);
}

static void take_identity(gowsgi_daemon_rt *rt, int index)
{
    if (geteuid() != 0)
        return;   /* Apache not started as root: options are ignored, as mod_wsgi */
    if (rt->uid == 0)
        fail(rt, index, "WSGI process blocked from running as root.", 0);
    if (setgid(rt->gid) != 0)
        fail(rt, index, "setgid", errno);
    int rc = rt->groups ? setgroups((size_t)rt->ngroups, rt->groups) : initgroups(rt->user_name, rt->gid);
    if (rc != 0)
        fail(rt, index, "setting the supplementary groups", errno);
    if (setuid(rt->uid) != 0)
        fail(rt, index, "setuid", errno);
    if (getuid() == 0 || geteuid() == 0)
        fail(rt, index, "WSGI process blocked from running as root.", 0);
}

/* The group's Python (group_python.c), resolved here, as the group's user,
 * not in the root parent: its virtualenv's pyvenv.cfg is the tenant's, who
 * may change it at any time. Root would follow its links and see files the
 * tenant cannot, and the error, logged where the tenant may read it, would
 * tell what only root can see (that another tenant's file exists, where
 * its link leads); a tenant's slow or hung file system would stall the
 * parent. Here a broken virtualenv fails this group alone, at each start,
 * so mending it needs no restart. configtest resolves it too (as root, for
 * the sysadmin: daemon_directives.c). */
static void resolve_python(gowsgi_daemon_rt *rt, int index)
{
    apr_pool_t *p;
    apr_pool_create(&p, NULL);   /* what it resolves lives as long as the process */
    const char *home = apr_table_get(rt->conf->options, "python-home");
    char *dir = apr_pstrdup(p, gowsgi_engine_library(p));
    const char *err = gowsgi_python_resolve(p, home != NULL ? "python-home=" : "WSGIPythonHome ", rt->python_home,
                                            apr_table_get(rt->conf->options, "python-executable"), dirname(dir),
                                            &rt->python);
    if (err != NULL)
        fail(rt, index, err, 0);
}

/* stack-size: the default for every thread made from now on, Go's worker
 * threads and the app's own included (glibc; before any exists). */
static void set_stack_size(gowsgi_daemon_rt *rt, int index)
{
    pthread_attr_t attr;
    if (rt->stack_size <= 0)
        return;
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, (size_t)rt->stack_size) != 0 ||
        pthread_setattr_default_np(&attr) != 0)
        fail(rt, index, "stack-size", 0);
    pthread_attr_destroy(&attr);
}

/* What the engine is handed: the server's and the group's settings, and
 * the process's slot in the group's shared records. */
static void build_init(apr_pool_t *p, gowsgi_daemon_rt *rt, int index, gowsgi_daemon_init *init)
{
    memset(init, 0, sizeof(*init));
    gowsgi_engine_settings(p, &init->base);
    gowsgi_daemon_engine_settings(p, rt, init);
    init->process_index = index;
    /* Peers are Apache's children even when the on-demand starter, not
     * Apache's parent, forked this process (daemon_starter.c). */
    init->parent_pid = gowsgi_daemon_apache_pid > 0 ? gowsgi_daemon_apache_pid : (int)getppid();
    init->parent_sid = apache_sid;
    /* Apache's children run as Apache's User; only they may connect. */
    init->peer_uid = (unsigned int)ap_unixd_config.user_id;
    gowsgi_daemon_slot *slot = &rt->shared->slots[index];
    init->exit_reason = slot->reason;
    init->exit_reason_size = sizeof(slot->reason);
    init->reload_token = &rt->shared->reload_token;
    init->ready = &slot->ready;
    init->idle = &slot->idle;
    init->tickets = rt->tickets;
    init->ntickets = rt->ntickets;
    init->crash_fd = -1;
}

/* An isolated process: becomes the launcher, holding only its own group's
 * settings and descriptors (daemon_launch.c). */
static void launch(gowsgi_daemon_rt *rt, int index)
{
    apr_pool_t *p;
    apr_pool_create(&p, NULL);
    gowsgi_daemon_init init;
    build_init(p, rt, index, &init);
    const char *why = gowsgi_daemon_exec(p, rt, &init, gowsgi_daemon_launcher_for(p, rt),
                                         rt->procs[index].backoff ? GOWSGI_SETUP_FAILURE_BACKOFF : 0, &logs_moved);
    fail(rt, index, why, 0);
}

static void start_engine(gowsgi_daemon_rt *rt, int index)
{
    apr_pool_t *p;
    apr_pool_create(&p, NULL);
    /* The group's own Python and its engine build (group_python.c). */
    if (dlopen(rt->python.libpython, RTLD_NOW | RTLD_GLOBAL) == NULL)
        fail(rt, index, apr_psprintf(p, "cannot load %s: %s", rt->python.libpython, dlerror()), 0);
    /* Between the two: Go forwards a crash in C to a handler that was there before it. */
    int crash_fd = gowsgi_daemon_crash_report(p, rt, index);
    const char *lib = rt->python.engine != NULL ? rt->python.engine : gowsgi_engine_library(p);
    void *engine = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (engine == NULL)
        fail(rt, index, apr_psprintf(p, "cannot load %s: %s", lib, dlerror()), 0);
    gowsgi_crash_report_engine(engine);
    gowsgi_daemon_main_fn daemon_main = (gowsgi_daemon_main_fn)dlsym(engine, "gowsgi_daemon_main");
    if (daemon_main == NULL)
        fail(rt, index, apr_psprintf(p, "%s is not a gowsgi engine (no gowsgi_daemon_main)", lib), 0);

    gowsgi_daemon_init init;
    build_init(p, rt, index, &init);
    gowsgi_daemon_slot *slot = &rt->shared->slots[index];
    init.crash_fd = crash_fd;
    int code = daemon_main(&init);
    __atomic_store_n(&slot->exiting, 1, __ATOMIC_RELEASE);
    _exit(code);
}

/* Whatever calls exit() in this process (CPython gives up on a bad
 * python-home that way) must not run the Apache parent's atexit and pool
 * cleanups, which this fork inherited: they would remove the pid file and
 * stop the other daemons. Registered last, so it runs first. */
static void exit_without_apache(void)
{
    if (exit_slot != NULL && !__atomic_load_n(&exit_slot->exiting, __ATOMIC_ACQUIRE))
        note_exit("it called exit() while starting");
    _exit(1);
}

void gowsgi_daemon_child_main(gowsgi_daemon_rt *rt, int index)
{
    atexit(exit_without_apache);
    gowsgi_in_daemon = 1;
    exit_slot = &rt->shared->slots[index];
    /* Apache's session, before leaving it (the starter has left it
     * already). The parent recorded it with its pid: a session id of 0
     * (a session leader outside this pid namespace, as in a container) is
     * as valid as any other. */
    apache_sid = gowsgi_daemon_apache_pid > 0 ? gowsgi_daemon_apache_sid : (int)getsid(0);
    gowsgi_starter_close();   /* the starter's wake channel is not a daemon's */
    /* Forked by the starter, it bears the starter's name until its own
     * title: Apache's, as a fork of Apache's parent has. */
    const char *program = strrchr(ap_server_argv0, '/');
    prctl(PR_SET_NAME, program ? program + 1 : ap_server_argv0, 0, 0, 0);
    reset_signals();
    if (setsid() < 0)
        fail(rt, index, "setsid", errno);
    close_others(rt);
    /* A process on its way to exec holds Apache's whole configuration
     * until then: no other process of the tenant's user may read it. */
    if (rt->launcher)
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* What is written to stderr below the engine (Python's fatal errors, a
     * crash report) goes to the group's vhost log too. */
    if (rt->log.fd >= 0 && rt->log.fd != STDERR_FILENO)
        dup2(rt->log.fd, STDERR_FILENO);
    if (rt->display_name && !rt->launcher)
        set_title(rt->display_name);
    take_identity(rt, index);
    resolve_python(rt, index);
    if (rt->launcher)
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);   /* setuid resets it to the system's default */
    /* After setuid, which clears it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() == 1)
        _exit(0);   /* the parent is already gone */
    if (rt->home && chdir(rt->home) != 0) {
        char what[512];
        snprintf(what, sizeof(what), "unable to change working directory to '%s' (home) as uid=%ld", rt->home,
                 (long)geteuid());
        fail(rt, index, what, errno);
    }
    if (rt->umask >= 0)
        umask((mode_t)rt->umask);
    if (rt->lang)
        setenv("LANG", rt->lang, 1);
    if (rt->locale) {
        setenv("LC_ALL", rt->locale, 1);
        setlocale(LC_ALL, rt->locale);
    }
    fix_environment();
    if (rt->python_eggs)
        setenv("PYTHON_EGG_CACHE", rt->python_eggs, 1);
    set_limit(rt, index, RLIMIT_CPU, rt->cpu_time_limit, "cpu-time-limit");
    set_limit(rt, index, RLIMIT_DATA, rt->memory_limit, "memory-limit");
    set_limit(rt, index, RLIMIT_AS, rt->virtual_memory_limit, "virtual-memory-limit");
    if (rt->cpu_priority != 0 && setpriority(PRIO_PROCESS, 0, rt->cpu_priority) != 0)
        fail(rt, index, "cpu-priority", errno);
    if (rt->launcher) {
        go_runtime_environment();
        early_stack_size(rt);
        launch(rt, index);   /* the launcher sets the stack size and waits out a back-off */
    }
    set_stack_size(rt, index);
    close_on_exec_above_stderr();
    if (rt->procs[index].backoff) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rt->conf->server, GOWSGI_BACKOFF_LINE, index, rt->conf->name,
                     (int)getpid(), GOWSGI_SETUP_FAILURE_BACKOFF);
        /* Said in the slot meanwhile (daemon_start.h). */
        snprintf(exit_slot->reason, sizeof(exit_slot->reason), GOWSGI_BACKOFF_REASON, GOWSGI_SETUP_FAILURE_BACKOFF);
        sleep(GOWSGI_SETUP_FAILURE_BACKOFF);
        exit_slot->reason[0] = '\0';
    }
    start_engine(rt, index);
    _exit(1);
}
