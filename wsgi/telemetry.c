/*
 * telemetry.c: WSGITelemetryService, mod_wsgi 6's datagrams to a local
 * ingester: a little-endian 24-byte header ('WSGI', version 1, kind, flags,
 * pid, seq, stamp) then TLV records (u16 field id, u8 type, [u16 length],
 * value), the kinds and field ids of 6.0.5's wsgi_telemetry.h. gowsgi sends
 * every kind 6.0.5 sends, with the fields README lists (a few it does not
 * measure are left out): PROCESS_STARTED, a REQUEST sample per interval,
 * SLOW_REQUEST records (active and completed), GC_SNAPSHOT and GC_EVENT
 * (gathered by telemetry_gc.c), PROCESS_STOPPING and PROCESS_STOPPED. 6
 * defines PROCESS (1) and SERVER (3) but sends neither; nor does gowsgi. A
 * datagram the ingester cannot take is dropped, as 6 drops it: telemetry
 * never slows a request beyond one short lock at its end.
 */
#include "engine.h"

#include <pthread.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum {
    KIND_REQUEST = 2,
    KIND_SLOW_REQUEST = 4,
    KIND_PROCESS_STARTED = 5,
    KIND_PROCESS_STOPPING = 6,
    KIND_PROCESS_STOPPED = 7,
    KIND_GC_SNAPSHOT = 8,
    KIND_GC_EVENT = 9,
    T_U64 = 1,
    T_F64 = 2,
    T_BYTES = 4,
    T_I32_ARRAY = 5,
    T_F64_ARRAY = 6,
    F_MOD_WSGI_VERSION = 1,
    F_PYTHON_VERSION = 2,
    F_APACHE_VERSION = 3,
    F_MPM_NAME = 4,
    F_HOSTNAME = 5,
    F_PROCESS_GROUP = 6,
    F_PARENT_PID = 7,
    F_INTERPRETER_NAME = 8,
    F_SAMPLE_PERIOD = 10,
    F_TELEMETRY_INTERVAL = 11,
    F_SLOW_THRESHOLD = 12,
    F_SWITCH_INTERVAL = 13,
    F_REQUEST_COUNT = 20,
    F_REQUEST_THROUGHPUT = 21,
    F_CAPACITY_UTILIZATION = 22,
    F_CPU_USER_UTILIZATION = 30,
    F_CPU_SYSTEM_UTILIZATION = 31,
    F_CPU_UTILIZATION = 32,
    F_MEMORY_RSS = 40,
    F_MEMORY_MAX_RSS = 41,
    F_THREADS_MAXIMUM = 50,
    F_THREADS_STARTED = 51,
    F_THREADS_ACTIVE = 52,
    /* Per phase p (PH_*): mean 60 + p, min 70 + p, max 80 + p, buckets 90 + p. */
    F_PHASE_MEAN = 60,
    F_PHASE_MIN = 70,
    F_PHASE_MAX = 80,
    F_PHASE_BUCKETS = 90,
    F_INPUT_BYTES_TOTAL = 100,
    F_INPUT_READS_TOTAL = 101,
    F_OUTPUT_BYTES_TOTAL = 102,
    F_OUTPUT_WRITES_TOTAL = 103,
    F_THREADS_COMPLETED = 110,
    F_THREADS_BUSY_TIME = 111,
    F_THREADS_CURRENT_ELAPSED = 113,
    F_THREADS_MAX_DURATION = 114,
    F_STATUS_1XX = 120,
    F_SHUTDOWN_REASON = 130,
    F_PROCESS_UPTIME = 131,
    F_LIFETIME_REQUEST_COUNT = 132,
    F_ACTIVE_AT_DECISION = 133,
    F_ACTIVE_AT_EXIT = 134,
    F_GRACEFUL_DRAIN = 135,
    /* GC_SNAPSHOT: count 0-2, threshold 0-2, collections 0-2, collected
     * 0-2, uncollectable 0-2, is_enabled, freeze_count, dropped_events. */
    F_GC_COUNT0 = 300,
    F_GC_IS_ENABLED = 315,
    F_GC_FREEZE_COUNT = 316,
    F_GC_DROPPED_EVENTS = 317,
    F_GC_EVENT_START = 320,
    F_GC_EVENT_DURATION = 321,
    F_GC_EVENT_GENERATION = 322,
    F_GC_EVENT_COLLECTED = 323,
    F_GC_EVENT_UNCOLLECTABLE = 324,
    F_SLOW_STATE = 200,
    F_SLOW_START = 201,
    F_SLOW_DURATION = 202,
    F_SLOW_THREAD_ID = 203,
    F_SLOW_SERVER_PID = 205,
    F_SLOW_METHOD = 210,
    F_SLOW_SCHEME = 211,
    F_SLOW_HOSTNAME = 212,
    F_SLOW_SCRIPT_NAME = 213,
    F_SLOW_PATH_INFO = 214,
    F_SLOW_PROTOCOL = 215,
    F_SLOW_PEER_IP = 216,
    F_SLOW_USER_AGENT = 217,
    F_SLOW_SERVER_TIME = 220,   /* then queue, daemon, application */
    F_SLOW_INPUT_BYTES = 230,
    F_SLOW_INPUT_READS = 231,
    F_SLOW_OUTPUT_BYTES = 232,
    F_SLOW_OUTPUT_WRITES = 233,
    F_SLOW_INPUT_READ_TIME = 234,
    F_SLOW_OUTPUT_WRITE_TIME = 235,
    F_SLOW_STATUS = 240,
};

