package tests

// A daemon process that crashes in C (issue 14, item 2): the error log says
// so in one line with the group, the pid, the real signal, the faulting
// address and thread and the Python stack of the crashing thread, and holds
// no Go runtime dump; the client gets mod_wsgi's 500 and the group serves on.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const crashSnippet = `
WSGIDaemonProcess crashy threads=2
WSGIScriptAlias /crash @APPS@/daemon/crash.wsgi process-group=crashy
`

// crashPid is the pid of the process that serves /crash now.
func crashPid(t *testing.T, a *Apache) int {
	t.Helper()
	r := Get(t, a.URL("/crash"))
	require.Equal(t, 200, r.Status, "%s", r)
	var facts struct {
		Pid int `json:"pid"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Body), &facts), r.Body)
	return facts.Pid
}

// crashOnce makes the process serving /crash crash with op and returns the
// error log's lines from just before the request until the group serves
// again (by a new process), and the dead process's pid.
func crashOnce(t *testing.T, a *Apache, op string) ([]string, int) {
	pid := crashPid(t, a)
	mark := markLog(a)
	r, err := doReq(longClient, "GET", a.URL("/crash?"+op), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, 500, r.Status, "a request lost to a crashed daemon: mod_wsgi's status")
	mark.wait("starting a new one", 10*time.Second)
	next := crashPid(t, a)
	assert.NotEqual(t, pid, next, "a new process serves the group")
	mark.wait("the response was cut off", 3*time.Second) // the lost request's line, and whatever follows
	lines := mark.raw()
	removeCrashReports(t, lines)
	return lines, pid
}

var crashReportName = regexp.MustCompile(`full report in (/\S+\.txt)`)

// removeCrashReports removes the report files the lines name, once it has
// checked they hold the crashing thread's Python stack as faulthandler
// writes it.
func removeCrashReports(t *testing.T, lines []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range crashReportName.FindAllStringSubmatch(strings.Join(lines, "\n"), -1) {
		if seen[m[1]] {
			continue
		}
		seen[m[1]] = true
		report, err := os.ReadFile(m[1])
		// CPython before 3.10 writes "<no Python frame>" unindented: a
		// daemon on 3.9 (GOWSGI_TEST_GROUP_PYTHON) may.
		noFrame := `  <no Python frame>`
		if groupPy != nil && groupPy.Tag == "3.9" {
			noFrame = `( {2})?<no Python frame>`
		}
		if assert.NoError(t, err, "the report the line names") {
			assert.Regexp(t, `(?m)^(Current thread|Thread) 0x[0-9a-f]+ \(most recent call first\):\n(  File "|`+noFrame+`)`, string(report))
		}
		os.Remove(m[1])
	}
}

// noRuntimeDump: nothing of a Go runtime report reaches the error log.
func noRuntimeDump(t *testing.T, lines []string) {
	t.Helper()
	dump := regexp.MustCompile(`goroutine [0-9]+|runtime\.|^\s+/.*\.go:[0-9]+|^(rax|rip|rsp)\s`)
	for _, l := range lines {
		assert.False(t, dump.MatchString(l), "a line of a Go runtime dump in the error log: %q", l)
	}
}

