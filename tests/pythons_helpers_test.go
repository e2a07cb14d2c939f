package tests

// Other CPythons for daemon groups (pythons_test.go): the pyenv builds these
// machines carry under $PYENV_ROOT, and the engine builds `make pythons`
// made for them (build/libgowsgi-X.Y.so).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gowsgi/gowsgi/tests/internal/pycopy"
	"github.com/stretchr/testify/require"
)

// testPython is one CPython a daemon group can run.
type testPython struct {
	Tag    string // "3.12"
	Exe    string // its python3.X, readable by every daemon user
	Prefix string
}

var (
	pythonCopiesMu  sync.Mutex
	pythonCopies    = map[string]*testPython{}
	pythonCopiesDir string
)

// pyenvRoots are where pyenv's builds may be: $PYENV_ROOT, root's and the
// user's default.
func pyenvRoots() []string {
	roots := []string{}
	if r := os.Getenv("PYENV_ROOT"); r != "" {
		roots = append(roots, r)
	}
	if h, err := os.UserHomeDir(); err == nil {
		roots = append(roots, filepath.Join(h, ".pyenv"))
	}
	return append(roots, "/root/.pyenv")
}

// findPyenvPython is the newest pyenv build of tag (X.Y), or "".
func findPyenvPython(tag string) string {
	for _, root := range pyenvRoots() {
		dirs, _ := filepath.Glob(filepath.Join(root, "versions", tag+".*"))
		sort.Strings(dirs)
		for i := len(dirs) - 1; i >= 0; i-- {
			d := dirs[i]
			if strings.Count(strings.TrimPrefix(filepath.Base(d), tag+"."), ".") > 0 {
				continue // not X.Y.Z (a venv or a -dev name)
			}
			if _, err := os.Stat(filepath.Join(d, "bin", "python"+tag)); err == nil {
				return d
			}
		}
	}
	return ""
}

// requirePython gives the CPython tag ("3.11" is Debian's, the server's;
// others are pyenv's), skipping the test when the machine has none. A
// pyenv build lives under /root, which daemon users cannot enter, so the
// test gets a copy (hard links where it can) that they can read. The
// engine build for it must exist: `make test` makes it (`make pythons`).
func requirePython(t testing.TB, tag string) testPython {
	t.Helper()
	p, err := preparePython(tag)
	if err != nil {
		require.FailNow(t, err.Error())
	}
	if p == nil {
		t.Skipf("no CPython %s on this machine (looked for a pyenv build in %v)", tag, pyenvRoots())
	}
	return *p
}

// preparePython is requirePython without a test: nil when the machine has
// no CPython tag, an error when it has one but no engine build for it or
// the copy fails.
func preparePython(tag string) (*testPython, error) {
	if tag == serverPythonTag() {
		exe := "/usr/bin/python" + tag
		return &testPython{Tag: tag, Exe: exe, Prefix: "/usr"}, nil
	}
	pythonCopiesMu.Lock()
	defer pythonCopiesMu.Unlock()
	if p, ok := pythonCopies[tag]; ok {
		return p, nil
	}
	src := findPyenvPython(tag)
	if src == "" {
		pythonCopies[tag] = nil
		return nil, nil
	}
	return copyPythonLocked(tag, src)
}

// copyPython is the CPython tag installed at prefix src, copied as
// requirePython copies a pyenv build (the free-threaded build under
// build/ is one: gil_modes_test.go).
func copyPython(t testing.TB, tag, src string) testPython {
	t.Helper()
	pythonCopiesMu.Lock()
	defer pythonCopiesMu.Unlock()
	if p := pythonCopies[tag]; p != nil {
		return *p
	}
	p, err := copyPythonLocked(tag, src)
	require.NoError(t, err)
	return *p
}

