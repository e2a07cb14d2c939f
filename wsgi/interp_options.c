/*
 * interp_options.c: the per-interpreter settings of mod_wsgi 6's
 * <WSGIInterpreterOptions>, as the shim resolved them for this process
 * (cshim/interp_options.c): the process's restrictions and sys.path
 * layers, and the application groups whose own differ. Copied at start-up,
 * read as each interpreter is made.
 */
#include "engine.h"

static char *process_layers;
static int noverrides;
static gowsgi_interp_override *overrides;

static char *copy(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

void gowsgi_interp_options_configure(const gowsgi_init *init)
{
    process_layers = copy(init->python_path_layers);
    noverrides = init->ninterp_overrides > 0 ? init->ninterp_overrides : 0;
    overrides = calloc((size_t)noverrides + 1, sizeof(*overrides));
    for (int i = 0; i < noverrides; i++) {
        const gowsgi_interp_override *o = &init->interp_overrides[i];
        overrides[i] = *o;
        overrides[i].application_group = copy(o->application_group != NULL ? o->application_group : "");
        overrides[i].python_path_layers = copy(o->python_path_layers);
        overrides[i].switch_interval = copy(o->switch_interval);
    }
}

void gowsgi_interp_settings_of(const char *name, gowsgi_interp_settings *out)
{
    out->restrict_stdin = gowsgi_config.restrict_stdin;
    out->restrict_stdout = gowsgi_config.restrict_stdout;
    out->restrict_signal = gowsgi_config.restrict_signal;
    out->python_path_layers = process_layers;
    out->switch_interval = NULL;
    for (int i = 0; i < noverrides; i++) {
        const gowsgi_interp_override *o = &overrides[i];
        if (strcmp(o->application_group, name) != 0)
            continue;
        out->restrict_stdin = o->restrict_stdin;
        out->restrict_stdout = o->restrict_stdout;
        out->restrict_signal = o->restrict_signal;
        out->python_path_layers = o->python_path_layers;
        out->switch_interval = o->switch_interval;
        return;
    }
}
