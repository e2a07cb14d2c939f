/*
 * handler.c: the wsgi-script handler. Checks what mod_wsgi checks before
 * running a script (each refusal is one error-log line with mod_wsgi's
 * wording and the status it gives), resolves the groups, and makes the one
 * call into the engine.
 */
#include "daemon.h"
#include "hooks.h"
#include "metrics.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "apr_strings.h"

static int refuse(request_rec *r, int status, const char *why, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "%s: %s", why, what);   /* logno: why's */
    return status;
}

/* A note set from the WSGIScriptAlias options wins over the directory's. */
static const char *setting(request_rec *r, int aliased, const char *note, const char *dir_value)
{
    const char *v = aliased ? apr_table_get(r->notes, note) : NULL;
    return v ? v : dir_value;
}

/* The daemon group a request goes to (NULL: embedded), once its groups
 * are final; a refusal is an HTTP status in *status, with mod_wsgi's words. */
static const gowsgi_daemon *target_group(request_rec *r, const gowsgi_dir_conf *dconf, const gowsgi_request *req,
                                         int *status)
{
    *status = OK;
    if (*req->process_group == '\0') {
        if (gowsgi_globals.restrict_embedded == 1)
            *status = refuse(r, HTTP_INTERNAL_SERVER_ERROR,
                             GOWSGI_LOGNO(0405) "Embedded mode of mod_wsgi disabled by runtime configuration",
                             r->filename);
        return NULL;
    }
    const gowsgi_daemon *daemon = gowsgi_find_daemon(req->process_group);
    if (daemon == NULL) {
        *status = refuse(r, HTTP_INTERNAL_SERVER_ERROR,
                         apr_psprintf(r->pool,
                                      GOWSGI_LOGNO(0406) "No WSGI daemon process called '%s' has been configured",
                                      req->process_group), r->filename);
        return NULL;
    }
    const char *owner = daemon->server ? daemon->server->server_hostname : NULL;
    if (owner && daemon->server != gowsgi_main_server &&
        (r->server->server_hostname == NULL || strcmp(owner, r->server->server_hostname) != 0)) {
        *status = refuse(r, HTTP_INTERNAL_SERVER_ERROR,
                         apr_psprintf(r->pool,
                                      GOWSGI_LOGNO(0407) "Daemon process called '%s' cannot be accessed by this WSGI "
                                      "application",
                                      req->process_group), r->filename);
        return NULL;
    }
    if (dconf->restrict_process != NULL) {
        int allowed = 0;
        for (int i = 0; i < dconf->restrict_process->nelts && !allowed; i++)
            allowed = strcmp(APR_ARRAY_IDX(dconf->restrict_process, i, const char *), req->process_group) == 0;
        if (!allowed) {
            *status = refuse(r, HTTP_INTERNAL_SERVER_ERROR,
                             apr_psprintf(r->pool,
                                          GOWSGI_LOGNO(0408) "Daemon process called '%s' cannot be accessed by this "
                                          "WSGI application as not a member of allowed groups", req->process_group),
                             r->filename);
            return NULL;
        }
    }
    return daemon;
}

/* The WSGIHandlerScript named by the request's handler, or NULL. */
static const gowsgi_handler_script *handler_script_for(const gowsgi_dir_conf *dconf, const char *handler)
{
    if (dconf->handler_scripts == NULL)
        return NULL;
    const gowsgi_handler_script *hs = (const gowsgi_handler_script *)dconf->handler_scripts->elts;
    for (int i = 0; i < dconf->handler_scripts->nelts; i++)
        if (strcmp(hs[i].name, handler) == 0)
            return &hs[i];
    return NULL;
}

