package tests

// Where gowsgi's daemon mode goes beyond mod_wsgi's (issue 7, README "Daemon
// mode"): graceful restarts that drain, refusal of processes that are not
// this Apache's children, and logs that say how a daemon died.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const drainSnippet = `
WSGIDaemonProcess g threads=4 display-name=gen-one
WSGIScriptAlias /g @APPS@/daemon/probe.wsgi process-group=g
`

// apachectl graceful with daemon requests in flight: every one completes
// with 200 in the old processes, new requests are served at once by the new
// generation's processes running the new configuration, and the old ones
// exit when drained. mod_wsgi fails the in-flight ones after ~3 s (#383).
func TestDaemonBeyond_GracefulRestartDrains(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: drainSnippet})
		before := getFacts(t, a.URL("/g"), nil)
		require.True(t, strings.HasPrefix(before.Cmdline, "gen-one"), "title before: %q", before.Cmdline)

		type result struct {
			status int
			facts  probeFacts
			took   time.Duration
			err    error
		}
		// Two: prefork starts two children, and each in-flight request holds one.
		const inflight = 2
		results := make(chan result, inflight)
		var started sync.WaitGroup
		for i := 0; i < inflight; i++ {
			started.Add(1)
			go func() {
				started.Done()
				t0 := time.Now()
				r, err := doReq(longClient, "GET", a.URL("/g?op=sleep&s=4"), nil, nil)
				res := result{err: err, took: time.Since(t0)}
				if err == nil {
					res.status = r.Status
					if r.Status == 200 {
						_ = json.Unmarshal([]byte(r.Body), &res.facts)
					}
				}
				results <- res
			}()
		}
		started.Wait()
		time.Sleep(time.Second) // the requests are inside the daemon

		conf, err := os.ReadFile(a.ConfPath)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(a.ConfPath, []byte(strings.Replace(string(conf), "display-name=gen-one", "display-name=gen-two", 1)), 0o644))
		mark := markLog(a)
		t0 := time.Now()
		require.NoError(t, a.Graceful())

		// New requests: served at once, by the new generation, new config.
		// A new connection: one kept alive from before may still be served
		// by an old Apache child, with the old configuration (Apache's own
		// graceful semantics, worker and prefork MPMs).
		r, err := doReq(freshClient, "GET", a.URL("/g"), nil, nil)
		require.NoError(t, err)
		require.Equal(t, 200, r.Status, "%s", r)
		after := decodeFacts(t, r.Body)
		assert.Less(t, time.Since(t0), 3*time.Second, "the graceful restart did not wait for the old daemons")
		assert.True(t, strings.HasPrefix(after.Cmdline, "gen-two"), "a new request runs in a new-generation daemon: %q", after.Cmdline)
		assert.NotEqual(t, before.Pid, after.Pid)

		oldPids := map[int]bool{}
		for i := 0; i < inflight; i++ {
			res := <-results
			require.NoError(t, res.err, "an in-flight request across the graceful restart")
			assert.Equal(t, 200, res.status, "an in-flight request completes")
			assert.True(t, strings.HasPrefix(res.facts.Cmdline, "gen-one"), "in-flight requests finish in the old daemon")
			assert.GreaterOrEqual(t, res.took, 4*time.Second)
			oldPids[res.facts.Pid] = true
		}
		// The old processes exit once drained.
		lines := mark.waitRaw("has drained and exited", 15*time.Second)
		assert.NotEmpty(t, lines, "the parent logs the old daemon's exit")
		for pid := range oldPids {
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) && syscall.Kill(pid, 0) == nil {
				time.Sleep(50 * time.Millisecond)
			}
			assert.Error(t, syscall.Kill(pid, 0), "old daemon %d has exited", pid)
		}
	})
}

// A process of Apache's user that is not a child of this Apache gets hold of
// a group's channel (here: a process forked by an embedded app) and tries to
// make the group run something: the daemon refuses it and says why.
func TestDaemonBeyond_StrangerIsRefused(t *testing.T) {
	gowsgiOnly(t)
	a := StartApache(t, ServerSpec{MPM: "prefork", Snippet: `
