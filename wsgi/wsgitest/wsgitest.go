// Package wsgitest drives the real engine (CPython, the C runner) without
// Apache: it implements the shim's I/O table over memory, so the runner can
// be tested and benchmarked alone. The integration tests in tests/ cover the
// same behaviour through a real Apache.
package wsgitest

/*
#cgo CFLAGS: -I${SRCDIR}/.. -Wall -Werror -Wno-unused-parameter
#include "gowsgi.h"
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

typedef struct buf { char *p; size_t len, cap; } buf;

static void buf_add(buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

typedef struct mem_ctx {
	const char *body;
	size_t body_len, body_pos;
	int broken;     // the body breaks off after body_len bytes
	int reads;
	int status;
	buf status_line, headers, out, log;
	int flushes, sendfiles;
} mem_ctx;

static long mem_read(void *c, char *dst, size_t len)
{
	mem_ctx *m = c;
	size_t n = m->body_len - m->body_pos;
	if (n == 0 && m->broken)
		return -1;
	if (n > len)
		n = len;
	memcpy(dst, m->body + m->body_pos, n);
	m->body_pos += n;
	m->reads++;
	return (long)n;
}

static int mem_start(void *c, int status, const char *line, int n, const char *const *names, const char *const *values)
{
	mem_ctx *m = c;
	m->status = status;
	buf_add(&m->status_line, line, strlen(line));
	for (int i = 0; i < n; i++) {
		buf_add(&m->headers, names[i], strlen(names[i]));
		buf_add(&m->headers, ": ", 2);
		buf_add(&m->headers, values[i], strlen(values[i]));
		buf_add(&m->headers, "\n", 1);
	}
	return 0;
}

static int mem_write(void *c, const char *s, size_t n) { buf_add(&((mem_ctx *)c)->out, s, n); return 0; }
static int mem_flush(void *c) { ((mem_ctx *)c)->flushes++; return 0; }

static int mem_sendfile(void *c, int fd, int64_t off, int64_t len)
{
	mem_ctx *m = c;
	char chunk[8192];
	m->sendfiles++;
	while (len > 0) {
		ssize_t n = pread(fd, chunk, len < (int64_t)sizeof(chunk) ? (size_t)len : sizeof(chunk), off);
		if (n <= 0)
			return -1;
		buf_add(&m->out, chunk, (size_t)n);
		off += n;
		len -= n;
	}
	return 0;
}

static void mem_log(void *c, int level, const char *msg, size_t len)
{
	mem_ctx *m = c;
	buf_add(&m->log, msg, len);
	buf_add(&m->log, "\n", 1);
}

static buf process_log;
static void mem_log_process(int level, const char *msg, size_t len)
{
	char tag[16];
	int n = snprintf(tag, sizeof(tag), "[%d] ", level);
	buf_add(&process_log, tag, (size_t)n);
	buf_add(&process_log, msg, len);
	buf_add(&process_log, "\n", 1);
}

static void mem_interrupt_read(void *c) { (void)c; }
static const char *mem_read_error(void *c) { (void)c; return "Partial results are valid but processing is incomplete"; }

static const gowsgi_io mem_io = {mem_read, mem_start, mem_write, mem_flush, mem_sendfile, mem_log, mem_interrupt_read,
                                 mem_read_error};

static void set_io(gowsgi_request *req, mem_ctx *m) { req->ctx = m; req->io = &mem_io; }
static void set_log(gowsgi_init *init) { init->log = mem_log_process; }
static void free_ctx(mem_ctx *m)
{
	free(m->status_line.p); free(m->headers.p); free(m->out.p); free(m->log.p);
}
static char *process_log_text(void) { return process_log.p ? process_log.p : ""; }
// wsgi/fastpath.c: the shim's entry point.
int gowsgi_serve(gowsgi_request *req);
static void reset_ctx(mem_ctx *m)
{
	m->body_pos = 0; m->reads = 0; m->status = 0; m->flushes = 0; m->sendfiles = 0;
	m->status_line.len = m->headers.len = m->out.len = m->log.len = 0;
}
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/gowsgi/gowsgi/wsgi"
)

// Options are the process settings (gowsgi_init) a test starts Python with.
type Options struct {
	PythonPath     string
	RestrictSignal bool
	RestrictStdout bool
	MaxThreads     int
}

var startOnce sync.Once
var startErr error

// Start initialises the engine once per test process, on the calling thread.
func Start(opts Options) error {
	startOnce.Do(func() {
		var init C.gowsgi_init
		init.abi_version = C.GOWSGI_ABI_VERSION
		init.embedded = 1
		if opts.PythonPath != "" {
			init.python_path = C.CString(opts.PythonPath)
		}
		if opts.RestrictSignal {
			init.restrict_signal = 1
		}
		if opts.RestrictStdout {
			init.restrict_stdout = 1
		}
		init.max_threads = C.int(max(opts.MaxThreads, 1))
		init.multithread = 1
		init.max_processes = 1
		init.mpm_name = C.CString("test")
		init.server_description = C.CString("Apache/2.4 (test)")
		init.server_built = C.CString("test")
		init.apache_version = [3]C.int{2, 4, 0}
		C.set_log(&init)
		var errbuf [1024]C.char
		startErr = wsgi.Init(unsafe.Pointer(&init), unsafe.Pointer(&errbuf[0]), len(errbuf))
	})
	return startErr
}

// Incomplete is Response.Result for a response started but cut short
// (GOWSGI_INCOMPLETE): the shim closes the connection.
const Incomplete = int(C.GOWSGI_INCOMPLETE)

// Request describes one request to the engine.
type Request struct {
	Script           string
	ApplicationGroup string
	Callable         string // "application" when empty
	Mtime            int64
	Reloading        bool
	Sendfile         bool
	Env              map[string]string
	Body             []byte
	BodyBroken       bool // the body breaks off after Body: reads then fail
}

// Response is what the engine did with it.
type Response struct {
	Result     int // 0 = response produced, else the status Apache would answer
	Status     int
	StatusLine string
	Headers    []string // "Name: value"
	Body       []byte
	Log        string // request-scoped error-log lines
	Flushes    int
	Sendfiles  int
	Reads      int
}

// Header returns the first value of a response header.
func (r Response) Header(name string) string {
	for _, h := range r.Headers {
		if k, v, ok := strings.Cut(h, ": "); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Prepared is a request built once in C memory, to run many times (the
// runner benchmark measures the engine, not the building of requests).
type Prepared struct {
	req   *C.gowsgi_request
	ctx   *C.mem_ctx
	frees []unsafe.Pointer
}

// Do runs one request through the shim's entry point.
func Do(r Request) Response {
	p := Prepare(r)
	defer p.Free()
	return p.Run()
}

// Free releases the C memory of a prepared request.
func (p *Prepared) Free() {
	C.free_ctx(p.ctx)
	for _, m := range p.frees {
		C.free(m)
	}
}

// Run sends the prepared request through gowsgi_serve once, the entry point
// the shim calls (the C fast path, or Go when it must decide).
func (p *Prepared) Run() Response {
	C.reset_ctx(p.ctx)
	result := int(C.gowsgi_serve(p.req))
	ctx := p.ctx
	resp := Response{
		Result:     result,
		Status:     int(ctx.status),
		StatusLine: goText(ctx.status_line),
		Body:       C.GoBytes(unsafe.Pointer(ctx.out.p), C.int(ctx.out.len)),
		Log:        goText(ctx.log),
		Flushes:    int(ctx.flushes),
		Sendfiles:  int(ctx.sendfiles),
		Reads:      int(ctx.reads),
	}
	if h := goText(ctx.headers); h != "" {
		resp.Headers = strings.Split(strings.TrimSuffix(h, "\n"), "\n")
	}
	return resp
}

// Prepare builds the C request (gowsgi_request and its memory I/O) for r.
func Prepare(r Request) *Prepared {
	p := &Prepared{}
	alloc := func(n uintptr) unsafe.Pointer {
		m := C.calloc(1, C.size_t(n))
		p.frees = append(p.frees, m)
		return m
	}
	req := (*C.gowsgi_request)(alloc(unsafe.Sizeof(C.gowsgi_request{})))
	ctx := (*C.mem_ctx)(alloc(unsafe.Sizeof(C.mem_ctx{})))
	p.req, p.ctx = req, ctx
	cs := func(s string) *C.char {
		m := C.CString(s)
		p.frees = append(p.frees, unsafe.Pointer(m))
		return m
	}
	if len(r.Body) > 0 {
		ctx.body = cs(string(r.Body))
		ctx.body_len = C.size_t(len(r.Body))
	}
	if r.BodyBroken {
		ctx.broken = 1
	}
	C.set_io(req, ctx)
	callable := r.Callable
	if callable == "" {
		callable = "application"
	}
	req.script = cs(r.Script)
	req.script_mtime = C.int64_t(r.Mtime)
	req.process_group = cs("")
	req.application_group = cs(r.ApplicationGroup)
	req.callable_object = cs(callable)
	req.handler_script = cs("")
	if r.Reloading {
		req.script_reloading = 1
	}
	if r.Sendfile {
		req.enable_sendfile = 1
	}
	env := map[string]string{"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": ""}
	for k, v := range r.Env {
		env[k] = v
	}
	n := len(env)
	keys := (*[1 << 20]*C.char)(alloc(uintptr(n+1) * unsafe.Sizeof(uintptr(0))))
	vals := (*[1 << 20]*C.char)(alloc(uintptr(n+1) * unsafe.Sizeof(uintptr(0))))
	i := 0
	for k, v := range env {
		keys[i], vals[i] = cs(k), cs(v)
		i++
	}
	req.nenv = C.int(n)
	req.env_keys = &keys[0]
	req.env_vals = &vals[0]
	return p
}

func goText(b C.buf) string {
	if b.p == nil {
		return ""
	}
	return C.GoStringN(b.p, C.int(b.len))
}

// ProcessLog is every process-scoped error-log line so far, each as
// "[level] text" (Apache's APLOG_* numbers).
// ProcessLog is everything logged without a request so far.
func ProcessLog() string { return C.GoString(C.process_log_text()) }

// String summarises a response for assertion messages.
func (r Response) String() string {
	return fmt.Sprintf("result=%d status=%q headers=%q body=%q log=%q", r.Result, r.StatusLine, r.Headers, r.Body, r.Log)
}
