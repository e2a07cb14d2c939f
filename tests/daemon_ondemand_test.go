package tests

// On-demand daemon groups (start=on-demand, WSGIDaemonStart,
// WSGIDaemonStartLimit; cshim/daemon_starter.c): no process until a
// group's first request, which waits while one starts; idle processes
// stop and are not restarted until the next request; a burst of first
// requests starts at most WSGIDaemonStartLimit groups at once; graceful
// restarts, stop, crashes, a killed starter; 1,000 groups in one
// configuration.
//
// Every group has display-name=gwod<port>-<name>, so its processes are
// found by their title (unique to the server: tests run in parallel).

import (
	"fmt"
	"hash/fnv"
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

const odHello = `import os
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'%d' % os.getpid()]
`

// odGroup is a WSGIDaemonProcess and its URL /<name> for the hello app.
func odGroup(name, options string) string {
	return fmt.Sprintf("WSGIDaemonProcess %s threads=2 display-name=gwod@PORT@-%s %s\n"+
		"WSGIScriptAlias /%s @ROOT@/hello.wsgi process-group=%s application-group=%%{GLOBAL}\n",
		name, name, options, name, name)
}

// odProcs are the live processes of group name of server a.
func odProcs(a *Apache, name string) []int {
	return processesMatching(fmt.Sprintf("gwod%d-%s ", a.Port, name))
}

// waitOdProcs waits until group name has n processes, and returns them.
func waitOdProcs(a *Apache, name string, n int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		p := odProcs(a, name)
		if len(p) == n || time.Now().After(deadline) {
			return p
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// starterPids are the server's on-demand starters (by their name in
// /proc/pid/comm, children of Apache's parent: a daemon the starter has
// just forked bears its name until it execs).
func starterPids(a *Apache) []int {
	var out []int
	for _, pid := range a.Processes() {
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil &&
			strings.TrimSpace(string(comm)) == "gowsgi-starter" &&
			procStatusField(pid, "PPid") == strconv.Itoa(a.Pid()) {
			out = append(out, pid)
		}
	}
	return out
}

// waitStarter waits (up to 10 s) until exactly one starter runs and it is
// not pid notPid (0: any), and returns it. The parent logs the fork, and
// Apache says it is ready, before the new starter has named itself: on a
// loaded machine a look straight after a restart may find none yet.
func waitStarter(t *testing.T, a *Apache, notPid int) int {
	t.Helper()
	var seen []int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if seen = starterPids(a); len(seen) == 1 && seen[0] != notPid {
			return seen[0]
		}
	}
	require.Failf(t, "no single new starter", "starters %v (not %d)", seen, notPid)
	return 0
}

func odGet(t *testing.T, a *Apache, name string) (int, time.Duration) {
	t.Helper()
	began := time.Now()
	r := Get(t, a.URL("/"+name))
	took := time.Since(began)
	require.Equal(t, 200, r.Status, "GET /%s: %s", name, r)
	pid, err := strconv.Atoi(r.Body)
	require.NoError(t, err, r.String())
	return pid, took
}

// odUserName is a test user of this test (gwod-<base>-<hash of the test
// name>: unique per test and MPM, the same again after a crashed run).
func odUserName(t *testing.T, base string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(t.Name()))
	return fmt.Sprintf("gwod-%s-%06x", base, h.Sum32()&0xffffff)
}

var coldStartLine = regexp.MustCompile(`cold start of daemon process group '([^']+)' took ([0-9.]+) s`)

// First request starts the group, within 1.5 s; it stops when idle and the
// next request starts it again; an eager group beside it is unaffected.
func TestDaemonOnDemand_StartIdleRestart(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello},
			Snippet: odGroup("eager", "") + odGroup("od", "start=on-demand inactivity-timeout=2")})
		eager := waitOdProcs(a, "eager", 1, 10*time.Second)
		require.Len(t, eager, 1, "the eager group starts with Apache")
		waitStarter(t, a, 0)
		time.Sleep(300 * time.Millisecond)
		assert.Empty(t, odProcs(a, "od"), "no process of an on-demand group before its first request")

		mark := markLog(a)
		pid, took := odGet(t, a, "od")
		t.Logf("%s: first request to a cold on-demand group answered in %.3f s", mpm, took.Seconds())
		assert.Less(t, took, 1500*time.Millisecond, "cold start of a hello app")
		assert.Equal(t, []int{pid}, odProcs(a, "od"), "one process after the first request")
		mark.waitRaw("cold start of daemon process group 'od'", 5*time.Second)
		m := coldStartLine.FindStringSubmatch(strings.Join(mark.raw(), "\n"))
		require.NotNil(t, m, "the starter logs the cold start")
		t.Logf("%s: the starter measured %s s", mpm, m[2])
		again, _ := odGet(t, a, "od")
		assert.Equal(t, pid, again, "a warm request goes to the same process")

		// Idle for inactivity-timeout=2: the process exits and stays gone.
		exited := fmt.Sprintf("(pid %d) exited with status 0 (inactivity-timeout=2 reached)", pid)
		assert.Contains(t, strings.Join(mark.waitRaw(exited, 15*time.Second), "\n"), exited)
		assert.Empty(t, waitOdProcs(a, "od", 0, 5*time.Second), "the idle process went")
		time.Sleep(1500 * time.Millisecond) // past the parent's tick: nothing restarts it
		assert.Empty(t, odProcs(a, "od"), "an idle on-demand group is not restarted without a request")

		mark = markLog(a)
		pid2, took2 := odGet(t, a, "od")
		t.Logf("%s: request after the idle stop answered in %.3f s", mpm, took2.Seconds())
		assert.NotEqual(t, pid, pid2, "a new process")
		assert.Less(t, took2, 1500*time.Millisecond)
		mark.waitRaw("cold start of daemon process group 'od'", 5*time.Second)

		pe, _ := odGet(t, a, "eager")
		assert.Equal(t, eager[0], pe, "the eager group kept its process throughout")
	})
}

