/*
 * daemon_script_owner.c: WSGIDaemonProcess script-user= / script-group=. A
 * group so configured runs only scripts owned by that user (or group) in a
 * directory owned by it, neither writable by others: a tenant who can write
 * elsewhere cannot make the group run their code. mod_wsgi's checks and
 * words; each refusal is a 403 with one log line.
 */
#include "daemon.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>

#include "apr_strings.h"

/* What a rule checks of a file: its owner (or group) by name or #id, and
 * which write permissions it must not have. */
typedef struct owner_rule {
    int by_group;
    const char *want;              /* the option's value */
    apr_fileperms_t not_writable;  /* APR_FPROT_GWRITE | APR_FPROT_WWRITE, or WWRITE */
} owner_rule;

static int owner_matches(const owner_rule *rule, const apr_finfo_t *fi, const char **name)
{
    long id = rule->by_group ? (long)fi->group : (long)fi->user;
    if (rule->by_group) {
        struct group *g = getgrgid((gid_t)id);
        *name = g ? g->gr_name : NULL;
    } else {
        struct passwd *pw = getpwuid((uid_t)id);
        *name = pw ? pw->pw_name : NULL;
    }
    if (rule->want[0] == '#')
        return strtol(rule->want + 1, NULL, 10) == id;
    return *name != NULL && strcmp(rule->want, *name) == 0;
}

static int refuse(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "%s: %s", why, r->filename);   /* logno: why's */
    return HTTP_FORBIDDEN;
}

/* One file (the script, or its directory) against the rule. */
static int check(request_rec *r, const owner_rule *rule, const apr_finfo_t *fi, const char *what)
{
    const char *whose = rule->by_group ? "Group" : "Owner";
    const char *name = NULL;
    if (!owner_matches(rule, fi, &name))
        return refuse(r, name ? apr_psprintf(r->pool,
                                             GOWSGI_LOGNO(0317) "%s of %s does not match required %s for daemon "
                                             "process, %s=%s",
                                             whose, what, rule->by_group ? "group" : "user",
                                             rule->by_group ? "group" : "user", name)
                              : apr_psprintf(r->pool, GOWSGI_LOGNO(0318) "Couldn't determine %s of %s, %s=%ld",
                                             rule->by_group ? "group" : "owner", what,
                                             rule->by_group ? "gid" : "uid",
                                             rule->by_group ? (long)fi->group : (long)fi->user));
    if ((rule->not_writable & APR_FPROT_WWRITE) && (fi->protection & APR_FPROT_WWRITE))
        return refuse(r, apr_psprintf(r->pool, GOWSGI_LOGNO(0319) "%s is writable to world", what));
    if ((rule->not_writable & APR_FPROT_GWRITE) && (fi->protection & APR_FPROT_GWRITE))
        return refuse(r, apr_psprintf(r->pool, GOWSGI_LOGNO(0320) "%s is writable to group", what));
    return OK;
}

int gowsgi_daemon_check_script(request_rec *r, const gowsgi_daemon_rt *rt)
{
    const char *user = apr_table_get(rt->conf->options, "script-user");
    const char *group = apr_table_get(rt->conf->options, "script-group");
    if (user == NULL && group == NULL)
        return OK;
    /* script-user: neither group nor world may write; script-group: world. */
    owner_rule rule = {user == NULL, user ? user : group,
                       user ? (APR_FPROT_GWRITE | APR_FPROT_WWRITE) : APR_FPROT_WWRITE};
    int rc = check(r, &rule, &r->finfo, "WSGI script file");
    if (rc != OK)
        return rc;
    apr_finfo_t dir;
    const char *path = ap_make_dirstr_parent(r->pool, r->filename);
    if (apr_stat(&dir, path, APR_FINFO_NORM, r->pool) != APR_SUCCESS)
        return refuse(r, apr_psprintf(r->pool,
                                      GOWSGI_LOGNO(0321) "Unable to stat parent directory of WSGI script %s", path));
    return check(r, &rule, &dir, "parent directory of WSGI script file");
}
