package tests

// A tenant's process holds nothing of another tenant (ARCHITECTURE.md
// section 7; issue 14 item 5). Tenant B's daemon scans its own memory and
// descriptors for tenant A's SetEnv secret, A's vhost configuration text
// and the main and A's log files: an isolated daemon (the launcher exec'ed
// after the fork) holds none of them. The same scan in a group of B's
// that still runs in a fork of Apache's parent (server-metrics=On) finds
// them, so the scan can fail; and B's own SetEnv secret, which reaches B
// in the request's environ, is found by both (the scan works).

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const daemonIsolationSnippet = `
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName a.example
    ServerAlias @AHOST@
    ErrorLog @ROOT@/a_error.log
    CustomLog @ROOT@/a_access.log common
    SetEnv TENANT_A_PASSWORD @ASECRET@
    WSGIDaemonProcess @AGROUP@ user=@ALICE@ group=@ALICE@ threads=2
    WSGIScriptAlias / @APPS@/daemon/probe.wsgi process-group=@AGROUP@
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName b.example
    ErrorLog @ROOT@/b_error.log
    CustomLog @ROOT@/b_access.log common
    SetEnv TENANT_B_PASSWORD @BSECRET@
    WSGIDaemonProcess bgroup user=@BOB@ group=@BOB@ threads=2
    WSGIDaemonProcess bforked user=@BOB@ group=@BOB@ threads=2 server-metrics=On
    WSGIScriptAlias /forked @APPS@/daemon/intruder.wsgi process-group=bforked
    WSGIScriptAlias / @APPS@/daemon/intruder.wsgi process-group=bgroup
</VirtualHost>
`

func randomText(t *testing.T, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// splitNeedle gives a needle as two hex halves that the app never joins.
func splitNeedle(s string) string {
	h := len(s) / 2
	return hex.EncodeToString([]byte(s[:h])) + "." + hex.EncodeToString([]byte(s[h:]))
}

type scanResult struct {
	Pid     int                 `json:"pid"`
	Exe     string              `json:"exe"`
	Found   map[string][]string `json:"found"`
	Scanned int64               `json:"scanned"`
	Fds     map[string]string   `json:"fds"`
}

func TestDaemon_TenantHoldsNothingOfAnother(t *testing.T) {
	if targetModule() != ModGowsgi {
		t.Skip("gowsgi goes beyond mod_wsgi here (mod_wsgi's daemons hold every vhost's configuration)")
	}
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		aSecret := "tenant-a-" + randomText(t, 12)
		bSecret := "tenant-b-" + randomText(t, 12)
		aHost := "only-a-" + randomText(t, 8) + ".example"
		aGroup := "agroup-" + randomText(t, 8)
		snippet := strings.NewReplacer("@ASECRET@", aSecret, "@BSECRET@", bSecret, "@AHOST@", aHost,
			"@AGROUP@", aGroup).Replace(daemonIsolationSnippet)
		spec, users := withDaemonUsers(t, ServerSpec{MPM: mpm, Snippet: snippet, ExtraPort: true}, "alice", "bob")
		a := StartApache(t, spec)
		requireReadableBy(t, users["alice"], probeScript())
		requireReadableBy(t, users["bob"], filepath.Join(appsDir(), "daemon", "intruder.wsgi"))
		fa := getFacts(t, fmt.Sprintf("http://127.0.0.1:%d/x", a.Port2), map[string]string{"Host": "a.example"})
		require.NotZero(t, fa.Pid)
		inA := socketInodes(fa.Pid)

		query := "op=scan&a_secret=" + splitNeedle(aSecret) + "&a_config=" + splitNeedle(aHost) +
			"&a_group=" + splitNeedle(aGroup) + "&b_secret=" + splitNeedle(bSecret)
		scan := func(path string) scanResult {
			r := Do(t, "GET", fmt.Sprintf("http://127.0.0.1:%d%s?%s", a.Port2, path, query), nil, map[string]string{"Host": "b.example"})
			require.Equal(t, 200, r.Status, r.String())
			var res scanResult
			require.NoError(t, json.Unmarshal([]byte(r.Body), &res), r.Body)
			require.Greater(t, res.Scanned, int64(1<<20), "the scan read the process's memory")
			return res
		}
		otherLogs := []string{a.ErrorLog, filepath.Join(a.Root, "a_error.log"), filepath.Join(a.Root, "access.log"),
			filepath.Join(a.Root, "a_access.log"), filepath.Join(a.Root, "b_access.log")}
		heldLogs := func(res scanResult) []string {
			var held []string
			for fd, target := range res.Fds {
				for _, l := range otherLogs {
					if target == l {
						held = append(held, fd+" -> "+l)
					}
				}
			}
			return held
		}

		t.Run("isolated daemon", func(t *testing.T) {
			res := scan("/x")
			t.Logf("group B's daemon (pid %d, %s) descriptors: %v", res.Pid, res.Exe, res.Fds)
			launcher := serverLauncher(t) // the server's Python (tests/daemon_launchers_test.go)
			if groupPy != nil {
				launcher = "gowsgi-daemon" // another Python's: loaded by the launcher
			}
			assert.Equal(t, launcher, filepath.Base(res.Exe), "the daemon runs the launcher's image")
			assert.NotEmpty(t, res.Found["b_secret"], "the scan finds B's own SetEnv secret (in its request)")
			assert.Empty(t, res.Found["a_secret"], "tenant A's SetEnv secret in B's memory")
			assert.Empty(t, res.Found["a_config"], "tenant A's vhost configuration in B's memory")
			assert.Empty(t, res.Found["a_group"], "tenant A's daemon group (its name) in B's memory")
			assert.Empty(t, heldLogs(res), "B's daemon holds another log")
			assert.Equal(t, filepath.Join(a.Root, "b_error.log"), res.Fds["2"], "stderr is B's own error log")
			for fd, target := range res.Fds {
				if strings.HasPrefix(target, "socket:[") {
					ino := strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")
					assert.False(t, inA[ino], "descriptor %s of B's daemon is a socket A's daemon holds", fd)
				}
			}
		})

		t.Run("a fork of Apache's parent holds them (the scan can fail)", func(t *testing.T) {
			res := scan("/forked/x")
			assert.False(t, strings.HasPrefix(filepath.Base(res.Exe), "gowsgi-daemon"), res.Exe)
			assert.NotEmpty(t, res.Found["b_secret"])
			assert.NotEmpty(t, res.Found["a_secret"], "a forked daemon holds A's SetEnv secret")
			assert.NotEmpty(t, res.Found["a_config"], "a forked daemon holds A's configuration")
			assert.NotEmpty(t, res.Found["a_group"], "a forked daemon holds A's group")
			assert.NotEmpty(t, heldLogs(res), "a forked daemon holds other logs")
			t.Logf("found in the forked daemon: %v; logs: %v", res.Found, heldLogs(res))
			// said at start-up, in the log of the vhost that defines it
			assert.Contains(t, mustReadFile(t, filepath.Join(a.Root, "b_error.log")),
				"daemon process group 'bforked' has server-metrics=On")
		})
	})
}

