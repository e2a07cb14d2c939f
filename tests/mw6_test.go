package tests

// mod_wsgi 6.0.5's directives, options and Python API (gowsgi issue 17):
// a configuration written for 6 passes configtest and serves; bad values
// fail with 6's messages, naming file and line; WSGISwitchInterval and
// switch-interval= reach sys.getswitchinterval(); request-timeout with
// interrupt-timeout answers 504 and keeps the process; WSGISlowRequests
// logs; mod_wsgi.LogHandler logs at the record's level; request_metrics()
// counts statuses. App: apps/mw6.wsgi.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type mw6Facts struct {
	Pid            int             `json:"pid"`
	Group          string          `json:"group"`
	SwitchInterval float64         `json:"switch_interval"`
	TimeoutBase    string          `json:"request_timeout_base"`
	SawTimeout     []string        `json:"saw_timeout"`
	Same           bool            `json:"same"`
	Metrics        map[string]*int `json:"metrics"`
}

func mw6Get(t *testing.T, url string) mw6Facts {
	t.Helper()
	r := Get(t, url)
	require.Equal(t, 200, r.Status, "%s: %s", url, r)
	var f mw6Facts
	require.NoError(t, json.Unmarshal([]byte(r.Body), &f), "%s: %s", url, r)
	return f
}

// Every directive and WSGIDaemonProcess option mod_wsgi 6.0 added.
const mw6FullConfig = `
WSGISwitchInterval 0.002
WSGISlowRequests 30
WSGITelemetryService unix:@ROOT@/telemetry.sock interval=2
WSGITelemetryOptions +CaptureUserAgent
WSGIPerInterpreterGIL Off
WSGIFreeThreading Off
<WSGIInterpreterOptions process-group=six application-group=%{GLOBAL}>
  WSGIPerInterpreterGIL Off
  WSGIFreeThreading Off
  WSGISwitchInterval 0.004
  WSGIPythonPath /tmp
  WSGIRestrictStdin Off
  WSGIRestrictStdout Off
  WSGIRestrictSignal On
</WSGIInterpreterOptions>
WSGIDaemonProcess six processes=1 threads=2 switch-interval=0.007 request-timeout=60 interrupt-timeout=10 response-flush-delay=5
<WSGIInterpreterOptions process-group=scoped>
  WSGISwitchInterval 0.003
</WSGIInterpreterOptions>
WSGIDaemonProcess plain threads=1
WSGIDaemonProcess scoped threads=1
WSGIScriptAlias /scoped @APPS@/mw6.wsgi process-group=scoped application-group=%{GLOBAL}
WSGIScriptAlias /emb @APPS@/mw6.wsgi
WSGIScriptAlias /six @APPS@/mw6.wsgi process-group=six application-group=%{GLOBAL}
WSGIScriptAlias /plain @APPS@/mw6.wsgi process-group=plain application-group=%{GLOBAL}
`

func TestMW6_FullConfig(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	out, code := ConfigTest(t, ServerSpec{Snippet: mw6FullConfig})
	require.Equal(t, 0, code, "configtest:\n%s", out)
	assert.Contains(t, out, "Syntax OK")

	a := StartApache(t, ServerSpec{MPM: "event", Snippet: mw6FullConfig})
	emb := mw6Get(t, a.URL("/emb"))
	assert.InDelta(t, 0.002, emb.SwitchInterval, 1e-6, "WSGISwitchInterval in Apache's children")
	// CPython keeps the interval in whole microseconds (0.007 reads back
	// as 0.006999999999999999).
	six := mw6Get(t, a.URL("/six"))
	assert.Equal(t, "six", six.Group)
	assert.InDelta(t, 0.007, six.SwitchInterval, 1e-6, "switch-interval= wins in its group")
	plain := mw6Get(t, a.URL("/plain"))
	assert.InDelta(t, 0.002, plain.SwitchInterval, 1e-6, "WSGISwitchInterval in a daemon group without switch-interval=")
	scoped := mw6Get(t, a.URL("/scoped"))
	assert.InDelta(t, 0.003, scoped.SwitchInterval, 1e-6, "a container naming only the group sets its interval")
	assert.Equal(t, "BaseException", six.TimeoutBase, "mod_wsgi.RequestTimeout derives from BaseException")

	log := a.ErrorLogContent()
	assert.NotContains(t, log, "WSGITelemetryService at ", "honoured: no warning")
	for _, honoured := range []string{"WSGISwitchInterval", "WSGIPythonPath", "WSGIRestrictStdin", "WSGIRestrictStdout", "WSGIRestrictSignal"} {
		assert.NotContains(t, log, honoured+" at ", "inside <WSGIInterpreterOptions>: honoured, no warning")
	}
	for _, want := range []string{
		"option response-flush-delay= is not needed",
		"Set switch interval 0.007000s for process group 'six'.",
		"Set switch interval 0.002000s for process group ''.",
	} {
		assert.Contains(t, log, want)
	}
}

