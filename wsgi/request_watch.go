package wsgi

/*
#include <stdlib.h>
#include "engine.h"
*/
import "C"

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"time"
	"unsafe"
)

// watchTick is how often the request watchers look: a slow request is
// logged at most this late, and request-timeout fires at most this late.
const watchTick = 250 * time.Millisecond

// watchSlowRequests logs, for the life of the process, each request that
// crosses WSGISlowRequests (request_slots.c; the request's own thread logs
// its end).
func watchSlowRequests() {
	for range time.Tick(watchTick) {
		C.gowsgi_slots_scan_slow()
	}
}

// reportTelemetry sends WSGITelemetryService's sample every interval
// (telemetry.c; 1 s when interval= is not given).
func reportTelemetry(interval time.Duration) {
	if interval <= 0 {
		interval = time.Second
	}
	go reportGC(interval)
	for range time.Tick(interval) {
		C.gowsgi_telemetry_tick()
	}
}

// reportGC sends each interpreter's GC_SNAPSHOT and GC_EVENTs every
// interval (telemetry_gc.c). It takes each interpreter's GIL in turn, so
// on a thread of its own: a request holding a GIL delays these, never the
// REQUEST samples.
func reportGC(interval time.Duration) {
	runtime.LockOSThread() // never unlocked: the thread keeps Python thread states
	for range time.Tick(interval) {
		C.gowsgi_telemetry_gc_tick()
	}
}

// telemetryStopping sends PROCESS_STOPPING with mod_wsgi's reason name
// (the process_stopping event's), or the monitor's words when it has none.
func telemetryStopping(reason string, active int) {
	why := shutdownReason(reason)
	if why == "" {
		why = reason
	}
	r := C.CString(why)
	defer C.free(unsafe.Pointer(r))
	C.gowsgi_telemetry_stopping(r, C.int(active))
}

// telemetryStopped sends the last sample and PROCESS_STOPPED as the daemon
// process ends: active requests still running, graceful when none was cut
// off (mod_wsgi 6's graceful_drain).
func telemetryStopped(reason string, active int) {
	why := shutdownReason(reason)
	if why == "" {
		why = reason
	}
	r := C.CString(why)
	defer C.free(unsafe.Pointer(r))
	graceful := 0
	if active == 0 {
		graceful = 1
	}
	C.gowsgi_telemetry_stopped(r, C.int(active), C.int(graceful))
}

// requestTimeoutFire is mod_wsgi 6's fire point for one thread's request:
// request-timeout x (1 + ln(threads)) (its WSGIDaemonProcess docs).
func requestTimeoutFire(requestTimeout, threads int) time.Duration {
	if threads < 1 {
		threads = 1
	}
	return time.Duration(float64(requestTimeout) * (1 + math.Log(float64(threads))) * float64(time.Second))
}

// interruptRequests is mod_wsgi 6's interrupt-timeout: each request that
// has run past the fire point gets mod_wsgi.RequestTimeout raised in its
// thread. It runs on a thread of its own: injecting takes the request's
// interpreter's GIL, which a stuck thread may hold (deadlock-timeout's
// case), and the monitor must go on meanwhile.
func interruptRequests(group string, fire time.Duration, stop <-chan struct{}) {
	runtime.LockOSThread() // never unlocked: the thread keeps Python thread states
	tick := time.NewTicker(watchTick)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if n := int(C.gowsgi_slots_interrupt_due(C.longlong(fire.Microseconds()))); n > 0 {
				processLog(logInfo, fmt.Sprintf("GW0216: gowsgi (pid=%d): daemon process group '%s': interrupted %d "+
					"request(s) that ran past request-timeout (%.1f s)", os.Getpid(), group, n, fire.Seconds()))
			}
		}
	}
}
