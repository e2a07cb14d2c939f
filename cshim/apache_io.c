/*
 * apache_io.c: the engine's I/O callbacks (gowsgi_io) over a request_rec:
 * body reads, status and headers, body writes through the output filters,
 * sendfile, and error-log lines. Called with the GIL released where they
 * may block.
 */
#include "shim.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_buckets.h"
#include "apr_strings.h"
#include "util_filter.h"

typedef struct request_ctx {
    request_rec *r;
    apr_bucket_brigade *bb;   /* reused for every write */
    apr_bucket_brigade *in;   /* reused for every read */
    int seen_eos;
    int expected_100;         /* the client asked for "100 Continue" */
    const char *read_error;
} request_ctx;

void *gowsgi_request_ctx(request_rec *r)
{
    request_ctx *ctx = apr_pcalloc(r->pool, sizeof(*ctx));
    ctx->r = r;
    ctx->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    ctx->in = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    ctx->expected_100 = r->expecting_100;
    return ctx;
}

/* Reads straight from the input filters rather than ap_get_client_block,
 * which loses the reason for a failure: the app is told it, as mod_wsgi
 * tells it. Apache sends "100 Continue" here, on the first read, so a
 * client is only asked for the body when the app reads it. */
static long io_read(void *c, char *buf, size_t len)
{
    request_ctx *ctx = c;
    request_rec *r = ctx->r;
    if (ctx->seen_eos)
        return 0;
    apr_status_t rv = ap_get_brigade(r->input_filters, ctx->in, AP_MODE_READBYTES, APR_BLOCK_READ, len);
    if (rv == APR_SUCCESS && !APR_BRIGADE_EMPTY(ctx->in)) {
        apr_size_t n = len;
        ctx->seen_eos = APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(ctx->in));
        rv = apr_brigade_flatten(ctx->in, buf, &n);
        apr_brigade_cleanup(ctx->in);
        if (rv == APR_SUCCESS)
            return (long)n;
    }
    apr_brigade_cleanup(ctx->in);
    r->connection->keepalive = AP_CONN_CLOSE;
    if (rv == APR_SUCCESS || APR_STATUS_IS_EAGAIN(rv)) {
        /* The HTTP input filter answers EAGAIN for failures that will not
         * go away (timeouts, bad chunking): say what they amount to. */
        ctx->read_error = "Connection was terminated";
    } else {
        char msg[256];
        ctx->read_error = apr_pstrdup(r->pool, apr_strerror(rv, msg, sizeof(msg)));
    }
    return -1;
}

static const char *io_read_error(void *c)
{
    request_ctx *ctx = c;
    return ctx->read_error ? ctx->read_error : "Unknown error";
}

static int io_start(void *c, int status, const char *status_line, int nheaders,
                    const char *const *names, const char *const *values)
{
    request_ctx *ctx = c;
    request_rec *r = ctx->r;
    r->status = status;
    r->status_line = apr_pstrdup(r->pool, status_line);
    /* The response is final: a body the app did not ask for is not
     * wanted, and Apache must not send "100 Continue" into the response
     * if the app reads later. Clearing it also keeps the connection alive
     * (Apache closes while a 100-continue is outstanding), as mod_wsgi does. */
    r->expecting_100 = 0;
    for (int i = 0; i < nheaders; i++) {
        if (strcasecmp(names[i], "Content-Type") == 0)
            ap_set_content_type(r, apr_pstrdup(r->pool, values[i]));
        else if (strcasecmp(names[i], "Content-Length") == 0)
            /* One header, the last given (the engine validated it). */
            ap_set_content_length(r, apr_atoi64(values[i]));
        else
            apr_table_add(r->headers_out, names[i], values[i]);
    }
    return 0;
}

static int pass(request_ctx *ctx)
{
    apr_status_t rv = ap_pass_brigade(ctx->r->output_filters, ctx->bb);
    apr_brigade_cleanup(ctx->bb);
    return rv == APR_SUCCESS && !ctx->r->connection->aborted ? 0 : -1;
}

