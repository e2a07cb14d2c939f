package tests

// WSGIHandlerScript, WSGIDispatchScript, WSGIAccessScript,
// WSGIAuthUserScript (Basic, Digest) and WSGIAuthGroupScript, as mod_wsgi
// 4.9.4 does them (server config in hooks_server_test.go, scripts in
// apps/hooks/). Every case passes against Debian's mod_wsgi.

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hooksResp is one response on its own connection, with the client port
// that tags the request's error-log lines.
type hooksResp struct {
	Status int
	Header http.Header
	Body   string
	Port   int
}

// hooksGet sends one GET on a fresh connection with the given extra header
// lines ("Name: value").
func hooksGet(t testing.TB, a *Apache, path string, headers ...string) hooksResp {
	t.Helper()
	raw := "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
	for _, h := range headers {
		raw += h + "\r\n"
	}
	raw += "\r\n"
	r, lport, err := RawRequestLocal(t, a.Addr(), raw)
	require.NoError(t, err, "GET %s on %s/%s", path, a.Spec.Module, a.Spec.MPM)
	return hooksResp{Status: r.Res.StatusCode, Header: r.Res.Header, Body: r.Body, Port: lport}
}

func authz(user, pass string) string { return "Authorization: " + basicAuth(user, pass) }

// logPrefix normalises the module's own prefix: "mod_wsgi (pid=N):",
// "mod_wsgi (pid=N, process=”, application=”):" and gowsgi's equivalents
// all become "MOD:" (gowsgi's message id, GWnnnn, with it).
var logPrefix = regexp.MustCompile(`(?:GW\d{4}: )?(mod_wsgi|gowsgi) \(pid=\d+(, process='[^']*', application='[^']*')?\):`)

// hooksLog waits until the request's log lines contain every needle (after
// normalising the module prefix and replacing the apps directory by
// @APPS@) and returns those lines.
func hooksLog(t testing.TB, a *Apache, r hooksResp, needles ...string) string {
	t.Helper()
	var lines string
	for _, n := range needles {
		lines = WaitClientLog(t, a, r.Port, lastWord(strings.ReplaceAll(n, "@APPS@", appsDir())))
		norm := strings.ReplaceAll(logPrefix.ReplaceAllString(lines, "MOD:"), appsDir(), "@APPS@")
		if !strings.Contains(norm, n) {
			t.Errorf("log lines of the request (client port %d) lack %q:\n%s", r.Port, n, norm)
		}
	}
	return strings.ReplaceAll(logPrefix.ReplaceAllString(lines, "MOD:"), appsDir(), "@APPS@")
}

// lastWord is a needle's last few characters, used to wait for the line
// before comparing the normalised text.
func lastWord(n string) string {
	if len(n) > 12 {
		return n[len(n)-12:]
	}
	return n
}

// noModuleErrors asserts the request logged no error line of the module.
func noModuleErrors(t testing.TB, a *Apache, r hooksResp) {
	t.Helper()
	lines := ClientLogLines(a, r.Port)
	for _, l := range strings.Split(lines, "\n") {
		if strings.Contains(l, errorTag(a)) && !strings.Contains(l, "hooks wsgi.errors") {
			t.Errorf("unexpected module error line: %s", l)
		}
	}
}

func jsonBody(t testing.TB, r hooksResp) map[string]any {
	t.Helper()
	require.Equal(t, 200, r.Status, "body: %s", truncate(r.Body, 400))
	return DecodeJSON(t, r.Body)
}

func envBody(t testing.TB, r hooksResp) map[string]any {
	t.Helper()
	require.Equal(t, 200, r.Status, "body: %s", truncate(r.Body, 400))
	return decodeEnv(t, r.Body).Environ
}

// ---- WSGIHandlerScript ------------------------------------------------------

