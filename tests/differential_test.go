package tests

// Differential tests: the same requests against Apache+mod_wsgi and
// Apache+gowsgi (separate servers, same config snippet), comparing status,
// headers and body; environ dumps are compared key by key.
// Runs only when the module under test is gowsgi (it needs both modules).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// differentialOnly skips a test that compares gowsgi with mod_wsgi unless
// gowsgi is the module under test, and fails it if either module is missing.
func differentialOnly(t *testing.T) {
	t.Helper()
	if targetModule() != ModGowsgi {
		t.Skip("differential tests compare gowsgi against mod_wsgi; module under test is " + string(targetModule()))
	}
	skipUnderGroupPython(t, "differential tests compare with mod_wsgi, which runs only the server's Python")
	requireModule(t, ModGowsgi)
	requireModule(t, ModModWsgi)
}

// Headers never compared.
var diffIgnoredHeaders = map[string]bool{"Date": true, "Server": true, "Etag": true, "Keep-Alive": true}

// environ keys whose values legitimately differ between servers/requests
// (they must still be present in both).
var diffVolatileEnv = map[string]bool{
	"SERVER_SOFTWARE":          true,
	"mod_wsgi.request_id":      true,
	"mod_wsgi.connection_id":   true,
	"mod_wsgi.request_start":   true,
	"mod_wsgi.script_start":    true,
	"mod_wsgi.queue_start":     true,
	"mod_wsgi.daemon_start":    true,
	"mod_wsgi.total_requests":  true,
	"mod_wsgi.thread_id":       true,
	"mod_wsgi.thread_requests": true,
	"REMOTE_PORT":              true,
	"wsgi.input":               true, // repr carries an address; the type is compared
	"wsgi.errors":              true,
}

// Differences gowsgi keeps on purpose (README "Differences from mod_wsgi"):
// apache.version is the running httpd, not the one mod_wsgi was compiled
// against. (wsgi.errors must be an io.TextIOWrapper like mod_wsgi's: its
// type is compared with no exception; differential_surface_test.go
// compares its whole attribute surface.)
var diffAcceptedEnv = map[string]bool{"apache.version": true}

// Present only when Apache already generated the connection's log id, in
// either module: its presence is timing, not behaviour.
var diffOptionalEnv = map[string]bool{"mod_wsgi.connection_id": true}

// interpreter facts compared from env.wsgi's "py" section.
var diffPyKeys = []string{"argv", "orig_argv", "module_name", "prefix", "base_prefix", "executable", "optimize", "dont_write_bytecode",
	"hash_randomization", "warnoptions", "debug", "mod_wsgi", "path", "stdin_type"}

// How Python started on the process's locale (env.wsgi's facts).
var diffLocaleKeys = []string{"filesystem_encoding", "utf8_mode", "preferred_encoding", "lc_ctype", "environ_lc_ctype"}

// compareLocaleFacts compares how Python started on the process's locale.
// On a C locale (Apache's LANG=C) mod_wsgi 4.9.4 (Py_Initialize) neither
// coerces it nor turns on UTF-8 mode: 'ascii'. Debian 13's reference,
// mod_wsgi 5.0.2, starts Python from the Python config as 6.0 does
// ('utf-8'); gowsgi keeps 4.9.4's unless GoWSGICompatibility 6 (README,
// "mod_wsgi 4.9.4 vs 6.0").
func compareLocaleFacts(t *testing.T, ref, cand map[string]any) {
	t.Helper()
	same := true
	for _, k := range diffLocaleKeys {
		same = same && jsonString(ref[k]) == jsonString(cand[k])
	}
	if same {
		return
	}
	if !modWsgiIs5() {
		for _, k := range diffLocaleKeys {
			assert.Equal(t, jsonString(ref[k]), jsonString(cand[k]), "py fact %q", k)
		}
		return
	}
	if assert.Equal(t, "ascii", cand["filesystem_encoding"], "gowsgi keeps 4.9.4's locale") &&
		assert.Equal(t, "utf-8", ref["filesystem_encoding"], "mod_wsgi %s coerces the C locale", modWsgiVersion) {
		t.Logf("KNOWN mod_wsgi %s difference: it starts Python with PEP 538/540 (%s, %v), gowsgi as 4.9.4 does (%s, %v)",
			modWsgiVersion, ref["filesystem_encoding"], ref["lc_ctype"], cand["filesystem_encoding"], cand["lc_ctype"])
	}
}

