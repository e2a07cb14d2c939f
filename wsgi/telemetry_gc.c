/*
 * telemetry_gc.c: WSGITelemetryService's garbage-collector datagrams, per
 * interpreter as mod_wsgi 6.0.5 sends them: each interval a GC_SNAPSHOT
 * (gc's counts, thresholds, per-generation stats, enabled, frozen objects,
 * events lost) and one GC_EVENT per collection since the last (start,
 * pause, generation, collected, uncollectable), timed by a gc.callbacks
 * entry. telemetry.c encodes them; this file gathers them.
 *
 * The callback runs inside each collection, under the interpreter's GIL,
 * so it only stamps the start and, at the stop, puts a fixed-size record
 * in the interpreter's ring (a short lock; a full ring drops its oldest
 * record and counts it, as 6's). The sampler takes each interpreter's GIL in turn to
 * read the counters, on a thread of its own (request_watch.go) so a
 * request that holds a GIL never delays the REQUEST samples.
 */
#include "engine.h"

#include <pthread.h>
#include <stdlib.h>

/* 6's bounds: events kept per interpreter between samples, events sent
 * per interpreter per sample, and interpreters covered. */
#define RING 256
#define EVENTS_PER_SAMPLE 64
#define MAX_INTERPS 32

typedef struct gc_ring {
    gowsgi_interp *it;
    pthread_mutex_t lock;
    long long pending_start;      /* the running collection's start; GIL-protected */
    gowsgi_gc_event ev[RING];
    int head, n;
    unsigned long long dropped;   /* since the last sample */
} gc_ring;

static gc_ring *rings[MAX_INTERPS];
static int nrings;
static pthread_mutex_t rings_lock = PTHREAD_MUTEX_INITIALIZER;

static long long item_ll(PyObject *d, const char *key)
{
    PyObject *v = PyDict_GetItemString(d, key);   /* borrowed */
    long long n = v != NULL && PyLong_Check(v) ? PyLong_AsLongLong(v) : 0;
    if (n < 0 || PyErr_Occurred()) {
        PyErr_Clear();
        n = 0;
    }
    return n;
}

/* gc.callbacks entry: (phase, info). Never raises: an exception out of it
 * would be a warning at every collection. */
static PyObject *gc_callback(PyObject *self, PyObject *args)
{
    gc_ring *r = PyCapsule_GetPointer(self, "gowsgi.gc_ring");
    PyObject *phase, *info;
    if (r == NULL || !PyArg_ParseTuple(args, "OO", &phase, &info) || !PyUnicode_Check(phase)) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (PyUnicode_CompareWithASCIIString(phase, "start") == 0) {
        r->pending_start = gowsgi_now_us();
        Py_RETURN_NONE;
    }
    if (PyUnicode_CompareWithASCIIString(phase, "stop") != 0 || !PyDict_Check(info) || r->pending_start == 0)
        Py_RETURN_NONE;
    long long now = gowsgi_now_us();
    gowsgi_gc_event e = {
        .start_us = r->pending_start,
        .duration_us = now > r->pending_start ? now - r->pending_start : 0,
        .generation = (int)item_ll(info, "generation"),
        .collected = item_ll(info, "collected"),
        .uncollectable = item_ll(info, "uncollectable"),
    };
    r->pending_start = 0;
    pthread_mutex_lock(&r->lock);
    if (r->n < RING) {
        r->ev[(r->head + r->n) % RING] = e;
        r->n++;
    } else {   /* full: the oldest goes, as 6's */
        r->ev[r->head] = e;
        r->head = (r->head + 1) % RING;
        r->dropped++;
    }
    pthread_mutex_unlock(&r->lock);
    Py_RETURN_NONE;
}

static PyMethodDef gc_callback_def = {"_gowsgi_gc_telemetry", gc_callback, METH_VARARGS,
                                      "gowsgi's gc.callbacks entry for WSGITelemetryService."};