// A tenant slow to start delays no other tenant: while its first request
// waits for a 5 s import, a cold start of another group and requests to a
// warm one answer at once.
func TestDaemonOnDemand_SlowStartDelaysNoOther(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		slow := "import time\ntime.sleep(5)\n" + odHello
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello, "slow.wsgi": slow},
			Snippet: "WSGIDaemonStart on-demand\n" + odGroup("warm", "") + odGroup("cold", "") +
				"WSGIDaemonProcess slow threads=1 display-name=gwod@PORT@-slow\n" +
				"WSGIImportScript @ROOT@/slow.wsgi process-group=slow application-group=%{GLOBAL}\n" +
				"WSGIScriptAlias /slow @ROOT@/slow.wsgi process-group=slow application-group=%{GLOBAL}\n"})
		odGet(t, a, "warm")
		done := make(chan Resp, 1)
		began := time.Now()
		go func() {
			r, _ := doReq(httpClient, "GET", a.URL("/slow"), nil, nil)
			done <- r
		}()
		require.Len(t, waitOdProcs(a, "slow", 1, 5*time.Second), 1, "the slow group is starting")
		_, took := odGet(t, a, "cold")
		assert.Less(t, took, 1500*time.Millisecond, "a cold start beside a slow one")
		_, warm := odGet(t, a, "warm")
		assert.Less(t, warm, 500*time.Millisecond, "a warm group beside a starting one")
		select {
		case r := <-done:
			t.Errorf("the slow group answered (%s) before the others were served: they waited for it", r)
		default: // still importing: the others did not wait for it
		}
		r := <-done
		assert.Equal(t, 200, r.Status, r.String())
		t.Logf("%s: cold start beside a slow one %.3f s, warm request %.3f s, the slow group's first request %.2f s",
			mpm, took.Seconds(), warm.Seconds(), time.Since(began).Seconds())
	})
}

