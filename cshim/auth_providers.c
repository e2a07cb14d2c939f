/*
 * auth_providers.c: WSGIAccessScript as an access checker, WSGIAuthUserScript
 * as the "wsgi" authn provider (AuthBasicProvider / AuthDigestProvider) and
 * WSGIAuthGroupScript as the "wsgi-group" authz provider (Require
 * wsgi-group ...). Real Apache providers, so they compose with Require,
 * <RequireAny> and the other providers as Apache's own do. Statuses and
 * log lines are mod_wsgi 4.9.4's.
 */
#include "hooks.h"

#include "ap_provider.h"
#include "http_core.h"
#include "http_request.h"
#include "mod_auth.h"
#include "apr_strings.h"

static const gowsgi_dir_conf *dir_conf(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &gowsgi_module);
}

/* Runs an access or auth script with mod_wsgi's auth environ. */
static int run(request_rec *r, const char *script, const char *group_spec, int kind, const char *arg1,
               const char *arg2, apr_array_header_t **strings)
{
    const char *group = gowsgi_hook_group(r, group_spec);
    int nenv;
    const char **keys, **vals;
    gowsgi_auth_environ(r, group, &nenv, &keys, &vals);
    return gowsgi_hook_call(r, script, group, kind, arg1, arg2, nenv, keys, vals, strings);
}

static int access_checker(request_rec *r)
{
    const gowsgi_dir_conf *dconf = dir_conf(r);
    if (dconf->access_script == NULL)
        return DECLINED;
    const char *host = ap_get_remote_host(r->connection, r->per_dir_config, REMOTE_HOST, NULL);
    if (host == NULL)
        host = r->useragent_ip;
    int rc = run(r, dconf->access_script, dconf->access_application_group, GOWSGI_HOOK_ALLOW_ACCESS, host, NULL,
                 NULL);
    if (rc == GOWSGI_HOOK_NONE)
        return DECLINED;
    if (rc == GOWSGI_HOOK_TRUE)
        return OK;
    /* Under "Satisfy Any" with authentication required, a login may still
     * let the client in: no line then, as mod_wsgi. */
    if (ap_satisfies(r) != SATISFY_ANY || !ap_some_auth_required(r))
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      GOWSGI_LOGNO(0400) "gowsgi (pid=%d): Client denied by server configuration: '%s'.",
                      (int)getpid(), r->filename);
    return HTTP_FORBIDDEN;
}

/* The directory's WSGIAuthUserScript, or NULL (logged: "wsgi" was named
 * as a provider where no script is set). */
static const gowsgi_dir_conf *auth_user_conf(request_rec *r)
{
    const gowsgi_dir_conf *dconf = dir_conf(r);
    if (dconf->auth_user_script != NULL)
        return dconf;
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  GOWSGI_LOGNO(0401) "gowsgi (pid=%d): Location of WSGI user authentication script not provided.",
                  (int)getpid());
    return NULL;
}

static authn_status check_password(request_rec *r, const char *user, const char *password)
{
    const gowsgi_dir_conf *dconf = auth_user_conf(r);
    if (dconf == NULL)
        return AUTH_GENERAL_ERROR;
    apr_array_header_t *strings;
    switch (run(r, dconf->auth_user_script, dconf->auth_user_application_group, GOWSGI_HOOK_CHECK_PASSWORD, user,
                password, &strings)) {
    case GOWSGI_HOOK_NONE:
        return AUTH_USER_NOT_FOUND;
    case GOWSGI_HOOK_TRUE:
        return AUTH_GRANTED;
    case GOWSGI_HOOK_FALSE:
        return AUTH_DENIED;
    case GOWSGI_HOOK_VALUE:
        /* The script named the user: Apache knows the client by it. */
        if (strings->nelts > 0 && APR_ARRAY_IDX(strings, 0, const char *) != NULL)
            r->user = (char *)APR_ARRAY_IDX(strings, 0, const char *);
        return AUTH_GRANTED;
    default:
        return AUTH_GENERAL_ERROR;
    }
}

static authn_status get_realm_hash(request_rec *r, const char *user, const char *realm, char **rethash)
{
    const gowsgi_dir_conf *dconf = auth_user_conf(r);
    if (dconf == NULL)
        return AUTH_GENERAL_ERROR;
    apr_array_header_t *strings;
    switch (run(r, dconf->auth_user_script, dconf->auth_user_application_group, GOWSGI_HOOK_GET_REALM_HASH, user,
                realm, &strings)) {
    case GOWSGI_HOOK_NONE:
        return AUTH_USER_NOT_FOUND;
    case GOWSGI_HOOK_VALUE:
        if (strings->nelts > 0 && APR_ARRAY_IDX(strings, 0, const char *) != NULL) {
            *rethash = (char *)APR_ARRAY_IDX(strings, 0, const char *);
            return AUTH_USER_FOUND;
        }
        return AUTH_GENERAL_ERROR;
    case GOWSGI_HOOK_FALSE:
        return AUTH_DENIED;
    default:
        return AUTH_GENERAL_ERROR;
    }
}

static authz_status check_groups(request_rec *r, const char *require_args, const void *parsed)
{
    (void)parsed;
    if (r->user == NULL)
        return AUTHZ_DENIED_NO_USER;
    const gowsgi_dir_conf *dconf = dir_conf(r);
    if (dconf->auth_group_script == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      GOWSGI_LOGNO(0402) "gowsgi (pid=%d): Location of WSGI group authorization script not provided.",
                      (int)getpid());
        return AUTHZ_DENIED;
    }
    apr_array_header_t *groups;
    if (run(r, dconf->auth_group_script, dconf->auth_group_application_group, GOWSGI_HOOK_GROUPS_FOR_USER, r->user,
            NULL, &groups) != GOWSGI_HOOK_VALUE)
        return AUTHZ_DENIED;
    if (groups->nelts == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      GOWSGI_LOGNO(0403) "gowsgi (pid=%d): Authorization of user '%s' to access '%s' "
                      "failed. User is not a member of any groups.", (int)getpid(), r->user, r->uri);
        return AUTHZ_DENIED;
    }
    const char *t = require_args, *w;
    while ((w = ap_getword_conf(r->pool, &t)) && w[0])
        for (int i = 0; i < groups->nelts; i++) {
            const char *g = APR_ARRAY_IDX(groups, i, const char *);
            if (g != NULL && strcasecmp(g, w) == 0)   /* mod_wsgi matches through an apr_table */
                return AUTHZ_GRANTED;
        }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  GOWSGI_LOGNO(0404) "gowsgi (pid=%d): Authorization of user '%s' to access '%s' failed. "
                  "User is not a member of designated groups.", (int)getpid(), r->user, r->uri);
    return AUTHZ_DENIED;
}

static const authn_provider wsgi_authn = {&check_password, &get_realm_hash};
static const authz_provider wsgi_authz = {&check_groups, NULL};

void gowsgi_register_auth_hooks(apr_pool_t *p)
{
    static const char *const after_ssl[] = {"mod_ssl.c", NULL};
    static const char *const before_host[] = {"mod_authz_host.c", NULL};
    ap_hook_access_checker(access_checker, after_ssl, before_host, APR_HOOK_MIDDLE);
    ap_register_auth_provider(p, AUTHN_PROVIDER_GROUP, "wsgi", AUTHN_PROVIDER_VERSION, &wsgi_authn,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "wsgi-group", AUTHZ_PROVIDER_VERSION, &wsgi_authz,
                              AP_AUTH_INTERNAL_PER_CONF);
}
