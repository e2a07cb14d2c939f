package tests

// Fair share (issue 14 item 4, README "Fair share"): a daemon group holds at
// most its share of Apache's workers; what is over it gets 503 with
// Retry-After at once, so a stuck tenant cannot starve the others. The
// stuck tenant's app (apps/daemon/gate.wsgi) waits until the test opens its
// gate, at most 20 s, so every request ends by itself.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fairMPM starts every worker up front (16 threads in two processes, or 8
// prefork processes), so what the test measures is the share, not how fast
// the MPM adds processes.
func fairMPM(mpm string) (string, int) {
	if mpm == "prefork" {
		return `<IfModule mpm_prefork_module>
    StartServers 8
    MinSpareServers 8
    MaxSpareServers 8
    ServerLimit 8
    MaxRequestWorkers 8
</IfModule>
`, 8
	}
	return `<IfModule mpm_` + mpm + `_module>
    StartServers 2
    ThreadsPerChild 8
    MinSpareThreads 16
    MaxSpareThreads 24
    MaxRequestWorkers 16
</IfModule>
`, 16
}

// noKeepAlive opens a connection per request: a kept connection would hold
// a worker MPM or prefork worker after its response.
func noKeepAlive(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
}

type gateResult struct {
	status int
	retry  string
	body   string
	took   time.Duration
	err    error
}

// sendGated sends n requests to the gate app at once; their results arrive
// on the channel as they end.
func sendGated(a *Apache, path, dir string, n int) chan gateResult {
	client := noKeepAlive(60 * time.Second)
	results := make(chan gateResult, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			t0 := time.Now()
			r, err := doReq(client, "GET", a.URL(fmt.Sprintf("%s?dir=%s&tok=%d", path, dir, i)), nil, nil)
			results <- gateResult{status: r.Status, retry: r.Header.Get("Retry-After"), body: r.Body, took: time.Since(t0), err: err}
		}(i)
	}
	return results
}

// takeRefused reads want results, each of which must be an immediate 503
// with Retry-After: 5 (the admitted requests are waiting at the gate).
func takeRefused(t *testing.T, results chan gateResult, want int) {
	t.Helper()
	for got := 0; got < want; got++ {
		select {
		case r := <-results:
			require.NoError(t, r.err)
			require.Equal(t, 503, r.status, "only the share is admitted, and it waits at the gate (%d refused so far): %s", got, r.body)
			require.Equal(t, "5", r.retry, "a refused request says when to try again")
			require.Less(t, r.took, 5*time.Second, "a request over the share is refused at once")
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of %d requests over the share were refused", got, want)
		}
	}
	select {
	case r := <-results:
		t.Fatalf("a request over the share was admitted, or an admitted one ended before the gate opened: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
}

// takeAdmitted opens the gate and reads want results, each a 200.
func takeAdmitted(t *testing.T, results chan gateResult, dir string, want int) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "open"), nil, 0o644))
	for got := 0; got < want; got++ {
		select {
		case r := <-results:
			require.NoError(t, r.err)
			require.Equal(t, 200, r.status, "an admitted request is served once the gate opens: %s", r.body)
			require.Equal(t, "released\n", r.body)
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d of %d admitted requests ended after the gate opened", got, want)
		}
	}
}

func linesWith(lines []string, needle string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, needle) {
			out = append(out, l)
		}
	}
	return out
}

