/*
 * daemon_serve.c: a daemon process's worker threads. Each waits on the
 * group's channel only while it is idle, takes one connection, checks who
 * sent it, and runs the request through the same entry as embedded mode
 * (gowsgi_serve) with I/O callbacks that speak the wire protocol
 * (daemon_wire.h) instead of Apache's filters: body bytes are pulled from
 * the Apache child as the app reads, the response goes back as frames.
 * Go (daemon.go) decides when the process stops; daemon_pool.go starts
 * the threads, one at first and another whenever the last idle one takes a
 * connection, up to threads=.
 */
#include "engine.h"
#include "daemon_channel.h"
#include "daemon_log.h"
#include "daemon_serve.h"
#include "daemon_signals.h"
#include "daemon_ticket.h"
#include "daemon_wire.h"
#include "_cgo_export.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static pid_t self_pid;   /* this daemon process (no getpid per request) */

typedef struct conn {
    int fd;
    int timeout_ms;
    pthread_mutex_t send_lock;    /* LOG frames may come from other threads */
    int send_failed;
    int body_done;
    const char *read_error;
    gowsgi_wire_buf out;
    gowsgi_wire_reader in;
    char reason[256];
    /* The request's client ("ip:port") and Referer for its log lines,
     * found in its environ (keys, vals, n) by the first line that needs
     * them: most requests log nothing. */
    const char *const *keys, *const *vals;
    int n;
    int client_state;             /* 0: not looked up; 1: being looked up; 2: done */
    char remote[96];
    const char *referer;
} conn;

/* Response frames wait in c->out until this much is there, a flush is
 * asked for, the app reads the body, or the response ends: a small
 * response leaves in one send. */
#define COALESCE_LIMIT (64u << 10)

/* Sends what is in c->out; once a send fails the Apache child is gone and
 * nothing more is sent. Caller holds send_lock. */
static int flush_out(conn *c)
{
    int rc = c->send_failed ? -EPIPE : gowsgi_wire_send(c->fd, c->out.p, c->out.len, c->timeout_ms);
    c->out.len = 0;
    if (rc != 0)
        c->send_failed = 1;
    return rc;
}

static long conn_read(void *ctx, char *buf, size_t len)
{
    conn *c = ctx;
    int type;
    const unsigned char *p;
    size_t plen;
    if (c->body_done)
        return 0;
    if (len > GOWSGI_WIRE_MAX_CHUNK)
        len = GOWSGI_WIRE_MAX_CHUNK;
    pthread_mutex_lock(&c->send_lock);
    int rc = gowsgi_wire_put_u32(&c->out, GOWSGI_FRAME_READ, (uint32_t)len) == 0 ? flush_out(c) : -ENOMEM;
    pthread_mutex_unlock(&c->send_lock);
    if (rc == 0)
        rc = gowsgi_wire_read(&c->in, &type, &p, &plen, c->timeout_ms);
    if (rc != 0) {
        c->read_error = rc == -ETIMEDOUT ? "The timeout specified has expired" : "Connection was terminated";
        return -1;
    }
    switch (type) {
    case GOWSGI_FRAME_BODY:
        if (plen == 0 || plen > len)
            break;
        memcpy(buf, p, plen);
        return (long)plen;
    case GOWSGI_FRAME_BODY_END:
        c->body_done = 1;
        return 0;
    case GOWSGI_FRAME_BODY_ERROR: {
        size_t n = plen < sizeof(c->reason) - 1 ? plen : sizeof(c->reason) - 1;
        memcpy(c->reason, p, n);
        c->reason[n] = '\0';
        c->read_error = c->reason;
        return -1;
    }
    default:
        break;
    }
    c->read_error = "Connection was terminated";
    return -1;
}

static int conn_start(void *ctx, int status, const char *status_line, int nheaders, const char *const *names,
                      const char *const *values)
{
    conn *c = ctx;
    gowsgi_wire_headers h = {status, status_line, (uint32_t)nheaders, names, values};
    pthread_mutex_lock(&c->send_lock);
    if (gowsgi_wire_put_headers(&c->out, &h) != 0)
        c->send_failed = 1;   /* sent with the first data, a flush, or the end */
    pthread_mutex_unlock(&c->send_lock);
    return 0;
}

