/*
 * proxy_headers.c: WSGITrustedProxyHeaders and WSGITrustedProxies, applied to
 * the request's CGI variables the way mod_wsgi 4.9.4 applies them:
 *
 * - Nothing happens unless WSGITrustedProxyHeaders is set.
 * - The client is trusted when WSGITrustedProxies is unset, or when
 *   REMOTE_ADDR is in it.
 * - A trusted client's listed headers are applied in the order listed:
 *   X-Forwarded-For, X-Client-IP and X-Real-IP set REMOTE_ADDR;
 *   X-Forwarded-Host and X-Host set HTTP_HOST; X-Forwarded-Server sets
 *   SERVER_NAME; X-Forwarded-Port sets SERVER_PORT; X-Script-Name and
 *   X-Forwarded-Script-Name replace SCRIPT_NAME (mod_wsgi.mount_point keeps
 *   the value); the scheme headers set or clear HTTPS.
 * - For every purpose (client, scheme, host, script name) that a listed
 *   header has, the headers of that purpose other than the one applied are
 *   removed, so an app cannot be fooled by an unlisted variant.
 */
#include "shim.h"

#include "apr_lib.h"
#include "apr_network_io.h"
#include "apr_strings.h"

enum purpose { CLIENT, SCHEME, HOST, SCRIPT_NAME, PURPOSES };

static const char *const purpose_headers[PURPOSES][7] = {
    [CLIENT] = {"HTTP_X_FORWARDED_FOR", "HTTP_X_CLIENT_IP", "HTTP_X_REAL_IP", NULL},
    [SCHEME] = {"HTTP_X_FORWARDED_HTTPS", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_SCHEME",
                "HTTP_X_FORWARDED_SSL", "HTTP_X_HTTPS", "HTTP_X_SCHEME", NULL},
    [HOST] = {"HTTP_X_FORWARDED_HOST", "HTTP_X_HOST", NULL},
    [SCRIPT_NAME] = {"HTTP_X_SCRIPT_NAME", "HTTP_X_FORWARDED_SCRIPT_NAME", NULL},
};

static int is(const char *name, const char *a, const char *b, const char *c)
{
    return strcmp(name, a) == 0 || (b && strcmp(name, b) == 0) || (c && strcmp(name, c) == 0);
}

static int in_proxies(request_rec *r, const apr_array_header_t *proxies, const char *ip)
{
    apr_sockaddr_t *sa;
    if (apr_sockaddr_info_get(&sa, ip, APR_UNSPEC, 0, 0, r->pool) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GOWSGI_LOGNO(0420) "gowsgi: \"%s\" is not a valid IP address", ip);
        return -1;
    }
    for (int i = 0; i < proxies->nelts; i++)
        if (apr_ipsubnet_test(APR_ARRAY_IDX(proxies, i, gowsgi_proxy_net).subnet, sa))
            return 1;
    return 0;
}

/* X-Forwarded-For: "client, proxy1, proxy2". With WSGITrustedProxies the
 * client is the address just before the trusted proxies at the end of the
 * list (the header is rewritten to start there); without, the first one. */
static void forwarded_for(request_rec *r, const apr_array_header_t *proxies, const char *value)
{
    apr_array_header_t *items = apr_array_make(r->pool, 4, sizeof(char *));
    const char *p = value;
    while (*p) {
        while (*p && apr_isspace(*p))
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *next = *end ? end + 1 : end;
        while (end > p && apr_isspace(end[-1]))
            end--;
        if (end > p || *p)
            APR_ARRAY_PUSH(items, char *) = apr_pstrndup(r->pool, p, (apr_size_t)(end - p));
        p = next;
    }
    if (items->nelts == 0)
        return;
    char **ip = (char **)items->elts;

    if (proxies == NULL) {
        apr_table_setn(r->subprocess_env, "REMOTE_ADDR", ip[0]);
        return;
    }
    int first_trusted = -1;
    for (int i = items->nelts - 1; i >= 0; i--) {
        if (in_proxies(r, proxies, ip[i]) != 1)
            break;
        first_trusted = i;
    }
    int client = first_trusted < 0 ? items->nelts - 1 : (first_trusted > 0 ? first_trusted - 1 : 0);
    char *list = ip[client];
    if (first_trusted >= 0)
        for (int i = client + 1; i < items->nelts; i++)
            list = apr_pstrcat(r->pool, list, ", ", ip[i], NULL);
    apr_table_setn(r->subprocess_env, "REMOTE_ADDR", ip[client]);
    apr_table_setn(r->subprocess_env, "HTTP_X_FORWARDED_FOR", list);
}

