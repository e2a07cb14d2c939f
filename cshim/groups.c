/*
 * groups.c: expands the process group, application group and callable object
 * specifications as mod_wsgi 4.9.4 does (its L516-790): %{GLOBAL} is "" (the
 * main interpreter), %{RESOURCE} is "ServerName[:port]|SCRIPT_NAME" with the
 * port omitted for 80 and 443 and SCRIPT_NAME lower-cased, %{SERVER} and
 * %{HOST} name the server, and %{ENV:var} reads notes, then the request's
 * environment, then the process's.
 */
#include "shim.h"

#include "http_core.h"
#include "apr_strings.h"
#include "apr_lib.h"

#include <stdlib.h>

static const char *env_value(request_rec *r, const char *name)
{
    const char *v = apr_table_get(r->notes, name);
    if (v == NULL)
        v = apr_table_get(r->subprocess_env, name);
    if (v == NULL)
        v = getenv(name);
    return v;
}

static const char *with_port(request_rec *r, const char *name)
{
    apr_port_t port = ap_get_server_port(r);
    if (port == 80 || port == 443 || port == 0)
        return name;
    return apr_psprintf(r->pool, "%s:%u", name, port);
}

/* SCRIPT_NAME as the handler will compute it: the URI less the path info,
 * repeated slashes collapsed, lower-cased. */
static const char *resource_name(request_rec *r)
{
    const char *uri = r->uri;
    size_t len = strlen(uri);
    size_t pi = r->path_info ? strlen(r->path_info) : 0;
    if (pi <= len && pi > 0 && strcmp(uri + len - pi, r->path_info) == 0)
        len -= pi;
    char *out = apr_palloc(r->pool, len + 1);
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (uri[i] == '/' && j > 0 && out[j - 1] == '/')
            continue;
        out[j++] = (char)apr_tolower(uri[i]);
    }
    out[j] = '\0';
    return apr_pstrcat(r->pool, with_port(r, r->server->server_hostname), "|", out, NULL);
}

static const char *expand(request_rec *r, const char *spec, int depth)
{
    if (spec == NULL || spec[0] != '%' || depth > 8)
        return spec;
    if (strcmp(spec, "%{GLOBAL}") == 0)
        return "";
    if (strcmp(spec, "%{RESOURCE}") == 0)
        return resource_name(r);
    if (strcmp(spec, "%{SERVER}") == 0)
        return with_port(r, r->server->server_hostname);
    if (strcmp(spec, "%{HOST}") == 0) {
        const char *host = r->hostname ? r->hostname : r->server->server_hostname;
        return with_port(r, host);
    }
    if (strncmp(spec, "%{ENV:", 6) == 0) {
        size_t n = strlen(spec);
        if (n > 7 && spec[n - 1] == '}') {
            const char *name = apr_pstrndup(r->pool, spec + 6, n - 7);
            const char *v = env_value(r, name);
            if (v == NULL)
                return "";
            /* A value that is itself a specification is expanded again. */
            if (v[0] == '%' && strncmp(v, "%{ENV:", 6) != 0)
                return expand(r, v, depth + 1);
            return v;
        }
    }
    return spec;
}

const char *gowsgi_application_group(request_rec *r, const char *spec)
{
    return expand(r, spec ? spec : "%{RESOURCE}", 0);
}

const char *gowsgi_process_group(request_rec *r, const char *spec)
{
    return expand(r, spec ? spec : "", 0);
}

const char *gowsgi_callable_object(request_rec *r, const char *spec)
{
    const char *v = spec ? spec : "application";
    if (strncmp(v, "%{ENV:", 6) == 0) {
        v = expand(r, v, 0);
        if (v == NULL || *v == '\0')
            v = "application";
    }
    return v;
}
