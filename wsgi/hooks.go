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

// hookCallable is the fast table's callable name for a hook script (see
// hooks.c): the module is imported, no WSGI callable is looked up.
const hookCallable = ""

// HandleHook runs an access, auth or dispatch script the C side could not
// run alone: it picks the interpreter, loads (or reloads) the script as a
// module, registers it for the fast path, then calls the hook in C.
func HandleHook(p unsafe.Pointer) int {
	h := (*C.gowsgi_hook)(p)
	req := &h.req
	log := requestLogger(req)
	if !eng.embedded {
		log(logErr, fmt.Sprintf("GW0435: gowsgi (pid=%d): cannot run '%s': Python is not initialised in Apache's "+
			"children (WSGIRestrictEmbedded On); access, authentication and dispatch scripts run there",
			os.Getpid(), C.GoString(req.script)))
		return int(C.GOWSGI_HOOK_FAILED)
	}
	it, err := eng.interpreter(cString(req.application_group))
	if err != nil {
		log(logErr, fmt.Sprintf("GW0422: gowsgi (pid=%d): %v", os.Getpid(), err))
		return int(C.GOWSGI_HOOK_FAILED)
	}
	a := it.app(C.GoString(req.script), hookCallable)
	mtime := int64(req.script_mtime)
	reloading := req.script_reloading != 0
	if !a.current(mtime, reloading) {
		if status := a.load(log, req, mtime, reloading); status != 0 {
			return int(C.GOWSGI_HOOK_UNLOADED)
		}
	}
	if !a.fast.Load() {
		cb := C.CString(hookCallable)
		C.gowsgi_fast_register(it.c, a.c, req.application_group, req.script, cb)
		C.free(unsafe.Pointer(cb))
		a.fast.Store(true)
	}
	return int(C.gowsgi_hook_run(it.c, a.c, h))
}

// gowsgiDecideHook is where hooks.c sends a hook whose script is not
// loaded here, or is stale.
//
//export gowsgiDecideHook
func gowsgiDecideHook(h *C.gowsgi_hook) (status C.int) {
	defer func() {
		// A panic must not unwind into Apache's C frames.
		if r := recover(); r != nil {
			requestLogger(&h.req)(logErr, fmt.Sprintf("GW0436: gowsgi (pid=%d): internal error running a hook script: %v",
				os.Getpid(), r))
			status = C.GOWSGI_HOOK_FAILED
		}
	}()
	return C.int(HandleHook(unsafe.Pointer(h)))
}