// The measure: 150 slow requests to a tenant whose 2 threads are
// stuck, then 10 probes to another tenant. mod_wsgi (and gowsgi before)
// answered 4 of 10 within 2 s. With the default share (half of Apache's
// workers) the stuck tenant holds exactly half, every request over it gets
// 503 at once, and the other tenant finds the other half free: 10 of 10.
func TestFairShare_StuckTenantCannotStarveOthers(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		block, workers := fairMPM(mpm)
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: block + `
WSGIDaemonProcess stuck threads=2 connect-timeout=40 socket-timeout=40
WSGIDaemonProcess other threads=4
WSGIScriptAlias /stuck @APPS@/daemon/gate.wsgi process-group=stuck application-group=%{GLOBAL}
WSGIScriptAlias /other @APPS@/daemon/probe.wsgi process-group=other application-group=%{GLOBAL}
`})
		share := workers / 2
		// The default, as the parent worked it out: half of the workers, and
		// never below a group's own threads and a quarter more (other: 4+1).
		log := a.ErrorLogContent()
		assert.Contains(t, log, fmt.Sprintf("group 'stuck' may hold %d of Apache's %d workers (default 50%%)", share, workers))
		otherShare := share
		if otherShare < 5 {
			otherShare = 5
		}
		assert.Contains(t, log, fmt.Sprintf("group 'other' may hold %d of Apache's %d workers (default 50%%)", otherShare, workers))

		dir := filepath.Join(a.Root, "scratch")
		require.Equal(t, 200, Get(t, a.URL("/other")).Status)
		require.Equal(t, 200, Get(t, a.URL("/stuck?max=0&dir="+dir)).Status)
		mark := markLog(a)

		const n = 150
		results := sendGated(a, "/stuck", dir, n)
		takeRefused(t, results, n-share)

		// The other tenant: 10 probes at once, each answered within 2 s.
		probe := noKeepAlive(2 * time.Second)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed []string
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				r, err := doReq(probe, "GET", a.URL("/other"), nil, nil)
				if err != nil || r.Status != 200 || time.Since(t0) > 2*time.Second {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("status %d after %v (%v)", r.Status, time.Since(t0), err))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		assert.Empty(t, failed, "every probe of the other tenant is answered within 2 s")

		takeAdmitted(t, results, dir, share)

		// One line when the burst starts, one when it is over; none per request.
		mark.waitRaw("is down to", 10*time.Second)
		lines := mark.raw()
		started := linesWith(lines, "group 'stuck' holds")
		require.Len(t, started, 1, "one line for the burst:\n%s", strings.Join(lines, "\n"))
		assert.Contains(t, started[0], fmt.Sprintf("holds %d of Apache's %d workers, its worker share: requests over it get 503 with Retry-After: 5 until it is down to %d", share, workers, share/2))
		ended := linesWith(lines, "group 'stuck' is down to")
		require.Len(t, ended, 1)
		assert.Contains(t, ended[0], fmt.Sprintf("is down to %d of its worker share of %d; %d requests over it got 503", share/2, share, n-share))
		assert.Empty(t, linesWith(lines, "group 'other'"), "the other tenant never reached its share")
		assert.LessOrEqual(t, len(linesWith(lines, "gowsgi")), 4, "no log flood:\n%s", strings.Join(lines, "\n"))
	})
}

// A share given to the group is honoured exactly, also when it is more than
// the group's threads (the rest wait in its queue): with worker-share=5 and
// 7 requests at once, 5 wait (2 in the app, 3 queued) and 2 get 503.
func TestFairShare_ConfiguredShareIsExact(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		block, workers := fairMPM(mpm)
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: block + `
GoWSGIWorkerShare 3
WSGIDaemonProcess capped threads=2 worker-share=5 connect-timeout=40 socket-timeout=40
WSGIDaemonProcess pct threads=1 worker-share=25%
WSGIDaemonProcess few threads=4 worker-share=1
WSGIDaemonProcess server threads=1
WSGIDaemonProcess floor threads=4
WSGIDaemonProcess all threads=1 worker-share=100%
WSGIScriptAlias /capped @APPS@/daemon/gate.wsgi process-group=capped application-group=%{GLOBAL}
WSGIScriptAlias /few @APPS@/daemon/probe.wsgi process-group=few application-group=%{GLOBAL}
`})
		log := a.ErrorLogContent()
		assert.Contains(t, log, fmt.Sprintf("group 'capped' may hold 5 of Apache's %d workers (worker-share=5)", workers))
		assert.Contains(t, log, fmt.Sprintf("group 'pct' may hold %d of Apache's %d workers (worker-share=25%%)", workers/4, workers))
		// Given on the group: exact, even below its own threads.
		assert.Contains(t, log, fmt.Sprintf("group 'few' may hold 1 of Apache's %d workers (worker-share=1)", workers))
		// GoWSGIWorkerShare: the default of the others, with the same floor.
		assert.Contains(t, log, fmt.Sprintf("group 'server' may hold 3 of Apache's %d workers (GoWSGIWorkerShare 3)", workers))
		assert.Contains(t, log, fmt.Sprintf("group 'floor' may hold 5 of Apache's %d workers (GoWSGIWorkerShare 3)", workers))
		// 100%: no limit at all (mod_http2's workers are over MaxRequestWorkers).
		assert.Contains(t, log, "group 'all' may hold any number of Apache's workers (worker-share=100%: no limit)")

		dir := filepath.Join(a.Root, "scratch")
		require.Equal(t, 200, Get(t, a.URL("/capped?max=0&dir="+dir)).Status)
		results := sendGated(a, "/capped", dir, 7)
		takeRefused(t, results, 2)
		ins, _ := filepath.Glob(filepath.Join(dir, "in-*"))
		assert.Len(t, ins, 2, "two requests are in the app (threads=2), three wait for a thread")
		takeAdmitted(t, results, dir, 5)
		// Back under the share: admitted again.
		r := Get(t, a.URL("/capped?max=0&dir="+dir))
		assert.Equal(t, 200, r.Status, "%s", r)

		// An internal redirect into the same group runs while the request
		// that made it holds its place: the one worker is counted once.
		r = Get(t, a.URL("/few?op=location&to=/few%3Fop%3Dmethod"))
		assert.Equal(t, 200, r.Status, "%s", r)
		assert.Equal(t, "method=GET body=b''", r.Body)
	})
}

