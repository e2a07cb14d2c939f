package tests

// SetHandler gowsgi-metrics (README, "Monitoring"): exact counts after known
// traffic in embedded mode and two daemon groups, consistent histograms,
// counters that never go backwards across a graceful restart and a killed
// daemon process (counted with its cause), the handler absent where no
// <Location> sets it and behind the admin's Require, and `promtool check
// metrics` on every scrape. metrics_prometheus_test.go has a real
// Prometheus scrape it. App: apps/metrics.wsgi.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const metricsSnippet = `
WSGIDaemonProcess gwmxa processes=1 threads=2
WSGIDaemonProcess gwmxb processes=2 threads=2
WSGIScriptAlias /emb @ROOT@/scratch/metrics.wsgi
WSGIScriptAlias /da @ROOT@/scratch/metrics.wsgi process-group=gwmxa application-group=%{GLOBAL}
WSGIScriptAlias /db @ROOT@/scratch/metrics.wsgi process-group=gwmxb application-group=%{GLOBAL}
<Location /metrics>
    SetHandler gowsgi-metrics
    Require ip 127.0.0.1
</Location>
<Location /metrics-denied>
    SetHandler gowsgi-metrics
    Require all denied
</Location>
`

// startMetricsServer starts Apache with the app in its scratch directory.
func startMetricsServer(t *testing.T, mpm, snippet string) *Apache {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(appsDir(), "metrics.wsgi"))
	require.NoError(t, err)
	a, err := startApache(ServerSpec{Module: ModGowsgi, MPM: mpm, Snippet: snippet,
		Files: map[string]string{"scratch/metrics.wsgi": string(src)}})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = a.Stop()
		a.removeRoot()
	})
	return a
}

// waitUp asks path until it answers 200 (a daemon group still starting
// answers 503): later traffic is then counted exactly.
func waitUp(t *testing.T, a *Apache, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := Get(t, a.URL(path))
		if r.Status == 200 {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s: %v\n%s", path, r, a.ErrorLogContent())
		time.Sleep(100 * time.Millisecond)
	}
}

// promtoolCheck runs `promtool check metrics` on an exposition.
func promtoolCheck(t *testing.T, body string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool (Debian's prometheus; make deps installs it)")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics: %s\n%s", out, body)
}

// scrape reads the handler, checks the exposition with promtool, and
// returns its samples by their printed name and labels.
func scrape(t *testing.T, a *Apache) map[string]float64 {
	t.Helper()
	r := Get(t, a.URL("/metrics"))
	require.Equal(t, 200, r.Status, "%v\n%s", r, a.ErrorLogContent())
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8", r.Header.Get("Content-Type"))
	promtoolCheck(t, r.Body)
	samples := map[string]float64{}
	for _, line := range strings.Split(r.Body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		samples[line[:i]] = v
	}
	return samples
}

func reqKey(group, class string) string {
	return fmt.Sprintf(`gowsgi_requests_total{group="%s",code_class="%s"}`, group, class)
}

// checkHistogram: cumulative buckets never decrease, +Inf equals _count.
func checkHistogram(t *testing.T, s map[string]float64, name, group string) {
	t.Helper()
	prev := -1.0
	for _, le := range []string{"0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1",
		"2.5", "5", "7.5", "10", "+Inf"} {
		k := fmt.Sprintf(`%s_bucket{group="%s",le="%s"}`, name, group, le)
		v, ok := s[k]
		require.True(t, ok, "missing %s", k)
		assert.GreaterOrEqual(t, v, prev, k)
		prev = v
	}
	assert.Equal(t, prev, s[fmt.Sprintf(`%s_count{group="%s"}`, name, group)], "%s{%s}: +Inf == _count", name, group)
}

// delta is after minus before for every sample of before (a counter that
// went backwards fails).
func delta(t *testing.T, before, after map[string]float64, key string) float64 {
	t.Helper()
	return after[key] - before[key]
}

func TestMetrics_Counts(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := startMetricsServer(t, mpm, metricsSnippet)
		waitUp(t, a, "/emb")
		waitUp(t, a, "/da")
		waitUp(t, a, "/db")
		before := scrape(t, a)

		traffic := []struct {
			path   string
			status int
			n      int
		}{
			{"/emb", 200, 3}, {"/emb", 404, 2}, {"/emb", 500, 1},
			{"/da", 200, 4}, {"/da", 302, 1}, {"/da", 503, 2}, {"/da?sleep=0.3&x", 200, 1},
			{"/db", 200, 5}, {"/db", 201, 2}, {"/db", 418, 1},
		}
		for _, tr := range traffic {
			sep := "?"
			if strings.Contains(tr.path, "?") {
				sep = "&"
			}
			for i := 0; i < tr.n; i++ {
				r := Get(t, a.URL(fmt.Sprintf("%s%sstatus=%d", tr.path, sep, tr.status)))
				require.Equal(t, tr.status, r.Status, "%s: %v", tr.path, r)
			}
		}
		after := scrape(t, a)
		want := map[string]float64{
			reqKey("", "2xx"): 3, reqKey("", "4xx"): 2, reqKey("", "5xx"): 1, reqKey("", "3xx"): 0,
			reqKey("gwmxa", "2xx"): 5, reqKey("gwmxa", "3xx"): 1, reqKey("gwmxa", "5xx"): 2, reqKey("gwmxa", "4xx"): 0,
			reqKey("gwmxb", "2xx"): 7, reqKey("gwmxb", "4xx"): 1, reqKey("gwmxb", "5xx"): 0, reqKey("gwmxb", "1xx"): 0,
		}
		for k, v := range want {
			assert.Equal(t, v, delta(t, before, after, k), k)
		}
		for g, n := range map[string]float64{"": 6, "gwmxa": 8, "gwmxb": 8} {
			checkHistogram(t, after, "gowsgi_request_duration_seconds", g)
			assert.Equal(t, n, delta(t, before, after, fmt.Sprintf(`gowsgi_request_duration_seconds_count{group="%s"}`, g)), g)
			if g != "" {
				checkHistogram(t, after, "gowsgi_queue_wait_seconds", g)
				assert.Equal(t, n, delta(t, before, after, fmt.Sprintf(`gowsgi_queue_wait_seconds_count{group="%s"}`, g)),
					"queue waits of %s", g)
			}
		}
		// The one request that slept 0.3 s is above the 0.25 s bucket.
		assert.Equal(t, 1.0, delta(t, before, after, `gowsgi_request_duration_seconds_count{group="gwmxa"}`)-
			delta(t, before, after, `gowsgi_request_duration_seconds_bucket{group="gwmxa",le="0.25"}`))
		assert.GreaterOrEqual(t, delta(t, before, after, `gowsgi_request_duration_seconds_sum{group="gwmxa"}`), 0.3)
		for k, v := range before {
			if strings.HasSuffix(strings.SplitN(k, "{", 2)[0], "_total") {
				assert.GreaterOrEqual(t, after[k], v, "counter %s went backwards", k)
			}
		}
		// Gauges of this generation.
		assert.Equal(t, 1.0, after[`gowsgi_processes{group="gwmxa",state="ready"}`])
		assert.Equal(t, 2.0, after[`gowsgi_processes{group="gwmxb",state="ready"}`])
		assert.Positive(t, after[`gowsgi_processes{group="",state="ready"}`])
		assert.Positive(t, after[`gowsgi_threads{group="",state="busy"}`], "the scrape itself is busy")

		// OpenMetrics when asked for.
		r := Do(t, "GET", a.URL("/metrics"), nil, map[string]string{
			"Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"})
		require.Equal(t, 200, r.Status)
		assert.Equal(t, "application/openmetrics-text; version=1.0.0; charset=utf-8", r.Header.Get("Content-Type"))
		checkOpenMetrics(t, r.Body)
		assert.Contains(t, r.Body, "# TYPE gowsgi_requests counter\n")
		assert.Contains(t, r.Body, reqKey("gwmxa", "2xx")+" ")

		// Only where a <Location> sets it, under its Require.
		assert.Equal(t, 403, Get(t, a.URL("/metrics-denied")).Status)
		assert.Equal(t, 404, Get(t, a.URL("/metrics-elsewhere")).Status)
		post := Do(t, "POST", a.URL("/metrics"), strings.NewReader("x"), nil)
		assert.Equal(t, 405, post.Status)
		// Apache adds TRACE unless TraceEnable is off, in no set order.
		allow := strings.Split(strings.ReplaceAll(post.Header.Get("Allow"), " ", ""), ",")
		assert.ElementsMatch(t, []string{"GET", "HEAD", "TRACE"}, allow, "the 405 says what is allowed")
	})
}

func TestMetrics_NotExposedByDefault(t *testing.T) {
	a := startMetricsServer(t, testMPMs()[0], `WSGIScriptAlias /emb @ROOT@/scratch/metrics.wsgi
