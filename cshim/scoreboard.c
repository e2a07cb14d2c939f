/*
 * scoreboard.c: Apache's scoreboard for mod_wsgi.server_metrics(). The
 * engine gets gowsgi_scoreboard_read as gowsgi_init.scoreboard when server
 * metrics are on, and calls it with a visitor that builds the dict; this
 * file only reads Apache's records and copies them into the flat structs of
 * wsgi/gowsgi.h.
 *
 * Apache's children read the scoreboard they run in. A daemon process reads
 * the mapping it inherited from the parent (shared memory, as mod_wsgi's
 * daemons do); one forked before Apache made the scoreboard has none and
 * gets 1, which server_metrics() turns into None.
 */
#include "shim.h"

#include "scoreboard.h"
#include "apr_strings.h"

/* mod_wsgi's status letters, by Apache's SERVER_* number. */
static const char status_letters[SERVER_NUM_STATUS] = {
    [SERVER_DEAD] = '.',          [SERVER_READY] = '_',       [SERVER_STARTING] = 'S',
    [SERVER_BUSY_READ] = 'R',     [SERVER_BUSY_WRITE] = 'W',  [SERVER_BUSY_KEEPALIVE] = 'K',
    [SERVER_BUSY_LOG] = 'L',      [SERVER_BUSY_DNS] = 'D',    [SERVER_CLOSING] = 'C',
    [SERVER_GRACEFUL] = 'G',      [SERVER_IDLE_KILL] = 'I',
};

/* Apache's children write these strings as we read them: copy at most the
 * field and always end the copy. */
#define COPY_FIELD(dst, src)                                                                       \
    do {                                                                                           \
        memcpy((dst), (src), sizeof(src));                                                         \
        (dst)[sizeof(src)] = '\0';                                                                 \
    } while (0)

int gowsgi_scoreboard_read(const gowsgi_sb_visitor *v)
{
    if (!ap_exists_scoreboard_image())
        return 1;
    global_score *gs = ap_get_scoreboard_global();
    if (gs == NULL)
        return 1;

    gowsgi_sb_global g = {
        .server_limit = gs->server_limit,
        .thread_limit = gs->thread_limit,
        .running_generation = gs->running_generation,
        .restart_time = gs->restart_time,
    };
    if (v->global(v->ctx, &g) != 0)
        return -1;

    for (int i = 0; i < g.server_limit; i++) {
        process_score *ps = ap_get_scoreboard_process(i);
        if (ps == NULL)
            continue;
        gowsgi_sb_process p = {
            .process_num = i,
            .pid = (int)ps->pid,
            .generation = ps->generation,
            .quiescing = ps->quiescing != 0,
        };
        if (v->process(v->ctx, &p) != 0)
            return -1;
        for (int j = 0; j < g.thread_limit; j++) {
            worker_score *ws = ap_get_scoreboard_worker_from_indexes(i, j);
            if (ws == NULL)
                continue;
            char client[sizeof(ws->client) + 1], request[sizeof(ws->request) + 1], vhost[sizeof(ws->vhost) + 1];
            COPY_FIELD(client, ws->client);
            COPY_FIELD(request, ws->request);
            COPY_FIELD(vhost, ws->vhost);
            unsigned char status = ws->status;
            gowsgi_sb_worker w = {
                .thread_num = ws->thread_num,
                .generation = ws->generation,
                .status = status < SERVER_NUM_STATUS ? status_letters[status] : '?',
                .access_count = ws->access_count,
                .bytes_served = (uint64_t)ws->bytes_served,
                .start_time = ws->start_time,
                .stop_time = ws->stop_time,
                .last_used = ws->last_used,
                .client = client,
                .request = request,
                .vhost = vhost,
            };
            if (v->worker(v->ctx, &w) != 0)
                return -1;
        }
    }
    return 0;
}
