package tests

// Daemon mode (WSGIDaemonProcess / WSGIProcessGroup), asserted as Debian's
// mod_wsgi 4.9.4 behaves (reference sections 1.2, 2.1 daemon column, 3).
// Every expectation here was checked against mod_wsgi
// (GOWSGI_TEST_MODULE=mod_wsgi) on the event, worker and prefork MPMs.
//
// One server per MPM carries every group the subtests need; the daemon
// groups run as real Unix users created for the test (daemon_helpers_test.go).

import (
	"bufio"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const daemonModeSnippet = `
WSGISocketPrefix @ROOT@/run/wsgi
WSGIDaemonProcess d1 user=@ALICE@ group=@ALICE@ processes=2 threads=4 home=@ROOT@/work/alice umask=0027 display-name=%{GROUP}
WSGIDaemonProcess bobgrp user=@BOB@ group=@BOB@
WSGIDaemonProcess single user=@ALICE@ threads=1
WSGIDaemonProcess once threads=1 maximum-requests=1
WSGIDaemonProcess one processes=1 threads=2
WSGIDaemonProcess bighdr user=@ALICE@ group=@ALICE@ header-buffer-size=65536
WSGIDaemonProcess flask user=@ALICE@ group=@ALICE@ python-path=@APPS@/flaskapp
WSGIDaemonProcess venv user=@ALICE@ group=@ALICE@ python-home=@ROOT@/venv

# embedded, for comparison
WSGIScriptAlias /emb @APPS@/daemon/probe.wsgi

# WSGIProcessGroup in a <Location>
WSGIScriptAlias /d1 @APPS@/daemon/probe.wsgi
<Location /d1>
    WSGIProcessGroup d1
</Location>
WSGIScriptAlias /d1chunked @APPS@/daemon/probe.wsgi
<Location /d1chunked>
    WSGIProcessGroup d1
    WSGIChunkedRequest On
</Location>

# process-group= on the alias
WSGIScriptAlias /bob @APPS@/daemon/probe.wsgi process-group=bobgrp
WSGIScriptAlias /single @APPS@/daemon/probe.wsgi process-group=single
WSGIScriptAlias /once @APPS@/daemon/probe.wsgi process-group=once
WSGIScriptAlias /one @APPS@/daemon/probe.wsgi process-group=one
WSGIScriptAlias /bighdr @APPS@/daemon/probe.wsgi process-group=bighdr
WSGIScriptAlias /flask @APPS@/daemon/flask.wsgi process-group=flask
WSGIScriptAlias /flask-nopath @APPS@/daemon/flask.wsgi process-group=bobgrp
WSGIScriptAlias /venv @APPS@/daemon/probe.wsgi process-group=venv

# WSGIProcessGroup %{ENV:var}
WSGIScriptAlias /envpg @APPS@/daemon/probe.wsgi
<Location /envpg>
    SetEnv PG bobgrp
    WSGIProcessGroup %{ENV:PG}
</Location>

# WSGIRestrictProcess
WSGIScriptAlias /restrict-ok @APPS@/daemon/probe.wsgi
<Location /restrict-ok>
    WSGIRestrictProcess d1 bobgrp
    WSGIProcessGroup bobgrp
</Location>
WSGIScriptAlias /restrict-no @APPS@/daemon/probe.wsgi
<Location /restrict-no>
    WSGIRestrictProcess d1
    WSGIProcessGroup bobgrp
</Location>

# a group nobody defined
WSGIScriptAlias /undefined @APPS@/daemon/probe.wsgi process-group=nosuch
`

func probeScript() string { return filepath.Join(appsDir(), "daemon", "probe.wsgi") }

// daemonModeServer starts the TestDaemon_Mode server for mpm with its users
// (alice, bob), the home= directory of group d1 and a venv for python-home=.
func daemonModeServer(t *testing.T, mpm string) (*Apache, map[string]*unixUser) {
	t.Helper()
	spec, users := withDaemonUsers(t, ServerSpec{
		MPM:     mpm,
		Snippet: daemonModeSnippet,
		Setup: func(root string) error {
			if err := os.MkdirAll(filepath.Join(root, "work", "alice"), 0o755); err != nil {
				return err
			}
			_ = os.Chmod(filepath.Join(root, "work"), 0o755)
			_ = os.Chmod(filepath.Join(root, "work", "alice"), 0o755)
			out, err := exec.Command(systemPy, "-m", "venv", "--system-site-packages", "--without-pip",
				filepath.Join(root, "venv")).CombinedOutput()
			if err != nil {
				return fmt.Errorf("making the venv: %v: %s", err, out)
			}
			return nil
		},
	}, "alice", "bob")
	a := StartApache(t, spec)
	for _, u := range users {
		requireReadableBy(t, u, appsDir(), filepath.Join(appsDir(), "daemon"), probeScript(),
			filepath.Join(appsDir(), "daemon", "flask.wsgi"), filepath.Join(appsDir(), "flaskapp", "flaskapp.py"),
			filepath.Join(appsDir(), "static", "file.txt"), filepath.Join(a.Root, "venv", "pyvenv.cfg"))
	}
	return a, users
}

func lookupUser(t testing.TB, name string) (uid, gid int, home string) {
	t.Helper()
	u, err := user.Lookup(name)
	require.NoError(t, err)
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, u.HomeDir
}

func TestDaemon_Mode(t *testing.T) {
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		a, users := daemonModeServer(t, mpm)
		alice, bob := users["alice"], users["bob"]
		wwwUID, wwwGID, wwwHome := lookupUser(t, "www-data")
		work := filepath.Join(a.Root, "work", "alice")

		// 1. the basic group: who and where the daemon is.
		t.Run("basic group", func(t *testing.T) {
			emb := getFacts(t, a.URL("/emb"), nil)
			f := getFacts(t, a.URL("/d1"), nil)
			t.Logf("daemon facts: %s", f.raw)

			// the embedded request ran in an Apache child as www-data
			require.Equal(t, wwwUID, emb.UID, "embedded request runs as Apache's User")
			require.Equal(t, "", emb.Environ["mod_wsgi.process_group"], "embedded process_group")

			assert.Equal(t, alice.UID, f.UID, "uid")
			assert.Equal(t, alice.UID, f.EUID, "euid")
			assert.Equal(t, alice.GID, f.GID, "gid")
			assert.Equal(t, alice.GID, f.EGID, "egid")
			assert.Equal(t, []int{alice.GID}, f.Groups, "supplementary groups (initgroups for the user)")
			assert.Equal(t, alice.Name, strp(f.User), "pwd user name")

			assert.NotEqual(t, emb.Pid, f.Pid, "the daemon request ran in another process than the embedded one")
			assert.Equal(t, a.Pid(), f.Ppid, "a daemon is a child of the Apache parent")
			assert.Equal(t, a.Pid(), emb.Ppid, "an Apache child is a child of the Apache parent")

			assert.Equal(t, work, f.Cwd, "cwd is home=")
			assert.Equal(t, alice.Home, strp(f.Home), "HOME is the user's passwd home (mod_wsgi sets it from getpwuid, not from home=)")
			// mod_wsgi overrides USER, USERNAME and LOGNAME only when Apache's
			// own environment has them (wsgi_interp.c); the harness starts
			// Apache with PATH and LANG only, so they stay absent.
			assert.Nil(t, f.UserEnv, "USER (absent from Apache's environment)")
			assert.Nil(t, f.LogName, "LOGNAME (absent from Apache's environment)")
			if assert.NotEmpty(t, f.Path) {
				assert.Equal(t, work, f.Path[0], "home= is inserted at the start of sys.path")
			}
			assert.NotContains(t, emb.Path, work)
			assert.Equal(t, "0027", f.Umask, "umask=0027")
			assert.Equal(t, procStatusField(a.Pid(), "Umask"), emb.Umask, "embedded: Apache's umask")
			assert.Equal(t, []string{"mod_wsgi"}, f.Argv, "sys.argv")

			// environ and the mod_wsgi module
			e := f.Environ
			assert.Equal(t, "d1", e["mod_wsgi.process_group"], "environ mod_wsgi.process_group")
			assert.Equal(t, "true", boolp(f.Multithread), "wsgi.multithread (threads=4)")
			assert.Equal(t, "true", boolp(f.Multiprocess), "wsgi.multiprocess (processes= given)")
			assert.Equal(t, "false", boolp(f.RunOnce), "wsgi.run_once")
			assert.Equal(t, "1", e["mod_wsgi.daemon_connects"], "mod_wsgi.daemon_connects")
			assert.Equal(t, "0", e["mod_wsgi.daemon_restarts"], "mod_wsgi.daemon_restarts")
			var stamps []int64
			for _, k := range []string{"mod_wsgi.request_start", "mod_wsgi.queue_start", "mod_wsgi.daemon_start", "mod_wsgi.script_start"} {
				v, err := strconv.ParseInt(e[k], 10, 64)
				if assert.NoError(t, err, "%s must be a string of microseconds, got %q", k, e[k]) {
					stamps = append(stamps, v)
				}
			}
			if len(stamps) == 4 {
				assert.True(t, stamps[0] <= stamps[1] && stamps[1] <= stamps[2] && stamps[2] <= stamps[3],
					"request_start <= queue_start <= daemon_start <= script_start: %v", stamps)
				assert.InDelta(t, float64(time.Now().UnixMicro()), float64(stamps[2]), 60e6, "daemon_start is µs since the epoch")
			}
			for _, k := range []string{"mod_wsgi.queue_start", "mod_wsgi.daemon_start", "mod_wsgi.daemon_connects", "mod_wsgi.daemon_restarts"} {
				assert.NotContains(t, emb.Environ, k, "embedded mode has no %s", k)
			}
			assert.Equal(t, "d1", f.Module["process_group"], "mod_wsgi.process_group")
			assert.EqualValues(t, 4, f.Module["threads_per_process"], "mod_wsgi.threads_per_process")
			assert.EqualValues(t, 2, f.Module["maximum_processes"], "mod_wsgi.maximum_processes")

			// display-name=%{GROUP}: "(wsgi:d1)" written over argv[0],
			// truncated to and space-padded to the length of the original
			// argv[0] ("/usr/sbin/apache2"); the other arguments are kept.
			rest := strings.TrimPrefix(apacheCmdline(a), apacheBin)
			title := fmt.Sprintf("%-*s", len(apacheBin), "(wsgi:d1)")
			assert.Equal(t, title+rest, f.Cmdline, "process title (/proc/self/cmdline)")
			fromTest, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", f.Pid))
			assert.Equal(t, title+rest, string(fromTest), "/proc/<daemon>/cmdline read by the test")
			assert.Equal(t, apacheCmdline(a), emb.Cmdline, "an Apache child keeps Apache's command line")

			// threads=4: at least four request threads besides the main thread
			n, _ := strconv.Atoi(procStatusField(f.Pid, "Threads"))
			assert.GreaterOrEqual(t, n, 5, "threads in the daemon (4 request threads + main)")
		})

		// processes=2: concurrent requests (6, more than one process's 4
		// threads) are served by both processes, and only by them.
		t.Run("two processes", func(t *testing.T) {
			pids := map[int]bool{}
			deadline := time.Now().Add(20 * time.Second)
			for len(pids) < 2 && time.Now().Before(deadline) {
				var wg sync.WaitGroup
				var mu sync.Mutex
				for i := 0; i < 6; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r, err := doReq(httpClient, "GET", a.URL("/d1?op=sleep&s=0.3"), nil, nil)
						if err != nil || r.Status != 200 {
							t.Errorf("concurrent request: %v %s", err, r)
							return
						}
						f := decodeFacts(t, r.Body)
						mu.Lock()
						defer mu.Unlock()
						pids[f.Pid] = true
						if f.UID != alice.UID || f.Ppid != a.Pid() {
							t.Errorf("pid %d: uid %d ppid %d", f.Pid, f.UID, f.Ppid)
						}
					}()
				}
				wg.Wait()
			}
			assert.Len(t, pids, 2, "distinct daemon pids of group d1 (processes=2): %v", pids)
		})

		// 2. wsgi.multithread / multiprocess / run_once, and the defaults
		// of home and group.
		t.Run("wsgi flags and defaults", func(t *testing.T) {
			b := getFacts(t, a.URL("/bob"), nil)
			assert.Equal(t, "false", boolp(b.Multiprocess), "processes= omitted: wsgi.multiprocess")
			assert.Equal(t, "true", boolp(b.Multithread), "default threads (15): wsgi.multithread")
			assert.Equal(t, "false", boolp(b.RunOnce))
			assert.EqualValues(t, 15, b.Module["threads_per_process"], "default threads")
			assert.EqualValues(t, 1, b.Module["maximum_processes"], "default processes")
			assert.Equal(t, bob.UID, b.UID, "uid")
			assert.Equal(t, bob.GID, b.GID, "gid")
			assert.Equal(t, bob.Home, b.Cwd, "no home=: cwd is the user's passwd home (the user differs from Apache's)")
			assert.Equal(t, bob.Home, strp(b.Home), "HOME")
			assert.Equal(t, apacheCmdline(a), b.Cmdline, "no display-name: the title is Apache's")

			s := getFacts(t, a.URL("/single"), nil)
			assert.Equal(t, "false", boolp(s.Multithread), "threads=1: wsgi.multithread")
			assert.Equal(t, "false", boolp(s.Multiprocess))
			assert.Equal(t, "false", boolp(s.RunOnce), "threads=1 without maximum-requests=1: run_once")
			assert.Equal(t, alice.UID, s.UID)
			assert.Equal(t, wwwGID, s.GID, "user= without group=: Apache's Group")
			assert.Equal(t, []int{wwwGID}, s.Groups, "supplementary groups")

			one := getFacts(t, a.URL("/one"), nil)
			assert.Equal(t, "true", boolp(one.Multiprocess), "processes=1 given: wsgi.multiprocess")
			assert.Equal(t, "true", boolp(one.Multithread), "threads=2")

			// threads=1 maximum-requests=1: the process restarts after this
			// request; one request is enough.
			o := getFacts(t, a.URL("/once"), nil)
			assert.Equal(t, "true", boolp(o.RunOnce), "threads=1 maximum-requests=1: wsgi.run_once")
			assert.Equal(t, "false", boolp(o.Multithread))
			assert.Equal(t, "false", boolp(o.Multiprocess))
			assert.Equal(t, wwwUID, o.UID, "no user=: Apache's User")
			assert.Equal(t, wwwGID, o.GID, "no group=: Apache's Group")
			parentCwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", a.Pid()))
			assert.Equal(t, parentCwd, o.Cwd, "Apache's User and no home=: Apache's cwd")
			assert.Equal(t, wwwHome, strp(o.Home), "HOME is www-data's passwd home")
			assert.Equal(t, "once", o.Environ["mod_wsgi.process_group"])
		})

		// 5. how a request selects its group.
		t.Run("group selection", func(t *testing.T) {
			for _, c := range []struct{ name, path, group string }{
				{"process-group= option", "/bob", "bobgrp"},
				{"WSGIProcessGroup %{ENV:PG}", "/envpg", "bobgrp"},
				{"WSGIRestrictProcess allows", "/restrict-ok", "bobgrp"},
				{"WSGIProcessGroup in Location", "/d1", "d1"},
			} {
				c := c
				t.Run(c.name, func(t *testing.T) {
					f := getFacts(t, a.URL(c.path), nil)
					assert.Equal(t, c.group, f.Environ["mod_wsgi.process_group"], "%s: environ mod_wsgi.process_group", c.path)
					assert.Equal(t, c.group, f.Module["process_group"], "%s: mod_wsgi.process_group", c.path)
					want := map[string]int{"bobgrp": bob.UID, "d1": alice.UID}[c.group]
					assert.Equal(t, want, f.UID, "%s runs as the group's user", c.path)
				})
			}
			for _, c := range []struct{ name, path, msg string }{
				{"WSGIRestrictProcess refuses", "/restrict-no",
					"Daemon process called 'bobgrp' cannot be accessed by this WSGI application as not a member of allowed groups: " + probeScript()},
				{"undefined group", "/undefined", "No WSGI daemon process called 'nosuch' has been configured: " + probeScript()},
			} {
				c := c
				t.Run(c.name, func(t *testing.T) {
					rr, lport, err := RawRequestLocal(t, a.Addr(), getRaw(c.path))
					require.NoError(t, err)
					assert.Equal(t, 500, rr.Res.StatusCode, c.path)
					lines := WaitClientLog(t, a, lport, c.msg)
					assert.Contains(t, lines, errorTag(a), "%s: logged at error level", c.path)
				})
			}
		})

		// 7. request bodies and responses through the daemon.
		t.Run("request body 1MiB echo", func(t *testing.T) {
			body := make([]byte, 1<<20)
			_, _ = rand.Read(body)
			sum := md5.Sum(body)
			r := Do(t, "POST", a.URL("/d1?op=echo"), strings.NewReader(string(body)), map[string]string{"Content-Type": "application/octet-stream"})
			require.Equal(t, 200, r.Status, "%s", r)
			assert.Equal(t, hex.EncodeToString(sum[:]), r.Header.Get("X-Md5"), "md5 of what wsgi.input.read() returned")
			assert.Equal(t, len(body), len(r.Body), "echoed length")
			assert.True(t, r.Body == string(body), "echoed body is the request body")
		})

		t.Run("request body line iteration", func(t *testing.T) {
			var b strings.Builder
			for i := 0; i < 1000; i++ {
				fmt.Fprintf(&b, "line %d %s\n", i, strings.Repeat("x", i%97))
			}
			b.WriteString("last line without newline")
			sum := md5.Sum([]byte(b.String()))
			r := Do(t, "POST", a.URL("/d1?op=lines"), strings.NewReader(b.String()), nil)
			require.Equal(t, 200, r.Status, "%s", r)
			m := DecodeJSON(t, r.Body)
			assert.EqualValues(t, 1001, m["lines"])
			assert.Equal(t, hex.EncodeToString(sum[:]), m["md5"])
		})

		t.Run("chunked request body", func(t *testing.T) {
			body := strings.Repeat("chunked body data\n", 5000)
			// an io.Reader of unknown length: net/http sends it chunked
			r := Do(t, "POST", a.URL("/d1chunked?op=echo"), io.MultiReader(strings.NewReader(body)), nil)
			require.Equal(t, 200, r.Status, "WSGIChunkedRequest On: %s", r)
			assert.True(t, r.Body == body, "echoed chunked body (%d bytes, want %d)", len(r.Body), len(body))
			r = Do(t, "POST", a.URL("/d1?op=echo"), io.MultiReader(strings.NewReader(body)), nil)
			assert.Equal(t, 411, r.Status, "chunked body without WSGIChunkedRequest")
		})

		t.Run("streamed response flushes", func(t *testing.T) {
			goFile := filepath.Join(a.Root, "scratch", "go-"+token())
			c, err := net.DialTimeout("tcp", a.Addr(), 5*time.Second)
			require.NoError(t, err)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(8 * time.Second))
			_, err = io.WriteString(c, getRaw("/d1?op=stream&go="+url.QueryEscape(goFile)))
			require.NoError(t, err)
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err, "response headers before the generator finished")
			defer res.Body.Close()
			require.Equal(t, 200, res.StatusCode)
			br := bufio.NewReader(res.Body)
			first, err := br.ReadString('\n')
			require.NoError(t, err, "the first chunk must arrive while the generator waits")
			assert.Equal(t, "first\n", first)
			require.NoError(t, os.WriteFile(goFile, []byte("go"), 0o644))
			rest, err := io.ReadAll(br)
			require.NoError(t, err)
			assert.Equal(t, "second\n", string(rest), "the generator saw the go file, so 'first' had been flushed")
		})

		t.Run("HEAD", func(t *testing.T) {
			r := Do(t, "HEAD", a.URL("/d1?op=head"), nil, nil)
			assert.Equal(t, 200, r.Status)
			assert.Equal(t, "HEAD", r.Header.Get("X-Method"), "the app sees HEAD")
			assert.Equal(t, "", r.Body)
			g := Get(t, a.URL("/d1?op=head"))
			assert.Equal(t, "body for GET", g.Body)
		})

		t.Run("404 from the app", func(t *testing.T) {
			r := Get(t, a.URL("/d1?op=notfound"))
			assert.Equal(t, 404, r.Status)
			assert.Equal(t, "app says not found", r.Body)
			assert.Equal(t, "text/plain", r.Header.Get("Content-Type"))
		})

		// Errors inside the daemon: mod_wsgi's daemon logs them itself,
		// tagging each line with the client as [remote ip:port] (reference
		// 2.1, wsgi.errors in daemon mode) instead of Apache's [client ...].
		t.Run("exception", func(t *testing.T) {
			tok := token()
			rr, lport, err := RawRequestLocal(t, a.Addr(), getRaw("/d1?op=raise&tok="+tok))
			require.NoError(t, err)
			assert.Equal(t, 500, rr.Res.StatusCode)
			assert.Contains(t, rr.Body, "<title>500 Internal Server Error</title>")
			WaitLog(t, a, 5*time.Second, "RuntimeError: daemon probe failure "+tok)
			remote := fmt.Sprintf("[remote 127.0.0.1:%d]", lport)
			mine := waitLinesWith(a, remote, "RuntimeError: daemon probe failure "+tok)
			assert.Contains(t, mine, "Exception occurred processing WSGI script '"+probeScript()+"'.",
				"log lines tagged %s:\n%s\nall lines of the request:\n%s", remote, mine, linesOfPort(a, lport))
			assert.Contains(t, mine, "Traceback (most recent call last):")
			assert.Contains(t, mine, `File "`+probeScript()+`", line `, "the traceback names the script")
			assert.Contains(t, mine, "RuntimeError: daemon probe failure "+tok)
			assert.Contains(t, mine, errorTag(a))
		})

		t.Run("status and header errors", func(t *testing.T) {
			for _, c := range []struct{ op, exc string }{
				{"badstatus", "ValueError: status code is not a 3 digit integer"},
				{"badheader", "ValueError: carriage return/line feed character present in header value"},
			} {
				c := c
				t.Run(c.op, func(t *testing.T) {
					rr, lport, err := RawRequestLocal(t, a.Addr(), getRaw("/d1?op="+c.op))
					require.NoError(t, err)
					assert.Equal(t, 500, rr.Res.StatusCode, c.op)
					WaitLog(t, a, 5*time.Second, c.exc)
					remote := fmt.Sprintf("[remote 127.0.0.1:%d]", lport)
					mine := waitLinesWith(a, remote, c.exc)
					assert.Contains(t, mine, c.exc, "log lines tagged %s; all lines of the request:\n%s", remote, linesOfPort(a, lport))
					assert.Contains(t, mine, "Exception occurred processing WSGI script '"+probeScript()+"'.")
				})
			}
		})

		t.Run("oversized response header", func(t *testing.T) {
			// default header-buffer-size (32768): 500
			rr, lport, err := RawRequestLocal(t, a.Addr(), getRaw("/d1?op=bigheader&n=40000"))
			require.NoError(t, err)
			assert.Equal(t, 500, rr.Res.StatusCode, "40000-byte header, default header-buffer-size")
			if a.Spec.Module == ModModWsgi {
				lines := WaitClientLog(t, a, lport, "Truncated or oversized response headers received from daemon process 'd1': "+probeScript())
				assert.Contains(t, lines, errorTag(a))
			} else {
				// mod_wsgi logs the same text for a crash, a timeout and an
				// oversized header (mod_wsgi #226, #666, #905); gowsgi says
				// the cause (ARCHITECTURE.md 5, "Failures have causes"): a
				// line of this request names the group and header-buffer-size.
				lines := WaitClientLog(t, a, lport, "header-buffer-size")
				assert.Contains(t, lines, "'d1'", "the line names the group")
				assert.Contains(t, lines, errorTag(a))
			}
			// header-buffer-size=65536: 200
			r := Get(t, a.URL("/bighdr?op=bigheader&n=40000"))
			assert.Equal(t, 200, r.Status, "header-buffer-size=65536")
			assert.Len(t, r.Header.Get("X-Big"), 40000)
			// embedded mode has no such limit
			r = Get(t, a.URL("/emb?op=bigheader&n=40000"))
			assert.Equal(t, 200, r.Status, "embedded")
			assert.Len(t, r.Header.Get("X-Big"), 40000)
		})

		t.Run("file_wrapper", func(t *testing.T) {
			want := mustReadFile(t, filepath.Join(appsDir(), "static", "file.txt"))
			r := Get(t, a.URL("/d1?op=filewrapper"))
			require.Equal(t, 200, r.Status)
			assert.Equal(t, []string{strconv.Itoa(len(want))}, r.Header.Values("Content-Length"), "file_wrapper adds Content-Length")
			assert.True(t, r.Body == want, "file content (%d bytes)", len(r.Body))
		})

		// 10. Flask in a daemon group, importable through python-path=.
		t.Run("flask with python-path", func(t *testing.T) {
			r := Get(t, a.URL("/flask/"))
			require.Equal(t, 200, r.Status, r.String())
			assert.Equal(t, "flask index", r.Body)
			r = Get(t, a.URL("/flask/hello/bob?x=1"))
			require.Equal(t, 200, r.Status, r.String())
			m := DecodeJSON(t, r.Body)
			assert.Equal(t, "hello bob", m["greeting"])
			assert.Equal(t, "/flask", m["script_root"])
			assert.Equal(t, "/hello/bob", m["path"])
			assert.Equal(t, map[string]any{"x": "1"}, m["args"])
			form := url.Values{"name": {"alice"}, "note": {"h\u00e9llo world"}}
			r = Do(t, "POST", a.URL("/flask/form"), strings.NewReader(form.Encode()), formHeaders)
			require.Equal(t, 200, r.Status, r.String())
			assert.Equal(t, map[string]any{"name": "alice", "note": "h\u00e9llo world"}, DecodeJSON(t, r.Body)["fields"])
			assert.Equal(t, 404, Get(t, a.URL("/flask/no/such/route")).Status)
			// the same script in a group without python-path= cannot import flaskapp
			tok := token()
			r = Get(t, a.URL("/flask-nopath/?"+tok))
			assert.Equal(t, 500, r.Status, "without python-path= the import fails")
			WaitLog(t, a, 5*time.Second, "ModuleNotFoundError: No module named 'flaskapp'")
		})

		// 11. python-home= naming a venv.
		t.Run("python-home venv", func(t *testing.T) {
			venv := filepath.Join(a.Root, "venv")
			f := getFacts(t, a.URL("/venv"), nil)
			assert.Equal(t, venv, f.Prefix, "sys.prefix is the venv")
			assert.Equal(t, "/usr", f.BasePrefix, "sys.base_prefix")
			assert.Contains(t, f.Path, filepath.Join(venv, "lib", systemPyLib(), "site-packages"), "the venv's site-packages")
			assert.Contains(t, f.Path, "/usr/lib/python3/dist-packages", "--system-site-packages")
			assert.Equal(t, alice.UID, f.UID)
			d := getFacts(t, a.URL("/d1"), nil)
			assert.Equal(t, "/usr", d.Prefix, "a group without python-home= keeps the system prefix")
		})
	})
}

