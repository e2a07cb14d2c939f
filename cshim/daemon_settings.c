/*
 * daemon_settings.c: a WSGIDaemonProcess group's options resolved to what
 * its processes need (ids, directories, limits, timeouts), with mod_wsgi
 * 4.9.4's defaults. The directive parser (daemon_directives.c) has already
 * validated every value; this only interprets them.
 */
#include "daemon.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include "http_core.h"
#include "mpm_common.h"
#include "unixd.h"
#include "apr_strings.h"

static const char *opt(const gowsgi_daemon_rt *rt, const char *name)
{
    return apr_table_get(rt->conf->options, name);
}

static long opt_long(const gowsgi_daemon_rt *rt, const char *name, long fallback)
{
    const char *v = opt(rt, name);
    return v ? strtol(v, NULL, 10) : fallback;
}

static int lookup_gid(const char *v, gid_t *gid)
{
    if (*v == '#') {
        *gid = (gid_t)strtoul(v + 1, NULL, 10);
        return 1;
    }
    struct group *g = getgrnam(v);
    if (g == NULL)
        return 0;
    *gid = g->gr_gid;
    return 1;
}

const char *gowsgi_daemon_settings(apr_pool_t *p, gowsgi_daemon_rt *rt)
{
    const char *v;

    /* Identity: Apache's User and Group unless the group names its own. */
    rt->uid = ap_unixd_config.user_id;
    rt->gid = ap_unixd_config.group_id;
    rt->user_name = ap_unixd_config.user_name;
    if ((v = opt(rt, "user")) != NULL) {
        struct passwd *pw = *v == '#' ? getpwuid((uid_t)strtoul(v + 1, NULL, 10)) : getpwnam(v);
        if (pw == NULL)
            return apr_psprintf(p, "user %s does not exist", v);
        rt->uid = pw->pw_uid;
        rt->user_name = apr_pstrdup(p, pw->pw_name);
    }
    if (rt->uid == 0)
        return "WSGI process blocked from running as root.";
    if ((v = opt(rt, "group")) != NULL && !lookup_gid(v, &rt->gid))
        return apr_psprintf(p, "group %s does not exist", v);
    if ((v = opt(rt, "supplementary-groups")) != NULL) {
        char *list = apr_pstrdup(p, v), *state = NULL;
        rt->groups = apr_pcalloc(p, sizeof(gid_t) * (strlen(v) + 1));
        for (char *g = apr_strtok(list, ",", &state); g != NULL; g = apr_strtok(NULL, ",", &state)) {
            if (!lookup_gid(g, &rt->groups[rt->ngroups]))
                return apr_psprintf(p, "supplementary group %s does not exist", g);
            rt->ngroups++;
        }
    }

    /* home: given, else the user's home when the group runs as another user
     * than Apache's, else Apache's working directory (mod_wsgi's rule). */
    rt->home = opt(rt, "home");
    if (rt->home == NULL && rt->uid != ap_unixd_config.user_id) {
        struct passwd *pw = getpwuid(rt->uid);
        if (pw != NULL && pw->pw_dir != NULL)
            rt->home = apr_pstrdup(p, pw->pw_dir);
    }
    rt->umask = (v = opt(rt, "umask")) != NULL ? (int)strtol(v, NULL, 8) : -1;
    rt->lang = opt(rt, "lang");
    rt->locale = opt(rt, "locale");
    rt->python_home = (v = opt(rt, "python-home")) != NULL ? v : gowsgi_globals.python_home;
    /* Its Python (rt->python) is resolved by each of its processes once it
     * is the group's user (daemon_child.c): pyvenv.cfg is the tenant's. */
    rt->python_path = opt(rt, "python-path");
    rt->python_eggs = opt(rt, "python-eggs");
    if ((v = opt(rt, "display-name")) != NULL)
        rt->display_name = strcmp(v, "%{GROUP}") == 0 ? apr_pstrcat(p, "(wsgi:", rt->conf->name, ")", NULL) : v;

    rt->stack_size = opt_long(rt, "stack-size", 0);
    rt->maximum_requests = (int)opt_long(rt, "maximum-requests", 0);
    rt->restart_interval = (int)opt_long(rt, "restart-interval", 0);
    /* start=, else WSGIDaemonStart. An on-demand group sleeps after
     * inactivity-timeout, 300 s unless it says. */
    rt->on_demand = (v = opt(rt, "start")) != NULL ? strcmp(v, "on-demand") == 0
                                                    : gowsgi_globals.daemon_start_on_demand;
    rt->inactivity_timeout = (int)opt_long(rt, "inactivity-timeout", rt->on_demand ? 300 : 0);
    rt->request_timeout = (int)opt_long(rt, "request-timeout", 0);
    rt->interrupt_timeout = (int)opt_long(rt, "interrupt-timeout", 0);
    rt->switch_interval = (v = opt(rt, "switch-interval")) != NULL ? v : gowsgi_resolve_switch_interval(rt->conf->name);
    rt->queue_timeout = (int)opt_long(rt, "queue-timeout", 0);
    rt->eviction_timeout = (int)opt_long(rt, "eviction-timeout", 0);
    rt->deadlock_timeout = (int)opt_long(rt, "deadlock-timeout", 300);
    rt->startup_timeout = (int)opt_long(rt, "startup-timeout", 0);
    rt->send_buffer_size = (int)opt_long(rt, "send-buffer-size", 0);
    rt->receive_buffer_size = (int)opt_long(rt, "receive-buffer-size", 0);
    rt->response_buffer_size = (int)opt_long(rt, "response-buffer-size", 0);
    rt->response_socket_timeout = (int)opt_long(rt, "response-socket-timeout", 0);
    rt->shutdown_timeout = (int)opt_long(rt, "shutdown-timeout", 5);
    /* How long old processes may drain after a graceful restart: the
     * group's graceful-timeout, else GracefulShutdownTimeout, else 15. */
    rt->graceful_timeout = (int)opt_long(rt, "graceful-timeout",
                                         ap_graceful_shutdown_timeout > 0 ? ap_graceful_shutdown_timeout : 15);
    rt->connect_timeout = (int)opt_long(rt, "connect-timeout", 15);
    rt->socket_timeout = (int)opt_long(rt, "socket-timeout", (long)apr_time_sec(rt->conf->server->timeout));
    if (rt->socket_timeout <= 0)
        rt->socket_timeout = (int)apr_time_sec(gowsgi_main_server ? gowsgi_main_server->timeout
                                                                  : apr_time_from_sec(60));
    rt->header_buffer_size = (int)opt_long(rt, "header-buffer-size", 32768);
    if (rt->header_buffer_size == 0)
        rt->header_buffer_size = 32768;
    rt->cpu_time_limit = (int)opt_long(rt, "cpu-time-limit", 0);
    rt->cpu_priority = (int)opt_long(rt, "cpu-priority", 0);
    rt->memory_limit = opt_long(rt, "memory-limit", 0);
    rt->virtual_memory_limit = opt_long(rt, "virtual-memory-limit", 0);
    rt->run_once = rt->conf->threads == 1 && rt->maximum_requests == 1;
    gowsgi_daemon_log_target(p, rt);
    return NULL;
}