func TestHooks_HandlerScript(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := hooksHandlerServer(t, mpm)
		script := appsDir() + "/hooks/handler.py"

		r := jsonBody(t, hooksGet(t, a, "/hs-emb/x/y?q=1"))
		assert.Equal(t, "hs-emb", r["mod_wsgi.request_handler"])
		assert.Equal(t, script, r["mod_wsgi.handler_script"])
		assert.Equal(t, "", r["mod_wsgi.process_group"])
		assert.Equal(t, "", r["module_process_group"])
		assert.Equal(t, "localhost|/hs-emb", stripPort(r["mod_wsgi.application_group"]))
		// no such file below DocumentRoot: Apache splits at the first missing component
		assert.Equal(t, "/hs-emb", r["SCRIPT_NAME"])
		assert.Equal(t, "/x/y", r["PATH_INFO"])
		assert.Equal(t, "/hs-emb/x/y?q=1", r["REQUEST_URI"])
		assert.Nil(t, r["HTTP_AUTHORIZATION"])
		assert.Equal(t, "_mod_wsgi_", r["module_name"].(string)[:10])

		// process-group= runs it in the daemon; application-group= applies
		d := jsonBody(t, hooksGet(t, a, "/hs-daemon/z"))
		assert.Equal(t, "hs-daemon", d["mod_wsgi.request_handler"])
		assert.Equal(t, script, d["mod_wsgi.handler_script"])
		assert.Equal(t, "hooksd", d["mod_wsgi.process_group"])
		assert.Equal(t, "hooksd", d["module_process_group"])
		assert.Equal(t, "", d["mod_wsgi.application_group"])
		assert.NotEqual(t, r["pid"], d["pid"])

		// AddHandler by extension: the target file need not exist
		x := jsonBody(t, hooksGet(t, a, "/hs-add/missing.hx/pi"))
		assert.Equal(t, "hs-emb", x["mod_wsgi.request_handler"])
		assert.Equal(t, "/hs-add/missing.hx", x["SCRIPT_NAME"])
		assert.Equal(t, "/pi", x["PATH_INFO"])
		assert.Equal(t, a.Root+"/htdocs/hsadd/missing.hx", x["SCRIPT_FILENAME"])

		// pass-authorization=On passes the header, the default does not
		p := jsonBody(t, hooksGet(t, a, "/hs-pass", authz("u", "p")))
		assert.Equal(t, basicAuth("u", "p"), p["HTTP_AUTHORIZATION"])
		q := jsonBody(t, hooksGet(t, a, "/hs-emb", authz("u", "p")))
		assert.Nil(t, q["HTTP_AUTHORIZATION"])
	})
}

var portInGroup = regexp.MustCompile(`:\d+\|`)

func stripPort(v any) string {
	s, _ := v.(string)
	return portInGroup.ReplaceAllString(s, "|")
}

// ---- WSGIDispatchScript -----------------------------------------------------

func TestHooks_DispatchScript(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := hooksServer(t, mpm)

		// no override: the alias's own routing
		e := envBody(t, hooksGet(t, a, "/disp"))
		assert.Equal(t, "", e["mod_wsgi.process_group"])
		assert.Equal(t, "localhost|/disp", stripPort(e["mod_wsgi.application_group"]))
		assert.Equal(t, "application", e["mod_wsgi.callable_object"])

		e = envBody(t, hooksGet(t, a, "/disp?pg=hooksd"))
		assert.Equal(t, "hooksd", e["mod_wsgi.process_group"])

		e = envBody(t, hooksGet(t, a, "/disp?ag=dispatched"))
		assert.Equal(t, "dispatched", e["mod_wsgi.application_group"])
		assert.Equal(t, "", e["mod_wsgi.process_group"])

		e = envBody(t, hooksGet(t, a, "/disp?ag=%25%7BGLOBAL%7D"))
		assert.Equal(t, "", e["mod_wsgi.application_group"], "%{GLOBAL} returned by application_group() is expanded")

		e = envBody(t, hooksGet(t, a, "/disp?pg=hooksd&ag=both"))
		assert.Equal(t, "hooksd", e["mod_wsgi.process_group"])
		assert.Equal(t, "both", e["mod_wsgi.application_group"])

		c := hooksGet(t, a, "/disp?co=other")
		assert.Equal(t, 200, c.Status)
		assert.Equal(t, "callable=other", c.Body)

		// the dispatch script runs embedded, in its own application group
		n := dumpName()
		e = envBody(t, hooksGet(t, a, "/disp-grp?pg=hooksd", "X-Hooks-Dump: "+n))
		assert.Equal(t, "hooksd", e["mod_wsgi.process_group"])
		dd := readHooksDump(t, a, n, "process_group")
		de := dd.Env()
		assert.Equal(t, [2]any{"str", "dispgroup"}, de["mod_wsgi.application_group"])
		assert.Equal(t, [2]any{"str", ""}, de["mod_wsgi.process_group"])
		_, hasCallable := de["mod_wsgi.callable_object"]
		assert.False(t, hasCallable, "the dispatch environ has no mod_wsgi.callable_object")
		assert.Contains(t, a.ChildPids(), dd.Pid, "dispatch runs in an Apache child")
		assert.NotEqual(t, e["pid"], dd.Pid)

		// an unknown daemon group chosen by the script
		r := hooksGet(t, a, "/disp?pg=nosuch")
		assert.Equal(t, 500, r.Status)
		hooksLog(t, a, r, "No WSGI daemon process called 'nosuch' has been configured: @APPS@/env.wsgi")
	})
}

