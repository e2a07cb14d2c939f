/*
 * daemon_kept_conns.c: the connections a daemon kept open for an Apache
 * thread's next request to its group (END_COMPLETE_KEEP), one per group, a
 * few groups per thread. Taken only when the process at the other end has
 * a worker waiting now; a thread that exits closes what it holds.
 */
#include "daemon_forward.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

/* Each Apache thread serves one request at a time, so its cache needs no
 * lock. It lives behind a thread key whose destructor closes what it
 * holds: a thread that exits (mod_http2's idle workers do) leaks no
 * descriptor, nor a daemon's connection slot. */
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
int gowsgi_kept_take(const gowsgi_daemon_rt *rt, int *pid)
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
int gowsgi_kept_put(const gowsgi_daemon_rt *rt, int fd, int pid)
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