// A burst of first requests to many cold groups starts them all, never more
// than WSGIDaemonStartLimit at once (counted from the starter's own lines,
// which it writes in order: one when a group starts, one when it is ready).
func TestDaemonOnDemand_Burst(t *testing.T) {
	gowsgiOnly(t)
	const groups, limit = 120, 3
	forEachMPM(t, func(t *testing.T, mpm string) {
		// The tenants share two users of their own, as on a shared host.
		users := []string{odUserName(t, "a"), odUserName(t, "b")}
		var b strings.Builder
		fmt.Fprintf(&b, "WSGIDaemonStart on-demand\nWSGIDaemonStartLimit %d\n", limit)
		for i := 0; i < groups; i++ {
			// A 2-core machine starts a hello group in about 0.1 s of CPU:
			// the last of the queue waits its turn, well within 120 s.
			b.WriteString(odGroup(fmt.Sprintf("b%d", i), "threads=1 inactivity-timeout=120 socket-timeout=120 user="+
				users[i%2]+" group="+users[i%2]))
		}
		client := &http.Client{Timeout: 180 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		var made []*unixUser
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello}, Snippet: b.String(),
			Setup: func(root string) error {
				if err := os.MkdirAll(filepath.Join(root, "home"), 0o755); err != nil {
					return err
				}
				for _, name := range users {
					u, err := createDaemonUser(t, name, filepath.Join(root, "home", name))
					if err != nil {
						return err
					}
					made = append(made, u)
				}
				return nil
			}})
		mark := markLog(a)
		var wg sync.WaitGroup
		var mu sync.Mutex
		failed := map[string]string{}
		began := time.Now()
		for i := 0; i < groups; i++ {
			wg.Add(1)
			go func(name string) {
				defer wg.Done()
				r, err := doReq(client, "GET", a.URL("/"+name), nil, nil)
				if err != nil || r.Status != 200 {
					mu.Lock()
					failed[name] = fmt.Sprintf("%v %s", err, r)
					mu.Unlock()
				}
			}(fmt.Sprintf("b%d", i))
		}
		wg.Wait()
		t.Logf("%s: %d first requests to cold groups answered in %.2f s", mpm, groups, time.Since(began).Seconds())
		assert.Empty(t, failed, "every first request succeeds")
		// The starter logs a cold start when it next looks at the group's
		// slots, which may be after the request was answered, and in any
		// order: wait for all of them, not for the last group's.
		assert.Eventually(t, func() bool {
			n := 0
			for _, line := range mark.raw() {
				if coldStartLine.MatchString(line) {
					n++
				}
			}
			return n >= groups
		}, 20*time.Second, 50*time.Millisecond, "a cold-start line for each of the %d groups", groups)
		starting, most, cold := 0, 0, map[string]int{}
		for _, line := range mark.raw() {
			if strings.Contains(line, "gowsgi: starting on-demand daemon process group") {
				starting++
				if starting > most {
					most = starting
				}
			} else if m := coldStartLine.FindStringSubmatch(line); m != nil {
				starting--
				cold[m[1]]++
			}
		}
		t.Logf("%s: at most %d groups were starting at once (limit %d)", mpm, most, limit)
		for _, u := range made {
			assert.Len(t, processesOfUID(u.UID), groups/2, "half of the tenants run as %s", u.Name)
		}
		assert.LessOrEqual(t, most, limit, "WSGIDaemonStartLimit bounds concurrent starts")
		assert.Equal(t, limit, most, "a burst of %d wakes fills the limit", groups)
		assert.Len(t, cold, groups, "each group started once")
		for name, n := range cold {
			assert.Equal(t, 1, n, "group %s cold-started once", name)
		}
	})
}

