/*
 * daemon_forward.h: what the parts of an Apache child's forwarding of one
 * request to a daemon group share (private to them): the request's state,
 * the answers that are not HTTP statuses, and each part's calls. The
 * attempts (daemon_forward.c) send the request and send it again; the
 * relay (daemon_relay.c) follows the daemon and answers the client; the
 * request's ticket (daemon_forward_ticket.c) tells whether a process began
 * it; and each Apache thread keeps connections the daemons kept open
 * (daemon_kept_conns.c).
 */
#ifndef GOWSGI_DAEMON_FORWARD_H
#define GOWSGI_DAEMON_FORWARD_H

#include "daemon.h"

/* One forwarded request, in r->pool. */
typedef struct gowsgi_forward {
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
} gowsgi_forward;

/* The relay's answers that are not HTTP statuses: the daemon asks for the
 * request to be sent again (REPLAY: its script changed, a new process will
 * answer); a kept connection was closed before the request was taken
 * (GOODBYE); the connection ended (GONE), or the process stopped answering
 * (QUIET), before the request was begun: it goes to another process. */
enum {
    GOWSGI_FWD_REPLAY = -2,
    GOWSGI_FWD_GOODBYE = -3,
    GOWSGI_FWD_GONE = -4,
    GOWSGI_FWD_QUIET = -5,
};

/* How long the child waits for a sign of life before it looks at its
 * ticket: an idle process begins a request on a kept connection within
 * microseconds; one through the channel may be queued behind busy ones. */
#define GOWSGI_FWD_TICK_KEPT_MS 200
#define GOWSGI_FWD_TICK_CHANNEL_MS 500

static inline const char *gowsgi_forward_group(const gowsgi_forward *f)
{
    return f->rt->conf->name;
}

static inline gowsgi_ticket *gowsgi_forward_ticket(const gowsgi_forward *f)
{
    return &f->rt->tickets[f->ticket];
}

/* daemon_relay.c: follows the daemon on f->fd until the response ends,
 * under response-socket-timeout. Apache's status, or a GOWSGI_FWD_ answer. */
int gowsgi_forward_follow(gowsgi_forward *f);

/* daemon_forward_ticket.c: claims the request's ticket (f->ticket, or -1
 * when the group has none free: said once a burst); arms it for a new
 * attempt with a seq of its own (f->seq); frees it (an APR cleanup); and,
 * when a tick passed with no frame, whether the attempt was taken back
 * (GOWSGI_FWD_QUIET: another process gets it) or 0 (wait on). */
void gowsgi_forward_ticket_claim(gowsgi_forward *f);
void gowsgi_forward_ticket_arm(gowsgi_forward *f);
apr_status_t gowsgi_forward_ticket_free(void *data);
int gowsgi_forward_tick_passed(gowsgi_forward *f);

/* daemon_kept_conns.c: this thread's kept connection to the group if its
 * process has a worker waiting now (the fd and *pid), else -1; and keeping
 * fd for this thread's next request to the group (0, or -1 when it cannot
 * be kept: the caller closes it). */
int gowsgi_kept_take(const gowsgi_daemon_rt *rt, int *pid);
int gowsgi_kept_put(const gowsgi_daemon_rt *rt, int fd, int pid);

#endif