`)
	waitUp(t, a, "/emb")
	for _, p := range []string{"/metrics", "/gowsgi-metrics", "/server-metrics"} {
		r := Get(t, a.URL(p))
		assert.Equal(t, 404, r.Status, "%s: %v", p, r)
		assert.NotContains(t, r.Body, "gowsgi_requests_total")
	}
}

// A graceful restart and a daemon process killed with SIGKILL: nothing goes
// backwards, traffic after both is counted on top, and the death is counted
// with the cause the error log gives (a signal it did not declare).
func TestMetrics_Monotonic(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := startMetricsServer(t, mpm, metricsSnippet)
		waitUp(t, a, "/emb")
		waitUp(t, a, "/da")
		for i := 0; i < 3; i++ {
			require.Equal(t, 200, Get(t, a.URL("/emb")).Status)
			require.Equal(t, 200, Get(t, a.URL("/da")).Status)
		}
		s1 := scrape(t, a)

		require.NoError(t, a.Graceful())
		waitUp(t, a, "/da") // counted: one more 2xx in gwmxa
		s2 := scrape(t, a)
		for k, v := range s1 {
			if strings.HasSuffix(strings.SplitN(k, "{", 2)[0], "_total") && !strings.Contains(k, "pid=") {
				assert.GreaterOrEqual(t, s2[k], v, "counter %s went backwards across a graceful restart", k)
			}
		}
		assert.Equal(t, s1[reqKey("", "2xx")], s2[reqKey("", "2xx")])
		assert.Equal(t, s1[reqKey("gwmxa", "2xx")]+1, s2[reqKey("gwmxa", "2xx")])

		pidText := Get(t, a.URL("/da?pid=1")).Body
		pid, err := strconv.Atoi(pidText)
		require.NoError(t, err, pidText)
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		killedKey := `gowsgi_process_restarts_total{group="gwmxa",cause="killed"}`
		deadline := time.Now().Add(30 * time.Second)
		var s3 map[string]float64
		for {
			s3 = scrape(t, a)
			if s3[killedKey] >= 1 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		assert.Equal(t, 1.0, s3[killedKey], "%s\n%s", killedKey, a.ErrorLogContent())
		waitUp(t, a, "/da")
		s4 := scrape(t, a)
		assert.Equal(t, s2[reqKey("gwmxa", "2xx")]+2, s4[reqKey("gwmxa", "2xx")], "the pid request and one more")
		assert.Equal(t, 1.0, s4[`gowsgi_processes{group="gwmxa",state="ready"}`])
	})
}

// A scrape of a server with 20 daemon groups, each with traffic, takes
// under 50 ms (the bound): the best of 7 scrapes, so that the
// shared machine's load does not decide.
func TestMetrics_ScrapeTime(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		var b strings.Builder
		for i := 0; i < 20; i++ {
			fmt.Fprintf(&b, "WSGIDaemonProcess gwmx%02d processes=1 threads=1\n", i)
			fmt.Fprintf(&b, "WSGIScriptAlias /g%02d @ROOT@/scratch/metrics.wsgi process-group=gwmx%02d\n", i, i)
		}
		b.WriteString("<Location /metrics>\n    SetHandler gowsgi-metrics\n</Location>\n")
		a := startMetricsServer(t, mpm, b.String())
		for i := 0; i < 20; i++ {
			waitUp(t, a, fmt.Sprintf("/g%02d", i))
		}
		s := scrape(t, a)
		for i := 0; i < 20; i++ {
			assert.GreaterOrEqual(t, s[reqKey(fmt.Sprintf("gwmx%02d", i), "2xx")], 1.0)
		}
		best := time.Hour
		var all []time.Duration
		for i := 0; i < 7; i++ {
			start := time.Now()
			r := Get(t, a.URL("/metrics"))
			d := time.Since(start)
			require.Equal(t, 200, r.Status)
			all = append(all, d)
			if d < best {
				best = d
			}
		}
		t.Logf("%s: scrapes of 20 groups took %v (best %v)", mpm, all, best)
		assert.Less(t, best, 50*time.Millisecond)
	})
}

// A daemon group's threads while one request runs: busy 1, and busy + idle
// + not_started is the group's threads= (the lazy pool starts the second
// thread when the first takes a request).
func TestMetrics_Threads(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := startMetricsServer(t, mpm, metricsSnippet)
		waitUp(t, a, "/da")
		done := make(chan Resp, 1)
		go func() {
			r, _ := doReq(httpClient, "GET", a.URL("/da?sleep=6"), nil, nil)
			done <- r
		}()
		const busy = `gowsgi_threads{group="gwmxa",state="busy"}`
		deadline := time.Now().Add(5 * time.Second)
		var s map[string]float64
		for {
			s = scrape(t, a)
			if s[busy] == 1 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		assert.Equal(t, 1.0, s[busy])
		assert.Equal(t, 2.0, s[busy]+s[`gowsgi_threads{group="gwmxa",state="idle"}`]+
			s[`gowsgi_threads{group="gwmxa",state="not_started"}`])
		assert.Equal(t, 200, (<-done).Status)
		// The child frees the request's ticket just after its last byte.
		for deadline = time.Now().Add(10 * time.Second); ; {
			s = scrape(t, a)
			if s[busy] == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		assert.Equal(t, 0.0, s[busy], "the request has ended")
	})
}

// An on-demand group: asleep until a request wakes it, the wake counted
// (and kept across a graceful restart, which makes the group's shared
// record anew), the last cold start's time given.
func TestMetrics_OnDemand(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := startMetricsServer(t, mpm, `
WSGIDaemonProcess gwmxod processes=1 threads=1 start=on-demand
WSGIScriptAlias /od @ROOT@/scratch/metrics.wsgi process-group=gwmxod
<Location /metrics>
    SetHandler gowsgi-metrics
