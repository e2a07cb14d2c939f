/*
 * fair_share.h: how many of Apache's workers a daemon group may hold
 * (ARCHITECTURE.md section 7, "Fair share"). An Apache child counts each
 * request it forwards to a group, server-wide, from the moment it starts
 * forwarding until the request is answered; past the group's share the
 * request gets 503 with Retry-After at once, so a stuck group cannot take
 * every worker from the others.
 */
#ifndef GOWSGI_FAIR_SHARE_H
#define GOWSGI_FAIR_SHARE_H

#include "httpd.h"

struct gowsgi_daemon_rt;

/* Retry-After on a refused request, in seconds. */
#define GOWSGI_FAIR_SHARE_RETRY_AFTER 5
/* The default share when neither worker-share= nor GoWSGIWorkerShare says. */
#define GOWSGI_FAIR_SHARE_DEFAULT "50%"

/* "N%" (1 to 100) or "N" (at least 1): 1 and the value in *count or
 * *percent (the other 0), or 0 for anything else. Either may be NULL. */
int gowsgi_fair_share_parse(const char *v, int *count, int *percent);
/* The message for a value gowsgi_fair_share_parse refused. */
const char *gowsgi_fair_share_invalid(apr_pool_t *p, const char *what, const char *v);

/* The parent, per configuration generation, before the first daemon is
 * forked: each group's share, and the counters in shared memory. An error
 * message, or NULL. */
const char *gowsgi_fair_share_start(apr_pool_t *pconf, server_rec *s, struct gowsgi_daemon_rt *rts, int nrts);
/* A daemon process right after fork: the counters are not its to touch. */
void gowsgi_fair_share_forget(void);
/* The parent (mod_gowsgi.c's child_status hook): a child that exited, even
 * by a crash, holds no worker any more. */
void gowsgi_fair_share_child_exited(server_rec *s, pid_t pid);

/* One forwarded request's place in its group's count. */
typedef struct gowsgi_fair_ticket {
    int group;                     /* -1: not counted */
    int record;                    /* this process's record, or -1 */
} gowsgi_fair_ticket;

/* Before forwarding r to the group: OK (counted; call leave when done) or
 * 503 with Retry-After (not counted). */
int gowsgi_fair_share_enter(request_rec *r, const struct gowsgi_daemon_rt *rt, gowsgi_fair_ticket *t);
void gowsgi_fair_share_leave(request_rec *r, const struct gowsgi_daemon_rt *rt, gowsgi_fair_ticket *t);

#endif
