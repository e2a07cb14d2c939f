/*
 * fuzz_daemon_side.c: libFuzzer target for what a daemon reads from an
 * Apache child: REQUEST, then BODY, BODY_END and BODY_ERROR frames
 * (daemon_wire.h). Every REQUEST is decoded, and one that decodes must
 * encode back to the same bytes. The whole input is also tried as a bare
 * REQUEST payload, to reach the decoder with lengths no frame header lets
 * through.
 */
#include "fuzz_stream.h"

static void check_request(const unsigned char *p, size_t len)
{
    char err[256];
    gowsgi_wire_request *r = gowsgi_wire_get_request(p, len, err, sizeof(err));
    gowsgi_wire_buf b = {0};
    uint32_t i;

    if (r == NULL) {
        CHECK(memchr(err, 0, sizeof(err)) != NULL && err[0] != '\0');
        return;
    }
    fuzz_check_string(r->script);
    fuzz_check_string(r->process_group);
    fuzz_check_string(r->application_group);
    fuzz_check_string(r->callable_object);
    fuzz_check_string(r->handler_script);
    CHECK(r->nenv <= GOWSGI_WIRE_MAX_FIELDS);
    for (i = 0; i < r->nenv; i++) {
        fuzz_check_string(r->env_keys[i]);
        fuzz_check_string(r->env_vals[i]);
    }
    CHECK(gowsgi_wire_put_request(&b, r) == 0);
    fuzz_check_frame(&b, GOWSGI_FRAME_REQUEST, p, len);
    gowsgi_wire_buf_free(&b);
    free(r);
}

static void on_frame(void *state, int type, const unsigned char *p, size_t len)
{
    (void)state;
    switch (type) {
    case GOWSGI_FRAME_REQUEST:
        check_request(p, len);
        break;
    case GOWSGI_FRAME_BODY:
        /* The header bounded it: one chunk at most, never empty. */
        CHECK(len >= 1 && len <= GOWSGI_WIRE_MAX_CHUNK);
        break;
    case GOWSGI_FRAME_BODY_END:
        CHECK(len == 0);
        break;
    default:
        /* BODY_ERROR is bare text; a daemon-to-child frame here is a
         * protocol error the daemon answers without decoding it. */
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_request(data, size);
    fuzz_stream(data, size, on_frame, NULL);
    return 0;
}
