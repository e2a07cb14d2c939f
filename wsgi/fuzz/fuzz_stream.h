/*
 * fuzz_stream.h: what both fuzz targets do with an input. It is the byte
 * stream one side of a daemon connection reads (daemon_wire.h), read twice:
 * from memory with gowsgi_wire_parse_header, and through a real socket with
 * gowsgi_wire_recv and with the buffered gowsgi_wire_read. The two readings must agree frame for frame, and each
 * frame goes to the target's handler, which decodes it as that side would.
 */
#ifndef GOWSGI_FUZZ_STREAM_H
#define GOWSGI_FUZZ_STREAM_H

#include "daemon_wire.h"
#include "fuzz_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef void (*fuzz_frame_fn)(void *state, int type, const unsigned char *p, size_t len);

typedef struct fuzz_frame {
    int type;
    const unsigned char *p;
    uint32_t len;
} fuzz_frame;

/* The frames in data, as gowsgi_wire_recv would return them; *end is what
 * it returns after the last: 1 at a clean end, -EPROTO otherwise. */
static size_t fuzz_parse_memory(const uint8_t *data, size_t size, fuzz_frame *frames, int *end)
{
    size_t n = 0, off = 0;

    for (;;) {
        int type;
        uint32_t len;

        if (off == size) {
            *end = 1;
            return n;
        }
        if (size - off < GOWSGI_WIRE_HEADER_SIZE || gowsgi_wire_parse_header(data + off, &type, &len) < 0) {
            *end = -EPROTO;
            return n;
        }
        /* parse_header bounds every length: no frame can claim more. */
        CHECK(len <= GOWSGI_WIRE_MAX_PAYLOAD);
        off += GOWSGI_WIRE_HEADER_SIZE;
        if (size - off < len) {
            *end = -EPROTO;
            return n;
        }
        frames[n].type = type;
        frames[n].p = data + off;
        frames[n].len = len;
        n++;
        off += len;
    }
}

/* The same stream through a socket must read the same. Skipped when the
 * input does not fit in the socket's buffer. */
static void fuzz_check_socket(const uint8_t *data, size_t size, const fuzz_frame *frames, size_t n, int end)
{
    gowsgi_wire_buf b = {0};
    size_t i;
    int sv[2], type, rc;

    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    if (size > 0 && send(sv[0], data, size, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)size) {
        close(sv[0]);
        close(sv[1]);
        return;
    }
    CHECK(shutdown(sv[0], SHUT_WR) == 0);
    for (i = 0; i < n; i++) {
        rc = gowsgi_wire_recv(sv[1], &type, &b, 1000);
        CHECK(rc == 0);
        CHECK(type == frames[i].type);
        CHECK(b.len == frames[i].len);
        CHECK(b.len <= b.cap);
        CHECK(b.len == 0 || memcmp(b.p, frames[i].p, b.len) == 0);
    }
    rc = gowsgi_wire_recv(sv[1], &type, &b, 1000);
    CHECK(rc == end);
    CHECK(b.len == 0);
    gowsgi_wire_buf_free(&b);
    close(sv[0]);
    close(sv[1]);

    /* And through the buffered reader, which reads ahead. */
    gowsgi_wire_reader r = {0};
    const unsigned char *p;
    size_t len;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    if (size > 0 && send(sv[0], data, size, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)size) {
        close(sv[0]);
        close(sv[1]);
        return;
    }
    CHECK(shutdown(sv[0], SHUT_WR) == 0);
    r.fd = sv[1];
    for (i = 0; i < n; i++) {
        rc = gowsgi_wire_read(&r, &type, &p, &len, 1000);
        CHECK(rc == 0);
        CHECK(type == frames[i].type);
        CHECK(len == frames[i].len);
        CHECK(len == 0 || memcmp(p, frames[i].p, len) == 0);
    }
    rc = gowsgi_wire_read(&r, &type, &p, &len, 1000);
    CHECK(rc == end);
    gowsgi_wire_reader_free(&r);
    close(sv[0]);
    close(sv[1]);
}

static void fuzz_stream(const uint8_t *data, size_t size, fuzz_frame_fn fn, void *state)
{
    fuzz_frame *frames = malloc((size / GOWSGI_WIRE_HEADER_SIZE + 1) * sizeof(*frames));
    size_t i, n;
    int end;

    CHECK(frames != NULL);
    n = fuzz_parse_memory(data, size, frames, &end);
    for (i = 0; i < n; i++)
        fn(state, frames[i].type, frames[i].p, frames[i].len);
    fuzz_check_socket(data, size, frames, n, end);
    free(frames);
}

/* An encoder given what a decoder returned writes the frame back exactly:
 * the encoding is canonical, so a decoder accepts nothing loose. */
static void fuzz_check_frame(const gowsgi_wire_buf *b, int type, const unsigned char *p, size_t len)
{
    int t;
    uint32_t n;

    CHECK(b->len == GOWSGI_WIRE_HEADER_SIZE + len);
    CHECK(gowsgi_wire_parse_header(b->p, &t, &n) == 0);
    CHECK(t == type && n == len);
    CHECK(len == 0 || memcmp(b->p + GOWSGI_WIRE_HEADER_SIZE, p, len) == 0);
}

/* A decoded string: what strlen sees is all there is. */
static void fuzz_check_string(const char *s)
{
    CHECK(s != NULL);
    CHECK(strlen(s) <= GOWSGI_WIRE_MAX_PAYLOAD);
}

#endif