static int conn_data(conn *c, int flags, const char *buf, size_t len)
{
    int rc = 0;
    pthread_mutex_lock(&c->send_lock);
    do {
        size_t n = len > GOWSGI_WIRE_MAX_CHUNK ? GOWSGI_WIRE_MAX_CHUNK : len;
        int last = n == len;
        if (c->send_failed || gowsgi_wire_put_data(&c->out, last ? flags : 0, buf, n) != 0)
            rc = -1;
        else if ((last && (flags & GOWSGI_DATA_FLUSH)) || c->out.len >= COALESCE_LIMIT)
            rc = flush_out(c) == 0 ? 0 : -1;
        buf += n;
        len -= n;
    } while (rc == 0 && len > 0);
    pthread_mutex_unlock(&c->send_lock);
    return rc;
}

static int conn_write(void *ctx, const char *buf, size_t len)
{
    return conn_data(ctx, 0, buf, len);
}

static int conn_flush(void *ctx)
{
    return conn_data(ctx, GOWSGI_DATA_FLUSH, NULL, 0);
}

/* No sendfile across the process boundary yet: the file's bytes travel as
 * DATA frames (mod_wsgi also gives up sendfile in daemon mode). */
static int conn_sendfile(void *ctx, int fd, int64_t offset, int64_t len)
{
    char buf[64 * 1024];
    while (len > 0) {
        ssize_t n = pread(fd, buf, len < (int64_t)sizeof(buf) ? (size_t)len : sizeof(buf), offset);
        if (n <= 0)
            return -1;
        if (conn_write(ctx, buf, (size_t)n) != 0)
            return -1;
        offset += n;
        len -= n;
    }
    return 0;
}

/* A line for the request's log, with the client's address: written by
 * this process to its vhost's log (daemon_log.h), or else sent for the
 * Apache child to log; the process log if the child is gone. */
