/*
 * Definitions for the functions cpy3 v0.2.0 wraps that CPython 3.9 to 3.13 no
 * longer provide (see cpy3_compat.h). gowsgi never calls them; they exist so
 * cpy3 links. Each does the nearest harmless thing.
 */
#include <Python.h>

#include "cpy3_compat.h"

/* The free lists these cleared are gone (3.9): nothing to clear. */
int PyDict_ClearFreeList(void) { return 0; }
int PyFloat_ClearFreeList(void) { return 0; }
int PyList_ClearFreeList(void) { return 0; }

/* Replaced by PyOS_AfterFork_Child; gowsgi never forks with Python live. */
void PyEval_ReInitThreads(void) {}

/* Declared by 3.11 but not exported; gowsgi installs no Python signal
 * handlers, so there is no wakeup fd to set. Weak: libpython's static
 * archive, linked into gowsgi-daemon-X.Y, has its own. */
__attribute__((weak)) int PySignal_SetWakeupFd(int fd) { (void)fd; return -1; }

#if PY_VERSION_HEX >= 0x030D0000
/* Gone from 3.13's headers (PyConfig replaced them); gowsgi configures
 * Python through PyConfig and never calls them. Weak: 3.13's libpython
 * still defines most of them, and its static archive, linked into
 * gowsgi-daemon-3.13, would clash. */
__attribute__((weak)) void Py_SetPath(const wchar_t *path) { (void)path; }
__attribute__((weak)) int Py_SetStandardStreamEncoding(const char *encoding, const char *errors)
{
    (void)encoding;
    (void)errors;
    return -1;
}
__attribute__((weak)) void PySys_AddWarnOption(const wchar_t *s) { (void)s; }
__attribute__((weak)) void PySys_AddXOption(const wchar_t *s) { (void)s; }
__attribute__((weak)) void PySys_SetPath(const wchar_t *path) { (void)path; }
/* Threads are always initialised since 3.7. */
__attribute__((weak)) int PyEval_ThreadsInitialized(void) { return 1; }
#endif