// Graceful restart with an awake and a sleeping on-demand group: the awake
// one is started at once by the new generation, the sleeping one is not,
// and no request of a client running throughout is lost.
func TestDaemonOnDemand_Graceful(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello},
			Snippet: "WSGIDaemonStart on-demand\n" + odGroup("awake", "") + odGroup("asleep", "") +
				odGroup("eager", "start=eager")})
		require.Len(t, waitOdProcs(a, "eager", 1, 10*time.Second), 1, "start=eager wins over WSGIDaemonStart")
		woken := markLog(a)
		old, _ := odGet(t, a, "awake")
		// The starter logs the cold start when it next looks (every 10 ms),
		// which on a loaded box can be after the request was answered and
		// after the mark below: wait for it, so the after-restart log holds
		// only what the restart caused.
		cold := "cold start of daemon process group 'awake'"
		require.Contains(t, strings.Join(woken.waitRaw(cold, 10*time.Second), "\n"), cold, "the first request woke it")
		oldStarter := starterPids(a)
		require.Len(t, oldStarter, 1)

		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []string
		served := 0
		var longest time.Duration
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				began := time.Now()
				r, err := doReq(httpClient, "GET", a.URL("/awake"), nil, nil)
				mu.Lock()
				if err != nil || r.Status != 200 {
					errs = append(errs, fmt.Sprintf("%v %s", err, r))
				} else {
					served++
				}
				if d := time.Since(began); d > longest {
					longest = d
				}
				mu.Unlock()
			}
		}()
		mark := markLog(a)
		require.NoError(t, a.Graceful())
		time.Sleep(500 * time.Millisecond)
		close(stop)
		wg.Wait()
		assert.Empty(t, errs, "no request lost across the graceful restart")
		t.Logf("%s: %d requests served across the graceful restart (the longest took %.3f s)", mpm, served, longest.Seconds())

		mark.waitRaw("from before the graceful restart has drained its processes and exited", 20*time.Second)
		after := strings.Join(mark.raw(), "\n")
		assert.Contains(t, after, "; 1 awake before the graceful restart start now")
		// Carried over, not woken by a request: no cold start (nor for the
		// sleeping group, which stays asleep).
		assert.NotContains(t, after, "cold start of daemon process group 'awake'")
		assert.NotContains(t, after, "cold start of daemon process group 'asleep'")
		now := waitOdProcs(a, "awake", 1, 10*time.Second)
		require.Len(t, now, 1, "the new generation started the awake group")
		assert.NotEqual(t, old, now[0])
		assert.Empty(t, odProcs(a, "asleep"), "the sleeping group stays asleep")
		waitStarter(t, a, oldStarter[0]) // the old starter is gone, a new one runs
		p, _ := odGet(t, a, "asleep")
		assert.Equal(t, []int{p}, odProcs(a, "asleep"))
	})
}

// A graceful restart while a group's first request waits for its slow
// start: the old generation's process comes up, serves that request, then
// drains.
//
// With WSGIDaemonStartLimit 1, a second slow group waits its turn behind the
// first: the old starter still starts it, and its request is served too.
func TestDaemonOnDemand_GracefulDuringColdStart(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		slow := "import time\ntime.sleep(3)\n" + odHello
		snippet := "WSGIDaemonStartLimit 1\n"
		for _, g := range []string{"slow", "next"} {
			snippet += fmt.Sprintf("WSGIDaemonProcess %s threads=2 start=on-demand display-name=gwod@PORT@-%s\n"+
				"WSGIScriptAlias /%s @ROOT@/slow.wsgi process-group=%s application-group=%%{GLOBAL}\n", g, g, g, g)
		}
		// The queue is logged at debug level.
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"slow.wsgi": slow},
			Snippet: "LogLevel info gowsgi:debug\n" + snippet})
		done := map[string]chan Resp{"slow": make(chan Resp, 1), "next": make(chan Resp, 1)}
		get := func(g string) {
			r, err := doReq(httpClient, "GET", a.URL("/"+g), nil, nil)
			if err != nil {
				r.Body = err.Error()
			}
			done[g] <- r
		}
		go get("slow")
		first := waitOdProcs(a, "slow", 1, 5*time.Second)
		require.Len(t, first, 1, "the slow group is starting")
		mark := markLog(a)
		go get("next")
		queued := "on-demand daemon process group 'next' waits its turn to start"
		require.Contains(t, strings.Join(mark.waitRaw(queued, 10*time.Second), "\n"), queued)
		require.NoError(t, a.Graceful())
		r := <-done["slow"]
		assert.Equal(t, 200, r.Status, "the request that was waiting for the cold start: %s", r)
		assert.Equal(t, strconv.Itoa(first[0]), r.Body, "served by the old generation's process")
		r = <-done["next"]
		assert.Equal(t, 200, r.Status, "the request whose group waited its turn: %s", r)
		lines := strings.Join(mark.waitRaw("from before the graceful restart has drained its processes and exited",
			20*time.Second), "\n")
		assert.Contains(t, lines, fmt.Sprintf("(pid %d) exited with status 0 (a graceful restart: drained)", first[0]))
	})
}

