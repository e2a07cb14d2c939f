/*
 * cpy3_compat.h: force-included (CGO_CFLAGS=-include) into every cgo compile so
 * that github.com/go-python/cpy3 v0.2.0, written for CPython 3.7, builds against
 * CPython 3.9 to 3.13. It declares the functions 3.9+ removed from the headers;
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
/* Removed by 3.13 (declared again here, harmlessly, for 3.11 and 3.12). */
void Py_SetPath(const __WCHAR_TYPE__ *path);
int Py_SetStandardStreamEncoding(const char *encoding, const char *errors);
void PySys_AddWarnOption(const __WCHAR_TYPE__ *s);
void PySys_AddXOption(const __WCHAR_TYPE__ *s);
void PySys_SetPath(const __WCHAR_TYPE__ *path);
int PyEval_ThreadsInitialized(void);
#endif
#endif
