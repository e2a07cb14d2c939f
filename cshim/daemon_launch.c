/*
 * daemon_launch.c: the last step of a forked daemon process that runs
 * isolated (ARCHITECTURE.md section 7): once it is the group's user, it
 * execs the launcher (gowsgi-daemon beside mod_gowsgi.so, wsgi/launcher/)
 * with only its own descriptors and its own group's settings, so nothing
 * of Apache's configuration, no other group's or vhost's secrets and no
 * other log stays in the process the tenant's code runs in. The settings
 * go in a sealed memfd (daemon_launch.h), not argv or the environment,
 * which other local users can read in /proc.
 */
#include "daemon.h"
#include "daemon_launch.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apr_strings.h"
#include "http_log.h"

#include "shim_build.h"

extern char **environ;

const char *gowsgi_daemon_launcher(apr_pool_t *p)
{
    Dl_info info;
    if (dladdr((void *)&gowsgi_module, &info) == 0 || info.dli_fname == NULL)
        return NULL;
    char *dir = apr_pstrdup(p, info.dli_fname);
    return apr_pstrcat(p, dirname(dir), "/gowsgi-daemon", NULL);
}

/* The server's libpython as it is now ("size mtime"), to hold against
 * the one gowsgi-daemon-X.Y was built from (GOWSGI_LIBPYTHON_STAMP). */
static void libpython_stamp(char *now, size_t size)
{
    struct stat st;
    now[0] = '\0';
    if (stat(GOWSGI_LIBPYTHON_PATH, &st) == 0)
        snprintf(now, size, "%lld %lld", (long long)st.st_size, (long long)st.st_mtime);
}

