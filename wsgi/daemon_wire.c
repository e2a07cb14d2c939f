/*
 * daemon_wire.c: the frames between an Apache child and a daemon process
 * (daemon_wire.h). Encoders check everything before they write, so a failed
 * one leaves the buffer as it was; decoders check every length against what
 * is left before they touch it, and refuse an oversized payload before they
 * allocate.
 *
 * REQUEST payload: u32 version, the secret, i64 script_mtime,
 * request_start, queue_start, u32 flags, restarts, ticket, u64 ticket_seq,
 * strings script,
 * process_group, application_group, callable_object, handler_script, u32
 * nenv, then nenv (key, value) string pairs. A NULL string goes as "", so a
 * decoded one is never NULL.
 * HEADERS payload: u16 status, string status_line, u32 n, then n (name,
 * value) string pairs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* poll, clock_gettime and MSG_NOSIGNAL under a strict -std */
#endif
#include "daemon_wire.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* REQUEST up to its strings; then five strings and nenv, at 4 bytes each
 * when empty. */
#define REQUEST_FIXED (4 + GOWSGI_WIRE_SECRET_SIZE + 3 * 8 + 3 * 4 + 8)
#define REQUEST_MIN (REQUEST_FIXED + 5 * 4 + 4)
#define HEADERS_MIN (2 + 4 + 4)
/* The fixed-layout frames' parts before their text or bytes. */
#define ERROR_FIXED 3
#define LOG_FIXED 1
#define DATA_FIXED 1
/* APLOG_LEVELMASK: the levels Apache has. */
#define LOG_LEVEL_MAX 15

/* A decoded block is the struct, two pointer arrays and the strings, each
 * bounded by a limit checked first: the sum cannot overflow. */
_Static_assert(GOWSGI_WIRE_MAX_PAYLOAD + 2ull * GOWSGI_WIRE_MAX_FIELDS * sizeof(char *) +
                       sizeof(gowsgi_wire_request) + sizeof(gowsgi_wire_headers) <
                   SIZE_MAX / 2,
               "decoded block size can overflow");

/* ---- byte order: the wire's, whatever the host's ------------------------ */

