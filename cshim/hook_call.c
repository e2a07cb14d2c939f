/*
 * hook_call.c: one call into an access, auth or dispatch script
 * (gowsgi_hook, wsgi/gowsgi.h) from an Apache child. The engine runs it
 * embedded, as mod_wsgi does; this file only describes the request and
 * collects the strings the script returned.
 */
#include "hooks.h"

#include "http_core.h"
#include "mod_ssl.h"
#include "apr_strings.h"

typedef struct hook_ctx {
    request_rec *r;
    apr_array_header_t *strings;   /* const char *, by index */
} hook_ctx;

static void hook_log(void *c, int level, const char *msg, size_t len)
{
    hook_ctx *ctx = c;
    ap_log_rerror(APLOG_MARK, level, 0, ctx->r, "%.*s", (int)len, msg);   /* logno: the engine's, or none */
}

/* Only log lines leave a hook: no body, no response. */
static const gowsgi_io hook_io = {.log = hook_log};

static void hook_put(void *c, int index, const char *s, size_t len)
{
    hook_ctx *ctx = c;
    while (ctx->strings->nelts <= index)
        *(const char **)apr_array_push(ctx->strings) = NULL;
    APR_ARRAY_IDX(ctx->strings, index, const char *) = apr_pstrmemdup(ctx->r->pool, s, len);
}

static const char *hook_ssl_var(void *c, const char *name)
{
    hook_ctx *ctx = c;
    request_rec *r = ctx->r;
    APR_OPTIONAL_FN_TYPE(ssl_var_lookup) *lookup = APR_RETRIEVE_OPTIONAL_FN(ssl_var_lookup);
    return lookup ? lookup(r->pool, r->server, r->connection, r, (char *)name) : NULL;
}

gowsgi_call_hook_fn gowsgi_engine_call_hook;

const char *gowsgi_hook_group(request_rec *r, const char *spec)
{
    return gowsgi_application_group(r, spec ? spec : "%{GLOBAL}");
}

int64_t gowsgi_script_mtime(request_rec *r, const char *path)
{
    apr_finfo_t fi;
    return apr_stat(&fi, path, APR_FINFO_MTIME, r->pool) == APR_SUCCESS ? (int64_t)fi.mtime : 0;
}

int gowsgi_hook_call(request_rec *r, const char *script, const char *group, int kind, const char *arg1,
                     const char *arg2, int nenv, const char *const *keys, const char *const *vals,
                     apr_array_header_t **strings)
{
    const gowsgi_dir_conf *dconf = ap_get_module_config(r->per_dir_config, &gowsgi_module);
    hook_ctx *ctx = apr_pcalloc(r->pool, sizeof(*ctx));
    ctx->r = r;
    ctx->strings = apr_array_make(r->pool, 4, sizeof(const char *));
    if (strings != NULL)
        *strings = ctx->strings;
    gowsgi_engine_ready();
    if (gowsgi_engine_call_hook == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      GOWSGI_LOGNO(0417) "gowsgi (pid=%d): cannot run '%s': %s", (int)getpid(),
                      script, gowsgi_globals.restrict_embedded == 1
                                          ? "Python is not initialised in Apache's children (WSGIRestrictEmbedded "
                                            "On); access, authentication and dispatch scripts run there"
                                          : gowsgi_engine_error);
        return GOWSGI_HOOK_FAILED;
    }

    gowsgi_hook h;
    memset(&h, 0, sizeof(h));
    h.req.ctx = ctx;
    h.req.io = &hook_io;
    h.req.script = script;
    /* The script's own mtime decides a reload; a missing script is
     * reported when it fails to load. */
    h.req.script_mtime = gowsgi_script_mtime(r, script);
    h.req.application_group = group;
    h.req.process_group = "";
    h.req.callable_object = "";
    h.req.handler_script = "";
    h.req.script_reloading = dconf->script_reloading != 0;
    h.req.request_start = (int64_t)r->request_time;
    h.req.nenv = nenv;
    h.req.env_keys = keys;
    h.req.env_vals = vals;
    h.kind = kind;
    h.arg1 = arg1;
    h.arg2 = arg2;
    APR_OPTIONAL_FN_TYPE(ssl_is_https) *is_https = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
    h.is_https = is_https ? is_https(r->connection) : 0;
    h.ssl_var = hook_ssl_var;
    h.req.request_rec = dconf->pass_apache_request == 1 ? r : NULL;
    h.put = hook_put;
    gowsgi_prefork_serving_begin();
    int rc = gowsgi_engine_call_hook(&h);
    gowsgi_prefork_serving_end();
    return rc;
}
