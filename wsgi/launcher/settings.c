/*
 * settings.c: the launcher's side of the settings records (daemon_launch.h):
 * the encoder is cshim/daemon_launch.c, and both take the list of plain
 * fields from GOWSGI_LAUNCH_INTS / GOWSGI_LAUNCH_STRINGS.
 */
#include "launcher.h"
#include "daemon_launch.h"

#include <stdlib.h>
#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The arrays the decoder grows, until they are handed to the settings. */
typedef struct decoded_arrays {
    const char **warnings;
    const char **gil_exceptions;
    gowsgi_import *imports;
    gowsgi_interp_override *overrides;
} decoded_arrays;

/* Makes room for item n+1 of *arrayp (a pointer to an array pointer); on
 * failure the array is left as it was, for the caller to free. */
static int grow(void *arrayp, int n, size_t item)
{
    void **array = arrayp;
    void *grown = realloc(*array, item * (size_t)(n + 1));
    if (grown == NULL)
        return -1;
    *array = grown;
    return 0;
}

static const char *decode(char *buf, size_t len, launch_settings *s, decoded_arrays *a);

const char *launch_settings_decode(char *buf, size_t len, launch_settings *s)
{
    decoded_arrays a = {0};
    const char *err = decode(buf, len, s, &a);
    if (err != NULL) {
        free(a.warnings);
        free(a.gil_exceptions);
        free(a.imports);
        free(a.overrides);
        return err;   /* s keeps what was read (its log settings), no arrays */
    }
    s->init.base.warnings = a.warnings;
    s->init.base.gil_exceptions = a.gil_exceptions;
    s->init.base.imports = a.imports;
    s->init.base.interp_overrides = a.overrides;
    return NULL;
}

void launch_settings_free(launch_settings *s)
{
    free((void *)s->init.base.warnings);
    free((void *)s->init.base.gil_exceptions);
    free((void *)s->init.base.imports);
    free((void *)s->init.base.interp_overrides);
    memset(s, 0, sizeof(*s));
}

