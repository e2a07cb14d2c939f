/*
 * daemon_launch.h: how a daemon process is handed to the launcher
 * (wsgi/launcher/, installed as gowsgi-daemon beside mod_gowsgi.so): the
 * forked process (cshim/daemon_launch.c) takes the group's identity, then
 * execs the launcher, so that nothing of Apache's configuration, of any
 * other group or vhost, stays in its memory (ARCHITECTURE.md section 7).
 * The launcher gets only these descriptors, at these numbers, and its
 * settings as records read from GOWSGI_LAUNCH_FD_SETTINGS (never argv or
 * the environment, which other users can read in /proc).
 */
#ifndef GOWSGI_DAEMON_LAUNCH_H
#define GOWSGI_DAEMON_LAUNCH_H

/* 0 and 1 are /dev/null; 2 is the group's vhost error log. */
#define GOWSGI_LAUNCH_FD_LOG 2
#define GOWSGI_LAUNCH_FD_SETTINGS 3   /* a sealed memfd of records, read once then closed */
#define GOWSGI_LAUNCH_FD_CHANNEL 4    /* the receive end of the group's channel */
#define GOWSGI_LAUNCH_FD_SHARED 5     /* the group's shared records (a memfd) */
#define GOWSGI_LAUNCH_FD_FIRST_FREE 6 /* every descriptor from here is closed */

/* stack-size= in bytes, in the environment as well as the settings: the
 * launcher with the engine linked in needs it before its Go runtime starts
 * threads, which is before it can read its settings. The launcher removes
 * it from the environment before Python starts. */
#define GOWSGI_LAUNCH_STACK_SIZE_ENV "GOWSGI_DAEMON_STACK_SIZE"

/* The settings: records "key\0value\0", in any order; a key that can
 * repeat ("warning", "import") adds to a list, and "import.*" keys apply
 * to the last "import". An absent string is NULL, an absent number 0.
 * Numbers are decimal, the secret hex. The format is this build's own:
 * the shim and the launcher are installed together. */
#define GOWSGI_LAUNCH_MAGIC_(abi) "gowsgi-launch-" #abi
#define GOWSGI_LAUNCH_MAGIC_ABI(abi) GOWSGI_LAUNCH_MAGIC_(abi)
#define GOWSGI_LAUNCH_MAGIC GOWSGI_LAUNCH_MAGIC_ABI(GOWSGI_ABI_VERSION)
#define GOWSGI_LAUNCH_MAX_SIZE (1u << 20)

/* The fields of gowsgi_daemon_init that travel as they are, one list for
 * the encoder and the decoder (a field added to gowsgi_daemon_init that
 * the daemon needs goes here, or, for a pointer into the group's shared
 * region, into the launcher's own fix-up by offset). Function pointers
 * (base.log, base.scoreboard) do not travel: the launcher sets its own. */
#define GOWSGI_LAUNCH_INTS(X)                                                                                   \
    X(base.abi_version) X(base.embedded) X(base.optimize) X(base.dont_write_bytecode) X(base.restrict_stdin)  \
    X(base.restrict_stdout) X(base.restrict_signal) X(base.case_sensitivity) X(base.verbose_debugging)        \
    X(base.max_threads) X(base.multithread) X(base.multiprocess) X(base.run_once) X(base.max_processes)       \
    X(base.apache_max_threads) X(base.apache_max_processes) X(base.apache_version[0])                         \
    X(base.apache_version[1]) X(base.apache_version[2]) X(base.destroy_interpreter) X(base.python_modwsgi6) X(base.locale_set) X(process_index)          \
    X(threads) X(parent_pid) X(parent_sid) X(peer_uid) X(maximum_requests) X(shutdown_timeout)                \
    X(socket_timeout) X(restart_interval) X(inactivity_timeout) X(request_timeout) X(queue_timeout)           \
    X(graceful_timeout) X(eviction_timeout) X(cpu_time_limit) X(deadlock_timeout) X(startup_timeout)          \
    X(send_buffer_size) X(receive_buffer_size) X(log.syslog_facility) X(log.level) X(log.threaded)      \
    X(base.free_threading) X(base.per_interpreter_gil) X(interrupt_timeout)                                  \
    X(base.telemetry_interval_ms) X(base.telemetry_options)

