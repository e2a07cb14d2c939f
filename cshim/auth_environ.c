/*
 * auth_environ.c: the environ WSGIAccessScript and WSGIAuth*Script
 * functions see: mod_wsgi 4.9.4's cut-down one (its Auth_environ), made
 * before the handler runs, so no CGI variables of Apache's. Entries are
 * added in mod_wsgi's order; a later one with the same key wins, as in its
 * dict. Beyond mod_wsgi (its #549): with WSGIPassAuthorization On the
 * scripts also see HTTP_AUTHORIZATION.
 */
#include "hooks.h"

#include "http_core.h"
#include "util_script.h"
#include "apr_lib.h"
#include "apr_strings.h"

typedef struct env_list {
    apr_array_header_t *keys, *vals;
} env_list;

static void add(env_list *e, const char *key, const char *val)
{
    *(const char **)apr_array_push(e->keys) = key;
    *(const char **)apr_array_push(e->vals) = val;
}

/* "HTTP_" + the name upper-cased, '-' as '_'; NULL when the name holds any
 * other character (mod_wsgi drops such headers). */
static const char *header_key(apr_pool_t *p, const char *name)
{
    size_t n = strlen(name);
    char *out = apr_palloc(p, n + 6), *o = out;
    memcpy(o, "HTTP_", 5);
    o += 5;
    for (const char *c = name; *c; c++) {
        if (apr_isalnum(*c))
            *o++ = (char)apr_toupper(*c);
        else if (*c == '-')
            *o++ = '_';
        else
            return NULL;
    }
    *o = '\0';
    return out;
}

/* The request target as the client sent it in the request line. */
static const char *original_uri(request_rec *r)
{
    if (r->the_request == NULL)
        return "";
    const char *first = r->the_request;
    while (*first && !apr_isspace(*first))
        first++;
    while (apr_isspace(*first))
        first++;
    const char *last = first;
    while (*last && !apr_isspace(*last))
        last++;
    return apr_pstrmemdup(r->pool, first, (apr_size_t)(last - first));
}

void gowsgi_auth_environ(request_rec *r, const char *application_group, int *nenv, const char ***keys,
                         const char ***vals)
{
    const gowsgi_dir_conf *dconf = ap_get_module_config(r->per_dir_config, &gowsgi_module);
    conn_rec *c = r->connection;
    env_list e = {apr_array_make(r->pool, 48, sizeof(char *)), apr_array_make(r->pool, 48, sizeof(char *))};

    const apr_array_header_t *arr = apr_table_elts(r->headers_in);
    const apr_table_entry_t *h = (const apr_table_entry_t *)arr->elts;
    for (int i = 0; i < arr->nelts; i++) {
        if (h[i].key == NULL || h[i].val == NULL)
            continue;
        if (strcasecmp(h[i].key, "Content-Type") == 0)
            add(&e, "CONTENT_TYPE", h[i].val);
        else if (strcasecmp(h[i].key, "Content-Length") == 0)
            add(&e, "CONTENT_LENGTH", h[i].val);
        else if (strcasecmp(h[i].key, "Authorization") == 0) {
            if (dconf->pass_authorization == 1)
                add(&e, "HTTP_AUTHORIZATION", h[i].val);
        } else if (strcasecmp(h[i].key, "Proxy-Authorization") != 0) {
            const char *key = header_key(r->pool, h[i].key);
            if (key != NULL)
                add(&e, key, h[i].val);
        }
    }
    add(&e, "SERVER_SIGNATURE", ap_psignature("", r));
    add(&e, "SERVER_SOFTWARE", ap_get_server_banner());
    add(&e, "SERVER_NAME", ap_escape_html(r->pool, ap_get_server_name(r)));
    if (c->local_ip)
        add(&e, "SERVER_ADDR", c->local_ip);
    add(&e, "SERVER_PORT", apr_psprintf(r->pool, "%u", ap_get_server_port(r)));
    const char *host = ap_get_remote_host(c, r->per_dir_config, REMOTE_HOST, NULL);
    if (host)
        add(&e, "REMOTE_HOST", host);
    if (r->useragent_ip)
        add(&e, "REMOTE_ADDR", r->useragent_ip);
    if (c->client_ip)
        add(&e, "REMOTE_ADDR", c->client_ip);
    add(&e, "DOCUMENT_ROOT", ap_document_root(r));
    if (r->server->server_admin)
        add(&e, "SERVER_ADMIN", r->server->server_admin);
    add(&e, "REMOTE_PORT", apr_itoa(r->pool, c->client_addr->port));
    add(&e, "SERVER_PROTOCOL", r->protocol);
    add(&e, "REQUEST_METHOD", r->method);
    add(&e, "QUERY_STRING", r->args ? r->args : "");
    add(&e, "REQUEST_URI", original_uri(r));
    if (strcmp(r->protocol, "INCLUDED") == 0) {
        add(&e, "SCRIPT_NAME", r->uri);
        add(&e, "PATH_INFO", r->path_info ? r->path_info : "");
    } else if (r->path_info == NULL || *r->path_info == '\0') {
        add(&e, "SCRIPT_NAME", r->uri);
        add(&e, "PATH_INFO", "");
    } else {
        int start = ap_find_path_info(r->uri, r->path_info);
        add(&e, "SCRIPT_NAME", apr_pstrndup(r->pool, r->uri, (apr_size_t)start));
        add(&e, "PATH_INFO", r->path_info);
    }
    add(&e, "mod_wsgi.process_group", "");
    add(&e, "mod_wsgi.application_group", application_group);

    *nenv = e.keys->nelts;
    *keys = (const char **)e.keys->elts;
    *vals = (const char **)e.vals->elts;
}