void gowsgi_daemon_engine_settings(apr_pool_t *p, const gowsgi_daemon_rt *rt, gowsgi_daemon_init *init)
{
    gowsgi_init *base = &init->base;
    /* apache.* keep the MPM's figures; mod_wsgi.* and wsgi.* are the group's. */
    base->apache_max_threads = base->max_threads;
    base->apache_max_processes = base->max_processes;
    base->embedded = 1;
    base->python_home = rt->python_home;
    base->python_executable = rt->python.executable;
    base->python_path = rt->python_path;
    base->python_modwsgi6 = gowsgi_server_modwsgi6(rt->conf->server);
    base->locale_set = 0;   /* Python sets LC_CTYPE as it starts, as in mod_wsgi's daemons */
    base->imports = gowsgi_engine_imports(p, rt->conf->name, &base->nimports);
    base->max_threads = rt->conf->threads > 0 ? rt->conf->threads : 1;
    base->max_processes = rt->conf->processes;
    base->multithread = rt->conf->threads != 1;
    base->multiprocess = rt->conf->processes_given;
    base->run_once = rt->run_once;
    base->process_group = rt->conf->name;
    gowsgi_engine_interp_options(p, rt->conf->name, base);
    /* mod_wsgi puts an explicit home= first on sys.path, as `python script`
     * would the script's directory. */
    base->path_first = opt(rt, "home");
    /* mod_wsgi: in a daemon process only the group's server-metrics= counts. */
    const char *metrics = opt(rt, "server-metrics");
    base->scoreboard = metrics != NULL && strcasecmp(metrics, "On") == 0 ? gowsgi_scoreboard_read : NULL;
    init->group = rt->conf->name;
    init->threads = rt->conf->threads;
    init->channel_fd = rt->channel[1];
    init->secret = rt->secret;
    init->maximum_requests = rt->maximum_requests;
    init->shutdown_timeout = rt->shutdown_timeout;
    init->socket_timeout = rt->socket_timeout;
    init->restart_interval = rt->restart_interval;
    init->inactivity_timeout = rt->inactivity_timeout;
    init->request_timeout = rt->request_timeout;
    init->interrupt_timeout = rt->interrupt_timeout;
    base->switch_interval = rt->switch_interval;
    init->queue_timeout = rt->queue_timeout;
    init->graceful_timeout = rt->graceful_timeout;
    init->eviction_timeout = rt->eviction_timeout;
    init->cpu_time_limit = rt->cpu_time_limit;
    init->deadlock_timeout = rt->deadlock_timeout;
    init->startup_timeout = rt->startup_timeout;
    init->send_buffer_size = rt->send_buffer_size;
    init->receive_buffer_size = rt->receive_buffer_size;
    init->log = rt->log;
}
