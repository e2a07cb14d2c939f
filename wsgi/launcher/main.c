/*
 * main.c: gowsgi-daemon (see launcher.h). Started only by mod_gowsgi, as
 * the group's user, with the descriptors of daemon_launch.h; it prints
 * nothing and does nothing when run any other way.
 */
#include "launcher.h"
#include "daemon_launch.h"
#include "errorlog_line.h"
#include "crash_report.h"
#include "daemon_ticket.h"
#include "daemon_start.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static launch_settings settings;
static char *shared;             /* the group's shared records */
static int *exiting;
static char *reason;             /* the process's slot's reason, once checked */
static size_t reason_size;

/* The parent reads why a process went from its slot: say it, then go. */
static void note_exit(const char *why)
{
    if (reason == NULL)
        return;
    snprintf(reason, reason_size, "%s", why);
    if (exiting != NULL)
        __atomic_store_n(exiting, 1, __ATOMIC_RELEASE);
}

static void log_line(int level, const char *msg, size_t len)
{
    gowsgi_errorlog_write(&settings.init.log, level, NULL, NULL, msg, len);   /* logno: the caller's */
}

static void fail(const char *what, int err) __attribute__((noreturn));
static void fail(const char *what, int err)
{
    char line[1024], why[160];
    int n = snprintf(line, sizeof(line), GOWSGI_SETUP_FAILURE_LINE, settings.init.process_index,
                     settings.init.group ? settings.init.group : "?", (int)getpid(), what, err ? ": " : "",
                     err ? strerror(err) : "", GOWSGI_SETUP_FAILURE_BACKOFF);
    /* logno: the macro's */
    log_line(2 /* crit */, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : strlen(line));
    snprintf(why, sizeof(why), GOWSGI_SETUP_FAILURE_REASON, what, err ? ": " : "", err ? strerror(err) : "");
    note_exit(why);
    sleep(GOWSGI_SETUP_FAILURE_BACKOFF);
    _exit(1);
}

/* Whatever calls exit() while Python starts (a bad python-home) is
 * reported as such. */
static void exit_reported(void)
{
    if (exiting != NULL && !__atomic_load_n(exiting, __ATOMIC_ACQUIRE))
        note_exit("it called exit() while starting");
}

