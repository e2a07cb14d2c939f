package tests

// The environ mod_wsgi 4.9.4 gives the access, auth and group scripts
// (its "Auth_environ") and the dispatch script.

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// authEnvironKeys is mod_wsgi's Auth_environ for a request with the headers
// Host, Connection, X-Hooks-Dump, X-Custom, Content-Type, Content-Length
// and Authorization (which is left out).
var authEnvironKeys = []string{
	"CONTENT_LENGTH", "CONTENT_TYPE", "DOCUMENT_ROOT",
	"HTTP_CONNECTION", "HTTP_HOST", "HTTP_X_CUSTOM", "HTTP_X_HOOKS_DUMP",
	"PATH_INFO", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_PORT", "REQUEST_METHOD", "REQUEST_URI",
	"SCRIPT_NAME", "SERVER_ADDR", "SERVER_ADMIN", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
	"SERVER_SIGNATURE", "SERVER_SOFTWARE",
	"apache.version", "mod_ssl.is_https", "mod_ssl.var_lookup",
	"mod_wsgi.application_group", "mod_wsgi.process_group", "mod_wsgi.script_reloading", "mod_wsgi.version",
	"wsgi.errors",
}

// dispatchEnvironKeys is mod_wsgi's dispatch environ for GET
// /disp-grp/x?pg=hooksd with the headers Host, Connection, X-Hooks-Dump and
// X-Custom.
var dispatchEnvironKeys = []string{
	"CONTEXT_DOCUMENT_ROOT", "CONTEXT_PREFIX", "DOCUMENT_ROOT", "GATEWAY_INTERFACE",
	"HTTP_CONNECTION", "HTTP_HOST", "HTTP_X_CUSTOM", "HTTP_X_HOOKS_DUMP",
	"PATH", "PATH_INFO", "PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_PORT",
	"REQUEST_METHOD", "REQUEST_SCHEME", "REQUEST_URI", "SCRIPT_FILENAME", "SCRIPT_NAME",
	"SERVER_ADDR", "SERVER_ADMIN", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
	"SERVER_SIGNATURE", "SERVER_SOFTWARE",
	"mod_wsgi.application_group", "mod_wsgi.enable_sendfile", "mod_wsgi.handler_script",
	"mod_wsgi.ignore_activity", "mod_wsgi.listener_host", "mod_wsgi.listener_port",
	"mod_wsgi.path_info", "mod_wsgi.process_group", "mod_wsgi.request_handler",
	"mod_wsgi.request_id", "mod_wsgi.request_start", "mod_wsgi.script_name",
	"mod_wsgi.script_reloading", "wsgi.errors",
}

func authEnvHeaders(name string, extra ...string) []string {
	return append([]string{"X-Hooks-Dump: " + name, "X-Custom: c\xe9", "Content-Type: text/x-hooks", "Content-Length: 0"}, extra...)
}