</Location>
`)
		const asleep, cold = `gowsgi_group_asleep{group="gwmxod"}`, `gowsgi_cold_starts_total{group="gwmxod"}`
		s := scrape(t, a)
		assert.Equal(t, 1.0, s[asleep])
		assert.Equal(t, 0.0, s[cold])
		r := Get(t, a.URL("/od"))
		require.Equal(t, 200, r.Status, "%v\n%s", r, a.ErrorLogContent())
		// The starter counts the cold start when it sees the process
		// ready, which may be just after the answer: read until it has.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if s = scrape(t, a); s[cold] != 0 || time.Now().After(deadline) {
				break
			}
		}
		assert.Equal(t, 0.0, s[asleep])
		assert.Equal(t, 1.0, s[cold])
		assert.Positive(t, s[`gowsgi_last_cold_start_seconds{group="gwmxod"}`])
		assert.Equal(t, 1.0, s[reqKey("gwmxod", "2xx")])
		mark := markLog(a)
		require.NoError(t, a.Graceful())
		// The group awake at the graceful restart is started again by the
		// new generation's starter: carried over, not a cold start.
		mark.waitRaw("awake before the graceful restart start now", 10*time.Second)
		r = Get(t, a.URL("/od")) // served by the carried-over process
		require.Equal(t, 200, r.Status, "%v", r)
		s = scrape(t, a)
		assert.Equal(t, 1.0, s[cold], "across a graceful restart: the counter neither goes back nor counts the carry-over")
		assert.Equal(t, 1, strings.Count(a.ErrorLogContent(), "cold start of daemon process group 'gwmxod' took"))
		assert.Equal(t, 2.0, s[reqKey("gwmxod", "2xx")])
	})
}

// WSGISlowRequests: a request that took at least its threshold is counted
// as slow, in its group; a quick one is not.
func TestMetrics_SlowRequests(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := startMetricsServer(t, mpm, "WSGISlowRequests 0.5\n"+metricsSnippet)
		waitUp(t, a, "/emb")
		waitUp(t, a, "/da")
		before := scrape(t, a)
		for _, p := range []string{"/emb?sleep=0.7", "/emb", "/da?sleep=0.7", "/da?sleep=0.7", "/da"} {
			require.Equal(t, 200, Get(t, a.URL(p)).Status, p)
		}
		after := scrape(t, a)
		assert.Equal(t, 1.0, delta(t, before, after, `gowsgi_slow_requests_total{group=""}`))
		assert.Equal(t, 2.0, delta(t, before, after, `gowsgi_slow_requests_total{group="gwmxa"}`))
		assert.Equal(t, 0.0, delta(t, before, after, `gowsgi_slow_requests_total{group="gwmxb"}`))
	})
}

// The OpenMetrics exposition as OpenMetrics 1.0 wants it: every family's
// HELP without a bare double quote, counters' families named without
// _total, and # EOF last.
func checkOpenMetrics(t *testing.T, body string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	require.Equal(t, "# EOF", lines[len(lines)-1])
	for _, l := range lines {
		if strings.HasPrefix(l, "# HELP ") {
			assert.NotContains(t, l, `"`, l)
		}
		if strings.HasPrefix(l, "# TYPE ") && strings.HasSuffix(l, " counter") {
			assert.NotContains(t, l, "_total ", l)
		}
	}
}

