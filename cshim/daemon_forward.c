/*
 * daemon_forward.c: an Apache child serving a request through a daemon
 * group. It connects over the group's channel, sends the request (the same
 * CGI variables embedded mode builds) with the group's secret, then follows
 * the daemon: body bytes when the app reads (READ), log lines, and finally
 * an error status or the response, which goes to the client through the
 * same callbacks embedded mode uses (apache_io.c). Bytes move C to C; the
 * child needs no Go and no Python.
 */
#include "daemon.h"
#include "metrics.h"
#include "fair_share.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

/* Connections a daemon kept open for this thread's next request to its
 * group (END_COMPLETE_KEEP): one per group, a few groups per thread. Each
 * Apache thread serves one request at a time, so the cache needs no lock.
 * It lives behind a thread key whose destructor closes what it holds: a
 * thread that exits (mod_http2's idle workers do) leaks no descriptor, nor
 * a daemon's connection slot. */
#define KEPT_PER_THREAD 4
typedef struct kept_conn {
    const gowsgi_daemon_rt *rt;
    int fd;
    int pid;                       /* the daemon process at the other end */
} kept_conn;

static pthread_key_t kept_key;
static pthread_once_t kept_once = PTHREAD_ONCE_INIT;
static int kept_key_ok;

static void kept_close_all(void *data)
{
    kept_conn *kept = data;
    for (int i = 0; i < KEPT_PER_THREAD; i++)
        if (kept[i].rt != NULL)
            close(kept[i].fd);
    free(kept);
}

static void kept_key_make(void)
{
    kept_key_ok = pthread_key_create(&kept_key, kept_close_all) == 0;
}

/* This thread's cache, or NULL (no key, out of memory): no caching then. */
static kept_conn *kept_cache(int create)
{
    pthread_once(&kept_once, kept_key_make);
    if (!kept_key_ok)
        return NULL;
    kept_conn *kept = pthread_getspecific(kept_key);
    if (kept == NULL && create) {
        kept = calloc(KEPT_PER_THREAD, sizeof(*kept));
        if (kept != NULL && pthread_setspecific(kept_key, kept) != 0) {
            free(kept);
            kept = NULL;
        }
    }
    return kept;
}

/* This thread's kept connection to the group, if its process has a worker
 * waiting now (a kept connection reaches only its own process: sent to a
 * busy one, the request would wait while another process idles). */
static int kept_take(const gowsgi_daemon_rt *rt, int *pid)
{
    kept_conn *kept = kept_cache(0);
    if (kept == NULL)
        return -1;
    for (int i = 0; i < KEPT_PER_THREAD; i++) {
        kept_conn *k = &kept[i];
        if (k->rt != rt)
            continue;
        for (int p = 0; p < rt->conf->processes; p++) {
            const gowsgi_daemon_slot *slot = &rt->shared->slots[p];
            if (__atomic_load_n(&slot->pid, __ATOMIC_ACQUIRE) != k->pid)
                continue;
            if (__atomic_load_n(&slot->idle, __ATOMIC_ACQUIRE) <= 0)
                return -1;   /* busy: the channel finds an idle process */
            /* Found not answering a moment ago (stopped?): the channel
             * reaches the processes that answer. The connection stays. */
            apr_time_t quiet = __atomic_load_n(&slot->quiet_until, __ATOMIC_ACQUIRE);
            if (quiet != 0 && apr_time_now() < quiet)
                return -1;
            *pid = k->pid;
            k->rt = NULL;
            return k->fd;
        }
        close(k->fd);   /* that process is gone */
        k->rt = NULL;
    }
    return -1;
}

/* Keeps fd for this thread's next request to the group; 0, or -1 when it
 * cannot be kept (the caller closes it). */
static int kept_put(const gowsgi_daemon_rt *rt, int fd, int pid)
{
    kept_conn *kept = kept_cache(1), *slot = NULL;
    if (kept == NULL)
        return -1;
    for (int i = 0; i < KEPT_PER_THREAD && slot == NULL; i++)
        if (kept[i].rt == rt)
            slot = &kept[i];
    for (int i = 0; i < KEPT_PER_THREAD && slot == NULL; i++)
        if (kept[i].rt == NULL)
            slot = &kept[i];
    if (slot == NULL)
        slot = &kept[(unsigned)fd % KEPT_PER_THREAD];
    if (slot->rt != NULL)
        close(slot->fd);
    slot->rt = rt;
    slot->fd = fd;
    slot->pid = pid;
    return 0;
}

typedef struct forward {
    request_rec *r;
    const gowsgi_daemon_rt *rt;
    void *io_ctx;                  /* apache_io.c's context for this request */
    int fd;
    int timeout_ms;
    uint32_t daemon_pid;
    int headers_sent;              /* the client has the response's status and headers */
    int headers_seen;              /* the daemon sent them (sent on, or held back) */
    int error_override;            /* WSGIErrorOverride On */
    const char *redirect;          /* 200 + local Location: an internal redirect */
    int override_status;           /* an error status for Apache's ErrorDocument */
    apr_time_t queue_start;
    int queue_counted;             /* its wait for a daemon thread is counted (metrics.c) */
    int restarting;                /* the last REPLAY came from a process restarting */
    int body_read;                 /* the request body was (partly) consumed */
    int reused;                    /* the connection is one the daemon kept */
    int frames_seen;               /* the daemon has sent a frame on this connection */
    int kept_pid;                  /* reused: the process at its other end */
    int ticket;                    /* index of this request's ticket (daemon_ticket.h), or -1 */
    uint64_t seq;                  /* the current attempt's seq on it */
    int begun_seen;                /* the ticket said BEGUN (or frames came): wait as long as it takes */
    int blind_resent;              /* sent again once already because a process of the group was stopped */
    char *body_buf;
    apr_time_t headers_due;        /* socket-timeout for the response headers */
    gowsgi_wire_buf out;
    gowsgi_wire_reader in;
    int modwsgi6;                  /* GoWSGICompatibility 6: a lost connection is 502, as 6.0's */
} forward;