// An Apache child killed while it forwards (a crash in another module, the
// OOM killer): the parent takes its part of the count back when it reaps
// it, so the group is not refused for ever.
func TestFairShare_DeadChildGivesItsShareBack(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		block, _ := fairMPM(mpm)
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: block + `
LogLevel info gowsgi:debug
WSGIDaemonProcess capped threads=2 worker-share=2 connect-timeout=40 socket-timeout=40
WSGIScriptAlias /capped @APPS@/daemon/gate.wsgi process-group=capped application-group=%{GLOBAL}
`})
		dir := filepath.Join(a.Root, "scratch")
		require.Equal(t, 200, Get(t, a.URL("/capped?max=0&dir="+dir)).Status)
		mark := markLog(a)
		results := sendGated(a, "/capped", dir, 3)
		takeRefused(t, results, 1)
		// The daemon's pid, from the requests that reached it.
		var daemon int
		deadline := time.Now().Add(10 * time.Second)
		for daemon == 0 && time.Now().Before(deadline) {
			ins, _ := filepath.Glob(filepath.Join(dir, "in-*"))
			if len(ins) == 2 {
				b, _ := os.ReadFile(ins[0])
				daemon, _ = strconv.Atoi(string(b))
			}
			time.Sleep(20 * time.Millisecond)
		}
		require.NotZero(t, daemon, "both admitted requests reach the app")
		// Kill every Apache child (not the parent, not the daemon).
		for _, pid := range a.ChildPids() {
			if pid != daemon {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		for i := 0; i < 2; i++ {
			r := <-results
			assert.Error(t, r.err, "the killed child's client loses its connection")
		}
		reclaimed := regexp.MustCompile(`Apache child \d+ exited while forwarding (\d) requests? to daemon process group 'capped'`)
		total := 0
		deadline = time.Now().Add(15 * time.Second)
		for total < 2 && time.Now().Before(deadline) {
			total = 0
			for _, m := range reclaimed.FindAllStringSubmatch(strings.Join(mark.raw(), "\n"), -1) {
				k, _ := strconv.Atoi(m[1])
				total += k
			}
			time.Sleep(50 * time.Millisecond)
		}
		require.Equal(t, 2, total, "the parent takes back both requests of the killed children:\n%s", strings.Join(mark.raw(), "\n"))
		// And their tickets (daemon_ticket.h): both had begun, so both
		// were taken; the refused one never had one.
		tickets := regexp.MustCompile(`Apache child \d+ exited holding (\d) tickets? of daemon process group 'capped'`)
		total = 0
		for _, m := range tickets.FindAllStringSubmatch(strings.Join(mark.raw(), "\n"), -1) {
			k, _ := strconv.Atoi(m[1])
			total += k
		}
		require.Equal(t, 2, total, "the parent frees the killed children's tickets:\n%s", strings.Join(mark.raw(), "\n"))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "open"), nil, 0o644))
		// Admitted again (not refused as if the dead children still held it).
		var r Resp
		deadline = time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			var err error
			r, err = doReq(noKeepAlive(10*time.Second), "GET", a.URL("/capped?max=0&dir="+dir), nil, nil)
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond) // the MPM is starting new children
		}
		assert.Equal(t, 200, r.Status, "%s", r)
	})
}

