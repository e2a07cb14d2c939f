package tests

// Daemon processes over the server's life: a daemon killed with SIGKILL is
// replaced, the Apache parent stays free of Python (gowsgi), and stopping
// Apache ends every daemon.

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const daemonLifecycleSnippet = `
WSGISocketPrefix @ROOT@/run/wsgi
WSGIDaemonProcess solo user=@ALICE@ group=@ALICE@ threads=2 display-name=%{GROUP}
WSGIDaemonProcess pair user=@BOB@ group=@BOB@ processes=2 threads=2
WSGIScriptAlias /solo @APPS@/daemon/probe.wsgi process-group=solo
WSGIScriptAlias /pair @APPS@/daemon/probe.wsgi process-group=pair
`

func TestDaemon_Lifecycle(t *testing.T) {
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		spec, users := withDaemonUsers(t, ServerSpec{MPM: mpm, Snippet: daemonLifecycleSnippet}, "alice", "bob")
		a := StartApache(t, spec)
		alice, bob := users["alice"], users["bob"]
		requireReadableBy(t, alice, probeScript())
		requireReadableBy(t, bob, probeScript())

		// 8. SIGKILL a daemon: the parent notices, logs it and forks a
		// new one; the next requests succeed.
		t.Run("killed daemon is replaced", func(t *testing.T) {
			old := getFacts(t, a.URL("/solo"), nil)
			require.Equal(t, alice.UID, old.UID)
			mark := markLog(a)
			require.NoError(t, syscall.Kill(old.Pid, syscall.SIGKILL))
			start := time.Now()
			// kill() returns before the process is gone: until its last
			// thread has exited (after the leader is a zombie), one woken by
			// the signal may still take a request off the channel, or an
			// Apache thread may send one on a connection the process kept,
			// and it dies with it (that request is the killed process's,
			// and lost, as under mod_wsgi). The parent's record of the
			// death comes once it is all gone.
			waitExited(t, old.Pid, 5*time.Second)
			mark.waitRaw(fmt.Sprintf("(pid %d) was killed by signal 9", old.Pid), 5*time.Second)
			// the very next request must succeed (it may wait for the new
			// daemon), with a new pid
			client := &http.Client{Timeout: 10 * time.Second}
			var nf probeFacts
			for {
				r, err := doReq(client, "GET", a.URL("/solo"), nil, nil)
				require.NoError(t, err, "request after the kill")
				require.Equal(t, 200, r.Status, "request after the kill: %s", r)
				nf = decodeFacts(t, r.Body)
				if nf.Pid != old.Pid || time.Since(start) > 10*time.Second {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			elapsed := time.Since(start)
			assert.NotEqual(t, old.Pid, nf.Pid, "a new daemon serves the group")
			assert.Less(t, elapsed, 5*time.Second, "the replacement answered within a few seconds")
			assert.Equal(t, alice.UID, nf.UID, "the replacement runs as the group's user")
			assert.Equal(t, a.Pid(), nf.Ppid, "the replacement is a child of the Apache parent")
			assert.Equal(t, "solo", nf.Environ["mod_wsgi.process_group"])
			for i := 0; i < 5; i++ {
				assert.Equal(t, 200, Get(t, a.URL("/solo")).Status, "requests after the replacement")
			}

			if a.Spec.Module == ModModWsgi {
				// mod_wsgi 4.9.4 logs these at info level, the dead
				// daemon's pid in the message, the parent's in the prefix.
				wants := []string{
					fmt.Sprintf("mod_wsgi (pid=%d): Process 'solo' has died, deregister and restart it.", old.Pid),
					fmt.Sprintf("mod_wsgi (pid=%d): Process 'solo' terminated by signal 9", old.Pid),
					fmt.Sprintf("mod_wsgi (pid=%d): Process 'solo' has been deregistered and will no longer be monitored.", old.Pid),
					fmt.Sprintf("mod_wsgi (pid=%d): Starting process 'solo' with uid=%d, gid=%d and threads=2.", nf.Pid, alice.UID, alice.GID),
				}
				raw := waitRawLines(mark, 5*time.Second, wants...)
				for _, want := range wants {
					assert.Contains(t, raw, want, "error log after the kill:\n%s", raw)
				}
				assert.Contains(t, raw, fmt.Sprintf("[wsgi:info] [pid %d", a.Pid()), "the parent logs the death")
			}
			// Either module (gowsgi words it its own way): a line names the
			// group and the dead pid and says it died, and a line names the
			// group and the new pid and says it started.
			var died, started string
			for deadline := time.Now().Add(5 * time.Second); (died == "" || started == "") && time.Now().Before(deadline); {
				for _, l := range mark.raw() {
					ll := strings.ToLower(l)
					if !strings.Contains(l, "'solo'") {
						continue
					}
					if strings.Contains(l, strconv.Itoa(old.Pid)) && (strings.Contains(ll, "died") ||
						strings.Contains(ll, "killed") || strings.Contains(ll, "terminated") || strings.Contains(ll, "signal 9")) {
						died = l
					}
					if strings.Contains(l, strconv.Itoa(nf.Pid)) && strings.Contains(ll, "start") {
						started = l
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			log := strings.Join(mark.raw(), "\n")
			assert.NotEmpty(t, died, "a line naming group 'solo' and pid %d saying it died:\n%s", old.Pid, log)
			assert.NotEmpty(t, started, "a line naming group 'solo' and the new pid %d saying it started:\n%s", nf.Pid, log)
			assert.Empty(t, crashLines(strings.Join(mark.raw(), "\n")), "no Apache child died")
		})

		// 9 (gowsgi only). The Apache parent forks daemons, so it must
		// hold no Python and no Go: no libpython or libgowsgi mapped, one
		// thread. (mod_wsgi links libpython into the parent.)
		t.Run("parent holds no Python or Go", func(t *testing.T) {
			if a.Spec.Module != ModGowsgi {
				t.Skip("gowsgi-only: mod_wsgi loads libpython into the Apache parent")
			}
			// daemon groups are running
			require.Equal(t, bob.UID, getFacts(t, a.URL("/pair"), nil).UID)
			maps := mustReadFile(t, fmt.Sprintf("/proc/%d/maps", a.Pid()))
			assert.NotContains(t, maps, "libpython", "libpython mapped in the Apache parent")
			assert.NotContains(t, maps, "libgowsgi", "libgowsgi mapped in the Apache parent")
			assert.Equal(t, "1", procStatusField(a.Pid(), "Threads"), "threads in the Apache parent")
		})

		// 9. Stopping Apache ends every daemon.
		t.Run("stop ends every daemon", func(t *testing.T) {
			require.Equal(t, bob.UID, getFacts(t, a.URL("/pair"), nil).UID)
			before := map[int][]int{alice.UID: processesOfUID(alice.UID), bob.UID: processesOfUID(bob.UID)}
			require.Len(t, before[bob.UID], 2, "group pair's two daemons are running")
			require.NoError(t, a.Stop())
			for uid, pids := range before {
				left := waitNoProcessesOf(uid, 3*time.Second)
				assert.Empty(t, left, "processes of uid %d left after the stop (before: %v)", uid, pids)
				for _, p := range left {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			}
			_, err := os.Stat(fmt.Sprintf("/proc/%d", a.Pid()))
			assert.True(t, os.IsNotExist(err), "the Apache parent is gone")
			assertNoShutdownCrash(t, a)
		})
	})
}

// waitRawLines polls until every needle is in the error-log lines written
// since the mark (or the timeout passes) and returns those lines joined.
func waitRawLines(m logMark, timeout time.Duration, needles ...string) string {
	deadline := time.Now().Add(timeout)
	for {
		raw := strings.Join(m.raw(), "\n")
		all := true
		for _, n := range needles {
			if !strings.Contains(raw, n) {
				all = false
				break
			}
		}
		if all || time.Now().After(deadline) {
			return raw
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitExited waits until pid's threads have all exited: it is a zombie or
// already reaped.
func waitExited(t *testing.T, pid int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return // reaped
		}
		// the state follows the parenthesised command name
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return
		}
		require.True(t, time.Now().Before(deadline), "process %d still running %s after SIGKILL", pid, timeout)
		time.Sleep(2 * time.Millisecond)
	}
}