type diffRequest struct {
	name    string
	method  string
	path    string
	port2   bool
	headers map[string]string
	body    string
	env     bool // response is an env.wsgi dump
}

var diffRequests = []diffRequest{
	{name: "env basic", path: "/emb/foo/bar?x=1&y=%C3%A9", headers: map[string]string{"X-Custom": "v"}, env: true},
	{name: "env POST", method: "POST", path: "/emb", body: "a=1&b=2", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, env: true},
	{name: "env HEAD", method: "HEAD", path: "/emb/h", env: true},
	{name: "env HEAD mapped", method: "HEAD", path: "/headget", env: true},
	{name: "slash", path: "/slash/", env: true},
	{name: "slash 404", path: "/slash/a"},
	{name: "embx 404", path: "/embx"},
	{name: "encoded slash 404", path: "/emb/a%2Fb"},
	{name: "collapse", path: "/emb//a//b/", env: true},
	{name: "dir", path: "/dir/one.wsgi/x", env: true},
	{name: "dir 403", path: "/dir/"},
	{name: "dir 404", path: "/dir/one"},
	{name: "match", path: "/match/one/extra/path", env: true},
	{name: "addhandler", path: "/ht/env.wsgi/p", env: true},
	{name: "noexec", path: "/noexec/env.wsgi/p"},
	{name: "missing", path: "/missing"},
	{name: "root mount", path: "/a/b/", port2: true, env: true},
	{name: "grp global", path: "/grp-global", env: true},
	{name: "grp resource", path: "/grp-resource", env: true},
	{name: "grp server", path: "/grp-server", env: true},
	{name: "grp env", path: "/grp-env", env: true},
	{name: "grp literal", path: "/grp-literal", env: true},
	{name: "grp opt", path: "/grp-opt", env: true},
	{name: "mixed case", path: "/MixedCase", env: true},
	{name: "callopt", path: "/callopt"},
	{name: "callenv", path: "/callenv"},
	{name: "auth default", path: "/auth-default", headers: authHeaders, env: true},
	{name: "auth on", path: "/auth-on", headers: authHeaders, env: true},
	{name: "auth opt", path: "/auth-opt", headers: authHeaders, env: true},
	{name: "auth cgi", path: "/auth-cgi", headers: authHeaders, env: true},
	{name: "proxy trusted", path: "/proxy-trusted", headers: proxyHeaders, env: true},
	{name: "proxy notrust", path: "/proxy-notrust", headers: proxyHeaders, env: true},
	{name: "proxy all", path: "/proxy-all", headers: proxyHeaders, env: true},
	{name: "setenv", path: "/setenv/x", headers: map[string]string{"User-Agent": "gowsgi-ua"}, env: true},
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
	{name: "resp clshort", path: "/resp?op=clshort"},
	{name: "resp head", method: "HEAD", path: "/resp?op=head"},
	{name: "resp write", path: "/resp?op=write"},
	{name: "resp twice", path: "/resp?op=twice"},
	{name: "resp twiceafter", path: "/resp?op=twiceafter"},
	{name: "resp excinfo", path: "/resp?op=excinfo"},
	{name: "resp filewrapper", path: "/resp?op=filewrapper"},
	{name: "resp filewrapper skip", path: "/resp?op=filewrapper&skip=100"},
	{name: "resp filewrapper cl", path: "/resp?op=filewrapper&cl=50"},
	{name: "resp sendfile", path: "/respsendfile?op=filewrapper"},
	{name: "resp location", path: "/resp?op=location"},
	{name: "resp multi", path: "/resp?op=multi"},
	{name: "err raise", path: "/err?op=raise"},
	{name: "err noreturn", path: "/err?op=noreturn"},
	{name: "flask", path: "/flask/hello/bob?x=1"},
	{name: "flask 404", path: "/flask/nope"},
	{name: "django", path: "/django/item/3/"},
	{name: "django 404", path: "/django/nope/"},
}

