/*
 * group_python.h: the CPython a daemon group runs (group_python.c).
 */
#ifndef GOWSGI_GROUP_PYTHON_H
#define GOWSGI_GROUP_PYTHON_H

#include "apr_pools.h"

typedef struct gowsgi_python {
    const char *tag;          /* "3.12", "3.13t": the engine build's name */
    const char *executable;   /* the base interpreter (sys.prefix comes from it); NULL: the build's */
    const char *libpython;    /* dlopened first: a path, or the server's soname */
    const char *engine;       /* libgowsgi-X.Y.so; NULL: the server's engine */
} gowsgi_python;

/* Resolves the Python of a group with this python-home= (or
 * WSGIPythonHome) and python-executable=, either NULL, whose other engine
 * builds would be in engine_dir: NULL, or why it cannot run. Errors name
 * the home as home_label does ("python-home=", "WSGIPythonHome "). Reads
 * the files as the calling process's user may. */
const char *gowsgi_python_resolve(apr_pool_t *p, const char *home_label, const char *python_home,
                                  const char *python_executable, const char *engine_dir, gowsgi_python *out);

/* Whether py is the server's own CPython (its libpython, its engine). */
int gowsgi_python_is_servers(const gowsgi_python *py);

#endif