WSGIDaemonProcess target threads=2
WSGIScriptAlias /target @APPS@/daemon/probe.wsgi process-group=target
WSGIScriptAlias /intruder @APPS@/daemon/intruder.wsgi application-group=%{GLOBAL}
`})
	require.Equal(t, 200, Get(t, a.URL("/target")).Status)
	mark := markLog(a)
	r := Get(t, a.URL("/intruder"))
	require.Equal(t, 200, r.Status, "%s", r)
	var rep struct {
		Pid      int               `json:"pid"`
		Ppid     int               `json:"ppid"`
		Attempts map[string]string `json:"attempts"`
		Error    string            `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Body), &rep), r.Body)
	require.Empty(t, rep.Error)
	require.NotEmpty(t, rep.Attempts, "the embedded app holds the group's channel (Apache's children do)")
	assert.NotEqual(t, a.Pid(), rep.Ppid, "the intruder is not a child of the Apache parent")
	for fd, outcome := range rep.Attempts {
		assert.NotEqual(t, "accepted", outcome, "fd %s: a daemon served a stranger", fd)
	}
	lines := mark.waitRaw("refused a connection", 5*time.Second)
	require.NotEmpty(t, lines, "the refusal is logged")
	assert.Contains(t, strings.Join(lines, "\n"), fmt.Sprintf("pid %d is not a child of this Apache", rep.Pid))
	assert.Equal(t, 200, Get(t, a.URL("/target")).Status, "the group still serves Apache")
}

