package tests

// A daemon's output is its own (ARCHITECTURE.md section 7; issue 14 item
// 6): what it writes at import and in a request lands in the ErrorLog of
// the virtual host that defines its group, under the daemon's own pid, in
// mod_wsgi's format, and the vhost's LogLevel applies.

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const daemonLogsSnippet = `
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName a.example
    ErrorLog @ROOT@/a_error.log
    WSGIDaemonProcess agroup user=@ALICE@ group=@ALICE@ threads=2
    WSGIImportScript @APPS@/daemon/logs.wsgi process-group=agroup application-group=%{GLOBAL}
    WSGIScriptAlias / @APPS@/daemon/logs.wsgi process-group=agroup application-group=%{GLOBAL}
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName b.example
    ErrorLog @ROOT@/b_error.log
    LogLevel crit
    WSGIDaemonProcess bgroup user=@BOB@ group=@BOB@ threads=2
    WSGIImportScript @APPS@/daemon/logs.wsgi process-group=bgroup application-group=%{GLOBAL}
    WSGIScriptAlias / @APPS@/daemon/logs.wsgi process-group=bgroup application-group=%{GLOBAL}
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName c.example
    ErrorLog "|$/bin/cat >> @ROOT@/c_error.log"
    ErrorLogFormat "[%t] [%l] [pid %P] %M"
    WSGIDaemonProcess cgroup user=@ALICE@ group=@ALICE@ threads=1
    WSGIImportScript @APPS@/daemon/logs.wsgi process-group=cgroup application-group=%{GLOBAL}
    WSGIScriptAlias / @APPS@/daemon/logs.wsgi process-group=cgroup application-group=%{GLOBAL}
</VirtualHost>
`

// daemonLogLines are the marked lines of a log file, read until want are
// all there or the wait is over.
func daemonLogLines(path string, wait time.Duration, want ...string) []string {
	deadline := time.Now().Add(wait)
	for {
		data, _ := os.ReadFile(path)
		var lines []string
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, "IMPORT-") || strings.Contains(l, "REQ-") {
				lines = append(lines, l)
			}
		}
		all := true
		for _, w := range want {
			if !strings.Contains(strings.Join(lines, "\n"), w) {
				all = false
			}
		}
		if all || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startDaemonLogs starts a server of module m with the snippet, its users
// already made, and returns it with its daemon's pid (from a request to
// group A, marked mark).
func startDaemonLogs(t *testing.T, m Module, mpm string, alice, bob *unixUser) (*Apache, error) {
	snippet := strings.NewReplacer("@ALICE@", alice.Name, "@BOB@", bob.Name).Replace(daemonLogsSnippet)
	a, err := startApache(ServerSpec{Module: m, MPM: mpm, Snippet: snippet, ExtraPort: true})
	if a != nil {
		t.Cleanup(func() {
			if err := a.Stop(); err != nil {
				t.Errorf("stopping %s: %v", m, err)
			}
			if t.Failed() {
				t.Logf("error log of %s:\n%s", m, tail(a.ErrorLogContent(), 40))
				data, _ := os.ReadFile(filepath.Join(a.Root, "a_error.log"))
				t.Logf("a_error.log of %s:\n%s", m, tail(string(data), 40))
			}
			a.removeRoot()
		})
	}
	return a, err
}