static const char *group_name(const forward *f)
{
    return f->rt->conf->name;
}

/* The daemon answered (its END or ERROR frame): one more request of the
 * process that said who it is, in its slot of the group, for the status
 * page. A slot whose process has changed since is left alone. */
static void count_answer(forward *f)
{
    if (f->daemon_pid == 0)
        return;
    for (int i = 0; i < f->rt->conf->processes; i++) {
        gowsgi_daemon_slot *slot = &f->rt->shared->slots[i];
        if (__atomic_load_n(&slot->pid, __ATOMIC_ACQUIRE) == (int)f->daemon_pid) {
            __atomic_fetch_add(&slot->requests, 1, __ATOMIC_RELAXED);
            return;
        }
    }
}

/* The request is lost: one line saying where and why. */
static int lost(forward *f, int status, const char *why)
{
    if (f->daemon_pid)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, f->r,
                      GOWSGI_LOGNO(0300) "gowsgi: daemon process of group '%s' (pid %u): %s: %s",
                      group_name(f), f->daemon_pid, why, f->r->filename);
    else
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, f->r,
                      GOWSGI_LOGNO(0301) "gowsgi: daemon process group '%s': %s: %s", group_name(f),
                      why, f->r->filename);
    if (f->headers_sent) {
        gowsgi_request_break(f->io_ctx);
        return OK;
    }
    return status;
}

/* The daemon closed the connection mid-request: ask the parent's record
 * why (it notices a death within about a second). */
static const char *ended_why(forward *f)
{
    /* The daemon names itself with its first frames; a process that dies
     * before sending any is found among the group's recent deaths. */
    const char *cause = f->daemon_pid ? gowsgi_daemon_death_cause(f->r->pool, f->rt, (int)f->daemon_pid, 1500)
                                      : gowsgi_daemon_death_since(f->r->pool, f->rt, f->queue_start, 1500);
    if (cause == NULL)
        cause = "closed the connection (its cause is not known yet)";
    return apr_psprintf(f->r->pool, "the response was cut off before it was complete: the %s%s",
                        f->daemon_pid ? "process " : "", cause);
}

static int send_out(forward *f)
{
    int rc = gowsgi_wire_send(f->fd, f->out.p, f->out.len, f->timeout_ms);
    f->out.len = 0;
    return rc;
}

/* The app asked for up to max body bytes. */
static int send_body(forward *f, uint32_t max)
{
    /* Not on the stack: Apache's threads may have small ones. */
    if (f->body_buf == NULL)
        f->body_buf = apr_palloc(f->r->pool, GOWSGI_WIRE_MAX_CHUNK);
    char *buf = f->body_buf;
    size_t want = max < GOWSGI_WIRE_MAX_CHUNK ? max : GOWSGI_WIRE_MAX_CHUNK;
    f->body_read = 1;
    long n = want ? gowsgi_request_io.read(f->io_ctx, buf, want) : 0;
    int rc;
    if (n > 0)
        rc = gowsgi_wire_put_frame(&f->out, GOWSGI_FRAME_BODY, buf, (size_t)n);
    else if (n == 0)
        rc = gowsgi_wire_put_frame(&f->out, GOWSGI_FRAME_BODY_END, NULL, 0);
    else {
        const char *why = gowsgi_request_io.read_error(f->io_ctx);
        rc = gowsgi_wire_put_frame(&f->out, GOWSGI_FRAME_BODY_ERROR, why, strlen(why));
    }
    return rc == 0 ? send_out(f) : -ENOMEM;
}

/* A tenant controls its daemon: what it sends is checked again here as
 * start_response checks it, or it could split the response (a CR or LF in
 * the status line or Content-Type reaches the client verbatim). */
static int clean_text(const char *s, int tab_ok)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if ((*c < 0x20 && !(tab_ok && *c == '\t')) || *c == 0x7f)
            return 0;
    return 1;
}

