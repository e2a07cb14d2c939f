/*
 * group_view.h: this server's process groups as the read-only pages show
 * them (gowsgi-metrics, and the status pages to come): for Apache's
 * children (embedded mode, group "") and each daemon group of this
 * generation, its processes by state with their CPU time and memory, and
 * its threads busy and idle. Read in an Apache child from the scoreboard,
 * the groups' shared records and /proc; nothing is written.
 */
#ifndef GOWSGI_GROUP_VIEW_H
#define GOWSGI_GROUP_VIEW_H

#include "daemon.h"

enum { GOWSGI_PROC_STARTING, GOWSGI_PROC_READY, GOWSGI_PROC_EXITING, GOWSGI_PROC_STATES };

typedef struct gowsgi_proc_view {
    pid_t pid;
    int state;                     /* GOWSGI_PROC_* */
    double cpu_seconds;            /* user + system */
    double rss_bytes;
    double started;                /* seconds since the epoch */
} gowsgi_proc_view;

typedef struct gowsgi_group_view {
    const char *name;              /* "": Apache's children, embedded mode */
    const gowsgi_daemon_rt *rt;    /* NULL: Apache's children */
    int processes[GOWSGI_PROC_STATES];
    int busy, idle, not_started;   /* threads (not_started: a daemon group's lazy pool) */
    apr_array_header_t *procs;     /* gowsgi_proc_view, the processes still alive */
} gowsgi_group_view;

/* [0]: Apache's children; then each daemon group of this generation, in
 * gowsgi_daemon_rts order. */
apr_array_header_t *gowsgi_group_views(apr_pool_t *p);

/* CPU time, resident memory and start time of pid, from /proc/pid/stat
 * (world-readable); 0 when it is gone. */
int gowsgi_proc_stat(pid_t pid, gowsgi_proc_view *v);

/* status_section.c: the gowsgi section of mod_status's page (registered
 * from register_hooks; it runs only where mod_status is loaded). */
void gowsgi_status_section_register(void);

#endif
