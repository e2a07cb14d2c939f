package tests

// Behaviour required of gowsgi that Debian's mod_wsgi does not provide.
// Skipped when GOWSGI_TEST_MODULE=mod_wsgi.

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gowsgiOnly(t *testing.T) {
	t.Helper()
	if targetModule() != ModGowsgi {
		t.Skip("gowsgi-only test; module under test is " + string(targetModule()))
	}
	requireModule(t, ModGowsgi)
}

func TestGowsgiOnly_RefusesToLoadAlongsideModWsgi(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	gl, err := loadModuleLine(ModGowsgi)
	require.NoError(t, err)
	ml, err := loadModuleLine(ModModWsgi)
	require.NoError(t, err)
	for _, order := range [][2]string{{gl, ml}, {ml, gl}} {
		out, code := ConfigTest(t, ServerSpec{NoWSGI: true, Snippet: order[0] + "\n" + order[1] + "\n"})
		assert.NotEqual(t, 0, code, "both modules loaded must be rejected; output:\n%s", out)
		assert.Contains(t, strings.ToLower(out), "mod_wsgi", "the error must name the conflicting module:\n%s", out)
	}
}

// Debian's mod_wsgi 4.9.4 with Python 3.11 hangs while destroying
// interpreters at shutdown (Apache logs AH00045 and SIGKILLs the child after
// ~10 s, cf. mod_wsgi #730). gowsgi must shut down promptly.
func TestGowsgiOnly_StopIsPrompt(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: "WSGIScriptAlias /emb @APPS@/env.wsgi\nWSGIScriptAlias /g @APPS@/env.wsgi application-group=%{GLOBAL}\n"})
		Get(t, a.URL("/emb"))
		Get(t, a.URL("/g"))
		s := time.Now()
		require.NoError(t, a.Stop())
		assert.Less(t, time.Since(s), 5*time.Second)
		log := a.ErrorLogContent()
		assert.NotContains(t, log, "still did not exit")
		assert.NotContains(t, log, "AH00046")
	})
}

// Directives and daemon options gowsgi accepts but does not honour yet must
// each say so once at start-up, naming the directive and its file:line
// (issue: never stub); honoured ones say nothing, and a daemon group's
// requests run in its own processes.
func TestGowsgiOnly_UnhonouredDaemonOptionsWarnOnce(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: "" +
			"WSGIDaemonProcess d1 processes=2 threads=4 display-name=%{GROUP} server-metrics=On newrelic-environment=x socket-user=www-data\n" +
			"WSGIAcceptMutex default\n" +
			"WSGIScriptAlias /emb @APPS@/env.wsgi\n" +
			"WSGIScriptAlias /daemon @APPS@/env.wsgi process-group=d1\n" +
			"WSGIScriptAlias /nogroup @APPS@/env.wsgi process-group=missing\n"})

		conf, err := os.ReadFile(a.ConfPath)
		require.NoError(t, err)
		lineOf := func(prefix string) int {
			for i, l := range strings.Split(string(conf), "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), prefix) {
					return i + 1
				}
			}
			t.Fatalf("%q not in the generated config", prefix)
			return 0
		}
		log := a.ErrorLogContent()
		daemonAt := fmt.Sprintf("gowsgi: WSGIDaemonProcess at %s:%d is accepted but not honoured: ", a.ConfPath, lineOf("WSGIDaemonProcess d1"))
		for _, want := range []string{
			daemonAt + "option newrelic-environment= is ignored: the New Relic agent is not loaded for you",
			daemonAt + "option socket-user= is not needed: there is no socket file to own",
			fmt.Sprintf("gowsgi: WSGIAcceptMutex at %s:%d is accepted but not honoured: not needed", a.ConfPath, lineOf("WSGIAcceptMutex")),
		} {
			assert.Equal(t, 1, strings.Count(log, want), "exactly one start-up warning %q in:\n%s", want, log)
		}
		assert.NotContains(t, log, "option processes=", "an honoured option: no warning")
		assert.NotContains(t, log, "option server-metrics=", "an honoured option: no warning")
		assert.NotContains(t, log, "WSGIScriptAlias at", "aliases, daemon or not, are honoured: no warning")

		emb := GetEnv(t, a.URL("/emb"), nil)
		assert.Equal(t, "", emb.Environ["mod_wsgi.process_group"])
		d := GetEnv(t, a.URL("/daemon/x"), nil)
		assert.Equal(t, "d1", d.Environ["mod_wsgi.process_group"])
		assert.Equal(t, "/x", d.Environ["PATH_INFO"])
		assert.NotEqual(t, emb.Py["pid"], d.Py["pid"], "a daemon group runs in its own processes")

		r := Get(t, a.URL("/nogroup"))
		assert.Equal(t, 500, r.Status)
		assert.Contains(t, a.ErrorLogContent(), "No WSGI daemon process called 'missing' has been configured")
	})
}

// GoWSGILibrary chooses the engine library; without it the one beside
// mod_gowsgi.so is used.
func TestGowsgiOnly_GoWSGILibrary(t *testing.T) {
	gowsgiOnly(t)
	lib, err := os.ReadFile(gowsgiBuildDir() + "/libgowsgi.so")
	require.NoError(t, err)
	// Not t.TempDir(): its parent is 0700, and the children run as www-data.
	dir, err := os.MkdirTemp("/tmp", "gowsgi-lib-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	copyPath := dir + "/engine-copy.so"
	require.NoError(t, os.WriteFile(copyPath, lib, 0o644))

	a := StartApache(t, ServerSpec{MPM: "event", Snippet: "GoWSGILibrary " + copyPath + "\nWSGIScriptAlias /emb @APPS@/env.wsgi\n"})
	GetEnv(t, a.URL("/emb"), nil)
	maps := ""
	for _, pid := range a.ChildPids() {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
		maps += string(b)
	}
	assert.Contains(t, maps, copyPath, "children must load the library GoWSGILibrary names")

	b := StartApache(t, ServerSpec{MPM: "event", Snippet: "GoWSGILibrary " + dir + "/missing.so\nWSGIScriptAlias /emb @APPS@/env.wsgi\n"})
	assert.Equal(t, 500, Get(t, b.URL("/emb")).Status)
	assert.Contains(t, b.ErrorLogContent(), "cannot load "+dir+"/missing.so")
}
