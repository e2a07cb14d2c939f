/*
 * thread_state.c: one PyThreadState per Apache (or daemon worker) thread per
 * interpreter, created once and reused: a PyGILState_Ensure per request
 * creates and destroys one each time (~10 us).
 */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

/* Thread states of this thread, indexed by gowsgi_interp.index. Never freed:
 * Apache's threads live as long as the child.
 *
 * initial-exec: the crash handler reads them (gowsgi_crash_thread_state),
 * from a signal on any thread, perhaps one that never touched them and
 * perhaps inside malloc. The default model for a shared library goes
 * through __tls_get_addr, which on a thread whose TLS vector predates the
 * dlopen may allocate. libgowsgi.so has static TLS anyway (DF_STATIC_TLS:
 * Go's runtime uses initial-exec for its own), so this costs nothing and
 * makes each read a plain load at a fixed offset from the thread pointer. */
static __thread PyThreadState **thread_states __attribute__((tls_model("initial-exec")));
static __thread int thread_states_len __attribute__((tls_model("initial-exec")));

PyThreadState **gowsgi_thread_state_slot(int index)
{
    if (index >= thread_states_len) {
        int len = index + 8;
        PyThreadState **grown = realloc(thread_states, sizeof(*grown) * (size_t)len);
        if (grown == NULL)
            abort();   /* out of memory before Python runs: nothing to recover */
        memset(grown + thread_states_len, 0,
               sizeof(*grown) * (size_t)(len - thread_states_len));
        thread_states = grown;
        thread_states_len = len;
    }
    return &thread_states[index];
}

PyThreadState *gowsgi_enter(gowsgi_interp *it)
{
    PyThreadState **slot = gowsgi_thread_state_slot(it->index);
    if (*slot == NULL)
        *slot = PyThreadState_New(it->interp);
    PyEval_RestoreThread(*slot);
    return *slot;
}

void gowsgi_leave(PyThreadState *ts)
{
    (void)ts;
    PyEval_SaveThread();
}


/* The crash report's way to the Python stack of a thread that crashed
 * (crash_report.h; the shim resolves it with dlsym): the thread state, of
 * those made for this thread, that runs Python code now. CPython's
 * faulthandler takes the thread's first thread state, which on a thread
 * that serves several application groups (interpreters) may not be the
 * one that crashed. Reads only this thread's own records, from a signal
 * handler: no lock, no allocation. NULL for a thread the engine did not
 * make thread states for (the handler then asks CPython). */
void *gowsgi_crash_thread_state(void)
{
    for (int i = 0; i < thread_states_len; i++) {
        PyThreadState *ts = thread_states[i];
#if PY_VERSION_HEX >= 0x030D0000
        if (ts != NULL && ts->current_frame != NULL)
#elif PY_VERSION_HEX >= 0x030B0000
        if (ts != NULL && ts->cframe != NULL && ts->cframe->current_frame != NULL)
#else
        if (ts != NULL && ts->frame != NULL)
#endif
            return ts;
    }
    return NULL;
}
