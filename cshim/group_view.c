/*
 * group_view.c: a point-in-time view of the server's process groups
 * (group_view.h).
 */
#include "group_view.h"

#include <fcntl.h>
#include <unistd.h>

#include "scoreboard.h"

/* A small /proc file, NUL-terminated; 0 when it cannot be read. */
static int read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return 1;
}

/* Seconds since the epoch at boot: /proc's start times count from it. */
static double boot_time(void)
{
    static double boot;
    char buf[4096];
    if (boot > 0 || !read_small("/proc/stat", buf, sizeof(buf)))
        return boot;
    const char *b = strstr(buf, "\nbtime ");
    if (b != NULL)
        boot = strtod(b + 7, NULL);
    return boot;
}

int gowsgi_proc_stat(pid_t pid, gowsgi_proc_view *v)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!read_small(path, buf, sizeof(buf)))
        return 0;
    /* After the command's closing parenthesis (a command may hold spaces):
     * state is field 3, utime 14, stime 15, starttime 22, rss 24. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    unsigned long utime = 0, stime = 0;
    unsigned long long start = 0;
    long rsspages = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %llu %*u %ld",
               &utime, &stime, &start, &rsspages) != 4)
        return 0;
    double tick = (double)sysconf(_SC_CLK_TCK);
    v->pid = pid;
    v->cpu_seconds = (double)(utime + stime) / tick;
    v->rss_bytes = (double)rsspages * (double)sysconf(_SC_PAGESIZE);
    v->started = boot_time() + (double)start / tick;
    return 1;
}

static void apache_children(gowsgi_group_view *v)
{
    int server_limit = ap_scoreboard_image->global->server_limit;
    int thread_limit = ap_scoreboard_image->global->thread_limit;
    for (int i = 0; i < server_limit; i++) {
        process_score *ps = ap_get_scoreboard_process(i);
        if (ps->pid == 0)
            continue;
        gowsgi_proc_view pv = {0};
        pv.state = ps->quiescing ? GOWSGI_PROC_EXITING : GOWSGI_PROC_READY;
        v->processes[pv.state]++;
        for (int t = 0; t < thread_limit; t++) {
            worker_score *ws = ap_get_scoreboard_worker_from_indexes(i, t);
            if (ws->status == SERVER_DEAD || ws->status == SERVER_GRACEFUL)
                continue;
            if (ws->status == SERVER_READY)
                v->idle++;
            else
                v->busy++;
        }
        if (gowsgi_proc_stat(ps->pid, &pv))
            *(gowsgi_proc_view *)apr_array_push(v->procs) = pv;
    }
}

static void daemon_group(gowsgi_group_view *v)
{
    const gowsgi_daemon_rt *rt = v->rt;
    int ready_idle = 0;
    for (int i = 0; i < rt->conf->processes; i++) {
        const gowsgi_daemon_slot *slot = &rt->shared->slots[i];
        gowsgi_proc_view pv = {0};
        pid_t pid = __atomic_load_n(&slot->pid, __ATOMIC_ACQUIRE);
        if (pid <= 0 || !gowsgi_proc_stat(pid, &pv))
            continue;              /* none yet, or gone */
        if (__atomic_load_n(&slot->exiting, __ATOMIC_ACQUIRE))
            pv.state = GOWSGI_PROC_EXITING;
        else if (__atomic_load_n(&slot->ready, __ATOMIC_ACQUIRE)) {
            pv.state = GOWSGI_PROC_READY;
            ready_idle += __atomic_load_n(&slot->idle, __ATOMIC_ACQUIRE);
        } else
            pv.state = GOWSGI_PROC_STARTING;
        v->processes[pv.state]++;
        *(gowsgi_proc_view *)apr_array_push(v->procs) = pv;
    }
    /* Busy: the group's requests an app thread has begun (their tickets,
     * daemon_ticket.h, say BEGUN until the request ends). */
    for (unsigned int i = 0; i < rt->ntickets; i++)
        v->busy += (__atomic_load_n(&rt->tickets[i].word, __ATOMIC_ACQUIRE) & 3) == GOWSGI_TICKET_BEGUN;
    v->idle = ready_idle;
    int not_started = v->processes[GOWSGI_PROC_READY] * rt->conf->threads - v->busy - v->idle;
    v->not_started = not_started > 0 ? not_started : 0;
}

apr_array_header_t *gowsgi_group_views(apr_pool_t *p)
{
    int nrts = gowsgi_daemon_rts != NULL ? gowsgi_daemon_nrts : 0;
    apr_array_header_t *views = apr_array_make(p, nrts + 1, sizeof(gowsgi_group_view));
    gowsgi_group_view *v = apr_array_push(views);
    memset(v, 0, sizeof(*v));
    v->name = "";
    v->procs = apr_array_make(p, 8, sizeof(gowsgi_proc_view));
    if (ap_scoreboard_image != NULL)
        apache_children(v);
    for (int g = 0; g < nrts; g++) {
        v = apr_array_push(views);
        memset(v, 0, sizeof(*v));
        v->rt = &gowsgi_daemon_rts[g];
        v->name = v->rt->conf->name;
        v->procs = apr_array_make(p, v->rt->conf->processes, sizeof(gowsgi_proc_view));
        daemon_group(v);
    }
    return views;
}