static void conn_log(void *ctx, int level, const char *msg, size_t len)
{
    conn *c = ctx;
    int queued = 0;
    if (gowsgi_daemon_log_own()) {
        /* Once per request; a line from another thread meanwhile waits
         * for the look-up (a few string compares, nothing that blocks). */
        int state = 0;
        if (__atomic_compare_exchange_n(&c->client_state, &state, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            gowsgi_daemon_log_client(c->keys, c->vals, c->n, c->remote, sizeof(c->remote), &c->referer);
            __atomic_store_n(&c->client_state, 2, __ATOMIC_RELEASE);
        } else {
            while (__atomic_load_n(&c->client_state, __ATOMIC_ACQUIRE) != 2)
                sched_yield();
        }
    }
    if (gowsgi_daemon_log_request(c->remote, c->referer, level, msg, len) == 0)
        return;
    /* Called with the GIL held: never wait for the socket or for a writer
     * that is (GIL released) inside a send. The line goes with the next
     * frames; if it cannot be queued now it goes to the process log. */
    if (pthread_mutex_trylock(&c->send_lock) == 0) {
        if (!c->send_failed && c->out.len < 4 * COALESCE_LIMIT)
            queued = gowsgi_wire_put_log(&c->out, level, msg, len) == 0;
        pthread_mutex_unlock(&c->send_lock);
    }
    if (!queued && gowsgi_config.log != NULL)
        gowsgi_config.log(level, msg, len);   /* logno: relayed, the writer's */
}

static void conn_interrupt_read(void *ctx)
{
    conn *c = ctx;
    shutdown(c->fd, SHUT_RD);
}

static const char *conn_read_error(void *ctx)
{
    conn *c = ctx;
    return c->read_error ? c->read_error : "Unknown error";
}

static const gowsgi_io conn_io = {
    .read = conn_read,
    .start = conn_start,
    .write = conn_write,
    .flush = conn_flush,
    .sendfile = conn_sendfile,
    .log = conn_log,
    .interrupt_read = conn_interrupt_read,
    .read_error = conn_read_error,
};

/* Only a child of this Apache, running as Apache's User, may send requests
 * (ARCHITECTURE.md section 5); the channel already limits who can reach us,
 * this makes sure of it. */
static int peer_allowed(const gowsgi_daemon_init *init, int fd, char *why, size_t whylen)
{
    pid_t pid;
    uid_t uid;
    int rc = gowsgi_channel_peer(fd, &pid, &uid);
    if (rc != 0) {
        snprintf(why, whylen, "its credentials are unknown (%s)", strerror(-rc));
        return 0;
    }
    if (uid != (uid_t)init->peer_uid) {
        snprintf(why, whylen, "it runs as uid %d, not Apache's uid %u (pid %d)", (int)uid, init->peer_uid, (int)pid);
        return 0;
    }
    /* Apache's children live long: each thread remembers the last few it
     * checked, so /proc is read once per child, not once per request. */
    static __thread pid_t known[8];
    static __thread unsigned next_known;
    for (unsigned i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (known[i] == pid)
            return 1;
    int ppid = -1, sid = -1;
    rc = gowsgi_process_ids(pid, &ppid, &sid);
    if (rc == -EACCES) {
        /* /proc hides other users' processes (hidepid=): the uid, the
         * channel and the secret still hold; say so once. */
        static int said;
        if (!__atomic_exchange_n(&said, 1, __ATOMIC_ACQ_REL))
            gowsgi_log_processf(GOWSGI_LOG_WARNING,
                                GOWSGI_LOGNO(0209) "gowsgi (pid=%d): daemon process group '%s' cannot see Apache's "
                               "children in /proc (hidepid?): it checks their uid and the group's secret only",
                               (int)getpid(), init->group);
        return 1;
    }
    /* A child of the parent, still in Apache's session: another group's
     * daemon (it left the session) is refused even when it runs as
     * Apache's User. */
    if (rc != 0 || ppid != init->parent_pid || sid != init->parent_sid) {
        snprintf(why, whylen, "pid %d is not a child of this Apache (parent %d, session %d)", (int)pid, ppid, sid);
        return 0;
    }
    known[next_known++ % (sizeof(known) / sizeof(known[0]))] = pid;
    return 1;
}

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* A worker counts as idle from before it waits until it has taken a
 * connection: in this process (which starts another worker when none is
 * left) and in the group's shared records (Apache's children read it). */
static void idle_add(gowsgi_daemon_state *st)
{
    __atomic_add_fetch(&st->idle_workers, 1, __ATOMIC_ACQ_REL);
    if (st->shared_idle)
        __atomic_add_fetch(st->shared_idle, 1, __ATOMIC_ACQ_REL);
}

/* Returns how many of this process's workers are still idle. */
static int idle_sub(gowsgi_daemon_state *st)
{
    if (st->shared_idle)
        __atomic_sub_fetch(st->shared_idle, 1, __ATOMIC_ACQ_REL);
    return __atomic_sub_fetch(&st->idle_workers, 1, __ATOMIC_ACQ_REL);
}

/* The last idle worker took a connection: another is started, unless
 * threads= are already running. A thread costs memory (its stack's touched
 * pages, a Go M, a Python thread state) only once concurrency has needed it,
 * and a process still takes a request only while it has an idle worker
 * (the new one counts as idle once it waits). */
static void want_worker(gowsgi_daemon_state *st)
{
    int n = __atomic_load_n(&st->started, __ATOMIC_ACQUIRE);
    while (n < st->nthreads && !__atomic_load_n(&st->stopping, __ATOMIC_ACQUIRE)) {
        if (__atomic_compare_exchange_n(&st->started, &n, n + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            gowsgiDaemonWorkerWanted(n);
            return;
        }
    }
}

/* What serve() did with a request. */
enum {
    SERVED_ACTIVITY = 1,          /* counts for inactivity-timeout (not WSGIIgnoreActivity) */
    SERVED_KEEP = 2,              /* the connection takes another request (END_COMPLETE_KEEP sent) */
    SERVED_NOTHING = 4,           /* no request came: the child closed a kept connection */
    SERVED_COUNTED = 8            /* the worker already counts itself idle (before END left) */
};

/* One request on a connection: a fresh one (whose peer is checked), or a
 * kept one a request has just arrived on. may_keep: the process can take
 * another request on it afterwards. Returns SERVED_* flags. */
static int serve(const gowsgi_daemon_init *init, gowsgi_daemon_state *st, int fd, int fresh, int may_keep)
{
    int activity = SERVED_ACTIVITY, kept = 0, counted = 0;
    long nth = 0;   /* this request's number, for maximum-requests */
    conn c;
    memset(&c, 0, sizeof(c));
    c.fd = fd;
    c.in.fd = fd;
    if (fresh && init->send_buffer_size > 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &init->send_buffer_size, sizeof(init->send_buffer_size));
    if (fresh && init->receive_buffer_size > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &init->receive_buffer_size, sizeof(init->receive_buffer_size));
    c.timeout_ms = init->socket_timeout > 0 ? init->socket_timeout * 1000 : 60000;
    pthread_mutex_init(&c.send_lock, NULL);
    char why[256], err[256];
    int type;
    gowsgi_wire_request *wr = NULL;
    int64_t daemon_start = now_us();

    /* A kept connection's peer was checked when it came. */
    if (fresh && !peer_allowed(init, fd, why, sizeof(why))) {
        gowsgi_log_processf(GOWSGI_LOG_ERR,
                            GOWSGI_LOGNO(0210) "gowsgi (pid=%d): daemon process group '%s' refused a connection: %s",
                           (int)getpid(), init->group, why);
        goto done;
    }
    /* ACCEPT leaves with the first frames of the answer. */
    if (gowsgi_wire_put_accept(&c.out, (uint32_t)self_pid,
                               (uint32_t)__atomic_load_n(&st->served, __ATOMIC_RELAXED)) != 0)
        goto done;
    const unsigned char *p;
    size_t plen;
    int rc = gowsgi_wire_read(&c.in, &type, &p, &plen, c.timeout_ms);
    if (rc != 0 && !fresh) {
        /* The child closed it, or went away: nothing to say. */
        activity = SERVED_NOTHING;
        goto done;
    }
    if (rc != 0 || type != GOWSGI_FRAME_REQUEST ||
        (wr = gowsgi_wire_get_request(p, plen, err, sizeof(err))) == NULL) {
        gowsgi_log_processf(GOWSGI_LOG_ERR,
                            GOWSGI_LOGNO(0211) "gowsgi (pid=%d): daemon process group '%s' dropped a connection: %s",
                           (int)getpid(), init->group,
                           rc == 1 ? "it closed before sending a request"
                           : rc != 0 ? "no request arrived in time"
                           : type != GOWSGI_FRAME_REQUEST ? "the first frame was not a request" : err);
        goto done;
    }
    /* Constant time: the secret is the proof the request came from Apache. */
    unsigned char diff = 0;
    for (size_t i = 0; i < GOWSGI_DAEMON_SECRET_SIZE; i++)
        diff |= (unsigned char)(wr->secret[i] ^ init->secret[i]);
    if (diff != 0) {
        gowsgi_log_processf(GOWSGI_LOG_ERR,
                            GOWSGI_LOGNO(0212) "gowsgi (pid=%d): daemon process group '%s' refused a request without "
                            "the group's secret", (int)getpid(), init->group);
        if (gowsgi_wire_put_error(&c.out, 500, GOWSGI_CAUSE_SECRET, "") == 0)
            flush_out(&c);
        goto done;
    }

    /* maximum-requests counts a request once it is here: with kept
     * connections the next one may come before this one is counted
     * served. One over the limit is sent back untouched (GOODBYE, and
     * not the ACCEPT queued above) and the process stops. */
    nth = __atomic_add_fetch(&st->taken, 1, __ATOMIC_ACQ_REL);
    if (init->maximum_requests > 0 && nth > init->maximum_requests) {
        c.out.len = 0;
        if (gowsgi_wire_put_frame(&c.out, GOWSGI_FRAME_GOODBYE, NULL, 0) == 0)
            flush_out(&c);
        gowsgi_daemon_stop(st);
        activity = SERVED_NOTHING;
        goto done;
    }
    if (init->maximum_requests > 0 && nth >= init->maximum_requests)
        may_keep = 0;
    if (wr->flags & GOWSGI_REQ_IGNORE_ACTIVITY)
        activity = 0;
    /* queue-timeout: a request that waited too long for a free thread is
     * not run (mod_wsgi's 504 and words), so a backlog clears instead of
     * serving clients that have given up. */
    if (init->queue_timeout > 0 && daemon_start - wr->queue_start > (int64_t)init->queue_timeout * 1000000) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 GOWSGI_LOGNO(0213) "Queue timeout expired for WSGI daemon process '%s' (waited %.1f s for a free "
                 "thread, queue-timeout=%d): %s", init->group, (double)(daemon_start - wr->queue_start) / 1e6,
                 init->queue_timeout, wr->script);
        if (gowsgi_wire_put_error(&c.out, 504, GOWSGI_CAUSE_QUEUE_TIMEOUT, msg) == 0)
            flush_out(&c);
        goto done;
    }

    /* The environ of daemon mode: the child's CGI variables plus what only
     * the daemon knows (mod_wsgi 4.9.4's daemon keys, strings). */
    uint32_t n = wr->nenv;
    const char **keys = malloc(sizeof(char *) * (n + 4));
    const char **vals = malloc(sizeof(char *) * (n + 4));
    char queue_start[32], start[32], restarts[16];
    if (keys == NULL || vals == NULL) {
        free(keys);
        free(vals);
        goto done;
    }
    memcpy(keys, wr->env_keys, sizeof(char *) * n);
    memcpy(vals, wr->env_vals, sizeof(char *) * n);
    snprintf(queue_start, sizeof(queue_start), "%lld", (long long)wr->queue_start);
    snprintf(start, sizeof(start), "%lld", (long long)daemon_start);
    snprintf(restarts, sizeof(restarts), "%u", wr->restarts);
    keys[n] = "mod_wsgi.queue_start", vals[n++] = queue_start;
    keys[n] = "mod_wsgi.daemon_start", vals[n++] = start;
    keys[n] = "mod_wsgi.daemon_connects", vals[n++] = "1";
    keys[n] = "mod_wsgi.daemon_restarts", vals[n++] = restarts;
    c.keys = (const char *const *)keys;
    c.vals = (const char *const *)vals;
    c.n = (int)n;

    const char *replay_why = "";
    gowsgi_request req;
    memset(&req, 0, sizeof(req));
    req.ctx = &c;
    req.io = &conn_io;
    req.script = wr->script;
    req.script_mtime = wr->script_mtime;
    req.process_group = wr->process_group;
    req.application_group = wr->application_group;
    req.callable_object = wr->callable_object;
    req.handler_script = wr->handler_script;
    req.script_reloading = (wr->flags & GOWSGI_REQ_SCRIPT_RELOADING) != 0;
    req.enable_sendfile = 0;
    req.head_only = (wr->flags & GOWSGI_REQ_HEAD_ONLY) != 0;
    req.request_start = wr->request_start;
    req.modwsgi6 = (wr->flags & GOWSGI_REQ_MODWSGI6) != 0;
    req.nenv = (int)n;
    req.env_keys = keys;
    req.env_vals = vals;

    /* A changed script: the process that sees it first makes way for a new
     * one (mod_wsgi restarts the process too, but every process at once),
     * and the Apache child replays the request there. While one process is
     * being replaced the others keep serving, on the code they have, so the
     * group never drops more than one process; a replayed request is never
     * answered by old code. */
    if (req.script_reloading && gowsgi_app_stale(&req)) {
        int free_token = 0, self = (int)getpid();
        if (wr->restarts == 0 &&
            (__atomic_compare_exchange_n(init->reload_token, &free_token, self, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE) ||
             __atomic_load_n(init->reload_token, __ATOMIC_ACQUIRE) == self)) {
            __atomic_store_n(&st->reloading, 1, __ATOMIC_RELEASE);
            gowsgi_daemon_stop(st);
            replay_why = "restarting";
            goto replay;
        }
        if (wr->restarts > 0) {
            replay_why = "waiting";   /* for the new process: not this stale one */
            goto replay;
        }
        req.script_reloading = 0;   /* serve it as loaded */
    }

    /* The last word before the app: the child may have cancelled this
     * attempt and sent it elsewhere (this process looked stopped or went
     * quiet). Then nothing runs and the connection closes unanswered. */
    if (wr->ticket != 0 && init->tickets != NULL && wr->ticket <= init->ntickets &&
        !gowsgi_ticket_begin(&init->tickets[wr->ticket - 1], wr->ticket_seq, (int)self_pid)) {
        gowsgi_log_processf(GOWSGI_LOG_DEBUG,
                            GOWSGI_LOGNO(0214) "gowsgi (pid=%d): daemon process group '%s' dropped a request its "
                            "Apache child had sent elsewhere: %s", (int)self_pid, init->group, wr->script);
        __atomic_sub_fetch(&st->taken, 1, __ATOMIC_ACQ_REL);
        nth = 0;
        activity = SERVED_NOTHING;
        goto release;
    }
    int status = gowsgi_serve(&req);
    pthread_mutex_lock(&c.send_lock);
    /* Kept only after a complete response, with nothing left unread: the
     * next bytes on it must be the child's next REQUEST. */
    kept = status == 0 && may_keep && !c.send_failed && c.in.start == c.in.end &&
           !__atomic_load_n(&st->stopping, __ATOMIC_ACQUIRE);
    /* This worker is done with the app: it counts as idle from before the
     * child hears END, or the child's next request could find the process
     * busy only because this thread has not yet got back to its wait. */
    idle_add(st);
    counted = 1;
    if (status == 0 || status == GOWSGI_INCOMPLETE)
        rc = gowsgi_wire_put_end(&c.out, kept ? GOWSGI_END_COMPLETE_KEEP
                                              : status == 0 ? GOWSGI_END_COMPLETE : GOWSGI_END_INCOMPLETE);
    else if (status == 504 && gowsgi_slot_interrupted_after > 0) {
        /* mod_wsgi 6's interrupt-timeout: the child answers 504 and logs
         * this line (one per interrupted request). */
        char msg[600];
        snprintf(msg, sizeof(msg),
                 GOWSGI_LOGNO(0215) "Request interrupted after %.1f s by request-timeout=%d (interrupt-timeout=%d) "
                 "in daemon process group '%s' (pid=%d): %s", (double)gowsgi_slot_interrupted_after / 1e6,
                 init->request_timeout, init->interrupt_timeout, init->group, (int)self_pid, wr->script);
        rc = gowsgi_wire_put_error(&c.out, 504, GOWSGI_CAUSE_INTERRUPTED, msg);
    } else
        rc = gowsgi_wire_put_error(&c.out, status, GOWSGI_CAUSE_APP, "");
    if (rc != 0 || flush_out(&c) != 0)
        kept = 0;
    pthread_mutex_unlock(&c.send_lock);
    goto release;

replay:
    if (gowsgi_wire_put_error(&c.out, 503, GOWSGI_CAUSE_RELOAD, replay_why) == 0)
        flush_out(&c);
release:
    free(keys);
    free(vals);

done:
    free(wr);
    gowsgi_wire_buf_free(&c.out);
    gowsgi_wire_reader_free(&c.in);
    pthread_mutex_destroy(&c.send_lock);
    if (init->maximum_requests > 0 && nth >= init->maximum_requests)
        gowsgi_daemon_stop(st);
    return activity | (kept ? SERVED_KEEP : 0) | (counted ? SERVED_COUNTED : 0);
}

