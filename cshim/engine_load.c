/*
 * engine_load.c: loads the engine in an Apache child (never in the parent: the Go
 * runtime does not survive fork and cannot be unloaded). libpython goes first,
 * RTLD_GLOBAL, because Debian's lib-dynload extensions are not linked against
 * it; libgowsgi.so then RTLD_LOCAL. Neither is ever dlclose()d.
 *
 * When the server has daemon groups and nothing that must run in the children
 * from the start, a child loads it at its first request that needs it
 * (gowsgi_engine_ready): a child that only forwards to daemons carries no
 * libpython, no Go runtime and no Python (docs/benchmarks.md, "Apache's
 * children").
 */
#include "hooks.h"

#include <dlfcn.h>
#include <libgen.h>
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "apr_strings.h"

#include "shim_build.h"
#include "crash_report.h"

#include "ap_mpm.h"

gowsgi_serve_fn gowsgi_engine_serve;
const char *gowsgi_engine_error = "the gowsgi engine was not loaded";

/* libgowsgi.so beside mod_gowsgi.so, unless GoWSGILibrary says otherwise. */
const char *gowsgi_engine_library(apr_pool_t *p)
{
    Dl_info info;
    if (gowsgi_globals.library_path != NULL)
        return gowsgi_globals.library_path;
    if (dladdr((void *)&gowsgi_module, &info) == 0 || info.dli_fname == NULL)
        return "libgowsgi.so";
    char *dir = apr_pstrdup(p, info.dli_fname);
    return apr_pstrcat(p, dirname(dir), "/libgowsgi.so", NULL);
}

static void load(apr_pool_t *pchild, server_rec *s)
{
    const char *lib = gowsgi_engine_library(pchild);
    char errbuf[2048] = "";
    gowsgi_init init;

    if (dlopen(GOWSGI_LIBPYTHON, RTLD_NOW | RTLD_GLOBAL) == NULL) {
        gowsgi_engine_error = apr_psprintf(pchild, "cannot load %s: %s", GOWSGI_LIBPYTHON, dlerror());
        goto fail;
    }
    /* Between the two: Go forwards a crash in C to a handler that was there before it. */
    gowsgi_child_crash_report();
    void *engine = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (engine == NULL) {
        gowsgi_engine_error = apr_psprintf(pchild, "cannot load %s: %s", lib, dlerror());
        goto fail;
    }
    gowsgi_crash_report_engine(engine);
    gowsgi_child_init_fn child_init = (gowsgi_child_init_fn)dlsym(engine, "gowsgi_child_init");
    gowsgi_serve_fn handle = (gowsgi_serve_fn)dlsym(engine, "gowsgi_serve");
    gowsgi_call_hook_fn call_hook = (gowsgi_call_hook_fn)dlsym(engine, "gowsgi_call_hook");
    if (child_init == NULL || handle == NULL || call_hook == NULL) {
        gowsgi_engine_error = apr_psprintf(pchild, "%s is not a gowsgi engine (missing exports)", lib);
        goto fail;
    }

    gowsgi_engine_settings(pchild, &init);

    if (child_init(&init, errbuf, sizeof(errbuf)) != 0) {
        gowsgi_engine_error = apr_pstrdup(pchild, errbuf);
        goto fail;
    }
    gowsgi_engine_serve = handle;
    gowsgi_engine_call_hook = call_hook;
    /* No Python at an Apache child's exit: prefork exits from a signal
     * handler, and on worker and event, running process_stopping and atexit
     * from the child pool's cleanup crashed the child about once in 30 quick
     * start/stop cycles under load (cause not found). Daemon processes,
     * whose exit Go controls, run them. */
    return;

fail:
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                 GOWSGI_LOGNO(0005) "gowsgi: the WSGI engine could not start in this child "
                 "(pid %d), every WSGI request it would run embedded will get 500: %s", (int)getpid(), gowsgi_engine_error);
}

/* Done in child_init, before the load, deferred or not, and before the MPM
 * starts its worker threads: setenv and setlocale are not safe beside
 * threads that read the environment or use the locale, and a deferred load
 * runs beside Apache's. WSGIPythonEggs is PYTHON_EGG_CACHE; LC_CTYPE from
 * the environment is what Python would set as it starts, and under mod_wsgi
 * 4.9.4's rules it then leaves the locale alone (locale_set, wsgi/pyinit.c).
 * Under 6.0's it may coerce it, so that child does not defer (mod_gowsgi.c,
 * engine_deferred). */
void gowsgi_engine_process_setup(void)
{
    if (gowsgi_globals.python_eggs != NULL)
        setenv("PYTHON_EGG_CACHE", gowsgi_globals.python_eggs, 1);
    setlocale(LC_CTYPE, "");
}

/* Counted as serving: a prefork child stopped while it loads ends at once
 * (prefork_exit.c). */
void gowsgi_engine_load(apr_pool_t *pchild, server_rec *s)
{
    gowsgi_prefork_serving_begin();
    load(pchild, s);
    gowsgi_prefork_serving_end();
}

/* The deferred load: its pool and server, set in child_init before any
 * other thread exists; pthread_once lets one thread load while the others
 * wait for it. */
static apr_pool_t *deferred_pool;
static server_rec *deferred_server;
static pthread_once_t deferred_once = PTHREAD_ONCE_INIT;

void gowsgi_engine_defer(apr_pool_t *pchild, server_rec *s)
{
    /* A pool of its own: pchild is not for threads serving requests. */
    if (apr_pool_create(&deferred_pool, pchild) != APR_SUCCESS) {
        deferred_pool = NULL;
        gowsgi_engine_load(pchild, s); /* cannot wait for later: load now */
        return;
    }
    deferred_server = s;
}

/* The loading thread stays, parked, for the child's life: Python keeps its
 * id as the main thread's, and a thread created after it had exited could
 * be given the same id (and with it the right to set signal handlers). */
static sem_t deferred_loaded;

static void *deferred_loader(void *unused)
{
    (void)unused;
    gowsgi_engine_load(deferred_pool, deferred_server);
    sem_post(&deferred_loaded);
    for (;;)
        pause();
    return NULL;
}

/* Python's main thread (the only one that may set a signal handler) is the
 * one that starts it. At child_init that is the child's main thread:
 * prefork's serving thread, and on worker and event one that serves no
 * request. A worker thread here would become it: Python starts on a thread
 * of its own instead. */
static void deferred_load(void)
{
    pthread_t loader;
    pthread_attr_t attr;
    int spawned = 0;
    if (getpid() != (pid_t)syscall(SYS_gettid) && sem_init(&deferred_loaded, 0, 0) == 0 &&
        pthread_attr_init(&attr) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        spawned = pthread_create(&loader, &attr, deferred_loader, NULL) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!spawned) {
        gowsgi_engine_load(deferred_pool, deferred_server);
        return;
    }
    while (sem_wait(&deferred_loaded) != 0 && errno == EINTR)
        ;
}

void gowsgi_engine_ready(void)
{
    if (deferred_pool != NULL)
        pthread_once(&deferred_once, deferred_load);
}
