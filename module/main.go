// Command module is built with -buildmode=c-shared into libgowsgi.so: the C
// ABI that mod_gowsgi.so calls (see wsgi/gowsgi.h), and nothing else. The
// per-request entry, gowsgi_serve, is C (wsgi/fastpath.c); this file exports
// the start-up entry.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../wsgi
#include <stddef.h>
#include "gowsgi.h"
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/gowsgi/gowsgi/wsgi"
)

// gowsgi_child_init starts the engine in an Apache child. Returns 0, or -1
// with a message in errbuf.
//
//export gowsgi_child_init
func gowsgi_child_init(init *C.gowsgi_init, errbuf *C.char, errlen C.size_t) (rc C.int) {
	defer func() {
		// A panic must not unwind into Apache's C frames.
		if r := recover(); r != nil {
			writeErr(errbuf, errlen, fmt.Sprintf("gowsgi: internal error starting the engine: %v", r))
			rc = -1
		}
	}()
	if err := wsgi.Init(unsafe.Pointer(init), unsafe.Pointer(errbuf), int(errlen)); err != nil {
		writeErr(errbuf, errlen, err.Error())
		return -1
	}
	return 0
}

// gowsgi_daemon_main runs a daemon process of a WSGIDaemonProcess group
// (cshim/daemon_child.c calls it once the process has its identity) and
// returns its exit status.
//
//export gowsgi_daemon_main
func gowsgi_daemon_main(init *C.gowsgi_daemon_init) (rc C.int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "GW0221: gowsgi: internal error in a daemon process: %v\n", r)
			rc = 1
		}
	}()
	return C.int(wsgi.DaemonMain(unsafe.Pointer(init)))
}

func writeErr(buf *C.char, size C.size_t, msg string) {
	if buf == nil || size == 0 {
		return
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(size))
	n := copy(dst[:len(dst)-1], msg)
	dst[n] = 0
}

func main() {}