static int io_write(void *c, const char *buf, size_t len)
{
    request_ctx *ctx = c;
    if (ctx->r->connection->aborted)
        return -1;
    /* Transient: the filters copy what they keep, so the engine's bytes may
     * be freed as soon as this returns. */
    APR_BRIGADE_INSERT_TAIL(ctx->bb, apr_bucket_transient_create(buf, len, ctx->bb->bucket_alloc));
    /* mod_wsgi passes a FLUSH after every piece of body. A content filter
     * reacts to one (mod_deflate ends a compressed block there, and the
     * response then goes out chunked, not with a Content-Length), so it
     * must see the same pieces; with only protocol filters in the chain a
     * FLUSH changes when bytes are written, not which: left out there. */
    if (ctx->r->output_filters->frec->ftype < AP_FTYPE_PROTOCOL)
        APR_BRIGADE_INSERT_TAIL(ctx->bb, apr_bucket_flush_create(ctx->bb->bucket_alloc));
    return pass(ctx);
}

static int io_flush(void *c)
{
    request_ctx *ctx = c;
    if (ctx->r->connection->aborted)
        return -1;
    APR_BRIGADE_INSERT_TAIL(ctx->bb, apr_bucket_flush_create(ctx->bb->bucket_alloc));
    return pass(ctx);
}

static int io_sendfile(void *c, int fd, int64_t offset, int64_t len)
{
    request_ctx *ctx = c;
    request_rec *r = ctx->r;
    apr_file_t *file = NULL;
    apr_os_file_t osfd = fd;
    if (r->connection->aborted)
        return -1;
    /* The descriptor stays Python's: apr_os_file_put registers no cleanup.
     * The flush makes Apache finish with it before the app can close it. */
    if (apr_os_file_put(&file, &osfd, APR_FOPEN_READ | APR_FOPEN_SENDFILE_ENABLED, r->pool) != APR_SUCCESS)
        return -1;
    apr_brigade_insert_file(ctx->bb, file, (apr_off_t)offset, (apr_off_t)len, r->pool);
    APR_BRIGADE_INSERT_TAIL(ctx->bb, apr_bucket_flush_create(ctx->bb->bucket_alloc));
    return pass(ctx);
}

void gowsgi_request_done(void *c)
{
    request_ctx *ctx = c;
    /* A client waiting for "100 Continue" sends its body only after a
     * timeout; Apache reads (discards) that body before it ends the
     * response, so send the response first, as mod_wsgi's flushes do. */
    if (ctx->expected_100 && !ctx->seen_eos)
        io_flush(ctx);
}

void gowsgi_request_break(void *c)
{
    request_ctx *ctx = c;
    request_rec *r = ctx->r;
    /* Apache's signal for a response that broke after it started (what
     * mod_proxy sends for a backend that died): the chunk filter omits the
     * last chunk and the connection closes, so the client sees the body
     * cut short rather than a complete response, and caches keep nothing. */
    r->no_cache = 1;
    r->connection->keepalive = AP_CONN_CLOSE;
    if (r->connection->aborted)
        return;
    APR_BRIGADE_INSERT_TAIL(ctx->bb, ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL, r->pool,
                                                            ctx->bb->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(ctx->bb, apr_bucket_eos_create(ctx->bb->bucket_alloc));
    pass(ctx);
}

static void io_log(void *c, int level, const char *msg, size_t len)
{
    request_ctx *ctx = c;
    ap_log_rerror(APLOG_MARK, level, 0, ctx->r, "%.*s", (int)len, msg);   /* logno: the engine's, or none */
}

static void io_interrupt_read(void *c)
{
    request_ctx *ctx = c;
    conn_rec *conn = ctx->r->connection;
    apr_socket_t *sock = ap_get_conn_socket(conn);
    /* The blocked recv() sees end of stream; the connection cannot carry
     * another request after this. */
    conn->keepalive = AP_CONN_CLOSE;
    if (sock != NULL)
        apr_socket_shutdown(sock, APR_SHUTDOWN_READ);
}

const gowsgi_io gowsgi_request_io = {
    .read = io_read,
    .start = io_start,
    .write = io_write,
    .flush = io_flush,
    .sendfile = io_sendfile,
    .log = io_log,
    .interrupt_read = io_interrupt_read,
    .read_error = io_read_error,
};

void gowsgi_log_process(int level, const char *msg, size_t len)
{
    ap_log_error(APLOG_MARK, level, 0, gowsgi_main_server, "%.*s", (int)len, msg);   /* logno: the engine's, or none */
}