func TestMW6_BadValues(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	cases := []struct{ name, snippet, badLine, want string }{
		{"switch interval zero", "WSGISwitchInterval 0", "WSGISwitchInterval 0",
			"WSGISwitchInterval must be a positive number of seconds."},
		{"switch interval text", "WSGISwitchInterval fast", "WSGISwitchInterval fast",
			"WSGISwitchInterval must be a positive number of seconds."},
		{"switch interval in vhost", "<VirtualHost 127.0.0.1:@PORT@>\n  WSGISwitchInterval 0.1\n</VirtualHost>",
			"  WSGISwitchInterval 0.1", "WSGISwitchInterval cannot occur within <VirtualHost> section"},
		{"switch interval in container", "<WSGIInterpreterOptions process-group=x>\n  WSGISwitchInterval -1\n</WSGIInterpreterOptions>",
			"  WSGISwitchInterval -1", "WSGISwitchInterval must be a positive number of seconds."},
		{"slow requests negative", "WSGISlowRequests -1", "WSGISlowRequests -1",
			"WSGISlowRequests threshold must be non-negative"},
		{"slow requests in vhost", "<VirtualHost 127.0.0.1:@PORT@>\n  WSGISlowRequests 2\n</VirtualHost>",
			"  WSGISlowRequests 2", "WSGISlowRequests cannot occur within <VirtualHost> section"},
		{"telemetry Off", "WSGITelemetryService Off", "WSGITelemetryService Off",
			"WSGITelemetryService target must be 'unix:/path' (remote 'udp:host:port' targets are no longer supported)"},
		{"telemetry udp", "WSGITelemetryService udp:127.0.0.1:9000", "WSGITelemetryService udp:127.0.0.1:9000",
			"WSGITelemetryService target must be 'unix:/path'"},
		{"telemetry interval", "WSGITelemetryService unix:/tmp/t.sock interval=0.1", "WSGITelemetryService unix:/tmp/t.sock interval=0.1",
			"WSGITelemetryService interval must be at least 0.5 seconds"},
		{"telemetry second argument", "WSGITelemetryService unix:/tmp/t.sock every=2", "WSGITelemetryService unix:/tmp/t.sock every=2",
			"WSGITelemetryService second argument must be 'interval=N'"},
		{"telemetry in vhost", "<VirtualHost 127.0.0.1:@PORT@>\n  WSGITelemetryService unix:/tmp/t.sock\n</VirtualHost>",
			"  WSGITelemetryService unix:/tmp/t.sock", "WSGITelemetryService cannot occur within <VirtualHost> section"},
		{"telemetry options unknown", "WSGITelemetryOptions +Bogus", "WSGITelemetryOptions +Bogus",
			"WSGITelemetryOptions: unknown flag 'Bogus'"},
		{"telemetry options mixed", "WSGITelemetryOptions None +CaptureUserAgent", "WSGITelemetryOptions None +CaptureUserAgent",
			"WSGITelemetryOptions: cannot mix +/- form with absolute names in a single directive"},
		{"telemetry options bare", "WSGITelemetryOptions +", "WSGITelemetryOptions +",
			"WSGITelemetryOptions: bare '+' / '-' is not a flag"},
		{"telemetry options signed All", "WSGITelemetryOptions -All", "WSGITelemetryOptions -All",
			"WSGITelemetryOptions: 'All' may not have a +/- prefix"},
		{"daemon switch-interval", "WSGIDaemonProcess d switch-interval=0", "WSGIDaemonProcess d switch-interval=0",
			"Invalid switch interval for WSGI daemon process."},
		{"daemon interrupt-timeout", "WSGIDaemonProcess d interrupt-timeout=-1", "WSGIDaemonProcess d interrupt-timeout=-1",
			"Invalid interrupt timeout for WSGI daemon process."},
		{"daemon response-flush-delay", "WSGIDaemonProcess d response-flush-delay=x", "WSGIDaemonProcess d response-flush-delay=x",
			"Invalid response flush delay for WSGI daemon process."},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, code, conf := ConfigTestConf(t, ServerSpec{Snippet: c.snippet})
			assert.NotEqual(t, 0, code, "config must be rejected; output:\n%s", out)
			line := 0
			for i, l := range strings.Split(conf, "\n") {
				if l == asWritten(c.badLine) {
					line = i + 1
				}
			}
			require.NotZero(t, line, "offending line %q not found in config", c.badLine)
			assert.Regexp(t, regexp.MustCompile(fmt.Sprintf(`Syntax error on line %d of \S+\.conf`, line)), out)
			assert.Contains(t, out, c.want)
		})
	}
}

