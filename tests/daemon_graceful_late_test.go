package tests

// Requests that Apache children of a generation still hold after a
// graceful restart (a slow client's, read after the restart; a burst of
// first requests to cold on-demand groups just before it) are served by
// that generation's processes: its daemons drain until the last of those
// children is gone, and its on-demand starter still starts groups for
// them. They were lost: the daemons exited a second after going idle and
// the starter stopped hearing wakes at once, so the request waited out
// connect-timeout (503) or, for an on-demand group, socket-timeout (504,
// logged as "still starting"). mod_wsgi 4.9.4 answers such a request 503
// at once: its daemons are gone with the generation.

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowClientRequest sends a request's line and first header, then waits on
// until ready is closed to send the rest, and returns the status and body.
func slowClientRequest(a *Apache, path string, sent chan<- struct{}, ready <-chan struct{}) (int, string, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", a.Port), 5*time.Second)
	if err != nil {
		close(sent)
		return 0, "", err
	}
	defer c.Close()
	_, err = fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", path)
	close(sent)
	if err != nil {
		return 0, "", err
	}
	<-ready
	if _, err := c.Write([]byte("Connection: close\r\n\r\n")); err != nil {
		return 0, "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	defer r.Body.Close()
	var b strings.Builder
	_, err = bufio.NewReader(r.Body).WriteTo(&b)
	return r.StatusCode, b.String(), err
}

// spareChildren keeps n idle prefork children (none under the threaded
// MPMs, whose children hold many connections): each slow client's
// connection is taken by a child of the current generation, none waits in
// the listen queue for the next generation's.
func spareChildren(mpm string, n int) string {
	if mpm != "prefork" {
		return ""
	}
	return fmt.Sprintf("StartServers %d\nMinSpareServers %d\n", n, n)
}

// slowResult is what a slow client got.
type slowResult struct {
	status int
	body   string
	err    error
}

// slowClientsAcrossGraceful sends the first part of a request for each path
// (each read by an Apache child of the current generation), restarts
// Apache gracefully, waits after, then finishes them all. It returns what
// each got, how long the answers took once the requests were whole, and a
// log mark from just before the restart.
func slowClientsAcrossGraceful(t *testing.T, a *Apache, paths []string, after time.Duration) ([]slowResult, time.Duration, logMark) {
	t.Helper()
	ready := make(chan struct{})
	results := make([]slowResult, len(paths))
	var wg sync.WaitGroup
	for i, path := range paths {
		sent := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, b, err := slowClientRequest(a, path, sent, ready)
			results[i] = slowResult{s, b, err}
		}()
		<-sent
	}
	// The children have read the request lines; the rest comes after.
	time.Sleep(300 * time.Millisecond)
	mark := markLog(a)
	require.NoError(t, a.Graceful())
	time.Sleep(after)
	finished := time.Now()
	close(ready)
	wg.Wait()
	return results, time.Since(finished), mark
}

func TestDaemonGraceful_SlowClientServedByItsGeneration(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		spare := spareChildren(mpm, 4)
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello},
			Snippet: spare + odGroup("eager", "") + odGroup("woken", "start=on-demand") + odGroup("asleep", "start=on-demand")})
		oldEager := waitOdProcs(a, "eager", 1, 10*time.Second)
		require.Len(t, oldEager, 1)
		oldWoken, _ := odGet(t, a, "woken")
		waitStarter(t, a, 0)

		groups := []string{"eager", "woken", "asleep"}
		// The rest of each request comes after the old generation's
		// processes would have drained and gone.
		results, took, mark := slowClientsAcrossGraceful(t, a, []string{"/eager", "/woken", "/asleep"}, 2500*time.Millisecond)
		for i, g := range groups {
			r := results[i]
			assert.NoError(t, r.err, g)
			assert.Equal(t, 200, r.status, "%s: %s", g, r.body)
		}
		assert.Less(t, took, 5*time.Second, "answered at once, by the old generation")
		assert.Equal(t, fmt.Sprint(oldEager[0]), results[0].body, "the eager group's old process served it")
		assert.Equal(t, fmt.Sprint(oldWoken), results[1].body, "the woken group's old process served it")
		// The old generation goes once its children have: its processes
		// drain, and the starter goes after them.
		lines := strings.Join(mark.waitRaw("from before the graceful restart has drained its processes and exited",
			20*time.Second), "\n")
		assert.Contains(t, lines, "from before the graceful restart has drained its processes and exited")
		for g, pid := range map[string]int{"eager": oldEager[0], "woken": oldWoken} {
			assert.Contains(t, lines, fmt.Sprintf("(pid=%d): daemon process of group '%s' stopping: a graceful restart: drained", pid, g))
		}
		assert.NotContains(t, lines, "still starting")
		// The old starter started the sleeping group for the request its
		// generation held, and nothing after it.
		assert.Equal(t, 1, strings.Count(lines, "starting on-demand daemon process group 'asleep'"), lines)
		assert.Equal(t, 1, strings.Count(lines, "starting on-demand daemon process group 'woken'"), "the new generation's, carried awake: %s", lines)
		for _, pid := range append(oldEager, oldWoken) {
			assert.Error(t, syscall.Kill(pid, 0), "process %d of the old generation is gone", pid)
		}
	})
}

