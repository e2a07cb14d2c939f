//go:build ignore

/*
 * crash_report.c: see crash_report.h. Everything the handler does is
 * async-signal-safe (write, read, fstat, linkat, sigaction, raise; no stdio,
 * no malloc), or is what CPython's own faulthandler does from its handler
 * (_Py_DumpTraceback, _Py_DumpTracebackThreads,
 * PyGILState_GetThisThreadState; the first two found in libpython's symbol
 * table where it does not export them, local_functions). Built into the shim, not into
 * libgowsgi.so (hence the build constraint above): the handler has to
 * exist before the Go runtime does.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* O_TMPFILE, memmem, pipe2 */
#endif
#include "crash_report.h"
#include "logno.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The signals a crash arrives by: CPython's faulthandler takes the first
 * five; SIGQUIT is how the Go runtime, dying of a signal it cannot hand on
 * (a fault in its own code), collects the other threads' stacks: it writes
 * its report, then sends SIGQUIT to the process, which nothing handles in
 * a c-shared library, so the process used to be "killed by signal 3
 * (Quit)" with no word of why. Only that SIGQUIT is reported here; one sent
 * from outside kills as it always did. */
static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT};
#define NCRASH (sizeof(crash_signals) / sizeof(crash_signals[0]))

/* The head of the crash line (error log) and of the report (file):
 * "<id> gowsgi: <who> (pid N) crashed: ...". */
#define CRASH_HEAD GOWSGI_LOGNO(0600) "gowsgi: "

typedef void *(*this_thread_state_fn)(void);
typedef void (*dump_traceback_fn)(int fd, void *tstate);
typedef const char *(*dump_threads_fn)(int fd, void *interp, void *tstate);

static struct {
    char who[200];
    char name[64];                 /* for the report's file name */
    char dir[256];
    char *reason;
    size_t reason_size;
    int *crashed;
    int log_fd;
    int file_fd;                   /* the unnamed report file, or -1 */
    int pipe_fd[2];                /* the crashing thread's stack passes through it */
    this_thread_state_fn this_thread_state;
    this_thread_state_fn engine_thread_state;
    dump_traceback_fn dump_traceback;
    dump_threads_fn dump_threads;
    struct sigaction previous[NCRASH];
    /* Go's own handlers, for the signals a first-line handler stands in
     * front of (go_first): all but a thread's own crash goes to them. */
    struct sigaction go[NCRASH];
    int busy;                      /* the thread id of the thread reporting, 0: none */
} cr = {.log_fd = -1, .file_fd = -1, .pipe_fd = {-1, -1}};

/* A bounded string being built without malloc. */
typedef struct {
    char *p;
    size_t len, cap;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->cap == 0)
        return;
    if (n > t->cap - 1 - t->len)
        n = t->cap - 1 - t->len;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void puts_(text *t, const char *s)
{
    put(t, s, strlen(s));
}

static void put_num(text *t, uintmax_t v, int base)
{
    char buf[32];
    size_t i = sizeof(buf);
    do {
        buf[--i] = "0123456789abcdef"[v % (uintmax_t)base];
        v /= (uintmax_t)base;
    } while (v != 0 && i > 0);
    put(t, buf + i, sizeof(buf) - i);
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* strsignal's words (it is not async-signal-safe), as the parent prints
 * them for a death it sees. */
static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "Segmentation fault";
    case SIGBUS: return "Bus error";
    case SIGFPE: return "Floating point exception";
    case SIGILL: return "Illegal instruction";
    case SIGABRT: return "Aborted";
    case SIGQUIT: return "Quit";
    default: return "?";
    }
}

/* "  File "/x/app.wsgi", line 12 in f" lines (faulthandler's) into
 * "f (/x/app.wsgi:12) <- g (...)", innermost first, within room bytes. */
static void put_frames(text *t, const char *dump, size_t n, size_t room)
{
    static const char file[] = "  File \"", line[] = "\", line ", in[] = " in ";
    const char *end = dump + n;
    size_t start = t->len;
    int frames = 0;
    for (const char *l = dump; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        if (nl == NULL)
            break;   /* a line cut short: the pipe was full */
        if ((size_t)(nl - l) > sizeof(file) && memcmp(l, file, sizeof(file) - 1) == 0) {
            const char *path = l + sizeof(file) - 1;
            const char *q = memmem(path, (size_t)(nl - path), line, sizeof(line) - 1);
            const char *num = q ? q + sizeof(line) - 1 : NULL;
            const char *r = num ? memmem(num, (size_t)(nl - num), in, sizeof(in) - 1) : NULL;
            if (r != NULL) {
                const char *fn = r + sizeof(in) - 1;
                size_t need = (size_t)(nl - fn) + (size_t)(q - path) + (size_t)(r - num) + 8;
                if (t->len - start + need + 8 > room) {
                    puts_(t, " <- ...");
                    return;
                }
                if (frames++ > 0)
                    puts_(t, " <- ");
                put(t, fn, (size_t)(nl - fn));
                puts_(t, " (");
                put(t, path, (size_t)(q - path));
                puts_(t, ":");
                put(t, num, (size_t)(r - num));
                puts_(t, ")");
            }
        }
        l = nl + 1;
    }
    if (frames == 0)
        puts_(t, "(no Python frame)");
}