static const char *bad_headers(apr_pool_t *p, const gowsgi_wire_headers *h, int modwsgi6)
{
    const char *line = h->status_line;
    /* Under GoWSGICompatibility 6 a bare code is a status line too. */
    size_t min = modwsgi6 && strlen(line) == 3 ? 3 : 4;
    if (h->status < 100 || h->status > 999 || strlen(line) < min || (min == 4 && line[3] != ' ') ||
        (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0') != h->status || !clean_text(line, 0))
        return apr_psprintf(p, "an invalid status line '%s'", clean_text(line, 0) ? line : "(control characters)");
    for (uint32_t i = 0; i < h->n; i++) {
        const char *name = h->names[i];
        if (*name == '\0' || !clean_text(name, 0) || strpbrk(name, " ()<>@,;:\\\"/[]?={}") != NULL)
            return "an invalid response header name";
        if (!clean_text(h->values[i], 1))
            return apr_psprintf(p, "a control character in response header '%s'", name);
        if (strcasecmp(name, "Content-Length") == 0 &&
            (h->values[i][0] == '\0' || strspn(h->values[i], "0123456789") != strlen(h->values[i])))
            return "an invalid Content-Length";
    }
    return NULL;
}

static int apply_headers(forward *f, const unsigned char *p, size_t len)
{
    char err[256];
    gowsgi_wire_headers *h = gowsgi_wire_get_headers(p, len, err, sizeof(err));
    if (h == NULL)
        return lost(f, HTTP_INTERNAL_SERVER_ERROR, apr_psprintf(f->r->pool, "malformed response headers (%s)", err));
    const char *bad = bad_headers(f->r->pool, h, f->modwsgi6);
    if (bad != NULL) {
        free(h);
        return lost(f, HTTP_INTERNAL_SERVER_ERROR, apr_pstrcat(f->r->pool, "the daemon sent ", bad, NULL));
    }
    for (uint32_t i = 0; i < h->n; i++) {
        size_t line = strlen(h->names[i]) + 2 + strlen(h->values[i]);
        if ((int)line > f->rt->header_buffer_size) {
            const char *why = apr_psprintf(f->r->pool, "response header '%s' is %lu bytes, over header-buffer-size=%d",
                                           h->names[i], (unsigned long)line, f->rt->header_buffer_size);
            free(h);
            return lost(f, HTTP_INTERNAL_SERVER_ERROR, why);
        }
    }
    f->headers_seen = 1;
    /* Daemon mode keeps CGI's rules, as mod_wsgi's does: a 200 with a local
     * Location is an internal redirect, and WSGIErrorOverride hands error
     * statuses to Apache's ErrorDocument; the app's body is dropped. */
    const char *location = NULL;
    for (uint32_t i = 0; i < h->n; i++)
        if (strcasecmp(h->names[i], "Location") == 0)
            location = h->values[i];
    if (h->status == 200 && location && location[0] == '/')
        f->redirect = apr_pstrdup(f->r->pool, location);
    else if (f->error_override && ap_is_HTTP_ERROR(h->status))
        f->override_status = h->status;
    else {
        gowsgi_request_io.start(f->io_ctx, h->status, h->status_line, (int)h->n, h->names, h->values);
        f->headers_sent = 1;
    }
    free(h);
    return -1;   /* carry on */
}

/* follow()'s answer when the daemon asks for the request to be sent again
 * (its script changed: a new process will answer). Not an HTTP status. */
#define REPLAY (-2)
/* ... and when a kept connection was closed before the request was taken. */
#define GOODBYE (-3)
/* ... when the connection ended, or the process stopped answering, before
 * the request was begun: it goes to another process. */
#define GONE (-4)
#define QUIET (-5)

/* How long the child waits for a sign of life before it looks at its
 * ticket: an idle process begins a request on a kept connection within
 * microseconds; one through the channel may be queued behind busy ones. */
#define TICK_KEPT_MS 200
#define TICK_CHANNEL_MS 500
/* How long a process found not answering is left alone on kept connections. */
#define QUIET_FOR apr_time_from_sec(2)

static gowsgi_ticket *ticket_of(const forward *f)
{
    return &f->rt->tickets[f->ticket];
}

/* A process of the group that is stopped (SIGSTOP, a debugger): its pid,
 * or 0. Read from /proc, only when a request waits without a sign of life;
 * under hidepid= /proc hides it, and this sees nothing. */
static int stopped_process(const gowsgi_daemon_rt *rt)
{
    for (int i = 0; i < rt->conf->processes; i++) {
        int pid = __atomic_load_n(&rt->shared->slots[i].pid, __ATOMIC_ACQUIRE);
        if (pid <= 0)
            continue;
        char state;
        int ppid, sid;
        if (gowsgi_process_stat(pid, &state, &ppid, &sid) == 0 && (state == 'T' || state == 't'))
            return pid;
    }
    return 0;
}

static void mark_quiet(const gowsgi_daemon_rt *rt, int pid)
{
    for (int i = 0; i < rt->conf->processes; i++) {
        gowsgi_daemon_slot *slot = &rt->shared->slots[i];
        if (pid > 0 && __atomic_load_n(&slot->pid, __ATOMIC_ACQUIRE) == pid)
            __atomic_store_n(&slot->quiet_until, apr_time_now() + QUIET_FOR, __ATOMIC_RELEASE);
    }
}

/* A tick passed with no frame. QUIET when the attempt was taken back (the
 * caller sends it to another process), else 0: wait on. */
static int tick_passed(forward *f)
{
    gowsgi_ticket *t = ticket_of(f);
    if (gowsgi_ticket_state(t, f->seq) == GOWSGI_TICKET_BEGUN || f->in.end > f->in.start) {
        f->begun_seen = 1;   /* the app runs, or frames are on their way */
        return 0;
    }
    int taker = __atomic_load_n(&t->taker_pid, __ATOMIC_ACQUIRE), quiet;
    const char *how;
    if (f->reused) {
        quiet = f->kept_pid;
        how = "on a kept connection";
    } else if (taker != 0) {
        quiet = taker;
        how = "after taking it";
    } else if (!f->blind_resent && (quiet = stopped_process(f->rt)) != 0) {
        /* Maybe queued behind busy processes, maybe taken by the stopped
         * one before it could say so: sent again once, not every tick. */
        f->blind_resent = 1;
        how = "while it is stopped";
    } else {
        return 0;
    }
    if (!gowsgi_ticket_cancel(t, f->seq)) {
        f->begun_seen = 1;   /* begun meanwhile */
        return 0;
    }
    mark_quiet(f->rt, quiet);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, f->r,
                  GOWSGI_LOGNO(0302) "gowsgi: daemon process of group '%s' (pid %d) did not begin "
                  "the request %s within %d ms; sending it to another process: %s", group_name(f), quiet, how,
                  f->reused ? TICK_KEPT_MS : TICK_CHANNEL_MS, f->r->filename);
    return QUIET;
}

static int redirect(forward *f)
{
    request_rec *r = f->r;
    /* A GET, whatever the method was; the body was read already. */
    r->method = "GET";
    r->method_number = M_GET;
    apr_table_unset(r->headers_in, "Content-Length");
    ap_internal_redirect_handler(f->redirect, r);
    return OK;
}

/* Follows the daemon until the response ends. Returns Apache's status. */
static int follow(forward *f)
{
    for (;;) {
        int type;
        const unsigned char *p;
        size_t len;
        /* Until the headers, socket-timeout bounds the whole wait: log
         * lines and body reads do not extend it. */
        int timeout = f->timeout_ms;
        if (!f->headers_seen) {
            apr_time_t left = f->headers_due - apr_time_now();
            timeout = left > 0 ? (int)apr_time_as_msec(left) + 1 : 0;
        }
        /* Until the request is known begun, wait in ticks: a process that
         * died or stopped before it began the request must not keep it. */
        int tick = f->ticket >= 0 && !f->frames_seen && !f->begun_seen ? f->reused ? TICK_KEPT_MS : TICK_CHANNEL_MS
                                                                         : 0;
        int ticking = tick > 0 && timeout > tick;
        int rc = gowsgi_wire_read(&f->in, &type, &p, &len, ticking ? tick : timeout);
        if (rc == -ETIMEDOUT && ticking) {
            if (tick_passed(f) == QUIET)
                return QUIET;
            continue;
        }
        if ((rc == 1 || rc == -ECONNRESET) && !f->frames_seen && f->ticket >= 0) {
            /* Gone before a frame: not begun, it goes elsewhere; begun,
             * it is lost, with its cause. */
            if (gowsgi_ticket_cancel(ticket_of(f), f->seq))
                return GONE;
            int taker = __atomic_load_n(&ticket_of(f)->taker_pid, __ATOMIC_ACQUIRE);
            if (taker > 0 && f->daemon_pid == 0)
                f->daemon_pid = (uint32_t)taker;
        }
        if (rc == -ETIMEDOUT)
            return lost(f, f->headers_sent ? OK : HTTP_GATEWAY_TIME_OUT,
                        f->headers_sent ? "timed out sending the response"
                                        : "Timeout when reading response headers from daemon process");
        /* mod_wsgi 4.9.4 answers 500 ("Truncated or oversized response
         * headers"), 6.0 502 (WSGI0146/WSGI0147). */
        if (rc == 1 || rc == -ECONNRESET)
            return lost(f, f->modwsgi6 ? HTTP_BAD_GATEWAY : HTTP_INTERNAL_SERVER_ERROR, ended_why(f));
        if (rc != 0)
            return lost(f, f->modwsgi6 && rc != -EPROTO ? HTTP_BAD_GATEWAY : HTTP_INTERNAL_SERVER_ERROR,
                        apr_psprintf(f->r->pool, "reading from the daemon process failed (%s)",
                                     rc == -EPROTO ? "malformed frame" : strerror(-rc)));
        int first = !f->frames_seen;
        f->frames_seen = 1;
        switch (type) {
        case GOWSGI_FRAME_GOODBYE:
            /* The daemon closed the connection without taking the request
             * (a kept one, or one over its maximum-requests): send it again,
             * through the channel. Only as the first frame: after anything
             * else the request has been taken. */
            if (!first)
                return lost(f, HTTP_INTERNAL_SERVER_ERROR, "an unexpected GOODBYE frame");
            return GOODBYE;
        case GOWSGI_FRAME_ACCEPT: {
            uint32_t served;
            if (gowsgi_wire_get_accept(p, len, &f->daemon_pid, &served) != 0)
                return lost(f, HTTP_INTERNAL_SERVER_ERROR, "malformed ACCEPT frame");
            if (!f->queue_counted) {
                f->queue_counted = 1;
                gowsgi_metrics_queue(f->r, f->rt, apr_time_now() - f->queue_start);
            }
            break;
        }
        case GOWSGI_FRAME_READ: {
            uint32_t max;
            if (gowsgi_wire_get_u32(p, len, &max) != 0)
                return lost(f, HTTP_INTERNAL_SERVER_ERROR, "malformed READ frame");
            if (send_body(f, max) != 0)
                return lost(f, HTTP_INTERNAL_SERVER_ERROR, "sending the request body failed");
            break;
        }
        case GOWSGI_FRAME_LOG: {
            int level;
            const char *msg;
            size_t n;
            if (gowsgi_wire_get_log(p, len, &level, &msg, &n) != 0)
                return lost(f, HTTP_INTERNAL_SERVER_ERROR, "malformed LOG frame");
            /* As mod_wsgi's daemons log: the request's client as "remote".
             * logno: the daemon's line carries its own, or none (the app's). */
            ap_log_error(APLOG_MARK, level, 0, f->r->server, "[remote %s:%u] %.*s", f->r->useragent_ip,
                         f->r->useragent_addr ? (unsigned)f->r->useragent_addr->port : 0u, (int)n, msg);
            break;
        }
        case GOWSGI_FRAME_ERROR: {
            int status, cause;
            const char *msg;
            size_t n;
            if (gowsgi_wire_get_error(p, len, &status, &cause, &msg, &n) != 0 || f->headers_sent)
                return lost(f, HTTP_INTERNAL_SERVER_ERROR, "malformed ERROR frame");
            if (cause == GOWSGI_CAUSE_RELOAD && f->body_read)
                return lost(f, HTTP_INTERNAL_SERVER_ERROR, "the daemon asked for a replay after reading the body");
            if (cause == GOWSGI_CAUSE_RELOAD) {
                /* "restarting": the process that saw the change makes way
                 * (mod_wsgi.daemon_restarts counts these); otherwise a
                 * process still on the old code declined a replay. */
                f->restarting = n == 10 && memcmp(msg, "restarting", 10) == 0;
                return REPLAY;
            }
            count_answer(f);
            if (n > 0)
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, f->r, "%.*s", (int)n, msg);   /* logno: the daemon's */
            /* Only an error status may come this way. */
            return status >= 400 && status <= 599 ? status : HTTP_INTERNAL_SERVER_ERROR;
        }
        case GOWSGI_FRAME_HEADERS:
            if (f->headers_seen)
                return lost(f, HTTP_INTERNAL_SERVER_ERROR, "a second HEADERS frame");
            if ((rc = apply_headers(f, p, len)) >= 0)
                return rc;
            break;
        case GOWSGI_FRAME_DATA: {
            int flags;
            const unsigned char *data;
            size_t n;
            if (!f->headers_seen || gowsgi_wire_get_data(p, len, &flags, &data, &n) != 0)
                return lost(f, HTTP_INTERNAL_SERVER_ERROR, "malformed DATA frame");
            if (!f->headers_sent)
                break;   /* held back: a redirect or an overridden error */
            if ((n > 0 && gowsgi_request_io.write(f->io_ctx, (const char *)data, n) != 0) ||
                ((flags & GOWSGI_DATA_FLUSH) && gowsgi_request_io.flush(f->io_ctx) != 0)) {
                /* The client went away: closing the connection tells the daemon. */
                ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, f->r,
                              GOWSGI_LOGNO(0303) "gowsgi: client closed the connection");
                gowsgi_request_break(f->io_ctx);
                return OK;
            }
            break;
        }
        case GOWSGI_FRAME_END: {
            int outcome;
            if (!f->headers_seen || gowsgi_wire_get_end(p, len, &outcome) != 0)
                return lost(f, HTTP_INTERNAL_SERVER_ERROR, "malformed END frame");
            count_answer(f);
            if (outcome == GOWSGI_END_COMPLETE_KEEP) {
                /* Only a connection with nothing more in it is kept. */
                if (f->in.start == f->in.end && f->daemon_pid != 0 &&
                    kept_put(f->rt, f->fd, (int)f->daemon_pid) == 0)
                    f->fd = -1;
                outcome = GOWSGI_END_COMPLETE;
            }
            if (f->redirect)
                return redirect(f);
            if (f->override_status)
                return f->override_status;
            if (outcome != GOWSGI_END_COMPLETE)
                gowsgi_request_break(f->io_ctx);
            else
                gowsgi_request_done(f->io_ctx);
            return OK;
        }
        default:
            return lost(f, HTTP_INTERNAL_SERVER_ERROR,
                        apr_psprintf(f->r->pool, "unexpected frame type %d from the daemon", type));
        }
    }
}

