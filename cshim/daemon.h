/*
 * daemon.h: daemon mode in the shim. The parent forks and watches each
 * group's processes (daemon_process.c); a forked process becomes the group's
 * user and loads the engine (daemon_child.c); an Apache child forwards a
 * request to the group (daemon_forward.c). The group's settings come from
 * its WSGIDaemonProcess options (daemon_settings.c).
 */
#ifndef GOWSGI_DAEMON_H
#define GOWSGI_DAEMON_H

#include "shim.h"
#include "daemon_channel.h"
#include "daemon_ticket.h"
#include "daemon_wire.h"
#include "group_python.h"

#include "apr_thread_proc.h"

typedef struct gowsgi_daemon_rt gowsgi_daemon_rt;

/* What is known of a process that went away, kept in memory shared by the
 * parent, the daemons and Apache's children, so that the child that lost a
 * request can say why (ARCHITECTURE.md section 5, "failures have causes"). */
/* Room for a daemon's word on why it went: a crash's says where, and the
 * crashing thread's Python stack. */
#define GOWSGI_DAEMON_REASON 768

typedef struct gowsgi_daemon_death {
    int pid;
    apr_time_t when;               /* when the parent noticed */
    int signal;                    /* killed by this signal; 0: it exited */
    long memory_limit;             /* the group's memory-limit (or virtual-), for the cause */
    int exit_code;
    int crashed;                   /* it crashed (signal): reason says how (crash_report.h) */
    char reason[GOWSGI_DAEMON_REASON];   /* the daemon's own word on why it exited, or crashed */
} gowsgi_daemon_death;

/* A process slot's shared record: the daemon writes why it exits before it
 * does; the parent records each death. */
typedef struct gowsgi_daemon_slot {
    int pid;
    int ready;                     /* the daemon takes requests (Python is up) */
    int exiting;                   /* the daemon is exiting on its own */
    int idle;                      /* its worker threads waiting for a request now */
    int crashed;                   /* the signal it crashed of: reason says how (crash_report.h) */
    /* Set by a child that found this process not answering (stopped, or
     * too slow to begin a request): until then, children leave their kept
     * connections to it alone rather than each waiting a tick on it. */
    apr_time_t quiet_until;
    int cause;                     /* gowsgi_exit_cause of its last exit, set when it is reaped */
    char reason[GOWSGI_DAEMON_REASON];
    /* Requests this process answered, counted by Apache's children as each
     * response ends (daemon_relay.c; the daemon never writes it), for the
     * status page; zeroed when the slot's next process is forked. */
    apr_uint64_t requests;
} gowsgi_daemon_slot;

/* Why a process of the group last went, as its reaper classified it. */
typedef enum gowsgi_exit_cause {
    GOWSGI_EXIT_NONE = 0,
    GOWSGI_EXIT_IDLE,              /* inactivity-timeout: an on-demand group sleeps */
    GOWSGI_EXIT_OWN,               /* its own other reason (maximum-requests, restart-interval, ...) */
    GOWSGI_EXIT_CRASH,             /* a signal, or died while starting */
} gowsgi_exit_cause;

#define GOWSGI_DAEMON_DEATHS 16
typedef struct gowsgi_daemon_shared {
    int reload_token;              /* see gowsgi_daemon_init.reload_token */
    /* On-demand groups (daemon_starter.c), for status pages to read. */
    int asleep;                    /* no process: the next request starts one */
    unsigned int cold_starts;      /* how often a request woke it */
    long long last_cold_start_usec;   /* from the wake to a ready process */
    int start_failed;              /* its last process died before it was ready */
    /* Its generation's last process has gone after a graceful restart and
     * none will start again: the Apache children of that generation answer
     * a request for the group 503 at once (daemon_forward.c). */
    int generation_ended;
    unsigned int next_death;
    gowsgi_daemon_death deaths[GOWSGI_DAEMON_DEATHS];
    gowsgi_daemon_slot slots[];    /* one per process of the group */
} gowsgi_daemon_shared;

/* One process slot of a group. */
typedef struct gowsgi_daemon_proc {
    gowsgi_daemon_rt *rt;
    int index;
    apr_proc_t proc;
    int running;
    int stopping;                  /* told to stop: not restarted */
    int backoff;                   /* the last one died at start-up: wait before starting */
    apr_time_t started;
    apr_pool_t *pool;              /* this slot's registration (cleared at each respawn) */
} gowsgi_daemon_proc;

