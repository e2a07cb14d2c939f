// Package wsgi is gowsgi's engine: the Python runtime, application groups,
// WSGI script loading and reloading, and the per-request runner (in C).
package wsgi

/*
#cgo CFLAGS: -O2 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
#cgo pkg-config: python3-embed
#cgo nocallback gowsgi_run
#cgo noescape gowsgi_run
#include "engine.h"

static void gowsgi_log_request(gowsgi_request *req, int level, const char *msg, size_t len)
{
	req->io->log(req->ctx, level, msg, len); // logno: relayed, the Go caller's
}
*/
import "C"

import "unsafe"

// cString views a NUL-terminated C string as a Go string without copying or
// crossing into C. Valid only while the C memory is: use it for lookups.
func cString(p *C.char) string {
	if p == nil {
		return ""
	}
	base := unsafe.Pointer(p)
	n := 0
	for *(*byte)(unsafe.Add(base, n)) != 0 {
		n++
	}
	return unsafe.String((*byte)(base), n)
}

// logLine is where the engine's own messages go: the request's client when
// there is a request, else the process.
type logLine func(level int, msg string)

func requestLogger(req *C.gowsgi_request) logLine {
	return func(level int, msg string) {
		m := C.CString(msg)
		C.gowsgi_log_request(req, C.int(level), m, C.size_t(len(msg)))
		C.free(unsafe.Pointer(m))
	}
}

const (
	logErr     = int(C.GOWSGI_LOG_ERR)
	logWarning = int(C.GOWSGI_LOG_WARNING)
	logInfo    = int(C.GOWSGI_LOG_INFO)
)