void gowsgi_proxy_headers(request_rec *r, const gowsgi_dir_conf *dconf)
{
    const apr_array_header_t *listed = dconf->trusted_proxy_headers;
    apr_table_t *env = r->subprocess_env;
    int matched[PURPOSES] = {0};
    const char *applied[PURPOSES] = {NULL};

    if (listed == NULL)
        return;

    int trusted = 1;
    if (dconf->trusted_proxies) {
        const char *remote = apr_table_get(env, "REMOTE_ADDR");
        trusted = remote != NULL && in_proxies(r, dconf->trusted_proxies, remote) == 1;
    }

    for (int i = 0; i < listed->nelts; i++) {
        const char *name = APR_ARRAY_IDX(listed, i, const char *);
        const char *value = trusted ? apr_table_get(env, name) : NULL;

        if (is(name, "HTTP_X_FORWARDED_FOR", "HTTP_X_CLIENT_IP", "HTTP_X_REAL_IP")) {
            matched[CLIENT] = 1;
            if (value && strcmp(name, "HTTP_X_FORWARDED_FOR") == 0)
                forwarded_for(r, dconf->trusted_proxies, value);
            else if (value)
                apr_table_setn(env, "REMOTE_ADDR", value);
            if (value)
                applied[CLIENT] = name;
        } else if (is(name, "HTTP_X_FORWARDED_HOST", "HTTP_X_HOST", NULL)) {
            matched[HOST] = 1;
            if (value) {
                apr_table_setn(env, "HTTP_HOST", value);
                applied[HOST] = name;
            }
        } else if (is(name, "HTTP_X_FORWARDED_SERVER", NULL, NULL)) {
            if (value)
                apr_table_setn(env, "SERVER_NAME", value);
        } else if (is(name, "HTTP_X_FORWARDED_PORT", NULL, NULL)) {
            if (value)
                apr_table_setn(env, "SERVER_PORT", value);
        } else if (is(name, "HTTP_X_SCRIPT_NAME", "HTTP_X_FORWARDED_SCRIPT_NAME", NULL)) {
            matched[SCRIPT_NAME] = 1;
            if (value) {
                apr_table_setn(env, "mod_wsgi.mount_point", value);
                apr_table_setn(env, "SCRIPT_NAME", value);
                applied[SCRIPT_NAME] = name;
            }
        } else if (is(name, "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_SCHEME", "HTTP_X_SCHEME")) {
            matched[SCHEME] = 1;
            if (value) {
                applied[SCHEME] = name;
                if (strcasecmp(value, "https") == 0)
                    apr_table_setn(env, "HTTPS", "1");
                else if (strcasecmp(value, "http") == 0)
                    apr_table_unset(env, "HTTPS");
            }
        } else if (is(name, "HTTP_X_FORWARDED_HTTPS", "HTTP_X_FORWARDED_SSL", "HTTP_X_HTTPS")) {
            matched[SCHEME] = 1;
            if (value) {
                applied[SCHEME] = name;
                if (!strcasecmp(value, "On") || !strcasecmp(value, "true") || !strcmp(value, "1"))
                    apr_table_setn(env, "HTTPS", "1");
                else if (!strcasecmp(value, "Off") || !strcasecmp(value, "false") || !strcmp(value, "0"))
                    apr_table_unset(env, "HTTPS");
            }
        }
    }

    for (int p = 0; p < PURPOSES; p++) {
        if (!matched[p])
            continue;
        for (int i = 0; purpose_headers[p][i]; i++)
            if (applied[p] == NULL || strcmp(purpose_headers[p][i], applied[p]) != 0)
                apr_table_unset(env, purpose_headers[p][i]);
    }
}
