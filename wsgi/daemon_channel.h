/*
 * daemon_channel.h: how an Apache child reaches a daemon group with no path
 * to get wrong (ARCHITECTURE.md section 5, option b). The Apache parent
 * makes one SOCK_SEQPACKET socketpair per group per generation; Apache
 * children inherit the send end, only that group's daemons keep the receive
 * end. A child opens a connection by creating a stream socketpair and
 * sending one end across the channel (SCM_RIGHTS); whichever daemon thread
 * is idle receives it. Only a daemon thread with nothing to do waits on the
 * channel, so a request never queues behind a busy process while another
 * has a free thread. When a generation's last daemon exits, its channel
 * refuses new connections by itself.
 *
 * Compiled into both sides (shim and engine); no Apache or Python headers.
 * Every descriptor made here is close-on-exec.
 */
#ifndef GOWSGI_DAEMON_CHANNEL_H
#define GOWSGI_DAEMON_CHANNEL_H

#include <sys/types.h>

/* Parent: fds[0] is the send end (children), fds[1] the receive end
 * (daemons). 0, or a negative errno. */
int gowsgi_channel_open(int fds[2]);

/* Child: returns its end of a new connection, or a negative errno:
 * -ETIMEDOUT when the group took nothing within timeout_ms (every thread
 * busy and the channel's queue full), -ECONNREFUSED or -EPIPE when no
 * daemon of the group holds the receive end any more. */
int gowsgi_channel_connect(int send_fd, int timeout_ms);
/* The same, with the first len bytes of the conversation written into the
 * connection before it is handed over (as much as fits: *sent says how
 * much; the caller sends the rest). */
int gowsgi_channel_connect_with(int send_fd, const void *first, size_t len, size_t *sent, int timeout_ms);

/* Daemon: waits up to timeout_ms (< 0: forever) for the next connection
 * and returns its descriptor, or a negative errno; -EAGAIN when the time
 * ran out or a signal arrived, so the caller can look at its state and
 * wait again. A message that carries no descriptor is dropped (-EAGAIN). */
int gowsgi_channel_accept(int recv_fd, int timeout_ms);
/* The same, but returns -ECANCELED at once, taking nothing, when cancel_fd
 * is readable (a process that is stopping wakes its idle threads so). */
int gowsgi_channel_accept_or(int recv_fd, int cancel_fd, int timeout_ms);

/* Daemon: the next connection's descriptor (blocking, one thread woken per
 * connection; or with nonblocking set, the one waiting now: for a thread
 * that epoll woke). -EAGAIN when there is none or a signal came, -EPIPE
 * once every sender has closed the channel. */
int gowsgi_channel_take(int recv_fd, int nonblocking);

/* The credentials of the process at the other end of a connection (the
 * child that created the socketpair): 0, or a negative errno. */
int gowsgi_channel_peer(int fd, pid_t *pid, uid_t *uid);

/* The parent pid and session id of a process, from /proc: 0, or a negative
 * errno (-ENOENT: gone; -EACCES: /proc hides it, as hidepid= does). */
int gowsgi_process_ids(pid_t pid, int *ppid, int *sid);
/* The same, and the state letter ('R', 'S', 'T' stopped, 't' traced...). */
int gowsgi_process_stat(pid_t pid, char *state, int *ppid, int *sid);
/* The parent pid, or -1. */
int gowsgi_process_parent(pid_t pid);

#endif
