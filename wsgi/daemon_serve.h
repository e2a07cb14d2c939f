/*
 * daemon_serve.h: what a daemon process's worker threads (daemon_serve.c)
 * share with the Go code that runs the process (daemon.go). Counters are
 * read and written with atomics.
 */
#ifndef GOWSGI_DAEMON_SERVE_H
#define GOWSGI_DAEMON_SERVE_H

#include "gowsgi.h"

#include <pthread.h>
#include <stdint.h>

typedef struct gowsgi_daemon_state {
    int stopping;                 /* set: workers take no new connection */
    int active;                   /* requests being served now */
    long served;                  /* requests served so far */
    long taken;                   /* requests taken to serve (counted before, for maximum-requests) */
    int64_t last_activity;        /* microseconds since the epoch */
    int channel_closed;           /* every sender closed the channel */
    int reloading;                /* this process makes way for a changed script */
    int stop_fd;                  /* an eventfd, readable once stopping is set */
    int64_t gil_trying_since;     /* when the GIL watch began waiting for it; 0 while it does not */
    int watch_fd;                 /* an eventfd that wakes the GIL watch when a request begins */
    int sleepers;                 /* GOWSGI_SLEEPER_*: who sleeps past the next request's start */
    int nthreads;                 /* threads=: the most workers there may be */
    int started;                  /* workers started so far (daemon_pool.go starts them as needed) */
    int idle_workers;             /* workers waiting for a request, or about to */
    int64_t *busy_since;          /* per worker: when its request started, 0 when idle */
    /* Kept connections (daemon_serve.c): the epoll set idle workers wait
     * on (the channel, the stop eventfd, the idle kept connections), the
     * idle ones (for GOODBYE when the process stops), how many there are
     * and may be, and the shared count of idle workers that tells Apache's
     * children whether a kept connection will be served at once. */
    int ep;
    pthread_mutex_t kept_lock;
    struct kept_conn *idle_head;
    struct kept_conn *retired;
    int nkept;
    int max_kept;
    int closing;                  /* no connection is kept any more */
    int *shared_idle;
} gowsgi_daemon_state;

/* An idle process's monitor (daemon.go) and GIL watch sleep until their
 * next deadline rather than look every second; each says so here, and the
 * request that makes the process busy wakes them. */
#define GOWSGI_SLEEPER_MONITOR 1
#define GOWSGI_SLEEPER_GIL_WATCH 2

/* A new state for threads workers, or NULL. */
gowsgi_daemon_state *gowsgi_daemon_state_new(int threads);
/* Workers wait on the group's channel and on the connections they keep;
 * idle (shared memory, or NULL) counts the idle ones. 0, or a negative
 * errno. */
int gowsgi_daemon_listen(gowsgi_daemon_state *st, int channel_fd, int *idle);
/* Sets stopping and wakes every idle worker: none takes another connection,
 * and each idle kept connection is told GOODBYE and closed. */
void gowsgi_daemon_stop(gowsgi_daemon_state *st);

/* deadlock-timeout's watch: takes and gives back the GIL, noting when it
 * began to wait for it (gil_trying_since, 0 once it has had it), every
 * second while a request runs and every idle_period_ms while none
 * does, until the process stops. */
void gowsgi_daemon_gil_watch(gowsgi_daemon_state *st, int idle_period_ms);

/* Serves connections from the group's channel until st->stopping is set;
 * sets it itself when maximum-requests is reached. */
void gowsgi_daemon_worker(const gowsgi_daemon_init *init, gowsgi_daemon_state *st, int index);

#endif