/* A connection a worker holds or that waits, kept, for the child's next
 * request. Idle ones are in the process's epoll set (one-shot: the worker
 * that is woken owns it until it is kept again) and in the idle list, so a
 * stopping process can say GOODBYE to each. */
typedef struct kept_conn {
    int fd;
    int registered;               /* in the epoll set (armed or not) */
    int retired;                  /* GOODBYE said and closed by the stop path: never touch fd */
    struct kept_conn *prev, *next;
} kept_conn;

/* epoll's tags for the channel and the stop eventfd. */
static char channel_tag, stop_tag;

static int kept_limit(void)
{
    /* Each kept connection is a descriptor: leave room for the app's. */
    struct rlimit rl;
    long n = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur / 2 : 1024;
    return n < 16 ? 16 : n > 4096 ? 4096 : (int)n;
}

gowsgi_daemon_state *gowsgi_daemon_state_new(int threads)
{
    self_pid = getpid();
    gowsgi_daemon_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->nthreads = threads;
    st->busy_since = calloc((size_t)(threads > 0 ? threads : 1), sizeof(int64_t));
    if (st->busy_since == NULL) {
        free(st);
        return NULL;
    }
    st->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    st->watch_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    st->ep = -1;
    st->max_kept = kept_limit();
    pthread_mutex_init(&st->kept_lock, NULL);
    return st;
}