func TestHooks_DispatchScriptErrors(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := hooksServer(t, mpm)
		script := "'@APPS@/hooks/dispatch.py'"
		for _, c := range []struct{ q, msg string }{
			{"process_group-raise", "RuntimeError: process_group raised"},
			{"process_group-int", "TypeError: Process group must be a byte string"},
			{"process_group-nonlatin", "TypeError: Process group must be a byte string, value containing non 'latin-1' characters found"},
			{"application_group-raise", "RuntimeError: application_group raised"},
			{"application_group-int", "TypeError: Application group must be a string object"},
			{"application_group-nonlatin", "TypeError: Application group must be a byte string, value containing non 'latin-1' characters found"},
			{"callable_object-raise", "RuntimeError: callable_object raised"},
			{"callable_object-int", "TypeError: Callable object must be a string object"},
			{"callable_object-nonlatin", "TypeError: Callable object must be a byte string, value containing non 'latin-1' characters found"},
		} {
			r := hooksGet(t, a, "/disp?err="+c.q)
			assert.Equal(t, 500, r.Status, c.q)
			hooksLog(t, a, r, "MOD: Exception occurred processing WSGI script "+script+".", c.msg)
		}

		// a dispatch script that cannot be loaded is logged and ignored:
		// the application runs with its own routing
		for _, c := range []struct {
			path  string
			lines []string
		}{
			{"/disp-missing", []string{"MOD: Could not read/compile source file '@APPS@/hooks/broken/does-not-exist.py'.",
				"MOD: Exception occurred processing WSGI script '@APPS@/hooks/broken/does-not-exist.py'.",
				"FileNotFoundError: [Errno 2] No such file or directory: '@APPS@/hooks/broken/does-not-exist.py'"}},
			{"/disp-syntax", []string{"MOD: Could not read/compile source file '@APPS@/hooks/broken/syntax.py'.",
				"MOD: Exception occurred processing WSGI script '@APPS@/hooks/broken/syntax.py'.",
				"SyntaxError: expected ':'"}},
		} {
			r := hooksGet(t, a, c.path)
			e := envBody(t, r)
			assert.Equal(t, "localhost|"+c.path, stripPort(e["mod_wsgi.application_group"]))
			hooksLog(t, a, r, c.lines...)
		}
		// no functions: nothing overridden, nothing logged
		r := hooksGet(t, a, "/disp-nofunc")
		e := envBody(t, r)
		assert.Equal(t, "localhost|/disp-nofunc", stripPort(e["mod_wsgi.application_group"]))
		noModuleErrors(t, a, r)
	})
}

// ---- WSGIAccessScript -------------------------------------------------------