static int handle(request_rec *r)
{
    if (r->handler == NULL)
        return DECLINED;
    gowsgi_dir_conf *dconf = ap_get_module_config(r->per_dir_config, &gowsgi_module);
    int is_script = strcmp(r->handler, "wsgi-script") == 0 || strcmp(r->handler, "application/x-httpd-wsgi") == 0;
    /* A WSGIHandlerScript runs for whatever URL the handler is set on, as
     * mod_wsgi's does: its target need not exist (mod_wsgi-express sets it
     * on every URL that is not a static file). */
    const gowsgi_handler_script *hs = is_script ? NULL : handler_script_for(dconf, r->handler);
    if (!is_script && hs == NULL)
        return DECLINED;
    int aliased = is_script && gowsgi_is_script_aliased(r);

    if (is_script) {
        if (!(ap_allow_options(r) & OPT_EXECCGI) && !aliased)
            return refuse(r, HTTP_FORBIDDEN,
                          GOWSGI_LOGNO(0409) "Options ExecCGI is off in this directory", r->filename);
        if (r->finfo.filetype == APR_NOFILE)
            return refuse(r, HTTP_NOT_FOUND,
                          GOWSGI_LOGNO(0410) "Target WSGI script not found or unable to stat", r->filename);
        if (r->finfo.filetype == APR_DIR)
            return refuse(r, HTTP_FORBIDDEN,
                          GOWSGI_LOGNO(0411) "Attempt to invoke directory as WSGI application", r->filename);
    }
    if (r->path_info && *r->path_info && r->used_path_info == AP_REQ_REJECT_PATH_INFO)
        return refuse(r, HTTP_NOT_FOUND, GOWSGI_LOGNO(0412) "AcceptPathInfo off disallows user's path",
                      apr_pstrcat(r->pool, r->filename, r->path_info, NULL));

    gowsgi_request req;
    memset(&req, 0, sizeof(req));
    int pass_authorization;
    if (hs != NULL) {
        req.process_group = gowsgi_process_group(r, hs->process_group ? hs->process_group : dconf->process_group);
        req.application_group =
            gowsgi_application_group(r, hs->application_group ? hs->application_group : dconf->application_group);
        req.callable_object = "handle_request";
        pass_authorization = hs->pass_authorization != GOWSGI_UNSET ? hs->pass_authorization == 1
                                                                    : dconf->pass_authorization == 1;
    } else {
        req.process_group =
            gowsgi_process_group(r, setting(r, aliased, "mod_wsgi.process_group", dconf->process_group));
        req.application_group =
            gowsgi_application_group(r, setting(r, aliased, "mod_wsgi.application_group", dconf->application_group));
        req.callable_object =
            gowsgi_callable_object(r, setting(r, aliased, "mod_wsgi.callable_object", dconf->callable_object));
        const char *pass_auth = aliased ? apr_table_get(r->notes, "mod_wsgi.pass_authorization") : NULL;
        pass_authorization = pass_auth ? strcmp(pass_auth, "1") == 0 : dconf->pass_authorization == 1;
    }

    /* mod_wsgi's own checks of the body's framing, with its words, before
     * Apache's (which would answer the same statuses but say nothing of the
     * script). */
    const char *tenc = apr_table_get(r->headers_in, "Transfer-Encoding");
    if (tenc) {
        if (strcasecmp(tenc, "chunked") != 0)
            return refuse(r, HTTP_NOT_IMPLEMENTED,
                          apr_psprintf(r->pool,
                                       GOWSGI_LOGNO(0413) "Unexpected value for Transfer-Encoding of '%s' supplied. "
                                                "Only 'chunked' supported.", tenc), r->filename);
        if (dconf->chunked_request != 1)
            return refuse(r, HTTP_LENGTH_REQUIRED,
                          GOWSGI_LOGNO(0414) "Received request requiring chunked transfer encoding, but optional "
                          "support for chunked transfer encoding has not been enabled.", r->filename);
        if (apr_table_get(r->headers_in, "Content-Length"))
            return refuse(r, HTTP_BAD_REQUEST,
                          GOWSGI_LOGNO(0415) "Unexpected Content-Length header supplied where Transfer-Encoding was "
                          "specified as 'chunked'.", r->filename);
    }
    int status = ap_setup_client_block(r, dconf->chunked_request == 1 ? REQUEST_CHUNKED_DECHUNK
                                                                      : REQUEST_CHUNKED_ERROR);
    if (status != OK)
        return status;

    req.ctx = gowsgi_request_ctx(r);
    req.io = &gowsgi_request_io;
    if (hs != NULL) {
        /* The handler script is the module to load; its own mtime decides
         * a reload (Apache stat()ed the target, not it). A missing one is
         * reported when it fails to load, as mod_wsgi does. */
        req.script = hs->script;
        req.script_mtime = gowsgi_script_mtime(r, hs->script);
        req.handler_script = hs->script;
    } else {
        req.script = r->filename;
        req.script_mtime = (int64_t)r->finfo.mtime;
        req.handler_script = "";
    }
    req.script_reloading = dconf->script_reloading != 0;
    req.enable_sendfile = dconf->enable_sendfile == 1;
    req.head_only = r->header_only;
    req.request_start = (int64_t)r->request_time;
    req.modwsgi6 = gowsgi_modwsgi6(r);
    gowsgi_environ(r, dconf, pass_authorization, &req);

    /* mod_wsgi's order: the dispatch script may choose other groups, and
     * only then are they checked. */
    if (dconf->dispatch_script != NULL && (status = gowsgi_dispatch(r, dconf, &req)) != OK)
        return status;
    const gowsgi_daemon *daemon = target_group(r, dconf, &req, &status);
    if (status != OK)
        return status;
    if (daemon == NULL)
        gowsgi_engine_ready();
    if (daemon == NULL && gowsgi_engine_serve == NULL)
        return refuse(r, HTTP_INTERNAL_SERVER_ERROR,
                      GOWSGI_LOGNO(0416) "gowsgi: the WSGI engine is not running in this child",
                      gowsgi_engine_error);
    /* WSGIPassApacheRequest: embedded mode only, as mod_wsgi. */
    if (daemon == NULL && dconf->pass_apache_request == 1)
        req.request_rec = r;

    const gowsgi_daemon_rt *rt = daemon ? gowsgi_daemon_runtime(daemon) : NULL;
    gowsgi_metrics_inflight *flight = gowsgi_metrics_begin(r, rt);
    status = daemon ? gowsgi_daemon_forward(r, daemon, &req, dconf->error_override == 1, dconf->ignore_activity == 1) : gowsgi_engine_serve(&req);
    gowsgi_metrics_request(r, rt, status == 0 || status == GOWSGI_INCOMPLETE ? r->status : status, flight);
    if (status == GOWSGI_INCOMPLETE) {
        /* The body fell short of what the headers promised, or an error
         * broke it off: never let the next response on this connection be
         * read as its rest. */
        gowsgi_request_break(req.ctx);
        return OK;
    }
    if (status == 0)
        gowsgi_request_done(req.ctx);
    return status == 0 ? OK : status;
}

int gowsgi_handler(request_rec *r)
{
    gowsgi_prefork_serving_begin();
    int status = handle(r);
    gowsgi_prefork_serving_end();
    return status;
}