// request-timeout with interrupt-timeout, as observed in 6.0.5
// (processes=1 threads=1 request-timeout=2 interrupt-timeout=4, an app
// looping on time.sleep(0.05)): 504 soon after 2 s, the app saw
// mod_wsgi.RequestTimeout, and the same process answers the next request
// at once. The Apache child logs one line with how long, group and pid.
func TestMW6_InterruptTimeout(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: `
WSGIDaemonProcess six processes=1 threads=1 request-timeout=2 interrupt-timeout=4
WSGIScriptAlias /six @APPS@/mw6.wsgi process-group=six application-group=%{GLOBAL}
`})
		before := mw6Get(t, a.URL("/six"))
		mark := markLog(a)
		t0 := time.Now()
		r, err := doReq(longClient, "GET", a.URL("/six?op=loop&s=30&tag=one"), nil, nil)
		require.NoError(t, err)
		took := time.Since(t0)
		t.Logf("%s: 504 after %.2f s", mpm, took.Seconds())
		assert.Equal(t, 504, r.Status)
		assert.Greater(t, took, 1900*time.Millisecond, "not before request-timeout")
		assert.Less(t, took, 10*time.Second, "soon after request-timeout (6.0.5: 3.0 s)")

		t1 := time.Now()
		after := mw6Get(t, a.URL("/six"))
		assert.Less(t, time.Since(t1), 5*time.Second, "the next request is answered at once")
		assert.Equal(t, before.Pid, after.Pid, "the process keeps serving")
		assert.Equal(t, []string{"one"}, after.SawTimeout, "the app saw mod_wsgi.RequestTimeout")

		lines := strings.Join(mark.waitRaw("Request interrupted after", 5*time.Second), "\n")
		assert.Regexp(t, fmt.Sprintf(`Request interrupted after [0-9.]+ s by request-timeout=2 \(interrupt-timeout=4\) in daemon process group 'six' \(pid=%d\)`, before.Pid), lines)
		assert.Equal(t, 1, strings.Count(lines, "Request interrupted after"), "one line per interrupted request")
		assert.Contains(t, lines, "mw6 app saw RequestTimeout one")
	})
}