/* response-socket-timeout: how long a write to the client may block while
 * the response is proxied (Apache's Timeout otherwise). */
static int follow_with_timeout(forward *f)
{
    apr_socket_t *sock = ap_get_conn_socket(f->r->connection);
    apr_interval_time_t before = 0;
    int set = f->rt->response_socket_timeout > 0 && sock != NULL &&
              apr_socket_timeout_get(sock, &before) == APR_SUCCESS &&
              apr_socket_timeout_set(sock, apr_time_from_sec(f->rt->response_socket_timeout)) == APR_SUCCESS;
    int status = follow(f);
    if (set)
        apr_socket_timeout_set(sock, before);
    return status;
}

static apr_status_t free_ticket(void *data)
{
    forward *f = data;
    if (f->ticket >= 0)
        gowsgi_ticket_free(ticket_of(f));
    f->ticket = -1;
    return APR_SUCCESS;
}

/* A seq no other attempt of any child has: this process's pid and a count. */
static uint64_t next_seq(void)
{
    static int self;
    static uint32_t count;
    int pid = __atomic_load_n(&self, __ATOMIC_RELAXED);
    if (pid == 0) {
        pid = (int)getpid();
        __atomic_store_n(&self, pid, __ATOMIC_RELAXED);
    }
    return (uint64_t)(uint32_t)pid << 32 | __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
}

