/*
 * dispatch.c: WSGIDispatchScript. Once a request's environ is built, the
 * script's optional process_group(environ), application_group(environ)
 * and callable_object(environ) may each choose another target for it; the
 * environ the app then sees says what was chosen. The script runs in the
 * Apache child, in its own application group (%{GLOBAL} by default), as
 * mod_wsgi's does.
 */
#include "hooks.h"

#include "apr_strings.h"

/* Points the environ entry key (which the shim put there) at val. */
static void set_entry(gowsgi_request *req, const char *key, const char *val)
{
    for (int i = req->nenv - 1; i >= 0; i--)
        if (strcmp(req->env_keys[i], key) == 0) {
            ((const char **)req->env_vals)[i] = val;
            return;
        }
}

int gowsgi_dispatch(request_rec *r, const gowsgi_dir_conf *dconf, gowsgi_request *req)
{
    const char *group = gowsgi_hook_group(r, dconf->dispatch_application_group);

    /* The script sees the request's environ, but as running where it runs:
     * mod_wsgi sets its own process and application group there and drops
     * the callable object. */
    int n = 0;
    const char **keys = apr_palloc(r->pool, sizeof(char *) * (size_t)(req->nenv + 1));
    const char **vals = apr_palloc(r->pool, sizeof(char *) * (size_t)(req->nenv + 1));
    for (int i = 0; i < req->nenv; i++) {
        const char *k = req->env_keys[i], *v = req->env_vals[i];
        if (strcmp(k, "mod_wsgi.callable_object") == 0)
            continue;
        if (strcmp(k, "mod_wsgi.process_group") == 0)
            v = "";
        else if (strcmp(k, "mod_wsgi.application_group") == 0)
            v = group;
        keys[n] = k;
        vals[n++] = v;
    }

    apr_array_header_t *chosen;
    int rc = gowsgi_hook_call(r, dconf->dispatch_script, group, GOWSGI_HOOK_DISPATCH, NULL, NULL, n, keys, vals,
                              &chosen);
    /* A script that would not load was logged and routes nothing, as in
     * mod_wsgi; one that raised or answered nonsense fails the request. */
    if (rc == GOWSGI_HOOK_FAILED)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (rc == GOWSGI_HOOK_UNLOADED)
        return OK;
    for (int i = 0; i < chosen->nelts && i < 3; i++) {
        const char *v = APR_ARRAY_IDX(chosen, i, const char *);
        if (v == NULL)
            continue;
        if (i == 0) {
            req->process_group = gowsgi_process_group(r, v);
            set_entry(req, "mod_wsgi.process_group", req->process_group);
        } else if (i == 1) {
            req->application_group = gowsgi_application_group(r, v);
            set_entry(req, "mod_wsgi.application_group", req->application_group);
        } else {
            req->callable_object = v;
            set_entry(req, "mod_wsgi.callable_object", v);
        }
    }
    return OK;
}
