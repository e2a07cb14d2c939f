package tests

// An idle daemon process sleeps: its monitor waits for its next deadline
// and its GIL watch looks rarely, rather than each waking every second
// (mod_wsgi 4.9.4's idle daemons wake about once a second; gowsgi's woke
// seven times). What they watch for is still seen: a request that begins
// wakes them, and a GIL held while nothing is served still ends the
// process at deadlock-timeout.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// contextSwitches sums the voluntary and involuntary context switches of
// every thread of pid: how often its threads have run.
func contextSwitches(t *testing.T, pid int) int64 {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	require.NoError(t, err)
	var n int64
	for _, e := range ents {
		if c, ok := taskSwitches(t, fmt.Sprintf("/proc/%d/task/%s/status", pid, e.Name())); ok {
			n += c
		} // else a thread that ended meanwhile
	}
	return n
}

// threadSwitches is contextSwitches for one thread, which must exist.
func threadSwitches(t *testing.T, pid, tid int) int64 {
	t.Helper()
	n, ok := taskSwitches(t, fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
	require.True(t, ok, "thread %d of process %d is gone", tid, pid)
	return n
}

// taskSwitches reads a thread's context switches from its status file;
// false when it cannot be read.
func taskSwitches(t *testing.T, statusPath string) (int64, bool) {
	t.Helper()
	status, err := os.ReadFile(statusPath)
	if err != nil {
		return 0, false
	}
	var n int64
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
			c, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			require.NoError(t, err)
			n += c
		}
	}
	return n, true
}

