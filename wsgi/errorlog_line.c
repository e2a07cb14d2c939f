/*
 * errorlog_line.c: see errorlog_line.h. The format is Apache 2.4's default
 * (server/log.c, do_errorlog_default), so a daemon's lines read as those
 * Apache writes itself: one write() per line, so that lines of several
 * processes appending to one file or pipe never interleave.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* gettid */
#endif
#include "errorlog_line.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"emerg", "alert", "crit",   "error",  "warn",   "notice",
                                          "info",  "debug", "trace1", "trace2", "trace3", "trace4",
                                          "trace5", "trace6", "trace7", "trace8"};

/* A line longer than this is cut, as Apache cuts at MAX_STRING_LEN. */
#define LINE_MAX_BYTES 8192

static void *(*unblock_fn)(void);
static void (*reblock_fn)(void *);

void gowsgi_errorlog_set_unblock(void *(*unblock)(void), void (*reblock)(void *))
{
    unblock_fn = unblock;
    reblock_fn = reblock;
}

/* Copies src into dst as Apache's ap_escape_errorlog_item escapes what it
 * logs (server/util.c): a backslash doubled, \b \n \r \t \v by name, any
 * other control byte or byte over 0x7e as \xNN, a double quote as it is. A
 * tenant's line (or a client's Referer) then cannot forge a line or send a
 * terminal escape, as under Apache's own logger in embedded mode. Returns
 * the bytes written; an escape that would not fit whole is dropped. */
static size_t escape_item(char *dst, size_t room, const char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            if (n + 1 > room)
                break;
            dst[n++] = (char)c;
            continue;
        }
        const char *named = c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t" : c == '\v' ? "\\v" : NULL;
        if (named != NULL) {
            if (n + 2 > room)
                break;
            dst[n++] = named[0];
            dst[n++] = named[1];
        } else {
            if (n + 4 > room)
                break;
            dst[n++] = '\\';
            dst[n++] = 'x';
            dst[n++] = hex[c >> 4];
            dst[n++] = hex[c & 15];
        }
    }
    return n;
}

static pthread_once_t syslog_once = PTHREAD_ONCE_INIT;
static const gowsgi_daemon_log *syslog_conf;

static void open_syslog(void)
{
    /* As Apache opens it for an "ErrorLog syslog:facility". */
    openlog(syslog_conf->ident ? syslog_conf->ident : "apache2", LOG_NDELAY | LOG_CONS | LOG_PID,
            syslog_conf->syslog_facility);
}

void gowsgi_errorlog_write(const gowsgi_daemon_log *log, int level, const char *remote, const char *referer,
                           const char *msg, size_t len)
{
    char line[LINE_MAX_BYTES];
    size_t n = 0;
    int syslogging = log->syslog_facility >= 0;
    level &= 0xf;
    /* Apache's rule for a file or pipe: a notice always goes (start-up and
     * shutdown notices); anything else only up to the configured level. */
    if (level > log->level && (syslogging || level != 5))
        return;
    if (!syslogging && log->fd < 0)
        return;
    if (!syslogging) {
        struct timeval tv;
        struct tm tm;
        gettimeofday(&tv, NULL);
        localtime_r(&tv.tv_sec, &tm);
        /* English names whatever the process's locale (a group's locale=
         * is set with setlocale, which strftime's %a %b would follow), as
         * Apache's apr_ctime writes them. */
        static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        n += (size_t)snprintf(line + n, sizeof(line) - n, "[%s %s %02d %02d:%02d:%02d.%06ld %d] ",
                              days[(unsigned)tm.tm_wday % 7], months[(unsigned)tm.tm_mon % 12], tm.tm_mday,
                              tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec, tm.tm_year + 1900);
    }
    n += (size_t)snprintf(line + n, sizeof(line) - n, "[%s:%s] [pid %d", log->module ? log->module : "gowsgi",
                          level_names[level], (int)getpid());
    /* Apache 2.4.58+ on Linux prints the kernel's thread id. */
    if (log->threaded)
        n += (size_t)snprintf(line + n, sizeof(line) - n, ":tid %ld", (long)gettid());
    n += (size_t)snprintf(line + n, sizeof(line) - n, "] ");
    if (remote != NULL && n < sizeof(line))
        n += (size_t)snprintf(line + n, sizeof(line) - n, "[remote %s] ", remote);
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    /* Room for the message, the referer (escaped, it takes up to four
     * times its length) and the newline. */
    size_t tail = referer != NULL ? 4 * strlen(referer) + 11 : 0;
    int with_referer = referer != NULL && tail < sizeof(line) / 2;
    size_t room = sizeof(line) - n - 1 - (with_referer ? tail : 0);
    n += escape_item(line + n, room, msg, len);
    if (with_referer) {
        n += (size_t)snprintf(line + n, sizeof(line) - n, ", referer: ");
        n += escape_item(line + n, sizeof(line) - n - 1, referer, strlen(referer));
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    /* From here only line and the log's own settings are used. */
    void *held = unblock_fn != NULL ? unblock_fn() : NULL;
    if (syslogging) {
        line[n] = '\0';
        syslog_conf = log;
        pthread_once(&syslog_once, open_syslog);
        syslog(log->syslog_facility | (level < 8 ? level : LOG_DEBUG), "%s", line);
    } else {
        line[n++] = '\n';
        for (size_t off = 0; off < n;) {
            ssize_t w = write(log->fd, line + off, n - off);
            if (w <= 0)
                break;   /* nowhere left to say it */
            off += (size_t)w;
        }
    }
    if (reblock_fn != NULL)
        reblock_fn(held);
}
