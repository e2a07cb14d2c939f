/*
 * telemetry.c: WSGITelemetryService, mod_wsgi 6's datagrams to a local
 * ingester: a little-endian 24-byte header ('WSGI', version 1, kind, flags,
 * pid, seq, stamp) then TLV records (u16 field id, u8 type, [u16 length],
 * value), the kinds and field ids of 6.0.5's wsgi_telemetry.h. gowsgi sends
 * a subset (README lists it): PROCESS_STARTED, a REQUEST sample per
 * interval (identity, configuration, request count and throughput, memory,
 * status classes), SLOW_REQUEST records (active and completed) and
 * PROCESS_STOPPING. A datagram the ingester cannot take is dropped, as 6
 * drops it: telemetry never slows a request.
 */
#include "engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum {
    KIND_REQUEST = 2,
    KIND_SLOW_REQUEST = 4,
    KIND_PROCESS_STARTED = 5,
    KIND_PROCESS_STOPPING = 6,
    T_U64 = 1,
    T_F64 = 2,
    T_BYTES = 4,
    F_MOD_WSGI_VERSION = 1,
    F_PYTHON_VERSION = 2,
    F_APACHE_VERSION = 3,
    F_MPM_NAME = 4,
    F_HOSTNAME = 5,
    F_PROCESS_GROUP = 6,
    F_PARENT_PID = 7,
    F_SAMPLE_PERIOD = 10,
    F_TELEMETRY_INTERVAL = 11,
    F_SLOW_THRESHOLD = 12,
    F_SWITCH_INTERVAL = 13,
    F_REQUEST_COUNT = 20,
    F_REQUEST_THROUGHPUT = 21,
    F_MEMORY_MAX_RSS = 41,
    F_STATUS_1XX = 120,
    F_SHUTDOWN_REASON = 130,
    F_ACTIVE_AT_DECISION = 133,
    F_SLOW_STATE = 200,
    F_SLOW_START = 201,
    F_SLOW_DURATION = 202,
    F_SLOW_THREAD_ID = 203,
    F_SLOW_METHOD = 210,
    F_SLOW_SCRIPT_NAME = 213,
    F_SLOW_PATH_INFO = 214,
    F_SLOW_USER_AGENT = 217,
    F_SLOW_STATUS = 240,
};

#define MAX_DATAGRAM 4096
#define OPT_CAPTURE_USER_AGENT 1

static int tele_fd = -1;
static struct sockaddr_un tele_addr;
static uint32_t tele_seq;
static double tele_interval;
static int tele_options;
static double tele_slow_threshold;
static long long tele_last_tick;
static char tele_hostname[256];
/* Requests ended since the last sample, by status class (5xx includes
 * those that never called start_response, as 6 counts them). */
static unsigned long long tele_count, tele_status[5];

int gowsgi_telemetry_on;

typedef struct dgram {
    unsigned char b[MAX_DATAGRAM];
    size_t n;
} dgram;

static void put_le(dgram *d, uint64_t v, int bytes)
{
    if (d->n + (size_t)bytes > sizeof(d->b)) {
        d->n = sizeof(d->b) + 1;   /* too long: not sent */
        return;
    }
    for (int i = 0; i < bytes; i++)
        d->b[d->n++] = (unsigned char)(v >> (8 * i));
}

static void header(dgram *d, int kind, double stamp)
{
    uint64_t bits;
    d->n = 0;
    memcpy(d->b, "WSGI", 4);
    d->b[4] = 1;   /* wire version */
    d->b[5] = (unsigned char)kind;
    d->n = 6;
    put_le(d, 0, 2);   /* flags */
    put_le(d, (uint64_t)getpid(), 4);
    put_le(d, __atomic_add_fetch(&tele_seq, 1, __ATOMIC_RELAXED), 4);
    memcpy(&bits, &stamp, sizeof(bits));
    put_le(d, bits, 8);
}

static void u64(dgram *d, int id, uint64_t v)
{
    put_le(d, (uint64_t)id, 2);
    put_le(d, T_U64, 1);
    put_le(d, v, 8);
}

static void f64(dgram *d, int id, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    put_le(d, (uint64_t)id, 2);
    put_le(d, T_F64, 1);
    put_le(d, bits, 8);
}

static void bytes(dgram *d, int id, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > 1024)
        n = 1024;
    put_le(d, (uint64_t)id, 2);
    put_le(d, T_BYTES, 1);
    put_le(d, n, 2);
    if (d->n + n > sizeof(d->b)) {
        d->n = sizeof(d->b) + 1;
        return;
    }
    memcpy(d->b + d->n, s, n);
    d->n += n;
}

static void send_dgram(const dgram *d)
{
    if (tele_fd < 0 || d->n > sizeof(d->b))
        return;
    /* No ingester listening (ENOENT, ECONNREFUSED) or it is behind
     * (EAGAIN): dropped, as 6 drops it. */
    if (sendto(tele_fd, d->b, d->n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&tele_addr,
               sizeof(tele_addr)) < 0) {
    }
}

static double now_s(void)
{
    return (double)gowsgi_now_us() / 1e6;
}

static void identity(dgram *d)
{
    if (tele_hostname[0])
        bytes(d, F_HOSTNAME, tele_hostname);
    if (gowsgi_config.process_group[0])
        bytes(d, F_PROCESS_GROUP, gowsgi_config.process_group);
}

