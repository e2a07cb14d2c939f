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
#include "util_script.h"
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

/* mod_wsgi's SCRIPT_NAME for naming: the URI up to where Apache's
 * ap_find_path_info puts the path info (which lines slashes up loosely, so
 * "//a" less "/a" is ""), all but the last of its leading slashes dropped,
 * repeated slashes collapsed, lower-cased. */
static const char *resource_name(request_rec *r)
{
    char *name = r->path_info && r->path_info[0]
                     ? apr_pstrndup(r->pool, r->uri, (apr_size_t)ap_find_path_info(r->uri, r->path_info))
                     : apr_pstrdup(r->pool, r->uri);
    while (name[0] && name[1] == '/')
        name++;
    ap_no2slash(name);
    ap_str_tolower(name);
    return apr_pstrcat(r->pool, with_port(r, r->server->server_hostname), "|", name, NULL);
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