func copyPythonLocked(tag, src string) (*testPython, error) {
	engine := filepath.Join(gowsgiBuildDir(), "libgowsgi-"+tag+".so")
	if _, err := os.Stat(engine); err != nil && targetModule() == ModGowsgi {
		return nil, fmt.Errorf("no engine build for Python %s: %s is missing: run `make pythons` (make test does)", tag, engine)
	}
	if pythonCopiesDir == "" {
		d, err := os.MkdirTemp("", "gowsgi-test-pythons-")
		if err != nil {
			return nil, err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return nil, err
		}
		pythonCopiesDir = d
	}
	dst := filepath.Join(pythonCopiesDir, filepath.Base(src))
	if err := pycopy.Copy(src, dst); err != nil {
		return nil, err
	}
	p := &testPython{Tag: tag, Exe: filepath.Join(dst, "bin", "python"+tag), Prefix: dst}
	pythonCopies[tag] = p
	return p, nil
}

// removePythonCopies runs after every test (TestMain).
func removePythonCopies() {
	pythonCopiesMu.Lock()
	defer pythonCopiesMu.Unlock()
	if pythonCopiesDir != "" {
		_ = os.RemoveAll(pythonCopiesDir)
	}
}

var serverPythonTagOnce = sync.OnceValue(func() string {
	out, err := exec.Command(systemPy, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").Output()
	if err != nil {
		panic(fmt.Sprintf("%s: %v", systemPy, err))
	}
	return strings.TrimSpace(string(out))
})

// serverPythonTag is the server's Python (Debian's python3): "3.11".
func serverPythonTag() string { return serverPythonTagOnce() }

// makeVenv makes a virtualenv with py at dir (no pip: PyPI is out of reach).
func makeVenv(py testPython, dir string) error {
	out, err := exec.Command(py.Exe, "-m", "venv", "--without-pip", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s -m venv %s: %v: %s", py.Exe, dir, err, out)
	}
	return nil
}

// groupPy is the CPython every daemon group runs when GOWSGI_TEST_GROUP_PYTHON
// names one ("3.12"; nil without): TestMain prepares it (setupGroupPython)
// and generateConfig adds python-executable= for it to each
// WSGIDaemonProcess that names no python-home= or python-executable= of its
// own. Embedded mode, and Apache's parent, stay on the server's Python.
var groupPy *testPython

// groupPythonTag is GOWSGI_TEST_GROUP_PYTHON, "" when unset.
func groupPythonTag() string { return strings.TrimSpace(os.Getenv("GOWSGI_TEST_GROUP_PYTHON")) }

// setupGroupPython prepares groupPy. It says why the run cannot go on: a
// skip (the machine has no such Python) or a failure (no engine build).
func setupGroupPython() (skip string, err error) {
	tag := groupPythonTag()
	if tag == "" {
		return "", nil
	}
	if !regexp.MustCompile(`^3\.[0-9]+t?$`).MatchString(tag) {
		return "", fmt.Errorf("GOWSGI_TEST_GROUP_PYTHON=%q: want a CPython version such as 3.12", tag)
	}
	if minor, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(tag, "3."), "t")); minor < 9 {
		return fmt.Sprintf("GOWSGI_TEST_GROUP_PYTHON=%s: gowsgi runs CPython 3.9 and later", tag), nil
	}
	if targetModule() != ModGowsgi {
		return "GOWSGI_TEST_GROUP_PYTHON is gowsgi's (python-executable=); the module under test is " + string(targetModule()), nil
	}
	p, err := preparePython(tag)
	if err != nil {
		return "", err
	}
	if p == nil {
		return fmt.Sprintf("no CPython %s on this machine (looked for a pyenv build in %v): every test skipped", tag, pyenvRoots()), nil
	}
	groupPy = p
	return "", nil
}

// skipUnderGroupPython skips a test, or the rest of it, that needs what only
// the server's Python has (Debian's python3-flask and python3-django,
// mod_wsgi as reference), saying what.
func skipUnderGroupPython(t testing.TB, why string) {
	t.Helper()
	if groupPy != nil {
		t.Skipf("daemon groups run Python %s (GOWSGI_TEST_GROUP_PYTHON): %s", groupPy.Tag, why)
	}
}

