package tests

// A Python per daemon group (README, "A Python per group"): a group whose
// python-home= is a virtualenv runs the Python that virtualenv was made
// with, python-executable= names one, everything else runs the server's;
// configtest catches a group whose Python cannot run; a graceful restart
// moves a group to another Python without a failed request. The Pythons
// are the pyenv builds under $PYENV_ROOT (pythons_helpers_test.go); a test
// whose Python is absent says so and skips.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type versionFacts struct {
	Version        string `json:"version"`
	FullVersion    string `json:"full_version"`
	Executable     string `json:"executable"`
	Prefix         string `json:"prefix"`
	BasePrefix     string `json:"base_prefix"`
	Stdlib         string `json:"stdlib"`
	Extension      string `json:"extension"`
	ProcessGroup   string `json:"process_group"`
	ApplicationGrp string `json:"application_group"`
	ModWsgiVersion []int  `json:"mod_wsgi_version"`
	Pid            int    `json:"pid"`
	WsgiVersion    []int  `json:"wsgi_version"`
}

func getVersion(t testing.TB, url string) versionFacts {
	t.Helper()
	r := Get(t, url)
	require.Equal(t, 200, r.Status, "%s: %s", url, truncate(r.Body, 400))
	var f versionFacts
	require.NoError(t, json.Unmarshal([]byte(r.Body), &f), r.Body)
	return f
}

// The other Pythons the tests run groups on, those this machine has.
func otherPythons(t *testing.T) []testPython {
	var out []testPython
	for _, tag := range []string{"3.12", "3.13", "3.11", "3.10", "3.9"} {
		if tag == serverPythonTag() { // Debian 13's is 3.13: not another Python
			continue
		}
		t.Run("have "+tag, func(t *testing.T) { out = append(out, requirePython(t, tag)) })
	}
	if len(out) == 0 {
		t.Skip("no CPython besides the server's on this machine")
	}
	return out
}

func mapsOf(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	return string(b)
}

