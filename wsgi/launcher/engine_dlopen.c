/*
 * engine_dlopen.c: how gowsgi-daemon loads Python and the engine: the
 * group's libpython (RTLD_GLOBAL, for lib-dynload's extensions) and the
 * engine build for that Python (libgowsgi.so or libgowsgi-X.Y.so), by the
 * paths its settings give. Any Python the shim found an engine build for.
 */
#include "launcher.h"
#include "crash_report.h"

#include <dlfcn.h>
#include <stdio.h>

int launcher_load_python(const launch_settings *s, char *what, size_t size)
{
    if (dlopen(s->libpython, RTLD_NOW | RTLD_GLOBAL) != NULL)
        return 1;
    snprintf(what, size, "cannot load %s: %s", s->libpython, dlerror());
    return 0;
}

gowsgi_daemon_main_fn launcher_load_engine(const launch_settings *s, char *what, size_t size)
{
    /* Its constructor starts Go's runtime, which puts its own handlers in
     * front of the crash report's and forwards faults in C to them. */
    void *engine = dlopen(s->engine, RTLD_NOW | RTLD_LOCAL);
    if (engine == NULL) {
        snprintf(what, size, "cannot load %s: %s", s->engine, dlerror());
        return NULL;
    }
    gowsgi_crash_report_engine(engine);
    gowsgi_daemon_main_fn daemon_main = (gowsgi_daemon_main_fn)dlsym(engine, "gowsgi_daemon_main");
    if (daemon_main == NULL)
        snprintf(what, size, "%s is not a gowsgi engine (no gowsgi_daemon_main)", s->engine);
    return daemon_main;
}
