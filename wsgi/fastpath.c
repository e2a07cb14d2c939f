/*
 * fastpath.c: the entry point the shim calls for every request. A request
 * for a script Go has already loaded, and that is still current, goes
 * straight to the C runner; anything else (first use, a reload, a new
 * application group, an error) goes to Go, which decides and then registers
 * the loaded app here.
 *
 * Why not enter Go on every request: each Apache thread that calls into Go
 * becomes a Go runtime M with its own signal stack, and every return leaves
 * a P in syscall state for the sysmon thread to retake, which keeps sysmon
 * waking every 20 us (measured: ~7% of a core under load, and ~2.5 MiB per
 * child at 64 threads). Go stays the only place that decides; this table
 * only remembers its decisions.
 */
#include "engine.h"

#include <pthread.h>
#include <stdatomic.h>

#include "_cgo_export.h"

#define FAST_SLOTS 1024          /* power of two */
#define FAST_MAX (FAST_SLOTS / 2)

typedef struct fast_entry {
    uint64_t hash;
    char *group, *script, *callable;
    gowsgi_interp *it;
    gowsgi_app *app;
} fast_entry;

/* Entries are published once, fully built, and never removed or changed:
 * readers need no lock. */
static _Atomic(fast_entry *) fast_table[FAST_SLOTS];
static pthread_mutex_t fast_insert = PTHREAD_MUTEX_INITIALIZER;
static int fast_used;

static uint64_t mix(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull;   /* separator: "ab","c" != "a","bc" */
}

static uint64_t key_hash(const char *group, const char *script, const char *callable)
{
    return mix(mix(mix(14695981039346656037ull, group), script), callable);
}

static int same(const fast_entry *e, uint64_t h, const char *group, const char *script,
                const char *callable)
{
    return e->hash == h && strcmp(e->script, script) == 0 && strcmp(e->group, group) == 0 &&
           strcmp(e->callable, callable) == 0;
}

void gowsgi_fast_register(gowsgi_interp *it, gowsgi_app *app, const char *group, const char *script,
                          const char *callable)
{
    uint64_t h = key_hash(group, script, callable);
    pthread_mutex_lock(&fast_insert);
    for (uint64_t i = 0; i < FAST_SLOTS && fast_used < FAST_MAX; i++) {
        _Atomic(fast_entry *) *slot = &fast_table[(h + i) & (FAST_SLOTS - 1)];
        fast_entry *e = atomic_load_explicit(slot, memory_order_relaxed);
        if (e != NULL) {
            if (same(e, h, group, script, callable))
                break;
            continue;
        }
        e = malloc(sizeof(*e));
        if (e == NULL)
            break;
        e->hash = h;
        e->group = strdup(group);
        e->script = strdup(script);
        e->callable = strdup(callable);
        e->it = it;
        e->app = app;
        if (e->group == NULL || e->script == NULL || e->callable == NULL) {
            free(e->group);
            free(e->script);
            free(e->callable);
            free(e);
            break;
        }
        atomic_store_explicit(slot, e, memory_order_release);
        fast_used++;
        break;
    }
    pthread_mutex_unlock(&fast_insert);
}

int gowsgi_fast_lookup(const char *group, const char *script, const char *callable, gowsgi_interp **it,
                       gowsgi_app **app)
{
    uint64_t h = key_hash(group, script, callable);
    for (uint64_t i = 0; i < FAST_SLOTS; i++) {
        fast_entry *e = atomic_load_explicit(&fast_table[(h + i) & (FAST_SLOTS - 1)], memory_order_acquire);
        if (e == NULL)
            return 0;
        if (same(e, h, group, script, callable)) {
            *it = e->it;
            *app = e->app;
            return 1;
        }
    }
    return 0;
}

int gowsgi_serve(gowsgi_request *req)
{
    gowsgi_interp *it;
    gowsgi_app *app;
    if (gowsgi_fast_lookup(req->application_group, req->script, req->callable_object, &it, &app) &&
        gowsgi_app_current(app, req->script_mtime, req->script_reloading))
        return gowsgi_run(it, app, req);
    return gowsgiDecideAndServe(req);   /* new, or stale: Go (re)loads it */
}

int gowsgi_app_stale(const gowsgi_request *req)
{
    gowsgi_interp *it;
    gowsgi_app *app;
    return gowsgi_fast_lookup(req->application_group, req->script, req->callable_object, &it, &app) &&
           __atomic_load_n(&app->loaded, __ATOMIC_ACQUIRE) && !gowsgi_app_current(app, req->script_mtime, 1);
}