/* The crashing thread's Python stack, read back from the pipe. */
static void put_python_stack(text *t, void *tstate, size_t room)
{
    static char dump[8192];   /* static: the handler may run on a 32 KiB stack */
    size_t n = 0;
    if (tstate == NULL || cr.dump_traceback == NULL || cr.pipe_fd[0] < 0)
        return;
    cr.dump_traceback(cr.pipe_fd[1], tstate);
    for (;;) {
        ssize_t r = read(cr.pipe_fd[0], dump + n, sizeof(dump) - n);
        if (r <= 0 || (n += (size_t)r) == sizeof(dump))
            break;
    }
    puts_(t, "; Python stack: ");
    put_frames(t, dump, n, room);
}

/* Whether the Go runtime wrote its report of a fatal error (it does before
 * it aborts or relays SIGQUIT). */
static int go_reported(void)
{
    struct stat st;
    return cr.file_fd >= 0 && fstat(cr.file_fd, &st) == 0 && st.st_size > 0;
}

/* The first line of what the Go runtime wrote into the report file ("fatal
 * error: ..." or "panic: ..."), if it did. */
static int put_go_report(text *t)
{
    char head[200];
    if (!go_reported())
        return 0;
    ssize_t n = pread(cr.file_fd, head, sizeof(head), 0);
    size_t i = 0;
    while (n > 0 && i < (size_t)n && head[i] == '\n')
        i++;
    size_t j = i;
    while (n > 0 && j < (size_t)n && head[j] != '\n')
        j++;
    puts_(t, " after a fatal error in Go: \"");
    put(t, head + i, j - i);
    puts_(t, "\"");
    return 1;
}

/* Gives the report file a name (it had none until the crash). */
static int name_report(text *path)
{
    char proc[64];
    text p = {proc, 0, sizeof(proc)};
    puts_(&p, "/proc/self/fd/");
    put_num(&p, (uintmax_t)cr.file_fd, 10);
    for (int attempt = 0; attempt < 5; attempt++) {
        path->len = 0;
        puts_(path, cr.dir);
        puts_(path, "/gowsgi-crash-");
        puts_(path, cr.name);
        puts_(path, "-");
        put_num(path, (uintmax_t)getpid(), 10);
        if (attempt > 0) {
            puts_(path, ".");
            put_num(path, (uintmax_t)attempt, 10);
        }
        puts_(path, ".txt");
        if (linkat(AT_FDCWD, proc, AT_FDCWD, path->p, AT_SYMLINK_FOLLOW) == 0)
            return 1;
    }
    return 0;
}