// daemonPython is the Python of a daemon group that names none: the group
// Python when there is one, else the server's.
func daemonPython() testPython {
	if groupPy != nil {
		return *groupPy
	}
	return testPython{Tag: serverPythonTag(), Exe: "/usr/bin/python" + serverPythonTag(), Prefix: "/usr"}
}

// systemSitePackages is where a virtualenv made --system-site-packages
// with py finds its Python's own packages (Debian's dist-packages for the
// server's).
func systemSitePackages(py testPython) string {
	if py.Prefix == "/usr" {
		return "/usr/lib/python3/dist-packages"
	}
	return filepath.Join(py.Prefix, "lib", "python"+py.Tag, "site-packages")
}

// venvPython is the Python a test's virtualenvs for python-home= are made
// with: the group Python when there is one, else the server's.
func venvPython() string {
	if groupPy != nil {
		return groupPy.Exe
	}
	return systemPy
}

// withGroupPython adds python-executable=exe after the group name of each
// WSGIDaemonProcess directive in conf (a logical line: a trailing backslash
// continues it) that names no python-home= or python-executable=, in a
// configuration without WSGIPythonHome.
func withGroupPython(conf, exe string) string {
	// A WSGIPythonHome is the python-home= of every group naming none.
	if regexp.MustCompile(`(?mi)^\s*WSGIPythonHome\s`).MatchString(conf) {
		return conf
	}
	lines := strings.Split(conf, "\n")
	head := regexp.MustCompile(`^\s*(?i:WSGIDaemonProcess)\s+[^\s\\]+`)
	for i := 0; i < len(lines); i++ {
		loc := head.FindStringIndex(lines[i])
		if loc == nil {
			continue
		}
		logical := lines[i]
		j := i
		for j+1 < len(lines) && strings.HasSuffix(strings.TrimRight(lines[j], " \t"), "\\") {
			j++
			logical += "\n" + lines[j]
		}
		lower := strings.ToLower(logical)
		if !strings.Contains(lower, "python-home=") && !strings.Contains(lower, "python-executable=") {
			lines[i] = lines[i][:loc[1]] + " python-executable=" + exe + lines[i][loc[1]:]
		}
		i = j
	}
	return strings.Join(lines, "\n")
}

// asWritten is a config line as the harness writes it (withGroupPython), for
// a test that looks for its line in the generated config.
func asWritten(line string) string {
	if groupPy != nil && targetModule() == ModGowsgi {
		return withGroupPython(line, groupPy.Exe)
	}
	return line
}

// builtinLauncher is the launcher with the server's Python and engine
// linked in, which daemon groups of the server's Python exec:
// "gowsgi-daemon-3.11".
func builtinLauncher() string { return "gowsgi-daemon-" + serverPythonTag() }

// builtinLauncherBuilt: the build linked builtinLauncher(). Not every
// static libpython can be (Debian 13's lacks objects its _sha2 needs): then
// build/builtin-launcher.unavailable says why and groups of the server's
// Python run gowsgi-daemon. Debian 12's 3.11 links, so there it must have.
func builtinLauncherBuilt(t testing.TB) bool {
	t.Helper()
	if _, err := os.Stat(filepath.Join(gowsgiBuildDir(), builtinLauncher())); err == nil {
		return true
	}
	why, err := os.ReadFile(filepath.Join(gowsgiBuildDir(), "builtin-launcher.unavailable"))
	require.NoError(t, err, "neither %s nor the reason it was not built is in the build", builtinLauncher())
	require.NotEqual(t, "3.11", serverPythonTag(), "Debian 12's libpython3.11.a links, yet: %s", why)
	t.Logf("%s was not built: %s", builtinLauncher(), why)
	return false
}

// serverLauncher is the launcher a group of the server's Python execs.
func serverLauncher(t testing.TB) string {
	if builtinLauncherBuilt(t) {
		return builtinLauncher()
	}
	return "gowsgi-daemon"
}
