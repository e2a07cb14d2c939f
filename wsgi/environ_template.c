/*
 * environ_template.c: the environ of the last request of a shape, kept to be
 * copied for the next one. Requests to an app mostly carry the same names in
 * the same order (the CGI variables, the same client's headers), and most
 * values repeat too (server name, port, document root, the mod_wsgi.*
 * settings, header values): copying a dict is one memcpy and a reference per
 * entry, where building it decodes, hashes and inserts each. The request's
 * names and values are compared with the template's as C strings; a
 * different name anywhere is another shape (built afresh, then kept), a
 * different value is decoded and set in the copy as the builder would have.
 * NGINX Unit's prebuilt environ, with the per-request part found by
 * comparison. The app gets a dict of its own, equal to the one built.
 */
#include "engine.h"

struct gowsgi_environ_template {
    int n;                    /* the request's entries, as req->nenv */
    const char **names, **values;   /* copies, in block */
    PyObject **keys;          /* the dict key entry i set (strong), or NULL */
    unsigned char *kinds;     /* GOWSGI_ENV_* */
    PyObject *dict;           /* the environ as built, without the per-request entries */
    char *block;
};

static void template_free(struct gowsgi_environ_template *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < t->n; i++)
        Py_XDECREF(t->keys[i]);
    Py_XDECREF(t->dict);
    PyMem_RawFree(t->block);
    PyMem_RawFree(t);
}

static struct gowsgi_environ_template **slot_for(gowsgi_interp *it, int n)
{
    return &it->environ_templates[(unsigned)n % GOWSGI_ENVIRON_TEMPLATES];
}

PyObject *gowsgi_environ_template_use(gowsgi_interp *it, const gowsgi_request *req)
{
    struct gowsgi_environ_template *t = *slot_for(it, req->nenv);
    if (t == NULL || t->n != req->nenv)
        return NULL;
    for (int i = 0; i < t->n; i++) {
        if (strcmp(req->env_keys[i], t->names[i]) != 0)
            return NULL;
        if (t->kinds[i] == GOWSGI_ENV_FIXED && strcmp(req->env_vals[i], t->values[i]) != 0)
            return NULL;
    }
    PyObject *env = PyDict_Copy(t->dict);
    if (env == NULL)
        return NULL;
    for (int i = 0; i < t->n; i++) {
        const char *v = req->env_vals[i];
        if (t->keys[i] == NULL || strcmp(v, t->values[i]) == 0)
            continue;
        PyObject *val = t->kinds[i] == GOWSGI_ENV_SLASHES ? gowsgi_collapse_slashes(v) : gowsgi_latin1(v);
        if (val == NULL || PyDict_SetItem(env, t->keys[i], val) != 0) {
            Py_XDECREF(val);
            Py_DECREF(env);
            return NULL;
        }
        Py_DECREF(val);
    }
    return env;
}

void gowsgi_environ_template_store(gowsgi_interp *it, const gowsgi_request *req, PyObject *env,
                                   const unsigned char *kinds, PyObject *const *keys)
{
    int n = req->nenv;
    size_t text = 0;
    for (int i = 0; i < n; i++)
        text += strlen(req->env_keys[i]) + strlen(req->env_vals[i]) + 2;
    size_t arrays = (size_t)n * (2 * sizeof(char *) + sizeof(PyObject *));
    struct gowsgi_environ_template *t = PyMem_RawCalloc(1, sizeof(*t));
    char *block = PyMem_RawMalloc(arrays + (size_t)n + text + 1);
    PyObject *dict = t && block ? PyDict_Copy(env) : NULL;
    if (dict == NULL) {
        PyErr_Clear();
        PyMem_RawFree(block);
        PyMem_RawFree(t);
        return;
    }
    t->n = n;
    t->block = block;
    t->dict = dict;
    t->names = (const char **)block;
    t->values = t->names + n;
    t->keys = (PyObject **)(t->values + n);
    t->kinds = (unsigned char *)(t->keys + n);
    char *p = (char *)(t->kinds + n);
    for (int i = 0; i < n; i++) {
        size_t kl = strlen(req->env_keys[i]) + 1, vl = strlen(req->env_vals[i]) + 1;
        t->names[i] = memcpy(p, req->env_keys[i], kl);
        p += kl;
        t->values[i] = memcpy(p, req->env_vals[i], vl);
        p += vl;
        t->kinds[i] = kinds[i];
        t->keys[i] = keys[i];
        Py_XINCREF(keys[i]);
    }
    struct gowsgi_environ_template **slot = slot_for(it, n);
    template_free(*slot);
    *slot = t;
}
