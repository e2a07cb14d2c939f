package tests

// mod_wsgi 6's GIL modes (docs/directives.md, "GIL modes"):
// WSGIPerInterpreterGIL gives each sub-interpreter its own GIL on a 3.12+
// group, WSGIFreeThreading turns the GIL off on a free-threaded build,
// either at server scope or inside <WSGIInterpreterOptions
// process-group= application-group=>; where the group's Python cannot,
// the directive is accepted with mod_wsgi 6's warning.
//
// Whether two requests really ran Python at once is told by the
// rendezvous of apps/gil/barrier.wsgi, which holds its GIL while it waits
// (a switch interval of 1000 s): on one GIL the second request cannot run
// until the first has given up, so it cannot pass by chance; on two GILs
// (or none) both pass however slowly the machine schedules them, so it
// cannot fail by chance. The shared-GIL group beside each own-GIL one
// shows the rendezvous fails where it must.
//
// The Pythons are the pyenv builds (pythons_helpers_test.go) and the
// free-threaded build `make python-freethreaded` makes; a test whose
// Python is absent says so and skips.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type gilFacts struct {
	Passed            bool    `json:"passed"`
	Spins             int     `json:"spins"`
	Version           string  `json:"version"`
	FreeThreadedBuild bool    `json:"free_threaded_build"`
	GILEnabled        bool    `json:"gil_enabled"`
	SwitchInterval    float64 `json:"switch_interval"`
	ProcessGroup      string  `json:"process_group"`
	ApplicationGroup  string  `json:"application_group"`
	Pid               int     `json:"pid"`
	Imported          bool    `json:"imported"`
	Error             string  `json:"error"`
}

func getGIL(t testing.TB, url string) gilFacts {
	t.Helper()
	r := Get(t, url)
	require.Equal(t, 200, r.Status, "%s: %s", url, truncate(r.Body, 400))
	var f gilFacts
	require.NoError(t, json.Unmarshal([]byte(r.Body), &f), r.Body)
	return f
}

// rendezvous sends side 0 to pathA and side 1 to pathB at once and returns
// both answers. Each first has its interpreter loaded (and its switch
// interval set) by a request of its own, so neither waits for a GIL with
// the old interval.
func rendezvous(t *testing.T, a *Apache, name, pathA, pathB string, timeout int) (gilFacts, gilFacts) {
	t.Helper()
	getGIL(t, a.URL(pathA+"?op=facts"))
	getGIL(t, a.URL(pathB+"?op=facts"))
	file := filepath.Join(a.Root, "scratch", name)
	require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
	require.NoError(t, os.WriteFile(file, []byte{0, 0}, 0o666))
	require.NoError(t, os.Chmod(file, 0o666)) // the daemon's user writes it; the umask took bits
	var out [2]gilFacts
	var wg sync.WaitGroup
	for side, path := range []string{pathA, pathB} {
		wg.Add(1)
		go func(side int, path string) {
			defer wg.Done()
			out[side] = getGIL(t, a.URL(fmt.Sprintf("%s?file=%s&side=%d&timeout=%d", path, file, side, timeout)))
		}(side, path)
	}
	wg.Wait()
	return out[0], out[1]
}

