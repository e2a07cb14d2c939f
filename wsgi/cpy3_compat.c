/*
 * Definitions for the five functions cpy3 v0.2.0 wraps that CPython 3.11 no
 * longer provides (see cpy3_compat.h). gowsgi never calls them; they exist so
 * cpy3 links. Each does the nearest harmless thing.
 */
#include "cpy3_compat.h"

/* The free lists these cleared are gone (3.9): nothing to clear. */
int PyDict_ClearFreeList(void) { return 0; }
int PyFloat_ClearFreeList(void) { return 0; }
int PyList_ClearFreeList(void) { return 0; }

/* Replaced by PyOS_AfterFork_Child; gowsgi never forks with Python live. */
void PyEval_ReInitThreads(void) {}

/* Declared by 3.11 but not exported; gowsgi installs no Python signal
 * handlers, so there is no wakeup fd to set. */
int PySignal_SetWakeupFd(int fd) { (void)fd; return -1; }
