/*
 * daemon_wire.h: the protocol between an Apache child and a daemon process
 * (ARCHITECTURE.md section 5). Compiled into both sides: the shim (the
 * child forwards requests) and the engine (the daemon serves them). No
 * Apache or Python headers.
 *
 * A connection carries one request on a SOCK_STREAM socket, then more if
 * the daemon ended the last with END_COMPLETE_KEEP: the child may send its
 * next REQUEST on it, or close it. A daemon that closes a kept connection
 * it has not taken a request from first sends GOODBYE, so a child that
 * sent one meanwhile knows it was never run and sends it again elsewhere.
 * Every message is a
 * frame: a 4-byte payload length (network order), a 1-byte type, then the
 * payload. Integers in payloads are network order; a string is a u32 length
 * and that many bytes, with no NUL byte inside.
 *
 *   child -> daemon: REQUEST, then BODY / BODY_END / BODY_ERROR only in
 *                    answer to a READ (the daemon pulls the body as the app
 *                    reads it, so "100 Continue" is still sent only when the
 *                    app reads, and an app may answer before reading).
 *   daemon -> child: ACCEPT first; then any of READ and LOG; then either
 *                    ERROR (nothing sent to the client yet), or HEADERS,
 *                    DATA*, END. A connection closed before END means the
 *                    daemon went away mid-request. The child closing the
 *                    connection means the client went away.
 *
 * ACCEPT leaves with the first frames of the answer (one send per request),
 * so it does not tell the child whether the app has begun: the REQUEST's
 * ticket does (daemon_ticket.h). A connection that ends, or stays silent,
 * before its ticket is BEGUN carried a request no app ran: the child sends
 * it again, elsewhere.
 */
#ifndef GOWSGI_DAEMON_WIRE_H
#define GOWSGI_DAEMON_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define GOWSGI_WIRE_VERSION 2
#define GOWSGI_WIRE_HEADER_SIZE 5
/* Largest payload either side accepts: 32-bit lengths, hard limit. */
#define GOWSGI_WIRE_MAX_PAYLOAD (16u << 20)
/* Most body bytes in one BODY or DATA frame. */
#define GOWSGI_WIRE_MAX_CHUNK (256u << 10)
/* Most environ entries, and response headers, in one frame. */
#define GOWSGI_WIRE_MAX_FIELDS 10000
#define GOWSGI_WIRE_SECRET_SIZE 32

enum gowsgi_frame_type {
    /* child -> daemon */
    GOWSGI_FRAME_REQUEST = 1,     /* gowsgi_wire_request */
    GOWSGI_FRAME_BODY = 2,        /* body bytes (1 .. the READ's max) */
    GOWSGI_FRAME_BODY_END = 3,    /* empty: the body has ended */
    GOWSGI_FRAME_BODY_ERROR = 4,  /* reason text: reading the body failed */
    /* daemon -> child */
    GOWSGI_FRAME_ACCEPT = 16,     /* u32 pid, u32 requests served before this one */
    GOWSGI_FRAME_READ = 17,       /* u32 max: send up to max body bytes */
    GOWSGI_FRAME_LOG = 18,        /* u8 level (APLOG_*), line text */
    GOWSGI_FRAME_ERROR = 19,      /* u16 status, u8 cause, message text */
    GOWSGI_FRAME_HEADERS = 20,    /* gowsgi_wire_headers */
    GOWSGI_FRAME_DATA = 21,       /* u8 flags, body bytes */
    GOWSGI_FRAME_END = 22,        /* u8 outcome */
    GOWSGI_FRAME_GOODBYE = 23     /* empty: this kept connection closes; no request was taken */
};

/* DATA flags. */
#define GOWSGI_DATA_FLUSH 1

/* END outcomes. */
enum {
    GOWSGI_END_COMPLETE = 0,
    GOWSGI_END_INCOMPLETE = 1,    /* shorter than its Content-Length, or broken off */
    GOWSGI_END_COMPLETE_KEEP = 2  /* complete, and the connection takes another request */
};

/* ERROR causes: why the daemon refused or failed a request before its
 * headers (the child logs it and answers with the status). */
enum {
    GOWSGI_CAUSE_APP = 1,         /* the app or its script failed (500, 404) */
    GOWSGI_CAUSE_SECRET = 2,      /* the request did not carry this group's secret */
    GOWSGI_CAUSE_QUEUE_TIMEOUT = 3,
    GOWSGI_CAUSE_SHUTDOWN = 4,    /* the process is stopping: try another */
    GOWSGI_CAUSE_RELOAD = 5,      /* the script changed: replay on a new process */
    GOWSGI_CAUSE_PROTOCOL = 6,    /* a frame that makes no sense */
    GOWSGI_CAUSE_INTERRUPTED = 7  /* request-timeout interrupted it (mod_wsgi 6's interrupt-timeout): 504 */
};

/* REQUEST flags. */
#define GOWSGI_REQ_SCRIPT_RELOADING 1
#define GOWSGI_REQ_ENABLE_SENDFILE 2
#define GOWSGI_REQ_HEAD_ONLY 4
#define GOWSGI_REQ_IGNORE_ACTIVITY 8  /* WSGIIgnoreActivity: no reset of inactivity-timeout */
#define GOWSGI_REQ_MODWSGI6 16        /* GoWSGICompatibility 6 (modwsgi_compat.c) */

