/*
 * daemon_channel.c: connections handed to a daemon group over a
 * SOCK_SEQPACKET channel (daemon_channel.h). A message is one byte carrying
 * one descriptor: the far end of a stream socketpair the child made, so the
 * connection's peer credentials are the child's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* struct ucred */
#endif
#include "daemon_channel.h"

#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Descriptors one accepted message may carry before the kernel drops the
 * rest (MSG_CTRUNC); all but the first are closed. */
#define ACCEPT_MAX_FDS 8

int gowsgi_channel_open(int fds[2])
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
        return -errno;
    /* One way only: anything a daemon wrote would queue where nobody reads. */
    if (shutdown(fds[1], SHUT_WR) < 0) {
        int e = errno;

        close(fds[0]);
        close(fds[1]);
        return -e;
    }
    return 0;
}

/* Milliseconds left before end, rounded up, for poll(): -1 when forever. */
static int left_ms(int forever, const struct timespec *end)
{
    struct timespec now;
    int64_t ns;

    if (forever)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ns = (int64_t)(end->tv_sec - now.tv_sec) * 1000000000 + (end->tv_nsec - now.tv_nsec);
    if (ns <= 0)
        return 0;
    return ns / 1000000 >= INT_MAX ? INT_MAX : (int)((ns + 999999) / 1000000);
}

/* The daemons' end is gone (every daemon of the group exited): the header
 * promises -ECONNREFUSED or -EPIPE for that, whichever way the kernel says
 * it. */
static int send_error(int e)
{
    switch (e) {
    case EPIPE:
        return -EPIPE;
    case ECONNREFUSED:
    case ECONNRESET:
    case ENOTCONN:
        return -ECONNREFUSED;
    default:
        return -e;
    }
}

int gowsgi_channel_connect(int send_fd, int timeout_ms)
{
    return gowsgi_channel_connect_with(send_fd, NULL, 0, NULL, timeout_ms);
}

int gowsgi_channel_connect_with(int send_fd, const void *first, size_t len, size_t *sent, int timeout_ms)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    unsigned char byte = 0;
    struct iovec iov = {&byte, 1};
    struct msghdr msg;
    struct cmsghdr *c;
    struct timespec end;
    int sv[2], rc;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    if (sent != NULL)
        *sent = 0;
    if (first != NULL && len > 0) {
        /* What fits in the socket now is there before the daemon holds the
         * connection: it reads the request at once instead of waiting. */
        ssize_t n = send(sv[0], first, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0 && sent != NULL)
            *sent = (size_t)n;
    }
    memset(&control, 0, sizeof(control));
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &sv[1], sizeof(int));

    clock_gettime(CLOCK_MONOTONIC, &end);
    if (timeout_ms > 0) {
        end.tv_sec += timeout_ms / 1000;
        end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (end.tv_nsec >= 1000000000L) {
            end.tv_sec++;
            end.tv_nsec -= 1000000000L;
        }
    }
    /* Non-blocking sends and poll: the send end is shared by every child,
     * and a blocking send would ignore the timeout when the queue is full. */
    for (;;) {
        struct pollfd pfd = {send_fd, POLLOUT, 0};
        int n;

        if (sendmsg(send_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
            rc = 0;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            rc = send_error(errno);
            break;
        }
        n = poll(&pfd, 1, left_ms(timeout_ms < 0, &end));
        if (n == 0) {
            rc = -ETIMEDOUT;
            break;
        }
        if (n < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
        if (n > 0 && (pfd.revents & POLLNVAL)) {
            rc = -EBADF;
            break;
        }
        /* Writable, or hung up: the next sendmsg says which. */
    }
    /* Sent (the message holds its own reference) or not: this end is done. */
    close(sv[1]);
    if (rc < 0) {
        close(sv[0]);
        return rc;
    }
    return sv[0];
}

/* Closes every descriptor a message carried but the one kept. */
static void close_others(struct msghdr *msg, int keep)
{
    struct cmsghdr *c;

    for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        size_t i, n;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (i = 0; i < n; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (fd != keep)
                close(fd);
        }
    }
}

/* The first descriptor a message carried, or -1. */
static int first_fd(struct msghdr *msg)
{
    struct cmsghdr *c;

    for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        int fd;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(sizeof(int)))
            continue;
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        return fd;
    }
    return -1;
}

