/*
 * engine_builtin.c: how gowsgi-daemon-X.Y "loads" Python and the engine:
 * both are linked into it (the engine as a Go c-archive, the server's
 * libpython from its static archive), into an executable that is not
 * position-independent. Nothing is relocated when it starts, so the pages
 * of Go's type data and of libpython's data that only relocations would
 * write stay file-backed and shared by every daemon process on the server
 * (docs/benchmarks.md, "Memory per tenant"). The shim runs it only for a
 * group whose Python is the server's (cshim/daemon_launch.c).
 */
#include "launcher.h"
#include "crash_report.h"
#include "daemon_launch.h"

#include <dlfcn.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From the engine archive (module/main.go). */
extern int gowsgi_daemon_main(gowsgi_daemon_init *init);

/* Go's runtime starts from a constructor of its own, before main: the
 * crash handlers must be there first, so that Go forwards faults in C to
 * them (crash_report.h). Priority constructors run before unnumbered ones. */
__attribute__((constructor(101))) static void crash_handlers_before_go(void)
{
    gowsgi_crash_report_handlers();
    /* stack-size=, for the threads Go starts from then on, its first ones
     * included (main.c sets it again once it has its settings, and takes
     * the variable out of the environment). */
    const char *size = getenv(GOWSGI_LAUNCH_STACK_SIZE_ENV);
    long bytes = size != NULL ? strtol(size, NULL, 10) : 0;
    pthread_attr_t attr;
    if (bytes > 0 && pthread_attr_init(&attr) == 0) {
        if (pthread_attr_setstacksize(&attr, (size_t)bytes) == 0)
            pthread_setattr_default_np(&attr);
        pthread_attr_destroy(&attr);
    }
}

int launcher_load_python(const launch_settings *s, char *what, size_t size)
{
    (void)s;
    (void)what;
    (void)size;
    return 1;   /* linked in; exported (--export-dynamic) for lib-dynload's extensions */
}

gowsgi_daemon_main_fn launcher_load_engine(const launch_settings *s, char *what, size_t size)
{
    /* The shim hands this program only the server's engine; anything else
     * is a mismatch between the shim and what is installed. */
    char engine[4096];
    snprintf(engine, sizeof(engine), "%s", s->engine != NULL ? s->engine : "");
    if (strcmp(basename(engine), "libgowsgi.so") != 0) {
        snprintf(what, size, "this launcher has the server's Python built in, not the engine %s asks for",
                 s->engine != NULL ? s->engine : "(none)");
        return NULL;
    }
    /* The program itself: the crash report finds the engine's functions
     * among its exported symbols. */
    void *self = dlopen(NULL, RTLD_NOW);
    if (self != NULL)
        gowsgi_crash_report_engine(self);
    return (gowsgi_daemon_main_fn)gowsgi_daemon_main;
}