// Each group runs its virtualenv's Python, or its python-executable=; the
// rest of the server, and Apache's parent, are as before.
func TestPythons_GroupPerVirtualenv(t *testing.T) {
	gowsgiOnly(t)
	server := requirePython(t, serverPythonTag())
	others := otherPythons(t)
	var snippet strings.Builder
	for _, py := range others {
		name := "v" + strings.ReplaceAll(py.Tag, ".", "")
		fmt.Fprintf(&snippet, "WSGIDaemonProcess %s threads=2 python-home=@ROOT@/%s\n", name, name)
		fmt.Fprintf(&snippet, "WSGIScriptAlias /%s @APPS@/pythons/version.wsgi process-group=%s application-group=%%{GLOBAL}\n", name, name)
	}
	exe := others[0]
	fmt.Fprintf(&snippet, "WSGIDaemonProcess exe threads=2 python-executable=%s\n", exe.Exe)
	snippet.WriteString("WSGIScriptAlias /exe @APPS@/pythons/version.wsgi process-group=exe application-group=%{GLOBAL}\n")
	snippet.WriteString("WSGIDaemonProcess venvsys threads=2 python-home=@ROOT@/vsys\n")
	snippet.WriteString("WSGIScriptAlias /vsys @APPS@/pythons/version.wsgi process-group=venvsys\n")
	snippet.WriteString("WSGIDaemonProcess plain threads=2\n")
	snippet.WriteString("WSGIScriptAlias /plain @APPS@/pythons/version.wsgi process-group=plain\n")
	snippet.WriteString("WSGIScriptAlias /emb @APPS@/pythons/version.wsgi\n")
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: snippet.String(), Setup: func(root string) error {
			for _, py := range others {
				if err := makeVenv(py, filepath.Join(root, "v"+strings.ReplaceAll(py.Tag, ".", ""))); err != nil {
					return err
				}
			}
			return makeVenv(server, filepath.Join(root, "vsys"))
		}})
		for _, py := range others {
			name := "v" + strings.ReplaceAll(py.Tag, ".", "")
			f := getVersion(t, a.URL("/"+name))
			assert.Equal(t, py.Tag, f.Version, "group %s runs its virtualenv's Python", name)
			assert.Equal(t, filepath.Join(a.Root, name), f.Prefix, "sys.prefix is the virtualenv")
			assert.Equal(t, py.Prefix, f.BasePrefix, "sys.base_prefix is the Python it was made with")
			assert.True(t, strings.HasPrefix(f.Stdlib, py.Prefix+"/"), "the stdlib is that Python's: %s", f.Stdlib)
			assert.True(t, strings.HasPrefix(f.Extension, py.Prefix+"/"), "its C extensions are that Python's: %s", f.Extension)
			assert.Equal(t, name, f.ProcessGroup)
			maps := mapsOf(f.Pid)
			assert.Contains(t, maps, filepath.Join(py.Prefix, "lib", "libpython"+py.Tag+".so.1.0"), "the daemon loaded its Python's libpython")
			assert.Contains(t, maps, "libgowsgi-"+py.Tag+".so", "and the engine build for it")
			assert.NotContains(t, maps, "libpython"+server.Tag, "and no other Python")
		}
		f := getVersion(t, a.URL("/exe"))
		assert.Equal(t, exe.Tag, f.Version, "python-executable= chooses the group's Python")
		assert.Equal(t, exe.Prefix, f.Prefix)
		f = getVersion(t, a.URL("/vsys"))
		assert.Equal(t, server.Tag, f.Version, "a virtualenv of the server's Python")
		assert.Equal(t, filepath.Join(a.Root, "vsys"), f.Prefix)
		// Its engine and Python are the server's, linked into the launcher
		// that runs them (tests/daemon_launchers_test.go).
		assert.Equal(t, serverLauncher(t), filepath.Base(exeOf(t, f.Pid)), "the server's engine build, built in")
		if builtinLauncherBuilt(t) {
			assert.NotContains(t, mapsOf(f.Pid), "libgowsgi", "no engine build loaded")
		} else {
			assert.Contains(t, mapsOf(f.Pid), filepath.Join(gowsgiBuildDir(), "libgowsgi.so"), "the server's engine build")
		}
		// A group naming no Python runs the server's, or the one
		// GOWSGI_TEST_GROUP_PYTHON gives every such group; embedded mode
		// the server's.
		plain := server
		if groupPy != nil {
			plain = *groupPy
		}
		f = getVersion(t, a.URL("/plain"))
		assert.Equal(t, plain.Tag, f.Version, "/plain runs Python %s", plain.Tag)
		assert.Equal(t, plain.Prefix, f.Prefix, "/plain")
		f = getVersion(t, a.URL("/emb"))
		assert.Equal(t, server.Tag, f.Version, "/emb runs the server's Python")
		assert.Equal(t, "/usr", f.Prefix, "/emb")
		parent := mapsOf(a.Pid())
		require.NotEmpty(t, parent)
		assert.NotContains(t, parent, "libpython", "Apache's parent never loads a Python")
		assert.NotContains(t, parent, "libgowsgi", "nor the engine")
	})
}