int gowsgi_channel_accept(int recv_fd, int timeout_ms)
{
    return gowsgi_channel_accept_or(recv_fd, -1, timeout_ms);
}

int gowsgi_channel_accept_or(int recv_fd, int cancel_fd, int timeout_ms)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(ACCEPT_MAX_FDS * sizeof(int))];
    } control;
    unsigned char byte;
    struct iovec iov = {&byte, 1};
    struct pollfd pfds[2] = {{recv_fd, POLLIN, 0}, {cancel_fd, POLLIN, 0}};
    struct pollfd pfd;
    struct msghdr msg;
    ssize_t r;
    int n, fd, type;
    socklen_t tlen = sizeof(type);

    if (recv_fd < 0)
        return -EBADF;  /* poll would wait out the time on it */
    n = poll(pfds, cancel_fd >= 0 ? 2 : 1, timeout_ms < 0 ? -1 : timeout_ms);
    if (n == 0 || (n < 0 && errno == EINTR))
        return -EAGAIN;
    if (n < 0)
        return -errno;
    if (cancel_fd >= 0 && (pfds[1].revents & (POLLIN | POLLHUP | POLLERR)))
        return -ECANCELED;   /* the process is stopping: take nothing more */
    pfd = pfds[0];
    if (pfd.revents & POLLNVAL)
        return -EBADF;

    memset(&control, 0, sizeof(control));
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    /* Non-blocking: another idle thread, or daemon, may have taken it. */
    r = recvmsg(recv_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (r < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
    fd = first_fd(&msg);
    close_others(&msg, fd);
    if (fd < 0) {
        /* Nothing at all after a hang-up: every send end is closed, so no
         * connection will ever come (the generation is over). Else a
         * message without a descriptor, dropped. */
        return r == 0 && (pfd.revents & POLLHUP) ? -EPIPE : -EAGAIN;
    }
    /* Only a stream socket can be a connection: anything else is dropped
     * rather than handed to a thread that would wait on it. */
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM) {
        close(fd);
        return -EAGAIN;
    }
    return fd;
}

int gowsgi_channel_take(int recv_fd, int nonblocking)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(ACCEPT_MAX_FDS * sizeof(int))];
    } control;
    unsigned char byte;
    struct iovec iov = {&byte, 1};
    struct msghdr msg;
    int fd, type;
    socklen_t tlen = sizeof(type);

    memset(&control, 0, sizeof(control));
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    /* Blocking: the kernel wakes one waiting thread per message (an
     * exclusive wait), where poll would wake every idle thread. */
    ssize_t r = recvmsg(recv_fd, &msg, MSG_CMSG_CLOEXEC | (nonblocking ? MSG_DONTWAIT : 0));
    if (r < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
    fd = first_fd(&msg);
    close_others(&msg, fd);
    if (fd < 0)
        /* Zero bytes: every send end is closed (the generation is over);
         * connections carry one byte. Else a message without a
         * descriptor, dropped. */
        return r == 0 ? -EPIPE : -EAGAIN;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM) {
        close(fd);
        return -EAGAIN;
    }
    return fd;
}

int gowsgi_channel_peer(int fd, pid_t *pid, uid_t *uid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -errno;
    if (len != sizeof(cred))
        return -EPROTO;
    *pid = cred.pid;
    *uid = cred.uid;
    return 0;
}

int gowsgi_process_stat(pid_t pid, char *state, int *ppid, int *sid)
{
    char path[64], buf[512];
    int pgrp;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -errno;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) state ppid pgrp session ...": comm may hold spaces and
     * parentheses. */
    const char *end = strrchr(buf, ')');
    if (end == NULL || sscanf(end + 1, " %c %d %d %d", state, ppid, &pgrp, sid) != 4)
        return -EPROTO;
    return 0;
}

int gowsgi_process_ids(pid_t pid, int *ppid, int *sid)
{
    char state;
    return gowsgi_process_stat(pid, &state, ppid, sid);
}

int gowsgi_process_parent(pid_t pid)
{
    int ppid, sid;
    return gowsgi_process_ids(pid, &ppid, &sid) == 0 ? ppid : -1;
}