/* 6's phases, in field-id order; gil_wait (5) is not measured by gowsgi. */
enum { PH_SERVER, PH_QUEUE, PH_DAEMON, PH_APPLICATION, PH_REQUEST, PH_GIL_WAIT, PH_INPUT_READ, PH_OUTPUT_WRITE, NPHASES };
/* 6's histogram: 16 octaves from 1 ms, 4 linear steps each, and >= 65.536 s. */
#define BUCKETS 65
/* 6's cap on the per-thread arrays. */
#define MAX_SLOTS 128

/* Room for the largest sample: 8 histograms of 65 and 5 arrays of 128. */
#define MAX_DATAGRAM 8192
#define OPT_CAPTURE_USER_AGENT 1

static int tele_fd = -1;
static struct sockaddr_un tele_addr;
static uint32_t tele_seq;
static double tele_interval;
static int tele_options;
static double tele_slow_threshold;
static long long tele_last_tick;
static char tele_hostname[256];
static long long tele_start_us;
static char tele_versions[4][64];   /* mod_wsgi, Python, Apache, MPM: fields 1-4 */
static int tele_max_threads;
static double tele_switch_interval;   /* sys.getswitchinterval() at start, as 6 reads it */

/* One phase over the interval: 6's mean (from the total), exact min and
 * max, and histogram. */
typedef struct phase {
    long long total_us, min_us, max_us;
    int32_t buckets[BUCKETS];
} phase;

/* What the requests that ended since the last sample add up to; taken and
 * reset by the sample, under acc_lock (held for a few additions). */
static pthread_mutex_t acc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct totals {
    unsigned long long count, status[5];   /* 5xx includes no start_response, as 6 */
    unsigned long long input_bytes, input_reads, output_bytes, output_writes;
    phase ph[NPHASES];
    int32_t slot_max_ms[MAX_SLOTS];
} acc;
static unsigned long long tele_lifetime;   /* requests ended, for PROCESS_STOPPED */

/* The sampler's own state: one sample at a time (the interval's goroutine
 * and a stopping process's last one). */
static pthread_mutex_t tick_lock = PTHREAD_MUTEX_INITIALIZER;
static double tick_cpu_user, tick_cpu_sys;
static long long tick_busy[MAX_SLOTS], tick_finished[MAX_SLOTS];
static int stopped_sent;

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

