package tests

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// apacheChildren are the instance's MPM children: apache2 processes other
// than the parent (daemon processes exec gowsgi-daemon).
func apacheChildren(t *testing.T, a *Apache) []int {
	t.Helper()
	apache, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", a.Pid()))
	require.NoError(t, err)
	var out []int
	for _, pid := range a.ChildPids() {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == apache {
			out = append(out, pid)
		}
	}
	return out
}

// holdsEngine: the process maps libgowsgi.so (and with it libpython).
func holdsEngine(pid int) bool { return strings.Contains(mapsOf(pid), "/libgowsgi.so") }

// A server with daemon groups: its children load the engine at their first
// embedded request, not at start, so that a child which only forwards holds
// no libpython, Go or Python. Without daemon groups they load it at start,
// as before.
func TestGowsgiOnly_ChildrenLoadEngineAtFirstEmbeddedRequest(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		spec, _ := withDaemonUsers(t, ServerSpec{MPM: mpm, Snippet: `
WSGIDaemonProcess d1 user=@ALICE@ group=@ALICE@ threads=2
WSGIScriptAlias /d1 @APPS@/daemon/probe.wsgi process-group=d1
WSGIScriptAlias /emb @APPS@/daemon/probe.wsgi
`}, "alice")
		a := StartApache(t, spec)
		for i := 0; i < 4; i++ {
			assert.Equal(t, "d1", getFacts(t, a.URL("/d1"), nil).Environ["mod_wsgi.process_group"])
		}
		children := apacheChildren(t, a)
		require.NotEmpty(t, children)
		for _, pid := range children {
			assert.False(t, holdsEngine(pid), "child %d loaded the engine before any embedded request", pid)
		}

		// The first embedded requests, at once: one thread loads, the
		// others wait for it.
		facts := make([]probeFacts, 8)
		var wg sync.WaitGroup
		for i := range facts {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				facts[i] = getFacts(t, a.URL("/emb"), nil)
			}(i)
		}
		wg.Wait()
		for _, f := range facts {
			assert.Equal(t, "", f.Environ["mod_wsgi.process_group"], "served embedded")
			assert.True(t, holdsEngine(f.Pid), "child %d served an embedded request without the engine mapped", f.Pid)
		}
		assert.NotContains(t, a.ErrorLogContent(), "could not start in this child")

		eager := StartApache(t, ServerSpec{MPM: mpm, Snippet: "WSGIScriptAlias /emb @APPS@/daemon/probe.wsgi\n"})
		waitChildrenHoldEngine(t, eager, "without daemon groups")
		assert.Equal(t, "", getFacts(t, eager.URL("/emb"), nil).Environ["mod_wsgi.process_group"])
	})
}

// A hook script runs in the children from their first request: they load
// the engine at start even with daemon groups.
func TestGowsgiOnly_ChildrenLoadEngineAtStartForHookScripts(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	spec, _ := withDaemonUsers(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess d1 user=@ALICE@ group=@ALICE@ threads=2
WSGIScriptAlias /d1 @APPS@/daemon/probe.wsgi process-group=d1
<Location /d1>
    WSGIAccessScript @APPS@/hooks/access.py
</Location>
`}, "alice")
	a := StartApache(t, spec)
	waitChildrenHoldEngine(t, a, "with a hook script")
}

// waitChildrenHoldEngine waits (10 s at most) until every MPM child of a
// maps the engine, with no request to load it.
func waitChildrenHoldEngine(t *testing.T, a *Apache, why string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		kids := apacheChildren(t, a)
		loaded := 0
		for _, pid := range kids {
			if holdsEngine(pid) {
				loaded++
			}
		}
		if len(kids) > 0 && loaded == len(kids) {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s every child loads the engine at start (%d of %d did)", why, loaded, len(kids))
		time.Sleep(50 * time.Millisecond)
	}
}