/* A group in this configuration generation, with its options resolved. */
struct gowsgi_daemon_rt {
    const gowsgi_daemon *conf;
    int index;
    int on_demand;                 /* start=on-demand (or WSGIDaemonStart): the starter runs it */
    int channel[2];                /* [0] send end (children), [1] receive end (daemons) */
    unsigned char secret[GOWSGI_DAEMON_SECRET_SIZE];
    gowsgi_daemon_proc *procs;     /* conf->processes */
    gowsgi_daemon_shared *shared;  /* MAP_SHARED: parent, daemons and children */
    size_t shared_size;
    gowsgi_ticket *tickets;        /* in the same mapping, after the slots */
    unsigned int ntickets;
    int shared_fd;                 /* the memfd behind shared: a launched daemon maps it again */
    const char *launcher;          /* gowsgi-daemon to exec, or NULL: the fork runs the engine */
    const char *builtin_launcher;  /* gowsgi-daemon-X.Y, for the server's Python; NULL: launcher */

    uid_t uid;
    gid_t gid;
    const char *user_name;         /* for initgroups, HOME, USER, LOGNAME */
    gid_t *groups;                 /* supplementary-groups=, or NULL: initgroups */
    int ngroups;
    const char *home;
    int umask;                     /* -1: inherited */
    const char *lang;
    const char *locale;
    const char *python_home;
    gowsgi_python python;          /* the CPython it runs: set in its processes (daemon_child.c) */
    const char *python_path;
    const char *python_eggs;
    const char *display_name;      /* NULL: Apache's own title */
    long stack_size;
    int maximum_requests;
    int restart_interval;
    int inactivity_timeout;
    int request_timeout;
    int interrupt_timeout;         /* mod_wsgi 6's interrupt-timeout= */
    const char *switch_interval;   /* switch-interval=, else WSGISwitchInterval; NULL: Python's */
    int queue_timeout;
    int eviction_timeout;
    int deadlock_timeout;
    int startup_timeout;
    int send_buffer_size;
    int receive_buffer_size;
    int response_buffer_size;
    int response_socket_timeout;
    int shutdown_timeout;
    int graceful_timeout;          /* draining after a graceful restart */
    int connect_timeout;
    int socket_timeout;
    int header_buffer_size;
    int cpu_time_limit;
    int cpu_priority;
    long memory_limit;
    long virtual_memory_limit;
    int run_once;
    gowsgi_daemon_log log;         /* its vhost's error log (daemon_log_target.c) */
};

extern gowsgi_daemon_rt *gowsgi_daemon_rts;
/* Set in a daemon process: the parent's cleanups it inherited do nothing. */
extern int gowsgi_in_daemon;
extern int gowsgi_daemon_nrts;
/* Apache's parent and its session: a daemon's peers are its children,
 * whichever process forked the daemon. */
extern int gowsgi_daemon_apache_pid;
extern int gowsgi_daemon_apache_sid;

/* daemon_process.c */
int gowsgi_daemons_start(apr_pool_t *pconf, server_rec *s);
void gowsgi_daemons_child_init(void);
/* Apache's monitor hook (the parent, every few seconds): deadlines of
 * draining processes, and slots whose fork failed. */
int gowsgi_daemons_monitor(apr_pool_t *p, server_rec *s);
/* The parent, when an Apache child has exited (even by SIGKILL mid-request):
 * the tickets (daemon_ticket.h) it held in every group are free again. */
void gowsgi_daemon_tickets_reclaim(server_rec *s, pid_t pid);
const gowsgi_daemon_rt *gowsgi_daemon_runtime(const gowsgi_daemon *conf);

/* daemon_process.c, shared with the starter: forks process dp of its group
 * (0, or -1 when the fork failed, said); why a process went, from its slot
 * (before it is reaped); and records and logs how it ended (the cause is
 * also left in its slot). */
int gowsgi_daemon_spawn_fork(gowsgi_daemon_proc *dp);
gowsgi_exit_cause gowsgi_daemon_exit_cause(const gowsgi_daemon_slot *slot);
gowsgi_exit_cause gowsgi_daemon_died(gowsgi_daemon_proc *dp, int status, int restart);

/* daemon_starter.c: the on-demand starter of this generation (forked in
 * post_config when a group is on-demand); the wake an Apache child sends
 * for a group with no process ready; what an Apache child and a daemon
 * close of it; and the parent's side at the end of a generation (graceful:
 * it drains; else it stops): its pid or 0, and how long it may take. */
