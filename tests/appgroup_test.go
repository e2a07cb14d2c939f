package tests

// WSGIApplicationGroup / application-group= naming and sub-interpreter
// isolation (reference section 4, Appendix A seed 2).

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppGroup_Names(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		port := strconv.Itoa(a.Port)
		cases := map[string]string{
			"/grp-global":      "",
			"/grp-resource":    "localhost:" + port + "|/grp-resource",
			"/grp-resource/x/": "localhost:" + port + "|/grp-resource",
			"/grp-server":      "localhost:" + port,
			"/grp-env":         "fromenv",
			"/grp-literal":     "literalgroup",
			"/grp-opt":         "optgroup",
			"/emb/x":           "localhost:" + port + "|/emb",
			"/MixedCase":       "localhost:" + port + "|/mixedcase",
			"/dir/one.wsgi/p":  "localhost:" + port + "|/dir/one.wsgi",
			"/match/two/p":     "localhost:" + port + "|/match/two",
		}
		for path, want := range cases {
			path, want := path, want
			t.Run(path, func(t *testing.T) {
				d := GetEnv(t, a.URL(path), nil)
				assert.Equal(t, want, d.Environ["mod_wsgi.application_group"])
				mw, ok := d.Py["mod_wsgi"].(map[string]any)
				require.True(t, ok, "import mod_wsgi failed in the app")
				if want == "" && knownModWsgiDeviation(t, a,
					"in %{GLOBAL} mod_wsgi.application_group is the last sub-interpreter created, got "+fmt.Sprint(mw["application_group"])) {
					return
				}
				assert.Equal(t, want, mw["application_group"], "mod_wsgi.application_group module attribute")
			})
		}
	})
}

func TestAppGroup_SubInterpreterIsolation(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		subInterpreterIsolation(t, mainServer(t, mpm))
	})
}

// The same in one daemon process: its sub-interpreters, on the daemon's own
// Python (GOWSGI_TEST_GROUP_PYTHON runs it on another).
func TestDaemon_SubInterpreterIsolation(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		subInterpreterIsolation(t, StartApache(t, ServerSpec{MPM: mpm, Snippet: `
WSGIDaemonProcess iso processes=1 threads=2
WSGIScriptAlias /iso-a1 @APPS@/env.wsgi process-group=iso application-group=isoA
WSGIScriptAlias /iso-a2 @APPS@/scripts/one.wsgi process-group=iso application-group=isoA
WSGIScriptAlias /iso-b @APPS@/env.wsgi process-group=iso application-group=isoB
`}))
	})
}

// subInterpreterIsolation checks that two application groups of one process
// are two interpreters, each shared by its scripts.
func subInterpreterIsolation(t *testing.T, a *Apache) {
	c := singleConnClient() // same connection => same Apache child
	get := func(path string) EnvDump {
		r, err := doReq(c, "GET", a.URL(path), nil, nil)
		require.NoError(t, err)
		require.Equal(t, 200, r.Status, r.String())
		return decodeEnv(t, r.Body)
	}
	a1 := get("/iso-a1")
	a1b := get("/iso-a1")
	a2 := get("/iso-a2")
	b := get("/iso-b")
	a1c := get("/iso-a1")
	pid := a1.Py["pid"]
	for _, d := range []EnvDump{a1b, a2, b, a1c} {
		require.Equal(t, pid, d.Py["pid"], "requests must reach the same process")
	}
	// interpreter-wide counter: shared by both scripts of group isoA,
	// separate for isoB
	assert.EqualValues(t, 1, a1.Py["interp_counter"])
	assert.EqualValues(t, 2, a1b.Py["interp_counter"])
	assert.EqualValues(t, 3, a2.Py["interp_counter"])
	assert.EqualValues(t, 1, b.Py["interp_counter"], "group isoB must have its own interpreter")
	assert.EqualValues(t, 4, a1c.Py["interp_counter"])
	// module-level counter: per script module
	assert.EqualValues(t, 1, a2.Py["module_counter"])
	assert.EqualValues(t, 3, a1c.Py["module_counter"])
	assert.EqualValues(t, 1, b.Py["module_counter"])
	assert.Equal(t, "isoA", a1.Environ["mod_wsgi.application_group"])
	assert.Equal(t, "isoB", b.Environ["mod_wsgi.application_group"])
}

// %{RESOURCE} from URIs whose slashes Apache left alone (MergeSlashes Off,
// encoded slashes decoded): mod_wsgi splits off the path info with
// ap_find_path_info, which lines slashes up loosely, then collapses them.
func TestAppGroup_ResourceFromUnmergedSlashes(t *testing.T) {
	differentialOnly(t)
	snippet := `
MergeSlashes Off
AllowEncodedSlashes On
WSGIScriptAlias /app @APPS@/env.wsgi
WSGIScriptAlias / @APPS@/env.wsgi
`
	spec := func(m Module) ServerSpec { return ServerSpec{Module: m, MPM: "event", Snippet: snippet} }
	ref := StartApache(t, spec(ModModWsgi))
	cand := StartApache(t, spec(ModGowsgi))
	for _, path := range []string{"/%2Fa", "/a/%2F/b", "//a//b", "/app//x", "/app/%2F/x", "/App/X"} {
		rq := diffRequest{name: path, path: path, env: true}
		t.Run(path, func(t *testing.T) {
			r := diffDo(t, ref, rq)
			require.Equal(t, 200, r.Status, r.Body)
			compareResponses(t, rq, ref, cand, r, diffDo(t, cand, rq))
		})
	}
}