var authHeaders = map[string]string{"Authorization": "Basic dXNlcjpwYXNz", "Proxy-Authorization": "Basic cHJveHk6cHc="}
var proxyHeaders = map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https", "X-Real-IP": "9.9.9.9"}

// normalizer replaces per-server values (roots, ports) by placeholders.
func normalizer(a *Apache) *strings.Replacer {
	pairs := []string{a.Root, "@ROOT@"}
	if a.Port2 != 0 {
		pairs = append(pairs, strconv.Itoa(a.Port2), "@PORT2@")
	}
	return strings.NewReplacer(append(pairs, strconv.Itoa(a.Port), "@PORT@")...)
}

func diffDo(t *testing.T, a *Apache, rq diffRequest) Resp {
	t.Helper()
	method := rq.method
	if method == "" {
		method = "GET"
	}
	base := a.BaseURL()
	if rq.port2 {
		base = fmt.Sprintf("http://127.0.0.1:%d", a.Port2)
	}
	var body *strings.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	var r Resp
	var err error
	if body != nil {
		r, err = doReq(httpClient, method, base+rq.path, body, rq.headers)
	} else {
		r, err = doReq(httpClient, method, base+rq.path, nil, rq.headers)
	}
	require.NoError(t, err, "%s %s against %s", method, rq.path, a.Spec.Module)
	return r
}

// compareResponses compares status, headers (minus ignored ones) and body
// of the reference (mod_wsgi) and candidate (gowsgi) responses.
var objectAddress = regexp.MustCompile(` at 0x[0-9a-f]+`)

func compareResponses(t *testing.T, rq diffRequest, refA, candA *Apache, ref, cand Resp) {
	t.Helper()
	assert.Equal(t, ref.Status, cand.Status, "status")
	nr, nc := normalizer(refA), normalizer(candA)
	refBody, candBody := nr.Replace(ref.Body), nc.Replace(cand.Body)
	// Object reprs carry memory addresses, which differ between any two runs.
	refBody, candBody = objectAddress.ReplaceAllString(refBody, "0xADDR"), objectAddress.ReplaceAllString(candBody, "0xADDR")
	bodyNormalized := refBody != ref.Body || candBody != cand.Body
	keys := map[string]bool{}
	for k := range ref.Header {
		keys[k] = true
	}
	for k := range cand.Header {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		if diffIgnoredHeaders[http.CanonicalHeaderKey(k)] {
			continue
		}
		if rq.env && k == "Content-Length" {
			continue // an environ dump's length depends on volatile values
		}
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		rv, cv := ref.Header.Values(k), cand.Header.Values(k)
		if k == "Content-Length" && bodyNormalized {
			// Compared as the length of the normalised body when it was
			// the length of the raw one (roots and ports differ between
			// the servers); any other value is compared as sent, so an
			// error page's Content-Length is always compared.
			rv, cv = normalizedCL(rv, ref.Body, refBody), normalizedCL(cv, cand.Body, candBody)
		}
		assert.Equal(t, rv, cv, "header %s", k)
	}
	if rq.env && ref.Status == 200 && rq.method != "HEAD" {
		compareEnvDumps(t, decodeEnv(t, refBody), decodeEnv(t, candBody))
		return
	}
	assert.Equal(t, refBody, candBody, "body")
}

