/*
 * crash_setup.c: a process that crashes in C says why in one line
 * (wsgi/crash_report.h does the work). In a daemon process the handler
 * records the cause in the process's shared slot; the parent, which sees
 * the death, writes the line with the group and the pid, and the Apache
 * child that lost a request names the same cause. An Apache child running
 * embedded apps writes its own line to the error log, then lets Apache's
 * handler (core dump, AH00052) go on. The full report (every Python
 * thread's stack, or the Go runtime's own report) is kept in a file under
 * the temporary directory, named in that line, and only if there was a
 * crash.
 */
#include "daemon.h"
#include "crash_report.h"

#include <stdlib.h>

#include "apr_strings.h"

static const char *report_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    return tmp != NULL && tmp[0] == '/' ? tmp : "/tmp";
}

int gowsgi_daemon_crash_report(apr_pool_t *p, gowsgi_daemon_rt *rt, int index)
{
    gowsgi_daemon_slot *slot = &rt->shared->slots[index];
    gowsgi_crash_report_config config = {
        .who = apr_psprintf(p, "daemon process %d of group '%s'", index, rt->conf->name),
        .name = rt->conf->name,
        .reason = slot->reason,
        .reason_size = sizeof(slot->reason),
        .crashed = &slot->crashed,
        .log_fd = 2,
        .dir = report_dir(),
    };
    __atomic_store_n(&slot->crashed, 0, __ATOMIC_RELEASE);
    return gowsgi_crash_report_install(&config);
}

void gowsgi_child_crash_report(void)
{
    gowsgi_crash_report_config config = {
        .who = "Apache child running embedded WSGI apps",
        .name = "embedded",
        .log_fd = 2,   /* Apache's error log */
        .dir = report_dir(),
    };
    gowsgi_crash_report_install(&config);
}