static void i32_array(dgram *d, int id, const int32_t *v, int n)
{
    put_le(d, (uint64_t)id, 2);
    put_le(d, T_I32_ARRAY, 1);
    put_le(d, (uint64_t)n, 2);
    for (int i = 0; i < n; i++)
        put_le(d, (uint32_t)v[i], 4);
}

/* Microseconds as 6's f64 seconds. */
static void f64_array_us(dgram *d, int id, const long long *us, int n)
{
    put_le(d, (uint64_t)id, 2);
    put_le(d, T_F64_ARRAY, 1);
    put_le(d, (uint64_t)n, 2);
    for (int i = 0; i < n; i++) {
        double v = (double)us[i] / 1e6;
        uint64_t bits;
        memcpy(&bits, &v, sizeof(bits));
        put_le(d, bits, 8);
    }
}

/* 6's log-linear bucket of a duration: [0, 1.25 ms) is 0; from 1 ms each
 * doubling is split in 4 equal steps (a boundary goes up); 65.536 s and
 * more is the last. In quarter milliseconds q, octave o holds
 * [4 << o, 8 << o) and q >> o is 4 + its step. */
static int bucket_of(long long us)
{
    if (us < 1000)
        return 0;
    if (us >= 65536000)
        return BUCKETS - 1;
    unsigned long long q = (unsigned long long)us / 250;
    int octave = 63 - __builtin_clzll(q) - 2;
    return octave * 4 + (int)(q >> octave) - 4;
}

static void phase_add(phase *p, long long us)
{
    p->total_us += us;
    if (p->min_us < 0 || us < p->min_us)
        p->min_us = us;
    if (us > p->max_us)
        p->max_us = us;
    p->buckets[bucket_of(us)]++;
}

/* How long a sampler thread may wait for an ingester whose queue is full
 * (a Unix datagram socket queues net.unix.max_dgram_qlen, 10 by default:
 * one interval's datagrams of a few processes and interpreters can exceed
 * it while the ingester is briefly off the CPU). */
#define SEND_WAIT_MS 500

/* This thread may wait SEND_WAIT_MS for room: set by the samplers for the
 * length of one call, never on a request's thread. A wait that times out
 * clears it, so a stalled ingester costs a sampler one wait per call. */
static __thread int may_wait;

