package main

// Variants whose daemon group runs another CPython (python-executable=):
// the pyenv build of that version, copied (hard links where it can) to a
// directory the group's user can read (pyenv lives under /root), with the
// engine build `make pythons` made for it (libgowsgi-X.Y.so).

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/gowsgi/gowsgi/tests/internal/pycopy"
)

var (
	benchPythonsMu  sync.Mutex
	benchPythons    = map[string]string{}
	benchPythonsDir string
)

// benchPython is a python3.X of version tag that www-data can run, or why
// there is none.
func benchPython(tag, buildDir string) (string, error) {
	benchPythonsMu.Lock()
	defer benchPythonsMu.Unlock()
	if exe, ok := benchPythons[tag]; ok {
		return exe, nil
	}
	if _, err := os.Stat(filepath.Join(buildDir, "libgowsgi-"+tag+".so")); err != nil {
		return "", fmt.Errorf("no engine build for Python %s in %s (run `make pythons`)", tag, buildDir)
	}
	roots := []string{os.Getenv("PYENV_ROOT"), "/root/.pyenv"}
	var src string
	for _, r := range roots {
		if r == "" {
			continue
		}
		dirs, _ := filepath.Glob(filepath.Join(r, "versions", tag+".*"))
		sort.Strings(dirs)
		if len(dirs) > 0 {
			src = dirs[len(dirs)-1]
			break
		}
	}
	if src == "" {
		return "", fmt.Errorf("no pyenv CPython %s on this machine", tag)
	}
	if benchPythonsDir == "" {
		d, err := os.MkdirTemp("", "gowsgi-bench-pythons-")
		if err != nil {
			return "", err
		}
		benchPythonsDir = d
	}
	if err := os.Chmod(benchPythonsDir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(benchPythonsDir, filepath.Base(src))
	if err := pycopy.Copy(src, dst); err != nil {
		return "", err
	}
	exe := filepath.Join(dst, "bin", "python"+tag)
	benchPythons[tag] = exe
	return exe, nil
}

// removeBenchPythons runs when the driver ends.
func removeBenchPythons() {
	benchPythonsMu.Lock()
	defer benchPythonsMu.Unlock()
	if benchPythonsDir != "" {
		_ = os.RemoveAll(benchPythonsDir)
	}
}