// Per-interpreter GIL on a 3.12 and a 3.13 group: two application groups
// of one daemon process run Python at the same time; a single-phase
// extension fails its import in them with CPython's ImportError; the
// main interpreter keeps the process's GIL; a group without the directive
// shares one GIL as before; an application-group= container selects one
// interpreter.
func TestGIL_PerInterpreterGIL(t *testing.T) {
	gowsgiOnly(t)
	for _, tag := range []string{"3.12", "3.13"} {
		tag := tag
		t.Run(tag, func(t *testing.T) {
			py := requirePython(t, tag)
			snippet := strings.ReplaceAll(`
WSGIDaemonProcess own processes=1 threads=4 python-executable=@EXE@
WSGIDaemonProcess shared processes=1 threads=4 python-executable=@EXE@
WSGIDaemonProcess mixed processes=1 threads=4 python-executable=@EXE@
<WSGIInterpreterOptions process-group=own>
    WSGIPerInterpreterGIL On
</WSGIInterpreterOptions>
<WSGIInterpreterOptions application-group=c>
    WSGIPerInterpreterGIL On
</WSGIInterpreterOptions>
WSGIScriptAlias /own/a @APPS@/gil/barrier.wsgi process-group=own application-group=a
WSGIScriptAlias /own/b @APPS@/gil/barrier.wsgi process-group=own application-group=b
WSGIScriptAlias /own/main @APPS@/gil/barrier.wsgi process-group=own application-group=%{GLOBAL}
WSGIScriptAlias /shared/a @APPS@/gil/barrier.wsgi process-group=shared application-group=a
WSGIScriptAlias /shared/b @APPS@/gil/barrier.wsgi process-group=shared application-group=b
WSGIScriptAlias /mixed/a @APPS@/gil/barrier.wsgi process-group=mixed application-group=a
WSGIScriptAlias /mixed/c @APPS@/gil/barrier.wsgi process-group=mixed application-group=c
`, "@EXE@", py.Exe)
			forEachMPM(t, func(t *testing.T, mpm string) {
				a := StartApache(t, ServerSpec{MPM: mpm, Snippet: snippet})

				x, y := rendezvous(t, a, "own", "/own/a", "/own/b", 60)
				assert.True(t, x.Passed && y.Passed, "two own-GIL interpreters ran at once: %+v %+v", x, y)
				assert.Equal(t, tag, x.Version)
				assert.Equal(t, x.Pid, y.Pid, "in one daemon process")
				assert.Equal(t, []string{"a", "b"}, []string{x.ApplicationGroup, y.ApplicationGroup})
				assert.Equal(t, 1000.0, x.SwitchInterval, "each interpreter has its own switch interval")

				x, y = rendezvous(t, a, "shared", "/shared/a", "/shared/b", 2)
				assert.False(t, x.Passed || y.Passed, "on one shared GIL they never run at once: %+v %+v", x, y)
				assert.Equal(t, x.Pid, y.Pid)

				single := "?op=import&name=_testsinglephase"
				f := getGIL(t, a.URL("/own/a"+single))
				assert.False(t, f.Imported, "a single-phase extension fails in an own-GIL interpreter")
				assert.Equal(t, "ImportError: module _testsinglephase does not support loading in subinterpreters", f.Error)
				f = getGIL(t, a.URL("/own/main"+single))
				assert.True(t, f.Imported, "the main interpreter keeps the process's GIL: %s", f.Error)
				f = getGIL(t, a.URL("/shared/a"+single))
				assert.True(t, f.Imported, "a shared-GIL sub-interpreter imports it as before: %s", f.Error)
				f = getGIL(t, a.URL("/mixed/c"+single))
				assert.False(t, f.Imported, "application-group=c selects c: %s", f.Error)
				f = getGIL(t, a.URL("/mixed/a"+single))
				assert.True(t, f.Imported, "and only c: %s", f.Error)
				f = getGIL(t, a.URL("/own/a?op=import&name=_json"))
				assert.True(t, f.Imported, "a multi-phase extension imports: %s", f.Error)

				log := a.ErrorLogContent()
				assert.Contains(t, log, "Create interpreter 'a' with own GIL.", "the creation line says so, as mod_wsgi 6's")
				assert.Contains(t, log, "Create interpreter 'c' with own GIL.")
				// Apache's children (the server's 3.11) are selected by application-group=c and warn; the daemons do not.
				assert.NotContains(t, log, "This process runs Python "+tag)
			})
		})
	}
}

// On the server's 3.11, embedded and in a daemon group, the directives are
// accepted with mod_wsgi 6's warnings (once per process start) and change
// nothing; so are they on a 3.12 group for WSGIFreeThreading.
func TestGIL_WarnedWhereThePythonCannot(t *testing.T) {
	gowsgiOnly(t)
	if serverPythonTag() != "3.11" {
		t.Skipf("the server's Python is %s, not 3.11", serverPythonTag())
	}
	const snippet = `
WSGIPerInterpreterGIL On
WSGIFreeThreading On
WSGIDaemonProcess d processes=1 threads=2
WSGIScriptAlias /d/a @APPS@/gil/barrier.wsgi process-group=d application-group=a
WSGIScriptAlias /emb/a @APPS@/gil/barrier.wsgi application-group=a
`
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: snippet})
		for _, path := range []string{"/d/a", "/emb/a"} {
			f := getGIL(t, a.URL(path+"?op=facts"))
			assert.Equal(t, "3.11", f.Version, path)
			assert.True(t, f.GILEnabled, path)
			f = getGIL(t, a.URL(path+"?op=import&name=_testcapi"))
			assert.True(t, f.Imported, "%s: no own GIL, so no extension check: %s", path, f.Error)
		}
		log := a.ErrorLogContent()
		assert.Contains(t, log, "WSGIPerInterpreterGIL requires Python 3.12 or later; directive has no effect on this build. This process runs Python 3.11.")
		assert.Contains(t, log, "WSGIFreeThreading On has no effect: this Python build does not support free-threading (PEP 703). Rebuild Python with --disable-gil to use it.")
		assert.Contains(t, log, "Create interpreter 'a'.", "no own GIL")
		assert.NotContains(t, log, "with own GIL")
	})
}

