/*
 * cgi_vars.c: the request's CGI variables, as mod_wsgi 4.9.4 computes them:
 * Apache's own ap_add_cgi_vars/ap_add_common_vars (so SetEnv, SetEnvIf,
 * RewriteRule [E=] and CGIPassAuth behave as they do there) over the request
 * headers less those with invalid names, Authorization only when allowed, the
 * trusted proxy headers applied (proxy_headers.c), and the mod_wsgi.* strings. The engine turns
 * the result into Python.
 */
#include "shim.h"

#include <unistd.h>

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "util_script.h"
#include "ap_listen.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "apr_optional.h"
#include "mod_ssl.h"

/* mod_wsgi drops request headers whose names hold anything but letters,
 * digits and '-': "X_Under" would otherwise pose as "X-Under". */
static int valid_header_name(const char *name)
{
    for (; *name; name++)
        if (!apr_isalnum(*name) && *name != '-')
            return 0;
    return 1;
}

static apr_table_t *valid_headers(request_rec *r)
{
    const apr_array_header_t *arr = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    for (int i = 0; i < arr->nelts; i++) {
        if (e[i].key && !valid_header_name(e[i].key)) {
            apr_table_t *out = apr_table_make(r->pool, arr->nelts);
            for (int j = 0; j < arr->nelts; j++)
                if (e[j].key && valid_header_name(e[j].key))
                    apr_table_addn(out, e[j].key, e[j].val);
            return out;
        }
    }
    return r->headers_in;
}

static const char *listener_host(request_rec *r)
{
    for (ap_listen_rec *lr = ap_listeners; lr; lr = lr->next)
        if (lr->bind_addr && lr->bind_addr->port == r->connection->local_addr->port)
            return lr->bind_addr->hostname ? lr->bind_addr->hostname : "";
    return r->connection->local_ip ? r->connection->local_ip : "";
}

static APR_OPTIONAL_FN_TYPE(ssl_is_https) *is_https;
static int is_https_looked_up;

/* WSGIMapHEADToGET, decided as mod_wsgi 4.9.4 decides it (mod_wsgi.c
 * wsgi_build_environment, L6316, in the handler): the value of the request's
 * directory if one was set there (a section or .htaccess), else the value
 * set at the request's server scope (a <VirtualHost> with a WSGI directive
 * of its own does not inherit the main server's), else Off: the documented
 * default Auto never applies unless written, since mod_wsgi leaves its
 * server field zeroed. On maps every HEAD; Auto only a HEAD whose output
 * chain at handler time begins with a filter below the protocol level (any
 * resource or content filter the insert_filter hooks added: mod_filter's
 * BYTYPE: harness of AddOutputFilterByType, SetOutputFilter,
 * AddOutputFilter, Header's FIXUP_HEADERS_OUT ...), whatever the content
 * type of the response will be. */
static int head_as_get(request_rec *r, const gowsgi_dir_conf *dconf)
{
    if (r->method_number != M_GET || !r->header_only)
        return 0;
    int mode = dconf->map_head_to_get;
    if (mode == GOWSGI_UNSET) {
        const gowsgi_server_conf *sconf = ap_get_module_config(r->server->module_config, &gowsgi_module);
        mode = sconf->map_head_to_get;
    }
    if (mode == GOWSGI_MAP_HEAD_ON)
        return 1;
    if (mode != GOWSGI_MAP_HEAD_AUTO)
        return 0;
    return r->output_filters && r->output_filters->frec->ftype < AP_FTYPE_PROTOCOL;
}

static void add_cgi_vars(request_rec *r, int modwsgi6)
{
    if (!modwsgi6 && !gowsgi_path_translated_from_request(r)) {
        ap_add_cgi_vars(r);
        return;
    }
    /* Without path info Apache sets everything but SCRIPT_NAME, PATH_INFO
     * and PATH_TRANSLATED as it would with it. mod_wsgi 6.0 never runs
     * the sub-request and sets no PATH_TRANSLATED. */
    const char *path_info = r->path_info;
    r->path_info = NULL;
    ap_add_cgi_vars(r);
    r->path_info = (char *)path_info;
    apr_table_setn(r->subprocess_env, "SCRIPT_NAME",
                   apr_pstrndup(r->pool, r->uri, (apr_size_t)ap_find_path_info(r->uri, path_info)));
    apr_table_setn(r->subprocess_env, "PATH_INFO", path_info);
    if (!modwsgi6)
        apr_table_setn(r->subprocess_env, "PATH_TRANSLATED",
                       apr_pstrcat(r->pool, r->filename, path_info, NULL));
}