static void report(int sig, const siginfo_t *info)
{
    static char line[1024], path_buf[400];
    int fault = info != NULL && info->si_code > 0;   /* from the kernel: a real fault */
    int own = info != NULL && info->si_code <= 0 && info->si_pid == getpid();   /* raise, abort */
    text t = {line, 0, sizeof(line)};
    puts_(&t, "signal ");
    put_num(&t, (uintmax_t)sig, 10);
    puts_(&t, " (");
    puts_(&t, signal_name(sig));
    puts_(&t, ")");
    if (fault && sig != SIGABRT) {
        puts_(&t, " at address 0x");
        put_num(&t, (uintmax_t)(uintptr_t)info->si_addr, 16);
    }
    puts_(&t, " in thread ");
    put_num(&t, (uintmax_t)syscall(SYS_gettid), 10);
    int go = put_go_report(&t);
    this_thread_state_fn engine = __atomic_load_n(&cr.engine_thread_state, __ATOMIC_ACQUIRE);
    void *tstate = engine ? engine() : NULL;
    if (tstate == NULL && cr.this_thread_state != NULL)
        tstate = cr.this_thread_state();
    size_t head = t.len;
    /* Room left for the stack, keeping what the report's name takes. */
    size_t keep = cr.file_fd >= 0 ? strlen(cr.dir) + strlen(cr.name) + 60 : 0;
    size_t room = cr.reason_size && cr.reason_size < sizeof(line) ? cr.reason_size : sizeof(line);
    room = room > t.len + keep ? room - t.len - keep : 0;
    if ((fault || own) && !go && room > 40)
        put_python_stack(&t, tstate, room);

    /* The full report: the line, then the stack of every thread of the
     * crashing thread's interpreter (faulthandler's all_threads). */
    text path = {path_buf, 0, sizeof(path_buf)};
    if (cr.file_fd >= 0) {
        char pid[24];
        text p = {pid, 0, sizeof(pid)};
        put_num(&p, (uintmax_t)getpid(), 10);
        if (go)
            write_all(cr.file_fd, "\n", 1);   /* after the Go runtime's report */
        write_all(cr.file_fd, CRASH_HEAD, sizeof(CRASH_HEAD) - 1);
        write_all(cr.file_fd, cr.who, strlen(cr.who));
        write_all(cr.file_fd, " (pid ", 6);
        write_all(cr.file_fd, pid, p.len);
        write_all(cr.file_fd, ") crashed: ", 11);
        write_all(cr.file_fd, line, head);
        write_all(cr.file_fd, "\n\n", 2);
        if (cr.dump_threads != NULL)
            cr.dump_threads(cr.file_fd, NULL, tstate);
        if (name_report(&path)) {
            puts_(&t, "; full report in ");
            puts_(&t, path.p);
        }
    }

    if (cr.reason != NULL && cr.reason_size > 0) {
        size_t n = t.len < cr.reason_size - 1 ? t.len : cr.reason_size - 1;
        memcpy(cr.reason, line, n);
        cr.reason[n] = '\0';
        __atomic_store_n(cr.crashed, sig, __ATOMIC_RELEASE);
    } else if (cr.log_fd >= 0) {
        write_all(cr.log_fd, CRASH_HEAD, sizeof(CRASH_HEAD) - 1);
        write_all(cr.log_fd, cr.who, strlen(cr.who));
        write_all(cr.log_fd, " (pid ", 6);
        char pid[24];
        text p = {pid, 0, sizeof(pid)};
        put_num(&p, (uintmax_t)getpid(), 10);
        write_all(cr.log_fd, pid, p.len);
        write_all(cr.log_fd, ") crashed: ", 11);
        write_all(cr.log_fd, line, t.len);
        write_all(cr.log_fd, "\n", 1);
    }
}

static void handler(int sig, siginfo_t *info, void *ucontext)
{
    int index = -1;
    for (size_t i = 0; i < NCRASH; i++)
        if (crash_signals[i] == sig)
            index = (int)i;
    /* A crash is a fault, or the process's own doing (abort(), raise());
     * a signal sent from outside kills as it always did, and the parent
     * says "killed by signal N". A SIGQUIT is a crash only when the Go
     * runtime sent it after its report (see crash_signals). */
    int fault = info != NULL && info->si_code > 0;
    int own = info != NULL && info->si_code <= 0 && info->si_pid == getpid();
    int crash = sig == SIGQUIT ? own && go_reported() : fault || own;
    if (crash && index >= 0) {
        int self = (int)syscall(SYS_gettid), owner = 0;
        if (__atomic_compare_exchange_n(&cr.busy, &owner, self, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            report(sig, info);
        } else if (owner != self) {
            /* Another thread is reporting its crash, and will end the
             * process when done: let it finish (bounded), rather than cut
             * its report short by dying of this one. */
            struct timespec pause = {0, 10 * 1000 * 1000};
            for (int i = 0; i < 300; i++)
                nanosleep(&pause, NULL);
        }
        /* owner == self: a fault while reporting one; just die of it. */
    }
    /* Die of the same signal, as if nothing had been in the way: the
     * parent's waitpid sees it, and a core is dumped where enabled. */
    if (index >= 0)
        sigaction(sig, &cr.previous[index], NULL);
    else
        signal(sig, SIG_DFL);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, sig);
    pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
    raise(sig);
    (void)ucontext;
}

/* In front of Go's handler for SIGSEGV, SIGBUS and SIGFPE (go_first): a
 * thread that sent the signal to itself (raise(3), pthread_kill(3): tgkill,
 * SI_TKILL) crashes, as one that faulted does; anything else, a fault
 * included, is Go's to decide, as before. Go takes a signal that was sent
 * for one from outside: its sigsend hands it to the engine's signal.Notify
 * (wsgi/daemon_crash.go) and returns, so the thread carried on past its
 * own crash; the process died of the signal only when that goroutine ran,
 * on another thread, and without a report. A WSGIImportScript that crashed
 * so could finish meanwhile and the process say it was ready: the parent
 * then saw a process that died after it was up, and started the next one
 * at once instead of backing off (TestDaemon_BrokenGroupBacksOff). */