// First requests to more sleeping on-demand groups than may start at once,
// held by the old generation's children across a graceful restart (slow
// clients again): its starter starts them all, two at a time, queueing the
// rest, and every one is served.
func TestDaemonGraceful_ColdBurstServed(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		const n = 6
		snippet := "LogLevel info gowsgi:debug\nWSGIDaemonStart on-demand\nWSGIDaemonStartLimit 2\n" + spareChildren(mpm, 8)
		for i := range n {
			snippet += odGroup(fmt.Sprintf("g%d", i), "")
		}
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello}, Snippet: snippet})
		waitStarter(t, a, 0)
		var paths []string
		for i := range n {
			paths = append(paths, fmt.Sprintf("/g%d", i))
		}
		results, _, mark := slowClientsAcrossGraceful(t, a, paths, 0)
		for i, r := range results {
			assert.Equal(t, "200 <nil>", fmt.Sprintf("%d %v", r.status, r.err), "g%d", i)
		}
		lines := strings.Join(mark.waitRaw("from before the graceful restart has drained its processes and exited",
			20*time.Second), "\n")
		assert.Contains(t, lines, "waits its turn to start", "more than WSGIDaemonStartLimit wanted to start")
		assert.NotContains(t, lines, "still starting")
	})
}

// An old child that holds a request past graceful-timeout (a client that
// never finishes it) does not keep the old generation's idle process: it
// goes by itself a second before graceful-timeout ends, not killed as
// still busy at its end.
func TestDaemonGraceful_IdleProcessGoesAtGracefulTimeout(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello},
			Snippet: odGroup("eager", "graceful-timeout=3")})
		old := waitOdProcs(a, "eager", 1, 10*time.Second)
		require.Len(t, old, 1)
		odGet(t, a, "eager")
		held := holdOldChild(t, a)
		defer held.Close()
		time.Sleep(300 * time.Millisecond)
		mark := markLog(a)
		began := time.Now()
		require.NoError(t, a.Graceful())
		lines := strings.Join(mark.waitRaw(fmt.Sprintf("daemon process %d of group 'eager' from before the graceful restart", old[0]),
			10*time.Second), "\n")
		took := time.Since(began)
		assert.Regexp(t, fmt.Sprintf(`\(pid=%d\): daemon process of group 'eager' stopping: a graceful restart: drained `+
			`\(Apache children of its generation still ran \d s later\)`, old[0]), lines)
		assert.Contains(t, lines, fmt.Sprintf("daemon process %d of group 'eager' from before the graceful restart has drained and exited", old[0]))
		assert.NotContains(t, lines, "killing it")
		assert.GreaterOrEqual(t, took, 1900*time.Millisecond, "it waited for the old children")
		assert.Less(t, took, 4*time.Second, "within graceful-timeout=3")
	})
}

// holdOldChild opens a connection and sends half a request that is never
// finished: an Apache child of the current generation holds it (until
// Apache's Timeout), and so outlives a graceful restart.
func holdOldChild(t *testing.T, a *Apache) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", a.Port), 5*time.Second)
	require.NoError(t, err)
	_, err = fmt.Fprintf(c, "GET /never HTTP/1.1\r\nHost: 127.0.0.1\r\n")
	require.NoError(t, err)
	return c
}

