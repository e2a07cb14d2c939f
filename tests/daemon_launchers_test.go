package tests

// Which program a daemon process execs (README, "Memory"): a group of the
// server's Python runs gowsgi-daemon-X.Y, with that Python and the engine
// linked in (no libpython or libgowsgi.so mapped, nothing relocated at
// start); a group of another Python runs gowsgi-daemon, which loads that
// Python's libpython and engine build (TestPythons_GroupPerVirtualenv); and
// an install without gowsgi-daemon-X.Y runs gowsgi-daemon for every group.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func exeOf(t testing.TB, pid int) string {
	t.Helper()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	require.NoError(t, err)
	return exe
}

func copyModuleFile(t testing.TB, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

func TestDaemon_ServerPythonRunsBuiltinLauncher(t *testing.T) {
	gowsgiOnly(t)
	if groupPy != nil {
		t.Skip("every group runs GOWSGI_TEST_GROUP_PYTHON here, not the server's Python")
	}
	t.Parallel()
	snippet := "WSGIDaemonProcess plain threads=2\n" +
		"WSGIScriptAlias /plain @APPS@/pythons/version.wsgi process-group=plain application-group=%{GLOBAL}\n" +
		"WSGIDaemonProcess lazy threads=2 start=on-demand\n" +
		"WSGIScriptAlias /lazy @APPS@/pythons/version.wsgi process-group=lazy application-group=%{GLOBAL}\n" +
		"WSGIDaemonProcess named threads=2 display-name=(wsgi:named) stack-size=524288\n" +
		"WSGIScriptAlias /named @APPS@/pythons/version.wsgi process-group=named application-group=%{GLOBAL}\n"
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: snippet})
		for _, path := range []string{"/plain", "/lazy"} {
			f := getVersion(t, a.URL(path))
			assert.Equal(t, serverPythonTag(), f.Version, path)
			assert.Equal(t, "/usr", f.Prefix, path)
			assert.Equal(t, filepath.Join(gowsgiBuildDir(), serverLauncher(t)), exeOf(t, f.Pid),
				"%s: a group of the server's Python runs the launcher with it built in", path)
			if builtinLauncherBuilt(t) {
				maps := mapsOf(f.Pid)
				assert.NotContains(t, maps, "libpython", "%s: no libpython is loaded: it is linked in", path)
				assert.NotContains(t, maps, "libgowsgi", "%s: nor the engine", path)
			}
			// Its C extensions (lib-dynload) find libpython's symbols in the
			// program, as under /usr/bin/python3.
			r := Get(t, a.URL(path+"?sleep=0"))
			assert.Equal(t, 200, r.Status, path)
		}
		// Go's runtime starts threads from the program's constructor, before
		// the launcher has its settings: they too carry display-name and
		// stack-size, as every thread of a gowsgi-daemon process does.
		f := getVersion(t, a.URL("/named"))
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", f.Pid))
		require.NoError(t, err)
		require.Greater(t, len(tasks), 2)
		for _, task := range tasks {
			comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/comm", f.Pid, task.Name()))
			if err == nil {
				assert.Equal(t, "(wsgi:named)\n", string(comm), "thread %s's name", task.Name())
			}
		}
		// A glibc thread stack: anonymous, right above its one guard page
		// (Go's heap arenas also sit beside PROT_NONE reservations, larger).
		var guardEnd uint64
		for _, line := range strings.Split(mapsOf(f.Pid), "\n") {
			var lo, hi uint64
			var perms string
			if n, _ := fmt.Sscanf(line, "%x-%x %s", &lo, &hi, &perms); n != 3 {
				continue
			}
			if perms == "rw-p" && lo == guardEnd && hi-lo == 8<<20 && len(strings.Fields(line)) == 5 {
				t.Errorf("a thread stack of the default 8 MiB, not stack-size=524288: %s", line)
			}
			guardEnd = 0
			if perms == "---p" && hi-lo == uint64(os.Getpagesize()) {
				guardEnd = hi
			}
		}
		assert.NotContains(t, a.ErrorLogContent(), "GW0122")
	})
}

func TestDaemon_WithoutBuiltinLauncherRunsGowsgiDaemon(t *testing.T) {
	gowsgiOnly(t)
	if groupPy != nil {
		t.Skip("every group runs GOWSGI_TEST_GROUP_PYTHON here, not the server's Python")
	}
	t.Parallel()
	dir := scratchDir(t, "gowsgi-nobuiltin-")
	copyModuleFile(t, filepath.Join(gowsgiBuildDir(), "mod_gowsgi.so"), filepath.Join(dir, "mod_gowsgi.so"), 0o644)
	copyModuleFile(t, filepath.Join(gowsgiBuildDir(), "libgowsgi.so"), filepath.Join(dir, "libgowsgi.so"), 0o644)
	copyModuleFile(t, filepath.Join(gowsgiBuildDir(), "gowsgi-daemon"), filepath.Join(dir, "gowsgi-daemon"), 0o755)
	snippet := fmt.Sprintf("LoadModule gowsgi_module %s/mod_gowsgi.so\n", dir) +
		"WSGIDaemonProcess plain threads=2\n" +
		"WSGIScriptAlias /plain @APPS@/pythons/version.wsgi process-group=plain application-group=%{GLOBAL}\n"
	a := StartApache(t, ServerSpec{NoWSGI: true, Snippet: snippet})
	f := getVersion(t, a.URL("/plain"))
	assert.Equal(t, serverPythonTag(), f.Version)
	assert.Equal(t, filepath.Join(dir, "gowsgi-daemon"), exeOf(t, f.Pid), "the launcher that loads the Python")
	maps := mapsOf(f.Pid)
	assert.Contains(t, maps, "libpython"+serverPythonTag()+".so", "the server's libpython, loaded")
	assert.Contains(t, maps, filepath.Join(dir, "libgowsgi.so"), "and its engine")
	log := a.ErrorLogContent()
	assert.NotContains(t, log, "GW0122")
	assert.False(t, strings.Contains(log, "GW0111"), "the group is isolated all the same:\n%s", log)
}
