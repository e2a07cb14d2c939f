package tests

// A Python per group on a shared host (README, "A Python per group"): a
// group's virtualenv, pyvenv.cfg included, is its tenant's, who may change
// it at any time; nothing in it may stop the server or another tenant's
// group.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A tenant breaks its virtualenv's pyvenv.cfg: the server starts anyway,
// and a graceful restart (logrotate's) goes through; the tenant's group
// cannot start, says why and where in the error log, and backs off until
// it is mended; the other groups serve throughout. Only configtest refuses it
// (TestPythons_ConfigtestMismatch). Before, the parent exited at the
// restart, with every tenant's site.
func TestPythons_TenantVirtualenvCannotStopServer(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	server := requirePython(t, serverPythonTag())
	broken := "include-system-site-packages = false\n"
	gone := "home = /nonexistent/bin\nversion = 3.12.1\nexecutable = /nonexistent/bin/python3.12\n"
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess other threads=2
WSGIScriptAlias /other @APPS@/pythons/version.wsgi process-group=other application-group=%{GLOBAL}
WSGIDaemonProcess tenant threads=2 python-home=@ROOT@/venv
WSGIScriptAlias /tenant @APPS@/pythons/version.wsgi process-group=tenant application-group=%{GLOBAL}
`, Setup: func(root string) error {
		if err := makeVenv(server, filepath.Join(root, "venv")); err != nil {
			return err
		}
		// Broken from the start: the server still starts.
		return os.WriteFile(filepath.Join(root, "venv", "pyvenv.cfg"), []byte(broken), 0o644)
	}})
	cfg := filepath.Join(a.Root, "venv", "pyvenv.cfg")
	good := "home = /usr/bin\ninclude-system-site-packages = false\nversion = " + server.Tag + ".0\n"

	require.Equal(t, daemonPython().Tag, getVersion(t, a.URL("/other")).Version)
	waitLog := func(want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(a.ErrorLogContent(), want) {
			time.Sleep(100 * time.Millisecond)
		}
		require.Contains(t, a.ErrorLogContent(), want)
	}
	waitLog("daemon process 0 of group 'tenant'")
	log := a.ErrorLogContent()
	assert.Contains(t, log, "could not start: python-home="+filepath.Join(a.Root, "venv")+" is a broken virtualenv")
	assert.Contains(t, log, "retrying in 5 seconds", "it backs off as any start failure")
	r := Get(t, a.URL("/tenant"))
	assert.Equal(t, 503, r.Status, "the tenant's group cannot serve: %s", truncate(r.Body, 300))

	// Mended: its next process serves, with no restart (each process
	// resolves its Python as it starts).
	require.NoError(t, os.WriteFile(cfg, []byte(good), 0o644))
	var f versionFacts
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if r := Get(t, a.URL("/tenant")); r.Status == 200 {
			f = getVersion(t, a.URL("/tenant"))
			break
		}
	}
	require.Equal(t, server.Tag, f.Version, "the mended virtualenv serves")

	// Broken again (its Python gone), then logrotate's graceful restart:
	// the server stays up, the other group serves.
	require.NoError(t, os.WriteFile(cfg, []byte(gone), 0o644))
	require.NoError(t, a.Graceful(), "a tenant's pyvenv.cfg does not stop the server")
	require.Equal(t, daemonPython().Tag, getVersion(t, a.URL("/other")).Version)
	waitLog("could not start: python-home=" + filepath.Join(a.Root, "venv") +
		" is a virtualenv made with Python 3.12.1 (/nonexistent/bin/python3.12), which no longer exists")
	assert.NotContains(t, a.ErrorLogContent(), "Configuration Failed")
}

// A tenant's pyvenv.cfg names files of another tenant that it cannot
// read. The group's Python is resolved as the group's user, not by root:
// what its error log says of them is what the tenant could see anyway
// ("Permission denied" whether or not they exist), never what only root
// can (that they exist, where a link in them leads). Before, root's
// resolution told "has no shared libpython ... (in <bob's home>/...)" for
// a file that exists, "no longer exists" for one that does not, and the
// target of a link.
func TestPythons_TenantVirtualenvNoOracle(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	spec, users := withDaemonUsers(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess there user=@ALICE@ threads=1 python-home=@ROOT@/home/alice/there
WSGIScriptAlias /there @APPS@/pythons/version.wsgi process-group=there
WSGIDaemonProcess notthere user=@ALICE@ threads=1 python-home=@ROOT@/home/alice/notthere
WSGIScriptAlias /notthere @APPS@/pythons/version.wsgi process-group=notthere
WSGIDaemonProcess link user=@ALICE@ threads=1 python-home=@ROOT@/home/alice/link
WSGIScriptAlias /link @APPS@/pythons/version.wsgi process-group=link
`}, "alice", "bob")
	setup := spec.Setup
	spec.Setup = func(root string) error {
		if err := setup(root); err != nil {
			return err
		}
		bob := filepath.Join(root, "home", "bob") // 0750 bob:bob: alice cannot enter
		alice := users["alice"]
		if err := writeFile(filepath.Join(bob, "releases", "s3cret-release", "bin", "python3.12"), "#!/bin/sh\n"); err != nil {
			return err
		}
		if err := os.Symlink("releases/s3cret-release/bin/python3.12", filepath.Join(bob, "python")); err != nil {
			return err
		}
		cfgs := map[string]string{
			"there":    "executable = " + filepath.Join(bob, "releases", "s3cret-release", "bin", "python3.12") + "\n",
			"notthere": "executable = " + filepath.Join(bob, "releases", "nothing", "bin", "python3.12") + "\n",
			"link":     "executable = " + filepath.Join(bob, "python") + "\n",
		}
		for name, cfg := range cfgs {
			path := filepath.Join(alice.Home, name, "pyvenv.cfg")
			if err := writeFile(path, "home = /usr/bin\nversion = 3.12.1\n"+cfg); err != nil {
				return err
			}
			for _, p := range []string{filepath.Dir(path), path} {
				if err := os.Chown(p, alice.UID, alice.GID); err != nil {
					return err
				}
			}
		}
		return nil
	}
	a := StartApache(t, spec)
	for _, g := range []string{"there", "notthere", "link"} {
		want := "group '" + g + "' (pid "
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(a.ErrorLogContent(), want) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond)
	var lines []string
	for _, l := range strings.Split(a.ErrorLogContent(), "\n") {
		if strings.Contains(l, "could not start") && strings.Contains(l, "[gowsgi:crit]") {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 3, "each group says why it cannot start:\n%s", a.ErrorLogContent())
	for _, l := range lines {
		assert.Contains(t, l, "Permission denied", "what alice may know of bob's files: %s", l)
		assert.NotContains(t, l, "no shared libpython", "that bob's file exists is not for alice to know: %s", l)
		assert.NotContains(t, l, "no longer exists", "nor that it does not: %s", l)
		if strings.Contains(l, "group 'link'") {
			assert.NotContains(t, l, "s3cret", "nor where bob's link leads: %s", l)
		}
	}
}