func TestHooks_AccessScript(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := hooksServer(t, mpm)

		n := dumpName()
		r := hooksGet(t, a, "/acc?allow=1", "X-Hooks-Dump: "+n)
		assert.Equal(t, 200, r.Status)
		d := readHooksDump(t, a, n, "allow_access")
		require.NotNil(t, d.Host)
		assert.Equal(t, "127.0.0.1", *d.Host)
		assert.Equal(t, [2]any{"str", ""}, d.Env()["mod_wsgi.application_group"])
		noModuleErrors(t, a, r)

		r = hooksGet(t, a, "/acc?allow=0")
		assert.Equal(t, 403, r.Status)
		hooksLog(t, a, r, "MOD: Client denied by server configuration: '@APPS@/env.wsgi'.")

		r = hooksGet(t, a, "/acc?allow=none")
		assert.Equal(t, 200, r.Status, "None declines: the other rules (Require all granted) allow")

		// None or True do not override mod_access_compat's Deny
		for _, q := range []string{"allow=1", "allow=none"} {
			r = hooksGet(t, a, "/acc-compat-deny?"+q)
			assert.Equal(t, 403, r.Status, q)
			WaitClientLog(t, a, r.Port, "AH01797")
		}

		// Satisfy Any: the script's True lets anonymous clients in, False
		// falls back to authentication (and logs no denial)
		r = hooksGet(t, a, "/acc-any?allow=1")
		assert.Equal(t, 200, r.Status)
		r = hooksGet(t, a, "/acc-any?allow=none")
		assert.Equal(t, 200, r.Status)
		r = hooksGet(t, a, "/acc-any?allow=0")
		assert.Equal(t, 401, r.Status)
		assert.Equal(t, `Basic realm="hooks"`, r.Header.Get("WWW-Authenticate"))
		assert.NotContains(t, ClientLogLines(a, r.Port), "Client denied")
		e := envBody(t, hooksGet(t, a, "/acc-any?allow=0", authz("alice", "secret")))
		assert.Equal(t, "alice", e["REMOTE_USER"])
		r = hooksGet(t, a, "/acc-any?allow=0", authz("alice", "bad"))
		assert.Equal(t, 401, r.Status)

		// application-group=
		n = dumpName()
		r = hooksGet(t, a, "/acc-grp?allow=1", "X-Hooks-Dump: "+n)
		assert.Equal(t, 200, r.Status)
		assert.Equal(t, [2]any{"str", "accgroup"}, readHooksDump(t, a, n, "allow_access").Env()["mod_wsgi.application_group"])
	})
}

func TestHooks_AccessScriptErrors(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := hooksServer(t, mpm)
		denied := "MOD: Client denied by server configuration: '@APPS@/env.wsgi'."
		for _, c := range []struct {
			path  string
			lines []string
		}{
			{"/acc?allow=raise", []string{"MOD: Exception occurred processing WSGI script '@APPS@/hooks/access.py'.",
				"RuntimeError: allow_access raised", denied}},
			{"/acc?allow=int", []string{"MOD: Indicator of host accessibility returned from '@APPS@/hooks/access.py' must a boolean or None.", denied}},
			{"/acc?allow=str", []string{"MOD: Indicator of host accessibility returned from '@APPS@/hooks/access.py' must a boolean or None.", denied}},
			{"/acc-missing", []string{"MOD: Could not read/compile source file '@APPS@/hooks/broken/does-not-exist.py'.",
				"FileNotFoundError: [Errno 2] No such file or directory: '@APPS@/hooks/broken/does-not-exist.py'", denied}},
			{"/acc-syntax", []string{"MOD: Could not read/compile source file '@APPS@/hooks/broken/syntax.py'.",
				"SyntaxError: expected ':'", denied}},
			{"/acc-raises", []string{"MOD: Failed to exec Python script file '@APPS@/hooks/broken/raises.py'.",
				"MOD: Exception occurred processing WSGI script '@APPS@/hooks/broken/raises.py'.",
				"ImportError: hooks broken script raised at import", denied}},
			{"/acc-nofunc", []string{"MOD: Target WSGI host access script '@APPS@/hooks/broken/nofunc.py' does not provide host validator.", denied}},
		} {
			r := hooksGet(t, a, c.path)
			assert.Equal(t, 403, r.Status, c.path)
			hooksLog(t, a, r, c.lines...)
		}
	})
}

// ---- WSGIAuthUserScript, Basic ---------------------------------------------

