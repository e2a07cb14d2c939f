package tests

// WSGIDaemonProcess options beyond the basics: script-user= (checked against
// mod_wsgi), eviction with SIGUSR1 and cpu-time-limit (gowsgi).

import (
	"encoding/json"
	"fmt"
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
	assert.Contains(t, lines, "SIGUSR1 (an eviction): drained")
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

// stack-size, send-buffer-size and receive-buffer-size reach the threads
// and sockets they name; deadlock-timeout ends a process whose GIL is held
// for good; startup-timeout replaces a process whose script keeps failing.
func TestDaemonBeyond_ThreadAndSocketOptions(t *testing.T) {
	gowsgiOnly(t)
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess tuned threads=1 stack-size=524288 send-buffer-size=65536 receive-buffer-size=32768
WSGIDaemonProcess stuck threads=1 deadlock-timeout=2
WSGIDaemonProcess broken threads=1 startup-timeout=1
WSGIScriptAlias /tuned @APPS@/daemon/probe.wsgi process-group=tuned
WSGIScriptAlias /stuck @APPS@/daemon/probe.wsgi process-group=stuck
WSGIScriptAlias /broken @ROOT@/scratch/broken.wsgi process-group=broken
<Directory @ROOT@/scratch>
    Require all granted
</Directory>
`, Files: map[string]string{"scratch/broken.wsgi": "raise RuntimeError('this script never loads')\n"}})

	var stack struct {
		Size int `json:"stack_size"`
	}
	r := Get(t, a.URL("/tuned?op=stack"))
	require.Equal(t, 200, r.Status, "%s", r)
	require.NoError(t, json.Unmarshal([]byte(r.Body), &stack))
	assert.Equal(t, 524288, stack.Size, "the worker thread's stack is stack-size")

	var bufs struct {
		Bufs [][2]int `json:"bufs"`
	}
	r = Get(t, a.URL("/tuned?op=sockbufs"))
	require.NoError(t, json.Unmarshal([]byte(r.Body), &bufs))
	// This request's connection, and any the daemon kept from earlier ones.
	require.NotEmpty(t, bufs.Bufs)
	for _, b := range bufs.Bufs {
		assert.Equal(t, [2]int{2 * 65536, 2 * 32768}, b, "the kernel doubles what is set")
	}

	f := getFacts(t, a.URL("/stuck"), nil)
	mark := markLog(a)
	t0 := time.Now()
	r, err := doReq(longClient, "GET", a.URL("/stuck?op=holdgil&s=20"), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 500, r.Status)
	assert.Less(t, time.Since(t0), 8*time.Second)
	assert.Contains(t, strings.Join(mark.waitRaw("deadlock-timeout=2 exceeded", 5*time.Second), "\n"),
		fmt.Sprintf("(pid %d) exited with status 0 (deadlock-timeout=2 exceeded: the Python GIL could not be taken", f.Pid))

	mark = markLog(a)
	assert.Equal(t, 500, Get(t, a.URL("/broken")).Status)
	time.Sleep(1500 * time.Millisecond)
	assert.Equal(t, 500, Get(t, a.URL("/broken")).Status)
	assert.Contains(t, strings.Join(mark.waitRaw("startup-timeout=1 exceeded", 5*time.Second), "\n"),
		"startup-timeout=1 exceeded: a script has failed to load")
}

// inactivity-timeout restarts an idle process; requests under
// WSGIIgnoreActivity On (health checks) do not count as activity.
func TestDaemon_IgnoreActivity(t *testing.T) {
	gowsgiOnly(t)
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess idle threads=2 inactivity-timeout=2
WSGIScriptAlias /idle @APPS@/daemon/probe.wsgi process-group=idle
WSGIScriptAlias /health @APPS@/daemon/probe.wsgi process-group=idle
<Location /health>
    WSGIIgnoreActivity On
</Location>
`})
	first := getFacts(t, a.URL("/idle"), nil)
	mark := markLog(a)
	// Health checks every 0.4 s for 3.6 s: the process still goes idle.
	for i := 0; i < 9; i++ {
		require.Equal(t, 200, Get(t, a.URL("/health")).Status)
		time.Sleep(400 * time.Millisecond)
	}
	lines := strings.Join(mark.waitRaw("inactivity-timeout=2 reached", 3*time.Second), "\n")
	assert.Contains(t, lines, fmt.Sprintf("(pid %d) exited with status 0 (inactivity-timeout=2 reached)", first.Pid))
}

// A group whose processes cannot start (here: a python-home that does not
// exist) says why and retries no faster than every few seconds; the rest of
// the server goes on.
func TestDaemon_BrokenGroupBacksOff(t *testing.T) {
	gowsgiOnly(t)
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess broken threads=1 python-home=/nonexistent/venv connect-timeout=1
WSGIScriptAlias /broken @APPS@/daemon/probe.wsgi process-group=broken
WSGIDaemonProcess crashy threads=1
WSGIImportScript @ROOT@/scratch/crash.py process-group=crashy application-group=%{GLOBAL}
WSGIScriptAlias /emb @APPS@/env.wsgi
`, Files: map[string]string{"scratch/crash.py": "import signal, threading\n# Directed at this thread: a process-directed SIGSEGV may be taken by\n# another thread while this import finishes and the process becomes ready.\nsignal.pthread_kill(threading.get_ident(), signal.SIGSEGV)\n"}})
	time.Sleep(500 * time.Millisecond) // the first process has tried and failed
	r := Get(t, a.URL("/broken"))
	assert.Equal(t, 503, r.Status, "no process of the group can take it")
	assert.Regexp(t, `no process of the group has been ready within connect-timeout=1; process \d+:? (exited with status 1 \()?Python could not start`,
		a.ErrorLogContent(), "the 503 says why")
	assert.Equal(t, 200, Get(t, a.URL("/emb")).Status, "the rest of the server works")
	time.Sleep(6 * time.Second)
	log := a.ErrorLogContent()
	assert.Contains(t, log, "daemon process group 'broken' could not start Python")
	starts := strings.Count(log, "started daemon process 0 of group 'broken'")
	assert.GreaterOrEqual(t, starts, 1)
	assert.LessOrEqual(t, starts, 3, "a broken group is retried every 5 s, not in a fork loop")
	crashes := strings.Count(log, "of group 'crashy'")
	assert.Contains(t, log, "the last one died while starting; waiting 5 seconds first", "a crash at start-up backs off")
	assert.LessOrEqual(t, strings.Count(log, "started daemon process 0 of group 'crashy'"), 3, "no fork loop: %d lines", crashes)
	_, err := os.Stat(a.Root + "/run/httpd.pid")
	assert.NoError(t, err, "a failing daemon does not remove the server's pid file")
}
