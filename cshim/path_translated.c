/*
 * path_translated.c: when PATH_TRANSLATED may come from the request itself.
 *
 * ap_add_cgi_vars finds PATH_TRANSLATED by running a sub-request for the URI
 * PATH_INFO spells (translate, directory walk, type and fixup hooks): about a
 * tenth of a daemon-mode request's cost in Apache's child. When PATH_INFO is
 * the whole URI (an app mounted at "/"), that sub-request retraces the
 * request, so its answer is the request's own filename and path info, as
 * long as nothing on the way to a filename can tell the two apart. A
 * sub-request is an initial GET with no query string or body headers, its
 * IS_SUBREQ is true, and its environment is the request's as it stands at
 * the handler. So the answer is taken from the request only when
 *  - every module hooked on the way to a filename is one known to map a
 *    sub-request as it maps its request (not mod_rewrite, mod_lua, ...),
 *  - the configuration has none of what can look at the differences: <If>
 *    sections, expressions in Alias, ScriptAlias or Redirect, IS_SUBREQ,
 *    ProxyPass interpolating the environment, or .htaccess files (which
 *    could hold any of these), and
 *  - the request is itself an initial GET with no query string or body
 *    (a second safeguard: with the above, nothing should read these).
 */
#include "shim.h"

#include "http_config.h"
#include "http_log.h"
#include "http_request.h"
#include "apr_strings.h"

#include <stddef.h>

static int from_request;

/* Apache's bundled modules hooked on the way from URL to file (pre_translate
 * to fixups) whose hooks decide a sub-request's filename as its request's;
 * the others (mod_rewrite, mod_lua, mod_speling) and every third-party
 * module are not assumed to. */
static const char *const maps_sub_requests_alike[] = {
    "core.c", "http_core.c", "mod_gowsgi.c", "mod_alias.c", "mod_auth_basic.c", "mod_auth_digest.c",
    "mod_cern_meta.c", "mod_charset_lite.c", "mod_dav.c", "mod_dir.c", "mod_env.c", "mod_expires.c",
    "mod_file_cache.c", "mod_headers.c", "mod_http2.c", "mod_include.c", "mod_log_debug.c", "mod_mime.c",
    "mod_mime_magic.c", "mod_negotiation.c", "mod_proxy.c", "mod_proxy_express.c", "mod_reqtimeout.c",
    "mod_session.c", "mod_setenvif.c", "mod_ssl.c", "mod_tls.c", "mod_userdir.c", "mod_usertrack.c",
    "mod_vhost_alias.c", NULL};

static const char *file_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The first module hooked in a that is not known to map sub-requests
 * alike, or NULL. Every hook link starts with its function and its
 * module's name, whatever the hook. */
static const char *unknown_module(const apr_array_header_t *a, size_t link_size, size_t name_offset)
{
    for (int i = 0; a != NULL && i < a->nelts; i++) {
        const char *name = *(const char *const *)(a->elts + (size_t)i * link_size + name_offset);
        const char *base = file_name(name ? name : "");
        int known = 0;
        for (const char *const *k = maps_sub_requests_alike; *k && !known; k++)
            known = strcmp(base, *k) == 0;
        if (!known)
            return base;
    }
    return NULL;
}

#define UNKNOWN_ON(hook) \
    unknown_module(ap_hook_get_##hook(), sizeof(ap_LINK_##hook##_t), offsetof(ap_LINK_##hook##_t, szName))

static const char *unknown_mapper(void)
{
    const char *m;
    if ((m = UNKNOWN_ON(pre_translate_name)) || (m = UNKNOWN_ON(translate_name)) ||
        (m = UNKNOWN_ON(map_to_storage)) || (m = UNKNOWN_ON(post_perdir_config)) ||
        (m = UNKNOWN_ON(header_parser)) || (m = UNKNOWN_ON(type_checker)) || (m = UNKNOWN_ON(fixups)))
        return m;
    return NULL;
}

/* The first directive that lets a sub-request map otherwise, or NULL. */
static const ap_directive_t *remaps_by_request(const ap_directive_t *d)
{
    for (; d != NULL; d = d->next) {
        const char *name = d->directive, *args = d->args ? d->args : "";
        if (strcasecmp(name, "<If") == 0 || strcasecmp(name, "<ElseIf") == 0 || strcasecmp(name, "<Else") == 0)
            return d;
        if ((strcasecmp(name, "AllowOverride") == 0 || strcasecmp(name, "AllowOverrideList") == 0) &&
            strcasecmp(args, "None") != 0)
            return d;
        if ((strcasecmp(name, "Alias") == 0 || strcasecmp(name, "ScriptAlias") == 0 ||
             strncasecmp(name, "Redirect", 8) == 0) && strstr(args, "%{") != NULL)
            return d;
        if (ap_strcasestr(args, "IS_SUBREQ") != NULL)
            return d;
        if (strcasecmp(name, "ProxyPassInterpolateEnv") == 0 && strcasecmp(args, "Off") != 0)
            return d;
        const ap_directive_t *inner = remaps_by_request(d->first_child);
        if (inner != NULL)
            return inner;
    }
    return NULL;
}

void gowsgi_path_translated_configure(server_rec *s)
{
    const char *module = unknown_mapper();
    const ap_directive_t *d = module ? NULL : remaps_by_request(ap_conftree);
    from_request = module == NULL && d == NULL;
    if (module != NULL)
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                     GOWSGI_LOGNO(0418) "gowsgi: PATH_TRANSLATED comes from Apache's sub-request: %s hooks URL "
                     "mapping", module);
    else if (d != NULL)
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                     GOWSGI_LOGNO(0419) "gowsgi: PATH_TRANSLATED comes from Apache's sub-request: %s %s (%s:%d)",
                     d->directive,
                     d->args, d->filename, d->line_num);
}

int gowsgi_path_translated_from_request(request_rec *r)
{
    return from_request && ap_is_initial_req(r) && r->filename && r->path_info && r->path_info[0] &&
           strcmp(r->method, "GET") == 0 && (r->args == NULL || r->args[0] == '\0') &&
           strcmp(r->protocol, "INCLUDED") != 0 && strcmp(r->uri, r->path_info) == 0 &&
           apr_table_get(r->headers_in, "Content-Length") == NULL &&
           apr_table_get(r->headers_in, "Transfer-Encoding") == NULL;
}
