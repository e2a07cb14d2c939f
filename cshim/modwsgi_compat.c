/*
 * modwsgi_compat.c: GoWSGICompatibility 4|6, which of mod_wsgi's rules
 * apply where 4.9.4 and 6.0 disagree (README, "mod_wsgi 4.9.4 vs 6.0").
 * A configuration written for 4.x keeps 4.x's behaviour (the default); 6
 * picks 6.0's, per server or virtual host. The rule is the request's
 * virtual host's, in embedded and daemon mode alike: the child passes it
 * with the request (a daemon group serves the vhosts that name it, and
 * each request gets its own vhost's rule). How Python starts is a
 * process's, not a request's: Apache's children take the main server's
 * rule, a daemon group's processes that of the vhost defining the group.
 * Here: the directive, the lookups, and the CGI variables 6.0 does not set.
 */
#include "shim.h"
#include "directive_parse.h"

#include "apr_strings.h"

/* GoWSGICompatibility 4|6, server config or <VirtualHost>. */
const char *gowsgi_cmd_compat(cmd_parms *cmd, void *mconfig, const char *v)
{
    gowsgi_server_conf *sconf = ap_get_module_config(cmd->server->module_config, &gowsgi_module);

    (void)mconfig;
    if (strcmp(v, "4") == 0)
        sconf->compat = 4;
    else if (strcmp(v, "6") == 0)
        sconf->compat = 6;
    else
        FAIL(apr_pstrcat(cmd->pool, "must be 4 (mod_wsgi 4.9.4's rules, the default) or 6 (mod_wsgi 6.0's), not '",
                         v, "'", NULL));
    return NULL;
}

int gowsgi_modwsgi6(const request_rec *r)
{
    return gowsgi_server_modwsgi6(r->server);
}

int gowsgi_server_modwsgi6(const server_rec *s)
{
    if (s == NULL)
        return 0;
    const gowsgi_server_conf *sconf = ap_get_module_config(s->module_config, &gowsgi_module);
    return sconf->compat == 6;
}

/* What 6.0 builds its CGI variables without (its wsgi_environ.c: no
 * sub-request, no DNS or ident lookups, none of what only a forked CGI
 * would use). PATH_TRANSLATED is never made: cgi_vars.c skips the
 * sub-request in 6 mode. */
static const char *const dropped[] = {
    "GATEWAY_INTERFACE", "SERVER_SIGNATURE", "REMOTE_HOST", "REMOTE_IDENT", "PATH",
    "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "SHLIB_PATH", "LIBPATH", "LIBRARY_PATH", "PERLLIB_PREFIX",
    "SystemRoot", "COMSPEC", "PATHEXT", "WINDIR", "ETC", "DPATH",
};

/* Marks, before Apache adds its variables, which of the dropped names the
 * configuration itself set (SetEnv, SetEnvIf, RewriteRule [E=]): 6.0 keeps
 * those, as it keeps any entry it found in subprocess_env. */
unsigned gowsgi_modwsgi6_kept(const apr_table_t *env)
{
    unsigned kept = 0;
    if (apr_is_empty_table(env))
        return 0;
    for (unsigned i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
        if (apr_table_get(env, dropped[i]) != NULL)
            kept |= 1u << i;
    return kept;
}

void gowsgi_modwsgi6_drop(apr_table_t *env, unsigned kept)
{
    for (unsigned i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
        if (!(kept & (1u << i)))
            apr_table_unset(env, dropped[i]);
}