int gowsgi_daemon_listen(gowsgi_daemon_state *st, int channel_fd, int *idle)
{
    st->shared_idle = idle;
    if (idle != NULL)
        __atomic_store_n(idle, 0, __ATOMIC_RELEASE);
    st->ep = epoll_create1(EPOLL_CLOEXEC);
    if (st->ep < 0)
        return -errno;
    /* The channel is shared by every process of the group, and a new
     * connection wakes one idle worker in each (most requests come on kept
     * connections, which wake one). Not EPOLLEXCLUSIVE: that always picks
     * the process that registered first, and a process that declines a
     * request (a replay its old code must not answer) would get it back
     * for ever. The stop eventfd stays readable: it wakes every worker. */
    struct epoll_event ch = {.events = EPOLLIN, .data.ptr = &channel_tag};
    struct epoll_event stop = {.events = EPOLLIN, .data.ptr = &stop_tag};
    if (epoll_ctl(st->ep, EPOLL_CTL_ADD, channel_fd, &ch) != 0 ||
        (st->stop_fd >= 0 && epoll_ctl(st->ep, EPOLL_CTL_ADD, st->stop_fd, &stop) != 0))
        return -errno;
    return 0;
}

/* Caller holds kept_lock. */
static void idle_unlink(gowsgi_daemon_state *st, kept_conn *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else if (st->idle_head == k)
        st->idle_head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->prev = k->next = NULL;
}