int gowsgi_starter_start(apr_pool_t *pconf, server_rec *s);
void gowsgi_starter_wake(const gowsgi_daemon_rt *rt);
void gowsgi_starter_child_init(void);
void gowsgi_starter_close(void);
pid_t gowsgi_starter_end(int graceful);
int gowsgi_starter_timeout(int graceful);
/* daemon_process.c: Apache stops or restarts hard (not a graceful restart). */
void gowsgi_daemons_hard_stop(void);

/* daemon_settings.c: resolves a group's options (an error message or NULL),
 * and fills the engine's start-up settings for one of its processes. */
const char *gowsgi_daemon_settings(apr_pool_t *p, gowsgi_daemon_rt *rt);
void gowsgi_daemon_engine_settings(apr_pool_t *p, const gowsgi_daemon_rt *rt, gowsgi_daemon_init *init);

/* daemon_log_target.c: the error log the group's processes write to. */
void gowsgi_daemon_log_target(apr_pool_t *p, gowsgi_daemon_rt *rt);

/* daemon_launch.c: the launcher beside mod_gowsgi.so (NULL if unknown);
 * and the exec of it by a forked process that has taken the group's
 * identity: returns only on failure, with its cause (*moved is set once
 * Apache's log descriptors may be gone: log to stderr then). */
const char *gowsgi_daemon_launcher(apr_pool_t *p);
/* The launcher with the server's Python and engine linked in
 * (gowsgi-daemon-X.Y, beside launcher), once per start: NULL if it is not
 * installed, or if the server's libpython changed since it was built
 * (said once, at a warning in the main error log). */
const char *gowsgi_daemon_builtin_launcher(apr_pool_t *pconf, const char *launcher);
/* Which of the two a process of rt execs, once its Python is resolved:
 * gowsgi-daemon-X.Y for the server's Python and engine, else the launcher. */
const char *gowsgi_daemon_launcher_for(apr_pool_t *p, const gowsgi_daemon_rt *rt);
const char *gowsgi_daemon_exec(apr_pool_t *p, gowsgi_daemon_rt *rt, const gowsgi_daemon_init *init,
                               const char *launcher, int backoff, int *moved);

/* daemon_child.c: the forked process; never returns. */
void gowsgi_daemon_child_main(gowsgi_daemon_rt *rt, int index) __attribute__((noreturn));

/* crash_setup.c: installs the crash report of process index of the group
 * (after libpython is loaded, before libgowsgi.so is); the report file's
 * descriptor for the engine, or -1. */
int gowsgi_daemon_crash_report(apr_pool_t *p, gowsgi_daemon_rt *rt, int index);

/* daemon_deaths.c: records how the process pid in slot index of the
 * group's records ended (status from waitpid or APR), and says so in text. */
const char *gowsgi_daemon_record_death(gowsgi_daemon_shared *sh, int index, pid_t pid, long memory_limit, int status,
                                       char *text, size_t textlen);
/* How d went away, into text (from a record the caller owns). */
const char *gowsgi_daemon_death_format(const gowsgi_daemon_death *d, char *text, size_t len);
/* Why the group's process pid went away, waiting up to wait_ms for its
 * reaper to notice; NULL if it is not known. */
const char *gowsgi_daemon_death_cause(apr_pool_t *p, const gowsgi_daemon_rt *rt, int pid, int wait_ms);
/* Why a process of the group went away after since, when the connection
 * ended before the daemon said who it was: the latest death noticed within
 * wait_ms, as "process N ...". */
const char *gowsgi_daemon_death_since(apr_pool_t *p, const gowsgi_daemon_rt *rt, apr_time_t since, int wait_ms);

/* daemon_script_owner.c: script-user= / script-group=: OK, or 403 (logged). */
int gowsgi_daemon_check_script(request_rec *r, const gowsgi_daemon_rt *rt);

/* daemon_process.c: whether a process of the group takes requests now. */
int gowsgi_daemon_group_ready(const gowsgi_daemon_rt *rt);
/* daemon_ready_wait.c: waits up to msec for a process of the group that is
 * starting to be ready (woken the moment it is), or sleeps msec if none is. */
void gowsgi_daemon_wait_ready(const gowsgi_daemon_rt *rt, int msec);
/* daemon_deaths.c: what is known of why the group has no process up: a
 * process's own word on why it cannot start, else the last death; NULL if
 * nothing. */
const char *gowsgi_daemon_group_trouble(apr_pool_t *p, const gowsgi_daemon_rt *rt);

/* daemon_forward.c: serves the request through the group; an HTTP status. */
int gowsgi_daemon_forward(request_rec *r, const gowsgi_daemon *daemon, gowsgi_request *req, int error_override,
                          int ignore_activity);

#endif
