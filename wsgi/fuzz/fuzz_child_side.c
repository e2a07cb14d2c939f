/*
 * fuzz_child_side.c: libFuzzer target for what an Apache child reads from a
 * daemon: ACCEPT, then READ and LOG, then ERROR, or HEADERS, DATA and END
 * (daemon_wire.h). Every frame is decoded, and one that decodes must encode
 * back to the same bytes. The whole input is also tried as each bare
 * payload, to reach the decoders with lengths no frame header lets through.
 */
#include "fuzz_stream.h"

/* A decoder's pointer into the payload lies inside it. */
static void check_inside(const unsigned char *p, size_t len, const void *q, size_t n)
{
    const unsigned char *c = q;

    CHECK(c >= p && n <= len && (size_t)(c - p) <= len - n);
}

static int check_headers(const unsigned char *p, size_t len)
{
    char err[256];
    gowsgi_wire_headers *h = gowsgi_wire_get_headers(p, len, err, sizeof(err));
    gowsgi_wire_buf b = {0};
    uint32_t i;

    if (h == NULL) {
        CHECK(memchr(err, 0, sizeof(err)) != NULL && err[0] != '\0');
        return -1;
    }
    CHECK(h->status >= 100 && h->status <= 999);
    fuzz_check_string(h->status_line);
    CHECK(h->n <= GOWSGI_WIRE_MAX_FIELDS);
    for (i = 0; i < h->n; i++) {
        fuzz_check_string(h->names[i]);
        fuzz_check_string(h->values[i]);
    }
    CHECK(gowsgi_wire_put_headers(&b, h) == 0);
    fuzz_check_frame(&b, GOWSGI_FRAME_HEADERS, p, len);
    gowsgi_wire_buf_free(&b);
    free(h);
    return 0;
}

static int check_error(const unsigned char *p, size_t len)
{
    gowsgi_wire_buf b = {0};
    const char *msg;
    size_t msglen;
    char *copy;
    int status, cause;

    if (gowsgi_wire_get_error(p, len, &status, &cause, &msg, &msglen) < 0)
        return -1;
    check_inside(p, len, msg, msglen);
    CHECK(memchr(msg, 0, msglen) == NULL);
    copy = malloc(msglen + 1);
    CHECK(copy != NULL);
    memcpy(copy, msg, msglen);
    copy[msglen] = '\0';
    CHECK(gowsgi_wire_put_error(&b, status, cause, copy) == 0);
    fuzz_check_frame(&b, GOWSGI_FRAME_ERROR, p, len);
    gowsgi_wire_buf_free(&b);
    free(copy);
    return 0;
}

static int check_fixed(int type, const unsigned char *p, size_t len)
{
    gowsgi_wire_buf b = {0};
    const unsigned char *data;
    const char *msg;
    uint32_t v, w;
    size_t n;
    int x, rc;

    switch (type) {
    case GOWSGI_FRAME_ACCEPT:
        if ((rc = gowsgi_wire_get_accept(p, len, &v, &w)) == 0)
            CHECK(gowsgi_wire_put_accept(&b, v, w) == 0);
        break;
    case GOWSGI_FRAME_READ:
        if ((rc = gowsgi_wire_get_u32(p, len, &v)) == 0)
            CHECK(gowsgi_wire_put_u32(&b, type, v) == 0);
        break;
    case GOWSGI_FRAME_LOG:
        if ((rc = gowsgi_wire_get_log(p, len, &x, &msg, &n)) == 0) {
            check_inside(p, len, msg, n);
            CHECK(gowsgi_wire_put_log(&b, x, msg, n) == 0);
        }
        break;
    case GOWSGI_FRAME_DATA:
        if ((rc = gowsgi_wire_get_data(p, len, &x, &data, &n)) == 0) {
            check_inside(p, len, data, n);
            CHECK(gowsgi_wire_put_data(&b, x, data, n) == 0);
        }
        break;
    case GOWSGI_FRAME_END:
        if ((rc = gowsgi_wire_get_end(p, len, &x)) == 0)
            CHECK(gowsgi_wire_put_end(&b, x) == 0);
        break;
    case GOWSGI_FRAME_GOODBYE:
        if ((rc = len == 0 ? 0 : -1) == 0)
            CHECK(gowsgi_wire_put_frame(&b, GOWSGI_FRAME_GOODBYE, NULL, 0) == 0);
        break;
    default:
        return -1;
    }
    if (rc == 0)
        fuzz_check_frame(&b, type, p, len);
    gowsgi_wire_buf_free(&b);
    return rc;
}

static int decode(int type, const unsigned char *p, size_t len)
{
    switch (type) {
    case GOWSGI_FRAME_HEADERS:
        return check_headers(p, len);
    case GOWSGI_FRAME_ERROR:
        return check_error(p, len);
    default:
        return check_fixed(type, p, len);
    }
}

/* A child-to-daemon frame here is a protocol error the child answers
 * without decoding it. */
static void on_frame(void *state, int type, const unsigned char *p, size_t len)
{
    (void)state;
    decode(type, p, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int types[] = {GOWSGI_FRAME_ACCEPT, GOWSGI_FRAME_READ, GOWSGI_FRAME_LOG, GOWSGI_FRAME_ERROR,
                                GOWSGI_FRAME_HEADERS, GOWSGI_FRAME_DATA, GOWSGI_FRAME_END,
                                GOWSGI_FRAME_GOODBYE};
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        decode(types[i], data, size);
    fuzz_stream(data, size, on_frame, NULL);
    return 0;
}
