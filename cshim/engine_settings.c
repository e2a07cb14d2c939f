/*
 * engine_settings.c: the engine's start-up settings (gowsgi_init) from the
 * configuration: the server-wide WSGIPython* directives, the embedded-mode
 * imports and what the MPM says about threads and processes.
 */
#include "shim.h"

#include "ap_mpm.h"
#include "http_core.h"
#include "apr_strings.h"

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

void gowsgi_engine_settings(apr_pool_t *p, gowsgi_init *init)
{
    memset(init, 0, sizeof(*init));
    init->abi_version = GOWSGI_ABI_VERSION;
    /* Daemon groups are not implemented yet and run embedded, so Python is
     * needed whenever any daemon group is defined, restriction or not. */
    init->embedded = !gowsgi_globals.restrict_embedded ||
                    (gowsgi_globals.daemons && gowsgi_globals.daemons->nelts > 0);
    init->python_home = gowsgi_globals.python_home;
    init->python_path = gowsgi_globals.python_path;
    init->python_eggs = gowsgi_globals.python_eggs;
    init->optimize = gowsgi_globals.python_optimize;
    init->hash_seed = gowsgi_globals.python_hash_seed;
    init->dont_write_bytecode = gowsgi_globals.dont_write_bytecode == 1;
    if (gowsgi_globals.python_warnings) {
        init->nwarnings = gowsgi_globals.python_warnings->nelts;
        init->warnings = (const char *const *)gowsgi_globals.python_warnings->elts;
    }
    init->restrict_stdin = gowsgi_globals.restrict_stdin == 1;
    init->restrict_stdout = gowsgi_globals.restrict_stdout == 1;
    init->restrict_signal = gowsgi_globals.restrict_signal != 0;
    init->imports = imports(p, &init->nimports);

    /* wsgi.multithread/multiprocess as mod_wsgi derives them from the MPM. */
    int threads = 1, processes = 1;
    if (mpm_query(AP_MPMQ_IS_THREADED, AP_MPMQ_NOT_SUPPORTED) != AP_MPMQ_NOT_SUPPORTED)
        threads = mpm_query(AP_MPMQ_MAX_THREADS, 1);
    if (mpm_query(AP_MPMQ_IS_FORKED, AP_MPMQ_NOT_SUPPORTED) != AP_MPMQ_NOT_SUPPORTED) {
        /* The configured limit, not how many run now: mod_wsgi's answer. */
        processes = mpm_query(AP_MPMQ_MAX_DAEMONS, 1);
    }
    init->max_threads = threads > 0 ? threads : 1;
    init->max_processes = processes > 0 ? processes : 1;
    init->multithread = init->max_threads > 1;
    init->multiprocess = init->max_processes > 1;
    init->mpm_name = ap_show_mpm();
    init->server_description = ap_get_server_description();
    init->server_built = ap_get_server_built();
    ap_version_t v;
    ap_get_server_revision(&v);
    init->apache_version[0] = v.major;
    init->apache_version[1] = v.minor;
    init->apache_version[2] = v.patch;
    init->log = gowsgi_log_process;
}