static const char *decode(char *buf, size_t len, launch_settings *s, decoded_arrays *a)
{
    gowsgi_daemon_init *init = &s->init;
    int magic = 0, secret = 0;
    memset(s, 0, sizeof(*s));
    init->log.fd = -1;
    init->log.syslog_facility = -1;
    s->at_exit_reason = s->at_exiting = s->at_reload_token = s->at_ready = s->at_idle = -1;
    s->at_crashed = s->at_tickets = -1;
    if (len == 0 || buf[len - 1] != '\0')
        return "the settings are cut short";
    for (size_t off = 0; off < len;) {
        const char *key = buf + off;
        off += strlen(key) + 1;
        if (off >= len)
            return "a setting has no value";
        const char *val = buf + off;
        off += strlen(val) + 1;
        if (strcmp(key, "magic") == 0) {
            if (strcmp(val, GOWSGI_LAUNCH_MAGIC) != 0)
                return "the settings are from another build of gowsgi";
            magic = 1;
            continue;
        }
#define GET_INT(f)                                                                                              \
        if (strcmp(key, #f) == 0) {                                                                             \
            init->f = strtoll(val, NULL, 10);                                                                   \
            continue;                                                                                           \
        }
        GOWSGI_LAUNCH_INTS(GET_INT)
#undef GET_INT
#define GET_STR(f)                                                                                              \
        if (strcmp(key, #f) == 0) {                                                                             \
            init->f = val;                                                                                      \
            continue;                                                                                           \
        }
        GOWSGI_LAUNCH_STRINGS(GET_STR)
#undef GET_STR
        if (strcmp(key, GOWSGI_LAUNCH_SECRET) == 0) {
            if (strlen(val) != 2 * GOWSGI_DAEMON_SECRET_SIZE)
                return "the group's secret is malformed";
            for (int i = 0; i < GOWSGI_DAEMON_SECRET_SIZE; i++) {
                int hi = hex_value(val[2 * i]), lo = hex_value(val[2 * i + 1]);
                if (hi < 0 || lo < 0)
                    return "the group's secret is malformed";
                s->secret[i] = (unsigned char)(hi << 4 | lo);
            }
            secret = 1;
        } else if (strcmp(key, GOWSGI_LAUNCH_WARNING) == 0) {
            if (grow(&a->warnings, init->base.nwarnings, sizeof(char *)) != 0)
                return "out of memory";
            a->warnings[init->base.nwarnings++] = val;
        } else if (strcmp(key, GOWSGI_LAUNCH_GIL_EXCEPTION) == 0) {
            if (grow(&a->gil_exceptions, init->base.ngil_exceptions, sizeof(char *)) != 0)
                return "out of memory";
            a->gil_exceptions[init->base.ngil_exceptions++] = val;
        } else if (strcmp(key, GOWSGI_LAUNCH_OVERRIDE) == 0) {
            if (grow(&a->overrides, init->base.ninterp_overrides, sizeof(gowsgi_interp_override)) != 0)
                return "out of memory";
            memset(&a->overrides[init->base.ninterp_overrides], 0, sizeof(gowsgi_interp_override));
            a->overrides[init->base.ninterp_overrides++].application_group = val;
        } else if (strncmp(key, "interp_override.", 16) == 0) {
            if (init->base.ninterp_overrides == 0)
                return "an interpreter setting before its application group";
            gowsgi_interp_override *o = &a->overrides[init->base.ninterp_overrides - 1];
            if (strcmp(key, GOWSGI_LAUNCH_OVERRIDE_LAYERS) == 0)
                o->python_path_layers = val;
            else if (strcmp(key, GOWSGI_LAUNCH_OVERRIDE_STDIN) == 0)
                o->restrict_stdin = (int)strtol(val, NULL, 10);
            else if (strcmp(key, GOWSGI_LAUNCH_OVERRIDE_STDOUT) == 0)
                o->restrict_stdout = (int)strtol(val, NULL, 10);
            else if (strcmp(key, GOWSGI_LAUNCH_OVERRIDE_SIGNAL) == 0)
                o->restrict_signal = (int)strtol(val, NULL, 10);
            else if (strcmp(key, GOWSGI_LAUNCH_OVERRIDE_SWITCH) == 0)
                o->switch_interval = val;
        } else if (strcmp(key, GOWSGI_LAUNCH_IMPORT) == 0) {
            if (grow(&a->imports, init->base.nimports, sizeof(gowsgi_import)) != 0)
                return "out of memory";
            memset(&a->imports[init->base.nimports], 0, sizeof(gowsgi_import));
            a->imports[init->base.nimports++].script = val;
        } else if (strncmp(key, "import.", 7) == 0) {
            if (init->base.nimports == 0)
                return "an import setting before its import";
            gowsgi_import *imp = &a->imports[init->base.nimports - 1];
            if (strcmp(key, GOWSGI_LAUNCH_IMPORT_APP) == 0)
                imp->application_group = val;
            else if (strcmp(key, GOWSGI_LAUNCH_IMPORT_CALLABLE) == 0)
                imp->callable_object = val;
            else if (strcmp(key, GOWSGI_LAUNCH_IMPORT_WHERE) == 0)
                imp->where = val;
        } else if (strncmp(key, "at.", 3) == 0) {
            long at = strtol(val, NULL, 10);
            if (strcmp(key, GOWSGI_LAUNCH_AT_EXIT_REASON) == 0)
                s->at_exit_reason = at;
            else if (strcmp(key, GOWSGI_LAUNCH_AT_EXITING) == 0)
                s->at_exiting = at;
            else if (strcmp(key, GOWSGI_LAUNCH_AT_RELOAD_TOKEN) == 0)
                s->at_reload_token = at;
            else if (strcmp(key, GOWSGI_LAUNCH_AT_READY) == 0)
                s->at_ready = at;
            else if (strcmp(key, GOWSGI_LAUNCH_AT_IDLE) == 0)
                s->at_idle = at;
            else if (strcmp(key, GOWSGI_LAUNCH_AT_CRASHED) == 0)
                s->at_crashed = at;
            else if (strcmp(key, GOWSGI_LAUNCH_AT_TICKETS) == 0)
                s->at_tickets = at;
        } else if (strcmp(key, GOWSGI_LAUNCH_NTICKETS) == 0) {
            s->ntickets = (unsigned int)strtoul(val, NULL, 10);
        } else if (strcmp(key, GOWSGI_LAUNCH_EXIT_REASON_SIZE) == 0) {
            s->exit_reason_size = (size_t)strtoull(val, NULL, 10);
        } else if (strcmp(key, GOWSGI_LAUNCH_LIBPYTHON) == 0) {
            s->libpython = val;
        } else if (strcmp(key, GOWSGI_LAUNCH_ENGINE) == 0) {
            s->engine = val;
        } else if (strcmp(key, GOWSGI_LAUNCH_SHARED_SIZE) == 0) {
            s->shared_size = (size_t)strtoull(val, NULL, 10);
        } else if (strcmp(key, GOWSGI_LAUNCH_TITLE) == 0) {
            s->title = val;
        } else if (strcmp(key, GOWSGI_LAUNCH_LOCALE) == 0) {
            s->locale = val;
        } else if (strcmp(key, GOWSGI_LAUNCH_STACK_SIZE) == 0) {
            s->stack_size = strtol(val, NULL, 10);
        } else if (strcmp(key, GOWSGI_LAUNCH_BACKOFF) == 0) {
            s->backoff = (int)strtol(val, NULL, 10);
        } else if (strcmp(key, GOWSGI_LAUNCH_SPAWNER) == 0) {
            s->spawner = (int)strtol(val, NULL, 10);
        }
        /* An unknown key is this build's too (the magic matched): ignored. */
    }
    if (!magic)
        return "the settings carry no gowsgi mark";
    if (!secret || s->libpython == NULL || s->engine == NULL || init->group == NULL || s->shared_size == 0)
        return "the settings are incomplete";
    init->secret = s->secret;
    return NULL;
}
