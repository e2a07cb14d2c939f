/*
 * gil_modes.c: mod_wsgi 6's GIL modes: WSGIPerInterpreterGIL and
 * WSGIFreeThreading, at server scope or inside <WSGIInterpreterOptions
 * process-group= application-group=>, and what they resolve to for one
 * process (the engine's gowsgi_init: free_threading, per_interpreter_gil
 * and the application groups that differ from it). Whether the process's
 * Python can do what is asked is the engine's to say (it knows its
 * Python; a daemon group may run another than the server's).
 *
 * Resolution is mod_wsgi 6's (wsgi_interp.c): a container matching the
 * interpreter weighs the number of selectors it has (0, 1 or 2); the
 * heaviest wins, the later in the file among equals; the server-scope
 * directive is below every container. WSGIFreeThreading is the process's:
 * a container with application-group= does not set it (warned).
 */
#include "directive_parse.h"
#include "shim.h"   /* APLOG_USE_MODULE(gowsgi) */


#define DETAIL_FREE_THREADING_APP_GROUP \
    "ignored inside <WSGIInterpreterOptions> with application-group=: free-threading is a " \
    "process-wide setting and cannot be scoped per application group (mod_wsgi 6's WSGI0201)"
#define DETAIL_NOT_PER_INTERPRETER \
    "ignored inside <WSGIInterpreterOptions>: gowsgi applies only WSGIPerInterpreterGIL, " \
    "WSGIFreeThreading and (without application-group=) WSGISwitchInterval there so far"

static const char *onoff(cmd_parms *cmd, const char *name, const char *v, int *out)
{
    *out = gowsgi_parse_onoff(v);
    if (*out < 0)
        return apr_pstrcat(cmd->pool, name, " must be one of: Off | On", NULL);
    return NULL;
}

/* WSGIPerInterpreterGIL / WSGIFreeThreading outside a container. */
const char *gowsgi_cmd_gil_flag(cmd_parms *cmd, void *mconfig, const char *v)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    int value;

    (void)mconfig;
    if (err)
        FAIL(err);
    if ((err = onoff(cmd, cmd->cmd->name, v, &value)) != NULL)
        FAIL(err);
    if (strcasecmp(cmd->cmd->name, "WSGIFreeThreading") == 0)
        gowsgi_globals.free_threading = value;
    else
        gowsgi_globals.per_interpreter_gil = value;
    return NULL;
}

/* One directive inside the container. */
static const char *container_child(cmd_parms *cmd, gowsgi_interp_options *o, ap_directive_t *d)
{
    const char *args = d->args ? d->args : "";
    const char *v = ap_getword_conf(cmd->temp_pool, &args);
    const char *name = d->directive;
    int value;

    if (strcasecmp(name, "WSGIPerInterpreterGIL") == 0 || strcasecmp(name, "WSGIFreeThreading") == 0) {
        const char *err = onoff(cmd, strcasecmp(name, "WSGIFreeThreading") == 0 ? "WSGIFreeThreading"
                                                                                 : "WSGIPerInterpreterGIL",
                                v, &value);
        if (err == NULL && *ap_getword_conf(cmd->temp_pool, &args) != '\0')
            err = apr_pstrcat(cmd->pool, name, " takes one argument, Off | On", NULL);
        if (err != NULL)
            return err;
        if (strcasecmp(name, "WSGIPerInterpreterGIL") == 0) {
            o->per_interpreter_gil = value;
            return NULL;
        }
        o->free_threading = value;
        if (o->application_group != NULL) {
            gowsgi_unhonoured *u = (gowsgi_unhonoured *)apr_array_push(gowsgi_globals.unhonoured);
            u->directive = "WSGIFreeThreading";
            u->detail = DETAIL_FREE_THREADING_APP_GROUP;
            u->where.file = d->filename;
            u->where.line = d->line_num;
        }
        return NULL;
    }
    /* What mod_wsgi 6 also allows here: accepted, said not to be honoured. */
    static const char *const later[] = {"WSGISwitchInterval", "WSGIPythonPath", "WSGIRestrictStdin",
                                        "WSGIRestrictStdout", "WSGIRestrictSignal"};
    for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
        if (strcasecmp(name, later[i]) != 0)
            continue;
        if (*v == '\0')
            return apr_pstrcat(cmd->pool, later[i], " takes one argument", NULL);
        if (i == 0 && gowsgi_check_switch_interval(v) != NULL)
            return gowsgi_check_switch_interval(v);
        if (i == 0 && o->application_group == NULL) {
            /* A process's interval: honoured (gowsgi_resolve_switch_interval). */
            o->switch_interval = v;
            return NULL;
        }
        gowsgi_unhonoured *u = (gowsgi_unhonoured *)apr_array_push(gowsgi_globals.unhonoured);
        u->directive = later[i];
        u->detail = DETAIL_NOT_PER_INTERPRETER;
        u->where.file = d->filename;
        u->where.line = d->line_num;
        return NULL;
    }
    return apr_pstrcat(cmd->pool, name,
                       " is not allowed inside <WSGIInterpreterOptions> (only WSGIPerInterpreterGIL, "
                       "WSGIFreeThreading, WSGISwitchInterval, WSGIPythonPath, WSGIRestrictStdin, "
                       "WSGIRestrictStdout and WSGIRestrictSignal are)",
                       NULL);
}

