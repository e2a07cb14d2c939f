/*
 * directive_parse.c: parsing helpers shared by the directive files: errors
 * that name the directive, where a directive was written, On/Off, integers,
 * key=value options, group names, and recording what is not honoured.
 */
#include "directive_parse.h"

/* Lets APLOG_MARK tag our warnings with this module (for LogLevel gowsgi:...). */
APLOG_USE_MODULE(gowsgi);

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Prefix an error with the directive name unless it already starts with it
 * (Apache's own messages, e.g. from ap_check_cmd_context, already do).
 */
const char *gowsgi_cmd_err(cmd_parms *cmd, const char *msg)
{
    const char *name = cmd->cmd->name;
    size_t n = strlen(name);

    if (msg == NULL)
        return NULL;
    if (strncmp(msg, name, n) == 0 && (msg[n] == ' ' || msg[n] == ':'))
        return msg;
    return apr_pstrcat(cmd->pool, name, ": ", msg, NULL);
}


/* Where the directive being processed was written. */
gowsgi_where gowsgi_cmd_where(cmd_parms *cmd)
{
    gowsgi_where w;

    w.file = NULL;
    w.line = 0;
    if (cmd->directive) {
        w.file = cmd->directive->filename;
        w.line = cmd->directive->line_num;
    }
    return w;
}

/*
 * True while a .htaccess file is being read. Apache's convention (see
 * http_config.h: "If cmd->pool == cmd->temp_pool ... assume .htaccess
 * context") is what ap_check_cmd_context(cmd, NOT_IN_HTACCESS) tests, so we
 * ask that public function rather than compare the pools ourselves.
 */
int gowsgi_cmd_in_htaccess(cmd_parms *cmd)
{
    return ap_check_cmd_context(cmd, NOT_IN_HTACCESS) != NULL;
}

/*
 * Record a directive that is accepted but not honoured. Only the server
 * configuration is recorded: a .htaccess file is read per request with
 * cmd->pool being the request pool, so appending to the pconf-lifetime
 * global list from there would grow it on every request (and point into
 * freed memory). Such uses are silently accepted, as documented.
 */
void gowsgi_cmd_unhonoured(cmd_parms *cmd, const char *detail)
{
    gowsgi_unhonoured *u;

    if (gowsgi_cmd_in_htaccess(cmd) || gowsgi_globals.unhonoured == NULL)
        return;
    u = (gowsgi_unhonoured *)apr_array_push(gowsgi_globals.unhonoured);
    u->directive = cmd->cmd->name;
    u->detail = detail;
    u->where = gowsgi_cmd_where(cmd);
}

/* On/Off, case-insensitive as in mod_wsgi. Returns 0/1, or -1 if neither. */
int gowsgi_parse_onoff(const char *v)
{
    if (strcasecmp(v, "Off") == 0)
        return 0;
    if (strcasecmp(v, "On") == 0)
        return 1;
    return -1;
}

/* "%{GLOBAL}" is stored as "" (the main interpreter / embedded mode). */
const char *gowsgi_parse_group(const char *v)
{
    return strcmp(v, "%{GLOBAL}") == 0 ? "" : v;
}

/*
 * Strict decimal integer: the whole string must be a number that fits an
 * int. mod_wsgi uses atoi() (so "2x" is 2); we reject such values instead,
 * with the same message, because they are always typing mistakes.
 */
int gowsgi_parse_int(const char *v, int *out)
{
    char *end;
    long n;

    if (*v == '\0')
        return 0;
    errno = 0;
    n = strtol(v, &end, 10);
    if (*end != '\0' || errno == ERANGE || n < INT_MIN || n > INT_MAX)
        return 0;
    *out = (int)n;
    return 1;
}

int gowsgi_parse_int64(const char *v, apr_int64_t *out)
{
    char *end;
    apr_int64_t n;

    if (*v == '\0')
        return 0;
    errno = 0;
    n = apr_strtoi64(v, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return 0;
    *out = n;
    return 1;
}

/*
 * Read one "name=value" option, as mod_wsgi's wsgi_parse_option: the name
 * runs to '=' with no white space, the value is one Apache word (quotes
 * allowed). On failure *bad is the offending word, for the message.
 */
int gowsgi_parse_option(apr_pool_t *p, const char **line, const char **name,
                     const char **value, const char **bad)
{
    const char *str = *line;
    const char *end;

    while (*str && apr_isspace(*str))
        ++str;

    end = str;
    while (*end && *end != '=' && !apr_isspace(*end))
        ++end;

    if (*str == '\0' || *str == '=' || *end != '=') {
        const char *rest = str;
        *bad = ap_getword_conf(p, &rest);
        *line = rest;
        return 0;
    }

    *name = apr_pstrmemdup(p, str, end - str);
    *line = end + 1;
    *value = ap_getword_conf(p, line);
    return 1;
}

/* "Invalid option to WSGI <what> definition: '<text>'." */
const char *gowsgi_cmd_bad_option(cmd_parms *cmd, const char *what,
                                 const char *text)
{
    return gowsgi_cmd_err(cmd, apr_psprintf(cmd->pool,
                  "Invalid option to WSGI %s definition: '%s'.", what, text));
}

/* Per-directory (or server-default) record of the directive. */
gowsgi_dir_conf *gowsgi_cmd_dconf(void *mconfig)
{
    return (gowsgi_dir_conf *)mconfig;
}

/*
 * Checks mod_wsgi makes when a directive names a daemon group at parse
 * time (WSGIImportScript, preloading WSGIScriptAlias): the group must be
 * defined earlier, and one defined in a <VirtualHost> is only usable from
 * a server with the same ServerName.
 */
const char *gowsgi_cmd_check_group(cmd_parms *cmd, const char *group)
{
    const gowsgi_daemon *d = gowsgi_find_daemon(group);
    const char *here = cmd->server->server_hostname;
    const char *there;

    if (d == NULL)
        return "WSGI process group not yet configured.";
    if (d->server == NULL || !d->server->is_virtual)
        return NULL;
    there = d->server->server_hostname;
    if (here && there && strcmp(here, there) != 0)
        return "WSGI process group not accessible.";
    if ((!here && there) || (here && !there))
        return "WSGI process group not matchable.";
    return NULL;
}
