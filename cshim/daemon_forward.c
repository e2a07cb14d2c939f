/*
 * daemon_forward.c: an Apache child serving a request through a daemon
 * group, and its attempts. It waits for a process of the group to be
 * ready (connect-timeout; a starting one up to socket-timeout), sends the
 * request (the same CGI variables embedded mode builds) with the group's
 * secret, on a kept connection (daemon_kept_conns.c) or through the
 * group's channel, and follows the daemon (daemon_relay.c). A request no
 * process began (its ticket says so: daemon_forward_ticket.c), one sent
 * back unserved, or one the daemon asks to replay goes again, to another
 * process, within connect-timeout: one log line a request, not one a try.
 * Bytes move C to C; the child needs no Go and no Python.
 */
#include "daemon_forward.h"
#include "fair_share.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "apr_strings.h"

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
    gowsgi_forward *f = data;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    gowsgi_wire_buf_free(&f->out);
    gowsgi_wire_reader_free(&f->in);
    return APR_SUCCESS;
}

static int forward_attempts(gowsgi_forward *f, request_rec *r, const gowsgi_daemon *daemon, gowsgi_request *req,
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
    gowsgi_forward_ticket_claim(f);

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
            /* A request this child read after a graceful restart, once its
             * generation's processes of the group have all gone and none
             * will start: mod_wsgi's 503, at once. */
            if (__atomic_load_n(&rt->shared->generation_ended, __ATOMIC_ACQUIRE)) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              GOWSGI_LOGNO(0331) "gowsgi: daemon process group '%s' has no process left in "
                              "this Apache child's generation, which a graceful restart ended, and none will "
                              "start (they drain for at most graceful-timeout=%d): %s", daemon->name,
                              rt->graceful_timeout, r->filename);
                return HTTP_SERVICE_UNAVAILABLE;
            }
            /* An on-demand group asleep: wake it (the starter,
             * daemon_starter.c), again now and then in case a wake was
             * lost, and look more often than for a slow start (a process
             * that gets ready wakes the wait at once); its cold
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
            gowsgi_daemon_wait_ready(rt, rt->on_demand ? 10 : 50);
        }
        if (f->ticket >= 0) {
            gowsgi_forward_ticket_arm(f);
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
        f->fd = channel_only ? -1 : gowsgi_kept_take(rt, &f->kept_pid);
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
                gowsgi_ticket_cancel(gowsgi_forward_ticket(f), f->seq);
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
        int status = gowsgi_forward_follow(f);
        if (status == GOWSGI_FWD_QUIET || status == GOWSGI_FWD_GONE) {
            /* Not begun: another process of the group takes it, through
             * the channel (a new one, once up, if this was the last). */
            close_fd(f);
            channel_only = 1;
            resent++;
            if (status == GOWSGI_FWD_QUIET) {
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
        if (status == GOWSGI_FWD_GOODBYE) {
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
        if (status != GOWSGI_FWD_REPLAY)
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
    gowsgi_forward *f = apr_pcalloc(r->pool, sizeof(*f));
    f->r = r;
    f->rt = rt;
    f->io_ctx = req->ctx;
    f->error_override = error_override;
    f->timeout_ms = rt->socket_timeout * 1000;
    f->fd = -1;
    f->ticket = -1;
    apr_pool_cleanup_register(r->pool, f, close_fd, apr_pool_cleanup_null);
    apr_pool_cleanup_register(r->pool, f, gowsgi_forward_ticket_free, apr_pool_cleanup_null);
    int status = forward_attempts(f, r, daemon, req, ignore_activity);
    gowsgi_forward_ticket_free(f);
    close_fd(f);
    return status;
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
