/*
 * hooks.h: the access, authentication and dispatch scripts of mod_wsgi
 * (WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript,
 * WSGIDispatchScript) as Apache hooks and providers. The scripts always run
 * in the Apache child, as mod_wsgi's do.
 */
#ifndef GOWSGI_HOOKS_H
#define GOWSGI_HOOKS_H

#include "shim.h"

/* engine_load.c sets it when the engine runs in this child. */
extern gowsgi_call_hook_fn gowsgi_engine_call_hook;

/* hook_call.c: the application group a hook script runs in, from its
 * application-group= (NULL: %{GLOBAL}). */
const char *gowsgi_hook_group(request_rec *r, const char *spec);
/* A file's mtime in microseconds, or 0 when it cannot be stat()ed (the
 * load then fails and says why). */
int64_t gowsgi_script_mtime(request_rec *r, const char *path);
/* Calls the script's function for kind (GOWSGI_HOOK_*) in the application
 * group given (gowsgi_hook_group's) with the environ entries given; the
 * strings it returned land in *strings (by index, from r->pool). Returns
 * GOWSGI_HOOK_*. */
int gowsgi_hook_call(request_rec *r, const char *script, const char *group, int kind, const char *arg1,
                     const char *arg2, int nenv, const char *const *keys, const char *const *vals,
                     apr_array_header_t **strings);

/* auth_environ.c: mod_wsgi's environ for access and auth scripts. */
void gowsgi_auth_environ(request_rec *r, const char *application_group, int *nenv, const char ***keys,
                         const char ***vals);

/* auth_providers.c: the access checker, the "wsgi" authn provider and the
 * "wsgi-group" authz provider. */
void gowsgi_register_auth_hooks(apr_pool_t *p);

/* dispatch.c: WSGIDispatchScript's routing overrides for a request whose
 * environ is built; returns OK or an HTTP status. */
int gowsgi_dispatch(request_rec *r, const gowsgi_dir_conf *dconf, gowsgi_request *req);

#endif
