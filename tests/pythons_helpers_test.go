package tests

// Other CPythons for daemon groups (pythons_test.go): the pyenv builds these
// machines carry under $PYENV_ROOT, and the engine builds `make pythons`
// made for them (build/libgowsgi-X.Y.so).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

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
	if tag == serverPythonTag() {
		exe := "/usr/bin/python" + tag
		return testPython{Tag: tag, Exe: exe, Prefix: "/usr"}
	}
	pythonCopiesMu.Lock()
	defer pythonCopiesMu.Unlock()
	if p, ok := pythonCopies[tag]; ok {
		if p == nil {
			t.Skipf("no CPython %s on this machine (looked for a pyenv build in %v)", tag, pyenvRoots())
		}
		return *p
	}
	src := findPyenvPython(tag)
	if src == "" {
		pythonCopies[tag] = nil
		t.Skipf("no CPython %s on this machine (looked for a pyenv build in %v)", tag, pyenvRoots())
	}
	return copyPythonLocked(t, tag, src)
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
	return copyPythonLocked(t, tag, src)
}

func copyPythonLocked(t testing.TB, tag, src string) testPython {
	t.Helper()
	engine := filepath.Join(gowsgiBuildDir(), "libgowsgi-"+tag+".so")
	if _, err := os.Stat(engine); err != nil && targetModule() == ModGowsgi {
		require.FailNowf(t, "no engine build for Python "+tag,
			"%s is missing: run `make pythons` (make test does)", engine)
	}
	if pythonCopiesDir == "" {
		d, err := os.MkdirTemp("", "gowsgi-test-pythons-")
		require.NoError(t, err)
		require.NoError(t, os.Chmod(d, 0o755))
		pythonCopiesDir = d
	}
	dst := filepath.Join(pythonCopiesDir, filepath.Base(src))
	if out, err := exec.Command("cp", "-al", src, dst).CombinedOutput(); err != nil {
		_ = os.RemoveAll(dst)
		out2, err2 := exec.Command("cp", "-a", src, dst).CombinedOutput()
		require.NoError(t, err2, "copying %s: %s / %s", src, out, out2)
	}
	// Directories the copy made are the umask's: every daemon user reads them.
	require.NoError(t, filepath.Walk(dst, func(path string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			return os.Chmod(path, info.Mode().Perm()|0o755)
		}
		return err
	}))
	p := &testPython{Tag: tag, Exe: filepath.Join(dst, "bin", "python"+tag), Prefix: dst}
	pythonCopies[tag] = p
	return *p
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