static void send_dgram(const dgram *d)
{
    if (tele_fd < 0 || d->n > sizeof(d->b))
        return;
    /* No ingester listening (ENOENT, ECONNREFUSED) or it is behind
     * (EAGAIN): dropped, as 6 drops it. */
    int flags = MSG_NOSIGNAL | (may_wait ? 0 : MSG_DONTWAIT);
    if (sendto(tele_fd, d->b, d->n, flags, (const struct sockaddr *)&tele_addr, sizeof(tele_addr)) < 0 &&
        (errno == EAGAIN || errno == EWOULDBLOCK))
        may_wait = 0;
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

/* 6 sends the build identity with PROCESS_STARTED and every sample. */
static void versions(dgram *d)
{
    for (int i = 0; i < 4; i++)
        if (tele_versions[i][0])
            bytes(d, F_MOD_WSGI_VERSION + i, tele_versions[i]);
}

int gowsgi_telemetry_open(const gowsgi_init *init)
{
    const char *path = init->telemetry_target + 5;   /* "unix:" checked by the shim */
    if (strlen(path) >= sizeof(tele_addr.sun_path))
        return -1;
    tele_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (tele_fd < 0)
        return -1;
    struct timeval wait = {0, SEND_WAIT_MS * 1000};
    if (setsockopt(tele_fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof(wait)) != 0) {
        /* Without it a sampler's send would wait without bound: never wait. */
        close(tele_fd);
        tele_fd = -1;
        return -1;
    }
    memset(&tele_addr, 0, sizeof(tele_addr));
    tele_addr.sun_family = AF_UNIX;
    memcpy(tele_addr.sun_path, path, strlen(path) + 1);
    tele_interval = init->telemetry_interval_ms > 0 ? init->telemetry_interval_ms / 1000.0 : 1.0;
    tele_options = init->telemetry_options;
    tele_slow_threshold = init->slow_requests ? strtod(init->slow_requests, NULL) : 0;
    if (gethostname(tele_hostname, sizeof(tele_hostname) - 1) != 0)
        tele_hostname[0] = '\0';
    tele_start_us = tele_last_tick = gowsgi_now_us();
    tele_max_threads = gowsgi_config.threads_per_process > 0 ? gowsgi_config.threads_per_process : 1;
    if (tele_max_threads > MAX_SLOTS)
        tele_max_threads = MAX_SLOTS;
    for (int i = 0; i < NPHASES; i++)
        acc.ph[i].min_us = -1;
    struct tms t;
    double hz = (double)sysconf(_SC_CLK_TCK);
    times(&t);
    tick_cpu_user = (double)t.tms_utime / hz;
    tick_cpu_sys = (double)t.tms_stime / hz;
    snprintf(tele_versions[0], sizeof(tele_versions[0]), "%d.%d.%d", 4, 9, 4);   /* mod_wsgi.version, as apps see it */
    snprintf(tele_versions[1], sizeof(tele_versions[1]), "%s", PY_VERSION);
    snprintf(tele_versions[2], sizeof(tele_versions[2]), "Apache/%d.%d.%d", init->apache_version[0],
             init->apache_version[1], init->apache_version[2]);
    snprintf(tele_versions[3], sizeof(tele_versions[3]), "%s", init->mpm_name ? init->mpm_name : "");
    __atomic_store_n(&gowsgi_telemetry_on, 1, __ATOMIC_RELEASE);
    return 0;
}

void gowsgi_telemetry_started(double switch_interval)
{
    if (tele_fd < 0)
        return;
    tele_switch_interval = switch_interval;
    dgram d;
    header(&d, KIND_PROCESS_STARTED, (double)tele_start_us / 1e6);
    versions(&d);
    identity(&d);
    u64(&d, F_PARENT_PID, (uint64_t)getppid());
    if (tele_switch_interval > 0)
        f64(&d, F_SWITCH_INTERVAL, tele_switch_interval);
    may_wait = 1;   /* a process's start, no request yet */
    send_dgram(&d);
    may_wait = 0;
}

void gowsgi_telemetry_record(const gowsgi_reqstate *rs, int http_status)
{
    long long now = gowsgi_now_us(), us[NPHASES] = {0};
    int timed = rs->app_start != 0;   /* the application was called */
    int daemon = timed ? gowsgi_request_phases(rs, now, us) : 0;
    us[PH_REQUEST] = us[PH_SERVER] + us[PH_QUEUE] + us[PH_DAEMON] + us[PH_APPLICATION];
    us[PH_INPUT_READ] = rs->input_time;
    us[PH_OUTPUT_WRITE] = rs->output_time;
    int slot = (int)gowsgi_thread_metrics_get()->id - 1;
    int st = http_status == 0 ? 500 : http_status;
    pthread_mutex_lock(&acc_lock);
    acc.count++;
    tele_lifetime++;
    if (st >= 100 && st < 600)
        acc.status[st / 100 - 1]++;
    acc.input_bytes += (unsigned long long)rs->input_bytes;
    acc.input_reads += (unsigned long long)rs->input_reads;
    acc.output_bytes += (unsigned long long)rs->body_sent;
    acc.output_writes += (unsigned long long)rs->output_writes;
    if (timed) {
        for (int i = 0; i < NPHASES; i++)
            if (i != PH_GIL_WAIT && (daemon || (i != PH_QUEUE && i != PH_DAEMON)))
                phase_add(&acc.ph[i], us[i]);
        if (slot >= 0 && slot < MAX_SLOTS && us[PH_APPLICATION] / 1000 > acc.slot_max_ms[slot])
            acc.slot_max_ms[slot] = (int32_t)(us[PH_APPLICATION] / 1000);
    }
    pthread_mutex_unlock(&acc_lock);
}

static void sample(void)
{
    long long now = gowsgi_now_us();
    double period = (double)(now - tele_last_tick) / 1e6;
    tele_last_tick = now;
    if (period <= 0)
        period = 1e-9;
    struct totals a;
    pthread_mutex_lock(&acc_lock);
    a = acc;
    memset(&acc, 0, sizeof(acc));
    for (int i = 0; i < NPHASES; i++)
        acc.ph[i].min_us = -1;
    pthread_mutex_unlock(&acc_lock);

    /* The threads' busy time and requests since the last sample (a running
     * request's busy time counts in each interval it spans, as 6's). */
    int n = tele_max_threads;
    long long finished[MAX_SLOTS] = {0}, busy[MAX_SLOTS] = {0}, elapsed[MAX_SLOTS] = {0};
    long long done[MAX_SLOTS], busy_d[MAX_SLOTS];
    int32_t done32[MAX_SLOTS];
    int started = gowsgi_metrics_threads(now, finished, busy, elapsed, n), active = 0;
    long long busy_total = 0;
    for (int i = 0; i < n; i++) {
        done[i] = i < started ? finished[i] - tick_finished[i] : 0;
        busy_d[i] = i < started ? busy[i] - tick_busy[i] : 0;
        if (done[i] < 0)
            done[i] = 0;
        if (busy_d[i] < 0)
            busy_d[i] = 0;
        done32[i] = (int32_t)done[i];
        busy_total += busy_d[i];
        if (done[i] > 0 || elapsed[i] > 0)
            active++;
        if (i < started) {
            tick_finished[i] = finished[i];
            tick_busy[i] = busy[i];
        }
    }
    struct tms t;
    double hz = (double)sysconf(_SC_CLK_TCK), cpu_user, cpu_sys;
    times(&t);
    cpu_user = (double)t.tms_utime / hz - tick_cpu_user;
    cpu_sys = (double)t.tms_stime / hz - tick_cpu_sys;
    tick_cpu_user += cpu_user;
    tick_cpu_sys += cpu_sys;

    dgram d;
    header(&d, KIND_REQUEST, (double)now / 1e6);
    versions(&d);
    identity(&d);
    u64(&d, F_PARENT_PID, (uint64_t)getppid());
    f64(&d, F_SAMPLE_PERIOD, period);
    f64(&d, F_TELEMETRY_INTERVAL, tele_interval);
    f64(&d, F_SLOW_THRESHOLD, tele_slow_threshold);
    if (tele_switch_interval > 0)
        f64(&d, F_SWITCH_INTERVAL, tele_switch_interval);
    u64(&d, F_REQUEST_COUNT, a.count);
    f64(&d, F_REQUEST_THROUGHPUT, (double)a.count / period);
    f64(&d, F_CAPACITY_UTILIZATION, (double)busy_total / 1e6 / (period * n));
    f64(&d, F_CPU_USER_UTILIZATION, cpu_user / period);
    f64(&d, F_CPU_SYSTEM_UTILIZATION, cpu_sys / period);
    f64(&d, F_CPU_UTILIZATION, (cpu_user + cpu_sys) / period);
    long long resident = 0, size = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%lld %lld", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    u64(&d, F_MEMORY_RSS, (uint64_t)(resident * sysconf(_SC_PAGESIZE)));
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        u64(&d, F_MEMORY_MAX_RSS, (uint64_t)ru.ru_maxrss * 1024);
    u64(&d, F_THREADS_MAXIMUM, (uint64_t)n);
    u64(&d, F_THREADS_STARTED, (uint64_t)(started < n ? started : n));
    u64(&d, F_THREADS_ACTIVE, (uint64_t)active);
    /* As 6: means always (0 with no request), queue and daemon only in a
     * daemon process; min and max only when a request ended. gil_wait is
     * not measured, so not sent. */
    int daemon = gowsgi_config.process_group[0] != '\0';
    for (int i = 0; i < NPHASES; i++) {
        if (i == PH_GIL_WAIT || (!daemon && (i == PH_QUEUE || i == PH_DAEMON)))
            continue;
        const phase *p = &a.ph[i];
        f64(&d, F_PHASE_MEAN + i, a.count ? (double)p->total_us / 1e6 / (double)a.count : 0);
        if (p->min_us >= 0) {
            f64(&d, F_PHASE_MIN + i, (double)p->min_us / 1e6);
            f64(&d, F_PHASE_MAX + i, (double)p->max_us / 1e6);
        }
        i32_array(&d, F_PHASE_BUCKETS + i, p->buckets, BUCKETS);
    }
    u64(&d, F_INPUT_BYTES_TOTAL, a.input_bytes);
    u64(&d, F_INPUT_READS_TOTAL, a.input_reads);
    u64(&d, F_OUTPUT_BYTES_TOTAL, a.output_bytes);
    u64(&d, F_OUTPUT_WRITES_TOTAL, a.output_writes);
    for (int i = 0; i < 5; i++)
        u64(&d, F_STATUS_1XX + i, a.status[i]);
    /* Per thread; 6's cpu_time array (112) is not sent: a thread's CPU
     * time is not measured per request. */
    long long max_us[MAX_SLOTS];
    for (int i = 0; i < n; i++)
        max_us[i] = (long long)a.slot_max_ms[i] * 1000;
    i32_array(&d, F_THREADS_COMPLETED, done32, n);
    f64_array_us(&d, F_THREADS_BUSY_TIME, busy_d, n);
    f64_array_us(&d, F_THREADS_CURRENT_ELAPSED, elapsed, n);
    f64_array_us(&d, F_THREADS_MAX_DURATION, max_us, n);
    send_dgram(&d);
}

void gowsgi_telemetry_tick(void)
{
    if (tele_fd < 0)
        return;
    pthread_mutex_lock(&tick_lock);
    may_wait = 1;
    if (!stopped_sent)
        sample();
    may_wait = 0;
    pthread_mutex_unlock(&tick_lock);
}

/* What a completed record adds, from the request that ended: its identity
 * (looked up now, so a request that is not slow pays nothing for it), its
 * phases and its I/O. */
static void slow_completed(dgram *d, const gowsgi_reqstate *rs, long long now_us)
{
    const gowsgi_request *req = rs->req;
    int daemon = gowsgi_config.process_group[0] != '\0';
    if (!daemon)   /* in a daemon process the Apache child is not known */
        u64(d, F_SLOW_SERVER_PID, (uint64_t)getpid());
    const char *https = gowsgi_request_env(req, "HTTPS");
    bytes(d, F_SLOW_SCHEME, strcmp(https, "on") == 0 || strcmp(https, "1") == 0 ? "https" : "http");
    bytes(d, F_SLOW_HOSTNAME, gowsgi_request_env(req, "SERVER_NAME"));
    bytes(d, F_SLOW_PROTOCOL, gowsgi_request_env(req, "SERVER_PROTOCOL"));
    bytes(d, F_SLOW_PEER_IP, gowsgi_request_env(req, "REMOTE_ADDR"));
    if (rs->app_start != 0) {
        long long us[4];
        gowsgi_request_phases(rs, now_us, us);
        for (int i = 0; i < 4; i++)
            f64(d, F_SLOW_SERVER_TIME + i, (double)us[i] / 1e6);
    }
    u64(d, F_SLOW_INPUT_BYTES, (uint64_t)rs->input_bytes);
    u64(d, F_SLOW_INPUT_READS, (uint64_t)rs->input_reads);
    u64(d, F_SLOW_OUTPUT_BYTES, (uint64_t)rs->body_sent);
    u64(d, F_SLOW_OUTPUT_WRITES, (uint64_t)rs->output_writes);
    f64(d, F_SLOW_INPUT_READ_TIME, (double)rs->input_time / 1e6);
    f64(d, F_SLOW_OUTPUT_WRITE_TIME, (double)rs->output_time / 1e6);
}

void gowsgi_telemetry_slow(const gowsgi_reqstate *rs, long long start_us, long long now_us, unsigned long thread_id,
                           const char *method, const char *script_name, const char *path_info,
                           const char *user_agent, int status)
{
    if (tele_fd < 0)
        return;
    int completed = rs != NULL;
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
    if (completed)
        slow_completed(&d, rs, now_us);
    u64(&d, F_SLOW_STATUS, completed ? (uint64_t)status : 0);
    may_wait = !completed;   /* a completed record is sent by the request's thread */
    send_dgram(&d);
    may_wait = 0;
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
    may_wait = 1;
    send_dgram(&d);
    may_wait = 0;
}

void gowsgi_telemetry_stopped(const char *reason, int active, int graceful)
{
    if (tele_fd < 0)
        return;
    pthread_mutex_lock(&tick_lock);
    if (stopped_sent) {
        pthread_mutex_unlock(&tick_lock);
        return;
    }
    may_wait = 1;
    sample();   /* the requests since the last sample, as 6's final tick */
    may_wait = 0;
    __atomic_store_n(&stopped_sent, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&tick_lock);
    long long now = gowsgi_now_us();
    dgram d;
    header(&d, KIND_PROCESS_STOPPED, (double)now / 1e6);
    identity(&d);
    if (reason && *reason)
        bytes(&d, F_SHUTDOWN_REASON, reason);
    f64(&d, F_PROCESS_UPTIME, (double)(now - tele_start_us) / 1e6);
    pthread_mutex_lock(&acc_lock);
    unsigned long long lifetime = tele_lifetime;
    pthread_mutex_unlock(&acc_lock);
    u64(&d, F_LIFETIME_REQUEST_COUNT, lifetime);
    u64(&d, F_ACTIVE_AT_EXIT, (uint64_t)(active > 0 ? active : 0));
    u64(&d, F_GRACEFUL_DRAIN, graceful ? 1 : 0);
    may_wait = 1;
    send_dgram(&d);
    may_wait = 0;
}

int gowsgi_telemetry_send_gc(const gowsgi_gc_counters *c, const gowsgi_gc_event *ev, int nev, const char *interp_name)
{
    if (tele_fd < 0 || __atomic_load_n(&stopped_sent, __ATOMIC_ACQUIRE))
        return -1;
    dgram d;
    may_wait = 1;
    header(&d, KIND_GC_SNAPSHOT, now_s());
    const long long *groups[5] = {c->count, c->threshold, c->collections, c->collected, c->uncollectable};
    for (int g = 0; g < 5; g++)
        for (int i = 0; i < 3; i++)
            u64(&d, F_GC_COUNT0 + 3 * g + i, (uint64_t)groups[g][i]);
    u64(&d, F_GC_IS_ENABLED, c->enabled ? 1 : 0);
    u64(&d, F_GC_FREEZE_COUNT, (uint64_t)c->freeze_count);
    u64(&d, F_GC_DROPPED_EVENTS, c->dropped);
    if (interp_name && *interp_name)
        bytes(&d, F_INTERPRETER_NAME, interp_name);
    send_dgram(&d);
    for (int i = 0; i < nev; i++) {
        header(&d, KIND_GC_EVENT, now_s());
        f64(&d, F_GC_EVENT_START, (double)ev[i].start_us / 1e6);
        f64(&d, F_GC_EVENT_DURATION, (double)ev[i].duration_us / 1e6);
        u64(&d, F_GC_EVENT_GENERATION, (uint64_t)ev[i].generation);
        u64(&d, F_GC_EVENT_COLLECTED, (uint64_t)ev[i].collected);
        u64(&d, F_GC_EVENT_UNCOLLECTABLE, (uint64_t)ev[i].uncollectable);
        if (interp_name && *interp_name)
            bytes(&d, F_INTERPRETER_NAME, interp_name);
        send_dgram(&d);
    }
    may_wait = 0;
    return 0;
}