// 6. WSGIRestrictEmbedded On next to a daemon group (configuration, not
// MPM behaviour: event only).
func TestDaemon_RestrictEmbedded(t *testing.T) {
	t.Parallel()
	spec, users := withDaemonUsers(t, ServerSpec{MPM: "event", Snippet: `
WSGIRestrictEmbedded On
WSGIDaemonProcess d1 user=@ALICE@ group=@ALICE@ threads=2
WSGIScriptAlias /d1 @APPS@/daemon/probe.wsgi process-group=d1
WSGIScriptAlias /emb @APPS@/daemon/probe.wsgi
`}, "alice")
	a := StartApache(t, spec)
	f := getFacts(t, a.URL("/d1"), nil)
	assert.Equal(t, users["alice"].UID, f.UID, "the daemon request runs")
	assert.Equal(t, "d1", f.Environ["mod_wsgi.process_group"])
	rr, lport, err := RawRequestLocal(t, a.Addr(), getRaw("/emb"))
	require.NoError(t, err)
	assert.Equal(t, 500, rr.Res.StatusCode, "embedded request with WSGIRestrictEmbedded On")
	lines := WaitClientLog(t, a, lport, "Embedded mode of mod_wsgi disabled by runtime configuration: "+probeScript())
	assert.Contains(t, lines, errorTag(a))
}

// waitLinesWith waits (up to 5 s) until the error-log lines containing
// needle include one containing last, then returns those lines joined.
func waitLinesWith(a *Apache, needle, last string) string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := strings.Join(LogLinesWith(a, needle), "\n")
		if strings.Contains(lines, last) || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// linesOfPort returns the error-log lines that mention 127.0.0.1:<port>
// (as [client ...] or [remote ...]), for failure messages.
func linesOfPort(a *Apache, port int) string {
	return strings.Join(LogLinesWith(a, fmt.Sprintf("127.0.0.1:%d]", port)), "\n")
}
