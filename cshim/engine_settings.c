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

/* The imports of one process group ("" for Apache's children): the
 * WSGIImportScript files and the preloads of aliases that name both groups. */
gowsgi_import *gowsgi_engine_imports(apr_pool_t *p, const char *process_group, int *n)
{
    apr_array_header_t *list = gowsgi_globals.import_scripts;
    int total = list ? list->nelts : 0;
    gowsgi_import *out = apr_pcalloc(p, sizeof(*out) * (size_t)(total + 1));
    *n = 0;
    for (int i = 0; i < total; i++) {
        gowsgi_import_script *in = &APR_ARRAY_IDX(list, i, gowsgi_import_script);
        if (strcmp(in->process_group ? in->process_group : "", process_group) != 0)
            continue;
        gowsgi_import *imp = &out[(*n)++];
        imp->script = in->script;
        imp->application_group = in->application_group ? in->application_group : "";
        imp->callable_object = in->callable_object;
        imp->where = apr_psprintf(p, "%s:%d", in->where.file ? in->where.file : "?", in->where.line);
    }
    return out;
}

void gowsgi_engine_settings(apr_pool_t *p, gowsgi_init *init)
{
    memset(init, 0, sizeof(*init));
    init->abi_version = GOWSGI_ABI_VERSION;
    /* WSGIRestrictEmbedded On: Apache's children only forward to daemons. */
    init->embedded = !gowsgi_globals.restrict_embedded || gowsgi_globals.python_required;
    init->python_home = gowsgi_globals.python_home;
    init->python_path = gowsgi_globals.python_path;
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
    init->case_sensitivity = gowsgi_globals.case_sensitivity != 0;
    init->verbose_debugging = gowsgi_globals.verbose_debugging == 1;
    init->imports = gowsgi_engine_imports(p, "", &init->nimports);
    init->switch_interval = gowsgi_resolve_switch_interval("");
    init->slow_requests = gowsgi_globals.slow_requests;
    init->telemetry_target = gowsgi_globals.telemetry_target;
    init->telemetry_interval_ms = gowsgi_globals.telemetry_interval_ms;
    init->telemetry_options = gowsgi_globals.telemetry_options;
    init->python_modwsgi6 = gowsgi_server_modwsgi6(gowsgi_main_server);
    init->locale_set = 1;

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
    init->destroy_interpreter = gowsgi_globals.destroy_interpreter != 0;
    /* WSGIServerMetrics On (a daemon group's server-metrics= overrides it). */
    init->scoreboard = gowsgi_globals.server_metrics == 1 ? gowsgi_scoreboard_read : NULL;
    gowsgi_engine_interp_options(p, "", init);
}