int gowsgi_telemetry_gc_install(gowsgi_interp *it)
{
    pthread_mutex_lock(&rings_lock);
    int full = nrings >= MAX_INTERPS;
    pthread_mutex_unlock(&rings_lock);
    if (full)
        return 0;   /* beyond 6's bound: this interpreter has no GC datagrams */
    gc_ring *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    r->it = it;
    pthread_mutex_init(&r->lock, NULL);
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *callbacks = gc ? PyObject_GetAttrString(gc, "callbacks") : NULL;
    PyObject *capsule = callbacks ? PyCapsule_New(r, "gowsgi.gc_ring", NULL) : NULL;
    PyObject *fn = capsule ? PyCFunction_New(&gc_callback_def, capsule) : NULL;
    int rc = fn != NULL && PyList_Check(callbacks) ? PyList_Append(callbacks, fn) : -1;
    Py_XDECREF(fn);
    Py_XDECREF(capsule);
    Py_XDECREF(callbacks);
    Py_XDECREF(gc);
    if (rc != 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "gc.callbacks is not a list");
        pthread_mutex_destroy(&r->lock);
        free(r);   /* the callback holds no reference to it: it was not added */
        return -1;
    }
    /* The ring lives as long as the process: the callback may run until the end. */
    pthread_mutex_lock(&rings_lock);
    rings[nrings++] = r;
    pthread_mutex_unlock(&rings_lock);
    return 0;
}

/* gc's counters, this interpreter's GIL held; zeros where it fails. */
static void read_counters(gowsgi_gc_counters *c)
{
    memset(c, 0, sizeof(*c));
    PyObject *gc = PyImport_ImportModule("gc");
    if (gc == NULL) {
        PyErr_Clear();
        return;
    }
    PyObject *count = PyObject_CallMethod(gc, "get_count", NULL);
    PyObject *threshold = PyObject_CallMethod(gc, "get_threshold", NULL);
    PyObject *stats = PyObject_CallMethod(gc, "get_stats", NULL);
    PyObject *enabled = PyObject_CallMethod(gc, "isenabled", NULL);
    PyObject *frozen = PyObject_CallMethod(gc, "get_freeze_count", NULL);
    for (int g = 0; g < 3; g++) {
        if (count && PyTuple_Check(count) && PyTuple_GET_SIZE(count) > g)
            c->count[g] = PyLong_AsLongLong(PyTuple_GET_ITEM(count, g));
        if (threshold && PyTuple_Check(threshold) && PyTuple_GET_SIZE(threshold) > g)
            c->threshold[g] = PyLong_AsLongLong(PyTuple_GET_ITEM(threshold, g));
        PyObject *s = stats && PyList_Check(stats) && PyList_GET_SIZE(stats) > g ? PyList_GET_ITEM(stats, g) : NULL;
        if (s && PyDict_Check(s)) {
            c->collections[g] = item_ll(s, "collections");
            c->collected[g] = item_ll(s, "collected");
            c->uncollectable[g] = item_ll(s, "uncollectable");
        }
    }
    c->enabled = enabled ? PyObject_IsTrue(enabled) == 1 : 0;
    c->freeze_count = frozen && PyLong_Check(frozen) ? PyLong_AsLongLong(frozen) : 0;
    Py_XDECREF(count);
    Py_XDECREF(threshold);
    Py_XDECREF(stats);
    Py_XDECREF(enabled);
    Py_XDECREF(frozen);
    Py_DECREF(gc);
    PyErr_Clear();
}

void gowsgi_telemetry_gc_tick(void)
{
    gc_ring *list[MAX_INTERPS];
    pthread_mutex_lock(&rings_lock);
    int n = nrings;
    memcpy(list, rings, sizeof(*list) * (size_t)n);
    pthread_mutex_unlock(&rings_lock);
    /* As 6: the interpreter's name only when the process has more than one. */
    int named = n > 1;
    for (int i = 0; i < n; i++) {
        gc_ring *r = list[i];
        gowsgi_gc_counters c;
        gowsgi_gc_event ev[EVENTS_PER_SAMPLE];
        PyThreadState *ts = gowsgi_enter(r->it);
        read_counters(&c);
        gowsgi_leave(ts);
        pthread_mutex_lock(&r->lock);
        int k = 0;
        while (r->n > 0 && k < EVENTS_PER_SAMPLE) {
            ev[k++] = r->ev[r->head];
            r->head = (r->head + 1) % RING;
            r->n--;
        }
        c.dropped = r->dropped;
        r->dropped = 0;
        pthread_mutex_unlock(&r->lock);
        const char *name = named ? r->it->name : "";
        if (gowsgi_telemetry_send_gc(&c, ev, k, name) != 0)
            return;   /* the process has sent PROCESS_STOPPED */
    }
}