func TestDaemonCrash_ReportedInOneLine(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: crashSnippet})
		for _, c := range []struct {
			op, signal, frame string
		}{
			{"segv", "signal 11 (Segmentation fault) at address 0x0", "null_deref"},
			{"bus", "signal 7 (Bus error) at address 0x", "truncated_mmap_read"},
		} {
			lines, pid := crashOnce(t, a, c.op)
			all := strings.Join(lines, "\n")
			t.Logf("%s: %d lines:\n%s", c.op, len(lines), all)
			assert.LessOrEqual(t, len(lines), 12, "at most a dozen lines for a crash")
			noRuntimeDump(t, lines)
			// The parent's line: the group, the pid, the signal, where, and
			// the crashing thread's Python stack, innermost first.
			want := regexp.MustCompile(fmt.Sprintf(`daemon process 0 of group 'crashy' \(pid %d\) crashed: %s[0-9a-f]* in thread [0-9]+; `+
				`Python stack: (\S+ \(\S+:[0-9]+\) <- )*%s \(/\S+/crash\.wsgi:[0-9]+\) <- (\S+ \(\S+:[0-9]+\) <- )*application \(/\S+/crash\.wsgi:[0-9]+\); `+
				`full report in /\S+/gowsgi-crash-crashy-%d\.txt; starting a new one`, pid, regexp.QuoteMeta(c.signal), c.frame, pid))
			assert.Regexp(t, want, all, "%s: the parent's line", c.op)
			// The Apache child that lost the request names the same cause.
			assert.Regexp(t, regexp.MustCompile(fmt.Sprintf(`group 'crashy'( \(pid %d\))?: the response was cut off before it was `+
				`complete: the process (%d )?crashed: %s[0-9a-f]* in thread [0-9]+; Python stack: (\S+ \(\S+:[0-9]+\) <- )*%s `, pid, pid,
				regexp.QuoteMeta(c.signal), c.frame)), all, "%s: the line of the request that was lost", c.op)
		}

		// In a thread the app started (Go forwards the fault from a thread
		// it does not know): that thread's stack.
		lines, pid := crashOnce(t, a, "thread")
		t.Logf("thread: %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
		assert.LessOrEqual(t, len(lines), 12)
		noRuntimeDump(t, lines)
		assert.Regexp(t, fmt.Sprintf(`daemon process 0 of group 'crashy' \(pid %d\) crashed: signal 11 \(Segmentation fault\) at address 0x0 `+
			`in thread [0-9]+; Python stack: (\S+ \(\S+:[0-9]+\) <- )*null_deref \(/\S+/crash\.wsgi:[0-9]+\) <- run \(\S+/threading\.py:[0-9]+\)`,
			pid), strings.Join(lines, "\n"))

		// A thread that sends itself SIGSEGV (raise(3), pthread_kill(3)):
		// a crash, with its Python stack, not a signal from outside.
		lines, pid = crashOnce(t, a, "raise-segv")
		t.Logf("raise-segv: %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
		assert.LessOrEqual(t, len(lines), 12)
		noRuntimeDump(t, lines)
		assert.Regexp(t, fmt.Sprintf(`daemon process 0 of group 'crashy' \(pid %d\) crashed: signal 11 \(Segmentation fault\) `+
			`in thread [0-9]+; Python stack: (\S+ \(\S+:[0-9]+\) <- )*raise_segv \(/\S+/crash\.wsgi:[0-9]+\) <- `+
			`(\S+ \(\S+:[0-9]+\) <- )*application \(/\S+/crash\.wsgi:[0-9]+\)`, pid), strings.Join(lines, "\n"))

		// A bus error sent with kill is no fault: the process dies of that
		// signal (not Go's SIGQUIT, as it did), with no runtime dump.
		lines, pid = crashOnce(t, a, "kill-bus")
		t.Logf("kill-bus: %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
		assert.LessOrEqual(t, len(lines), 12)
		noRuntimeDump(t, lines)
		assert.Contains(t, strings.Join(lines, "\n"),
			fmt.Sprintf("daemon process 0 of group 'crashy' (pid %d) was killed by signal 7 (Bus error); starting a new one", pid))

		// The Go runtime's fatal error (imitated: its report, then the
		// SIGQUIT it sends): the line quotes the report's first line and
		// names the file that holds it.
		lines, pid = crashOnce(t, a, "go-fatal")
		t.Logf("go-fatal: %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
		assert.LessOrEqual(t, len(lines), 12)
		assert.Regexp(t, fmt.Sprintf(`daemon process 0 of group 'crashy' \(pid %d\) crashed: signal 3 \(Quit\) in thread [0-9]+ after a `+
			`fatal error in Go: "fatal error: imitated by crash\.wsgi"; full report in /\S+/gowsgi-crash-crashy-%d\.txt; starting a new one`,
			pid, pid), strings.Join(lines, "\n"))

		// A signal sent from outside is no crash: it kills, as it always did.
		for _, sig := range []syscall.Signal{syscall.SIGQUIT, syscall.SIGABRT, syscall.SIGSEGV} {
			pid = crashPid(t, a)
			mark := markLog(a)
			require.NoError(t, syscall.Kill(pid, sig))
			killed := mark.waitRaw("starting a new one", 10*time.Second)
			noRuntimeDump(t, killed)
			assert.Contains(t, strings.Join(killed, "\n"), fmt.Sprintf("(pid %d) was killed by signal %d (%s); starting a new one",
				pid, int(sig), map[syscall.Signal]string{syscall.SIGQUIT: "Quit", syscall.SIGABRT: "Aborted", syscall.SIGSEGV: "Segmentation fault"}[sig]))
			deadline := time.Now().Add(10 * time.Second)
			for crashPid(t, a) == pid && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
		}
	})
}

// Embedded mode: an Apache child that crashes in C writes one line with the
// signal and the Python stack, then dies of the signal through Apache's own
// handler (core dump, and Apache's AH00052 line); no Go runtime dump.
func TestDaemonCrash_Embedded(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: `
WSGIScriptAlias /crash @APPS@/daemon/crash.wsgi
`})
		require.Equal(t, 200, Get(t, a.URL("/crash")).Status)
		mark := markLog(a)
		_, err := doReq(freshClient, "GET", a.URL("/crash?segv"), nil, nil)
		assert.Error(t, err, "the connection dies with the child")
		lines := mark.waitRaw("exit signal Segmentation fault (11)", 10*time.Second)
		t.Logf("%d lines:\n%s", len(lines), strings.Join(lines, "\n"))
		removeCrashReports(t, lines)
		all := strings.Join(lines, "\n")
		assert.Contains(t, all, "exit signal Segmentation fault (11)")
		assert.Regexp(t, `gowsgi: Apache child running embedded WSGI apps \(pid [0-9]+\) crashed: signal 11 \(Segmentation fault\) `+
			`at address 0x0 in thread [0-9]+; Python stack: (\S+ \(\S+:[0-9]+\) <- )*null_deref \(/\S+/crash\.wsgi:[0-9]+\) <- `+
			`application \(/\S+/crash\.wsgi:[0-9]+\); full report in /\S+/gowsgi-crash-embedded-[0-9]+\.txt`, all)
		assert.LessOrEqual(t, len(lines), 12)
		noRuntimeDump(t, lines)
		require.Equal(t, 200, Get(t, a.URL("/crash")).Status, "Apache serves on")
	})
}