void gowsgi_environ(request_rec *r, const gowsgi_dir_conf *dconf, int pass_authorization,
                    gowsgi_request *req)
{
    apr_table_t *env = r->subprocess_env;
    apr_table_t *headers = r->headers_in;

    int modwsgi6 = req->modwsgi6;
    unsigned kept = modwsgi6 ? gowsgi_modwsgi6_kept(env) : 0;

    r->headers_in = valid_headers(r);
    if (apr_is_empty_table(env)) {
        /* mod_wsgi's order is the CGI variables, then the common ones, which
         * ap_add_common_vars builds in a table of its own and merges in: a
         * sort of the whole table, a tenth of a request. Into an empty
         * table it writes straight; so the common ones are made first, the
         * CGI ones into a new table (empty, as they would have found it),
         * and the common ones appended to it. The two sets share no name,
         * so the entries, their order and their values are as before. */
        ap_add_common_vars(r);
        const apr_array_header_t *common = apr_table_elts(env);
        r->subprocess_env = apr_table_make(r->pool, common->nelts + 24);
        add_cgi_vars(r, modwsgi6);
        const apr_table_entry_t *ce = (const apr_table_entry_t *)common->elts;
        for (int i = 0; i < common->nelts; i++)
            apr_table_addn(r->subprocess_env, ce[i].key, ce[i].val);
        env = r->subprocess_env;
    } else {
        add_cgi_vars(r, modwsgi6);
        ap_add_common_vars(r);
    }
    if (modwsgi6)
        gowsgi_modwsgi6_drop(env, kept);
    r->headers_in = headers;
    if (head_as_get(r, dconf))
        apr_table_setn(env, "REQUEST_METHOD", "GET");

    if (pass_authorization) {
        const char *auth = apr_table_get(r->headers_in, "Authorization");
        if (auth)
            apr_table_setn(env, "HTTP_AUTHORIZATION", auth);
    }
    if (!is_https_looked_up) {
        /* Once per child: optional functions are registered before then. */
        is_https = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
        is_https_looked_up = 1;
    }
    if (is_https && is_https(r->connection))
        apr_table_setn(env, "HTTPS", "1");
    /* mod_wsgi keeps the values from before the proxy headers' rewrite. */
    apr_table_setn(env, "mod_wsgi.script_name", apr_table_get(env, "SCRIPT_NAME"));
    apr_table_setn(env, "mod_wsgi.path_info", apr_table_get(env, "PATH_INFO") ? apr_table_get(env, "PATH_INFO") : "");
    gowsgi_proxy_headers(r, dconf);

    /* addn, not setn: no scan of the table per key. A same-named SetEnv
     * stays in the table, but these come later and win in the environ. */
    if (!r->log_id)
        ap_run_generate_log_id(r->connection, r, &r->log_id);
    if (r->log_id)
        apr_table_addn(env, "mod_wsgi.request_id", r->log_id);
    if (r->connection->log_id)
        apr_table_addn(env, "mod_wsgi.connection_id", r->connection->log_id);
    apr_table_addn(env, "mod_wsgi.process_group", req->process_group);
    apr_table_addn(env, "mod_wsgi.application_group", req->application_group);
    apr_table_addn(env, "mod_wsgi.callable_object", req->callable_object);
    apr_table_addn(env, "mod_wsgi.request_handler", r->handler);
    apr_table_addn(env, "mod_wsgi.handler_script", req->handler_script);
    if (modwsgi6) {
        /* 6.0 keeps its settings out of the environ, names the Apache
         * child, and has the engine give the times as float seconds. */
        apr_table_addn(env, "mod_wsgi.listener_host", listener_host(r));
        apr_table_addn(env, "mod_wsgi.listener_port", apr_itoa(r->pool, r->connection->local_addr->port));
        apr_table_addn(env, "mod_wsgi.server_pid", apr_itoa(r->pool, (int)getpid()));
    } else {
        apr_table_addn(env, "mod_wsgi.script_reloading", req->script_reloading ? "1" : "0");
        apr_table_addn(env, "mod_wsgi.listener_host", listener_host(r));
        apr_table_addn(env, "mod_wsgi.listener_port", apr_itoa(r->pool, r->connection->local_addr->port));
        apr_table_addn(env, "mod_wsgi.enable_sendfile", dconf->enable_sendfile == 1 ? "1" : "0");
        apr_table_addn(env, "mod_wsgi.ignore_activity", dconf->ignore_activity == 1 ? "1" : "0");
        apr_table_addn(env, "mod_wsgi.request_start", apr_off_t_toa(r->pool, (apr_off_t)r->request_time));
    }

    const apr_array_header_t *arr = apr_table_elts(env);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    const char **keys = apr_palloc(r->pool, sizeof(char *) * (size_t)(arr->nelts + 1));
    const char **vals = apr_palloc(r->pool, sizeof(char *) * (size_t)(arr->nelts + 1));
    int n = 0;
    for (int i = 0; i < arr->nelts; i++) {
        if (e[i].key == NULL || e[i].val == NULL)
            continue;
        keys[n] = e[i].key;
        vals[n] = e[i].val;
        n++;
    }
    req->nenv = n;
    req->env_keys = keys;
    req->env_vals = vals;
}
