package tests

// Differential daemon mode: the same requests to Apache+mod_wsgi and
// Apache+gowsgi with the same daemon-group snippet (and the same daemon
// user), comparing the environ key by key, the attribute surface of
// wsgi.input, wsgi.errors and friends, and the daemon process's facts.
// Runs only when the module under test is gowsgi (it needs both modules).

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const daemonDiffSnippet = `
WSGISocketPrefix @ROOT@/run/wsgi
WSGIDaemonProcess d1 user=@ALICE@ group=@ALICE@ processes=2 threads=4 display-name=%{GROUP}
WSGIScriptAlias /env @APPS@/env.wsgi process-group=d1
WSGIScriptAlias /s @APPS@/surface.wsgi process-group=d1
WSGIScriptAlias /probe @APPS@/daemon/probe.wsgi process-group=d1
WSGIScriptAlias /resp @APPS@/response.wsgi process-group=d1
WSGIScriptAlias /input @APPS@/input.wsgi process-group=d1
WSGIScriptAlias /err @APPS@/errors.wsgi process-group=d1
`

// probe facts compared between the modules (after normalising roots and
// ports); pid, ppid and the timing keys of the environ differ by nature.
var daemonDiffFacts = []string{"uid", "euid", "gid", "egid", "groups", "user", "cwd", "HOME", "USER", "LOGNAME",
	"argv", "cmdline", "umask", "multithread", "multiprocess", "run_once", "module", "prefix", "base_prefix", "path"}

func TestDaemon_Differential(t *testing.T) {
	differentialOnly(t)
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) { daemonDiffChecks(t, mpm, ModGowsgi) })
}