const char *gowsgi_daemon_builtin_launcher(apr_pool_t *pconf, const char *launcher)
{
    /* Once per start, for every group: the answer, or "" for none. */
    static const char key[] = "gowsgi-builtin-launcher";
    void *known = NULL;
    apr_pool_userdata_get(&known, key, pconf);
    if (known != NULL)
        return *(const char *)known ? known : NULL;
    char *dir = apr_pstrdup(pconf, launcher);
    const char *builtin = apr_pstrcat(pconf, dirname(dir), "/gowsgi-daemon-" GOWSGI_PYTHON_TAG, NULL);
    const char *answer = builtin;
    char now[64];
    libpython_stamp(now, sizeof(now));
    if (access(builtin, X_OK) != 0) {
        answer = "";   /* an install without it: gowsgi-daemon does the same, in more memory */
    }
    else if (strcmp(now, GOWSGI_LIBPYTHON_STAMP) != 0) {
        /* Its Python is the one it was built with: the groups must get the
         * updated one (a security fix), so gowsgi-daemon loads it. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, gowsgi_main_server,
                     GOWSGI_LOGNO(0122) "gowsgi: %s changed since %s was built (size and time then: %s, now: %s): "
                     "daemon processes load it through gowsgi-daemon instead, which costs each about 0.5 MiB "
                     "more; build and install gowsgi again to use it",
                     GOWSGI_LIBPYTHON_PATH, builtin, GOWSGI_LIBPYTHON_STAMP, *now ? now : "missing");
        answer = "";
    }
    apr_pool_userdata_set(answer, key, apr_pool_cleanup_null, pconf);
    return *answer ? answer : NULL;
}

const char *gowsgi_daemon_launcher_for(apr_pool_t *p, const gowsgi_daemon_rt *rt)
{
    if (rt->builtin_launcher == NULL || !gowsgi_python_is_servers(&rt->python))
        return rt->launcher;
    /* Its engine is the one installed beside it: a GoWSGILibrary that names
     * another is loaded by gowsgi-daemon. */
    char *dir = apr_pstrdup(p, rt->builtin_launcher);
    if (strcmp(gowsgi_engine_library(p), apr_pstrcat(p, dirname(dir), "/libgowsgi.so", NULL)) != 0)
        return rt->launcher;
    /* Updated since Apache started (a Debian update, no restart yet): this
     * process loads the new libpython; GW0122 is said at the next start. */
    char now[64];
    libpython_stamp(now, sizeof(now));
    if (strcmp(now, GOWSGI_LIBPYTHON_STAMP) != 0)
        return rt->launcher;
    return rt->builtin_launcher;
}

typedef struct records {
    char *p;
    size_t len, cap;
    int failed;
} records;

static void put(records *r, const char *key, const char *value)
{
    if (value == NULL || r->failed)
        return;
    size_t k = strlen(key) + 1, v = strlen(value) + 1;
    if (r->len + k + v > r->cap) {
        size_t cap = (r->len + k + v) * 2 + 4096;
        char *grown = realloc(r->p, cap);
        if (grown == NULL || cap > GOWSGI_LAUNCH_MAX_SIZE) {
            r->failed = 1;
            return;
        }
        r->p = grown;
        r->cap = cap;
    }
    memcpy(r->p + r->len, key, k);
    memcpy(r->p + r->len + k, value, v);
    r->len += k + v;
}

static void put_long(records *r, const char *key, long long value)
{
    char text[32];
    snprintf(text, sizeof(text), "%lld", value);
    put(r, key, text);
}

static void encode(records *r, const gowsgi_daemon_rt *rt, const gowsgi_daemon_init *init, const char *engine,
                   int backoff)
{
    put(r, "magic", GOWSGI_LAUNCH_MAGIC);
#define PUT_INT(f) put_long(r, #f, (long long)init->f);
    GOWSGI_LAUNCH_INTS(PUT_INT)
#undef PUT_INT
#define PUT_STR(f) put(r, #f, init->f);
    GOWSGI_LAUNCH_STRINGS(PUT_STR)
#undef PUT_STR
    char hex[GOWSGI_DAEMON_SECRET_SIZE * 2 + 1];
    for (int i = 0; i < GOWSGI_DAEMON_SECRET_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", init->secret[i]);
    put(r, GOWSGI_LAUNCH_SECRET, hex);
    for (int i = 0; i < init->base.nwarnings; i++)
        put(r, GOWSGI_LAUNCH_WARNING, init->base.warnings[i]);
    for (int i = 0; i < init->base.ngil_exceptions; i++)
        put(r, GOWSGI_LAUNCH_GIL_EXCEPTION, init->base.gil_exceptions[i]);
    for (int i = 0; i < init->base.ninterp_overrides; i++) {
        const gowsgi_interp_override *o = &init->base.interp_overrides[i];
        put(r, GOWSGI_LAUNCH_OVERRIDE, o->application_group);
        put(r, GOWSGI_LAUNCH_OVERRIDE_LAYERS, o->python_path_layers);
        put_long(r, GOWSGI_LAUNCH_OVERRIDE_STDIN, o->restrict_stdin);
        put_long(r, GOWSGI_LAUNCH_OVERRIDE_STDOUT, o->restrict_stdout);
        put_long(r, GOWSGI_LAUNCH_OVERRIDE_SIGNAL, o->restrict_signal);
        put(r, GOWSGI_LAUNCH_OVERRIDE_SWITCH, o->switch_interval);
    }
    for (int i = 0; i < init->base.nimports; i++) {
        const gowsgi_import *imp = &init->base.imports[i];
        put(r, GOWSGI_LAUNCH_IMPORT, imp->script);
        put(r, GOWSGI_LAUNCH_IMPORT_APP, imp->application_group);
        put(r, GOWSGI_LAUNCH_IMPORT_CALLABLE, imp->callable_object);
        put(r, GOWSGI_LAUNCH_IMPORT_WHERE, imp->where);
    }
    const gowsgi_daemon_slot *slot = &rt->shared->slots[init->process_index];
    const char *base = (const char *)rt->shared;
    put_long(r, GOWSGI_LAUNCH_AT_EXIT_REASON, (const char *)slot->reason - base);
    put_long(r, GOWSGI_LAUNCH_EXIT_REASON_SIZE, (long long)sizeof(slot->reason));
    put_long(r, GOWSGI_LAUNCH_AT_EXITING, (const char *)&slot->exiting - base);
    put_long(r, GOWSGI_LAUNCH_AT_RELOAD_TOKEN, (const char *)&rt->shared->reload_token - base);
    put_long(r, GOWSGI_LAUNCH_AT_READY, (const char *)&slot->ready - base);
    put_long(r, GOWSGI_LAUNCH_AT_IDLE, (const char *)&slot->idle - base);
    put_long(r, GOWSGI_LAUNCH_AT_CRASHED, (const char *)&slot->crashed - base);
    put_long(r, GOWSGI_LAUNCH_AT_TICKETS, (const char *)rt->tickets - base);
    put_long(r, GOWSGI_LAUNCH_NTICKETS, (long long)rt->ntickets);
    put(r, GOWSGI_LAUNCH_LIBPYTHON, rt->python.libpython);
    put(r, GOWSGI_LAUNCH_ENGINE, rt->python.engine != NULL ? rt->python.engine : engine);
    put_long(r, GOWSGI_LAUNCH_SHARED_SIZE, (long long)rt->shared_size);
    put(r, GOWSGI_LAUNCH_TITLE, rt->display_name);
    put(r, GOWSGI_LAUNCH_LOCALE, rt->locale);
    put_long(r, GOWSGI_LAUNCH_STACK_SIZE, rt->stack_size);
    put_long(r, GOWSGI_LAUNCH_BACKOFF, backoff);
    put_long(r, GOWSGI_LAUNCH_SPAWNER, (long)getppid());
}

/* A sealed memfd holding the records, read from its start. */
static int settings_fd(const records *r)
{
    int fd = memfd_create("gowsgi-daemon-settings", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    for (size_t off = 0; off < r->len;) {
        ssize_t n = write(fd, r->p + off, r->len - off);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    /* The launcher refuses settings that are not sealed against writes
     * (it was not started by us): fail here, with the cause. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0 ||
        lseek(fd, 0, SEEK_SET) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* Moves each of from[] to its fixed number (daemon_launch.h) and closes
 * every other descriptor; dup2 clears close-on-exec on the copy. */
#define LAUNCH_FDS GOWSGI_LAUNCH_FD_FIRST_FREE
static int arrange(const int from[LAUNCH_FDS])
{
    int tmp[LAUNCH_FDS];
    for (int i = 0; i < LAUNCH_FDS; i++)
        if ((tmp[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 64)) < 0)
            return -1;
    for (int i = 0; i < LAUNCH_FDS; i++)
        if (dup2(tmp[i], i) < 0)
            return -1;
    if (close_range(GOWSGI_LAUNCH_FD_FIRST_FREE, ~0U, 0) != 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (long fd = GOWSGI_LAUNCH_FD_FIRST_FREE; fd < (max > 0 ? max : 65536); fd++)
            close((int)fd);
    }
    return 0;
}

/* Apache's own command line as it was given (/proc/self/cmdline, not
 * process->argv, which Apache rewrites while parsing it), with argv[0]
 * written over by the title as mod_wsgi writes it (padded with spaces to
 * its length), so ps shows the daemon as before the exec. */
static char **launcher_argv(apr_pool_t *p, const char *title)
{
    char *raw = NULL;
    apr_size_t len = 0;
    apr_file_t *f;
    if (apr_file_open(&f, "/proc/self/cmdline", APR_READ, 0, p) == APR_SUCCESS) {
        char buf[8192];
        apr_size_t n = sizeof(buf) - 1;
        if (apr_file_read_full(f, buf, n, &n) == APR_SUCCESS || n > 0) {
            raw = apr_pmemdup(p, buf, n + 1);
            raw[n] = '\0';
            len = n;
        }
        apr_file_close(f);
    }
    int argc = 0;
    for (apr_size_t i = 0; i < len; i++)
        argc += raw[i] == '\0';
    char **argv = apr_pcalloc(p, sizeof(char *) * (size_t)(argc + 2));
    argc = 0;
    for (apr_size_t i = 0; i < len; i += strlen(raw + i) + 1)
        argv[argc++] = raw + i;
    if (argc == 0)
        argv[argc++] = apr_pstrdup(p, gowsgi_main_server->process->argv[0]);
    if (title != NULL) {
        size_t room = strlen(argv[0]), tlen = strlen(title);
        memset(argv[0], ' ', room);
        memcpy(argv[0], title, tlen < room ? tlen : room);
    }
    return argv;
}

const char *gowsgi_daemon_exec(apr_pool_t *p, gowsgi_daemon_rt *rt, const gowsgi_daemon_init *init,
                               const char *launcher, int backoff, int *moved)
{
    records r = {NULL, 0, 0, 0};
    encode(&r, rt, init, gowsgi_engine_library(p), backoff);
    if (r.failed)
        return "the group's settings do not fit in memory";
    char **argv = launcher_argv(p, rt->display_name);
    int sfd = settings_fd(&r);
    int sfd_err = errno;
    explicit_bzero(r.p, r.len);   /* the secret, here and in the memfd only */
    free(r.p);
    if (sfd < 0)
        return apr_psprintf(p, "cannot make the settings memfd (or seal it): %s", strerror(sfd_err));
    /* stdin and stdout are Apache's (a terminal, a journal stream): the
     * daemon gets /dev/null, as a daemonized Apache's own are; and with
     * syslog (no file to write), stderr too, rather than Apache's main
     * error log. */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0)
        return apr_psprintf(p, "cannot open /dev/null: %s", strerror(errno));
    int log = rt->log.fd >= 0 ? rt->log.fd : null;
    /* Index i goes to descriptor i (daemon_launch.h). */
    int from[LAUNCH_FDS] = {null, null, log, sfd, rt->channel[1], rt->shared_fd};
    /* From here Apache's own logs are closed: errors go to stderr. */
    *moved = 1;
    if (arrange(from) != 0)
        return apr_psprintf(p, "cannot arrange the descriptors: %s", strerror(errno));
    execve(launcher, argv, environ);
    return apr_psprintf(p, "cannot run %s: %s", launcher, strerror(errno));
}