func TestHooks_AuthBasic(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := hooksServer(t, mpm)

		r := hooksGet(t, a, "/basic")
		assert.Equal(t, 401, r.Status)
		assert.Equal(t, `Basic realm="hooks"`, r.Header.Get("WWW-Authenticate"))

		n := dumpName()
		r = hooksGet(t, a, "/basic/pi?x=1", authz("alice", "secret"), "X-Hooks-Dump: "+n)
		e := envBody(t, r)
		assert.Equal(t, "alice", e["REMOTE_USER"])
		assert.Equal(t, "Basic", e["AUTH_TYPE"])
		d := readHooksDump(t, a, n, "check_password")
		assert.Equal(t, "alice", *d.User)
		assert.Equal(t, "secret", *d.Password)
		assert.Equal(t, [2]any{"str", ""}, d.Env()["mod_wsgi.application_group"], "default: the main interpreter")
		noModuleErrors(t, a, r)

		// False: password mismatch (mod_auth_basic logs it); None: no such user
		r = hooksGet(t, a, "/basic", authz("alice", "bad"))
		assert.Equal(t, 401, r.Status)
		hooksLog(t, a, r, `AH01617: user alice: authentication failure for "/basic": Password Mismatch`)
		r = hooksGet(t, a, "/basic", authz("nobody", "x"))
		assert.Equal(t, 401, r.Status)
		hooksLog(t, a, r, `AH01618: user nobody not found: /basic`)

		// a str result is the user name (REMOTE_USER; UTF-8 bytes, seen
		// by the app as latin-1)
		assert.Equal(t, "renamed", envBody(t, hooksGet(t, a, "/basic", authz("rename", "pw")))["REMOTE_USER"])
		assert.Equal(t, "r\u00c3\u00a9named", envBody(t, hooksGet(t, a, "/basic", authz("rename8", "pw")))["REMOTE_USER"])

		// UTF-8 credentials reach the script as str
		n = dumpName()
		e = envBody(t, hooksGet(t, a, "/basic", authz("j\u00f6rg", "p\u00e4ss"), "X-Hooks-Dump: "+n))
		assert.Equal(t, "j\u00c3\u00b6rg", e["REMOTE_USER"])
		d = readHooksDump(t, a, n, "check_password")
		assert.Equal(t, "j\u00f6rg", *d.User)
		assert.Equal(t, "p\u00e4ss", *d.Password)

		// long credentials (within LimitRequestFieldSize)
		long := "long" + strings.Repeat("l", 2996)
		assert.Equal(t, long, envBody(t, hooksGet(t, a, "/basic", authz(long, strings.Repeat("p", 2500))))["REMOTE_USER"])
		r = hooksGet(t, a, "/basic", authz(long, strings.Repeat("p", 2499)))
		assert.Equal(t, 401, r.Status)

		// malformed Basic credentials never reach a module error
		for _, h := range []string{"Authorization: Basic !!!notbase64", "Authorization: Basic " + b64("nocolon")} {
			r = hooksGet(t, a, "/basic", h)
			assert.Equal(t, 401, r.Status, h)
		}

		// application-group=
		n = dumpName()
		assert.Equal(t, 200, hooksGet(t, a, "/basic-grp", authz("alice", "secret"), "X-Hooks-Dump: "+n).Status)
		assert.Equal(t, [2]any{"str", "authgroup"}, readHooksDump(t, a, n, "check_password").Env()["mod_wsgi.application_group"])

		// AuthBasicProvider file wsgi: the file decides first; a mismatch
		// there is final, an unknown user goes on to the script
		assert.Equal(t, "filer", envBody(t, hooksGet(t, a, "/basic-file", authz("filer", "filepw")))["REMOTE_USER"])
		r = hooksGet(t, a, "/basic-file", authz("filer", "wsgipw"))
		assert.Equal(t, 401, r.Status)
		assert.Equal(t, "alice", envBody(t, hooksGet(t, a, "/basic-file", authz("alice", "secret")))["REMOTE_USER"])
	})
}

func TestHooks_AuthBasicErrors(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := hooksServer(t, mpm)
		typeErr := "TypeError: Basic auth provider must return True, False None or user name as string"
		exc := "MOD: Exception occurred processing WSGI script '@APPS@/hooks/auth.py'."
		for _, c := range []struct {
			path, user string
			lines      []string
		}{
			{"/basic", "raise", []string{exc, "RuntimeError: check_password raised for raise"}},
			{"/basic", "int", []string{exc, typeErr}},
			{"/basic", "bytes", []string{exc, typeErr}},
			{"/basic", "obj", []string{exc, typeErr}},
			{"/basic-missing", "alice", []string{"MOD: Could not read/compile source file '@APPS@/hooks/broken/does-not-exist.py'.",
				"MOD: Exception occurred processing WSGI script '@APPS@/hooks/broken/does-not-exist.py'.",
				"FileNotFoundError: [Errno 2] No such file or directory: '@APPS@/hooks/broken/does-not-exist.py'"}},
			{"/basic-syntax", "alice", []string{"MOD: Could not read/compile source file '@APPS@/hooks/broken/syntax.py'.",
				"MOD: Exception occurred processing WSGI script '@APPS@/hooks/broken/syntax.py'.", "SyntaxError: expected ':'"}},
			{"/basic-raises", "alice", []string{"MOD: Failed to exec Python script file '@APPS@/hooks/broken/raises.py'.",
				"MOD: Exception occurred processing WSGI script '@APPS@/hooks/broken/raises.py'.",
				"ImportError: hooks broken script raised at import"}},
			{"/basic-nofunc", "alice", []string{"MOD: Target WSGI user authentication script '@APPS@/hooks/broken/nofunc.py' does not provide 'Basic' auth provider."}},
		} {
			r := hooksGet(t, a, c.path, authz(c.user, "secret"))
			assert.Equal(t, 500, r.Status, "%s %s", c.path, c.user)
			hooksLog(t, a, r, c.lines...)
		}
	})
}