static void say_goodbye(int fd)
{
    unsigned char frame[GOWSGI_WIRE_HEADER_SIZE] = {0, 0, 0, 0, GOWSGI_FRAME_GOODBYE};
    /* Never blocks: five bytes on a connection whose child is waiting. */
    if (send(fd, frame, sizeof(frame), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        /* the child has gone: it will not send on it again */
    }
}

/* A kept connection closes without having taken a request: GOODBYE, so a
 * child that sent one meanwhile sends it elsewhere. Its memory stays (a
 * worker woken for it may still look), on the retired list until exit.
 * Caller holds kept_lock. */
static void retire_locked(gowsgi_daemon_state *st, kept_conn *k)
{
    idle_unlink(st, k);
    if (k->registered)
        epoll_ctl(st->ep, EPOLL_CTL_DEL, k->fd, NULL);
    say_goodbye(k->fd);
    close(k->fd);
    k->retired = 1;
    k->next = st->retired;
    st->retired = k;
    st->nkept--;
}

static void conn_free(gowsgi_daemon_state *st, kept_conn *k)
{
    if (k->registered)
        epoll_ctl(st->ep, EPOLL_CTL_DEL, k->fd, NULL);
    close(k->fd);
    pthread_mutex_lock(&st->kept_lock);
    st->nkept--;
    pthread_mutex_unlock(&st->kept_lock);
    free(k);
}

/* After a request: the connection waits for the child's next one, or
 * closes. A process that began to stop meanwhile says GOODBYE instead (the
 * END it sent promised the connection would stay). */
static void keep_or_close(gowsgi_daemon_state *st, kept_conn *k, int keep)
{
    if (!keep) {
        conn_free(st, k);
        return;
    }
    pthread_mutex_lock(&st->kept_lock);
    if (st->closing) {
        retire_locked(st, k);
        pthread_mutex_unlock(&st->kept_lock);
        return;
    }
    k->next = st->idle_head;
    if (st->idle_head)
        st->idle_head->prev = k;
    st->idle_head = k;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = k};
    if (epoll_ctl(st->ep, k->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, k->fd, &ev) != 0) {
        retire_locked(st, k);
        pthread_mutex_unlock(&st->kept_lock);
        return;
    }
    k->registered = 1;
    pthread_mutex_unlock(&st->kept_lock);
}

