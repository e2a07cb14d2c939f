/*
 * engine_load.c: loads the engine in an Apache child (never in the parent: the Go
 * runtime does not survive fork and cannot be unloaded). libpython goes first,
 * RTLD_GLOBAL, because Debian's lib-dynload extensions are not linked against
 * it; libgowsgi.so then RTLD_LOCAL. Neither is ever dlclose()d.
 */
#include "hooks.h"

#include <dlfcn.h>
#include <libgen.h>
#include <string.h>

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

void gowsgi_engine_load(apr_pool_t *pchild, server_rec *s)
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
                 "(pid %d), every WSGI request will get 500: %s", (int)getpid(), gowsgi_engine_error);
}