#define GOWSGI_LAUNCH_STRINGS(X)                                                                                \
    X(base.python_home) X(base.python_executable) X(base.python_path) X(base.hash_seed) X(base.process_group)       \
    X(base.path_first) X(base.mpm_name) X(base.server_description) X(base.server_built) X(group)              \
    X(log.ident) X(log.module) X(base.switch_interval) X(base.slow_requests)    \
    X(base.telemetry_target) X(base.python_path_layers)

/* What only the launcher needs (it does these itself, after exec). */
#define GOWSGI_LAUNCH_LIBPYTHON "libpython"       /* dlopened RTLD_GLOBAL first */
#define GOWSGI_LAUNCH_ENGINE "engine"             /* libgowsgi.so */
#define GOWSGI_LAUNCH_SHARED_SIZE "shared_size"   /* bytes of the shared memfd */
#define GOWSGI_LAUNCH_TITLE "title"               /* display-name=, or absent */
#define GOWSGI_LAUNCH_LOCALE "locale"
#define GOWSGI_LAUNCH_STACK_SIZE "stack_size"
#define GOWSGI_LAUNCH_BACKOFF "backoff"           /* seconds to wait first (the last one died starting) */
#define GOWSGI_LAUNCH_SECRET "secret"
/* The process that forked it: Apache's parent, or the on-demand starter
 * (cshim/daemon_starter.c), whose death ends it (PR_SET_PDEATHSIG). */
#define GOWSGI_LAUNCH_SPAWNER "spawner"
/* Where, in the shared memfd, the process's own records are: byte offsets
 * (the layout is the shim's, cshim/daemon.h), so the launcher needs none
 * of Apache's headers. */
#define GOWSGI_LAUNCH_AT_EXIT_REASON "at.exit_reason"
#define GOWSGI_LAUNCH_EXIT_REASON_SIZE "exit_reason_size"
#define GOWSGI_LAUNCH_AT_EXITING "at.exiting"
#define GOWSGI_LAUNCH_AT_RELOAD_TOKEN "at.reload_token"
#define GOWSGI_LAUNCH_AT_READY "at.ready"
#define GOWSGI_LAUNCH_AT_IDLE "at.idle"
#define GOWSGI_LAUNCH_AT_CRASHED "at.crashed"       /* the crash report's signal number */
#define GOWSGI_LAUNCH_AT_TICKETS "at.tickets"       /* the group's ticket table (daemon_ticket.h) */
#define GOWSGI_LAUNCH_NTICKETS "ntickets"
#define GOWSGI_LAUNCH_WARNING "warning"
#define GOWSGI_LAUNCH_GIL_EXCEPTION "gil_exception"   /* base.gil_exceptions, one each */
/* base.interp_overrides, one each: the application group, then its fields. */
#define GOWSGI_LAUNCH_OVERRIDE "interp_override"
#define GOWSGI_LAUNCH_OVERRIDE_LAYERS "interp_override.python_path_layers"
#define GOWSGI_LAUNCH_OVERRIDE_STDIN "interp_override.restrict_stdin"
#define GOWSGI_LAUNCH_OVERRIDE_STDOUT "interp_override.restrict_stdout"
#define GOWSGI_LAUNCH_OVERRIDE_SIGNAL "interp_override.restrict_signal"
#define GOWSGI_LAUNCH_OVERRIDE_SWITCH "interp_override.switch_interval"
#define GOWSGI_LAUNCH_IMPORT "import"             /* script; then: */
#define GOWSGI_LAUNCH_IMPORT_APP "import.application_group"
#define GOWSGI_LAUNCH_IMPORT_CALLABLE "import.callable_object"
#define GOWSGI_LAUNCH_IMPORT_WHERE "import.where"

#endif