static char *read_settings(size_t *len)
{
    struct stat st;
    if (fstat(GOWSGI_LAUNCH_FD_SETTINGS, &st) != 0 || st.st_size <= 0 ||
        (size_t)st.st_size > GOWSGI_LAUNCH_MAX_SIZE)
        return NULL;
    char *buf = malloc((size_t)st.st_size);
    if (buf == NULL)
        return NULL;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(GOWSGI_LAUNCH_FD_SETTINGS, buf + got, (size_t)st.st_size - got);
        if (n <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    *len = got;
    return buf;
}

/* Whether [at, at + size) lies within the shared records (no overflow). */
static int shared_fits(long at, size_t size)
{
    return at >= 0 && (size_t)at <= settings.shared_size && size <= settings.shared_size - (size_t)at;
}

static int *shared_int(long at)
{
    if (!shared_fits(at, sizeof(int)) || at % (long)sizeof(int) != 0)
        return NULL;
    return (int *)(shared + at);
}

/* Threads started before the name was set (Go's, in gowsgi-daemon-X.Y,
 * from its constructor) took the program's: they get the title too, as
 * every thread made from now on inherits it (top -H, ps -L). Go may start
 * one meanwhile from a thread not yet renamed: the pass is repeated until
 * it finds none to rename. */
static int rename_threads_once(const char *comm, size_t len)
{
    DIR *tasks = opendir("/proc/self/task");
    if (tasks == NULL)
        return 0;
    int renamed = 0;
    struct dirent *e;
    while ((e = readdir(tasks)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[sizeof("/proc/self/task//comm") + sizeof(e->d_name)];
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            continue;
        char now[32];
        ssize_t n = read(fd, now, sizeof(now));
        if (n > 0 && now[n - 1] == '\n')
            n--;
        if (n != (ssize_t)len || memcmp(now, comm, len) != 0) {
            /* Not pwrite: proc's comm has no offset to write at. */
            ssize_t w = lseek(fd, 0, SEEK_SET) == 0 ? write(fd, comm, len) : -1;
            (void)w;
            renamed++;
        }
        close(fd);
    }
    closedir(tasks);
    return renamed;
}

static void name_threads(const char *comm)
{
    size_t len = strnlen(comm, 15);   /* the kernel keeps 15 bytes and a NUL */
    for (int pass = 0; pass < 10 && rename_threads_once(comm, len) > 0; pass++)
        ;
}

int main(int argc, char **argv)
{
    size_t len = 0;
    (void)argc;
    /* Read by engine_builtin.c's constructor, if at all; never Python's. */
    unsetenv(GOWSGI_LAUNCH_STACK_SIZE_ENV);
    /* Not started by mod_gowsgi: the settings descriptor is not a memfd
     * sealed against writes. */
    int seals = fcntl(GOWSGI_LAUNCH_FD_SETTINGS, F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_WRITE)) {
        fprintf(stderr,
                GOWSGI_LOGNO(0121) "gowsgi-daemon: started by mod_gowsgi for a WSGIDaemonProcess group, never by "
                                   "hand\n");
        return 2;
    }
    char *buf = read_settings(&len);
    close(GOWSGI_LAUNCH_FD_SETTINGS);
    /* The channel came through exec; no program the app starts may hold
     * it (os.system() keeps what is not close-on-exec): the generation's
     * channel must go when its last daemon process does. */
    fcntl(GOWSGI_LAUNCH_FD_CHANNEL, F_SETFD, FD_CLOEXEC);
    settings.init.log.fd = STDERR_FILENO;
    settings.init.log.syslog_facility = -1;
    settings.init.log.level = 7;
    if (buf == NULL)
        fail("cannot read its settings", errno);
    const char *bad = launch_settings_decode(buf, len, &settings);
    /* Its log: stderr is the group's vhost error log (or nothing, with
     * syslog). */
    settings.init.log.fd = settings.init.log.syslog_facility >= 0 ? -1 : STDERR_FILENO;
    if (bad != NULL) {
        settings.init.log.level = 7;
        settings.init.log.syslog_facility = -1;
        settings.init.log.fd = STDERR_FILENO;
        fail(bad, 0);
    }
    gowsgi_daemon_init *init = &settings.init;

    /* The records are as large as the settings say (the memfd is sealed at
     * its size): no access below can fault past its end. */
    struct stat shared_st;
    if (fstat(GOWSGI_LAUNCH_FD_SHARED, &shared_st) != 0) {
        close(GOWSGI_LAUNCH_FD_SHARED);
        fail("cannot read the size of the group's shared records", errno);
    }
    if (shared_st.st_size < 0 || (unsigned long long)shared_st.st_size != (unsigned long long)settings.shared_size) {
        close(GOWSGI_LAUNCH_FD_SHARED);
        fail("the group's shared records are not the size the settings say", 0);
    }
    shared = mmap(NULL, settings.shared_size, PROT_READ | PROT_WRITE, MAP_SHARED, GOWSGI_LAUNCH_FD_SHARED, 0);
    close(GOWSGI_LAUNCH_FD_SHARED);
    if (shared == MAP_FAILED) {
        shared = NULL;
        fail("cannot map the group's shared records", errno);
    }
    exiting = shared_int(settings.at_exiting);
    init->reload_token = shared_int(settings.at_reload_token);
    init->ready = shared_int(settings.at_ready);
    init->idle = shared_int(settings.at_idle);
    if (settings.exit_reason_size > 0 && shared_fits(settings.at_exit_reason, settings.exit_reason_size)) {
        init->exit_reason = reason = shared + settings.at_exit_reason;
        init->exit_reason_size = reason_size = settings.exit_reason_size;
    }
    int *crashed = shared_int(settings.at_crashed);
    if (settings.ntickets > 0 && settings.at_tickets % (long)sizeof(gowsgi_ticket) == 0 &&
        settings.ntickets <= settings.shared_size / sizeof(gowsgi_ticket) &&
        shared_fits(settings.at_tickets, sizeof(gowsgi_ticket) * settings.ntickets)) {
        init->tickets = (gowsgi_ticket *)(void *)(shared + settings.at_tickets);
        init->ntickets = settings.ntickets;
    }
    if (exiting == NULL || init->reload_token == NULL || init->ready == NULL || init->idle == NULL ||
        init->exit_reason == NULL || crashed == NULL || (settings.ntickets > 0 && init->tickets == NULL))
        fail("the group's shared records are not where the settings say", 0);
    atexit(exit_reported);

    /* PR_SET_PDEATHSIG was set before the exec (after setuid, which
     * clears it) and survives it; the parent may have gone before. */
    if (getppid() != (settings.spawner > 0 ? settings.spawner : init->parent_pid))
        _exit(0);
    /* The title ps shows is argv (the shim wrote it); the name in
     * /proc/pid/comm is the title's, or Apache's program name. */
    const char *comm = settings.title ? settings.title : basename(argv[0]);
    prctl(PR_SET_NAME, comm, 0, 0, 0);
    name_threads(comm);
    if (settings.locale != NULL)
        setlocale(LC_ALL, settings.locale);
    if (settings.stack_size > 0) {
        /* stack-size: the default for every thread made from now on. */
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, (size_t)settings.stack_size) != 0 ||
            pthread_setattr_default_np(&attr) != 0)
            fail("stack-size", 0);
        pthread_attr_destroy(&attr);
    }
    if (settings.backoff > 0) {
        char line[256];
        int n = snprintf(line, sizeof(line), GOWSGI_BACKOFF_LINE, init->process_index, init->group, (int)getpid(),
                         settings.backoff);
        log_line(4 /* warn */, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);   /* logno: the macro's */
        /* Said in the slot meanwhile (daemon_start.h), then cleared. */
        snprintf(reason, reason_size, GOWSGI_BACKOFF_REASON, settings.backoff);
        sleep((unsigned)settings.backoff);
        reason[0] = '\0';
    }

    char what[1024];
    if (!launcher_load_python(&settings, what, sizeof(what)))
        fail(what, 0);
    /* Between the two: Go forwards a crash in C to a handler that was
     * there before it (crash_report.h). */
    char who[256];
    snprintf(who, sizeof(who), "daemon process %d of group '%s'", init->process_index, init->group);
    const char *tmp = getenv("TMPDIR");
    gowsgi_crash_report_config crash = {
        .who = who,
        .name = init->group,
        .reason = init->exit_reason,
        .reason_size = init->exit_reason_size,
        .crashed = crashed,
        .log_fd = STDERR_FILENO,
        .dir = tmp != NULL && tmp[0] == '/' ? tmp : "/tmp",
    };
    __atomic_store_n(crashed, 0, __ATOMIC_RELEASE);
    init->crash_fd = gowsgi_crash_report_install(&crash);
    gowsgi_daemon_main_fn daemon_main = launcher_load_engine(&settings, what, sizeof(what));
    if (daemon_main == NULL)
        fail(what, 0);
    init->channel_fd = GOWSGI_LAUNCH_FD_CHANNEL;
    init->base.log = log_line;
    init->base.scoreboard = NULL;   /* server-metrics groups are not launched */
    int code = daemon_main(init);
    __atomic_store_n(exiting, 1, __ATOMIC_RELEASE);
    _exit(code);
}