// A hard restart stops the starter and its processes (a new starter, every
// on-demand group asleep again); stop leaves no process: starter,
// on-demand and eager daemons all go.
func TestDaemonOnDemand_RestartAndStopLeaveNothing(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello},
			Snippet: odGroup("od1", "start=on-demand") + odGroup("od2", "start=on-demand") + odGroup("eager", "")})
		old, _ := odGet(t, a, "od1")
		odGet(t, a, "eager")
		oldStarter := starterPids(a)
		require.Len(t, oldStarter, 1)
		require.NoError(t, a.Restart())
		assert.Empty(t, waitOdProcs(a, "od1", 0, 10*time.Second), "a hard restart stops the on-demand processes")
		waitStarter(t, a, oldStarter[0]) // a new starter
		now, _ := odGet(t, a, "od1")
		assert.NotEqual(t, old, now)
		require.NoError(t, a.Stop())
		assert.Empty(t, processesMatching(fmt.Sprintf("gwod%d-", a.Port)), "no daemon outlives Apache")
		assert.Empty(t, a.Processes(), "no process of the server is left")
	})
}

// A crash of an on-demand process: logged as a crash, the group sleeps,
// and the next request starts it again.
func TestDaemonOnDemand_Crash(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello}, Snippet: odGroup("od", "start=on-demand") +
			"WSGIDaemonProcess crashy threads=1 start=on-demand display-name=gwod@PORT@-crashy\n" +
			"WSGIScriptAlias /crashy @APPS@/daemon/probe.wsgi process-group=crashy application-group=%{GLOBAL}\n"})
		first := getFacts(t, a.URL("/crashy"), nil)
		mark := markLog(a)
		r := Get(t, a.URL("/crashy?op=abort"))
		assert.GreaterOrEqual(t, r.Status, 500)
		lines := strings.Join(mark.waitRaw(fmt.Sprintf("(pid %d) crashed", first.Pid), 10*time.Second), "\n")
		assert.Contains(t, lines, fmt.Sprintf("daemon process 0 of group 'crashy' (pid %d) crashed", first.Pid))
		assert.Empty(t, waitOdProcs(a, "crashy", 0, 5*time.Second), "the crashed process is gone")
		time.Sleep(1500 * time.Millisecond)
		assert.Empty(t, odProcs(a, "crashy"), "not restarted until a request wants it")
		second := getFacts(t, a.URL("/crashy"), nil)
		assert.NotEqual(t, first.Pid, second.Pid)
		odGet(t, a, "od") // the other group is unaffected
	})
}

// A group whose processes cannot start (a python-home that does not
// exist): its first request gets 503 after connect-timeout with the cause;
// the group is not retried while no request wants it (no fork loop), and
// the next request tries again.
func TestDaemonOnDemand_BrokenGroupSleeps(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello},
			Snippet: odGroup("broken", "start=on-demand connect-timeout=2 socket-timeout=60 python-home=/nonexistent/venv") +
				odGroup("od", "start=on-demand")})
		r := Get(t, a.URL("/broken"))
		assert.Equal(t, 503, r.Status, r.String())
		assert.Regexp(t, `no process of the group has been ready within connect-timeout=2; process \d+:? (exited with status 1 \()?Python could not start`,
			a.ErrorLogContent(), "the 503 says why")
		// The process waits 5 s before it exits (the engine's own back-off);
		// then the group sleeps.
		gone := regexp.MustCompile(`daemon process 0 of group 'broken' \(pid \d+\) exited with status 1`)
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) && !gone.MatchString(a.ErrorLogContent()) {
			time.Sleep(100 * time.Millisecond)
		}
		require.Regexp(t, gone, a.ErrorLogContent())
		time.Sleep(2 * time.Second)
		assert.Equal(t, 1, strings.Count(a.ErrorLogContent(), "started daemon process 0 of group 'broken'"),
			"not restarted while no request wants it")
		assert.Empty(t, odProcs(a, "broken"))
		odGet(t, a, "od") // the rest of the server works
		// Its last start failed: the request is not waited for as a slow
		// start (socket-timeout=60) but as any group's (connect-timeout=2).
		began := time.Now()
		assert.Equal(t, 503, Get(t, a.URL("/broken")).Status)
		assert.Less(t, time.Since(began), 15*time.Second, "bounded by connect-timeout")
		assert.Equal(t, 2, strings.Count(a.ErrorLogContent(), "started daemon process 0 of group 'broken'"),
			"the next request tries again")
	})
}