// Bad values fail configtest with the directive, the file and the line.
func TestFairShare_ConfigErrors(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	cases := []struct{ name, line, want string }{
		{"zero", "WSGIDaemonProcess d1 worker-share=0", "WSGIDaemonProcess: Invalid worker share '0' for WSGI daemon process"},
		{"over 100%", "WSGIDaemonProcess d1 worker-share=101%", "Invalid worker share '101%' for WSGI daemon process"},
		{"0%", "WSGIDaemonProcess d1 worker-share=0%", "Invalid worker share '0%' for WSGI daemon process"},
		{"negative", "WSGIDaemonProcess d1 worker-share=-1", "Invalid worker share '-1'"},
		{"words", "WSGIDaemonProcess d1 worker-share=half", "Invalid worker share 'half'"},
		{"trailing", "WSGIDaemonProcess d1 worker-share=5x", "Invalid worker share '5x'"},
		{"empty", "WSGIDaemonProcess d1 worker-share=", "Invalid worker share ''"},
		{"server-wide", "GoWSGIWorkerShare 150%", "GoWSGIWorkerShare: Invalid worker share '150%' for the daemon process groups"},
		{"server-wide zero", "GoWSGIWorkerShare 0", "GoWSGIWorkerShare: Invalid worker share '0'"},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, code, conf := ConfigTestConf(t, ServerSpec{Snippet: c.line + "\nWSGIDaemonProcess d2\n"})
			assert.NotEqual(t, 0, code, "config must be rejected; output:\n%s", out)
			line := 0
			for i, l := range strings.Split(conf, "\n") {
				if l == asWritten(c.line) {
					line = i + 1
				}
			}
			require.NotZero(t, line)
			assert.Contains(t, out, fmt.Sprintf("Syntax error on line %d of ", line))
			assert.Contains(t, out, c.want)
			assert.Contains(t, out, "a percentage of Apache's workers (1% to 100%) or a number of workers (at least 1)")
		})
	}
	t.Run("in a virtual host", func(t *testing.T) {
		t.Parallel()
		out, code := ConfigTest(t, ServerSpec{Snippet: "<VirtualHost 127.0.0.1:@PORT@>\nGoWSGIWorkerShare 10\n</VirtualHost>\n"})
		assert.NotEqual(t, 0, code)
		assert.Contains(t, out, "GoWSGIWorkerShare cannot occur within <VirtualHost> section")
	})
	t.Run("good values", func(t *testing.T) {
		t.Parallel()
		out, code := ConfigTest(t, ServerSpec{Snippet: "GoWSGIWorkerShare 10\nWSGIDaemonProcess d1 worker-share=100%\nWSGIDaemonProcess d2 worker-share=1\nWSGIDaemonProcess d3 worker-share=1%\n"})
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "Syntax OK")
	})
}

// The counters are in memory only Apache's parent and children share: a
// daemon unmaps it as it starts, so a tenant's code cannot reset its own
// group's count.
func TestFairShare_DaemonCannotReachTheCounters(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: `
LogLevel info gowsgi:trace1
WSGIDaemonProcess tenant threads=2
WSGIScriptAlias /t @APPS@/daemon/probe.wsgi process-group=tenant application-group=%{GLOBAL}
`})
		m := regexp.MustCompile(`worker-share counters are at 0x([0-9a-f]+), (\d+) bytes`).FindStringSubmatch(a.ErrorLogContent())
		require.NotNil(t, m, "the parent says where the counters are (trace1)")
		addr, err := strconv.ParseUint(m[1], 16, 64)
		require.NoError(t, err)
		// A shared mapping there: the daemon may map something of its own
		// at the address once it is free (private memory, not the counters).
		mapped := func(pid int) bool {
			maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
			require.NoError(t, err)
			for _, l := range strings.Split(string(maps), "\n") {
				var lo, hi uint64
				var perms string
				if _, err := fmt.Sscanf(l, "%x-%x %s", &lo, &hi, &perms); err == nil && addr >= lo && addr < hi {
					t.Logf("pid %d: %s", pid, l)
					return strings.HasSuffix(perms, "s")
				}
			}
			return false
		}
		daemon := getFacts(t, a.URL("/t"), nil).Pid
		assert.False(t, mapped(daemon), "the daemon (pid %d) has unmapped the counters", daemon)
		children := 0
		for _, pid := range a.ChildPids() {
			if pid != daemon {
				children++
				assert.True(t, mapped(pid), "Apache child %d has the counters", pid)
			}
		}
		assert.NotZero(t, children)
		assert.True(t, mapped(a.Pid()), "the parent has the counters")
	})
}
