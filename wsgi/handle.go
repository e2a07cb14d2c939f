package wsgi

/*
#include "engine.h"
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

// Handle serves one request the C fast path could not: it picks the
// interpreter, makes sure the script is loaded and current, registers it
// with the fast path, then calls the C runner. Returns 0 (response
// produced), GOWSGI_INCOMPLETE, or an HTTP status.
func Handle(p unsafe.Pointer) int {
	req := (*C.gowsgi_request)(p)
	if !eng.embedded {
		// The shim only routes here for embedded requests when Python runs.
		requestLogger(req)(logErr, "GW0421: gowsgi: Python is not initialised in this process (WSGIRestrictEmbedded On)")
		return 500
	}
	it, err := eng.interpreter(cString(req.application_group))
	if err != nil {
		requestLogger(req)(logErr, fmt.Sprintf("GW0422: gowsgi (pid=%d): %v", os.Getpid(), err))
		return 500
	}

	// Map lookups with views of the C strings: no copies on the hot path.
	key := appKey{cString(req.script), cString(req.callable_object)}
	it.mu.RLock()
	a := it.apps[key]
	it.mu.RUnlock()
	if a == nil {
		a = it.app(C.GoString(req.script), C.GoString(req.callable_object))
	}
	mtime := int64(req.script_mtime)
	reloading := req.script_reloading != 0
	if !a.current(mtime, reloading) {
		if status := a.load(requestLogger(req), req, mtime, reloading); status != 0 {
			return status
		}
	}
	if !a.fast.Load() && a.callable != "" {
		// From now on requests for this app skip Go while it stays current.
		C.gowsgi_fast_register(it.c, a.c, req.application_group, req.script, req.callable_object)
		a.fast.Store(true)
	}
	return int(C.gowsgi_run(it.c, a.c, req))
}

// gowsgiDecideAndServe is where the C fast path sends every request it
// cannot serve alone (see fastpath.c).
//
//export gowsgiDecideAndServe
func gowsgiDecideAndServe(req *C.gowsgi_request) (status C.int) {
	defer func() {
		// A panic must not unwind into Apache's C frames.
		if r := recover(); r != nil {
			requestLogger(req)(logErr, fmt.Sprintf("GW0423: gowsgi (pid=%d): internal error serving a request: %v", os.Getpid(), r))
			status = 500
		}
	}()
	return C.int(Handle(unsafe.Pointer(req)))
}