/* <WSGIInterpreterOptions [process-group=NAME] [application-group=NAME]>. */
const char *gowsgi_cmd_interp_options(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    gowsgi_interp_options o;

    (void)mconfig;
    if (err)
        FAIL(err);
    const char *end = ap_strrchr_c(arg, '>');
    if (end == NULL)
        FAIL("<WSGIInterpreterOptions> directive missing closing '>'");
    const char *line = apr_pstrndup(cmd->temp_pool, arg, (apr_size_t)(end - arg));
    memset(&o, 0, sizeof(o));
    o.per_interpreter_gil = -1;
    o.free_threading = -1;
    o.switch_interval = NULL;
    o.where = gowsgi_cmd_where(cmd);
    for (;;) {
        char *word = ap_getword_conf(cmd->pool, &line);
        if (*word == '\0')
            break;
        char *eq = strchr(word, '=');
        if (eq == NULL)
            FAIL(apr_pstrcat(cmd->pool, "<WSGIInterpreterOptions>: argument '", word,
                             "' is not of the form key=value", NULL));
        *eq = '\0';
        const char **slot;
        if (strcasecmp(word, "process-group") == 0)
            slot = &o.process_group;
        else if (strcasecmp(word, "application-group") == 0)
            slot = &o.application_group;
        else
            FAIL(apr_pstrcat(cmd->pool, "<WSGIInterpreterOptions>: unknown selector '", word,
                             "', expected process-group or application-group", NULL));
        if (*slot != NULL)
            FAIL(apr_pstrcat(cmd->pool, "<WSGIInterpreterOptions>: ", word, " given more than once", NULL));
        *slot = gowsgi_parse_group(eq + 1);
    }
    for (ap_directive_t *d = cmd->directive->first_child; d != NULL; d = d->next) {
        if ((err = container_child(cmd, &o, d)) != NULL) {
            cmd->err_directive = d;   /* the error names the inner line */
            return err;
        }
    }
    *(gowsgi_interp_options *)apr_array_push(gowsgi_globals.interp_options) = o;
    return NULL;
}

/* The winner so far for one setting (mod_wsgi 6's specificity rule). */
typedef struct choice {
    int value;
    int weight;
} choice;

static void consider(choice *c, int value, int weight)
{
    if (value >= 0 && weight >= c->weight) {
        c->value = value;
        c->weight = weight;
    }
}

static int matches(const char *selector, const char *name)
{
    return selector == NULL || strcmp(selector, name) == 0;
}

/* WSGIPerInterpreterGIL for application group app (NULL: one no container
 * names) in process group pg. */
static int resolve_gil(const char *pg, const char *app)
{
    const apr_array_header_t *list = gowsgi_globals.interp_options;
    choice c = {gowsgi_globals.per_interpreter_gil == 1, -1};
    for (int i = 0; list != NULL && i < list->nelts; i++) {
        const gowsgi_interp_options *o = &APR_ARRAY_IDX(list, i, gowsgi_interp_options);
        if (!matches(o->process_group, pg))
            continue;
        if (o->application_group != NULL && (app == NULL || strcmp(o->application_group, app) != 0))
            continue;
        consider(&c, o->per_interpreter_gil, (o->process_group != NULL) + (o->application_group != NULL));
    }
    return c.value;
}

void gowsgi_engine_gil_modes(apr_pool_t *p, const char *pg, gowsgi_init *init)
{
    const apr_array_header_t *list = gowsgi_globals.interp_options;
    choice ft = {gowsgi_globals.free_threading == 1, -1};
    for (int i = 0; list != NULL && i < list->nelts; i++) {
        const gowsgi_interp_options *o = &APR_ARRAY_IDX(list, i, gowsgi_interp_options);
        if (o->application_group == NULL && matches(o->process_group, pg))
            consider(&ft, o->free_threading, o->process_group != NULL);
    }
    init->free_threading = ft.value;
    init->per_interpreter_gil = resolve_gil(pg, NULL);

    /* The application groups a container names whose answer differs. */
    int n = 0;
    const char **names = apr_pcalloc(p, sizeof(*names) * (size_t)(list ? list->nelts + 1 : 1));
    for (int i = 0; list != NULL && i < list->nelts; i++) {
        const gowsgi_interp_options *o = &APR_ARRAY_IDX(list, i, gowsgi_interp_options);
        if (o->application_group == NULL || !matches(o->process_group, pg))
            continue;
        int seen = 0;
        for (int j = 0; j < n && !seen; j++)
            seen = strcmp(names[j], o->application_group) == 0;
        if (!seen && resolve_gil(pg, o->application_group) != init->per_interpreter_gil)
            names[n++] = o->application_group;
    }
    init->ngil_exceptions = n;
    init->gil_exceptions = names;
}

/* WSGISwitchInterval for process group pg ("" for Apache's children): the
 * heaviest matching container without application-group= (the later among
 * equals), else the server-scope directive; NULL: Python's own. A group's
 * switch-interval= wins over this (daemon_settings.c), as in mod_wsgi 6. */
const char *gowsgi_resolve_switch_interval(const char *pg)
{
    const apr_array_header_t *list = gowsgi_globals.interp_options;
    const char *value = gowsgi_globals.switch_interval;
    int weight = -1;
    for (int i = 0; list != NULL && i < list->nelts; i++) {
        const gowsgi_interp_options *o = &APR_ARRAY_IDX(list, i, gowsgi_interp_options);
        if (o->switch_interval == NULL || o->application_group != NULL || !matches(o->process_group, pg))
            continue;
        if ((o->process_group != NULL) >= weight) {
            value = o->switch_interval;
            weight = o->process_group != NULL;
        }
    }
    return value;
}