// The same crash under mod_wsgi and gowsgi: the same status for the lost
// request, and gowsgi's error log grows by no more lines than mod_wsgi's
// (from the request until the group serves again).
func TestDaemonCrash_Differential(t *testing.T) {
	differentialOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		snippet := "WSGISocketPrefix @ROOT@/run/wsgi\n" + crashSnippet
		count := map[Module]int{}
		status := map[Module]int{}
		for _, m := range []Module{ModModWsgi, ModGowsgi} {
			a, err := startApache(ServerSpec{Module: m, MPM: mpm, Snippet: snippet})
			require.NoError(t, err, "%s", m)
			pid := crashPid(t, a)
			mark := markLog(a)
			r, err := doReq(longClient, "GET", a.URL("/crash?segv"), nil, nil)
			require.NoError(t, err)
			status[m] = r.Status
			deadline := time.Now().Add(15 * time.Second)
			for crashPid(t, a) == pid && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			mark.wait("\n", time.Second) // until the log is still
			lines := mark.raw()
			removeCrashReports(t, lines)
			count[m] = len(lines)
			t.Logf("%s: %d lines:\n%s", m, len(lines), strings.Join(lines, "\n"))
			assert.NoError(t, a.Stop())
			a.removeRoot()
		}
		assert.Equal(t, status[ModModWsgi], status[ModGowsgi], "the status of a request lost to a crash")
		assert.LessOrEqual(t, count[ModGowsgi], count[ModModWsgi], "lines in the error log for one crash")
	})
}

// A process draining after a graceful restart that crashes (or is killed)
// is reported as any other: the parent's line names the crash, and the old
// Apache child whose request was lost names the same cause (it used to be
// logged as "has drained and exited", and the child waited for a cause
// that never came). Exact: the crash happens only once the test opens the
// gate, after the graceful restart has left the process draining.
func TestDaemonCrash_WhileDraining(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: `
WSGIDaemonProcess dc processes=1 threads=2 graceful-timeout=30
WSGIScriptAlias /dc @APPS@/daemon/drain_crash.wsgi process-group=dc
SetEnv GATE_DIR @ROOT@/scratch
`})
		gate := filepath.Join(a.Root, "scratch")
		old, err := strconv.Atoi(Get(t, a.URL("/dc")).Body)
		require.NoError(t, err)
		done := make(chan Resp, 1)
		go func() {
			r, _ := doReq(longClient, "GET", a.URL("/dc?crash"), nil, nil)
			done <- r
		}()
		require.Eventually(t, func() bool {
			_, err := os.Stat(filepath.Join(gate, "started"))
			return err == nil
		}, 10*time.Second, 20*time.Millisecond, "the crashing request started")
		require.NoError(t, a.Graceful())
		// The new generation's process answers: the old one is draining.
		require.Eventually(t, func() bool {
			r, err := doReq(httpClient, "GET", a.URL("/dc"), nil, nil)
			return err == nil && r.Status == 200 && r.Body != strconv.Itoa(old)
		}, 10*time.Second, 50*time.Millisecond, "a new process serves after the graceful restart")
		require.NoError(t, os.WriteFile(filepath.Join(gate, "go"), nil, 0o644))
		r := <-done
		assert.Equal(t, 500, r.Status)
		parent := fmt.Sprintf("daemon process %d of group 'dc' from before the graceful restart crashed: signal 11 "+
			"(Segmentation fault)", old)
		child := fmt.Sprintf("(pid %d): the response was cut off before it was complete: the process crashed: "+
			"signal 11 (Segmentation fault)", old)
		require.Eventually(t, func() bool {
			log := a.ErrorLogContent()
			return strings.Contains(log, parent) && strings.Contains(log, child)
		}, 10*time.Second, 50*time.Millisecond, "the crash named by the parent and by the child that lost the request")
		log := a.ErrorLogContent()
		assert.NotContains(t, log, "its cause is not known yet")
		assert.NotContains(t, log, fmt.Sprintf("%d of group 'dc' from before the graceful restart has drained", old))
		removeCrashReports(t, strings.Split(log, "\n"))
	})
}