/* Wakes whoever sleeps past the next request's start: a request began
 * in an idle process, or the process is stopping. */
static void wake_sleepers(gowsgi_daemon_state *st)
{
    int who = __atomic_exchange_n(&st->sleepers, 0, __ATOMIC_SEQ_CST);
    uint64_t one = 1;
    if (who & GOWSGI_SLEEPER_MONITOR)
        gowsgi_daemon_monitor_nudge();
    if ((who & GOWSGI_SLEEPER_GIL_WATCH) && st->watch_fd >= 0 && write(st->watch_fd, &one, sizeof(one)) < 0) {
        /* the counter is full: the watch is awake already */
    }
}

void gowsgi_daemon_stop(gowsgi_daemon_state *st)
{
    uint64_t one = 1;
    __atomic_store_n(&st->stopping, 1, __ATOMIC_RELEASE);
    if (st->stop_fd >= 0 && write(st->stop_fd, &one, sizeof(one)) < 0) {
        /* already signalled (the counter is full) or gone: workers still
         * see stopping within their wait's timeout */
    }
    wake_sleepers(st);
    /* Idle kept connections will take no request here: each child hears
     * GOODBYE and sends its next request through the channel. */
    pthread_mutex_lock(&st->kept_lock);
    st->closing = 1;
    while (st->idle_head != NULL)
        retire_locked(st, st->idle_head);
    pthread_mutex_unlock(&st->kept_lock);
}

/* The next connection with a request to serve: a new one from the channel
 * (*fresh set) or a kept one the child has written to; NULL once the
 * process stops or the channel is closed. Only an idle worker waits, and
 * each connection wakes one. */