// confLine is the text of line n (1-based) of a config.
func confLine(conf string, n int) string {
	lines := strings.Split(conf, "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return lines[n-1]
}

var syntaxErrorRe = regexp.MustCompile(`Syntax error on line (\d+) of ([^:]+):\n?(.*)`)

// configtest's line for a group whose Python cannot run.
var groupPythonErrorRe = regexp.MustCompile(`gowsgi: WSGIDaemonProcess \S+ \(line (\d+) of ([^)]+)\): (.*)`)

// configtest fails for a group whose Python cannot run, naming the
// directive's file and line, the virtualenv's Python and the engine
// builds installed (mod_wsgi starts and fails at run time with "No module
// named 'encodings'").
func TestPythons_ConfigtestMismatch(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	py312 := requirePython(t, "3.12")
	type tc struct {
		name    string
		snippet string
		setup   func(root string) error
		want    []string
	}
	// A 3.12 virtualenv, and an engine directory holding only the
	// server's build (for a GoWSGILibrary there).
	venvWithOnlyServerEngine := func(root string) error {
		if err := os.MkdirAll(filepath.Join(root, "engines"), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(filepath.Join(gowsgiBuildDir(), "libgowsgi.so"), filepath.Join(root, "engines", "libgowsgi.so")); err != nil {
			return err
		}
		return makeVenv(py312, filepath.Join(root, "venv"))
	}
	cases := []tc{
		{"no engine build for the virtualenv's Python",
			"GoWSGILibrary @ROOT@/engines/libgowsgi.so\nWSGIDaemonProcess site python-home=@ROOT@/venv\n",
			venvWithOnlyServerEngine,
			[]string{"python-home=@ROOT@/venv is a virtualenv made with Python 3.12.", "which has no gowsgi engine build installed",
				"engine builds installed: " + serverPythonTag() + " (the server's)", "make pythons PYTHONS="}},
		{"no engine build where a GoWSGILibrary below the line says",
			"WSGIDaemonProcess site python-home=@ROOT@/venv\nGoWSGILibrary @ROOT@/engines/libgowsgi.so\n",
			venvWithOnlyServerEngine,
			[]string{"python-home=@ROOT@/venv is a virtualenv made with Python 3.12.", "which has no gowsgi engine build installed (@ROOT@/engines/libgowsgi-3.12.so)"}},
		{"the virtualenv's Python is gone",
			"WSGIDaemonProcess site python-home=@ROOT@/venv\n",
			func(root string) error {
				return writeFile(filepath.Join(root, "venv", "pyvenv.cfg"),
					"home = /nonexistent/bin\ninclude-system-site-packages = false\nversion = 3.12.1\nexecutable = /nonexistent/bin/python3.12\n")
			},
			[]string{"python-home=@ROOT@/venv is a virtualenv made with Python 3.12.1 (/nonexistent/bin/python3.12), which no longer exists",
				"engine builds installed: " + serverPythonTag() + " (the server's)"}},
		{"a broken virtualenv",
			"WSGIDaemonProcess site python-home=@ROOT@/venv\n",
			func(root string) error {
				return writeFile(filepath.Join(root, "venv", "pyvenv.cfg"), "include-system-site-packages = false\n")
			},
			[]string{"python-home=@ROOT@/venv is a broken virtualenv: its pyvenv.cfg names no Python"}},
		{"python-executable= not a path",
			"WSGIDaemonProcess site python-executable=python3.12\n", nil,
			[]string{"Invalid python executable (an absolute path) for WSGI daemon process."}},
		{"python-executable= not a Python",
			"WSGIDaemonProcess site python-executable=/bin/sh\n", nil,
			[]string{"python-executable=/bin/sh: cannot tell which Python"}},
		{"python-executable= and a virtualenv of another Python",
			"WSGIDaemonProcess site python-home=@ROOT@/venv python-executable=/usr/bin/python" + serverPythonTag() + "\n",
			func(root string) error { return makeVenv(py312, filepath.Join(root, "venv")) },
			[]string{"python-executable=/usr/bin/python" + serverPythonTag() + " is Python " + serverPythonTag() +
				", but python-home=@ROOT@/venv is a virtualenv made with Python 3.12"}},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			var root string
			spec := ServerSpec{MPM: "event", Snippet: c.snippet, Setup: func(r string) error {
				root = r
				if c.setup != nil {
					return c.setup(r)
				}
				return nil
			}}
			out, code, conf := ConfigTestConf(t, spec)
			require.NotEqual(t, 0, code, "configtest fails: %s", out)
			// A bad option is a syntax error; a Python that cannot run is
			// found once the whole configuration is read (a WSGIPythonHome
			// or GoWSGILibrary below the line counts).
			m := syntaxErrorRe.FindStringSubmatch(out)
			if m == nil {
				m = groupPythonErrorRe.FindStringSubmatch(out)
			}
			require.NotNil(t, m, "the file and line: %s", out)
			n, _ := strconv.Atoi(m[1])
			assert.Contains(t, confLine(conf, n), "WSGIDaemonProcess site", "the line is the directive's")
			assert.Contains(t, out, "WSGIDaemonProcess", "the directive is named")
			for _, w := range c.want {
				assert.Contains(t, out, strings.ReplaceAll(w, "@ROOT@", root))
			}
		})
	}
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}

