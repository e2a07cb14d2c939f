package wsgi

// A daemon process's worker threads, started as concurrency needs them:
// one when the process is ready, another whenever the last idle one takes
// a connection (daemon_serve.c, want_worker), never more than threads=.
// mod_wsgi starts all of them at once; an idle tenant then pays for threads
// it never uses (each a touched stack, a Go M with its signal stack, a
// Python thread state once it serves).

/*
#include "engine.h"
#include "daemon_serve.h"
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"sync"
)

type workerPool struct {
	init  *C.gowsgi_daemon_init
	st    *C.gowsgi_daemon_state
	group string
	wg    sync.WaitGroup // the started workers
}

// pool is the process's one pool, set before its first worker starts.
var pool *workerPool

// startPool starts the first worker (none with threads=0) and returns the
// pool, whose wg the caller waits on once it has stopped the workers.
func startPool(init *C.gowsgi_daemon_init, st *C.gowsgi_daemon_state, group string) *workerPool {
	p := &workerPool{init: init, st: st, group: group}
	pool = p
	if st.nthreads > 0 {
		st.started = 1 // no worker runs yet: want_worker counts from here
		p.start(0)
	}
	return p
}

func (p *workerPool) start(index int) {
	p.wg.Add(1) // by the worker that wants another, which is itself counted
	go func() {
		defer p.wg.Done()
		runtime.LockOSThread() // a worker keeps its thread and its Python thread state
		C.gowsgi_daemon_worker(p.init, p.st, C.int(index))
		if eng.verbose {
			processLog(logInfo, fmt.Sprintf("GW0208: gowsgi (pid=%d): Exiting thread %d in daemon process '%s'.",
				os.Getpid(), index+1, p.group))
		}
	}()
}

// gowsgiDaemonWorkerWanted is called by the worker that took the process's
// last idle turn (at most threads=-1 times in a process's life).
//
//export gowsgiDaemonWorkerWanted
func gowsgiDaemonWorkerWanted(index C.int) {
	if p := pool; p != nil {
		p.start(int(index))
	}
}