func compareEnvDumps(t *testing.T, ref, cand EnvDump) {
	t.Helper()
	keys := map[string]bool{}
	for k := range ref.Environ {
		keys[k] = true
	}
	for k := range cand.Environ {
		keys[k] = true
	}
	var missing, extra []string
	for k := range keys {
		_, inRef := ref.Environ[k]
		_, inCand := cand.Environ[k]
		switch {
		case diffOptionalEnv[k]:
		case inRef && !inCand:
			missing = append(missing, k)
		case !inRef && inCand:
			extra = append(extra, k)
		case k == "mod_wsgi.version":
			compareModWsgiVersion(t, ref.Environ[k], cand.Environ[k], "environ[%q]", k)
		case !diffVolatileEnv[k] && !diffAcceptedEnv[k]:
			assert.Equal(t, ref.Environ[k], cand.Environ[k], "environ[%q]", k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	assert.Empty(t, missing, "environ keys present under mod_wsgi but missing under gowsgi")
	assert.Empty(t, extra, "environ keys present under gowsgi but not under mod_wsgi")
	assert.Equal(t, ref.Types, cand.Types, "non-str environ value types")
	for _, k := range diffPyKeys {
		if k == "mod_wsgi" {
			// mod_wsgi 4.9.4 reports a wrong application_group attribute in
			// %{GLOBAL}; the group is compared through the environ instead.
			rm, _ := ref.Py[k].(map[string]any)
			cm, _ := cand.Py[k].(map[string]any)
			if rm != nil && cm != nil {
				compareModWsgiVersion(t, rm["version"], cm["version"], "mod_wsgi.version")
				assert.Equal(t, rm["process_group"], cm["process_group"], "mod_wsgi.process_group")
				continue
			}
		}
		rj, _ := json.Marshal(ref.Py[k])
		cj, _ := json.Marshal(cand.Py[k])
		assert.Equal(t, string(rj), string(cj), "py fact %q", k)
	}
	compareLocaleFacts(t, ref.Py, cand.Py)
}

func TestDifferential_MainServer(t *testing.T) {
	differentialOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		cand := mainServer(t, mpm)
		ref := SharedApache(t, "main", mainSpec(ModModWsgi, mpm))
		for _, rq := range diffRequests {
			rq := rq
			t.Run(rq.name, func(t *testing.T) {
				r := diffDo(t, ref, rq)
				c := diffDo(t, cand, rq)
				compareResponses(t, rq, ref, cand, r, c)
			})
		}
	})
}

func TestDifferential_PythonFlags(t *testing.T) {
	differentialOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		cand := pyflagsServer(t, mpm)
		ref := SharedApache(t, "pyflags", ServerSpec{Module: ModModWsgi, MPM: mpm, Snippet: pyflagsSnippet})
		for _, rq := range []diffRequest{
			{name: "global", path: "/global", env: true},
			{name: "sub", path: "/sub", env: true},
			{name: "pylib", path: "/pylib"},
			{name: "restrict print", path: "/restrict?op=print"},
			{name: "restrict signal", path: "/restrict?op=signal"},
		} {
			rq := rq
			t.Run(rq.name, func(t *testing.T) {
				compareResponses(t, rq, ref, cand, diffDo(t, ref, rq), diffDo(t, cand, rq))
			})
		}
	})
}

// Virtual-host alias inheritance and the finer trusted-proxy rules, each
// compared with mod_wsgi on the same config (event MPM: config behaviour, not
// MPM behaviour).
const vhostProxySnippet = `
WSGIScriptAlias /main-only @APPS@/env.wsgi
<Location /main-only>
    WSGITrustedProxyHeaders X-Forwarded-For X-Script-Name X-Forwarded-Host X-Forwarded-Proto X-Forwarded-Port
    WSGITrustedProxies 127.0.0.1 10.0.0.0/8
</Location>
WSGIScriptAlias /client-ip @APPS@/env.wsgi
<Location /client-ip>
    WSGITrustedProxyHeaders X-Client-IP X-Forwarded-SSL
    WSGITrustedProxies 10.9.9.9
</Location>
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName vhost.example
    WSGIScriptAlias /vhost-only @APPS@/env.wsgi
</VirtualHost>
`