// A daemon killed while serving a request: the client gets mod_wsgi's 500,
// the Apache child's log line names the group, the pid and the signal, and
// the parent's line says the same and that a new process starts. mod_wsgi
// logs "Truncated or oversized response headers" for every such death.
func TestDaemonBeyond_DeathsHaveCauses(t *testing.T) {
	gowsgiOnly(t)
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess victim threads=2
WSGIDaemonProcess short threads=1 maximum-requests=2
WSGIScriptAlias /victim @APPS@/daemon/probe.wsgi process-group=victim
WSGIScriptAlias /short @APPS@/daemon/probe.wsgi process-group=short
`})
	f := getFacts(t, a.URL("/victim"), nil)
	mark := markLog(a)
	done := make(chan Resp, 1)
	go func() {
		r, _ := doReq(longClient, "GET", a.URL("/victim?op=sleep&s=5"), nil, nil)
		done <- r
	}()
	time.Sleep(700 * time.Millisecond)
	require.NoError(t, syscall.Kill(f.Pid, syscall.SIGKILL))
	r := <-done
	assert.Equal(t, 500, r.Status)
	child := mark.waitRaw("cut off", 5*time.Second)
	require.NotEmpty(t, child)
	lost := strings.Join(child, "\n")
	assert.Contains(t, lost, "group 'victim'")
	assert.Regexp(t, fmt.Sprintf(`(\(pid %d\)|process %d) was killed by signal 9 \(Killed\)`, f.Pid, f.Pid), lost)
	parent := mark.waitRaw("starting a new one", 5*time.Second)
	assert.Contains(t, strings.Join(parent, "\n"), fmt.Sprintf("(pid %d) was killed by signal 9 (Killed); starting a new one", f.Pid))

	// A process that reaches maximum-requests says so as it is replaced.
	s1 := getFacts(t, a.URL("/short"), nil)
	getFacts(t, a.URL("/short"), nil)
	exited := mark.waitRaw(fmt.Sprintf("(pid %d) exited", s1.Pid), 10*time.Second)
	require.NotEmpty(t, exited)
	assert.Contains(t, strings.Join(exited, "\n"), "maximum-requests=2 reached")
	assert.NotEqual(t, s1.Pid, getFacts(t, a.URL("/short"), nil).Pid, "a new process serves the group")
}

// longClient waits long enough for the slow requests these tests make.
var longClient = &http.Client{Timeout: 30 * time.Second}

// freshClient opens a new connection for every request.
var freshClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// waitRaw polls until a line written since the mark contains needle and
// returns every line written since the mark, as written (any level).
func (m logMark) waitRaw(needle string, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for {
		raw := m.raw()
		if strings.Contains(strings.Join(raw, "\n"), needle) || time.Now().After(deadline) {
			return raw
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Touching (deploying) the script of a daemon group replaces its processes
// one at a time: the request that saw the change is answered by the new
// code on a new process (mod_wsgi.daemon_restarts '1'), no request fails,
// and the group never loses more than one process at once. mod_wsgi
// restarts every process and stalls each for shutdown-timeout (#923, #631).
func TestDaemonBeyond_ScriptChangeReplacesProcessesOneAtATime(t *testing.T) {
	gowsgiOnly(t)
	probe, err := os.ReadFile(probeScript())
	require.NoError(t, err)
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess pair processes=2 threads=4
WSGIScriptAlias /app @ROOT@/scratch/app.wsgi process-group=pair
<Directory @ROOT@/scratch>
    Require all granted
</Directory>
`, Files: map[string]string{"scratch/app.wsgi": string(probe)}})
	script := a.Root + "/scratch/app.wsgi"

	// Both processes load the script: concurrent slow requests spread.
	pids := map[int]bool{}
	for round := 0; round < 5 && len(pids) < 2; round++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f := getFacts(t, a.URL("/app?op=sleep&s=0.4"), nil)
				mu.Lock()
				pids[f.Pid] = true
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	require.Len(t, pids, 2, "both processes serve the script")

	// Deploy: a new version, renamed into place as a deploy tool does.
	next := string(probe) + "\n_v1 = application\n\ndef application(environ, start_response):\n" +
		"    def sr(status, headers, *exc):\n        return start_response(status, headers + [('X-Version', '2')], *exc)\n" +
		"    return _v1(environ, sr)\n"
	time.Sleep(1100 * time.Millisecond) // a new mtime, whatever the filesystem's granularity
	require.NoError(t, os.WriteFile(script+".new", []byte(next), 0o644))
	require.NoError(t, os.Rename(script+".new", script))

	mark := markLog(a)
	sawRestart := false
	for i := 0; i < 12; i++ {
		t0 := time.Now()
		r := Get(t, a.URL("/app"))
		require.Equal(t, 200, r.Status, "request %d after the change: %s", i, r)
		assert.Equal(t, "2", r.Header.Get("X-Version"), "request %d is answered by the new code", i)
		assert.Less(t, time.Since(t0), 5*time.Second, "request %d did not wait for the whole group", i)
		f := decodeFacts(t, r.Body)
		assert.False(t, pids[f.Pid], "request %d ran in a process started after the change", i)
		if f.Environ["mod_wsgi.daemon_restarts"] == "1" {
			sawRestart = true
		}
	}
	assert.True(t, sawRestart, "a request that saw the change was replayed (daemon_restarts '1')")
	// One at a time: the second old process made way only after the first
	// one's replacement had started.
	lines := mark.waitRaw("making way", 5*time.Second)
	var order []string
	for _, l := range lines {
		switch {
		case strings.Contains(l, "stopping: its script changed"):
			order = append(order, "stop")
		case strings.Contains(l, "started daemon process"):
			order = append(order, "start")
		}
	}
	for i := 1; i < len(order); i++ {
		assert.False(t, order[i] == "stop" && order[i-1] == "stop", "two processes made way at once: %v", order)
	}
}