func TestGowsgiOnly_IdleDaemonSleeps(t *testing.T) {
	gowsgiOnly(t)
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess idle threads=1 request-timeout=2
WSGIDaemonProcess held threads=1 deadlock-timeout=20
WSGIScriptAlias /idle @APPS@/daemon/probe.wsgi process-group=idle
WSGIScriptAlias /held @APPS@/daemon/probe.wsgi process-group=held
`})
	// deadlock-timeout=20: the watch looks every 2 s while idle. The GIL
	// is taken a second after this request has ended.
	held := getFacts(t, a.URL("/held"), nil)
	heldMark := markLog(a)
	r := Get(t, a.URL("/held?op=holdgil_later&after=1&s=60"))
	require.Equal(t, 200, r.Status, "%s", r)
	heldFrom := time.Now().Add(time.Second)

	f := getFacts(t, a.URL("/idle"), nil)
	// The monitor's and the GIL watch's looks while that request ran, and
	// the watch's second look a second after it began, are behind us.
	time.Sleep(2 * time.Second)
	before := contextSwitches(t, f.Pid)
	time.Sleep(4 * time.Second)
	woke := contextSwitches(t, f.Pid) - before
	// Looking every second (monitor, GIL watch) and every 500 ms (the idle
	// worker) made 25-30 here.
	assert.LessOrEqual(t, woke, int64(3), "an idle daemon process's threads ran %d times in 4 s", woke)

	// A request that begins while the monitor sleeps wakes it:
	// request-timeout still ends the process.
	mark := markLog(a)
	t0 := time.Now()
	r, err := doReq(longClient, "GET", a.URL("/idle?op=sleep&s=20"), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 500, r.Status)
	assert.Less(t, time.Since(t0), 5*time.Second, "request-timeout=2 seen while the request ran")
	assert.Regexp(t, fmt.Sprintf(`\(pid %d\) exited with status 0 \(request-timeout=2 exceeded`, f.Pid),
		strings.Join(mark.waitRaw("request-timeout=2 exceeded", 5*time.Second), "\n"))

	// The GIL held while the group served nothing: seen within
	// deadlock-timeout and the watch's idle look (2 s), with room.
	lines := strings.Join(heldMark.waitRaw("exited with status 0 (deadlock-timeout=20", time.Until(heldFrom.Add(27*time.Second))), "\n")
	assert.Contains(t, lines, fmt.Sprintf("(pid %d) exited with status 0 (deadlock-timeout=20 exceeded: the Python GIL could not be taken", held.Pid))
	assert.GreaterOrEqual(t, time.Since(heldFrom), 19*time.Second, "not before deadlock-timeout")
}

// restart-interval and inactivity-timeout end an idle process on time, as
// mod_wsgi's do: deadlines the monitor sleeps until, not looks that find
// them. Nothing is asked of the group meanwhile (a request would count as
// activity).
func TestDaemon_IdleDeadlines(t *testing.T) {
	began := time.Now() // before any daemon process started
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess interval threads=1 restart-interval=2
WSGIDaemonProcess inactive threads=1 inactivity-timeout=2
WSGIScriptAlias /interval @APPS@/daemon/probe.wsgi process-group=interval
WSGIScriptAlias /inactive @APPS@/daemon/probe.wsgi process-group=inactive
`})
	for _, c := range []struct {
		path, why string
		fromStart bool // counted from the process's start, not its last request
	}{
		{"/interval", "restart-interval=2 reached", true},
		{"/inactive", "inactivity-timeout=2 reached", false},
	} {
		t.Run(c.path[1:], func(t *testing.T) {
			mark := markLog(a)
			old := getFacts(t, a.URL(c.path), nil).Pid
			asked := time.Now()
			// mod_wsgi's process waits out shutdown-timeout (5 s) even
			// when idle (its #923): about 8 s there, 2 s here.
			deadline := asked.Add(12 * time.Second)
			for time.Now().Before(deadline) && syscall.Kill(old, 0) == nil {
				time.Sleep(100 * time.Millisecond)
			}
			require.Error(t, syscall.Kill(old, 0), "process %d still runs %v after its request", old, time.Since(asked))
			if c.fromStart {
				assert.GreaterOrEqual(t, time.Since(began), 1900*time.Millisecond, "not before its deadline")
			} else {
				assert.GreaterOrEqual(t, time.Since(asked), 1900*time.Millisecond, "not before its deadline")
			}
			if targetModule() == ModGowsgi {
				assert.Contains(t, strings.Join(mark.waitRaw(c.why, 3*time.Second), "\n"),
					fmt.Sprintf("(pid %d) exited with status 0 (%s)", old, c.why))
			}
			assert.NotEqual(t, old, getFacts(t, a.URL(c.path), nil).Pid, "a new process serves the group")
		})
	}
}

