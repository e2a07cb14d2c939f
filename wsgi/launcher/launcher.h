/*
 * launcher.h: gowsgi-daemon, the program a daemon process execs once it is
 * its group's user (cshim/daemon_launch.c; ARCHITECTURE.md section 7). It
 * starts from a fresh image holding nothing of Apache's: it reads its own
 * group's settings from the descriptor it was handed, maps the group's
 * shared records, then loads libpython and libgowsgi.so and runs the
 * daemon as a forked process did before (gowsgi_daemon_main).
 */
#ifndef GOWSGI_LAUNCHER_H
#define GOWSGI_LAUNCHER_H

#include "gowsgi.h"

#include <stddef.h>

/* What the launcher reads from its settings descriptor. */
typedef struct launch_settings {
    gowsgi_daemon_init init;         /* without the pointers into shared memory */
    unsigned char secret[GOWSGI_DAEMON_SECRET_SIZE];
    const char *libpython;
    const char *engine;
    size_t shared_size;
    const char *title;               /* display-name=, or NULL */
    const char *locale;
    long stack_size;
    int backoff;                     /* seconds to wait before starting */
    int spawner;                     /* the pid that forked it; 0: parent_pid */
    /* Offsets of the process's records in the shared memfd; -1: absent. */
    long at_exit_reason, at_exiting, at_reload_token, at_ready, at_idle, at_crashed, at_tickets;
    size_t exit_reason_size;
    unsigned int ntickets;
} launch_settings;

/* settings.c: decodes the records in buf (which the strings then point
 * into); NULL, or what is wrong with them (nothing is left allocated). */
const char *launch_settings_decode(char *buf, size_t len, launch_settings *s);
/* Frees what a successful decode allocated (the fuzz target's; the daemon
 * keeps its settings for life). */
void launch_settings_free(launch_settings *s);

/* Loading Python and the engine: engine_dlopen.c for gowsgi-daemon, which
 * loads the group's libpython and engine build, or engine_builtin.c for
 * gowsgi-daemon-X.Y, which has the server's linked in. Each returns 0 (or
 * NULL) with what went wrong in what. The engine is loaded after the crash
 * report is installed and before it is told about the engine; it is
 * left to launcher_load_engine to tell it (gowsgi_crash_report_engine). */
int launcher_load_python(const launch_settings *s, char *what, size_t size);
gowsgi_daemon_main_fn launcher_load_engine(const launch_settings *s, char *what, size_t size);

#endif