// A request that swallows RequestTimeout and keeps running: once
// interrupt-timeout has passed, the process stops as today's request-timeout
// does (after graceful-timeout, which does not wait for that request) and
// a new one serves the group.
func TestMW6_InterruptTimeoutFallback(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess six processes=1 threads=2 request-timeout=1 interrupt-timeout=2 graceful-timeout=5
WSGIScriptAlias /six @APPS@/mw6.wsgi process-group=six application-group=%{GLOBAL}
`})
	// threads=2: fires at 1 x (1 + ln 2) = 1.7 s.
	before := mw6Get(t, a.URL("/six"))
	mark := markLog(a)
	t0 := time.Now()
	r, err := doReq(longClient, "GET", a.URL("/six?op=loop&s=25&swallow=1&tag=stubborn"), nil, nil)
	require.NoError(t, err)
	took := time.Since(t0)
	t.Logf("status %d after %.2f s", r.Status, took.Seconds())
	assert.NotEqual(t, 200, r.Status)
	assert.Greater(t, took, 3*time.Second, "not before request-timeout x (1 + ln 2) + interrupt-timeout")
	assert.Less(t, took, 15*time.Second, "the process stopped well before the request's 25 s")
	lines := strings.Join(mark.waitRaw("still running 2 s later", 5*time.Second), "\n")
	assert.Contains(t, lines, "request-timeout=1 with interrupt-timeout=2: 1 interrupted request(s) still running 2 s later")
	assert.Contains(t, lines, "mw6 app saw RequestTimeout stubborn")
	after := mw6Get(t, a.URL("/six"))
	assert.NotEqual(t, before.Pid, after.Pid, "a new process serves the group")
}

// WSGISlowRequests: a request is logged when it crosses the threshold and
// again when it ends, with method, URI, group, pid and elapsed time, in
// embedded and daemon mode; a quick one is not.
func TestMW6_SlowRequests(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: `
WSGISlowRequests 1
WSGIDaemonProcess slowd threads=2
WSGIScriptAlias /emb @APPS@/mw6.wsgi
WSGIScriptAlias /dmn @APPS@/mw6.wsgi process-group=slowd application-group=%{GLOBAL}
`})
		for _, c := range []struct{ path, group string }{{"/emb", "(embedded)"}, {"/dmn", "slowd"}} {
			f := mw6Get(t, a.URL(c.path))
			mark := markLog(a)
			quick := c.path + "?op=sleep&s=0&tag=quick"
			slow := c.path + "?op=sleep&s=2.5&tag=slow"
			require.Equal(t, 200, Get(t, a.URL(quick)).Status)
			require.Equal(t, 200, Get(t, a.URL(slow)).Status)
			lines := strings.Join(mark.waitRaw("slow request finished: GET "+slow, 5*time.Second), "\n")
			assert.Regexp(t, fmt.Sprintf(`gowsgi \(pid=%d\): slow request: GET %s in process group '%s' has run 1\.[0-9]+ s \(WSGISlowRequests 1\.000\)`,
				f.Pid, regexp.QuoteMeta(slow), regexp.QuoteMeta(c.group)), lines)
			assert.Regexp(t, fmt.Sprintf(`slow request finished: GET %s in process group '%s' after 2\.[0-9]+ s \(WSGISlowRequests 1\.000\), status 200`,
				regexp.QuoteMeta(slow), regexp.QuoteMeta(c.group)), lines)
			assert.NotContains(t, lines, "tag=quick", "a quick request is not reported")
		}
	})
}

// WSGISlowRequests 0: mod_wsgi 6 then reports every request; each one's
// end is logged even when no scan saw it running.
func TestMW6_SlowRequestsZero(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGISlowRequests 0
WSGIScriptAlias /emb @APPS@/mw6.wsgi
`})
	mw6Get(t, a.URL("/emb"))
	mark := markLog(a)
	require.Equal(t, 200, Get(t, a.URL("/emb?op=sleep&s=0&tag=zero")).Status)
	lines := strings.Join(mark.waitRaw("slow request finished: GET /emb?op=sleep&s=0&tag=zero", 5*time.Second), "\n")
	assert.Regexp(t, `slow request finished: GET /emb\?op=sleep&s=0&tag=zero in process group '\(embedded\)' after [0-9.]+ s \(WSGISlowRequests 0\.000\), status 200`, lines)
}