// request-timeout holds each time the process goes from idle to busy,
// however its monitor's sleeps and the requests interleave: bursts of short
// requests with idle gaps on both sides of the monitor's 250 ms look (after
// which an idle monitor sleeps, and the next request's start wakes it),
// then, after a last gap, a request past request-timeout, which ends on
// time. A wake lost in a race between the two would leave the monitor
// asleep until its next idle deadline, far beyond the request's 20 s.
func TestGowsgiOnly_RequestTimeoutAfterIdleGaps(t *testing.T) {
	gowsgiOnly(t)
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess bursty threads=1 request-timeout=2
WSGIScriptAlias /bursty @APPS@/daemon/probe.wsgi process-group=bursty
`})
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// Fixed gaps before each burst of three short requests, a different
	// pattern each round; the last gap comes once more before the long
	// request.
	rounds := [][]time.Duration{
		{ms(400), ms(30), ms(600), ms(0)},
		{ms(0), ms(260), ms(240), ms(300)},
		{ms(700), ms(120), ms(50), ms(500)},
		{ms(250), ms(250), ms(250), ms(1200)},
	}
	for i, gaps := range rounds {
		pid := getFacts(t, a.URL("/bursty"), nil).Pid
		for _, gap := range gaps {
			time.Sleep(gap)
			for range 3 {
				f := getFacts(t, a.URL("/bursty?op=sleep&s=0.02"), nil)
				require.Equal(t, pid, f.Pid, "round %d: a short request ended the process", i)
			}
		}
		time.Sleep(gaps[len(gaps)-1])
		mark := markLog(a)
		t0 := time.Now()
		r, err := doReq(longClient, "GET", a.URL("/bursty?op=sleep&s=20"), nil, nil)
		require.NoError(t, err)
		assert.Equal(t, 500, r.Status, "round %d", i)
		assert.Less(t, time.Since(t0), 5*time.Second, "round %d: request-timeout=2 seen while the request ran", i)
		assert.GreaterOrEqual(t, time.Since(t0), 1900*time.Millisecond, "round %d: not before request-timeout", i)
		assert.Regexp(t, fmt.Sprintf(`\(pid %d\) exited with status 0 \(request-timeout=2 exceeded`, pid),
			strings.Join(mark.waitRaw("request-timeout=2 exceeded", 5*time.Second), "\n"), "round %d", i)
	}
}

// pollingThread finds the thread of pid waiting in poll(2) on two
// descriptors with this timeout in milliseconds (the GIL watch: no other
// thread of a daemon polls two), or returns 0.
func pollingThread(t *testing.T, pid, timeoutMs int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	require.NoError(t, err)
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		if pollTimeout(pid, tid) == timeoutMs {
			return tid
		}
	}
	return 0
}

// pollTimeout is the timeout of the poll(2) on two descriptors that thread
// tid of pid waits in, or -2 when it waits in nothing of the kind.
func pollTimeout(pid, tid int) int {
	// "7 fds nfds timeout ...": the syscall's number and arguments
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/syscall", pid, tid))
	if err != nil {
		return -2
	}
	f := strings.Fields(string(b))
	if len(f) < 4 || f[0] != strconv.Itoa(int(syscall.SYS_POLL)) || f[2] != "0x2" {
		return -2
	}
	ms, err := strconv.ParseInt(strings.TrimPrefix(f[3], "0x"), 16, 64)
	if err != nil {
		return -2
	}
	return int(int32(ms))
}

// The GIL watch of an idle process looks every tenth of deadlock-timeout
// (4 s here); a request that begins wakes it, and from then on it looks
// every second, as mod_wsgi's does, so a GIL taken by that request is seen
// within deadlock-timeout and a second. The request begins just after one
// of the watch's idle looks, so without the wake the watch would sleep
// through the first 4 s of it.
func TestGowsgiOnly_GILWatchWokenByRequest(t *testing.T) {
	gowsgiOnly(t)
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess watched threads=1 deadlock-timeout=40
WSGIScriptAlias /watched @APPS@/daemon/probe.wsgi process-group=watched
`})
	pid := getFacts(t, a.URL("/watched"), nil).Pid
	var tid int
	deadline := time.Now().Add(10 * time.Second)
	for tid == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		tid = pollingThread(t, pid, 4000)
	}
	require.NotZero(t, tid, "no thread of process %d waits in poll(2) for 4 s: the GIL watch of an idle process", pid)

	// Wait for its next look, then for it to sleep again.
	before := threadSwitches(t, pid, tid)
	deadline = time.Now().Add(6 * time.Second)
	for threadSwitches(t, pid, tid) == before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	require.NotEqual(t, before, threadSwitches(t, pid, tid), "the GIL watch did not look in 6 s")
	for pollTimeout(pid, tid) != 4000 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	require.Equal(t, 4000, pollTimeout(pid, tid), "the GIL watch did not sleep again after its look")
	looked := time.Now()

	done := make(chan Resp, 1)
	go func() {
		r, _ := doReq(longClient, "GET", a.URL("/watched?op=sleep&s=3"), nil, nil)
		done <- r
	}()
	seen := -2
	for time.Since(looked) < 3500*time.Millisecond {
		if seen = pollTimeout(pid, tid); seen == 1000 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, 1000, seen, "the GIL watch still slept %v after the request began", time.Since(looked))
	assert.Equal(t, 200, (<-done).Status)
}