func hookEnvKeys(m map[string][2]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// checkAuthEnviron asserts the key set, the types and the values that do
// not depend on the request path.
func checkAuthEnviron(t *testing.T, a *Apache, d hooksDumpData, name string) map[string][2]any {
	t.Helper()
	e := d.Env()
	assert.Equal(t, authEnvironKeys, hookEnvKeys(e), "%s environ keys", d.Kind)
	str := func(k, v string) { t.Helper(); assert.Equal(t, [2]any{"str", v}, e[k], "%s[%s]", d.Kind, k) }
	str("CONTENT_LENGTH", "0")
	str("CONTENT_TYPE", "text/x-hooks")
	str("DOCUMENT_ROOT", a.Root+"/htdocs")
	str("HTTP_CONNECTION", "close")
	str("HTTP_HOST", "localhost")
	str("HTTP_X_CUSTOM", "c\u00e9") // latin-1 decoded
	str("HTTP_X_HOOKS_DUMP", name)
	str("REMOTE_ADDR", "127.0.0.1")
	str("REQUEST_METHOD", "GET")
	str("SERVER_ADDR", "127.0.0.1")
	str("SERVER_ADMIN", "webmaster@localhost")
	str("SERVER_NAME", "localhost")
	str("SERVER_PORT", "80") // from the Host header (no port given), UseCanonicalName Off
	str("SERVER_PROTOCOL", "HTTP/1.1")
	str("SERVER_SIGNATURE", "")
	str("mod_wsgi.process_group", "")
	assert.Equal(t, "str", e["REMOTE_PORT"][0])
	assert.Equal(t, "str", e["SERVER_SOFTWARE"][0])
	assert.True(t, strings.HasPrefix(e["SERVER_SOFTWARE"][1].(string), "Apache"), "SERVER_SOFTWARE %v", e["SERVER_SOFTWARE"])
	assert.Equal(t, [2]any{"tuple", []any{4.0, 9.0, 4.0}}, e["mod_wsgi.version"])
	assert.Equal(t, "tuple", e["apache.version"][0])
	assert.Equal(t, [2]any{"int", 1.0}, e["mod_wsgi.script_reloading"])
	assert.Equal(t, "TextIOWrapper", e["wsgi.errors"][0])
	assert.Equal(t, "builtin_function_or_method", e["mod_ssl.is_https"][0])
	assert.Equal(t, "builtin_function_or_method", e["mod_ssl.var_lookup"][0])
	return e
}

func TestHooks_AuthEnviron(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := hooksServer(t, mpm)

		n := dumpName()
		r := hooksGet(t, a, "/basic/x/y?q=1", authEnvHeaders(n, authz("alice", "secret"))...)
		assert.Equal(t, 200, r.Status)
		d := readHooksDump(t, a, n, "check_password")
		e := checkAuthEnviron(t, a, d, n)
		assert.Equal(t, [2]any{"str", "/basic"}, e["SCRIPT_NAME"])
		assert.Equal(t, [2]any{"str", "/x/y"}, e["PATH_INFO"])
		assert.Equal(t, [2]any{"str", "q=1"}, e["QUERY_STRING"])
		assert.Equal(t, [2]any{"str", "/basic/x/y?q=1"}, e["REQUEST_URI"])
		assert.Equal(t, [2]any{"str", ""}, e["mod_wsgi.application_group"])
		assert.Equal(t, "0", *d.IsHTTPS)
		assert.Equal(t, "None", *d.VarLookupHTTPS)
		// wsgi.errors writes reach the error log, tagged with the request
		WaitClientLog(t, a, r.Port, "hooks wsgi.errors "+n+" check_password")

		n = dumpName()
		r = hooksGet(t, a, "/group", authEnvHeaders(n, authz("alice", "secret"))...)
		assert.Equal(t, 200, r.Status)
		e = checkAuthEnviron(t, a, readHooksDump(t, a, n, "groups_for_user"), n)
		assert.Equal(t, [2]any{"str", "/group"}, e["SCRIPT_NAME"])
		assert.Equal(t, [2]any{"str", ""}, e["PATH_INFO"])

		n = dumpName()
		r = hooksGet(t, a, "/acc-grp/p?allow=1", authEnvHeaders(n)...)
		assert.Equal(t, 200, r.Status)
		e = checkAuthEnviron(t, a, readHooksDump(t, a, n, "allow_access"), n)
		assert.Equal(t, [2]any{"str", "accgroup"}, e["mod_wsgi.application_group"])
		assert.Equal(t, [2]any{"str", "/acc-grp/p?allow=1"}, e["REQUEST_URI"])

		n = dumpName()
		r = digestGet(t, a, "/digest", "alice", "secret", authEnvHeaders(n)...)
		assert.Equal(t, 200, r.Status)
		checkAuthEnviron(t, a, readHooksDump(t, a, n, "get_realm_hash"), n)
	})
}

// The dispatch script sees the request's CGI environ (subprocess_env),
// with mod_wsgi.process_group "", its own application group and no
// mod_wsgi.callable_object, plus the mod_wsgi and wsgi extras.
func TestHooks_DispatchEnviron(t *testing.T) {
	a := hooksServer(t, "event")
	n := dumpName()
	r := hooksGet(t, a, "/disp-grp/x?pg=hooksd", "X-Hooks-Dump: "+n, "X-Custom: v")
	require.Equal(t, 200, r.Status)
	appEnv := envBody(t, r)
	d := readHooksDump(t, a, n, "process_group")
	e := d.Env()
	for _, k := range []string{"SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REQUEST_URI", "HTTP_X_CUSTOM", "HTTP_X_HOOKS_DUMP",
		"SCRIPT_FILENAME", "DOCUMENT_ROOT", "GATEWAY_INTERFACE", "SERVER_PORT", "REMOTE_ADDR", "mod_wsgi.script_reloading"} {
		assert.Equal(t, [2]any{"str", appEnv[k]}, e[k], "dispatch environ[%s] as the application's", k)
	}
	assert.Equal(t, [2]any{"str", "dispgroup"}, e["mod_wsgi.application_group"])
	assert.Equal(t, [2]any{"str", ""}, e["mod_wsgi.process_group"])
	_, ok := e["mod_wsgi.callable_object"]
	assert.False(t, ok)
	// exactly these keys (no wsgi.* but wsgi.errors, no mod_ssl.*, no
	// version tuples, no mod_wsgi.callable_object)
	assert.Equal(t, dispatchEnvironKeys, hookEnvKeys(e))
	assert.Equal(t, "TextIOWrapper", e["wsgi.errors"][0])
}
