/*
 * fuzz_check.h: a failed check is a crash, which libFuzzer keeps as an
 * artifact.
 */
#ifndef GOWSGI_FUZZ_CHECK_H
#define GOWSGI_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                              \
        }                                                                         \
    } while (0)

#endif