// The starter killed: the parent starts a new one and requests still work
// (the killed starter's processes died with it).
func TestDaemonOnDemand_StarterKilled(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello},
			Snippet: odGroup("od", "start=on-demand")})
		pid, _ := odGet(t, a, "od")
		// SIGKILL, then SIGTERM (the starter stops its processes and
		// exits, but its generation goes on: nothing may say it ended).
		for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
			starters := starterPids(a)
			require.Len(t, starters, 1)
			mark := markLog(a)
			require.NoError(t, syscall.Kill(starters[0], sig))
			mark.waitRaw("starting a new one", 10*time.Second)
			how := "was killed by signal 9"
			if sig == syscall.SIGTERM {
				how = "exited with status 0"
			}
			assert.Contains(t, strings.Join(mark.raw(), "\n"),
				fmt.Sprintf("the on-demand starter (pid %d) %s; starting a new one", starters[0], how))
			assert.Empty(t, waitOdProcs(a, "od", 0, 10*time.Second), "its processes died with it")
			waitStarter(t, a, starters[0])
			pid2, _ := odGet(t, a, "od")
			assert.NotEqual(t, pid, pid2)
			pid = pid2
		}
	})
}

// Bad values of start=, WSGIDaemonStart and WSGIDaemonStartLimit fail
// configtest with the file and line.
func TestDaemonOnDemand_ConfigErrors(t *testing.T) {
	gowsgiOnly(t)
	for _, c := range []struct{ snippet, want string }{
		{"WSGIDaemonProcess x start=lazy", "Invalid start mode (on-demand or eager) for WSGI daemon process."},
		{"WSGIDaemonStart sometimes", "WSGIDaemonStart must be on-demand or eager, not 'sometimes'."},
		{"WSGIDaemonStartLimit 0", "WSGIDaemonStartLimit must be a number from 1 to 1024, not '0'."},
		{"WSGIDaemonStartLimit many", "WSGIDaemonStartLimit must be a number from 1 to 1024, not 'many'."},
		{"<VirtualHost *:80>\nWSGIDaemonStart on-demand\n</VirtualHost>", "WSGIDaemonStart cannot occur within <VirtualHost> section"},
	} {
		out, code, conf := ConfigTestConf(t, ServerSpec{Snippet: c.snippet})
		assert.NotEqual(t, 0, code, c.snippet)
		assert.Contains(t, out, c.want, c.snippet)
		// The line that holds every word of the snippet's first line (under
		// GOWSGI_TEST_GROUP_PYTHON the harness adds python-executable= to it).
		line := 0
		for i, l := range strings.Split(conf, "\n") {
			all := true
			for _, w := range strings.Fields(strings.Split(c.snippet, "\n")[0]) {
				all = all && strings.Contains(l, w)
			}
			if all && strings.HasPrefix(l, strings.Fields(c.snippet)[0]) {
				line = i + 1
			}
		}
		if !strings.HasPrefix(c.snippet, "<") {
			assert.Regexp(t, fmt.Sprintf(`line %d of .*httpd\.conf`, line), out, c.snippet)
		}
	}
	out, code := ConfigTest(t, ServerSpec{Snippet: "WSGIDaemonStart on-demand\nWSGIDaemonStartLimit 8\n" +
		"WSGIDaemonProcess x start=eager\nWSGIDaemonProcess y start=on-demand"})
	assert.Equal(t, 0, code, out)
}

