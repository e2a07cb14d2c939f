/*
 * mod_gowsgi.c: the module record and hook registration. The Apache parent
 * never loads Go or Python (ARCHITECTURE.md section 2): the engine is loaded
 * in child_init.
 */
#define GOWSGI_MODULE_RECORD
#include "daemon.h"
#include "hooks.h"
#include "metrics.h"
#include "group_view.h"
#include "fair_share.h"
#include "group_python.h"
#include "shim.h"

#include <libgen.h>

#include "http_core.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "mpm_common.h"
#include "apr_strings.h"
#include "scoreboard.h"

#include "shim_build.h"

server_rec *gowsgi_main_server;

/* Two owners of one CPython runtime cannot work: refuse before anything is
 * started, and in `apachectl configtest` too (pre_config runs there). */
static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    if (ap_find_linked_module("mod_wsgi.c") != NULL) {
        ap_log_perror(APLOG_MARK, APLOG_CRIT, 0, plog,
                      GOWSGI_LOGNO(0002) "gowsgi: mod_wsgi is loaded in this server too; both would own one Python "
                      "runtime. Remove its LoadModule line (on Debian: a2dismod wsgi)");
        return !OK;
    }
    gowsgi_globals_reset(pconf);
    return OK;
}

/* post_config's pool and server when the daemons wait for pre_mpm. */
static apr_pool_t *deferred_pconf;
static server_rec *deferred_server;

/* The daemons, then the metrics table for a server with none (with
 * daemons, it is made before their first fork: daemon_process.c). */
static int start(apr_pool_t *pconf, server_rec *s)
{
    int rc = gowsgi_daemons_start(pconf, s);
    if (rc == OK && gowsgi_metrics_get() == NULL)
        rc = gowsgi_metrics_setup(pconf, s);
    return rc;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    void *first_pass = NULL;
    const char *key = "gowsgi_post_config";

    /* Apache runs post_config twice at start-up; report once, on the real run. */
    apr_pool_userdata_get(&first_pass, key, s->process->pool);
    if (first_pass == NULL) {
        apr_pool_userdata_set((const void *)1, key, apr_pool_cleanup_null, s->process->pool);
        return OK;
    }
    ap_add_version_component(pconf, "gowsgi/" GOWSGI_VERSION);
    gowsgi_main_server = s;
    gowsgi_warn_unhonoured(s);
    gowsgi_path_translated_configure(s);
    /* At start-up Apache makes its scoreboard after post_config (pre_mpm):
     * daemons forked now would have none for server_metrics(), so they are
     * forked then, as mod_wsgi's. On a restart the scoreboard is kept. */
    if (!ap_exists_scoreboard_image()) {
        deferred_pconf = pconf;
        deferred_server = s;
        return OK;
    }
    return start(pconf, s);
}

static int pre_mpm(apr_pool_t *p, ap_scoreboard_e sb_type)
{
    apr_pool_t *pconf = deferred_pconf;
    if (pconf == NULL)
        return OK;
    deferred_pconf = NULL;
    return start(pconf, deferred_server);
}

/* A server with daemon groups mostly forwards to them: its children load
 * the engine at their first embedded request, unless something must run
 * in them from the start (an access, authentication or dispatch script, an
 * embedded WSGIImportScript, WSGITelemetryService's reports of each child).
 * A server without daemon groups runs all its apps embedded and loads it
 * at once, as before. Under GoWSGICompatibility 6 Python may coerce a C
 * locale as it starts, which sets LC_CTYPE in the environment: only safe
 * before the child's threads run, so that child loads at once too. */
static int engine_deferred(apr_pool_t *pchild, server_rec *s)
{
    int imports = 0;
    if (gowsgi_globals.daemons == NULL || gowsgi_globals.daemons->nelts == 0 || gowsgi_globals.python_required ||
        gowsgi_globals.telemetry_target != NULL || gowsgi_server_modwsgi6(s))
        return 0;
    gowsgi_engine_imports(pchild, "", &imports);
    return imports == 0;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    gowsgi_main_server = s;
    gowsgi_prefork_exit_setup();
    gowsgi_daemons_child_init();
    /* WSGIRestrictEmbedded On: this child only forwards; no Python here. */
    if (gowsgi_globals.restrict_embedded == 1 && !gowsgi_globals.python_required) {
        gowsgi_engine_error = "embedded mode is off (WSGIRestrictEmbedded On)";
        return;
    }
    gowsgi_engine_process_setup();
    if (engine_deferred(pchild, s))
        gowsgi_engine_defer(pchild, s);
    else
        gowsgi_engine_load(pchild, s);
}