/* A process of the group is on its way up (forked, not ready, not giving
 * up: no reason written, which a process that failed or waits after a
 * failed start has): a request waits for it as mod_wsgi's waits on its
 * listener. */
static int group_starting(const gowsgi_daemon_rt *rt)
{
    for (int i = 0; i < rt->conf->processes; i++) {
        const gowsgi_daemon_slot *slot = &rt->shared->slots[i];
        int pid = __atomic_load_n(&slot->pid, __ATOMIC_ACQUIRE);
        if (pid > 0 && !__atomic_load_n(&slot->ready, __ATOMIC_ACQUIRE) &&
            !__atomic_load_n(&slot->exiting, __ATOMIC_ACQUIRE) && slot->reason[0] == '\0' &&
            (kill(pid, 0) == 0 || errno == EPERM))
            return 1;
    }
    return 0;
}

static apr_status_t close_fd(void *data)
{
    forward *f = data;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    gowsgi_wire_buf_free(&f->out);
    gowsgi_wire_reader_free(&f->in);
    return APR_SUCCESS;
}

static int forward_attempts(forward *f, request_rec *r, const gowsgi_daemon *daemon, gowsgi_request *req,
                            int ignore_activity);

/* A request that found every ticket of its group taken goes without one: it
 * is not sent elsewhere if its process dies or stops before beginning it.
 * Never silently: a warning when this process's first request finds none,
 * then not again until one of its requests has found one (a burst). */