func TestDifferential_VhostAliasesAndProxyRules(t *testing.T) {
	differentialOnly(t)
	spec := func(m Module) ServerSpec {
		return ServerSpec{Module: m, MPM: "event", Snippet: vhostProxySnippet, ExtraPort: true}
	}
	ref := StartApache(t, spec(ModModWsgi))
	cand := StartApache(t, spec(ModGowsgi))
	chain := map[string]string{
		"X-Forwarded-For":         "203.0.113.7, 10.1.2.3, 10.4.5.6",
		"X-Script-Name":           "/mounted",
		"X-Forwarded-Script-Name": "/other",
		"X-Forwarded-Host":        "public.example:8443",
		"X-Host":                  "spoofed.example",
		"X-Forwarded-Proto":       "ftp",
		"X-Forwarded-Port":        "8443",
		"X-Real-IP":               "198.51.100.1",
	}
	for _, rq := range []diffRequest{
		{name: "main alias seen from a vhost", path: "/main-only/x", port2: true, env: true},
		{name: "vhost alias", path: "/vhost-only/y", port2: true, env: true},
		{name: "vhost alias not on main server", path: "/vhost-only/y"},
		{name: "proxy chain with trusted proxies", path: "/main-only/p", headers: chain, env: true},
		{name: "untrusted client, X-Client-IP listed", path: "/client-ip",
			headers: map[string]string{"X-Client-IP": "1.1.1.1", "X-Real-IP": "2.2.2.2", "X-Forwarded-SSL": "on"}, env: true},
	} {
		rq := rq
		t.Run(rq.name, func(t *testing.T) {
			compareResponses(t, rq, ref, cand, diffDo(t, ref, rq), diffDo(t, cand, rq))
		})
	}
}

// startPair starts the reference and the candidate server at once and
// stops both when t ends (with their error logs if t failed).
func startPair(t *testing.T, refSpec, candSpec ServerSpec) (*Apache, *Apache) {
	t.Helper()
	var wg sync.WaitGroup
	servers := make([]*Apache, 2)
	errs := make([]error, 2)
	for i, spec := range []ServerSpec{refSpec, candSpec} {
		wg.Add(1)
		go func(i int, spec ServerSpec) {
			defer wg.Done()
			servers[i], errs[i] = startApache(spec)
		}(i, spec)
	}
	wg.Wait()
	for _, a := range servers {
		if a == nil {
			continue
		}
		a := a
		t.Cleanup(func() {
			if err := a.Stop(); err != nil {
				t.Errorf("stopping %s: %v", a.Spec.Module, err)
			}
			if t.Failed() {
				t.Logf("error log of %s:\n%s", a.Spec.Module, tail(a.ErrorLogContent(), 40))
			}
			a.removeRoot()
		})
	}
	require.NoError(t, errs[0], "starting %s", refSpec.Module)
	require.NoError(t, errs[1], "starting %s", candSpec.Module)
	return servers[0], servers[1]
}

// compareModWsgiVersion compares the mod_wsgi version the two report
// (environ's "(4, 9, 4)", mod_wsgi.version's [4, 9, 4]). gowsgi implements
// mod_wsgi 4.9.4's interface and says so everywhere; Debian 13's reference
// is mod_wsgi 5.0.2, which says 5.0.2: there gowsgi must still say 4.9.4,
// and the reference 5.x.
func compareModWsgiVersion(t *testing.T, ref, cand any, msgAndArgs ...any) {
	t.Helper()
	if !modWsgiIs5() {
		assert.Equal(t, ref, cand, msgAndArgs...)
		return
	}
	rj, _ := json.Marshal(ref)
	cj, _ := json.Marshal(cand)
	if assert.Regexp(t, `^"?[\[(]4, ?9, ?4[\])]"?$`, string(cj), msgAndArgs...) &&
		assert.Regexp(t, `^"?[\[(]5, ?[0-9]+, ?[0-9]+[\])]"?$`, string(rj), msgAndArgs...) {
		t.Logf("KNOWN mod_wsgi %s difference: it reports version %s, gowsgi (mod_wsgi 4.9.4's interface) %s", modWsgiVersion, rj, cj)
	}
}
