/*
 * six_directives.c: mod_wsgi 6's server-wide directives other than the GIL
 * modes (interp_options.c): WSGISwitchInterval, WSGISlowRequests,
 * WSGITelemetryService and WSGITelemetryOptions, with 6.0.5's syntax,
 * context and configtest messages (its wsgi_config.c, wsgi_telemetry.c).
 * What gowsgi does with them is the engine's (switch interval, slow
 * requests, wsgi/telemetry.c).
 */
#include "directive_parse.h"

/* A positive number of seconds, as sys.setswitchinterval() takes: NULL if
 * it is one. Shared with <WSGIInterpreterOptions> (interp_options.c). */
const char *gowsgi_check_switch_interval(const char *v)
{
    char *end = NULL;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || !(d > 0.0))
        return "WSGISwitchInterval must be a positive number of seconds.";
    return NULL;
}

const char *gowsgi_cmd_switch_interval(cmd_parms *cmd, void *mconfig, const char *v)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)mconfig;
    if (err != NULL || (err = gowsgi_check_switch_interval(v)) != NULL)
        FAIL(err);
    gowsgi_globals.switch_interval = v;
    return NULL;
}

const char *gowsgi_cmd_slow_requests(cmd_parms *cmd, void *mconfig, const char *v)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end = NULL;

    (void)mconfig;
    if (err != NULL)
        FAIL(err);
    if (*v == '\0')
        FAIL("WSGISlowRequests threshold (seconds) required");
    double d = strtod(v, &end);
    /* mod_wsgi 6 reads it with atof ("2s" is 2, "x" is 0): gowsgi wants
     * a number, and says so with 6's words for a negative one. */
    if (end == v || *end != '\0')
        FAIL("WSGISlowRequests threshold must be a number of seconds");
    if (d < 0.0)
        FAIL("WSGISlowRequests threshold must be non-negative");
    gowsgi_globals.slow_requests = v;
    gowsgi_globals.slow_requests_us = (long long)(d * 1e6);
    return NULL;
}

const char *gowsgi_cmd_telemetry_service(cmd_parms *cmd, void *mconfig, const char *target,
                                         const char *option)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)mconfig;
    if (err != NULL)
        FAIL(err);
    if (*target == '\0')
        FAIL("WSGITelemetryService target required");
    if (strncmp(target, "unix:", 5) != 0)
        FAIL("WSGITelemetryService target must be 'unix:/path' "
             "(remote 'udp:host:port' targets are no longer supported)");
    if (option != NULL) {
        if (strncmp(option, "interval=", 9) != 0)
            FAIL("WSGITelemetryService second argument must be 'interval=N'");
        char *end = NULL;
        double d = strtod(option + 9, &end);
        if (end == option + 9 || *end != '\0' || d < 0.5)
            FAIL("WSGITelemetryService interval must be at least 0.5 seconds");
        gowsgi_globals.telemetry_interval_ms = (int)(d * 1000);
    }
    gowsgi_globals.telemetry_target = target;
    return NULL;
}

/* The flags mod_wsgi 6 defines (WSGITelemetryOptions). */
static const char *const telemetry_flags[] = {"CaptureUserAgent", NULL};
#define TELEMETRY_ALL 1

const char *gowsgi_cmd_telemetry_options(cmd_parms *cmd, void *mconfig, const char *args)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    int incremental = 0, absolute = 0, inc_flags = gowsgi_globals.telemetry_options, abs_flags = 0;

    (void)mconfig;
    if (err != NULL)
        FAIL(err);
    if (*args == '\0')
        FAIL("WSGITelemetryOptions: at least one flag required");
    for (;;) {
        const char *token = ap_getword_conf(cmd->temp_pool, &args);
        if (*token == '\0')
            break;
        int signed_token = token[0] == '+' || token[0] == '-';
        const char *name = signed_token ? token + 1 : token;
        if (signed_token && *name == '\0')
            FAIL("WSGITelemetryOptions: bare '+' / '-' is not a flag");
        incremental |= signed_token;
        absolute |= !signed_token;
        if (incremental && absolute)
            FAIL("WSGITelemetryOptions: cannot mix +/- form with absolute names in a single directive");
        if (strcasecmp(name, "None") == 0 || strcasecmp(name, "All") == 0) {
            if (signed_token)
                FAIL(apr_psprintf(cmd->pool, "WSGITelemetryOptions: '%s' may not have a +/- prefix",
                                  strcasecmp(name, "None") == 0 ? "None" : "All"));
            abs_flags = strcasecmp(name, "All") == 0 ? TELEMETRY_ALL : 0;
            continue;
        }
        int flag = 0;
        for (int i = 0; telemetry_flags[i] != NULL; i++)
            if (strcasecmp(name, telemetry_flags[i]) == 0)
                flag = 1 << i;
        if (flag == 0)
            FAIL(apr_psprintf(cmd->pool, "WSGITelemetryOptions: unknown flag '%s'", name));
        if (!incremental)
            abs_flags |= flag;
        else if (token[0] == '-')
            inc_flags &= ~flag;
        else
            inc_flags |= flag;
    }
    gowsgi_globals.telemetry_options = incremental ? inc_flags : abs_flags;
    return NULL;
}