static void first(int sig, siginfo_t *info, void *ucontext)
{
    int index = -1;
    for (size_t i = 0; i < NCRASH; i++)
        if (crash_signals[i] == sig)
            index = (int)i;
    if (info != NULL && info->si_code == SI_TKILL && info->si_pid == getpid()) {
        handler(sig, info, ucontext);   /* reports it and dies of it */
        return;
    }
    if (index < 0)
        return;
    const struct sigaction *go = &cr.go[index];
    if (go->sa_flags & SA_SIGINFO)
        go->sa_sigaction(sig, info, ucontext);
    else if (go->sa_handler != SIG_DFL && go->sa_handler != SIG_IGN)
        go->sa_handler(sig);
}

/* Go installs its handlers while libgowsgi.so is loaded (its constructor:
 * runtime.libpreinit), so they are in place once dlopen returns; the
 * first-line handler goes in front of each that is Go's, that is neither
 * this file's nor a default. After that Go sets these signals' handlers
 * only on its way to dying of one (dieFromSignal, raisebadsignal). */
static void go_first(void)
{
    static const int taken_by_go[] = {SIGSEGV, SIGBUS, SIGFPE};
    for (size_t k = 0; k < sizeof(taken_by_go) / sizeof(taken_by_go[0]); k++) {
        int sig = taken_by_go[k];
        size_t i = 0;
        while (i < NCRASH && crash_signals[i] != sig)
            i++;
        struct sigaction now;
        if (i == NCRASH || sigaction(sig, NULL, &now) != 0 || !(now.sa_flags & SA_SIGINFO) ||
            now.sa_sigaction == handler || now.sa_sigaction == first)
            continue;
        cr.go[i] = now;
        struct sigaction sa = now;
        sa.sa_sigaction = first;
        sa.sa_flags = (now.sa_flags & ~SA_RESETHAND) | SA_SIGINFO | SA_ONSTACK;
        sigaction(sig, &sa, NULL);
    }
}

void gowsgi_crash_report_engine(void *engine)
{
    go_first();
    /* CPython 3.13 no longer exports faulthandler's writers: the engine's
     * (wsgi/crash_traceback.c) write the same text. */
    if (cr.dump_traceback == NULL)
        __atomic_store_n(&cr.dump_traceback, (dump_traceback_fn)dlsym(engine, "gowsgi_crash_dump_traceback"),
                         __ATOMIC_RELEASE);
    if (cr.dump_threads == NULL)
        __atomic_store_n(&cr.dump_threads, (dump_threads_fn)dlsym(engine, "gowsgi_crash_dump_threads"),
                         __ATOMIC_RELEASE);
    __atomic_store_n(&cr.engine_thread_state, (this_thread_state_fn)dlsym(engine, "gowsgi_crash_thread_state"),
                     __ATOMIC_RELEASE);
}

static void copy(char *dst, size_t size, const char *src)
{
    text t = {dst, 0, size};
    dst[0] = '\0';
    if (src != NULL)
        puts_(&t, src);
}

/* Functions of the library holding anchor that it keeps out of its
 * dynamic symbols, found in its file's symbol table (.symtab): names[i]'s
 * address goes to out[i] (left NULL when absent). CPython 3.9 and 3.13 keep
 * _Py_DumpTraceback and _Py_DumpTracebackThreads, faulthandler's, local
 * to libpython (3.10 to 3.12 export them); a libpython stripped of its
 * symbol table leaves the report without a Python stack, as before.
 * Install time only: this opens and maps a file. */