// A bad value, a selector mod_wsgi 6 does not know, a directive the
// container does not take, or the directives outside the main server:
// configtest fails, naming the directive, the file and the line.
func TestGIL_Configtest(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	cases := []struct {
		name, snippet, line, want string
	}{
		{"bad value", "WSGIPerInterpreterGIL Maybe\n", "WSGIPerInterpreterGIL Maybe",
			"WSGIPerInterpreterGIL must be one of: Off | On"},
		{"bad value of WSGIFreeThreading", "WSGIFreeThreading 1\n", "WSGIFreeThreading 1",
			"WSGIFreeThreading must be one of: Off | On"},
		{"bad value inside the container", "<WSGIInterpreterOptions process-group=x>\n    WSGIPerInterpreterGIL Sometimes\n</WSGIInterpreterOptions>\n",
			"    WSGIPerInterpreterGIL Sometimes", "WSGIPerInterpreterGIL must be one of: Off | On"},
		{"unknown selector", "<WSGIInterpreterOptions colour=red>\n    WSGIPerInterpreterGIL On\n</WSGIInterpreterOptions>\n",
			"<WSGIInterpreterOptions colour=red>", "<WSGIInterpreterOptions>: unknown selector 'colour', expected process-group or application-group"},
		{"selector twice", "<WSGIInterpreterOptions process-group=x process-group=y>\n</WSGIInterpreterOptions>\n",
			"<WSGIInterpreterOptions process-group=x process-group=y>", "<WSGIInterpreterOptions>: process-group given more than once"},
		{"foreign directive inside", "<WSGIInterpreterOptions application-group=a>\n    WSGIScriptAlias /x @APPS@/gil/barrier.wsgi\n</WSGIInterpreterOptions>\n",
			"    WSGIScriptAlias /x", "WSGIScriptAlias is not allowed inside <WSGIInterpreterOptions>"},
		{"in a virtual host", "<VirtualHost *:@PORT@>\n    WSGIFreeThreading On\n</VirtualHost>\n",
			"    WSGIFreeThreading On", "WSGIFreeThreading cannot occur within <VirtualHost> section"},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			out, code, conf := ConfigTestConf(t, ServerSpec{MPM: "event", Snippet: c.snippet})
			require.NotEqual(t, 0, code, "configtest fails: %s", out)
			m := syntaxErrorRe.FindStringSubmatch(out)
			require.NotNil(t, m, "a syntax error with the file and line: %s", out)
			n, _ := strconv.Atoi(m[1])
			assert.True(t, strings.HasPrefix(confLine(conf, n), strings.ReplaceAll(c.line, "@APPS@", appsDir())),
				"line %d is the directive's: %q", n, confLine(conf, n))
			assert.Contains(t, out, c.want)
		})
	}
	t.Run("accepted", func(t *testing.T) {
		out, code := ConfigTest(t, ServerSpec{MPM: "event", Snippet: `
WSGIPerInterpreterGIL off
WSGIFreeThreading OFF
<WSGIInterpreterOptions>
    WSGIPerInterpreterGIL On
</WSGIInterpreterOptions>
<WSGIInterpreterOptions process-group=%{GLOBAL} application-group=%{GLOBAL}>
    WSGIPerInterpreterGIL Off
    WSGIFreeThreading On
    WSGISwitchInterval 0.002
    WSGIRestrictStdout On
</WSGIInterpreterOptions>
`})
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "Syntax OK")
	})
}

// freeThreadedPython is build/python-3.13t (make python-freethreaded),
// copied where daemon users can read it; the test skips when it is absent.
func freeThreadedPython(t *testing.T) testPython {
	t.Helper()
	src := filepath.Join(gowsgiBuildDir(), "python-3.13t")
	if _, err := os.Stat(filepath.Join(src, "bin", "python3.13t")); err != nil {
		t.Skipf("no free-threaded CPython: %s is absent (make python-freethreaded, then "+
			"make pythons PYTHONS=%s/bin/python3.13t)", src, src)
	}
	return copyPython(t, "3.13t", src)
}

