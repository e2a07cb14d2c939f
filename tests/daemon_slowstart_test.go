package tests

// A daemon process whose preloaded script takes long to import (issue 14,
// item 3): a request waits for it as mod_wsgi's waits on its listener,
// bounded by socket-timeout (mod_wsgi's read of the response headers), not
// refused after connect-timeout. The import takes 4 s
// (apps/daemon/slowimport.wsgi); connect-timeout and socket-timeout are
// made small so that each case shows which bound applies.

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowStart starts a server whose group preloads slowimport.wsgi with the
// given extra options, sends one request as soon as Apache answers, and
// returns the response, how long it took and the server.
func slowStart(t *testing.T, module Module, mpm, options, path string) (Resp, time.Duration, *Apache) {
	t.Helper()
	spec := ServerSpec{Module: module, MPM: mpm, Snippet: fmt.Sprintf(`
WSGIDaemonProcess slow processes=1 threads=2 %s
WSGIScriptAlias /slow @APPS@/daemon/slowimport.wsgi process-group=slow application-group=%%{GLOBAL}
`, options)}
	a, err := startApache(spec)
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("error log of %s:\n%s", a.Spec.Module, tail(a.ErrorLogContent(), 30))
		}
		_ = a.Stop()
		a.removeRoot()
	})
	start := time.Now()
	r, err := doReq(longClient, "GET", a.URL(path), nil, nil)
	require.NoError(t, err)
	return r, time.Since(start), a
}

// Within socket-timeout: answered once the import is done, past
// connect-timeout (mod_wsgi: 200; gowsgi answered 503 at connect-timeout).
func checkSlowImportWaited(t *testing.T, module Module, mpm string) {
	r, took, _ := slowStart(t, module, mpm, "connect-timeout=1", "/slow")
	require.Equal(t, 200, r.Status, "%s: %s", module, r)
	assert.Greater(t, took, 1500*time.Millisecond, "%s: the request waited past connect-timeout for the import", module)
	assert.Less(t, took, 6*time.Second, "%s: answered when the import was done", module)
}

// Past socket-timeout: 504 with mod_wsgi's words, at socket-timeout.
func checkSlowImportTimedOut(t *testing.T, module Module, mpm string) {
	r, took, a := slowStart(t, module, mpm, "socket-timeout=2 connect-timeout=1", "/slow")
	require.Equal(t, 504, r.Status, "%s: %s", module, r)
	assert.Greater(t, took, 1500*time.Millisecond, "%s: not before socket-timeout", module)
	assert.Less(t, took, 3500*time.Millisecond, "%s: at socket-timeout, not when the import was done", module)
	assert.Contains(t, a.ErrorLogContent(), "Timeout when reading response headers from daemon process 'slow'")
}

// The import (4 s) within socket-timeout=5, then the app 3 s more: past
// socket-timeout from the request's arrival, yet mod_wsgi 4.9.4 answers 200
// at about 7 s (measured): its wait for the response headers is not one
// socket-timeout from arrival. gowsgi bounds it as mod_wsgi does.
func checkSlowImportOneTimeout(t *testing.T, module Module, mpm string) {
	r, took, _ := slowStart(t, module, mpm, "socket-timeout=5 connect-timeout=1", "/slow?sleep=3")
	require.Equal(t, 200, r.Status, "%s: %s", module, r)
	assert.Greater(t, took, 6500*time.Millisecond, "%s: answered when the app was done", module)
	assert.Less(t, took, 9*time.Second, "%s: answered when the app was done", module)
}

func TestDaemon_SlowImportWaited(t *testing.T) {
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) { checkSlowImportWaited(t, targetModule(), mpm) })
}

func TestDaemon_SlowImportBoundedBySocketTimeout(t *testing.T) {
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) { checkSlowImportTimedOut(t, targetModule(), mpm) })
}

func TestDaemon_SlowImportThenSlowApp(t *testing.T) {
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) { checkSlowImportOneTimeout(t, targetModule(), mpm) })
}

// Both modules side by side, the same checks (event only: the MPM does not
// take part in this).
func TestDifferential_DaemonSlowImport(t *testing.T) {
	differentialOnly(t)
	t.Parallel()
	for _, m := range []Module{ModModWsgi, ModGowsgi} {
		m := m
		t.Run(string(m)+"/waited", func(t *testing.T) { t.Parallel(); checkSlowImportWaited(t, m, "event") })
		t.Run(string(m)+"/timed-out", func(t *testing.T) { t.Parallel(); checkSlowImportTimedOut(t, m, "event") })
		t.Run(string(m)+"/then-slow-app", func(t *testing.T) { t.Parallel(); checkSlowImportOneTimeout(t, m, "event") })
	}
}