// A request an old child reads after its generation's processes have all
// gone (past graceful-timeout) is answered 503 at once, as mod_wsgi
// answers it, with the cause in the log: not after connect-timeout (503)
// or socket-timeout (504, "still starting") of waiting for a process that
// will not come.
func TestDaemonGraceful_TooLateGets503AtOnce(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		spare := spareChildren(mpm, 4)
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello},
			Snippet: spare + odGroup("eager", "graceful-timeout=2") + odGroup("asleep", "start=on-demand graceful-timeout=2")})
		require.Len(t, waitOdProcs(a, "eager", 1, 10*time.Second), 1)
		waitStarter(t, a, 0)
		groups := []string{"eager", "asleep"}
		results, took, mark := slowClientsAcrossGraceful(t, a, []string{"/eager", "/asleep"}, 3500*time.Millisecond)
		assert.Less(t, took, 2*time.Second, "answered at once")
		assert.Equal(t, []int{503, 503}, []int{results[0].status, results[1].status})
		lines := strings.Join(mark.waitRaw("which a graceful restart ended, and none will start", 5*time.Second), "\n")
		for _, g := range groups {
			assert.Contains(t, lines, fmt.Sprintf("daemon process group '%s' has no process left in this Apache "+
				"child's generation, which a graceful restart ended, and none will start (they drain for at most "+
				"graceful-timeout=2)", g))
		}
		assert.NotContains(t, lines, "still starting")
	})
}

// A group the draining starter starts late for an old child's request
// drains within what is left of the generation's graceful-timeout (the
// starter's SIGUSR2 carries it), so it goes by itself before the starter's
// deadline rather than being killed there as if still busy; another old
// child outlives the deadline meanwhile.
func TestDaemonGraceful_LateStartEndsWithItsGeneration(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		spare := spareChildren(mpm, 4)
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"hello.wsgi": odHello},
			Snippet: spare + odGroup("late", "start=on-demand graceful-timeout=5")})
		waitStarter(t, a, 0)
		held := holdOldChild(t, a)
		defer held.Close()
		began := time.Now()
		results, _, mark := slowClientsAcrossGraceful(t, a, []string{"/late"}, 1500*time.Millisecond)
		assert.Equal(t, 200, results[0].status, "the old starter started the group for the old child's request")
		lines := strings.Join(mark.waitRaw("from before the graceful restart has drained its processes and exited",
			10*time.Second), "\n")
		took := time.Since(began)
		assert.Regexp(t, `daemon process of group 'late' stopping: a graceful restart: drained \(Apache children of its `+
			`generation still ran \d s later\)`, lines)
		assert.NotContains(t, lines, "killing it")
		assert.Less(t, took, 7*time.Second, "gone with its generation (graceful-timeout=5)")
	})
}

// A graceful restart while a group's first request waits for its slow cold
// start, with a graceful-timeout so short that the old starter stops
// starting groups at once: the group still starting comes up in the old
// generation and serves that request (its end is said only once its last
// process goes).
func TestDaemonGraceful_ShortTimeoutDuringColdStart(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		slow := "import time\ntime.sleep(1)\n" + odHello
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"slow.wsgi": slow},
			Snippet: "WSGIDaemonProcess slow threads=2 start=on-demand graceful-timeout=2 display-name=gwod@PORT@-slow\n" +
				"WSGIScriptAlias /slow @ROOT@/slow.wsgi process-group=slow application-group=%{GLOBAL}\n"})
		done := make(chan Resp, 1)
		go func() {
			r, err := doReq(longClient, "GET", a.URL("/slow"), nil, nil)
			if err != nil {
				r.Body = err.Error()
			}
			done <- r
		}()
		first := waitOdProcs(a, "slow", 1, 5*time.Second)
		require.Len(t, first, 1, "the slow group is starting")
		require.NoError(t, a.Graceful())
		r := <-done
		assert.Equal(t, 200, r.Status, "the request that waited for the cold start: %s", r)
		assert.Equal(t, fmt.Sprint(first[0]), r.Body, "served by the old generation's process")
	})
}
