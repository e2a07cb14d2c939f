/*
 * fuzz_launcher_settings.c: libFuzzer target for the daemon launcher's
 * settings decoder (wsgi/launcher/settings.c), which reads what the shim
 * wrote for one process (cshim/daemon_launch.c). The launcher runs as the
 * group's user and trusts its descriptor, but a decoder that reads past its
 * buffer, or leaks, on a record it did not expect is a defect all the same.
 * A decode either fails with a message and nothing allocated, or gives
 * strings that all lie inside the buffer, NUL-terminated there, and arrays
 * as long as their counts.
 */
#include "fuzz_check.h"
#include "launcher.h"
#include "daemon_launch.h"

#include <stdint.h>
#include <string.h>

static const char *buf_start;
static size_t buf_len;

/* NULL, or a string inside the buffer that ends there. */
static void check_string(const char *s)
{
    if (s == NULL)
        return;
    CHECK(s >= buf_start && s < buf_start + buf_len);
    CHECK(memchr(s, '\0', (size_t)(buf_start + buf_len - s)) != NULL);
}

static void check_decoded(const launch_settings *s)
{
    const gowsgi_daemon_init *init = &s->init;
#define CHECK_STR(f) check_string(init->f);
    GOWSGI_LAUNCH_STRINGS(CHECK_STR)
#undef CHECK_STR
    check_string(s->libpython);
    check_string(s->engine);
    check_string(s->title);
    check_string(s->locale);
    CHECK(s->libpython != NULL && s->engine != NULL && init->group != NULL && s->shared_size > 0);
    CHECK(init->base.nwarnings >= 0 && init->base.ngil_exceptions >= 0 && init->base.nimports >= 0 &&
          init->base.ninterp_overrides >= 0);
    for (int i = 0; i < init->base.nwarnings; i++)
        check_string(init->base.warnings[i]);
    for (int i = 0; i < init->base.ngil_exceptions; i++)
        check_string(init->base.gil_exceptions[i]);
    for (int i = 0; i < init->base.nimports; i++) {
        check_string(init->base.imports[i].script);
        check_string(init->base.imports[i].application_group);
        check_string(init->base.imports[i].callable_object);
        check_string(init->base.imports[i].where);
    }
    for (int i = 0; i < init->base.ninterp_overrides; i++) {
        const gowsgi_interp_override *o = &init->base.interp_overrides[i];
        check_string(o->application_group);
        check_string(o->python_path_layers);
        check_string(o->switch_interval);
    }
    CHECK(init->secret == s->secret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exactly the input's bytes, so ASan sees any read past them. */
    char *buf = malloc(size > 0 ? size : 1);
    CHECK(buf != NULL);
    if (size > 0)
        memcpy(buf, data, size);
    buf_start = buf;
    buf_len = size;
    launch_settings s;
    const char *err = launch_settings_decode(buf, size, &s);
    if (err != NULL)
        CHECK(err[0] != '\0');
    else {
        check_decoded(&s);
        launch_settings_free(&s);
    }
    free(buf);
    return 0;
}