int gowsgi_telemetry_open(const gowsgi_init *init)
{
    const char *path = init->telemetry_target + 5;   /* "unix:" checked by the shim */
    if (strlen(path) >= sizeof(tele_addr.sun_path))
        return -1;
    tele_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (tele_fd < 0)
        return -1;
    memset(&tele_addr, 0, sizeof(tele_addr));
    tele_addr.sun_family = AF_UNIX;
    memcpy(tele_addr.sun_path, path, strlen(path) + 1);
    tele_interval = init->telemetry_interval_ms > 0 ? init->telemetry_interval_ms / 1000.0 : 1.0;
    tele_options = init->telemetry_options;
    tele_slow_threshold = init->slow_requests ? strtod(init->slow_requests, NULL) : 0;
    if (gethostname(tele_hostname, sizeof(tele_hostname) - 1) != 0)
        tele_hostname[0] = '\0';
    tele_last_tick = gowsgi_now_us();
    __atomic_store_n(&gowsgi_telemetry_on, 1, __ATOMIC_RELEASE);

    dgram d;
    header(&d, KIND_PROCESS_STARTED, now_s());
    char version[32], apache[32];
    snprintf(version, sizeof(version), "%d.%d.%d", 4, 9, 4);   /* mod_wsgi.version, as apps see it */
    snprintf(apache, sizeof(apache), "Apache/%d.%d.%d", init->apache_version[0], init->apache_version[1],
             init->apache_version[2]);
    bytes(&d, F_MOD_WSGI_VERSION, version);
    bytes(&d, F_PYTHON_VERSION, PY_VERSION);
    bytes(&d, F_APACHE_VERSION, apache);
    if (init->mpm_name && *init->mpm_name)
        bytes(&d, F_MPM_NAME, init->mpm_name);
    identity(&d);
    u64(&d, F_PARENT_PID, (uint64_t)getppid());
    send_dgram(&d);
    return 0;
}

void gowsgi_telemetry_request_done(int http_status)
{
    __atomic_add_fetch(&tele_count, 1, __ATOMIC_RELAXED);
    int st = http_status == 0 ? 500 : http_status;
    if (st >= 100 && st < 600)
        __atomic_add_fetch(&tele_status[st / 100 - 1], 1, __ATOMIC_RELAXED);
}

void gowsgi_telemetry_tick(void)
{
    if (tele_fd < 0)
        return;
    long long now = gowsgi_now_us();
    double period = (double)(now - tele_last_tick) / 1e6;
    tele_last_tick = now;
    unsigned long long count = __atomic_exchange_n(&tele_count, 0, __ATOMIC_RELAXED);
    dgram d;
    header(&d, KIND_REQUEST, (double)now / 1e6);
    identity(&d);
    u64(&d, F_PARENT_PID, (uint64_t)getppid());
    f64(&d, F_SAMPLE_PERIOD, period);
    f64(&d, F_TELEMETRY_INTERVAL, tele_interval);
    f64(&d, F_SLOW_THRESHOLD, tele_slow_threshold);
    u64(&d, F_REQUEST_COUNT, count);
    f64(&d, F_REQUEST_THROUGHPUT, period > 0 ? (double)count / period : 0);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        u64(&d, F_MEMORY_MAX_RSS, (uint64_t)ru.ru_maxrss * 1024);
    for (int i = 0; i < 5; i++)
        u64(&d, F_STATUS_1XX + i, __atomic_exchange_n(&tele_status[i], 0, __ATOMIC_RELAXED));
    send_dgram(&d);
}

void gowsgi_telemetry_slow(int completed, long long start_us, long long now_us, unsigned long thread_id,
                           const char *method, const char *script_name, const char *path_info,
                           const char *user_agent, int status)
{
    if (tele_fd < 0)
        return;
    dgram d;
    header(&d, KIND_SLOW_REQUEST, (double)now_us / 1e6);
    u64(&d, F_SLOW_STATE, completed ? 1 : 0);
    f64(&d, F_SLOW_START, (double)start_us / 1e6);
    f64(&d, F_SLOW_DURATION, (double)(now_us - start_us) / 1e6);
    u64(&d, F_SLOW_THREAD_ID, (uint64_t)thread_id);
    bytes(&d, F_SLOW_METHOD, method);
    bytes(&d, F_SLOW_SCRIPT_NAME, script_name);
    bytes(&d, F_SLOW_PATH_INFO, path_info);
    if ((tele_options & OPT_CAPTURE_USER_AGENT) && user_agent && *user_agent)
        bytes(&d, F_SLOW_USER_AGENT, user_agent);
    u64(&d, F_SLOW_STATUS, completed ? (uint64_t)status : 0);
    send_dgram(&d);
}

void gowsgi_telemetry_stopping(const char *reason, int active)
{
    if (tele_fd < 0)
        return;
    gowsgi_telemetry_tick();   /* the last interval's requests */
    dgram d;
    header(&d, KIND_PROCESS_STOPPING, now_s());
    identity(&d);
    if (reason && *reason)
        bytes(&d, F_SHUTDOWN_REASON, reason);
    u64(&d, F_ACTIVE_AT_DECISION, (uint64_t)(active > 0 ? active : 0));
    send_dgram(&d);
}