func daemonLogUsers(t *testing.T) (*unixUser, *unixUser) {
	homes, err := os.MkdirTemp("", "gowsgi-it-homes-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(homes, 0o755))
	t.Cleanup(func() { os.RemoveAll(homes) })
	alice, err := createDaemonUser(t, daemonUserName(t, "alice"), filepath.Join(homes, "alice"))
	require.NoError(t, err)
	bob, err := createDaemonUser(t, daemonUserName(t, "bob"), filepath.Join(homes, "bob"))
	require.NoError(t, err)
	requireReadableBy(t, alice, filepath.Join(appsDir(), "daemon", "logs.wsgi"))
	requireReadableBy(t, bob, filepath.Join(appsDir(), "daemon", "logs.wsgi"))
	return alice, bob
}

// daemonLogRequest asks vhost host for its group's pid, marking the lines.
func daemonLogRequest(t *testing.T, a *Apache, host, mark string) int {
	r := Do(t, "GET", fmt.Sprintf("http://127.0.0.1:%d/?%s", a.Port2, mark), nil, map[string]string{"Host": host})
	require.Equal(t, 200, r.Status, r.String())
	m := DecodeJSON(t, r.Body)
	pid, _ := m["pid"].(float64)
	require.NotZero(t, pid)
	return int(pid)
}

func TestDaemon_OwnLog(t *testing.T) {
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		alice, bob := daemonLogUsers(t)
		a, err := startDaemonLogs(t, targetModule(), mpm, alice, bob)
		require.NoError(t, err)
		pidA := daemonLogRequest(t, a, "a.example", "m1")
		daemonLogRequest(t, a, "b.example", "m1")

		aLog := filepath.Join(a.Root, "a_error.log")
		lines := daemonLogLines(aLog, 5*time.Second, "IMPORT-STDERR-agroup", "IMPORT-WARNING-agroup",
			"REQ-STDERR-agroup-m1", "REQ-ERRORS-agroup-m1")
		joined := strings.Join(lines, "\n")
		tag := regexp.QuoteMeta(errorTag(a))
		stamp := `\[[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}\.\d{6} \d{4}\] `
		tid := `:tid \d+` // under every MPM, as Apache writes its own lines
		pidPart := fmt.Sprintf(`\[pid %d%s\] `, pidA, tid)
		for _, c := range []struct{ what, re string }{
			{"print to sys.stderr at import", `^` + stamp + tag + ` ` + pidPart + `IMPORT-STDERR-agroup$`},
			{"a Python warning at import", `^` + stamp + tag + ` ` + pidPart + `.*UserWarning: IMPORT-WARNING-agroup$`},
			{"print to sys.stderr in a request", `^` + stamp + tag + ` ` + pidPart + `\[remote 127\.0\.0\.1:\d+\] REQ-STDERR-agroup-m1$`},
			{"wsgi.errors in a request", `^` + stamp + tag + ` ` + pidPart + `\[remote 127\.0\.0\.1:\d+\] REQ-ERRORS-agroup-m1$`},
		} {
			re := regexp.MustCompile(c.re)
			found := false
			for _, l := range lines {
				found = found || re.MatchString(l)
			}
			assert.True(t, found, "%s: no line in the vhost's ErrorLog matching %s; its marked lines:\n%s", c.what, c.re, joined)
		}
		assert.NotContains(t, joined, "bgroup", "group B's lines are not in vhost A's log")

		// The main error log has no line of either daemon.
		for _, l := range strings.Split(a.ErrorLogContent(), "\n") {
			assert.False(t, strings.Contains(l, "IMPORT-") || strings.Contains(l, "REQ-"),
				"a daemon's line in the main error log: %s", l)
		}
		// A piped ErrorLog: the daemon writes to the logger's pipe; the
		// vhost's custom ErrorLogFormat is not applied to the daemon's lines
		// (mod_wsgi's are written by Apache, so it applies there), and the
		// start-up says so.
		pidC := daemonLogRequest(t, a, "c.example", "m1")
		cLines := daemonLogLines(filepath.Join(a.Root, "c_error.log"), 5*time.Second, "IMPORT-STDERR-cgroup", "REQ-STDERR-cgroup-m1")
		cJoined := strings.Join(cLines, "\n")
		assert.Contains(t, cJoined, fmt.Sprintf("[pid %d", pidC), "piped ErrorLog")
		assert.Contains(t, cJoined, "IMPORT-STDERR-cgroup", "piped ErrorLog")
		assert.Contains(t, cJoined, "REQ-STDERR-cgroup-m1", "piped ErrorLog")
		if a.Spec.Module == ModGowsgi {
			assert.Regexp(t, `\[remote 127\.0\.0\.1:\d+\] REQ-STDERR-cgroup-m1`, cJoined)
			assert.Regexp(t, fmt.Sprintf(`\[pid %d%s\] IMPORT-STDERR-cgroup`, pidC, tid), cJoined)
			assert.Contains(t, mustReadFile(t, filepath.Join(a.Root, "c_error.log")),
				"daemon process group 'cgroup' writes its own error-log lines in Apache's default format")
		}

		// Vhost B's LogLevel crit: its error-level lines are not written.
		bLines := daemonLogLines(filepath.Join(a.Root, "b_error.log"), 300*time.Millisecond)
		assert.Empty(t, bLines, "vhost B (LogLevel crit) logs none of its daemon's error-level lines")
	})
}

// The same lines from mod_wsgi and gowsgi, with times, pids, thread ids,
// ports and the module's name made equal, are the same.
func TestDaemon_OwnLogDifferential(t *testing.T) {
	differentialOnly(t)
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		alice, bob := daemonLogUsers(t)
		var wg sync.WaitGroup
		servers := make([]*Apache, 2)
		errs := make([]error, 2)
		for i, m := range []Module{ModModWsgi, ModGowsgi} {
			wg.Add(1)
			go func(i int, m Module) {
				defer wg.Done()
				servers[i], errs[i] = startDaemonLogs(t, m, mpm, alice, bob)
			}(i, m)
		}
		wg.Wait()
		for i := range servers {
			require.NoError(t, errs[i])
		}
		norm := regexp.MustCompile(`^\[[^\]]*\] \[(wsgi|gowsgi):(\w+)\] \[pid \d+(:tid \d+)?\] (\[remote 127\.0\.0\.1:)?\d*\]?`)
		shapes := make([][]string, 2)
		for i, a := range servers {
			daemonLogRequest(t, a, "a.example", "m1")
			lines := daemonLogLines(filepath.Join(a.Root, "a_error.log"), 5*time.Second, "IMPORT-STDERR-agroup",
				"REQ-STDERR-agroup-m1", "REQ-ERRORS-agroup-m1", "REQ-ESCAPED-agroup-m1")
			for _, l := range lines {
				shapes[i] = append(shapes[i], norm.ReplaceAllStringFunc(l, func(s string) string {
					m := norm.FindStringSubmatch(s)
					out := "[T] [M:" + m[2] + "] [pid P"
					if m[3] != "" {
						out += ":tid T"
					}
					out += "] "
					if m[4] != "" {
						out += "[remote 127.0.0.1:N]"
					}
					return out
				}))
			}
			sort.Strings(shapes[i])
		}
		assert.Equal(t, shapes[0], shapes[1], "the daemon's marked lines in vhost A's ErrorLog (mod_wsgi, gowsgi)")
	})
}

