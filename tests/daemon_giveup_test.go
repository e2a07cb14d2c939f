package tests

// What a child gives up on, or holds when it dies, is given back at once:
// a request answered 504 never runs later, a dead child's tickets are free
// again, and a subrequest does not count against its group's worker share
// a second time (ARCHITECTURE.md section 7).

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func waitFile(t *testing.T, path string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not appear within %s", path, within)
}

// A request that timed out waiting for the group's one thread is never run
// once the thread frees up, even while its Apache worker is still busy with
// the request (here: an ErrorDocument for the 504 that waits at a gate, so
// the request's pool stays alive, which is when the ticket used to be
// freed). Exact: the group has one process and one thread, and a request
// sent after the gate opened is answered only after the daemon has dealt
// with the timed-out one (its channel is first in, first out).
func TestDaemon_GivenUpNeverRuns(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: `
WSGIDaemonProcess one processes=1 threads=1 socket-timeout=2 connect-timeout=30
WSGIScriptAlias /one @APPS@/daemon/gate.wsgi process-group=one application-group=%{GLOBAL}
WSGIScriptAlias /late @APPS@/daemon/gate.wsgi process-group=one application-group=%{GLOBAL}
WSGIDaemonProcess edoc threads=2
WSGIScriptAlias /edoc @APPS@/daemon/gate.wsgi process-group=edoc application-group=%{GLOBAL}
<Location /late>
    ErrorDocument 504 /edoc?dir=@ROOT@/scratch/ed&tok=ed&max=30
</Location>
`})
		dir := filepath.Join(a.Root, "scratch")
		ed := filepath.Join(dir, "ed")
		require.NoError(t, os.Mkdir(ed, 0o777))
		require.NoError(t, os.Chmod(ed, 0o777))
		client := noKeepAlive(60 * time.Second)
		// The one thread, held at the gate (its client gets a 504 after
		// socket-timeout; the app holds the thread on).
		held := make(chan gateResult, 1)
		go func() {
			r, err := doReq(client, "GET", a.URL("/one?max=30&tok=held&dir="+dir), nil, nil)
			held <- gateResult{status: r.Status, body: r.Body, err: err}
		}()
		waitFile(t, filepath.Join(dir, "in-held"), 15*time.Second)
		// Waits for it, times out: 504, and its ErrorDocument holds on.
		late := make(chan gateResult, 1)
		go func() {
			r, err := doReq(client, "GET", a.URL("/late?max=0&tok=late&dir="+dir), nil, nil)
			late <- gateResult{status: r.Status, body: r.Body, err: err}
		}()
		waitFile(t, filepath.Join(ed, "in-ed"), 15*time.Second)
		// The thread frees up, and takes what the channel has.
		require.NoError(t, os.WriteFile(filepath.Join(dir, "open"), nil, 0o644))
		r := <-held
		require.NoError(t, r.err)
		require.Equal(t, 504, r.status, "%s", r.body)
		after, err := doReq(client, "GET", a.URL("/one?max=0&tok=after&dir="+dir), nil, nil)
		require.NoError(t, err)
		require.Equal(t, 200, after.Status, "%s", after)
		_, err = os.Stat(filepath.Join(dir, "in-late"))
		assert.True(t, os.IsNotExist(err), "the request answered 504 must never run")
		require.NoError(t, os.WriteFile(filepath.Join(ed, "open"), nil, 0o644))
		r = <-late
		require.NoError(t, r.err)
		// The ErrorDocument's own answer (an app's status wins, as a CGI's).
		assert.Equal(t, "released\n", r.body)
		_, err = os.Stat(filepath.Join(dir, "in-late"))
		assert.True(t, os.IsNotExist(err), "the request answered 504 must never run")
	})
}

// mod_include's <!--#include virtual--> inside a response forwarded to a
// group is a subrequest on the same worker: with worker-share=1 it is
// admitted, not refused as a second worker.
func TestFairShare_SubrequestCountedOnce(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: `
LoadModule include_module /usr/lib/apache2/modules/mod_include.so
WSGIDaemonProcess ssi threads=2 worker-share=1
WSGIScriptAlias /ssi @APPS@/daemon/ssi.wsgi process-group=ssi application-group=%{GLOBAL}
<Location /ssi>
    Options +Includes
    SetOutputFilter INCLUDES
</Location>
`})
		r := Get(t, a.URL("/ssi"))
		require.Equal(t, 200, r.Status, "%s", r)
		assert.Equal(t, "before inner after\n", r.Body)
	})
}