// ---- WSGIAuthUserScript, Digest --------------------------------------------

var digestParam = regexp.MustCompile(`(\w+)="?([^",]*)"?`)

// digestGet does the Digest challenge/response for path and returns the
// authenticated response.
func digestGet(t testing.TB, a *Apache, path, user, pass string, extra ...string) hooksResp {
	t.Helper()
	ch := hooksGet(t, a, path)
	require.Equal(t, 401, ch.Status, "challenge for %s", path)
	www := ch.Header.Get("WWW-Authenticate")
	require.True(t, strings.HasPrefix(www, "Digest "), "challenge: %q", www)
	p := map[string]string{}
	for _, m := range digestParam.FindAllStringSubmatch(www[len("Digest "):], -1) {
		p[m[1]] = m[2]
	}
	cnonce, nc := "0a4f113b", "00000001"
	ha1 := md5hex(user + ":" + p["realm"] + ":" + pass)
	ha2 := md5hex("GET:" + path)
	resp := md5hex(strings.Join([]string{ha1, p["nonce"], nc, cnonce, "auth", ha2}, ":"))
	h := fmt.Sprintf(`Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5, response="%s", qop=auth, nc=%s, cnonce="%s"`,
		user, p["realm"], p["nonce"], path, resp, nc, cnonce)
	return hooksGet(t, a, path, append([]string{h}, extra...)...)
}

func TestHooks_AuthDigest(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := hooksServer(t, mpm)

		n := dumpName()
		r := digestGet(t, a, "/digest", "alice", "secret", "X-Hooks-Dump: "+n)
		e := envBody(t, r)
		assert.Equal(t, "alice", e["REMOTE_USER"])
		assert.Equal(t, "Digest", e["AUTH_TYPE"])
		d := readHooksDump(t, a, n, "get_realm_hash")
		assert.Equal(t, "alice", *d.User)
		assert.Equal(t, "hooks-realm", *d.Realm)
		noModuleErrors(t, a, r)

		r = digestGet(t, a, "/digest", "alice", "wrong")
		assert.Equal(t, 401, r.Status)
		r = digestGet(t, a, "/digest", "nobody", "x")
		assert.Equal(t, 401, r.Status)
		// a bytes hash is accepted too
		assert.Equal(t, "bytes", envBody(t, digestGet(t, a, "/digest", "bytes", "bytespw"))["REMOTE_USER"])

		exc := "MOD: Exception occurred processing WSGI script '@APPS@/hooks/auth.py'."
		for _, c := range []struct {
			path, user string
			lines      []string
		}{
			{"/digest", "raise", []string{exc, "RuntimeError: get_realm_hash raised for raise"}},
			{"/digest", "int", []string{exc, "TypeError: Digest auth provider must return None or string object"}},
			{"/digest", "nonlatin", []string{exc, "TypeError: Digest auth provider must return None or string object, value containing non 'latin-1' characters found"}},
			{"/digest-nofunc", "alice", []string{"MOD: Target WSGI user authentication script '@APPS@/hooks/broken/nofunc.py' does not provide 'Digest' auth provider."}},
		} {
			r := digestGet(t, a, c.path, c.user, "x")
			assert.Equal(t, 500, r.Status, "%s %s", c.path, c.user)
			hooksLog(t, a, r, c.lines...)
		}
	})
}

// ---- WSGIAuthGroupScript ----------------------------------------------------