// 1,000 on-demand groups in one configuration: configtest, start, graceful
// restart and stop each under 5 s, and the start-up log is not a line per
// group.
func TestDaemonOnDemand_ThousandGroups(t *testing.T) {
	gowsgiOnly(t)
	var b strings.Builder
	b.WriteString("WSGIDaemonStart on-demand\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "WSGIDaemonProcess t%d threads=1 display-name=gwod@PORT@-t%d\n"+
			"WSGIScriptAlias /t%d @ROOT@/hello.wsgi process-group=t%d application-group=%%{GLOBAL}\n", i, i, i, i)
	}
	spec := ServerSpec{MPM: "event", Files: map[string]string{"hello.wsgi": odHello}, Snippet: b.String()}

	began := time.Now()
	out, code := ConfigTest(t, spec)
	configtest := time.Since(began)
	require.Equal(t, 0, code, out)

	began = time.Now()
	a := StartApache(t, spec)
	start := time.Since(began)
	startLog := a.ErrorLogContent()
	lines := strings.Count(startLog, "\n")

	for _, g := range []string{"t0", "t500", "t999"} {
		_, took := odGet(t, a, g)
		t.Logf("cold start of %s among 1,000 groups: %.3f s", g, took.Seconds())
		assert.Less(t, took, 1500*time.Millisecond)
	}
	began = time.Now()
	require.NoError(t, a.Graceful())
	graceful := time.Since(began)
	require.Len(t, waitOdProcs(a, "t500", 1, 10*time.Second), 1, "an awake group is started again after graceful")
	odGet(t, a, "t42")

	began = time.Now()
	require.NoError(t, a.Stop())
	stop := time.Since(began)
	t.Logf("1,000 on-demand groups: configtest %.2f s, start %.2f s, graceful %.2f s, stop %.2f s; %d log lines at start",
		configtest.Seconds(), start.Seconds(), graceful.Seconds(), stop.Seconds(), lines)
	assert.Less(t, configtest, 5*time.Second, "configtest")
	assert.Less(t, start, 5*time.Second, "start")
	assert.Less(t, graceful, 5*time.Second, "graceful restart")
	assert.Less(t, stop, 5*time.Second, "stop")
	assert.Less(t, lines, 50, "the start-up log is not a line per group:\n%s", tail(startLog, 60))
	assert.Empty(t, processesMatching(fmt.Sprintf("gwod%d-", a.Port)), "no daemon outlives Apache")
}

