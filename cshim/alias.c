/*
 * alias.c: WSGIScriptAlias and WSGIScriptAliasMatch, mapped in translate_name
 * as mod_wsgi 4.9.4 maps them: the first matching alias in file order wins,
 * prefix matches end on a segment boundary, and the alias's options travel to
 * the handler in r->notes.
 */
#include "shim.h"

#include "http_core.h"
#include "apr_strings.h"

#define ALIAS_FORCED_TYPE "alias-forced-type"
#define WSGI_HANDLER "wsgi-script"

/* mod_alias's rule: any run of '/' in the alias matches any run in the URI,
 * and the alias must end at a path-segment boundary. Returns the number of
 * URI characters matched, or 0. */
static size_t alias_matches(const char *uri, const char *alias)
{
    const char *a = alias, *u = uri;
    while (*a) {
        if (*a == '/') {
            if (*u != '/')
                return 0;
            while (*a == '/')
                a++;
            while (*u == '/')
                u++;
        } else if (*u++ != *a++) {
            return 0;
        }
    }
    if (a[-1] != '/' && *u != '\0' && *u != '/')
        return 0;
    return (size_t)(u - uri);
}

int gowsgi_is_script_aliased(request_rec *r)
{
    const char *t = apr_table_get(r->notes, ALIAS_FORCED_TYPE);
    return t != NULL && strcmp(t, WSGI_HANDLER) == 0;
}

int gowsgi_translate_name(request_rec *r)
{
    gowsgi_server_conf *sconf = ap_get_module_config(r->server->module_config, &gowsgi_module);
    if (sconf->aliases == NULL || r->uri[0] != '/')
        return DECLINED;

    for (int i = 0; i < sconf->aliases->nelts; i++) {
        gowsgi_alias *alias = &APR_ARRAY_IDX(sconf->aliases, i, gowsgi_alias);
        const char *location, *target;
        size_t matched = 0;

        if (alias->regex != NULL) {
            ap_regmatch_t m[AP_MAX_REG_MATCH];
            if (ap_regexec(alias->regex, r->uri, AP_MAX_REG_MATCH, m, 0) != 0)
                continue;
            matched = (size_t)m[0].rm_eo;
            location = apr_pstrndup(r->pool, r->uri, matched);
            target = ap_pregsub(r->pool, alias->target, r->uri, AP_MAX_REG_MATCH, m);
            if (target == NULL)
                continue;
        } else {
            matched = alias_matches(r->uri, alias->location);
            location = alias->location;
            target = alias->target;
        }
        if (matched == 0)
            continue;

        /* A mount at "/" keeps the whole URI so Apache's walk finds PATH_INFO. */
        r->filename = strcmp(location, "/") == 0 ? apr_pstrcat(r->pool, target, r->uri, NULL)
                                                 : apr_pstrcat(r->pool, target, r->uri + matched, NULL);
        r->handler = WSGI_HANDLER;
        apr_table_setn(r->notes, ALIAS_FORCED_TYPE, r->handler);
        if (alias->process_group)
            apr_table_setn(r->notes, "mod_wsgi.process_group", alias->process_group);
        if (alias->application_group)
            apr_table_setn(r->notes, "mod_wsgi.application_group", alias->application_group);
        if (alias->callable_object)
            apr_table_setn(r->notes, "mod_wsgi.callable_object", alias->callable_object);
        if (alias->pass_authorization != GOWSGI_UNSET)
            apr_table_setn(r->notes, "mod_wsgi.pass_authorization",
                           alias->pass_authorization ? "1" : "0");
        return OK;
    }
    return DECLINED;
}
