/*
 * daemon_wire_io.c: frames on a socket (daemon_wire.h): blocking sends and
 * reads with a deadline, and the buffered reader both sides use on a
 * connection. The codec itself is daemon_wire.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* poll, clock_gettime and MSG_NOSIGNAL under a strict -std */
#endif
#include "daemon_wire.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* ---- blocking I/O -------------------------------------------------------- */

/* A whole call's time limit, so a peer that trickles bytes cannot stretch
 * it. */
typedef struct deadline {
    int forever;
    struct timespec end;
} deadline;

static void deadline_start(deadline *d, int timeout_ms)
{
    d->forever = timeout_ms < 0;
    clock_gettime(CLOCK_MONOTONIC, &d->end);
    if (d->forever)
        return;
    d->end.tv_sec += timeout_ms / 1000;
    d->end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (d->end.tv_nsec >= 1000000000L) {
        d->end.tv_sec++;
        d->end.tv_nsec -= 1000000000L;
    }
}

/* Milliseconds left, rounded up, for poll(): -1 waits forever. */
static int deadline_left(const deadline *d)
{
    struct timespec now;
    int64_t ns;

    if (d->forever)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ns = (int64_t)(d->end.tv_sec - now.tv_sec) * 1000000000 + (d->end.tv_nsec - now.tv_nsec);
    if (ns <= 0)
        return 0;
    return ns / 1000000 >= INT_MAX ? INT_MAX : (int)((ns + 999999) / 1000000);
}

/* Waits until fd is ready for events or the deadline passes. Readiness
 * includes errors and hang-ups: the next call on fd reports them. */
static int wait_fd(int fd, short events, const deadline *d)
{
    for (;;) {
        struct pollfd pfd = {fd, events, 0};
        int n = poll(&pfd, 1, deadline_left(d));

        if (n > 0)
            return (pfd.revents & POLLNVAL) ? -EBADF : 0;
        if (n == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

/* MSG_DONTWAIT: the fd may be blocking, and poll alone would not keep a
 * blocking call from outliving the deadline. MSG_NOSIGNAL: a vanished peer
 * is -EPIPE, not SIGPIPE. */
int gowsgi_wire_send(int fd, const void *p, size_t len, int timeout_ms)
{
    const unsigned char *c = p;
    deadline d;

    if (len > 0 && p == NULL)
        return -EINVAL;
    deadline_start(&d, timeout_ms);
    while (len > 0) {
        ssize_t n = send(fd, c, len, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n > 0) {
            c += n;
            len -= (size_t)n;
        } else if (n == 0) {
            return -EPIPE;  /* no progress on a non-empty send */
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(fd, POLLOUT, &d);

            if (rc < 0)
                return rc;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

/* Reads exactly n bytes: 0; 1 when the stream ends before the first and
 * eof_ok; -EPROTO when it ends elsewhere; or a negative errno. */
static int read_full(int fd, unsigned char *p, size_t n, const deadline *d, int eof_ok)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = recv(fd, p + got, n - got, MSG_DONTWAIT);

        if (r > 0) {
            got += (size_t)r;
        } else if (r == 0) {
            return got == 0 && eof_ok ? 1 : -EPROTO;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(fd, POLLIN, d);

            if (rc < 0)
                return rc;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

int gowsgi_wire_recv(int fd, int *type, gowsgi_wire_buf *payload, int timeout_ms)
{
    unsigned char hdr[GOWSGI_WIRE_HEADER_SIZE];
    uint32_t len;
    deadline d;
    int t, rc;

    if (type == NULL || payload == NULL)
        return -EINVAL;
    payload->len = 0;
    deadline_start(&d, timeout_ms);
    rc = read_full(fd, hdr, sizeof(hdr), &d, 1);
    if (rc != 0)
        return rc;
    if (gowsgi_wire_parse_header(hdr, &t, &len) < 0)
        return -EPROTO;
    if (len > payload->cap) {
        /* The announced length, checked above: no more, and no copy of the
         * old contents. */
        free(payload->p);
        payload->cap = 0;
        payload->p = malloc(len);
        if (payload->p == NULL)
            return -ENOMEM;
        payload->cap = len;
    }
    rc = read_full(fd, payload->p, len, &d, 0);
    if (rc != 0)
        return rc;
    payload->len = len;
    *type = t;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Buffered frame reading                                                    */
/* ------------------------------------------------------------------------ */

/* Reads what the socket has, as much as fits: a small response's frames
 * (headers, data, end) arrive in one recv instead of two per frame. */
#define READER_CHUNK (64u << 10)

int gowsgi_wire_read(gowsgi_wire_reader *r, int *type, const unsigned char **payload, size_t *len,
                     int timeout_ms)
{
    deadline d;
    int started = 0;

    if (r == NULL || type == NULL || payload == NULL || len == NULL)
        return -EINVAL;
    *payload = NULL;
    *len = 0;
    /* The previous frame is consumed: move what is left to the front. */
    if (r->start > 0) {
        memmove(r->p, r->p + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    for (;;) {
        size_t have = r->end - r->start;
        size_t need = GOWSGI_WIRE_HEADER_SIZE;
        uint32_t plen = 0;
        int t = 0;

        if (have >= GOWSGI_WIRE_HEADER_SIZE) {
            if (gowsgi_wire_parse_header(r->p + r->start, &t, &plen) < 0)
                return -EPROTO;
            need += plen;
            if (have >= need) {
                *type = t;
                *payload = r->p + r->start + GOWSGI_WIRE_HEADER_SIZE;
                *len = plen;
                r->start += need;
                return 0;
            }
        }
        /* Room for the rest of this frame and a chunk more, bounded by
         * the largest frame there can be (checked above). */
        size_t want = need > have + READER_CHUNK ? need : have + READER_CHUNK;
        if (want > r->cap) {
            unsigned char *grown = realloc(r->p, want);
            if (grown == NULL)
                return -ENOMEM;
            r->p = grown;
            r->cap = want;
        }
        ssize_t n;
        if (r->wait_first && have == 0 && !started) {
            /* Waiting is the likely case: poll, then read (two calls, not
             * three). */
            deadline_start(&d, timeout_ms);
            started = 1;
            int rc = wait_fd(r->fd, POLLIN, &d);
            if (rc < 0)
                return rc;
        }
        n = recv(r->fd, r->p + r->end, r->cap - r->end, MSG_DONTWAIT);
        if (n > 0) {
            r->end += (size_t)n;
        } else if (n == 0) {
            return have == 0 ? 1 : -EPROTO;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!started) {
                deadline_start(&d, timeout_ms);
                started = 1;
            }
            int rc = wait_fd(r->fd, POLLIN, &d);
            if (rc < 0)
                return rc;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
}

void gowsgi_wire_reader_free(gowsgi_wire_reader *r)
{
    free(r->p);
    r->p = NULL;
    r->start = r->end = r->cap = 0;
}