// A site moves to another Python: its group's python-home= is pointed from
// a virtualenv of the server's Python to one of 3.12 and Apache restarted
// gracefully under load. The old processes drain on the old Python, the new
// ones come up on 3.12, and no request fails.
func TestPythons_GracefulSwitch(t *testing.T) {
	gowsgiOnly(t)
	server := requirePython(t, serverPythonTag())
	py312 := requirePython(t, "3.12")
	const tmpl = `
WSGIDaemonProcess site processes=2 threads=4 python-home=@ROOT@/%s graceful-timeout=15
WSGIScriptAlias /app @APPS@/pythons/version.wsgi process-group=site application-group=%%{GLOBAL}
`
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: fmt.Sprintf(tmpl, "old"), Setup: func(root string) error {
			if err := makeVenv(server, filepath.Join(root, "old")); err != nil {
				return err
			}
			return makeVenv(py312, filepath.Join(root, "new"))
		}})
		require.Equal(t, server.Tag, getVersion(t, a.URL("/app")).Version)

		var failures, served atomic.Int64
		var mu sync.Mutex
		seen := map[string]int{}
		var movedAt time.Time // when the old Python's processes had all gone
		var after []string    // versions of the requests sent after that
		oldPids := map[int]bool{}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					// Some requests are in flight across the restart.
					path := "/app"
					if i%2 == 0 {
						path = "/app?sleep=0.3"
					}
					mu.Lock()
					sentAfter := !movedAt.IsZero()
					mu.Unlock()
					r, err := doReq(singleConnClient(), "GET", a.URL(path), nil, nil)
					if err != nil || r.Status != 200 {
						failures.Add(1)
						t.Logf("failed: %v %d %s", err, r.Status, truncate(r.Body, 200))
						continue
					}
					var f versionFacts
					if json.Unmarshal([]byte(r.Body), &f) != nil {
						failures.Add(1)
						continue
					}
					served.Add(1)
					mu.Lock()
					seen[f.Version]++
					if f.Version == server.Tag {
						oldPids[f.Pid] = true
					}
					if sentAfter {
						after = append(after, f.Version)
					}
					mu.Unlock()
				}
			}(i)
		}
		time.Sleep(700 * time.Millisecond)
		conf, err := os.ReadFile(a.ConfPath)
		require.NoError(t, err)
		moved := strings.Replace(string(conf), "python-home="+filepath.Join(a.Root, "old"), "python-home="+filepath.Join(a.Root, "new"), 1)
		require.NotEqual(t, string(conf), moved)
		require.NoError(t, os.WriteFile(a.ConfPath, []byte(moved), 0o644))
		require.NoError(t, a.Graceful())
		// The old generation drains: once its processes are gone, nothing
		// can run on the old Python any more.
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			alive := 0
			for pid := range oldPids {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
					alive++
				}
			}
			if alive == 0 {
				movedAt = time.Now()
			}
			mu.Unlock()
			if alive == 0 {
				break
			}
		}
		require.False(t, movedAt.IsZero(), "the old generation drained within graceful-timeout")
		// Until 40 requests sent after the restart have been answered.
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(after)
			mu.Unlock()
			if n >= 40 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		assert.Zero(t, failures.Load(), "no request fails across the move (%d served: %v)", served.Load(), seen)
		assert.Greater(t, seen[server.Tag], 0, "the old Python served before the move")
		assert.Greater(t, seen["3.12"], 0, "3.12 serves after it")
		require.GreaterOrEqual(t, len(after), 40)
		assert.Equal(t, strings.Repeat("3.12 ", len(after)), strings.Join(after, " ")+" ",
			"every request sent once the old generation has drained runs on 3.12")
		assert.NotContains(t, a.ErrorLogContent(), "could not start Python")
	})
}

// WSGIPythonHome naming a virtualenv of another Python: daemon groups
// without python-home= run that Python; embedded mode, which runs the
// server's, refuses it at configtest unless it is off.
func TestPythons_WSGIPythonHomeOtherPython(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	py312 := requirePython(t, "3.12")
	setup := func(root string) error { return makeVenv(py312, filepath.Join(root, "venv")) }
	var root string
	out, code := ConfigTest(t, ServerSpec{MPM: "event", Snippet: "WSGIPythonHome @ROOT@/venv\nWSGIScriptAlias /emb @APPS@/pythons/version.wsgi\n",
		Setup: func(r string) error { root = r; return setup(r) }})
	assert.NotEqual(t, 0, code, out)
	assert.Regexp(t, `gowsgi: WSGIPythonHome \S+/venv \(line \d+ of \S+\) is a virtualenv made with Python 3\.12, but embedded mode runs the server's Python `+regexp.QuoteMeta(serverPythonTag()), out)
	assert.Contains(t, out, root)

	a := StartApache(t, ServerSpec{MPM: "event", Setup: setup, Snippet: `
WSGIPythonHome @ROOT@/venv
WSGIRestrictEmbedded On
WSGIDaemonProcess inherits threads=2
WSGIScriptAlias /app @APPS@/pythons/version.wsgi process-group=inherits
`})
	f := getVersion(t, a.URL("/app"))
	assert.Equal(t, "3.12", f.Version, "a group without python-home= runs WSGIPythonHome's Python")
	assert.Equal(t, filepath.Join(a.Root, "venv"), f.Prefix)
}