// A group's locale= changes what its app's strftime writes, not the day
// and month names of its log lines: Apache's are always English. The
// locale (fr_FR.UTF-8) is built for the test below ServerRoot and found
// through LOCPATH; launched and forked (server-metrics=On) groups alike.
func TestDaemon_LogTimestampsEnglishUnderLocale(t *testing.T) {
	gowsgiOnly(t)
	if _, err := exec.LookPath("localedef"); err != nil {
		t.Skip("no localedef")
	}
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: `
WSGIDaemonProcess launched threads=1 locale=fr_FR.UTF-8
WSGIScriptAlias /launched @ROOT@/scratch/loc.wsgi process-group=launched application-group=%{GLOBAL}
WSGIDaemonProcess forked threads=1 locale=fr_FR.UTF-8 server-metrics=On
WSGIScriptAlias /forked @ROOT@/scratch/loc.wsgi process-group=forked application-group=%{GLOBAL}
`, Env: []string{"LOCPATH=@ROOT@/locale"},
			Files: map[string]string{"scratch/loc.wsgi": `import sys, time
def application(environ, start_response):
    print('LOCALE-MARK-' + environ['mod_wsgi.process_group'], file=environ['wsgi.errors'])
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [time.strftime('%a %b', time.gmtime(0)).encode()]
`},
			Setup: func(root string) error {
				if err := os.MkdirAll(filepath.Join(root, "locale"), 0o755); err != nil {
					return err
				}
				out, err := exec.Command("localedef", "-i", "fr_FR", "-f", "UTF-8",
					filepath.Join(root, "locale", "fr_FR.UTF-8")).CombinedOutput()
				if err != nil {
					return fmt.Errorf("localedef: %v: %s", err, out)
				}
				return os.Chmod(root, 0o755)
			}})
		stamp := regexp.MustCompile(`^\[(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{2} \d{2}:\d{2}:\d{2}\.\d{6} \d{4}\] `)
		for _, group := range []string{"launched", "forked"} {
			r := Get(t, a.URL("/"+group+"/x"))
			require.Equal(t, 200, r.Status, r.String())
			// 1 Jan 1970 was a Thursday: the group's locale is in effect.
			assert.Equal(t, "jeu. janv.", r.Body, "%s: the app's strftime follows locale=", group)
			log := WaitLog(t, a, 5*time.Second, "LOCALE-MARK-"+group)
			found := false
			for _, l := range strings.Split(log, "\n") {
				if strings.Contains(l, "LOCALE-MARK-"+group) {
					found = true
					assert.Regexp(t, stamp, l, "%s: the daemon's line has English names", group)
				}
			}
			assert.True(t, found, group)
		}
	})
}

// A piped ErrorLog whose reader has stopped reading: a thread whose
// wsgi.errors lines fill the pipe blocks in its write, but with the GIL
// released (as mod_wsgi's Log object releases it around ap_log_error), so
// the process's other thread still answers.
func TestDaemon_StalledLogStallsOnlyTheWriter(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, ExtraPort: true, Snippet: `
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName stall.example
    ErrorLog "|/bin/sleep 600"
    WSGIDaemonProcess stall threads=2 shutdown-timeout=2
    WSGIScriptAlias / @ROOT@/scratch/stall.wsgi process-group=stall application-group=%{GLOBAL}
</VirtualHost>
`, Files: map[string]string{"scratch/stall.wsgi": `def application(environ, start_response):
    if environ['PATH_INFO'] == '/flood':
        for i in range(1000):  # 1 MB: far past the pipe's 64 KB
            print('x' * 1000, file=environ['wsgi.errors'])
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'pong']
`}})
		url := fmt.Sprintf("http://127.0.0.1:%d", a.Port2)
		require.Equal(t, 200, Get(t, url+"/ping").Status)
		flood := &http.Client{Timeout: 4 * time.Second}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = doReq(flood, "GET", url+"/flood", nil, nil) // blocks in its log writes
		}()
		time.Sleep(1500 * time.Millisecond)
		ping := &http.Client{Timeout: 2 * time.Second}
		r, err := doReq(ping, "GET", url+"/ping", nil, nil)
		require.NoError(t, err, "the other thread answers while one is stuck writing its log")
		assert.Equal(t, 200, r.Status)
		<-done
	})
}
