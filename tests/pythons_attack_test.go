package tests

// A Python per group on a shared host (README, "A Python per group"): a
// group's virtualenv, pyvenv.cfg included, is its tenant's, who may change
// it at any time; nothing in it may stop the server or another tenant's
// group.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A tenant breaks its virtualenv's pyvenv.cfg: the server starts anyway,
// and a graceful restart (logrotate's) goes through; the tenant's group
// cannot start, says why and where in the error log, and backs off; the
// other groups serve throughout. Only configtest refuses it
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

	require.Equal(t, server.Tag, getVersion(t, a.URL("/other")).Version)
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

	// Mended, then a graceful restart: it serves.
	require.NoError(t, os.WriteFile(cfg, []byte(good), 0o644))
	require.NoError(t, a.Graceful())
	var f versionFacts
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if r := Get(t, a.URL("/tenant")); r.Status == 200 {
			f = getVersion(t, a.URL("/tenant"))
			break
		}
	}
	require.Equal(t, server.Tag, f.Version, "the mended virtualenv serves after a graceful restart")

	// Broken again (its Python gone), then logrotate's graceful restart:
	// the server stays up, the other group serves.
	require.NoError(t, os.WriteFile(cfg, []byte(gone), 0o644))
	require.NoError(t, a.Graceful(), "a tenant's pyvenv.cfg does not stop the server")
	require.Equal(t, server.Tag, getVersion(t, a.URL("/other")).Version)
	waitLog("could not start: python-home=" + filepath.Join(a.Root, "venv") +
		" is a virtualenv made with Python 3.12.1 (/nonexistent/bin/python3.12), which no longer exists")
	assert.NotContains(t, a.ErrorLogContent(), "Configuration Failed")
}