// What a tenant's pyvenv.cfg says (its version, the names of the files it
// points at) reaches the error log only escaped, as Apache escapes what it
// logs: a control byte there would be a terminal escape in a sysadmin's
// terminal, a newline a forged log line. The group's start failure, the
// parent's line on its exit and a request's 503 line all carry them (Apache
// escapes what ap_log_error writes; gowsgi's own writer does as Apache).
func TestPythons_TenantVirtualenvLogEscaped(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess tenant threads=1 python-home=@ROOT@/venv connect-timeout=1
WSGIScriptAlias /tenant @APPS@/pythons/version.wsgi process-group=tenant
`, Setup: func(root string) error {
		// A directory whose name holds a forged line, reached by a link:
		// the Python's real path has it.
		forged := filepath.Join(root, "x\n[Sun Dec 06 00:00:00.000000 2026] [core:emerg] FORGED")
		if err := writeFile(filepath.Join(forged, "bin", "python3.12"), "#!/bin/sh\n"); err != nil {
			return err
		}
		if err := os.Symlink(filepath.Join(forged, "bin", "python3.12"), filepath.Join(root, "py")); err != nil {
			return err
		}
		return writeFile(filepath.Join(root, "venv", "pyvenv.cfg"),
			"home = /usr/bin\nversion = 3.12.1\x1b]0;owned\x07\nexecutable = "+filepath.Join(root, "py")+"\n")
	}})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(a.ErrorLogContent(), "exited with status 1") {
		time.Sleep(100 * time.Millisecond)
	}
	r := Get(t, a.URL("/tenant"))
	assert.Equal(t, 503, r.Status)
	log := a.ErrorLogContent()
	require.Contains(t, log, "exited with status 1", "the parent said how its process ended")
	require.Contains(t, log, "unable to connect to WSGI daemon process 'tenant'")
	assert.Contains(t, log, `3.12.1\x1b]0;owned\x07`, "the version, escaped")
	assert.Contains(t, log, `x\n[Sun Dec 06`, "the path, escaped")
	assert.NotContains(t, log, "\x1b", "no raw escape byte")
	for _, l := range strings.Split(log, "\n") {
		assert.False(t, strings.HasPrefix(l, "[Sun Dec 06 00:00:00"), "a forged line: %q", l)
	}
}

// A group's python-home= the group's user cannot reach: its processes say
// so, naming the path and the uid. Before, a pyvenv.cfg it could not stat
// was taken for none, and the group went on as the server's Python with a
// home it could not read.
func TestPythons_VirtualenvUnreachable(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	server := requirePython(t, serverPythonTag())
	spec, users := withDaemonUsers(t, ServerSpec{MPM: "event", Snippet: `
WSGIDaemonProcess tenant user=@ALICE@ threads=1 python-home=@ROOT@/private/venv
WSGIScriptAlias /tenant @APPS@/pythons/version.wsgi process-group=tenant
`, Setup: func(root string) error {
		if err := makeVenv(server, filepath.Join(root, "private", "venv")); err != nil {
			return err
		}
		return os.Chmod(filepath.Join(root, "private"), 0o700) // root's: alice cannot enter
	}}, "alice")
	a := StartApache(t, spec)
	want := "could not start: python-home=" + filepath.Join(a.Root, "private", "venv") + ": its pyvenv.cfg: uid " +
		strconv.Itoa(users["alice"].UID) + " cannot reach it: Permission denied"
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(a.ErrorLogContent(), want) {
		time.Sleep(100 * time.Millisecond)
	}
	assert.Contains(t, a.ErrorLogContent(), want)
}