// mod_wsgi.LogHandler: each logging level at Apache's matching level
// (LogLevel info: debug is not written); subscribe_signals returns its
// callback (a decorator).
func TestMW6_LogHandler(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess lh threads=1
WSGIScriptAlias /emb @APPS@/mw6.wsgi
WSGIScriptAlias /dmn @APPS@/mw6.wsgi process-group=lh application-group=%{GLOBAL}
`})
	for _, path := range []string{"/emb", "/dmn"} {
		tag := strings.TrimPrefix(path, "/")
		mark := markLog(a)
		mw6Get(t, a.URL(path+"?op=log&tag="+tag))
		lines := strings.Join(mark.waitRaw("mw6-critical-"+tag, 5*time.Second), "\n")
		for level, want := range map[string]string{"info": "info", "warning": "warn", "error": "error", "critical": "crit"} {
			assert.Regexp(t, fmt.Sprintf(`\[gowsgi:%s\] .*mw6-%s-%s`, want, level, tag), lines, "%s %s", path, level)
		}
		assert.NotContains(t, lines, "mw6-debug-"+tag, "below LogLevel info")
		assert.True(t, mw6Get(t, a.URL(path+"?op=signals")).Same, "subscribe_signals returns its callback")
	}
}

// mod_wsgi.subscribe_signals(): in a daemon process a SIGHUP reaches the
// callback as mod_wsgi 6's process_signal event (signame, signum) and the
// process carries on; in Apache's children the call says it has no effect.
func TestMW6_SubscribeSignals(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess sig threads=1
WSGIScriptAlias /emb @APPS@/mw6.wsgi
WSGIScriptAlias /dmn @APPS@/mw6.wsgi process-group=sig application-group=%{GLOBAL}
`})
	mark := markLog(a)
	mw6Get(t, a.URL("/emb?op=subscribe"))
	assert.Contains(t, strings.Join(mark.waitRaw("called outside daemon mode", 5*time.Second), "\n"),
		"mod_wsgi.subscribe_signals() called outside daemon mode; the callback will not be invoked.")

	f := mw6Get(t, a.URL("/dmn?op=subscribe"))
	mark = markLog(a)
	require.NoError(t, syscall.Kill(f.Pid, syscall.SIGHUP))
	assert.Contains(t, strings.Join(mark.waitRaw("mw6 got process_signal", 5*time.Second), "\n"),
		"mw6 got process_signal SIGHUP 1")
	assert.Equal(t, f.Pid, mw6Get(t, a.URL("/dmn")).Pid, "the process carries on")
}

// request_metrics() after start_recording_metrics(): mod_wsgi 6's
// status_1xx .. status_5xx, per interval (no start_response counts 5xx).
func TestMW6_RequestMetricsStatus(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess met processes=1 threads=1
WSGIScriptAlias /m @APPS@/mw6.wsgi process-group=met application-group=%{GLOBAL}
`})
	mw6Get(t, a.URL("/m?op=start"))
	for i := 0; i < 3; i++ {
		mw6Get(t, a.URL("/m?op=facts"))
	}
	assert.Equal(t, 404, Get(t, a.URL("/m?op=status&code=404")).Status)
	assert.Equal(t, 404, Get(t, a.URL("/m?op=status&code=404")).Status)
	assert.Equal(t, 302, Get(t, a.URL("/m?op=status&code=302")).Status)
	assert.Equal(t, 500, Get(t, a.URL("/m?op=raise")).Status)
	m := mw6Get(t, a.URL("/m?op=metrics")).Metrics
	require.NotNil(t, m)
	got := map[string]int{}
	for k, v := range m {
		require.NotNil(t, v, k)
		got[k] = *v
	}
	assert.Equal(t, map[string]int{"status_1xx": 0, "status_2xx": 4, "status_3xx": 1, "status_4xx": 2,
		"status_5xx": 1, "request_count": 8}, got)
	// the next interval starts from zero
	m = mw6Get(t, a.URL("/m?op=metrics")).Metrics
	require.NotNil(t, m["status_2xx"])
	assert.Equal(t, 1, *m["status_2xx"], "only the previous metrics request")
}