// request-timeout and queue-timeout, with their causes in the log: a
// request that runs past request-timeout ends its process at once (500, the
// child's line says request-timeout and how long, and the process logs each
// Python thread's stack as mod_wsgi does); a request that
// waited past queue-timeout for a free thread is not run (504, mod_wsgi's
// "Queue timeout expired").
func TestDaemonBeyond_Timeouts(t *testing.T) {
	gowsgiOnly(t)
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess slow threads=1 request-timeout=2
WSGIDaemonProcess queued threads=1 queue-timeout=1
WSGIDaemonProcess sock threads=1 socket-timeout=1
WSGIScriptAlias /sock @APPS@/daemon/probe.wsgi process-group=sock
WSGIScriptAlias /slow @APPS@/daemon/probe.wsgi process-group=slow
WSGIScriptAlias /queued @APPS@/daemon/probe.wsgi process-group=queued
`})
	f := getFacts(t, a.URL("/slow"), nil)
	mark := markLog(a)
	t0 := time.Now()
	r, err := doReq(longClient, "GET", a.URL("/slow?op=sleep&s=10"), nil, nil)
	require.NoError(t, err)
	took := time.Since(t0)
	assert.Equal(t, 500, r.Status)
	assert.Less(t, took, 5*time.Second, "the client hears soon after request-timeout")
	lines := strings.Join(mark.waitRaw("request-timeout=2 exceeded", 5*time.Second), "\n")
	assert.Regexp(t, fmt.Sprintf(`group 'slow'.*%d.*request-timeout=2 exceeded: requests had run [0-9.]+ s on average`, f.Pid), lines)
	// what the request was doing, as mod_wsgi logs it (info level)
	lines = strings.Join(mark.waitRaw("called from file", 3*time.Second), "\n")
	assert.Contains(t, lines, fmt.Sprintf("gowsgi (pid=%d): Dumping stack trace for active Python threads.", f.Pid))
	assert.Regexp(t, fmt.Sprintf(`gowsgi \(pid=%d\): Thread \d+ executing file ".*/probe\.wsgi", line \d+, in _pause`, f.Pid), lines)
	assert.Regexp(t, fmt.Sprintf(`gowsgi \(pid=%d\): called from file ".*/probe\.wsgi", line \d+, in application\.`, f.Pid), lines)
	assert.Equal(t, 200, Get(t, a.URL("/slow")).Status, "a new process serves the group")

	// socket-timeout: no response headers in time is mod_wsgi's 504.
	mark = markLog(a)
	r, err = doReq(longClient, "GET", a.URL("/sock?op=sleep&s=3"), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 504, r.Status)
	assert.Contains(t, strings.Join(mark.waitRaw("Timeout when reading response headers", 3*time.Second), "\n"),
		"group 'sock'")

	getFacts(t, a.URL("/queued"), nil)
	first := make(chan int, 1)
	go func() {
		r, _ := doReq(longClient, "GET", a.URL("/queued?op=sleep&s=2.5"), nil, nil)
		first <- r.Status
	}()
	time.Sleep(300 * time.Millisecond)
	mark = markLog(a)
	r, err = doReq(longClient, "GET", a.URL("/queued?op=facts"), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 504, r.Status, "waited past queue-timeout for the only thread")
	assert.Equal(t, 200, <-first)
	assert.Contains(t, strings.Join(mark.waitRaw("Queue timeout expired", 3*time.Second), "\n"),
		"Queue timeout expired for WSGI daemon process 'queued'")
}

// memory-limit: Python code that asks for more gets MemoryError (500, the
// traceback says so); a process that dies of it (C code aborting) is
// reported as most likely out of memory.
func TestDaemonBeyond_MemoryLimit(t *testing.T) {
	gowsgiOnly(t)
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess small threads=1 memory-limit=400000000
WSGIScriptAlias /small @APPS@/daemon/probe.wsgi process-group=small
`})
	f := getFacts(t, a.URL("/small"), nil)
	mark := markLog(a)
	r := Get(t, a.URL("/small?op=hog&n=800000000"))
	assert.Equal(t, 500, r.Status)
	assert.Contains(t, strings.Join(mark.waitRaw("MemoryError", 3*time.Second), "\n"), "MemoryError")

	mark = markLog(a)
	r, err := doReq(longClient, "GET", a.URL("/small?op=abort"), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 500, r.Status)
	lines := strings.Join(mark.waitRaw("most likely run out of memory", 5*time.Second), "\n")
	removeCrashReports(t, strings.Split(lines, "\n"))
	// abort() is a crash: its line says so, with the stack (daemon_crash_test.go).
	assert.Regexp(t, fmt.Sprintf(`\(pid %d\) crashed: signal 6 \(Aborted\) in thread [0-9]+; Python stack: .*; with memory-limit=400000000 it has most likely run out of memory`, f.Pid), lines)
}
