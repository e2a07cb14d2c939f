/*
 * loader.c: loads the engine in an Apache child (never in the parent: the Go
 * runtime does not survive fork and cannot be unloaded). libpython goes first,
 * RTLD_GLOBAL, because Debian's lib-dynload extensions are not linked against
 * it; libgowsgi.so then RTLD_LOCAL. Neither is ever dlclose()d.
 */
#include "shim.h"

#include <dlfcn.h>
#include <libgen.h>
#include <string.h>

#include "ap_mpm.h"
#include "http_core.h"
#include "apr_strings.h"

#include "shim_build.h"

gowsgi_serve_fn gowsgi_engine_serve;
const char *gowsgi_engine_error = "the gowsgi engine was not loaded";

/* libgowsgi.so beside mod_gowsgi.so, unless GoWSGILibrary says otherwise. */
static const char *library_path(apr_pool_t *p)
{
    Dl_info info;
    if (gowsgi_globals.library_path != NULL)
        return gowsgi_globals.library_path;
    if (dladdr((void *)&gowsgi_module, &info) == 0 || info.dli_fname == NULL)
        return "libgowsgi.so";
    char *dir = apr_pstrdup(p, info.dli_fname);
    return apr_pstrcat(p, dirname(dir), "/libgowsgi.so", NULL);
}

static int mpm_query(int what, int fallback)
{
    int v = 0;
    if (ap_mpm_query(what, &v) != APR_SUCCESS)
        return fallback;
    return v;
}

/* Embedded-mode imports: WSGIImportScript with process-group=%{GLOBAL} and
 * the preloads of aliases that name both groups. */
static gowsgi_import *imports(apr_pool_t *p, int *n)
{
    apr_array_header_t *list = gowsgi_globals.import_scripts;
    *n = list ? list->nelts : 0;
    gowsgi_import *out = apr_pcalloc(p, sizeof(*out) * (size_t)(*n + 1));
    for (int i = 0; i < *n; i++) {
        gowsgi_import_script *in = &APR_ARRAY_IDX(list, i, gowsgi_import_script);
        out[i].script = in->script;
        out[i].application_group = in->application_group ? in->application_group : "";
        out[i].callable_object = NULL;
        out[i].where = apr_psprintf(p, "%s:%d", in->where.file ? in->where.file : "?", in->where.line);
    }
    return out;
}

void gowsgi_engine_load(apr_pool_t *pchild, server_rec *s)
{
    const char *lib = library_path(pchild);
    char errbuf[2048] = "";
    gowsgi_init init;

    if (dlopen(GOWSGI_LIBPYTHON, RTLD_NOW | RTLD_GLOBAL) == NULL) {
        gowsgi_engine_error = apr_psprintf(pchild, "cannot load %s: %s", GOWSGI_LIBPYTHON, dlerror());
        goto fail;
    }
    void *engine = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (engine == NULL) {
        gowsgi_engine_error = apr_psprintf(pchild, "cannot load %s: %s", lib, dlerror());
        goto fail;
    }
    gowsgi_child_init_fn child_init = (gowsgi_child_init_fn)dlsym(engine, "gowsgi_child_init");
    gowsgi_serve_fn handle = (gowsgi_serve_fn)dlsym(engine, "gowsgi_serve");
    if (child_init == NULL || handle == NULL) {
        gowsgi_engine_error = apr_psprintf(pchild, "%s is not a gowsgi engine (missing exports)", lib);
        goto fail;
    }

    memset(&init, 0, sizeof(init));
    init.abi_version = GOWSGI_ABI_VERSION;
    /* Daemon groups are not implemented yet and run embedded, so Python is
     * needed whenever any daemon group is defined, restriction or not. */
    init.embedded = !gowsgi_globals.restrict_embedded ||
                    (gowsgi_globals.daemons && gowsgi_globals.daemons->nelts > 0);
    init.python_home = gowsgi_globals.python_home;
    init.python_path = gowsgi_globals.python_path;
    init.python_eggs = gowsgi_globals.python_eggs;
    init.optimize = gowsgi_globals.python_optimize;
    init.hash_seed = gowsgi_globals.python_hash_seed;
    init.dont_write_bytecode = gowsgi_globals.dont_write_bytecode == 1;
    if (gowsgi_globals.python_warnings) {
        init.nwarnings = gowsgi_globals.python_warnings->nelts;
        init.warnings = (const char *const *)gowsgi_globals.python_warnings->elts;
    }
    init.restrict_stdin = gowsgi_globals.restrict_stdin == 1;
    init.restrict_stdout = gowsgi_globals.restrict_stdout == 1;
    init.restrict_signal = gowsgi_globals.restrict_signal != 0;
    init.imports = imports(pchild, &init.nimports);

    /* wsgi.multithread/multiprocess as mod_wsgi derives them from the MPM. */
    int threads = 1, processes = 1;
    if (mpm_query(AP_MPMQ_IS_THREADED, AP_MPMQ_NOT_SUPPORTED) != AP_MPMQ_NOT_SUPPORTED)
        threads = mpm_query(AP_MPMQ_MAX_THREADS, 1);
    if (mpm_query(AP_MPMQ_IS_FORKED, AP_MPMQ_NOT_SUPPORTED) != AP_MPMQ_NOT_SUPPORTED) {
        /* The configured limit, not how many run now: mod_wsgi's answer. */
        processes = mpm_query(AP_MPMQ_MAX_DAEMONS, 1);
    }
    init.max_threads = threads > 0 ? threads : 1;
    init.max_processes = processes > 0 ? processes : 1;
    init.multithread = init.max_threads > 1;
    init.multiprocess = init.max_processes > 1;
    init.mpm_name = ap_show_mpm();
    init.server_description = ap_get_server_description();
    init.server_built = ap_get_server_built();
    ap_version_t v;
    ap_get_server_revision(&v);
    init.apache_version[0] = v.major;
    init.apache_version[1] = v.minor;
    init.apache_version[2] = v.patch;
    init.log = gowsgi_log_process;

    if (child_init(&init, errbuf, sizeof(errbuf)) != 0) {
        gowsgi_engine_error = apr_pstrdup(pchild, errbuf);
        goto fail;
    }
    gowsgi_engine_serve = handle;
    return;

fail:
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "gowsgi: the WSGI engine could not start in this child "
                 "(pid %d), every WSGI request will get 500: %s", (int)getpid(), gowsgi_engine_error);
}