static void no_ticket(const forward *f)
{
    static int burst;
    if (f->rt->tickets == NULL)
        return;
    if (f->ticket >= 0) {
        if (__atomic_load_n(&burst, __ATOMIC_RELAXED))
            __atomic_store_n(&burst, 0, __ATOMIC_RELAXED);
        return;
    }
    int calm = 0;
    if (__atomic_compare_exchange_n(&burst, &calm, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, f->r,
                      GOWSGI_LOGNO(0304) "gowsgi: all %u tickets of daemon process group '%s' are "
                      "taken: requests go without one (not sent to another process if theirs dies or stops before "
                      "beginning them) until one is free: %s", f->rt->ntickets, group_name(f), f->r->filename);
}

/* The outcome is decided (an answer, or a 503/504 the child gives up
 * with): the ticket is freed, then the connection closed, here and not at
 * the end of r->pool. A request the child gave up on cannot begin later,
 * when a daemon thread frees up, after the client got its 503 or 504: its
 * daemon's begin finds the word changed. Freed before the close, so that a
 * daemon seeing the end of the connection cannot begin it in between. */
static int forward_request(request_rec *r, const gowsgi_daemon *daemon, gowsgi_request *req, int error_override,
                           int ignore_activity)
{
    const gowsgi_daemon_rt *rt = gowsgi_daemon_runtime(daemon);
    if (rt == NULL || rt->channel[0] < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      GOWSGI_LOGNO(0305) "gowsgi: daemon process group '%s' is not running in this "
                      "server generation: %s", daemon->name, r->filename);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    int allowed = gowsgi_daemon_check_script(r, rt);
    if (allowed != OK)
        return allowed;
    forward *f = apr_pcalloc(r->pool, sizeof(*f));
    f->r = r;
    f->rt = rt;
    f->io_ctx = req->ctx;
    f->error_override = error_override;
    f->timeout_ms = rt->socket_timeout * 1000;
    f->fd = -1;
    f->ticket = -1;
    apr_pool_cleanup_register(r->pool, f, close_fd, apr_pool_cleanup_null);
    apr_pool_cleanup_register(r->pool, f, free_ticket, apr_pool_cleanup_null);
    int status = forward_attempts(f, r, daemon, req, ignore_activity);
    free_ticket(f);
    close_fd(f);
    return status;
}

static int forward_attempts(forward *f, request_rec *r, const gowsgi_daemon *daemon, gowsgi_request *req,
                            int ignore_activity)
{
    const gowsgi_daemon_rt *rt = f->rt;
    apr_time_t queue_start = apr_time_now();
    f->queue_start = queue_start;

    gowsgi_wire_request wr;
    memset(&wr, 0, sizeof(wr));
    memcpy(wr.secret, rt->secret, sizeof(wr.secret));
    wr.script_mtime = req->script_mtime;
    wr.request_start = req->request_start;
    wr.queue_start = (int64_t)queue_start;
    wr.flags = (req->script_reloading ? GOWSGI_REQ_SCRIPT_RELOADING : 0) |
               (req->head_only ? GOWSGI_REQ_HEAD_ONLY : 0) | (ignore_activity ? GOWSGI_REQ_IGNORE_ACTIVITY : 0) |
               (req->modwsgi6 ? GOWSGI_REQ_MODWSGI6 : 0);
    f->modwsgi6 = req->modwsgi6;
    wr.script = req->script;
    wr.process_group = req->process_group;
    wr.application_group = req->application_group;
    wr.callable_object = req->callable_object;
    wr.handler_script = req->handler_script;
    wr.nenv = (uint32_t)req->nenv;
    wr.env_keys = req->env_keys;
    wr.env_vals = req->env_vals;
    /* A ticket, so that a request no app has begun can go elsewhere. */
    static __thread unsigned ticket_hint;
    f->ticket = rt->tickets != NULL ? gowsgi_ticket_claim(rt->tickets, rt->ntickets, &ticket_hint, next_seq()) : -1;
    no_ticket(f);

    /* A replay (the script changed) goes to another process, or to the new
     * one once it is up: retried for up to connect-timeout. */
    apr_time_t give_up = queue_start + apr_time_from_sec(rt->connect_timeout);
    unsigned attempts = 0, goodbyes = 0, resent = 0, gone = 0;
    int keep_due = 0, channel_only = 0;
    for (;;) {
        /* A request queued for a group with no process up would wait out
         * socket-timeout: wait at most connect-timeout for one (mod_wsgi's
         * connect retries), then say what became of the last one. A
         * process that is starting (a slow import) is waited for up to
         * socket-timeout, as mod_wsgi's request waits on its listener. */
        apr_time_t woken = 0;
        while (!gowsgi_daemon_group_ready(rt)) {
            apr_time_t now = apr_time_now();
            /* An on-demand group asleep: wake it (the starter,
             * daemon_starter.c), again now and then in case a wake was
             * lost, and look more often than for a slow start; its cold
             * start is waited for as a slow start is, unless its last
             * process failed to come up (then as for any group). */
            if (rt->on_demand && (woken == 0 || now - woken >= apr_time_from_msec(250))) {
                gowsgi_starter_wake(rt);
                woken = now;
            }
            int starting = group_starting(rt) ||
                           (rt->on_demand && __atomic_load_n(&rt->shared->asleep, __ATOMIC_ACQUIRE) &&
                            !__atomic_load_n(&rt->shared->start_failed, __ATOMIC_ACQUIRE));
            if (starting && now >= queue_start + apr_time_from_sec(rt->socket_timeout)) {
                /* mod_wsgi's words and status for a read that timed out. */
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              GOWSGI_LOGNO(0306) "gowsgi: daemon process group '%s' is still starting "
                              "after socket-timeout=%d: Timeout when reading response headers from daemon process "
                              "'%s': %s", daemon->name, rt->socket_timeout, daemon->name, r->filename);
                return HTTP_GATEWAY_TIME_OUT;
            }
            if (!starting && now >= give_up) {
                const char *why = gowsgi_daemon_group_trouble(r->pool, rt);
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              GOWSGI_LOGNO(0307) "gowsgi: unable to connect to WSGI daemon process '%s': no process "
                              "of the group has "
                              "been ready within connect-timeout=%d%s%s: %s", daemon->name, rt->connect_timeout,
                              why ? "; " : "", why ? why : "", r->filename);
                return HTTP_SERVICE_UNAVAILABLE;
            }
            apr_sleep(apr_time_from_msec(rt->on_demand ? 10 : 50));
        }
        if (f->ticket >= 0) {
            /* Each attempt its own seq: a process late with an older one
             * cannot begin this one. */
            f->seq = next_seq();
            gowsgi_ticket_arm(ticket_of(f), f->seq);
            wr.ticket = (uint32_t)f->ticket + 1;
            wr.ticket_seq = f->seq;
        }
        f->begun_seen = 0;
        f->out.len = 0;
        if (gowsgi_wire_put_request(&f->out, &wr) != 0) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          GOWSGI_LOGNO(0308) "gowsgi: the request is too large to send to daemon process "
                          "group '%s': %s", daemon->name, r->filename);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        size_t early = 0;
        /* A kept connection first: no new socket, no descriptor passing.
         * If its daemon has gone since, the send fails before anything ran,
         * and a new connection goes through the channel. */
        f->fd = channel_only ? -1 : kept_take(rt, &f->kept_pid);
        f->reused = f->fd >= 0;
        if (f->reused) {
            if (gowsgi_wire_send(f->fd, f->out.p, f->out.len, f->timeout_ms) == 0)
                early = f->out.len;
            else {
                close(f->fd);
                f->fd = -1;
                f->reused = 0;
            }
        }
        if (f->fd < 0)
            f->fd = gowsgi_channel_connect_with(rt->channel[0], f->out.p, f->out.len, &early,
                                                rt->connect_timeout * 1000);
        if (f->fd < 0) {
            int err = -f->fd;
            f->fd = -1;
            ap_log_rerror(APLOG_MARK, APLOG_ERR, err, r,
                          GOWSGI_LOGNO(0309) "gowsgi: unable to connect to WSGI daemon process '%s' through its "
                          "channel as user with "
                          "uid=%d %s: %s", daemon->name, (int)getuid(),
                          err == ETIMEDOUT ? apr_psprintf(r->pool, "(no process of the group took the request "
                                                                   "within connect-timeout=%d)", rt->connect_timeout)
                                           : "(no process of the group is running)",
                          r->filename);
            return HTTP_SERVICE_UNAVAILABLE;
        }
        gowsgi_wire_reader_free(&f->in);
        memset(&f->in, 0, sizeof(f->in));
        f->in.fd = f->fd;
        f->in.wait_first = 1;
        f->daemon_pid = 0;
        f->frames_seen = 0;
        if (!f->reused && rt->response_buffer_size > 0)
            setsockopt(f->fd, SOL_SOCKET, SO_RCVBUF, &rt->response_buffer_size, sizeof(rt->response_buffer_size));
        int rc = early < f->out.len ? gowsgi_wire_send(f->fd, f->out.p + early, f->out.len - early, f->timeout_ms) : 0;
        f->out.len = 0;
        if (rc != 0) {
            /* The daemon never had all of the REQUEST, so it cannot have
             * begun it: it goes to another process, as one gone before
             * beginning it, within connect-timeout. */
            if (f->ticket >= 0)
                gowsgi_ticket_cancel(ticket_of(f), f->seq);
            close_fd(f);
            channel_only = 1;
            resent++;
            if (apr_time_now() >= give_up) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, -rc, r,
                              GOWSGI_LOGNO(0310) "gowsgi: daemon process group '%s': sending the request "
                              "failed (%u times within connect-timeout=%d): %s", daemon->name, resent,
                              rt->connect_timeout, r->filename);
                return HTTP_SERVICE_UNAVAILABLE;
            }
            ap_log_rerror(APLOG_MARK, APLOG_INFO, -rc, r,
                          GOWSGI_LOGNO(0311) "gowsgi: daemon process group '%s': sending the request "
                          "failed before it was whole; sending it to another process: %s", daemon->name,
                          r->filename);
            apr_sleep(apr_time_from_msec(20));
            continue;
        }
        /* socket-timeout runs from the first send: a request sent again
         * because its process went quiet does not start it over. */
        if (!keep_due)
            f->headers_due = apr_time_now() + apr_time_from_msec(f->timeout_ms);
        keep_due = 0;
        int status = follow_with_timeout(f);
        if (status == QUIET || status == GONE) {
            /* Not begun: another process of the group takes it, through
             * the channel (a new one, once up, if this was the last). */
            close_fd(f);
            channel_only = 1;
            resent++;
            if (status == QUIET) {
                keep_due = 1;
                continue;
            }
            if (apr_time_now() >= give_up) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              GOWSGI_LOGNO(0312) "gowsgi: daemon process group '%s': every process the "
                              "request was sent to went away before beginning it (%u times within "
                              "connect-timeout=%d): %s", daemon->name, resent, rt->connect_timeout, r->filename);
                return HTTP_SERVICE_UNAVAILABLE;
            }
            /* One line a request, not one a try: a group whose processes
             * keep closing connections unread (one that refuses Apache's
             * children, say) would otherwise fill the log, and the tries
             * after the first wait a little, as for GOODBYE. */
            if (++gone == 1)
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                              GOWSGI_LOGNO(0313) "gowsgi: daemon process of group '%s'%s went away before "
                              "beginning the request; sending it to another process: %s", daemon->name,
                              f->reused ? apr_psprintf(r->pool, " (pid %d, a kept connection)", f->kept_pid) : "",
                              r->filename);
            else
                apr_sleep(apr_time_from_msec(20));
            continue;
        }
        if (status == GOODBYE) {
            /* Never taken: not a replay. A process that stops says it once
             * per kept connection; a group whose processes keep saying it
             * is given connect-timeout, as one that takes nothing. */
            close_fd(f);
            if (++goodbyes > 1)
                apr_sleep(apr_time_from_msec(20));
            if (apr_time_now() >= give_up) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              GOWSGI_LOGNO(0314) "gowsgi: daemon process group '%s' sent every connection "
                              "back unserved (%u times within connect-timeout=%d): %s", daemon->name, goodbyes,
                              rt->connect_timeout, r->filename);
                return HTTP_SERVICE_UNAVAILABLE;
            }
            continue;
        }
        if (status != REPLAY)
            return status;
        close_fd(f);
        attempts++;
        if (f->restarting)
            wr.restarts++;
        if (apr_time_now() >= give_up) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          GOWSGI_LOGNO(0315) "Maximum number of WSGI daemon process restart connects "
                          "reached for group '%s' (%u attempts within connect-timeout=%d): %s", daemon->name,
                          attempts, rt->connect_timeout, r->filename);
            return HTTP_SERVICE_UNAVAILABLE;
        }
        if (f->restarting)
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          GOWSGI_LOGNO(0316) "gowsgi: daemon process group '%s': the script changed; "
                          "sending the request to a new process: %s", daemon->name, r->filename);
        else
            apr_sleep(apr_time_from_msec(50));   /* the new process is starting */
    }
}

int gowsgi_daemon_forward(request_rec *r, const gowsgi_daemon *daemon, gowsgi_request *req, int error_override,
                          int ignore_activity)
{
    /* The worker counts against the group's share (fair_share.c) until the
     * request is answered: past it, 503 at once. */
    const gowsgi_daemon_rt *rt = gowsgi_daemon_runtime(daemon);
    gowsgi_fair_ticket ticket = {-1, -1};
    int status = rt != NULL ? gowsgi_fair_share_enter(r, rt, &ticket) : OK;
    if (status != OK)
        return status;
    status = forward_request(r, daemon, req, error_override, ignore_activity);
    gowsgi_fair_share_leave(r, rt, &ticket);
    return status;
}
