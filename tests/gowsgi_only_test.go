package tests

// Behaviour required of gowsgi that Debian's mod_wsgi does not provide.
// Skipped when GOWSGI_TEST_MODULE=mod_wsgi.

import (
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
