/*
 * interp_options.c: mod_wsgi 6's per-interpreter settings:
 * WSGIPerInterpreterGIL and WSGIFreeThreading at server scope, and
 * <WSGIInterpreterOptions process-group= application-group=> with those two
 * and WSGISwitchInterval, WSGIPythonPath, WSGIRestrictStdin,
 * WSGIRestrictStdout and WSGIRestrictSignal inside; and what they resolve
 * to for one process (the engine's gowsgi_init: the process's values, and
 * the application groups whose values differ). Whether the process's
 * Python can do what is asked is the engine's to say (it knows its
 * Python; a daemon group may run another than the server's).
 *
 * Resolution is mod_wsgi 6's (wsgi_interp.c): a container matching the
 * interpreter weighs the number of selectors it has (0, 1 or 2); the
 * heaviest wins, the later in the file among equals; the server-scope
 * directive is below every container. WSGIPythonPath does not win: every
 * matching container's path is a layer, applied lightest first after the
 * process's own path, each put first on sys.path. WSGIFreeThreading is the
 * process's: a container with application-group= does not set it (warned).
 */
#include "directive_parse.h"
#include "shim.h"   /* APLOG_USE_MODULE(gowsgi) */


#define DETAIL_FREE_THREADING_APP_GROUP \
    "ignored inside <WSGIInterpreterOptions> with application-group=: free-threading is a " \
    "process-wide setting and cannot be scoped per application group (mod_wsgi 6's WSGI0201)"

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
    if (strcasecmp(name, "WSGISwitchInterval") == 0 || strcasecmp(name, "WSGIPythonPath") == 0) {
        if (*v == '\0')
            return apr_pstrcat(cmd->pool, name, " takes one argument", NULL);
        if (strcasecmp(name, "WSGIPythonPath") == 0) {
            o->python_path = v;
            return NULL;
        }
        const char *err = gowsgi_check_switch_interval(v);
        if (err == NULL)
            o->switch_interval = v;
        return err;
    }
    static const char *const restrict_names[] = {"WSGIRestrictStdin", "WSGIRestrictStdout", "WSGIRestrictSignal"};
    int *restrict_slots[] = {&o->restrict_stdin, &o->restrict_stdout, &o->restrict_signal};
    for (size_t i = 0; i < sizeof(restrict_names) / sizeof(restrict_names[0]); i++) {
        if (strcasecmp(name, restrict_names[i]) != 0)
            continue;
        const char *err = onoff(cmd, restrict_names[i], v, &value);
        if (err == NULL && *ap_getword_conf(cmd->temp_pool, &args) != '\0')
            err = apr_pstrcat(cmd->pool, restrict_names[i], " takes one argument, Off | On", NULL);
        if (err != NULL)
            return err;
        *restrict_slots[i] = value;
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
    o.restrict_stdin = o.restrict_stdout = o.restrict_signal = -1;
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

/* Whether container o selects application group app (NULL: one no
 * container names) of process group pg. */
static int selects(const gowsgi_interp_options *o, const char *pg, const char *app)
{
    if (!matches(o->process_group, pg))
        return 0;
    return o->application_group == NULL || (app != NULL && strcmp(o->application_group, app) == 0);
}

static int weight_of(const gowsgi_interp_options *o)
{
    return (o->process_group != NULL) + (o->application_group != NULL);
}

/* What one interpreter gets. */
typedef struct resolved {
    int gil, restrict_stdin, restrict_stdout, restrict_signal;
    const char *switch_interval;   /* from a container naming the application group; else NULL */
    const char *layers;            /* python_path_layers; NULL: none */
} resolved;

static void resolve(apr_pool_t *p, const char *pg, const char *app, resolved *r)
{
    const apr_array_header_t *list = gowsgi_globals.interp_options;
    choice gil = {gowsgi_globals.per_interpreter_gil == 1, -1};
    choice in = {gowsgi_globals.restrict_stdin == 1, -1};
    choice out = {gowsgi_globals.restrict_stdout == 1, -1};
    choice sig = {gowsgi_globals.restrict_signal != 0, -1};
    int n = list != NULL ? list->nelts : 0;
    const gowsgi_interp_options **layer = apr_pcalloc(p, sizeof(*layer) * (size_t)(n + 1));
    int nlayers = 0, switch_weight = -1;
    r->switch_interval = NULL;
    for (int i = 0; i < n; i++) {
        const gowsgi_interp_options *o = &APR_ARRAY_IDX(list, i, gowsgi_interp_options);
        if (!selects(o, pg, app))
            continue;
        int w = weight_of(o);
        consider(&gil, o->per_interpreter_gil, w);
        consider(&in, o->restrict_stdin, w);
        consider(&out, o->restrict_stdout, w);
        consider(&sig, o->restrict_signal, w);
        if (o->switch_interval != NULL && w >= switch_weight) {
            /* Only a container naming the group gives it its own value. */
            r->switch_interval = o->application_group != NULL ? o->switch_interval : NULL;
            switch_weight = w;
        }
        if (o->python_path != NULL) {
            /* Lightest first, file order among equals (a stable insert). */
            int at = nlayers++;
            while (at > 0 && weight_of(layer[at - 1]) > w) {
                layer[at] = layer[at - 1];
                at--;
            }
            layer[at] = o;
        }
    }
    r->gil = gil.value;
    r->restrict_stdin = in.value;
    r->restrict_stdout = out.value;
    r->restrict_signal = sig.value;
    r->layers = NULL;
    for (int i = 0; i < nlayers; i++)
        r->layers = r->layers == NULL ? layer[i]->python_path : apr_pstrcat(p, r->layers, "\n", layer[i]->python_path, NULL);
}

static int same_text(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

void gowsgi_engine_interp_options(apr_pool_t *p, const char *pg, gowsgi_init *init)
{
    const apr_array_header_t *list = gowsgi_globals.interp_options;
    int n = list != NULL ? list->nelts : 0;
    choice ft = {gowsgi_globals.free_threading == 1, -1};
    for (int i = 0; i < n; i++) {
        const gowsgi_interp_options *o = &APR_ARRAY_IDX(list, i, gowsgi_interp_options);
        if (o->application_group == NULL && matches(o->process_group, pg))
            consider(&ft, o->free_threading, o->process_group != NULL);
    }
    init->free_threading = ft.value;

    resolved proc;
    resolve(p, pg, NULL, &proc);
    init->per_interpreter_gil = proc.gil;
    init->restrict_stdin = proc.restrict_stdin;
    init->restrict_stdout = proc.restrict_stdout;
    init->restrict_signal = proc.restrict_signal;
    init->python_path_layers = proc.layers;

    /* The application groups a container names whose answers differ. */
    int ngil = 0, nover = 0;
    const char **names = apr_pcalloc(p, sizeof(*names) * (size_t)(n + 1));
    gowsgi_interp_override *over = apr_pcalloc(p, sizeof(*over) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) {
        const gowsgi_interp_options *o = &APR_ARRAY_IDX(list, i, gowsgi_interp_options);
        if (o->application_group == NULL || !matches(o->process_group, pg))
            continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) {
            const gowsgi_interp_options *e = &APR_ARRAY_IDX(list, j, gowsgi_interp_options);
            seen = e->application_group != NULL && matches(e->process_group, pg) &&
                   strcmp(e->application_group, o->application_group) == 0;
        }
        if (seen)
            continue;
        resolved app;
        resolve(p, pg, o->application_group, &app);
        if (app.gil != proc.gil)
            names[ngil++] = o->application_group;
        if (*o->application_group == '\0')
            app.switch_interval = NULL;   /* the process's (gowsgi_resolve_switch_interval) */
        if (app.restrict_stdin != proc.restrict_stdin || app.restrict_stdout != proc.restrict_stdout ||
            app.restrict_signal != proc.restrict_signal || !same_text(app.layers, proc.layers) ||
            app.switch_interval != NULL) {
            gowsgi_interp_override *v = &over[nover++];
            v->application_group = o->application_group;
            v->python_path_layers = app.layers;
            v->restrict_stdin = app.restrict_stdin;
            v->restrict_stdout = app.restrict_stdout;
            v->restrict_signal = app.restrict_signal;
            v->switch_interval = app.switch_interval;
        }
    }
    init->ngil_exceptions = ngil;
    init->gil_exceptions = names;
    init->ninterp_overrides = nover;
    init->interp_overrides = over;
}

/* WSGISwitchInterval for process group pg ("" for Apache's children): the
 * heaviest container that selects its main interpreter (the later among
 * equals), else the server-scope directive; NULL: Python's own. The main
 * interpreter's interval is the shared GIL's, so the process's. (One
 * naming another application group is that interpreter's: resolve().) A group's
 * switch-interval= wins over this (daemon_settings.c), as in mod_wsgi 6. */
const char *gowsgi_resolve_switch_interval(const char *pg)
{
    const apr_array_header_t *list = gowsgi_globals.interp_options;
    const char *value = gowsgi_globals.switch_interval;
    int weight = -1;
    for (int i = 0; list != NULL && i < list->nelts; i++) {
        const gowsgi_interp_options *o = &APR_ARRAY_IDX(list, i, gowsgi_interp_options);
        if (o->switch_interval == NULL || !selects(o, pg, ""))
            continue;
        if (weight_of(o) >= weight) {
            value = o->switch_interval;
            weight = weight_of(o);
        }
    }
    return value;
}
