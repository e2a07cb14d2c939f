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

// Handle serves one request described by the shim: it picks the
// interpreter, makes sure the script is loaded and current, then makes the
// one call into the C runner. Returns 0 (response produced) or an HTTP status.
func Handle(p unsafe.Pointer) int {
	req := (*C.gowsgi_request)(p)
	if !eng.embedded {
		// The shim only routes here for embedded requests when Python runs.
		requestLogger(req)(logErr, "gowsgi: Python is not initialised in this process (WSGIRestrictEmbedded On)")
		return 500
	}
	it, err := eng.interpreter(cString(req.application_group))
	if err != nil {
		requestLogger(req)(logErr, fmt.Sprintf("gowsgi (pid=%d): %v", os.Getpid(), err))
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
	return int(C.gowsgi_run(it.c, a.c, req))
}