// WSGIFreeThreading On on a free-threaded 3.13 group: two threads of one
// interpreter run Python at once and the GIL is off; the same build
// without it keeps the GIL on (mod_wsgi 6 sets enable_gil either way);
// WSGIPerInterpreterGIL there is skipped with mod_wsgi 6's warning.
func TestGIL_FreeThreading(t *testing.T) {
	gowsgiOnly(t)
	py := freeThreadedPython(t)
	snippet := strings.ReplaceAll(`
WSGIDaemonProcess ft processes=1 threads=4 python-executable=@EXE@
WSGIDaemonProcess gil processes=1 threads=4 python-executable=@EXE@
<WSGIInterpreterOptions process-group=ft>
    WSGIFreeThreading On
    WSGIPerInterpreterGIL On
</WSGIInterpreterOptions>
WSGIScriptAlias /ft/main @APPS@/gil/barrier.wsgi process-group=ft application-group=%{GLOBAL}
WSGIScriptAlias /ft/x @APPS@/gil/barrier.wsgi process-group=ft application-group=x
WSGIScriptAlias /gil/main @APPS@/gil/barrier.wsgi process-group=gil application-group=%{GLOBAL}
`, "@EXE@", py.Exe)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: snippet})
		x, y := rendezvous(t, a, "ft", "/ft/main", "/ft/main", 60)
		assert.True(t, x.Passed && y.Passed, "two threads of one interpreter ran at once: %+v %+v", x, y)
		assert.True(t, x.FreeThreadedBuild)
		assert.False(t, x.GILEnabled, "the GIL is off")
		assert.Equal(t, x.Pid, y.Pid)

		x, y = rendezvous(t, a, "gil", "/gil/main", "/gil/main", 2)
		assert.True(t, x.FreeThreadedBuild)
		assert.True(t, x.GILEnabled, "without WSGIFreeThreading the GIL stays on")
		assert.False(t, x.Passed || y.Passed, "and they never run at once: %+v %+v", x, y)

		f := getGIL(t, a.URL("/ft/x?op=facts"))
		assert.False(t, f.GILEnabled)
		assert.Contains(t, a.ErrorLogContent(), "Skipping per-interpreter GIL for interpreter 'x' in process group 'ft': "+
			"free-threading is active in this process so there is no GIL to allocate per interpreter.")
	})
}

// request-timeout in a process of own-GIL interpreters: the stack dump
// reads each interpreter's threads under that interpreter's GIL, and
// shows the request of each (the dump once read every interpreter's
// frames under the main interpreter's GIL alone).
func TestGIL_StackDumpOfOwnGILInterpreters(t *testing.T) {
	gowsgiOnly(t)
	py := requirePython(t, "3.12")
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: strings.ReplaceAll(`
WSGIDaemonProcess own processes=1 threads=2 request-timeout=2 python-executable=@EXE@
WSGIPerInterpreterGIL On
WSGIScriptAlias /own/a @APPS@/gil/barrier.wsgi process-group=own application-group=a
WSGIScriptAlias /own/b @APPS@/gil/barrier.wsgi process-group=own application-group=b
`, "@EXE@", py.Exe)})
	f := getGIL(t, a.URL("/own/a?op=facts"))
	getGIL(t, a.URL("/own/b?op=facts"))
	mark := markLog(a)
	var wg sync.WaitGroup
	for _, path := range []string{"/own/a", "/own/b"} {
		wg.Add(1)
		go func(path string) {
			defer wg.Done()
			_, _ = doReq(longClient, "GET", a.URL(path+"?op=sleep&s=10"), nil, nil)
		}(path)
	}
	wg.Wait()
	mark.waitRaw("request-timeout=2 exceeded", 5*time.Second)
	mark.waitRaw("called from file", 5*time.Second)
	time.Sleep(500 * time.Millisecond) // the second thread's lines
	lines := a.ErrorLogContent()
	assert.Contains(t, lines, fmt.Sprintf("gowsgi (pid=%d): Dumping stack trace for active Python threads.", f.Pid))
	naps := regexp.MustCompile(fmt.Sprintf(`gowsgi \(pid=%d\): Thread \d+ executing file ".*/barrier\.wsgi", line \d+, in _nap`, f.Pid))
	assert.Len(t, naps.FindAllString(lines, -1), 2, "both interpreters' requests are shown:\n%s", lines)
	assert.Equal(t, 200, Get(t, a.URL("/own/a?op=facts")).Status, "a new process serves the group")
}
