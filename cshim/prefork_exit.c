/*
 * prefork_exit.c: how a prefork child ends on SIGHUP or SIGTERM while it
 * serves a WSGI request.
 *
 * Prefork runs a child's whole exit (apr_pool_destroy(pchild), then exit()
 * and its handlers) inside the signal handler, on top of whatever the
 * signal interrupted. Between requests that is Apache's own code, as with
 * any module. Inside a WSGI request it is Python, Go or malloc: free() or
 * a library's exit handler (OpenSSL registers one) needing a lock the
 * interrupted frame holds never returns, and the child hangs until the
 * parent's SIGKILL (AH00045, AH00046). Such a child ends with _exit(), as
 * the SIGKILL would end it: the request is lost either way, and the parent
 * gives back what the child held (mod_gowsgi.c child_status). The signal
 * may also land on a thread of Go or of the app; it is passed to the main
 * thread, which knows whether it was serving.
 *
 * The handler has SA_ONSTACK, which Go requires of every handler in a
 * process it runs in, and the main thread gets a signal stack of its own
 * (Go adopts it), so that Apache's exit never runs on a goroutine's stack
 * or on Go's small one.
 */
#include "shim.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "http_core.h"

#define EXIT_STACK_SIZE (256 * 1024)

static int guarding;
static volatile sig_atomic_t serving;
static pthread_t main_thread;
static struct sigaction apache_hup, apache_term;
static char exit_stack[EXIT_STACK_SIZE] __attribute__((aligned(16)));

static void on_stop_signal(int sig, siginfo_t *info, void *uc)
{
    if (!pthread_equal(pthread_self(), main_thread)) {
        pthread_kill(main_thread, sig);
        return;
    }
    if (serving)
        _exit(0);
    const struct sigaction *apache = sig == SIGHUP ? &apache_hup : &apache_term;
    if (apache->sa_flags & SA_SIGINFO)
        apache->sa_sigaction(sig, info, uc);
    else
        apache->sa_handler(sig);
}

static int is_handler(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) ? sa->sa_sigaction != NULL
                                       : sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

void gowsgi_prefork_exit_setup(void)
{
    int threaded = 0;
    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) != APR_SUCCESS || threaded != AP_MPMQ_NOT_SUPPORTED)
        return;
    /* apache2 -X: no child; its handlers only note the signal. */
    if (ap_exists_config_define("ONE_PROCESS"))
        return;
    if (sigaction(SIGHUP, NULL, &apache_hup) != 0 || sigaction(SIGTERM, NULL, &apache_term) != 0 ||
        !is_handler(&apache_hup) || !is_handler(&apache_term))
        return;
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && (current.ss_flags & SS_DISABLE)) {
        stack_t mine = {.ss_sp = exit_stack, .ss_size = sizeof(exit_stack), .ss_flags = 0};
        sigaltstack(&mine, NULL);
    }
    main_thread = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_stop_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    /* One stop at a time: Apache's own handler ignores both once it runs. */
    sigaddset(&sa.sa_mask, SIGHUP);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    guarding = 1;
}

/* Only the main thread serves in prefork; elsewhere these do nothing. */
void gowsgi_prefork_serving_begin(void)
{
    if (guarding)
        serving = serving + 1;
}

void gowsgi_prefork_serving_end(void)
{
    if (guarding)
        serving = serving - 1;
}
