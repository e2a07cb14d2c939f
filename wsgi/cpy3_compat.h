/*
 * cpy3_compat.h: force-included (CGO_CFLAGS=-include) into every cgo compile so
 * that github.com/go-python/cpy3 v0.2.0, written for CPython 3.7, builds against
 * Debian's CPython 3.11. It declares the functions 3.9+ removed from the headers;
 * cpy3_compat.c defines them. No Python.h here: runtime/cgo's assembly files are
 * preprocessed with the same flags, hence the __ASSEMBLER__ guard.
 */
#ifndef GOWSGI_CPY3_COMPAT_H
#define GOWSGI_CPY3_COMPAT_H
#ifndef __ASSEMBLER__
int PyDict_ClearFreeList(void);
int PyFloat_ClearFreeList(void);
int PyList_ClearFreeList(void);
void PyEval_ReInitThreads(void);
int PySignal_SetWakeupFd(int fd);
#endif
#endif