// Groups change across graceful restarts: a removed group's counters stay,
// a new group appears, and a generation with no daemon group at all still
// answers (with the counters of those before it).
func TestMetrics_GroupsChange(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := startMetricsServer(t, mpm, metricsSnippet)
		waitUp(t, a, "/da")
		for i := 0; i < 3; i++ {
			require.Equal(t, 200, Get(t, a.URL("/da")).Status)
		}
		s1 := scrape(t, a)
		// gwmxa becomes gwmxc.
		conf, err := os.ReadFile(a.ConfPath)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(a.ConfPath, []byte(strings.ReplaceAll(string(conf), "gwmxa", "gwmxc")), 0o644))
		require.NoError(t, a.Graceful())
		// A kept connection would still reach an old generation's child.
		httpClient.CloseIdleConnections()
		waitUp(t, a, "/da")
		s2 := scrape(t, a)
		assert.Equal(t, s1[reqKey("gwmxa", "2xx")], s2[reqKey("gwmxa", "2xx")], "a removed group's counters stay")
		assert.Equal(t, 1.0, s2[reqKey("gwmxc", "2xx")])
		_, gauged := s2[`gowsgi_processes{group="gwmxa",state="ready"}`]
		assert.False(t, gauged, "no gauges for a group of no generation now")
		assert.Equal(t, 1.0, s2[`gowsgi_processes{group="gwmxc",state="ready"}`])
		// No daemon group left.
		conf, err = os.ReadFile(a.ConfPath)
		require.NoError(t, err)
		var kept []string
		for _, l := range strings.Split(string(conf), "\n") {
			if !strings.HasPrefix(l, "WSGIDaemonProcess") && !strings.Contains(l, "process-group=") {
				kept = append(kept, l)
			}
		}
		require.NoError(t, os.WriteFile(a.ConfPath, []byte(strings.Join(kept, "\n")), 0o644))
		require.NoError(t, a.Graceful())
		httpClient.CloseIdleConnections()
		waitUp(t, a, "/emb")
		s3 := scrape(t, a)
		assert.Equal(t, s2[reqKey("gwmxc", "2xx")], s3[reqKey("gwmxc", "2xx")])
		assert.Equal(t, s2[reqKey("gwmxa", "2xx")], s3[reqKey("gwmxa", "2xx")])
		_, gauged = s3[`gowsgi_processes{group="gwmxc",state="ready"}`]
		assert.False(t, gauged)
	})
}