static kept_conn *next_connection(const gowsgi_daemon_init *init, gowsgi_daemon_state *st, int *fresh,
                                  int counted)
{
    kept_conn *k = NULL;
    /* Counted idle from here until a connection is taken. */
    if (!counted)
        idle_add(st);
    while (!__atomic_load_n(&st->stopping, __ATOMIC_ACQUIRE) &&
           !__atomic_load_n(&st->channel_closed, __ATOMIC_ACQUIRE)) {
        struct epoll_event ev;
        /* An idle worker sleeps until something comes: the stop eventfd
         * wakes it, and a closed channel stays readable. The timeout only
         * bounds how late a stop is seen if the eventfd could not be made. */
        int n = epoll_wait(st->ep, &ev, 1, st->stop_fd >= 0 ? -1 : 500);
        if (n < 0 && errno != EINTR) {
            gowsgi_log_processf(GOWSGI_LOG_ERR,
                                GOWSGI_LOGNO(0202) "gowsgi (pid=%d): daemon process group '%s' cannot wait for "
                                "requests: %s", (int)getpid(), init->group, strerror(errno));
            usleep(500 * 1000);
            continue;
        }
        if (n <= 0 || ev.data.ptr == &stop_tag)
            continue;
        if (ev.data.ptr == &channel_tag) {
            if (__atomic_load_n(&st->stopping, __ATOMIC_ACQUIRE))
                break;   /* leave it to a process that stays */
            int fd = gowsgi_channel_take(init->channel_fd, 1);
            if (fd == -EPIPE || fd == -ECONNRESET) {
                /* Every sender has closed the channel: the Apache
                 * generation this process served is gone. */
                __atomic_store_n(&st->channel_closed, 1, __ATOMIC_RELEASE);
                break;
            }
            if (fd < 0)
                continue;   /* another worker took it, or nothing came */
            k = calloc(1, sizeof(*k));
            if (k == NULL) {
                close(fd);
                continue;
            }
            k->fd = fd;
            pthread_mutex_lock(&st->kept_lock);
            st->nkept++;
            pthread_mutex_unlock(&st->kept_lock);
            *fresh = 1;
            break;
        }
        kept_conn *woke = ev.data.ptr;
        pthread_mutex_lock(&st->kept_lock);
        if (woke->retired) {
            pthread_mutex_unlock(&st->kept_lock);
            continue;   /* the stop path said GOODBYE on it */
        }
        if (__atomic_load_n(&st->stopping, __ATOMIC_ACQUIRE)) {
            retire_locked(st, woke);
            pthread_mutex_unlock(&st->kept_lock);
            continue;
        }
        idle_unlink(st, woke);
        pthread_mutex_unlock(&st->kept_lock);
        *fresh = 0;
        k = woke;
        break;
    }
    if (idle_sub(st) == 0 && k != NULL)
        want_worker(st);
    return k;
}

void gowsgi_daemon_worker(const gowsgi_daemon_init *init, gowsgi_daemon_state *st, int index)
{
    kept_conn *k;
    int fresh, counted = 0;
    while ((k = next_connection(init, st, &fresh, counted)) != NULL) {
        int may_keep = __atomic_load_n(&st->nkept, __ATOMIC_RELAXED) <= st->max_kept;
        /* Seq-cst against the sleepers' flag: a monitor or watch that
         * goes to sleep either sees this request or is woken by it. */
        if (__atomic_add_fetch(&st->active, 1, __ATOMIC_SEQ_CST) == 1 &&
            __atomic_load_n(&st->sleepers, __ATOMIC_SEQ_CST) != 0)
            wake_sleepers(st);
        __atomic_store_n(&st->busy_since[index], now_us(), __ATOMIC_RELEASE);
        int did = serve(init, st, k->fd, fresh, may_keep);
        counted = (did & SERVED_COUNTED) != 0;
        __atomic_store_n(&st->busy_since[index], 0, __ATOMIC_RELEASE);
        keep_or_close(st, k, (did & SERVED_KEEP) != 0);
        if (did & SERVED_NOTHING) {
            __atomic_sub_fetch(&st->active, 1, __ATOMIC_ACQ_REL);
            continue;
        }
        if (did & SERVED_ACTIVITY)
            __atomic_store_n(&st->last_activity, now_us(), __ATOMIC_RELEASE);
        __atomic_add_fetch(&st->served, 1, __ATOMIC_ACQ_REL);
        __atomic_sub_fetch(&st->active, 1, __ATOMIC_ACQ_REL);
    }
}

void gowsgi_daemon_gil_watch(gowsgi_daemon_state *st, int idle_period_ms)
{
    gowsgi_interp *main = gowsgi_interp_main();
    while (!__atomic_load_n(&st->stopping, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&st->gil_trying_since, now_us(), __ATOMIC_RELEASE);
        PyThreadState *ts = gowsgi_enter(main);
        __atomic_store_n(&st->gil_trying_since, 0, __ATOMIC_RELEASE);
        gowsgi_leave(ts);
        /* Every second while a request runs, as mod_wsgi's watch looks;
         * idle, the process sleeps (a request that begins wakes it). */
        int period = 1000;
        if (idle_period_ms > period && st->watch_fd >= 0) {
            __atomic_fetch_or(&st->sleepers, GOWSGI_SLEEPER_GIL_WATCH, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&st->active, __ATOMIC_SEQ_CST) == 0)
                period = idle_period_ms;
            else
                __atomic_fetch_and(&st->sleepers, ~GOWSGI_SLEEPER_GIL_WATCH, __ATOMIC_SEQ_CST);
        }
        struct pollfd fds[2] = {{st->stop_fd, POLLIN, 0}, {st->watch_fd, POLLIN, 0}};
        if (poll(fds, 2, period) > 0 && (fds[1].revents & POLLIN)) {
            uint64_t n;
            if (read(st->watch_fd, &n, sizeof(n)) < 0) {
                /* another read took it: nothing to clear */
            }
        }
    }
}