const daemonSharedSnippet = `
WSGIDaemonProcess launched user=@BOB@ group=@BOB@ threads=2
WSGIDaemonProcess forked user=@BOB@ group=@BOB@ threads=2 server-metrics=On
WSGIScriptAlias /forked @APPS@/daemon/intruder.wsgi process-group=forked
WSGIScriptAlias /launched @APPS@/daemon/intruder.wsgi process-group=launched
`

// fGetSeals is F_GET_SEALS (linux/fcntl.h), absent from package syscall.
const fGetSeals = 1034

// The group's shared records are a memfd that Apache's parent and children
// map: were it shrunk, every access past its new end would SIGBUS in all of
// them. Its size is sealed, and no daemon process that runs tenant code
// holds its descriptor (a forked one closes it, a launched one closes it
// once mapped): the tenant looks for it among its descriptors and tries
// to truncate it, and the server keeps serving. The parent's descriptor is
// checked directly: sealed against shrinking, growing and unsealing.
func TestDaemon_TenantCannotShrinkSharedRecords(t *testing.T) {
	if targetModule() != ModGowsgi {
		t.Skip("gowsgi's shared records")
	}
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		spec, users := withDaemonUsers(t, ServerSpec{MPM: mpm, Snippet: daemonSharedSnippet}, "bob")
		a := StartApache(t, spec)
		requireReadableBy(t, users["bob"], filepath.Join(appsDir(), "daemon", "intruder.wsgi"))
		for _, path := range []string{"/forked", "/launched"} {
			r := Get(t, a.URL(path+"/x?op=shrink"))
			require.Equal(t, 200, r.Status, r.String())
			var res struct {
				Pid  int               `json:"pid"`
				Held map[string]string `json:"held"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.Body), &res), r.Body)
			for fd, what := range res.Held {
				assert.Equal(t, "refused: EPERM", what, "%s: the tenant's descriptor %s of the shared records", path, fd)
			}
			assert.Empty(t, res.Held, "%s: the tenant's process holds the group's shared records' descriptor", path)
		}
		// The parent's own descriptors: sealed.
		dir := fmt.Sprintf("/proc/%d/fd", a.Pid())
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		sealed := 0
		for _, e := range ents {
			target, err := os.Readlink(filepath.Join(dir, e.Name()))
			if err != nil || !strings.Contains(target, "memfd:gowsgi-daemon-group") {
				continue
			}
			f, err := os.OpenFile(filepath.Join(dir, e.Name()), os.O_RDWR, 0)
			require.NoError(t, err)
			seals, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fGetSeals, 0)
			require.Zero(t, errno, "F_GET_SEALS")
			const shrink, grow, seal = 0x2, 0x4, 0x1
			assert.Equal(t, uintptr(shrink|grow|seal), seals&(shrink|grow|seal), "seals of %s", target)
			assert.Equal(t, syscall.EPERM, syscall.Ftruncate(int(f.Fd()), 0), "truncating %s", target)
			f.Close()
			sealed++
		}
		assert.Equal(t, 2, sealed, "the parent's shared records, one per group")
		for _, path := range []string{"/forked", "/launched"} {
			r := Get(t, a.URL(path+"/x?op=shrink"))
			assert.Equal(t, 200, r.Status, "still served: %s", r.String())
		}
		assert.NotContains(t, a.ErrorLogContent(), "Bus error")
	})
}

// A launched process that cannot start (here: its engine is missing) says
// why in its vhost's log, with the group and its pid, and waits before it
// exits, so a broken group does not become a fork loop.
func TestDaemon_LauncherSetupFailure(t *testing.T) {
	if targetModule() != ModGowsgi {
		t.Skip("gowsgi's launcher")
	}
	t.Parallel()
	// The engine the group's Python needs: the server's is only looked for
	// when a process starts; another Python's must be a file at configtest
	// (a group Python, GOWSGI_TEST_GROUP_PYTHON), so it is one that is no
	// engine.
	engine, setup := "libgowsgi.so", func(string) error { return nil }
	if groupPy != nil && groupPy.Tag != serverPythonTag() { // Debian 13's round on 3.13 is the server's
		engine = "libgowsgi-" + groupPy.Tag + ".so"
		setup = func(root string) error { return writeFile(filepath.Join(root, "missing", engine), "") }
	}
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Setup: setup, Snippet: `
GoWSGILibrary @ROOT@/missing/libgowsgi.so
WSGIRestrictEmbedded On
WSGIDaemonProcess broken threads=1 connect-timeout=2
WSGIScriptAlias /b @APPS@/env.wsgi process-group=broken
`})
		start := time.Now()
		r := Get(t, a.URL("/b"))
		assert.Equal(t, 503, r.Status, r.String())
		want := "gowsgi: daemon process 0 of group 'broken' (pid "
		log := WaitLog(t, a, 5*time.Second, want)
		assert.Regexp(t, `\[gowsgi:crit\] \[pid (\d+)[^\]]*\] GW\d{4}: gowsgi: daemon process 0 of group 'broken' \(pid \d+\) could not start: cannot load `+
			regexp.QuoteMeta(filepath.Join(a.Root, "missing", engine))+`: .*; retrying in 5 seconds`, log)
		// The cause reaches the request's log line too (the process's own word).
		assert.Contains(t, log, "could not start: cannot load")
		// No fork loop: a process every 5 s at most.
		time.Sleep(time.Until(start.Add(7 * time.Second)))
		started := strings.Count(a.ErrorLogContent(), "started daemon process 0 of group 'broken'")
		assert.LessOrEqual(t, started, 3, "processes started in 7 s")
	})
}

// A process that waits out a back-off (the last one of its group died while
// starting) says so in its slot, launched or forked alike: a request does
// not wait for it until socket-timeout (504) but is answered 503 at
// connect-timeout, and the 503's log line gives the cause.
func TestDaemon_BackoffAnswers503AtConnectTimeout(t *testing.T) {
	if targetModule() != ModGowsgi {
		t.Skip("gowsgi's back-off")
	}
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: `
WSGIDaemonProcess launched threads=1 connect-timeout=1 socket-timeout=20
WSGIImportScript @ROOT@/scratch/crash.py process-group=launched application-group=%{GLOBAL}
WSGIScriptAlias /launched @APPS@/daemon/probe.wsgi process-group=launched
WSGIDaemonProcess forked threads=1 connect-timeout=1 socket-timeout=20 server-metrics=On
WSGIImportScript @ROOT@/scratch/crash.py process-group=forked application-group=%{GLOBAL}
WSGIScriptAlias /forked @APPS@/daemon/probe.wsgi process-group=forked
`, Files: map[string]string{"scratch/crash.py": "import signal, threading\n# Directed at this thread: a process-directed SIGSEGV may be taken by\n# another thread while this import finishes and the process becomes ready.\nsignal.pthread_kill(threading.get_ident(), signal.SIGSEGV)\n"}})
		for _, group := range []string{"launched", "forked"} {
			// A back-off of this group begins (it lasts 5 s).
			mark := markLog(a)
			backoff := regexp.MustCompile(`of group '` + group + `' \(pid \d+\): the last one died while starting; waiting 5 seconds first`)
			deadline := time.Now().Add(12 * time.Second)
			for !backoff.MatchString(strings.Join(mark.raw(), "\n")) {
				require.True(t, time.Now().Before(deadline), "%s: no back-off began", group)
				time.Sleep(20 * time.Millisecond)
			}
			start := time.Now()
			r := Get(t, a.URL("/"+group+"/x"))
			took := time.Since(start)
			assert.Equal(t, 503, r.Status, "%s: %s", group, r.String())
			assert.Less(t, took, 3*time.Second, "%s: answered at connect-timeout, not after the back-off", group)
			lines := strings.Join(mark.waitRaw("unable to connect to WSGI daemon process '"+group+"'", 2*time.Second), "\n")
			assert.Regexp(t, `unable to connect to WSGI daemon process '`+group+`': no process of the group has been ready `+
				`within connect-timeout=1; process \d+\D*the last one died while starting; waiting 5 seconds before starting again`,
				lines, "%s: the 503 says why", group)
		}
	})
}