typedef struct gowsgi_wire_request {
    unsigned char secret[GOWSGI_WIRE_SECRET_SIZE];
    int64_t script_mtime;         /* microseconds */
    int64_t request_start;        /* microseconds since the epoch */
    int64_t queue_start;          /* when the child started forwarding */
    uint32_t flags;               /* GOWSGI_REQ_* */
    uint32_t restarts;            /* times this request was replayed (daemon_restarts) */
    uint32_t ticket;              /* the child's ticket (daemon_ticket.h), index + 1; 0: none */
    uint64_t ticket_seq;          /* this attempt's seq on it */
    const char *script;
    const char *process_group;
    const char *application_group;
    const char *callable_object;
    const char *handler_script;
    uint32_t nenv;
    const char *const *env_keys;
    const char *const *env_vals;
} gowsgi_wire_request;

typedef struct gowsgi_wire_headers {
    int status;                   /* 100 .. 999 */
    const char *status_line;      /* "200 OK" */
    uint32_t n;
    const char *const *names;
    const char *const *values;
} gowsgi_wire_headers;

/* A growable byte buffer (malloc). */
typedef struct gowsgi_wire_buf {
    unsigned char *p;
    size_t len, cap;
} gowsgi_wire_buf;

void gowsgi_wire_buf_free(gowsgi_wire_buf *b);

/* Encoders append one whole frame to b: 0, or -1 (out of memory, or a
 * field over the limits above, or a NUL inside a string). */
int gowsgi_wire_put_frame(gowsgi_wire_buf *b, int type, const void *payload, size_t len);
int gowsgi_wire_put_request(gowsgi_wire_buf *b, const gowsgi_wire_request *r);
int gowsgi_wire_put_headers(gowsgi_wire_buf *b, const gowsgi_wire_headers *h);
int gowsgi_wire_put_u32(gowsgi_wire_buf *b, int type, uint32_t v);                 /* READ */
int gowsgi_wire_put_accept(gowsgi_wire_buf *b, uint32_t pid, uint32_t served);
int gowsgi_wire_put_error(gowsgi_wire_buf *b, int status, int cause, const char *msg);
int gowsgi_wire_put_log(gowsgi_wire_buf *b, int level, const char *msg, size_t len);
int gowsgi_wire_put_data(gowsgi_wire_buf *b, int flags, const void *data, size_t len);
int gowsgi_wire_put_end(gowsgi_wire_buf *b, int outcome);

/* Decoders check everything (lengths inside the payload, counts, NULs,
 * trailing bytes) and never read past len. They return one malloc'd block
 * holding the struct and copies of every string (free() it), or NULL with
 * a reason in err. */
gowsgi_wire_request *gowsgi_wire_get_request(const unsigned char *p, size_t len, char *err, size_t errlen);
gowsgi_wire_headers *gowsgi_wire_get_headers(const unsigned char *p, size_t len, char *err, size_t errlen);
/* Fixed-layout payloads: 0, or -1 when len or a value is wrong. Text
 * (*msg, *msglen) points into p and is not NUL-terminated. */
int gowsgi_wire_get_u32(const unsigned char *p, size_t len, uint32_t *v);
int gowsgi_wire_get_accept(const unsigned char *p, size_t len, uint32_t *pid, uint32_t *served);
int gowsgi_wire_get_error(const unsigned char *p, size_t len, int *status, int *cause,
                          const char **msg, size_t *msglen);
int gowsgi_wire_get_log(const unsigned char *p, size_t len, int *level, const char **msg, size_t *msglen);
int gowsgi_wire_get_data(const unsigned char *p, size_t len, int *flags, const unsigned char **data,
                         size_t *datalen);
int gowsgi_wire_get_end(const unsigned char *p, size_t len, int *outcome);

/* Checks a frame header held in memory: its type into *type and payload
 * length into *len. 0, or -EPROTO for an unknown type or a length no frame
 * of that type can have (over the maximum, a BODY or DATA over a chunk, an
 * empty BODY, a fixed-layout frame of another size). gowsgi_wire_recv uses
 * it; so can a reader of frames held in memory. */
int gowsgi_wire_parse_header(const unsigned char hdr[GOWSGI_WIRE_HEADER_SIZE], int *type, uint32_t *len);

/* Blocking I/O on a stream socket, retrying EINTR. timeout_ms < 0 waits
 * forever. Returns 0, or a negative errno (-ETIMEDOUT, -EPIPE, ...). */
int gowsgi_wire_send(int fd, const void *p, size_t len, int timeout_ms);
/* Reads one frame: its type into *type and its payload into payload
 * (replacing what it held). Returns 0; 1 at a clean end of stream before
 * a frame; -EPROTO for a bad header (unknown type, payload over the
 * maximum) or a stream ending inside a frame; or a negative errno. */
int gowsgi_wire_recv(int fd, int *type, gowsgi_wire_buf *payload, int timeout_ms);

/* A buffered reader of frames from one socket: it reads what is there, so
 * several small frames cost one recv. Zero it, set fd, free it when done. */
typedef struct gowsgi_wire_reader {
    int fd;
    int wait_first;               /* poll before reading: the peer is usually not ready yet */
    unsigned char *p;
    size_t start, end, cap;
} gowsgi_wire_reader;

/* The next frame: its type and payload (valid until the next call). The
 * same answers as gowsgi_wire_recv: 0, 1 at a clean end of stream, -EPROTO,
 * or a negative errno. */
int gowsgi_wire_read(gowsgi_wire_reader *r, int *type, const unsigned char **payload, size_t *len,
                     int timeout_ms);
void gowsgi_wire_reader_free(gowsgi_wire_reader *r);

#endif