func TestHooks_AuthGroup(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := hooksServer(t, mpm)

		n := dumpName()
		r := hooksGet(t, a, "/group", authz("alice", "secret"), "X-Hooks-Dump: "+n)
		assert.Equal(t, "alice", envBody(t, r)["REMOTE_USER"])
		assert.Equal(t, "alice", *readHooksDump(t, a, n, "groups_for_user").User)
		noModuleErrors(t, a, r)
		// any listed group; tuples, generators and bytes items work
		for _, u := range []string{"erin", "gbytes", "ggen"} {
			pw := map[string]string{"erin": "erinpw"}[u]
			if pw == "" {
				pw = "x"
			}
			assert.Equal(t, 200, hooksGet(t, a, "/group", authz(u, pw)).Status, u)
		}

		// denials are 401 (a user is known) with mod_wsgi's reason
		notMember := func(user, path, why string) {
			t.Helper()
			pw := map[string]string{"dave": "davepw", "frank": "frankpw"}[user]
			if pw == "" {
				pw = "x"
			}
			r := hooksGet(t, a, path, authz(user, pw))
			assert.Equal(t, 401, r.Status, "%s %s", path, user)
			assert.Equal(t, `Basic realm="hooks"`, r.Header.Get("WWW-Authenticate"))
			hooksLog(t, a, r, fmt.Sprintf("MOD: Authorization of user '%s' to access '%s' failed. %s.", user, path, why),
				fmt.Sprintf(`AH01631: user %s: authorization failure for "%s"`, user, path))
		}
		notMember("dave", "/group", "User is not a member of designated groups")
		notMember("frank", "/group", "User is not a member of any groups")
		// a str is iterated character by character
		notMember("gstr", "/group", "User is not a member of designated groups")
		// WSGIGroupAuthoritative Off changes nothing with Apache 2.4's authz providers
		notMember("dave", "/group-nonauth", "User is not a member of designated groups")

		// <RequireAny>: Require user or the group
		assert.Equal(t, "carol", envBody(t, hooksGet(t, a, "/group-any", authz("carol", "carolpw")))["REMOTE_USER"])
		assert.Equal(t, "alice", envBody(t, hooksGet(t, a, "/group-any", authz("alice", "secret")))["REMOTE_USER"])
		notMember("dave", "/group-any", "User is not a member of designated groups")

		// Require wsgi-group without credentials: asks for them, no script run
		r = hooksGet(t, a, "/group")
		assert.Equal(t, 401, r.Status)
		noModuleErrors(t, a, r)
	})
}

func TestHooks_AuthGroupErrors(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := hooksServer(t, mpm)
		script := "@APPS@/hooks/groups.py"
		iterable := "MOD: Groups for user returned from '" + script + "' must be an iterable sequence of byte strings."
		exc := "MOD: Exception occurred processing WSGI script '" + script + "'."
		for _, c := range []struct {
			path, user string
			lines      []string
		}{
			{"/group", "gnone", []string{iterable, exc, "TypeError: 'NoneType' object is not iterable"}},
			{"/group", "gint", []string{iterable, exc, "TypeError: 'int' object is not iterable"}},
			{"/group", "gitemint", []string{iterable}},
			{"/group", "gnonlatin", []string{"MOD: Groups for user returned from '" + script + "' must be an iterable sequence of byte strings, value containing non 'latin-1' characters found",
				exc, `UnicodeEncodeError: 'latin-1' codec can't encode character '\\u0100' in position 0: ordinal not in range(256)`}},
			{"/group", "graise", []string{exc, "RuntimeError: groups_for_user raised for graise"}},
			{"/group-missing", "alice", []string{"MOD: Could not read/compile source file '@APPS@/hooks/broken/does-not-exist.py'.",
				"FileNotFoundError: [Errno 2] No such file or directory: '@APPS@/hooks/broken/does-not-exist.py'"}},
			{"/group-nofunc", "alice", []string{"MOD: Target WSGI group authentication script '@APPS@/hooks/broken/nofunc.py' does not provide group provider."}},
		} {
			pw := "x"
			if c.user == "alice" {
				pw = "secret"
			}
			r := hooksGet(t, a, c.path, authz(c.user, pw))
			assert.Equal(t, 401, r.Status, "%s %s", c.path, c.user)
			hooksLog(t, a, r, append(c.lines, fmt.Sprintf(`AH01631: user %s: authorization failure for "%s"`, c.user, c.path))...)
		}

		// Require wsgi-group with no WSGIAuthGroupScript: a server-level line
		before := strings.Count(a.ErrorLogContent(), "Location of WSGI group authorization script not provided.")
		r := hooksGet(t, a, "/group-noscript", authz("alice", "secret"))
		assert.Equal(t, 401, r.Status)
		WaitClientLog(t, a, r.Port, "AH01631")
		assert.Equal(t, before+1, strings.Count(a.ErrorLogContent(), "Location of WSGI group authorization script not provided."))
	})
}