// daemonDiffChecks compares a candidate server (gowsgi; mod_wsgi to check
// that the comparisons are deterministic) against mod_wsgi on mpm.
func daemonDiffChecks(t *testing.T, mpm string, candidate Module) {
	// one user for both servers, its home outside either ServerRoot so
	// that HOME and the cwd compare equal
	homes, err := os.MkdirTemp("", "gowsgi-it-homes-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(homes, 0o755))
	t.Cleanup(func() { os.RemoveAll(homes) })
	alice, err := createDaemonUser(t, daemonUserName(t, "alice"), filepath.Join(homes, "alice"))
	require.NoError(t, err)
	requireReadableBy(t, alice, filepath.Join(appsDir(), "env.wsgi"), filepath.Join(appsDir(), "surface.wsgi"), probeScript())
	snippet := strings.ReplaceAll(daemonDiffSnippet, "@ALICE@", alice.Name)

	ref, cand := startPair(t, ServerSpec{Module: ModModWsgi, MPM: mpm, Snippet: snippet},
		ServerSpec{Module: candidate, MPM: mpm, Snippet: snippet})

	for _, rq := range []diffRequest{
		{name: "environ GET", path: "/env/foo/bar?x=1&y=%C3%A9", headers: map[string]string{"X-Custom": "v"}, env: true},
		{name: "environ POST", method: "POST", path: "/env", body: "a=1&b=2", headers: formHeaders, env: true},
		{name: "environ HEAD", method: "HEAD", path: "/env/h", env: true},
		// The input, response and error cases of the embedded differential,
		// through the daemon.
		{name: "input read", method: "POST", path: "/input?op=read&echo=1", body: inputBody},
		{name: "input readline", method: "POST", path: "/input?op=readline&n=4", body: inputBody},
		{name: "input readlines hint", method: "POST", path: "/input?op=readlines&hint=15", body: inputBody},
		{name: "input eof", method: "POST", path: "/input?op=eof", body: inputBody},
		{name: "resp hello", path: "/resp?op=hello"},
		{name: "resp latin1hdr", path: "/resp?op=latin1hdr"},
		{name: "resp latin1ok", path: "/resp?op=latin1ok"},
		{name: "resp strbody", path: "/resp?op=strbody"},
		{name: "resp tuplehdrs", path: "/resp?op=tuplehdrs"},
		{name: "resp badstatus", path: "/resp?op=badstatus"},
		{name: "resp head", method: "HEAD", path: "/resp?op=head"},
		{name: "resp write", path: "/resp?op=write"},
		{name: "resp twice", path: "/resp?op=twice"},
		{name: "resp twiceafter", path: "/resp?op=twiceafter"},
		{name: "resp excinfo", path: "/resp?op=excinfo"},
		{name: "resp filewrapper", path: "/resp?op=filewrapper"},
		{name: "resp filewrapper cl", path: "/resp?op=filewrapper&cl=50"},
		{name: "resp location", path: "/resp?op=location"},
		{name: "resp multi", path: "/resp?op=multi"},
		{name: "err raise", path: "/err?op=raise"},
		{name: "err noreturn", path: "/err?op=noreturn"},
	} {
		rq := rq
		t.Run(rq.name, func(t *testing.T) {
			r := diffDo(t, ref, rq)
			c := diffDo(t, cand, rq)
			if rq.env && rq.method != "HEAD" {
				require.Equal(t, 200, r.Status, "reference mod_wsgi: %s", r)
				d := decodeEnv(t, r.Body)
				// the reference ran in the daemon
				require.Equal(t, "d1", d.Environ["mod_wsgi.process_group"], "reference mod_wsgi process group")
				require.Equal(t, "1", d.Environ["mod_wsgi.daemon_connects"], "reference mod_wsgi daemon_connects")
				require.Contains(t, d.Environ, "mod_wsgi.queue_start")
			}
			compareResponses(t, rq, ref, cand, r, c)
		})
	}

	t.Run("object surfaces", func(t *testing.T) {
		r := diffDo(t, ref, diffRequest{path: "/s?op=surface"})
		c := diffDo(t, cand, diffRequest{path: "/s?op=surface"})
		require.Equal(t, 200, r.Status, "reference mod_wsgi: %s", r)
		require.Equal(t, 200, c.Status, "gowsgi: %s", c)
		rd, cd := decodeObj(t, "mod_wsgi", normBody(ref, r.Body)), decodeObj(t, "gowsgi", normBody(cand, c.Body))
		errs, _ := rd["wsgi.errors"].(map[string]any)
		require.Equal(t, "_io.TextIOWrapper", errs["type"], "reference mod_wsgi wsgi.errors type")
		inp, _ := rd["wsgi.input"].(map[string]any)
		require.Equal(t, "mod_wsgi.Input", inp["type"], "reference mod_wsgi wsgi.input type")
		buf, _ := rd["wsgi.errors.buffer"].(map[string]any)
		require.Equal(t, "mod_wsgi.Log", buf["type"], "reference mod_wsgi wsgi.errors.buffer type")
		compareSurfaceDumps(t, rd, cd)
	})

	t.Run("daemon process facts", func(t *testing.T) {
		r := diffDo(t, ref, diffRequest{path: "/probe"})
		c := diffDo(t, cand, diffRequest{path: "/probe"})
		require.Equal(t, 200, r.Status, "reference mod_wsgi: %s", r)
		require.Equal(t, 200, c.Status, "gowsgi: %s", c)
		rf, cf := decodeFacts(t, r.Body), decodeFacts(t, c.Body)
		require.Equal(t, alice.UID, rf.UID, "reference mod_wsgi runs the daemon as the group's user")
		require.Equal(t, alice.Home, rf.Cwd, "reference mod_wsgi: cwd")
		rm, cm := decodeObj(t, "mod_wsgi", normBody(ref, r.Body)), decodeObj(t, "gowsgi", normBody(cand, c.Body))
		for _, k := range daemonDiffFacts {
			assert.Equal(t, jsonString(rm[k]), jsonString(cm[k]), "fact %q", k)
		}
		// environ mod_wsgi.* keys: the same set, equal values but the volatile ones
		keys := map[string]bool{}
		for k := range rf.Environ {
			keys[k] = true
		}
		for k := range cf.Environ {
			keys[k] = true
		}
		var missing, extra []string
		for _, k := range sortedSet(keys) {
			rv, inR := rf.Environ[k]
			cv, inC := cf.Environ[k]
			switch {
			case diffOptionalEnv[k]:
			case inR && !inC:
				missing = append(missing, k)
			case inC && !inR:
				extra = append(extra, k)
			case !diffVolatileEnv[k]:
				assert.Equal(t, normalizer(ref).Replace(rv), normalizer(cand).Replace(cv), "environ[%q]", k)
			}
		}
		sort.Strings(missing)
		assert.Empty(t, missing, "mod_wsgi.* environ keys missing under gowsgi")
		assert.Empty(t, extra, "mod_wsgi.* environ keys only under gowsgi")
		if t.Failed() {
			rj, _ := json.MarshalIndent(rm, "", " ")
			t.Logf("reference facts: %s", rj)
		}
	})
}