// Faults of an on-demand group under load (four clients looping on it):
// its process killed, or the starter that forked it killed (its processes
// die with it). Only the requests the dead process had begun fail; every
// other one is answered, the group comes back without a request having to
// come first, and the error log names the group, the pid and why in one
// line.
func TestDaemonOnDemand_FaultsUnderLoad(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	for _, fault := range []string{"daemon", "starter"} {
		fault := fault
		t.Run(fault, func(t *testing.T) {
			forEachMPM(t, func(t *testing.T, mpm string) {
				a := StartApache(t, ServerSpec{MPM: mpm, Snippet: `
WSGIDaemonProcess load processes=1 threads=4 start=on-demand
WSGIScriptAlias /load @APPS@/daemon/probe.wsgi process-group=load
`})
				rec := filepath.Join(a.Root, "scratch", "records")
				victim := getFacts(t, a.URL("/load"), nil).Pid // the cold start
				load := startIDLoad(4, "L", a.URL("/load?op=rec&s=0.02&f="+rec))
				time.Sleep(time.Second)
				mark := markLog(a)
				want := fmt.Sprintf("daemon process 0 of group 'load' (pid %d) was killed by signal 9 (Killed)", victim)
				if fault == "starter" {
					starters := starterPids(a)
					require.Len(t, starters, 1)
					require.NoError(t, syscall.Kill(starters[0], syscall.SIGKILL))
					want = fmt.Sprintf("the on-demand starter (pid %d) was killed by signal 9; starting a new one", starters[0])
				} else {
					require.NoError(t, syscall.Kill(victim, syscall.SIGKILL))
				}
				mark.waitRaw(want, 10*time.Second)
				time.Sleep(2 * time.Second) // the load goes on against the group's new process
				results := load.finish()
				records := readRecords(t, rec)

				assertRanOnce(t, results, records)
				log := strings.Join(mark.raw(), "\n")
				// The process begins a request (its ticket) a moment before
				// the app writes its record: a request killed in between
				// failed with no record. Each request lost in the victim has
				// one GW0300 line naming it; a request that failed for any
				// other reason would have none.
				lostLines := 0
				for _, l := range strings.Split(log, "\n") {
					if strings.Contains(l, "GW0300") && strings.Contains(l, fmt.Sprintf("(pid %d): ", victim)) {
						lostLines++
					}
				}
				ok, after, failed := 0, 0, 0
				for _, r := range results {
					if r.status == 200 {
						ok++
						if pidOf(records[r.id]) != victim {
							after++
						}
						continue
					}
					failed++
					if pid := pidOf(records[r.id]); pid != 0 {
						assert.Equal(t, victim, pid, "request %s failed (status %d, %v): only "+
							"requests begun in the killed process may", r.id, r.status, r.err)
					}
				}
				assert.LessOrEqual(t, failed, lostLines, "each failed request was lost in the killed process "+
					"(a GW0300 line naming pid %d each): %s", victim, log)
				assert.LessOrEqual(t, failed, 4, "at most the killed process's 4 threads' requests failed")
				assert.Greater(t, ok, 20, "the load went on")
				assert.Greater(t, after, 0, "a new process of the group served the load")
				assert.Equal(t, 1, strings.Count(log, want), "one line says what happened: %s", log)
				assert.NotContains(t, a.ErrorLogContent(), "exit signal", "no Apache child died")
			})
		})
	}
}

// A start that waits on something (here an import that sleeps, as one
// waiting on a database with no timeout would) gives up its start slot
// after a second: with WSGIDaemonStartLimit 1, another tenant's cold start
// is not held back by it. It used to wait until the hung import ended (the
// other tenant's first request: 504 after socket-timeout, logged as "still
// starting").
func TestDaemonOnDemand_StalledStartHoldsNoSlot(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		hang := "import time\ntime.sleep(60)\n" + odHello
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello, "hang.wsgi": hang},
			Snippet: "WSGIDaemonStart on-demand\nWSGIDaemonStartLimit 1\n" + odGroup("good", "") +
				"WSGIDaemonProcess hang threads=1 socket-timeout=3 display-name=gwod@PORT@-hang\n" +
				"WSGIScriptAlias /hang @ROOT@/hang.wsgi process-group=hang application-group=%{GLOBAL}\n"})
		mark := markLog(a)
		hung := make(chan Resp, 1)
		go func() {
			r, _ := doReq(longClient, "GET", a.URL("/hang"), nil, nil)
			hung <- r
		}()
		procs := waitOdProcs(a, "hang", 1, 10*time.Second)
		require.Len(t, procs, 1, "the hung group is starting")
		defer func() {
			for _, p := range odProcs(a, "hang") {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}()
		began := time.Now()
		_, took := odGet(t, a, "good")
		t.Logf("%s: the good tenant's cold start took %.2f s beside a hung one", mpm, took.Seconds())
		assert.Less(t, time.Since(began), 6*time.Second, "not held back until the hung start ends")
		lines := strings.Join(mark.waitRaw("it no longer holds one of the 1 start slots", 5*time.Second), "\n")
		assert.Regexp(t, fmt.Sprintf(`on-demand daemon process group 'hang' \(pid %d\) has been starting for [0-9.]+ s `+
			`\(it ran 0\.[0-9]+ s of `, procs[0])+
			`the last [0-9.]+ s: it waits on something\); it no longer holds one of the 1 start slots`, lines)
		assert.Equal(t, 504, (<-hung).Status, "the hung group's own request gives up at its socket-timeout")
		assert.Equal(t, procs, odProcs(a, "hang"), "the hung start goes on: it may yet come up")
	})
}