static void local_functions(void *anchor, const char *const *names, void **out, size_t n)
{
    Dl_info info;
    struct link_map *map = NULL;
    if (anchor == NULL || dladdr1(anchor, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 || map == NULL ||
        info.dli_fname == NULL)
        return;
    /* The program itself (gowsgi-daemon-X.Y, its Python linked in): the
     * loader names it by argv[0], which is the daemon's title or Apache's
     * path, not the file. */
    const char *path = map->l_name == NULL || map->l_name[0] == '\0' ? "/proc/self/exe" : info.dli_fname;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(ElfW(Ehdr))) {
        close(fd);
        return;
    }
    size_t size = (size_t)st.st_size;
    const unsigned char *file = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (file == MAP_FAILED)
        return;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)file;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
        eh->e_shentsize != sizeof(ElfW(Shdr)) || eh->e_shoff == 0 || eh->e_shoff > size ||
        eh->e_shnum > (size - eh->e_shoff) / sizeof(ElfW(Shdr)))
        goto done;
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(file + eh->e_shoff);
    for (size_t i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum || sh[i].sh_entsize != sizeof(ElfW(Sym)))
            continue;
        const ElfW(Shdr) *strs = &sh[sh[i].sh_link];
        if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset || strs->sh_offset > size ||
            strs->sh_size > size - strs->sh_offset)
            continue;
        const ElfW(Sym) *sym = (const ElfW(Sym) *)(file + sh[i].sh_offset);
        const char *str = (const char *)(file + strs->sh_offset);
        for (size_t k = 0; k < sh[i].sh_size / sizeof(ElfW(Sym)); k++) {
            if ((sym[k].st_info & 0xf) != STT_FUNC || sym[k].st_shndx == SHN_UNDEF || sym[k].st_value == 0 ||
                sym[k].st_name >= strs->sh_size)
                continue;
            const char *name = str + sym[k].st_name;
            size_t max = strs->sh_size - sym[k].st_name;
            for (size_t j = 0; j < n; j++)
                if (out[j] == NULL && strnlen(name, max) < max && strcmp(name, names[j]) == 0)
                    out[j] = (void *)(map->l_addr + sym[k].st_value);
        }
    }
done:
    munmap((void *)file, size);
}

int gowsgi_crash_report_install(const gowsgi_crash_report_config *config)
{
    copy(cr.who, sizeof(cr.who), config->who);
    cr.reason = config->reason;
    cr.reason_size = config->reason != NULL && config->crashed != NULL ? config->reason_size : 0;
    cr.crashed = config->crashed;
    cr.log_fd = config->log_fd;
    /* The report's name: the group's, kept to characters safe in a path. */
    copy(cr.name, sizeof(cr.name), config->name);
    for (char *c = cr.name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '_' || *c == '.'))
            *c = '_';

    /* libpython is in the global scope by now (RTLD_GLOBAL). Without these
     * the line still says what crashed and where, with no Python stack. */
    cr.this_thread_state = (this_thread_state_fn)dlsym(RTLD_DEFAULT, "PyGILState_GetThisThreadState");
    cr.dump_traceback = (dump_traceback_fn)dlsym(RTLD_DEFAULT, "_Py_DumpTraceback");
    cr.dump_threads = (dump_threads_fn)dlsym(RTLD_DEFAULT, "_Py_DumpTracebackThreads");
    if (cr.this_thread_state != NULL && (cr.dump_traceback == NULL || cr.dump_threads == NULL)) {
        /* Taken only when the file's table places the exported anchor
         * where the loader did: it is the library loaded. */
        static const char *const names[] = {"PyGILState_GetThisThreadState", "_Py_DumpTraceback",
                                            "_Py_DumpTracebackThreads"};
        void *found[3] = {NULL, NULL, NULL};
        local_functions((void *)cr.this_thread_state, names, found, 3);
        if (found[0] == (void *)cr.this_thread_state && found[1] != NULL && found[2] != NULL) {
            cr.dump_traceback = (dump_traceback_fn)found[1];
            cr.dump_threads = (dump_threads_fn)found[2];
        }
    }
    /* Non-blocking: a stack deeper than the pipe holds is cut, never a
     * handler stuck writing to itself. */
    if (pipe2(cr.pipe_fd, O_NONBLOCK | O_CLOEXEC) != 0)
        cr.pipe_fd[0] = cr.pipe_fd[1] = -1;
    /* Unnamed until there is a crash to report: a process that never
     * crashes leaves nothing behind (linkat gives it its name). */
    if (config->dir != NULL && config->dir[0] == '/') {
        copy(cr.dir, sizeof(cr.dir), config->dir);
        cr.file_fd = open(cr.dir, O_TMPFILE | O_RDWR | O_APPEND | O_CLOEXEC, 0600);
    }

    gowsgi_crash_report_handlers();
    return cr.file_fd;
}

void gowsgi_crash_report_handlers(void)
{
    /* Once: a second time would replace the handlers Go has put in front
     * since (a program with the engine linked in installs these before Go
     * starts, and is configured after). */
    static int installed;
    if (installed)
        return;
    installed = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = handler;
    /* SA_ONSTACK: Go requires it of every handler in a process it runs in
     * (a Go thread takes signals on its own signal stack). */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NCRASH; i++)
        sigaddset(&sa.sa_mask, crash_signals[i]);
    for (size_t i = 0; i < NCRASH; i++)
        sigaction(crash_signals[i], &sa, &cr.previous[i]);
}