static void put_be16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be16(const unsigned char *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const unsigned char *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* ---- frame headers ------------------------------------------------------- */

/* The payload lengths a frame of each type can have; 0 for an unknown type.
 * Encoders and the reader share it, so nothing sent is refused. */
static int length_ok(int type, uint32_t len)
{
    switch (type) {
    case GOWSGI_FRAME_REQUEST:
        return len >= REQUEST_MIN && len <= GOWSGI_WIRE_MAX_PAYLOAD;
    case GOWSGI_FRAME_BODY:
        return len >= 1 && len <= GOWSGI_WIRE_MAX_CHUNK;
    case GOWSGI_FRAME_BODY_END:
        return len == 0;
    case GOWSGI_FRAME_BODY_ERROR:
        return len <= GOWSGI_WIRE_MAX_PAYLOAD;
    case GOWSGI_FRAME_ACCEPT:
        return len == 8;
    case GOWSGI_FRAME_READ:
        return len == 4;
    case GOWSGI_FRAME_LOG:
        return len >= LOG_FIXED && len <= GOWSGI_WIRE_MAX_PAYLOAD;
    case GOWSGI_FRAME_ERROR:
        return len >= ERROR_FIXED && len <= GOWSGI_WIRE_MAX_PAYLOAD;
    case GOWSGI_FRAME_HEADERS:
        return len >= HEADERS_MIN && len <= GOWSGI_WIRE_MAX_PAYLOAD;
    case GOWSGI_FRAME_DATA:
        return len >= DATA_FIXED && len <= DATA_FIXED + GOWSGI_WIRE_MAX_CHUNK;
    case GOWSGI_FRAME_END:
        return len == 1;
    case GOWSGI_FRAME_GOODBYE:
        return len == 0;
    default:
        return 0;
    }
}

int gowsgi_wire_parse_header(const unsigned char hdr[GOWSGI_WIRE_HEADER_SIZE], int *type, uint32_t *len)
{
    uint32_t n = get_be32(hdr);
    int t = hdr[4];

    if (!length_ok(t, n))
        return -EPROTO;
    *type = t;
    *len = n;
    return 0;
}

/* ---- encoding ------------------------------------------------------------ */

void gowsgi_wire_buf_free(gowsgi_wire_buf *b)
{
    if (b == NULL)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Room for n more bytes; on failure the buffer is as it was. */
static int reserve(gowsgi_wire_buf *b, size_t n)
{
    size_t cap;
    unsigned char *p;

    if (b->cap - b->len >= n)
        return 0;
    if (n > SIZE_MAX - b->len)
        return -1;
    cap = b->cap <= SIZE_MAX / 2 ? b->cap * 2 : SIZE_MAX;
    if (cap < b->len + n)
        cap = b->len + n;
    if (cap < 256)
        cap = 256;
    p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Appends a frame header for a payload of len bytes and returns where the
 * payload goes, or NULL (nothing appended) when the frame would be refused
 * by the reader or memory ran out. */
static unsigned char *frame(gowsgi_wire_buf *b, int type, size_t len)
{
    unsigned char *h;

    if (b == NULL || len > GOWSGI_WIRE_MAX_PAYLOAD || !length_ok(type, (uint32_t)len))
        return NULL;
    if (reserve(b, GOWSGI_WIRE_HEADER_SIZE + len) < 0)
        return NULL;
    h = b->p + b->len;
    put_be32(h, (uint32_t)len);
    h[4] = (unsigned char)type;
    b->len += GOWSGI_WIRE_HEADER_SIZE + len;
    return h + GOWSGI_WIRE_HEADER_SIZE;
}

/* Adds n to a payload size, failing once past the maximum (which also keeps
 * the sum from overflowing). */
static int add_size(size_t *total, size_t n)
{
    if (n > GOWSGI_WIRE_MAX_PAYLOAD || *total > GOWSGI_WIRE_MAX_PAYLOAD - n)
        return -1;
    *total += n;
    return 0;
}

static const char *or_empty(const char *s)
{
    return s != NULL ? s : "";
}

static int add_string(size_t *total, const char *s)
{
    return add_size(total, 4) < 0 ? -1 : add_size(total, strlen(or_empty(s)));
}

/* Only after add_string accepted s, so its length fits in a u32. */
static unsigned char *write_string(unsigned char *p, const char *s)
{
    size_t n = strlen(or_empty(s));

    put_be32(p, (uint32_t)n);
    if (n > 0)
        memcpy(p + 4, s, n);
    return p + 4 + n;
}

/* Sizes a list of pairs: n at most the maximum, and arrays to read them. */
static int add_pairs(size_t *total, uint32_t n, const char *const *a, const char *const *b)
{
    uint32_t i;

    if (n > GOWSGI_WIRE_MAX_FIELDS || (n > 0 && (a == NULL || b == NULL)))
        return -1;
    for (i = 0; i < n; i++)
        if (add_string(total, a[i]) < 0 || add_string(total, b[i]) < 0)
            return -1;
    return 0;
}

static unsigned char *write_pairs(unsigned char *p, uint32_t n, const char *const *a, const char *const *b)
{
    uint32_t i;

    put_be32(p, n);
    p += 4;
    for (i = 0; i < n; i++) {
        p = write_string(p, a[i]);
        p = write_string(p, b[i]);
    }
    return p;
}

int gowsgi_wire_put_frame(gowsgi_wire_buf *b, int type, const void *payload, size_t len)
{
    unsigned char *p;

    if (len > 0 && payload == NULL)
        return -1;
    p = frame(b, type, len);
    if (p == NULL)
        return -1;
    if (len > 0)
        memcpy(p, payload, len);
    return 0;
}

int gowsgi_wire_put_request(gowsgi_wire_buf *b, const gowsgi_wire_request *r)
{
    const char *strs[5];
    size_t len = REQUEST_FIXED + 4;
    unsigned char *p;
    int i;

    if (r == NULL)
        return -1;
    strs[0] = r->script;
    strs[1] = r->process_group;
    strs[2] = r->application_group;
    strs[3] = r->callable_object;
    strs[4] = r->handler_script;
    for (i = 0; i < 5; i++)
        if (add_string(&len, strs[i]) < 0)
            return -1;
    if (add_pairs(&len, r->nenv, r->env_keys, r->env_vals) < 0)
        return -1;
    p = frame(b, GOWSGI_FRAME_REQUEST, len);
    if (p == NULL)
        return -1;
    put_be32(p, GOWSGI_WIRE_VERSION);
    memcpy(p + 4, r->secret, GOWSGI_WIRE_SECRET_SIZE);
    p += 4 + GOWSGI_WIRE_SECRET_SIZE;
    put_be64(p, (uint64_t)r->script_mtime);
    put_be64(p + 8, (uint64_t)r->request_start);
    put_be64(p + 16, (uint64_t)r->queue_start);
    put_be32(p + 24, r->flags);
    put_be32(p + 28, r->restarts);
    put_be32(p + 32, r->ticket);
    put_be64(p + 36, r->ticket_seq);
    p += 44;
    for (i = 0; i < 5; i++)
        p = write_string(p, strs[i]);
    write_pairs(p, r->nenv, r->env_keys, r->env_vals);
    return 0;
}

static int status_ok(int status)
{
    return status >= 100 && status <= 999;
}

int gowsgi_wire_put_headers(gowsgi_wire_buf *b, const gowsgi_wire_headers *h)
{
    size_t len = 2 + 4;
    unsigned char *p;

    if (h == NULL || !status_ok(h->status))
        return -1;
    if (add_string(&len, h->status_line) < 0 || add_pairs(&len, h->n, h->names, h->values) < 0)
        return -1;
    p = frame(b, GOWSGI_FRAME_HEADERS, len);
    if (p == NULL)
        return -1;
    put_be16(p, (uint32_t)h->status);
    p = write_string(p + 2, h->status_line);
    write_pairs(p, h->n, h->names, h->values);
    return 0;
}

/* READ is the one u32 frame: a max of 1 .. a chunk, as BODY frames are. */
static int read_max_ok(uint32_t v)
{
    return v >= 1 && v <= GOWSGI_WIRE_MAX_CHUNK;
}

int gowsgi_wire_put_u32(gowsgi_wire_buf *b, int type, uint32_t v)
{
    unsigned char *p;

    if (!read_max_ok(v) || (p = frame(b, type, 4)) == NULL)
        return -1;
    put_be32(p, v);
    return 0;
}

static int pid_ok(uint32_t pid)
{
    return pid >= 1 && pid <= INT32_MAX;
}

int gowsgi_wire_put_accept(gowsgi_wire_buf *b, uint32_t pid, uint32_t served)
{
    unsigned char *p;

    if (!pid_ok(pid) || (p = frame(b, GOWSGI_FRAME_ACCEPT, 8)) == NULL)
        return -1;
    put_be32(p, pid);
    put_be32(p + 4, served);
    return 0;
}

static int cause_ok(int cause)
{
    return cause >= GOWSGI_CAUSE_APP && cause <= GOWSGI_CAUSE_INTERRUPTED;
}

int gowsgi_wire_put_error(gowsgi_wire_buf *b, int status, int cause, const char *msg)
{
    size_t n = strlen(or_empty(msg));
    unsigned char *p;

    if (!status_ok(status) || !cause_ok(cause) || n > GOWSGI_WIRE_MAX_PAYLOAD - ERROR_FIXED)
        return -1;
    p = frame(b, GOWSGI_FRAME_ERROR, ERROR_FIXED + n);
    if (p == NULL)
        return -1;
    put_be16(p, (uint32_t)status);
    p[2] = (unsigned char)cause;
    if (n > 0)
        memcpy(p + ERROR_FIXED, msg, n);
    return 0;
}

/* A log line is text with a length, not a string: it may hold NUL bytes
 * (an app can write them to wsgi.errors), as the shim's log calls do. */
int gowsgi_wire_put_log(gowsgi_wire_buf *b, int level, const char *msg, size_t len)
{
    unsigned char *p;

    if (level < 0 || level > LOG_LEVEL_MAX || (len > 0 && msg == NULL) ||
        len > GOWSGI_WIRE_MAX_PAYLOAD - LOG_FIXED)
        return -1;
    p = frame(b, GOWSGI_FRAME_LOG, LOG_FIXED + len);
    if (p == NULL)
        return -1;
    p[0] = (unsigned char)level;
    if (len > 0)
        memcpy(p + LOG_FIXED, msg, len);
    return 0;
}

int gowsgi_wire_put_data(gowsgi_wire_buf *b, int flags, const void *data, size_t len)
{
    unsigned char *p;

    if ((flags & ~GOWSGI_DATA_FLUSH) != 0 || (len > 0 && data == NULL) || len > GOWSGI_WIRE_MAX_CHUNK)
        return -1;
    p = frame(b, GOWSGI_FRAME_DATA, DATA_FIXED + len);
    if (p == NULL)
        return -1;
    p[0] = (unsigned char)flags;
    if (len > 0)
        memcpy(p + DATA_FIXED, data, len);
    return 0;
}

static int outcome_ok(int outcome)
{
    return outcome == GOWSGI_END_COMPLETE || outcome == GOWSGI_END_INCOMPLETE || outcome == GOWSGI_END_COMPLETE_KEEP;
}

int gowsgi_wire_put_end(gowsgi_wire_buf *b, int outcome)
{
    unsigned char *p;

    if (!outcome_ok(outcome) || (p = frame(b, GOWSGI_FRAME_END, 1)) == NULL)
        return -1;
    p[0] = (unsigned char)outcome;
    return 0;
}

/* ---- decoding ------------------------------------------------------------ */

/* One pass over a payload. The first pass only checks and measures (out is
 * NULL); the second, over a payload the first accepted, copies the strings
 * into the block it sized. */
typedef struct walk {
    const unsigned char *p;  /* the next unread byte */
    size_t left;             /* bytes after it */
    char *out;               /* where the next string's copy goes */
    size_t need;             /* bytes the copies take, NULs included */
    char *err;
    size_t errlen;
} walk;

static void fail(walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(walk *w, const char *fmt, ...)
{
    va_list ap;

    if (w->err == NULL || w->errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(w->err, w->errlen, fmt, ap);
    va_end(ap);
}

static const unsigned char *take(walk *w, size_t n, const char *what)
{
    const unsigned char *p = w->p;

    if (w->left < n) {
        fail(w, "%s: truncated", what);
        return NULL;
    }
    w->p += n;
    w->left -= n;
    return p;
}

static int take_u32(walk *w, uint32_t *v, const char *what)
{
    const unsigned char *p = take(w, 4, what);

    if (p == NULL)
        return -1;
    *v = get_be32(p);
    return 0;
}

/* The next string: its copy, "" while measuring, or NULL. */
static const char *take_string(walk *w, const char *what)
{
    const unsigned char *s;
    const char *copy = "";
    uint32_t n;

    if (take_u32(w, &n, what) < 0)
        return NULL;
    if (n > w->left) {
        fail(w, "%s: length %lu runs past the payload", what, (unsigned long)n);
        return NULL;
    }
    s = take(w, n, what);
    if (n > 0 && memchr(s, 0, n) != NULL) {
        fail(w, "%s: NUL byte inside", what);
        return NULL;
    }
    if (w->out != NULL) {
        if (n > 0)
            memcpy(w->out, s, n);
        w->out[n] = '\0';
        copy = w->out;
        w->out += (size_t)n + 1;
    }
    w->need += (size_t)n + 1;
    return copy;
}

/* A pair list: its count (capped, and no more than the bytes left can
 * hold), then the pairs, stored only when the arrays are given. */
static int take_pairs(walk *w, uint32_t *count, const char **a, const char **b, const char *what)
{
    uint32_t n, i;

    if (take_u32(w, &n, what) < 0)
        return -1;
    if (n > GOWSGI_WIRE_MAX_FIELDS) {
        fail(w, "%s: %lu entries, over the maximum of %d", what, (unsigned long)n, GOWSGI_WIRE_MAX_FIELDS);
        return -1;
    }
    if ((size_t)n * 8 > w->left) {
        fail(w, "%s: %lu entries run past the payload", what, (unsigned long)n);
        return -1;
    }
    for (i = 0; i < n; i++) {
        const char *x = take_string(w, what);
        const char *y = x != NULL ? take_string(w, what) : NULL;

        if (y == NULL)
            return -1;
        if (a != NULL) {
            a[i] = x;
            b[i] = y;
        }
    }
    *count = n;
    return 0;
}

static int finished(walk *w, const char *what)
{
    if (w->left != 0) {
        fail(w, "%s: %lu trailing bytes", what, (unsigned long)w->left);
        return -1;
    }
    return 0;
}

static int walk_request(walk *w, gowsgi_wire_request *r, const char **keys, const char **vals)
{
    const unsigned char *p;
    uint32_t version;

    if (take_u32(w, &version, "REQUEST") < 0)
        return -1;
    if (version != GOWSGI_WIRE_VERSION) {
        fail(w, "REQUEST: wire version %lu, this side speaks %d", (unsigned long)version, GOWSGI_WIRE_VERSION);
        return -1;
    }
    p = take(w, REQUEST_FIXED - 4, "REQUEST");
    if (p == NULL)
        return -1;
    memcpy(r->secret, p, GOWSGI_WIRE_SECRET_SIZE);
    p += GOWSGI_WIRE_SECRET_SIZE;
    r->script_mtime = (int64_t)get_be64(p);
    r->request_start = (int64_t)get_be64(p + 8);
    r->queue_start = (int64_t)get_be64(p + 16);
    r->flags = get_be32(p + 24);
    r->restarts = get_be32(p + 28);
    r->ticket = get_be32(p + 32);
    r->ticket_seq = get_be64(p + 36);
    if ((r->script = take_string(w, "REQUEST script")) == NULL ||
        (r->process_group = take_string(w, "REQUEST process group")) == NULL ||
        (r->application_group = take_string(w, "REQUEST application group")) == NULL ||
        (r->callable_object = take_string(w, "REQUEST callable object")) == NULL ||
        (r->handler_script = take_string(w, "REQUEST handler script")) == NULL)
        return -1;
    if (take_pairs(w, &r->nenv, keys, vals, "REQUEST environ") < 0)
        return -1;
    r->env_keys = keys;
    r->env_vals = vals;
    return finished(w, "REQUEST");
}

gowsgi_wire_request *gowsgi_wire_get_request(const unsigned char *p, size_t len, char *err, size_t errlen)
{
    walk w = {p, len, NULL, 0, err, errlen};
    gowsgi_wire_request probe, *r;
    const char **keys;

    if (len > GOWSGI_WIRE_MAX_PAYLOAD || (len > 0 && p == NULL)) {
        fail(&w, "REQUEST: %zu bytes, over the maximum or missing", len);
        return NULL;
    }
    if (walk_request(&w, &probe, NULL, NULL) < 0)
        return NULL;
    /* The struct, the two pointer arrays, then the strings: the struct's
     * size is a multiple of its alignment, which pointers share. */
    r = malloc(sizeof(*r) + 2 * (size_t)probe.nenv * sizeof(char *) + w.need);
    if (r == NULL) {
        fail(&w, "REQUEST: out of memory");
        return NULL;
    }
    keys = (const char **)(void *)(r + 1);
    w = (walk){p, len, (char *)(keys + 2 * (size_t)probe.nenv), 0, err, errlen};
    if (walk_request(&w, r, keys, keys + probe.nenv) < 0) {
        free(r);  /* the first pass accepted it: cannot happen */
        return NULL;
    }
    return r;
}

static int walk_headers(walk *w, gowsgi_wire_headers *h, const char **names, const char **values)
{
    const unsigned char *p = take(w, 2, "HEADERS");

    if (p == NULL)
        return -1;
    h->status = (int)get_be16(p);
    if (!status_ok(h->status)) {
        fail(w, "HEADERS: status %d", h->status);
        return -1;
    }
    if ((h->status_line = take_string(w, "HEADERS status line")) == NULL)
        return -1;
    if (take_pairs(w, &h->n, names, values, "HEADERS") < 0)
        return -1;
    h->names = names;
    h->values = values;
    return finished(w, "HEADERS");
}

gowsgi_wire_headers *gowsgi_wire_get_headers(const unsigned char *p, size_t len, char *err, size_t errlen)
{
    walk w = {p, len, NULL, 0, err, errlen};
    gowsgi_wire_headers probe, *h;
    const char **names;

    if (len > GOWSGI_WIRE_MAX_PAYLOAD || (len > 0 && p == NULL)) {
        fail(&w, "HEADERS: %zu bytes, over the maximum or missing", len);
        return NULL;
    }
    if (walk_headers(&w, &probe, NULL, NULL) < 0)
        return NULL;
    /* The struct, the two pointer arrays, then the strings: the struct's
     * size is a multiple of its alignment, which pointers share. */
    h = malloc(sizeof(*h) + 2 * (size_t)probe.n * sizeof(char *) + w.need);
    if (h == NULL) {
        fail(&w, "HEADERS: out of memory");
        return NULL;
    }
    names = (const char **)(void *)(h + 1);
    w = (walk){p, len, (char *)(names + 2 * (size_t)probe.n), 0, err, errlen};
    if (walk_headers(&w, h, names, names + probe.n) < 0) {
        free(h);  /* the first pass accepted it: cannot happen */
        return NULL;
    }
    return h;
}

int gowsgi_wire_get_u32(const unsigned char *p, size_t len, uint32_t *v)
{
    if (p == NULL || len != 4 || !read_max_ok(get_be32(p)))
        return -1;
    *v = get_be32(p);
    return 0;
}

int gowsgi_wire_get_accept(const unsigned char *p, size_t len, uint32_t *pid, uint32_t *served)
{
    if (p == NULL || len != 8 || !pid_ok(get_be32(p)))
        return -1;
    *pid = get_be32(p);
    *served = get_be32(p + 4);
    return 0;
}

/* The message came from a C string (put_error), so a NUL in it is wrong. */
int gowsgi_wire_get_error(const unsigned char *p, size_t len, int *status, int *cause,
                          const char **msg, size_t *msglen)
{
    if (p == NULL || len < ERROR_FIXED || len > GOWSGI_WIRE_MAX_PAYLOAD)
        return -1;
    if (!status_ok((int)get_be16(p)) || !cause_ok(p[2]) ||
        (len > ERROR_FIXED && memchr(p + ERROR_FIXED, 0, len - ERROR_FIXED) != NULL))
        return -1;
    *status = (int)get_be16(p);
    *cause = p[2];
    *msg = (const char *)p + ERROR_FIXED;
    *msglen = len - ERROR_FIXED;
    return 0;
}

int gowsgi_wire_get_log(const unsigned char *p, size_t len, int *level, const char **msg, size_t *msglen)
{
    if (p == NULL || len < LOG_FIXED || len > GOWSGI_WIRE_MAX_PAYLOAD || p[0] > LOG_LEVEL_MAX)
        return -1;
    *level = p[0];
    *msg = (const char *)p + LOG_FIXED;
    *msglen = len - LOG_FIXED;
    return 0;
}

int gowsgi_wire_get_data(const unsigned char *p, size_t len, int *flags, const unsigned char **data,
                         size_t *datalen)
{
    if (p == NULL || len < DATA_FIXED || len > DATA_FIXED + GOWSGI_WIRE_MAX_CHUNK ||
        (p[0] & ~GOWSGI_DATA_FLUSH) != 0)
        return -1;
    *flags = p[0];
    *data = p + DATA_FIXED;
    *datalen = len - DATA_FIXED;
    return 0;
}

int gowsgi_wire_get_end(const unsigned char *p, size_t len, int *outcome)
{
    if (p == NULL || len != 1 || !outcome_ok(p[0]))
        return -1;
    *outcome = p[0];
    return 0;
}
