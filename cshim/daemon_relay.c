/*
 * daemon_relay.c: an Apache child following a daemon process on one
 * attempt of a forwarded request, until the response ends: body bytes
 * when the app reads (READ), log lines, then an error status or the
 * response, checked again (a tenant controls its daemon) and passed to the
 * client through the same callbacks embedded mode uses (apache_io.c). A
 * lost request is said in one line and mapped to mod_wsgi's status.
 */
#include "daemon_forward.h"
#include "metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

/* The daemon answered (its END or ERROR frame): one more request of the
 * process that said who it is, in its slot of the group, for the status
 * page. A slot whose process has changed since is left alone. */
static void count_answer(gowsgi_forward *f)
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
static int lost(gowsgi_forward *f, int status, const char *why)
{
    if (f->daemon_pid)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, f->r,
                      GOWSGI_LOGNO(0300) "gowsgi: daemon process of group '%s' (pid %u): %s: %s",
                      gowsgi_forward_group(f), f->daemon_pid, why, f->r->filename);
    else
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, f->r,
                      GOWSGI_LOGNO(0301) "gowsgi: daemon process group '%s': %s: %s", gowsgi_forward_group(f),
                      why, f->r->filename);
    if (f->headers_sent) {
        gowsgi_request_break(f->io_ctx);
        return OK;
    }
    return status;
}

/* The daemon closed the connection mid-request: ask the parent's record
 * why (it notices a death within about a second). */
static const char *ended_why(gowsgi_forward *f)
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

static int send_out(gowsgi_forward *f)
{
    int rc = gowsgi_wire_send(f->fd, f->out.p, f->out.len, f->timeout_ms);
    f->out.len = 0;
    return rc;
}

/* The app asked for up to max body bytes. */
static int send_body(gowsgi_forward *f, uint32_t max)
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

static int apply_headers(gowsgi_forward *f, const unsigned char *p, size_t len)
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

static int redirect(gowsgi_forward *f)
{
    request_rec *r = f->r;
    /* A GET, whatever the method was; the body was read already. */
    r->method = "GET";
    r->method_number = M_GET;
    apr_table_unset(r->headers_in, "Content-Length");
    ap_internal_redirect_handler(f->redirect, r);
    return OK;
}

/* Follows the daemon until the response ends. Returns Apache's status, or
 * a GOWSGI_FWD_ answer. */
static int follow(gowsgi_forward *f)
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
        int tick = f->ticket >= 0 && !f->frames_seen && !f->begun_seen
                       ? f->reused ? GOWSGI_FWD_TICK_KEPT_MS : GOWSGI_FWD_TICK_CHANNEL_MS
                       : 0;
        int ticking = tick > 0 && timeout > tick;
        int rc = gowsgi_wire_read(&f->in, &type, &p, &len, ticking ? tick : timeout);
        if (rc == -ETIMEDOUT && ticking) {
            if (gowsgi_forward_tick_passed(f) == GOWSGI_FWD_QUIET)
                return GOWSGI_FWD_QUIET;
            continue;
        }
        if ((rc == 1 || rc == -ECONNRESET) && !f->frames_seen && f->ticket >= 0) {
            /* Gone before a frame: not begun, it goes elsewhere; begun,
             * it is lost, with its cause. */
            if (gowsgi_ticket_cancel(gowsgi_forward_ticket(f), f->seq))
                return GOWSGI_FWD_GONE;
            int taker = __atomic_load_n(&gowsgi_forward_ticket(f)->taker_pid, __ATOMIC_ACQUIRE);
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
            return GOWSGI_FWD_GOODBYE;
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
                return GOWSGI_FWD_REPLAY;
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
                    gowsgi_kept_put(f->rt, f->fd, (int)f->daemon_pid) == 0)
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
int gowsgi_forward_follow(gowsgi_forward *f)
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
