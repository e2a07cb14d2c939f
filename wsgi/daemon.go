package wsgi

/*
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "engine.h"
#include "daemon_serve.h"
#include "daemon_channel.h"
#include "daemon_log.h"
#include "daemon_signals.h"

static int gowsgi_daemon_state_active(gowsgi_daemon_state *st) { return __atomic_load_n(&st->active, __ATOMIC_ACQUIRE); }
static long gowsgi_daemon_state_served(gowsgi_daemon_state *st) { return __atomic_load_n(&st->served, __ATOMIC_ACQUIRE); }
static int gowsgi_daemon_state_stopping(gowsgi_daemon_state *st) { return __atomic_load_n(&st->stopping, __ATOMIC_ACQUIRE); }
static long long gowsgi_daemon_state_last(gowsgi_daemon_state *st) { return __atomic_load_n(&st->last_activity, __ATOMIC_ACQUIRE); }
static int gowsgi_daemon_state_closed(gowsgi_daemon_state *st) { return __atomic_load_n(&st->channel_closed, __ATOMIC_ACQUIRE); }
static long long gowsgi_daemon_load64(int64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static long long gowsgi_daemon_gil_trying(gowsgi_daemon_state *st) { return __atomic_load_n(&st->gil_trying_since, __ATOMIC_ACQUIRE); }
// The monitor will sleep past the next request's start: says so, then
// reports whether it may (no request runs). Seq-cst against the worker's
// count (daemon_serve.c): a request either is seen here or wakes it.
static int gowsgi_daemon_monitor_may_sleep(gowsgi_daemon_state *st)
{
	__atomic_fetch_or(&st->sleepers, GOWSGI_SLEEPER_MONITOR, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&st->active, __ATOMIC_SEQ_CST) == 0)
		return 1;
	// Busy: looking every 250 ms anyway, so no request need wake it.
	__atomic_fetch_and(&st->sleepers, ~GOWSGI_SLEEPER_MONITOR, __ATOMIC_SEQ_CST);
	return 0;
}
// Ready: Apache's children waiting for this process sleep on the word
// (cshim/daemon_ready_wait.c), a futex in memory shared with them.
static void gowsgi_daemon_set_ready(int *ready)
{
	__atomic_store_n(ready, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, ready, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}
static int gowsgi_daemon_state_reloading(gowsgi_daemon_state *st) { return __atomic_load_n(&st->reloading, __ATOMIC_ACQUIRE); }
static int gowsgi_daemon_signal_subscribers(void) { return __atomic_load_n(&gowsgi_signal_subscribed, __ATOMIC_ACQUIRE); }
// A process that made way for a changed script has gone: the next may.
static void gowsgi_daemon_release_reload(int *token)
{
	int holder = token ? __atomic_load_n(token, __ATOMIC_ACQUIRE) : 0;
	if (holder != 0 && kill(holder, 0) != 0 && errno == ESRCH)
		__atomic_compare_exchange_n(token, &holder, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// DaemonMain runs one process of a WSGIDaemonProcess group: Python as the
// group configures it, then up to threads= worker threads (daemon_pool.go),
// each locked to its OS thread and serving connections in C (daemon_serve.c)
// until the process is told to stop or reaches one of its limits. It
// returns the process's exit status; the reason is logged.
func DaemonMain(p unsafe.Pointer) int {
	init := (*C.gowsgi_daemon_init)(p)
	group := C.GoString(init.group)
	crashReporting(init)
	errbuf := C.malloc(2048)
	defer C.free(errbuf)
	// Its lines go to its own vhost's error log, written here (daemon_log.h).
	C.gowsgi_daemon_log_install(init)
	// The workers sit in C and never call into Go; Go only needs room for
	// the monitor. Set before Python starts: every P has its own caches and
	// spans, and the Ms started meanwhile stay (docs/benchmarks.md, "Memory
	// per tenant": 0.33 MiB of an idle daemon).
	eng.daemon = true
	runtime.GOMAXPROCS(1)
	restoreDaemonEnvironment()
	if err := Init(unsafe.Pointer(&init.base), errbuf, 2048); err != nil {
		processLog(logErr, fmt.Sprintf("GW0200: gowsgi (pid=%d): daemon process group '%s' could not start Python: %v",
			os.Getpid(), group, err))
		setExitReason(init, "Python could not start: "+err.Error())
		time.Sleep(5 * time.Second) // a broken group must not become a fork loop
		return 1
	}
	// Ready, with the current code: a process that made way for a changed
	// script is replaced, so the next stale one may go.
	C.gowsgi_daemon_release_reload(init.reload_token)

	signals, err := daemonSignals(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGXCPU)
	if err != nil {
		processLog(logErr, fmt.Sprintf("GW0202: gowsgi (pid=%d): daemon process group '%s' cannot wait for requests: %s",
			os.Getpid(), group, err))
		return 1
	}

	threads := int(init.threads)
	st := C.gowsgi_daemon_state_new(C.int(threads))
	if st == nil {
		processLog(logErr, fmt.Sprintf("GW0201: gowsgi (pid=%d): daemon process group '%s': out of memory", os.Getpid(), group))
		return 1
	}
	if rc := C.gowsgi_daemon_listen(st, init.channel_fd, init.idle); rc != 0 {
		processLog(logErr, fmt.Sprintf("GW0202: gowsgi (pid=%d): daemon process group '%s' cannot wait for requests: %s",
			os.Getpid(), group, syscall.Errno(-rc)))
		return 1
	}
	// WSGIVerboseDebugging On: mod_wsgi's thread lines, at info level.
	if eng.verbose {
		processLog(logInfo, fmt.Sprintf("GW0203: gowsgi (pid=%d): Starting %d threads in daemon process '%s'.",
			os.Getpid(), threads, group))
	}
	// mod_wsgi 6's interrupt-timeout: the request threads' records
	// (request_slots.c) must exist before the first request.
	stopInterrupts := make(chan struct{})
	defer close(stopInterrupts)
	if init.request_timeout > 0 && init.interrupt_timeout > 0 && threads > 0 {
		if C.gowsgi_slots_enable(C.int(threads), nil) != 0 {
			processLog(logErr, fmt.Sprintf("GW0201: gowsgi (pid=%d): daemon process group '%s': out of memory", os.Getpid(), group))
			return 1
		}
		go interruptRequests(group, requestTimeoutFire(int(init.request_timeout), threads), stopInterrupts)
	}
	workers := startPool(init, st, group)
	if init.deadlock_timeout > 0 {
		idle := gilWatchIdle(int(init.deadlock_timeout))
		go func() {
			runtime.LockOSThread()
			C.gowsgi_daemon_gil_watch(st, C.int(idle.Milliseconds()))
		}()
	}
	if init.ready != nil {
		C.gowsgi_daemon_set_ready(init.ready)
	}
	done := make(chan struct{})
	if threads > 0 {
		go func() { workers.wg.Wait(); close(done) }()
	} // threads=0: only the import scripts run, until the process is told to stop

	var reason string
	offMainThread(func() { reason = monitor(init, st, signals, done) })
	C.gowsgi_daemon_stop(st)
	setExitReason(init, reason)
	telemetryStopping(reason, int(C.gowsgi_daemon_state_active(st)))
	// mod_wsgi's process_stopping event, before waiting for the requests
	// in flight, as mod_wsgi publishes it. Not when the GIL is known to be
	// stuck (deadlock-timeout); otherwise bounded, as the stack dump.
	if !strings.HasPrefix(reason, "deadlock-timeout") {
		withPython(stopWait(init), func() {
			r := C.CString(shutdownReason(reason))
			C.gowsgi_publish_process_stopping(r)
			C.free(unsafe.Pointer(r))
		})
	}
	if strings.HasPrefix(reason, "request-timeout") || strings.HasPrefix(reason, "deadlock-timeout") {
		// The requests that outran it will not finish: end now, so their
		// clients hear at once (mod_wsgi waits shutdown-timeout more).
		processLog(logErr, fmt.Sprintf("GW0204: gowsgi (pid=%d): daemon process of group '%s' stopping: %s",
			os.Getpid(), group, reason))
		if strings.HasPrefix(reason, "request-timeout") {
			logPythonStacks(stackDumpWait)
		}
		telemetryStopped(reason, int(C.gowsgi_daemon_state_active(st)))
		return 0
	}
	processLog(logInfo, fmt.Sprintf("GW0204: gowsgi (pid=%d): daemon process of group '%s' stopping: %s",
		os.Getpid(), group, reason))
	select {
	case <-done:
		// WSGIDestroyInterpreter On: atexit handlers, once no request runs.
		withPython(stopWait(init), func() { C.gowsgi_run_atexit() })
	case <-time.After(time.Duration(init.shutdown_timeout) * time.Second):
		processLog(logWarning, fmt.Sprintf("GW0205: gowsgi (pid=%d): daemon process of group '%s' exiting with %d "+
			"request(s) still active after shutdown-timeout=%d", os.Getpid(), group,
			int(C.gowsgi_daemon_state_active(st)), int(init.shutdown_timeout)))
	}
	telemetryStopped(reason, int(C.gowsgi_daemon_state_active(st)))
	return 0
}

// stopWait bounds what Python may take of a stopping process: its
// shutdown-timeout (at least a second).
func stopWait(init *C.gowsgi_daemon_init) time.Duration {
	if d := time.Duration(init.shutdown_timeout) * time.Second; d > time.Second {
		return d
	}
	return time.Second
}

// withPython runs fn (which takes the GIL itself) on a thread of its own
// and waits for it at most wait: a thread holding the GIL must not keep
// the process up.
func withPython(wait time.Duration, fn func()) {
	finished := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread keeps a Python thread state
		fn()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(wait):
		processLog(logInfo, fmt.Sprintf("GW0206: gowsgi (pid=%d): the Python GIL was not free within %s at exit",
			os.Getpid(), wait))
	}
}

// shutdownReason is mod_wsgi's name for why a daemon process stops (the
// process_stopping event's shutdown_reason), from the monitor's reason.
func shutdownReason(reason string) string {
	for _, r := range [][2]string{
		{"request-timeout", "request_timeout"},
		{"startup-timeout", "startup_timeout"},
		{"restart-interval", "restart_interval"},
		{"inactivity-timeout", "inactivity_timeout"},
		{"cpu-time-limit", "cpu_time_limit"},
		{"SIGUSR1", "graceful_signal"},
	} {
		if strings.Contains(reason, r[0]) {
			return r[1]
		}
	}
	return ""
}

// stackDumpWait bounds the wait for the GIL before a request-timeout's
// stack dump: a thread stuck in C holding it must not keep the process up.
const stackDumpWait = 2 * time.Second

// logPythonStacks logs what each Python thread is doing (mod_wsgi does so
// on request-timeout), or gives up after wait.
func logPythonStacks(wait time.Duration) {
	dumped := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: Go retires the thread, which holds a Python thread state
		C.gowsgi_log_python_stacks()
		close(dumped)
	}()
	select {
	case <-dumped:
	case <-time.After(wait):
		processLog(logInfo, fmt.Sprintf("GW0207: gowsgi (pid=%d): no stack dump: the Python GIL was not free within %s",
			os.Getpid(), wait))
	}
}

// drainIdle is how long a draining process waits, idle, for requests
// before it exits, when other processes can take them (an eviction, a
// recycle). Draining for a graceful restart, it waits instead for the Apache
// children of its generation, which only it can serve (one finishing a
// slow client's request, or a kept connection under prefork), to be gone:
// the last one closes its channel (all within graceful-timeout).
const drainIdle = time.Second

// monitor waits for the reason this process must stop: a signal, its
// request limit, restart-interval or inactivity-timeout.
func monitor(init *C.gowsgi_daemon_init, st *C.gowsgi_daemon_state, signals <-chan os.Signal, done <-chan struct{}) string {
	started := time.Now()
	var draining time.Time // when a graceful stop began; zero while not draining
	var drainWhy string
	var drainFor time.Duration
	var drainUntilClosed bool // a graceful restart: until the channel closes, or drainFor
	// A busy or draining process looks four times a second. An idle one
	// sleeps until its next deadline (idleLook), and the request that
	// makes it busy wakes it (a nudge, signal 0): looking every second
	// (and the GIL watch taking the GIL every second, and each idle worker
	// timing out twice a second), an idle daemon woke seven times a
	// second, about 0.2 ms of CPU (1 ms on a loaded box), most of a core
	// at 1,000 tenants awake (docs/benchmarks.md, "Idle daemons").
	look := time.NewTimer(busyTick)
	defer look.Stop()
	asleep := false // the next look is further away than busyTick
	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGUSR1 || sig == syscall.SIGUSR2 || sig == syscall.SIGXCPU {
				// SIGUSR2: the Apache parent started a new generation;
				// SIGUSR1: someone asked this process to make way
				// (eviction); SIGXCPU: cpu-time-limit. Keep taking what is
				// sent, exit once idle, or at eviction-/graceful-timeout.
				if draining.IsZero() {
					look.Reset(busyTick)
					asleep = false
					draining = time.Now()
					drainFor = time.Duration(init.graceful_timeout) * time.Second
					switch {
					case sig == syscall.SIGUSR2:
						drainWhy = "a graceful restart"
						drainUntilClosed = drainFor > 0
						// Started late by a draining on-demand starter: its
						// generation ends sooner than graceful-timeout.
						if ms := time.Duration(C.gowsgi_daemon_drain_within_ms()) * time.Millisecond; ms > 0 && ms < drainFor {
							drainFor = ms
						}
					case sig == syscall.SIGXCPU:
						drainWhy = fmt.Sprintf("cpu-time-limit=%d reached", int(init.cpu_time_limit))
					default:
						drainWhy = "SIGUSR1 (an eviction)"
						if init.eviction_timeout > 0 {
							drainFor = time.Duration(init.eviction_timeout) * time.Second
						}
					}
				}
				continue
			}
			if sig == syscall.Signal(0) { // a nudge: a request began while the monitor slept
				if asleep {
					look.Reset(busyTick)
					asleep = false
				}
				continue
			}
			if sig == syscall.SIGHUP && C.gowsgi_daemon_signal_subscribers() != 0 {
				// mod_wsgi 6: an app that called subscribe_signals()
				// gets SIGHUP as a process_signal event; the process
				// carries on (without a subscriber it stops, as 4.9.4's).
				go withPython(stopWait(init), func() {
					name := C.CString("SIGHUP")
					C.gowsgi_publish_process_signal(C.int(syscall.SIGHUP), name)
					C.free(unsafe.Pointer(name))
				})
				continue
			}
			return fmt.Sprintf("signal %d (%v)", int(sig.(syscall.Signal)), sig)
		case <-done:
			if C.gowsgi_daemon_state_reloading(st) != 0 {
				return "its script changed: making way for a new process"
			}
			if max := int(init.maximum_requests); max > 0 && int(C.gowsgi_daemon_state_served(st)) >= max {
				return fmt.Sprintf("maximum-requests=%d reached", max)
			}
			if C.gowsgi_daemon_state_closed(st) != 0 {
				if !draining.IsZero() {
					return drainWhy + ": drained"
				}
				return "its channel closed: the Apache generation it served has ended"
			}
			return "no worker threads"
		case now := <-look.C:
			// mod_wsgi 6's interrupt-timeout (request_watch.go): a request
			// still running interrupt-timeout after it was interrupted
			// starts a graceful stop; that drain does not wait for the
			// requests already past request-timeout + interrupt-timeout.
			stuck := 0
			if s, it := int(init.request_timeout), int(init.interrupt_timeout); s > 0 && it > 0 {
				var overdue, past C.int
				C.gowsgi_slots_overdue(C.longlong(int64(it)*1e6), C.longlong(int64(s+it)*1e6), &overdue, &past)
				stuck = int(past)
				if overdue > 0 && draining.IsZero() {
					why := fmt.Sprintf("request-timeout=%d with interrupt-timeout=%d: %d interrupted request(s) "+
						"still running %d s later", s, it, int(overdue), it)
					if init.graceful_timeout <= 0 {
						return why
					}
					draining, drainFor, drainWhy = now, time.Duration(init.graceful_timeout)*time.Second, why
				}
			}
			if C.gowsgi_daemon_state_stopping(st) != 0 {
				if C.gowsgi_daemon_state_reloading(st) != 0 {
					return "its script changed: making way for a new process"
				}
				if max := int(init.maximum_requests); max > 0 {
					return fmt.Sprintf("maximum-requests=%d reached", max)
				}
				return "stopping"
			}
			if !draining.IsZero() && int(C.gowsgi_daemon_state_active(st))-stuck <= 0 {
				idleSince := time.UnixMicro(int64(C.gowsgi_daemon_state_last(st)))
				if idleSince.Before(draining) {
					idleSince = draining
				}
				if now.Sub(idleSince) >= drainIdle && !drainUntilClosed {
					return drainWhy + ": drained"
				}
				// Idle a second before graceful-timeout ends: gone before
				// the parent (or the on-demand starter) kills what is left
				// at its end as still busy.
				if drainUntilClosed && now.Sub(draining) >= drainFor-drainIdle {
					return fmt.Sprintf("%s: drained (Apache children of its generation still ran %.0f s later)",
						drainWhy, now.Sub(draining).Seconds())
				}
			}
			if !draining.IsZero() && drainFor > 0 && now.Sub(draining) >= drainFor {
				return fmt.Sprintf("%s: still busy after %s", drainWhy, drainFor)
			}
			if s := int(init.deadlock_timeout); s > 0 {
				if t := int64(C.gowsgi_daemon_gil_trying(st)); t != 0 && now.Sub(time.UnixMicro(t)) >= time.Duration(s)*time.Second {
					return fmt.Sprintf("deadlock-timeout=%d exceeded: the Python GIL could not be taken for %.0f s",
						s, now.Sub(time.UnixMicro(t)).Seconds())
				}
			}
			if s := int(init.startup_timeout); s > 0 {
				if since := loadFailingSince.Load(); since != 0 && now.Sub(time.UnixMicro(since)) >= time.Duration(s)*time.Second {
					return fmt.Sprintf("startup-timeout=%d exceeded: a script has failed to load for %.0f s",
						s, now.Sub(time.UnixMicro(since)).Seconds())
				}
			}
			if s := int(init.request_timeout); s > 0 && init.interrupt_timeout == 0 {
				if avg, longest := busyTimes(st, now); avg >= time.Duration(s)*time.Second {
					return fmt.Sprintf("request-timeout=%d exceeded: requests had run %.1f s on average "+
						"per thread (the longest %.1f s)", s, avg.Seconds(), longest.Seconds())
				}
			}
			// Draining for a graceful restart, nothing of its generation
			// would replace it: it stays for the old children instead.
			if s := int(init.restart_interval); s > 0 && !drainUntilClosed && now.Sub(started) >= time.Duration(s)*time.Second {
				return fmt.Sprintf("restart-interval=%d reached", s)
			}
			if s := int(init.inactivity_timeout); s > 0 && !drainUntilClosed && C.gowsgi_daemon_state_active(st) == 0 {
				last := time.UnixMicro(int64(C.gowsgi_daemon_state_last(st)))
				if last.Before(started) {
					last = started
				}
				if now.Sub(last) >= time.Duration(s)*time.Second {
					return fmt.Sprintf("inactivity-timeout=%d reached", s)
				}
			}
			next := busyTick
			if (draining.IsZero() || drainUntilClosed) && C.gowsgi_daemon_monitor_may_sleep(st) != 0 {
				next = idleLook(init, st, started, now, drainUntilClosed)
				// Idle while draining for a graceful restart: until its
				// end, unless a request (a nudge) or the channel's hang-up
				// (its workers end) comes first.
				if drainUntilClosed {
					next = min(next, max(draining.Add(drainFor-drainIdle).Sub(now), 10*time.Millisecond))
				}
			}
			look.Reset(next)
			asleep = next > busyTick
		}
	}
}

// busyTick is how often a busy or draining process's monitor looks:
// request-timeout and a drain's end are seen at most this late.
const busyTick = 250 * time.Millisecond

// idleLook is how long an idle process's monitor may sleep: until the
// first of its deadlines that can pass with no request running
// (inactivity-timeout, restart-interval, startup-timeout while a script
// fails to load, deadlock-timeout). With none it sleeps until a request or
// a signal wakes it. Draining for a graceful restart, inactivity-timeout and
// restart-interval do not count (the monitor ignores them then).
func idleLook(init *C.gowsgi_daemon_init, st *C.gowsgi_daemon_state, started, now time.Time, drainingForGeneration bool) time.Duration {
	next := 24 * time.Hour
	until := func(at time.Time) {
		if d := at.Sub(now); d < next {
			next = d
		}
	}
	secs := func(n C.int) time.Duration { return time.Duration(n) * time.Second }
	if init.inactivity_timeout > 0 && !drainingForGeneration {
		last := time.UnixMicro(int64(C.gowsgi_daemon_state_last(st)))
		if last.Before(started) {
			last = started
		}
		until(last.Add(secs(init.inactivity_timeout)))
	}
	if init.restart_interval > 0 && !drainingForGeneration {
		until(started.Add(secs(init.restart_interval)))
	}
	if since := loadFailingSince.Load(); init.startup_timeout > 0 && since != 0 {
		until(time.UnixMicro(since).Add(secs(init.startup_timeout)))
	}
	if s := secs(init.deadlock_timeout); s > 0 {
		// The GIL watch may begin waiting at any moment: look again
		// within deadlock-timeout, and exactly at it once it waits.
		if t := int64(C.gowsgi_daemon_gil_trying(st)); t != 0 {
			until(time.UnixMicro(t).Add(s))
		} else {
			until(now.Add(s))
		}
	}
	if next < 10*time.Millisecond {
		next = 10 * time.Millisecond // a deadline just reached: the next look ends it
	}
	return next
}

// gilWatchIdle is how often the GIL watch looks while no request runs: a
// tenth of deadlock-timeout, from one second to 30. A GIL held while the
// process is idle is seen up to that much later than mod_wsgi sees it
// (its watch looks every second); a request that begins wakes the watch.
func gilWatchIdle(deadlockTimeout int) time.Duration {
	d := time.Duration(deadlockTimeout) * time.Second / 10
	return min(max(d, time.Second), 30*time.Second)
}

// setExitReason leaves the reason where the Apache parent and children read
// it (shared memory): the child that loses a request says why.
func setExitReason(init *C.gowsgi_daemon_init, reason string) {
	if init.exit_reason == nil || init.exit_reason_size == 0 {
		return
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(init.exit_reason)), int(init.exit_reason_size))
	n := copy(dst[:len(dst)-1], reason)
	dst[n] = 0
}

// busyTimes is mod_wsgi's request-timeout measure: the time the busy
// workers have spent on their requests, summed and spread over every
// worker, and the longest single request.
func busyTimes(st *C.gowsgi_daemon_state, now time.Time) (avg, longest time.Duration) {
	n := int(st.nthreads)
	if n <= 0 {
		return 0, 0
	}
	since := unsafe.Slice(st.busy_since, n)
	var total time.Duration
	for i := range since {
		started := int64(C.gowsgi_daemon_load64(&since[i]))
		if started == 0 {
			continue
		}
		d := now.Sub(time.UnixMicro(started))
		total += d
		if d > longest {
			longest = d
		}
	}
	return total / time.Duration(n), longest
}