/* The parent: what an Apache child that exited (even by a crash, mid-
 * request) held is given back: its part of each group's worker share
 * (fair_share.c) and its tickets (daemon_process.c). */
static void child_status(server_rec *s, pid_t pid, ap_generation_t gen, int slot, mpm_child_status state)
{
    (void)gen;
    (void)slot;
    if (state != MPM_CHILD_EXITED || gowsgi_in_daemon)
        return;
    gowsgi_fair_share_child_exited(s, pid);
    gowsgi_daemon_tickets_reclaim(s, pid);
}

/* configtest: each group's Python can run (group_python.c), named by its
 * WSGIDaemonProcess line. Once the whole configuration is read, so that a
 * WSGIPythonHome or GoWSGILibrary below the line counts as at run time.
 * Only configtest: pyvenv.cfg is the tenant's, who may break it at any
 * time, and a start or graceful restart (logrotate's) failing for it would
 * stop the whole server; each process of that group resolves its Python
 * as the group's user and cannot start alone (daemon_child.c). */
static int check_groups_python(apr_pool_t *ptemp, server_rec *s)
{
    apr_array_header_t *daemons = gowsgi_globals.daemons;
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL || daemons == NULL)
        return OK;
    char *dir = apr_pstrdup(ptemp, gowsgi_engine_library(ptemp));
    const char *engine_dir = dirname(dir);
    int rc = OK;
    for (int i = 0; i < daemons->nelts; i++) {
        const gowsgi_daemon *d = &APR_ARRAY_IDX(daemons, i, gowsgi_daemon);
        const char *home = apr_table_get(d->options, "python-home");
        gowsgi_python py;
        const char *err = gowsgi_python_resolve(ptemp, home != NULL ? "python-home=" : "WSGIPythonHome ",
                                                home != NULL ? home : gowsgi_globals.python_home,
                                                apr_table_get(d->options, "python-executable"), engine_dir, &py);
        if (err == NULL)
            continue;
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     GOWSGI_LOGNO(0003) "gowsgi: WSGIDaemonProcess %s (line %d of %s): %s",
                     d->name, d->where.line, d->where.file, err);
        rc = HTTP_INTERNAL_SERVER_ERROR;
    }
    return rc;
}

/* Once the whole configuration is read (configtest too): a WSGIPythonHome
 * virtualenv of another Python than the server's can serve daemon groups,
 * not embedded mode, which runs the server's Python. */
static int check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf;
    (void)plog;
    if (check_groups_python(ptemp, s) != OK)
        return HTTP_INTERNAL_SERVER_ERROR;
    const char *tag = gowsgi_globals.python_home_tag;
    if (tag == NULL || strcmp(tag, GOWSGI_PYTHON_TAG) == 0 ||
        (gowsgi_globals.restrict_embedded == 1 && !gowsgi_globals.python_required))
        return OK;
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                 GOWSGI_LOGNO(0004) "gowsgi: WSGIPythonHome %s (line %d of %s) is a virtualenv made with Python %s, "
                 "but embedded mode runs the server's Python %s: give it to the daemon groups as python-home= (or set "
                 "WSGIRestrictEmbedded On if only daemon groups run apps)",
                 gowsgi_globals.python_home, gowsgi_globals.python_home_where.line,
                 gowsgi_globals.python_home_where.file, tag, GOWSGI_PYTHON_TAG);
    return HTTP_INTERNAL_SERVER_ERROR;
}

static void register_hooks(apr_pool_t *p)
{
    /* After mod_alias (its Alias wins, as with mod_wsgi), before mod_userdir
     * and mod_vhost_alias. */
    static const char *const after_alias[] = {"mod_alias.c", NULL};
    static const char *const before_userdir[] = {"mod_userdir.c", "mod_vhost_alias.c", NULL};

    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* After the core's, which makes the scoreboard. */
    ap_hook_pre_mpm(pre_mpm, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_monitor(gowsgi_daemons_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(gowsgi_metrics_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_status(child_status, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(gowsgi_translate_name, after_alias, before_userdir, APR_HOOK_MIDDLE);
    ap_hook_handler(gowsgi_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(gowsgi_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    gowsgi_status_section_register();
    ap_hook_handler(gowsgi_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    gowsgi_register_auth_hooks(p);
}

AP_DECLARE_MODULE(gowsgi) = {
    STANDARD20_MODULE_STUFF,
    gowsgi_create_dir_conf,
    gowsgi_merge_dir_conf,
    gowsgi_create_server_conf,
    gowsgi_merge_server_conf,
    gowsgi_directives,
    register_hooks,
    AP_MODULE_FLAG_NONE,
};
