package tests

// WSGIDaemonProcess options beyond the basics: script-user= (checked against
// mod_wsgi), eviction with SIGUSR1 and cpu-time-limit (gowsgi).

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const scriptUserSnippet = `
WSGISocketPrefix @ROOT@/run/wsgi
WSGIDaemonProcess owned user=@ALICE@ group=@ALICE@ threads=2 script-user=@ALICE@
WSGIScriptAlias /mine @ROOT@/mine/app.wsgi process-group=owned
WSGIScriptAlias /theirs @ROOT@/theirs/app.wsgi process-group=owned
<Directory @ROOT@/mine>
    Require all granted
</Directory>
<Directory @ROOT@/theirs>
    Require all granted
</Directory>
`

// script-user=: the group runs only scripts its user owns, in a directory
// it owns, neither writable by group or world; anything else is a 403.
func TestDaemon_ScriptUser(t *testing.T) {
	t.Parallel()
	probe, err := os.ReadFile(probeScript())
	require.NoError(t, err)
	spec, users := withDaemonUsers(t, ServerSpec{MPM: "event", Snippet: scriptUserSnippet, Setup: func(root string) error {
		for _, d := range []string{"mine", "theirs"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(root, d, "app.wsgi"), probe, 0o644); err != nil {
				return err
			}
		}
		return nil
	}}, "alice")
	spec.Setup = chainSetup(spec.Setup, func(root string) error {
		// mine: alice's; theirs: root's (as written).
		u, err := lookupUID(daemonUserName(t, "alice"))
		if err != nil {
			return err
		}
		for _, p := range []string{filepath.Join(root, "mine"), filepath.Join(root, "mine", "app.wsgi")} {
			if err := os.Chown(p, u, -1); err != nil {
				return err
			}
		}
		return nil
	})
	a := StartApache(t, spec)
	require.NotNil(t, users["alice"])

	f := getFacts(t, a.URL("/mine"), nil)
	assert.Equal(t, users["alice"].UID, f.UID, "a script the group's user owns runs")

	mark := markLog(a)
	r := Get(t, a.URL("/theirs"))
	assert.Equal(t, 403, r.Status)
	assert.Contains(t, strings.Join(mark.waitRaw("does not match required user", 3*time.Second), "\n"),
		"Owner of WSGI script file does not match required user for daemon process, user=root")

	// Writable by group: refused too.
	require.NoError(t, os.Chmod(filepath.Join(a.Root, "mine", "app.wsgi"), 0o664))
	mark = markLog(a)
	assert.Equal(t, 403, Get(t, a.URL("/mine")).Status)
	assert.Contains(t, strings.Join(mark.waitRaw("writable", 3*time.Second), "\n"), "WSGI script file is writable to group")
}

// A daemon process sent SIGUSR1 (mod_wsgi's "eviction") makes way: it
// finishes what it serves, exits, and a new process takes over.
func TestDaemonBeyond_Eviction(t *testing.T) {
	gowsgiOnly(t)
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess ev threads=2 eviction-timeout=5
WSGIScriptAlias /ev @APPS@/daemon/probe.wsgi process-group=ev
`})
	old := getFacts(t, a.URL("/ev"), nil)
	mark := markLog(a)
	require.NoError(t, syscall.Kill(old.Pid, syscall.SIGUSR1))
	lines := strings.Join(mark.waitRaw("starting a new one", 10*time.Second), "\n")
	assert.Contains(t, lines, "SIGUSR1 (a graceful restart or an eviction): drained")
	deadline := time.Now().Add(10 * time.Second)
	var f probeFacts
	for time.Now().Before(deadline) {
		f = getFacts(t, a.URL("/ev"), nil)
		if f.Pid != old.Pid {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	assert.NotEqual(t, old.Pid, f.Pid, "a new process serves the group")
}

// chainSetup runs first, then then, as one ServerSpec.Setup.
func chainSetup(first, then func(root string) error) func(root string) error {
	return func(root string) error {
		if first != nil {
			if err := first(root); err != nil {
				return err
			}
		}
		return then(root)
	}
}

func lookupUID(name string) (int, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(u.Uid)
}
