/*
 * daemon_crash.c: a daemon process that crashes in C says why in one line
 * (wsgi/crash_report.h does the work). The handler records the cause in the
 * process's shared slot; the parent, which sees the death, writes the line
 * with the group and the pid, and the Apache child that lost a request
 * names the same cause. The full report (every Python thread's stack, or the
 * Go runtime's own report) is kept in a file under the temporary directory,
 * named in that line, and only if there was a crash.
 */
#include "daemon.h"
#include "crash_report.h"

#include <stdlib.h>

#include "apr_strings.h"

int gowsgi_daemon_crash_report(apr_pool_t *p, gowsgi_daemon_rt *rt, int index)
{
    gowsgi_daemon_slot *slot = &rt->shared->slots[index];
    const char *tmp = getenv("TMPDIR");
    gowsgi_crash_report_config config = {
        .who = apr_psprintf(p, "daemon process %d of group '%s'", index, rt->conf->name),
        .name = rt->conf->name,
        .reason = slot->reason,
        .reason_size = sizeof(slot->reason),
        .crashed = &slot->crashed,
        .log_fd = 2,
        .dir = tmp != NULL && tmp[0] == '/' ? tmp : "/tmp",
    };
    __atomic_store_n(&slot->crashed, 0, __ATOMIC_RELEASE);
    return gowsgi_crash_report_install(&config);
}
