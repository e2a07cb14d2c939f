package tests

// PATH_TRANSLATED of an app mounted at "/": Apache's ap_add_cgi_vars finds
// it with a sub-request for PATH_INFO, which for such an app retraces the
// request itself; gowsgi answers from the request instead (cgi_vars.c) for
// a GET with no query string, unless the configuration could map the
// sub-request differently. Compared with mod_wsgi, embedded and daemon.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mod_log_debug logs the fixups of every request and sub-request, which
// shows whether the sub-request ran.
const pathTranslatedSnippet = `
LoadModule log_debug_module /usr/lib/apache2/modules/mod_log_debug.so
LogMessage "fixups for %{REQUEST_URI} " hook=fixups
WSGISocketPrefix @ROOT@/run/wsgi
WSGIDaemonProcess rootd processes=1 threads=2
WSGIScriptAlias /sub @APPS@/env.wsgi
WSGIScriptAlias / @APPS@/env.wsgi
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName daemon.example
    WSGIScriptAlias / @APPS@/env.wsgi process-group=rootd application-group=%{GLOBAL}
</VirtualHost>
`

func TestPathTranslated_RootMount(t *testing.T) {
	differentialOnly(t)
	spec := func(m Module, noRewrite bool) ServerSpec {
		return ServerSpec{Module: m, MPM: "event", Snippet: pathTranslatedSnippet, ExtraPort: true, NoRewrite: noRewrite}
	}
	ref := StartApache(t, spec(ModModWsgi, true))
	cand := StartApache(t, spec(ModGowsgi, true))
	candRewrite := StartApache(t, spec(ModGowsgi, false))

	type pathCase struct {
		rq       diffRequest
		fromSelf bool // gowsgi answers without the sub-request
	}
	var cases []pathCase
	for _, port2 := range []bool{false, true} {
		for _, path := range []string{"/", "/a/b", "/a%20b/c%3Fd", "/%25x", "//a//b/", "/env.wsgi/x", "/a/./b/../c"} {
			cases = append(cases, pathCase{diffRequest{name: fmt.Sprintf("GET %s port2=%v", path, port2), path: path, port2: port2, env: true}, true})
		}
		cases = append(cases,
			pathCase{diffRequest{name: fmt.Sprintf("query port2=%v", port2), path: "/a/b?q=1", port2: port2, env: true}, false},
			pathCase{diffRequest{name: fmt.Sprintf("POST port2=%v", port2), method: "POST", path: "/a/b", body: "x=1", port2: port2,
				headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, env: true}, false})
	}
	cases = append(cases, pathCase{diffRequest{name: "mounted below /", path: "/sub/x", env: true}, false})

	refMark, candMark, rewriteMark := markLog(ref), markLog(cand), markLog(candRewrite)
	wantCand := 0
	for _, c := range cases {
		rq := c.rq
		if c.fromSelf {
			wantCand++
		} else {
			wantCand += 2
		}
		t.Run(rq.name, func(t *testing.T) {
			r := diffDo(t, ref, rq)
			require.Equal(t, 200, r.Status, r.Body)
			assert.Contains(t, r.Body, "PATH_TRANSLATED", "mod_wsgi sets PATH_TRANSLATED here")
			compareResponses(t, rq, ref, cand, r, diffDo(t, cand, rq))
			compareResponses(t, rq, ref, candRewrite, r, diffDo(t, candRewrite, rq))
		})
	}

	// Every request has path info, so mod_wsgi (and gowsgi with mod_rewrite
	// loaded) ran fixups twice for each: the request and its sub-request.
	fixups := func(m logMark) int {
		n := 0
		for _, l := range m.raw() {
			if strings.Contains(l, "fixups for ") {
				n++
			}
		}
		return n
	}
	assert.Equal(t, 2*len(cases), fixups(refMark), "mod_wsgi's requests and sub-requests")
	assert.Equal(t, 2*len(cases), fixups(rewriteMark), "gowsgi's with mod_rewrite loaded")
	assert.Equal(t, wantCand, fixups(candMark), "gowsgi's: no sub-request for a GET without query string to an app at /")
}

const pathTranslatedDaemonVhost = `
WSGISocketPrefix @ROOT@/run/wsgi
WSGIDaemonProcess rootd processes=1 threads=2
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName daemon.example
    WSGIScriptAlias / @APPS@/env.wsgi process-group=rootd application-group=%{GLOBAL}
    ` + "@VHOST@" + `
</VirtualHost>
`

// A Lua translate hook that refuses every sub-request: Apache's
// sub-request then has no filename, and mod_wsgi no PATH_TRANSLATED.
const refuseSubRequestsLua = `
function translate(r)
    if not r.is_initial_req then
        return 410
    end
    return apache2.DECLINED
end
`

// Configurations in which Apache's sub-request does not retrace the
// request (found by attacks on the first versions of the shortcut): <If>
// sections are merged before translate_name and see the environment the
// sub-request inherits at the handler; Alias expressions read it too; a
// module's own hook can refuse sub-requests. Each is asked a GET that
// would otherwise take the shortcut, and compared with mod_wsgi; so are
// requests the shortcut leaves alone (a method, a query string) under
// <If> sections that test them.
func TestPathTranslated_ConfigsThatRemapSubRequests(t *testing.T) {
	differentialOnly(t)
	withDaemon := func(block string) string {
		return "WSGIScriptAlias / @APPS@/env.wsgi\n" + block +
			strings.Replace(pathTranslatedDaemonVhost, "@VHOST@", block, 1)
	}
	get := diffRequest{name: "GET", path: "/a/b", env: true}
	cases := []struct {
		name     string
		snippet  string
		files    map[string]string
		requests []diffRequest
	}{
		{name: "If on the environment at the handler", snippet: withDaemon(`SetEnv GOWSGI_LATE 1
<Location "/">
    <If "-n reqenv('GOWSGI_LATE')">
        Redirect gone
    </If>
</Location>
`), requests: []diffRequest{get}},
		{name: "If IS_SUBREQ", snippet: withDaemon(`<Location "/">
    <If "%{IS_SUBREQ} == 'true'">
        Redirect gone
    </If>
</Location>
`), requests: []diffRequest{get}},
		{name: "Alias expression on the environment", snippet: `SetEnv GOWSGI_LATE /late
<Location "/">
    Alias "@APPS@/env.wsgi%{REQUEST_URI}%{reqenv:GOWSGI_LATE}"
    SetHandler wsgi-script
    Options +ExecCGI
</Location>
`, requests: []diffRequest{get}},
		{name: "Lua hook refusing sub-requests", snippet: withDaemon("") + `
LoadModule lua_module /usr/lib/apache2/modules/mod_lua.so
LuaHookTranslateName @ROOT@/refuse.lua translate early
`, files: map[string]string{"refuse.lua": refuseSubRequestsLua}, requests: []diffRequest{get}},
		{name: "If REQUEST_METHOD, a PUT", snippet: withDaemon(`<Location "/">
    <If "%{REQUEST_METHOD} in {'GET', 'HEAD'}">
        Redirect 301 "http://static.example/"
    </If>
</Location>
`), requests: []diffRequest{{name: "PUT", method: "PUT", path: "/a/b", body: "x", env: true}}},
		{name: "If QUERY_STRING, a query", snippet: withDaemon(`<Location "/">
    <If "-z %{QUERY_STRING}">
        Redirect /other
    </If>
</Location>
`), requests: []diffRequest{{name: "GET with query", path: "/a/b?x=1", env: true}}},
		{name: "Alias expression on the query, a query", snippet: `<Location "/">
    Alias "@APPS@/env.wsgi%{QUERY_STRING}"
    SetHandler wsgi-script
    Options +ExecCGI
</Location>
`, requests: []diffRequest{{name: "GET with query", path: "/a/b?/a/b", env: true}}},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			spec := func(m Module) ServerSpec {
				return ServerSpec{Module: m, MPM: "event", Snippet: c.snippet, Files: c.files, ExtraPort: true, NoRewrite: true}
			}
			ref := StartApache(t, spec(ModModWsgi))
			cand := StartApache(t, spec(ModGowsgi))
			for _, rq := range c.requests {
				for _, port2 := range []bool{false, true} {
					if port2 && !strings.Contains(c.snippet, "@PORT2@") {
						continue
					}
					rq := rq
					rq.port2 = port2
					t.Run(fmt.Sprintf("%s port2=%v", rq.name, port2), func(t *testing.T) {
						r := diffDo(t, ref, rq)
						require.Equal(t, 200, r.Status, r.Body)
						compareResponses(t, rq, ref, cand, r, diffDo(t, cand, rq))
					})
				}
			}
		})
	}
}

// fixupsFor counts the fixups mod_log_debug logged for uri since the mark:
// 2 for one request means Apache's sub-request ran. Both are logged before
// the response is sent.
func fixupsFor(m logMark, uri string) int {
	n := 0
	for _, l := range m.raw() {
		if strings.Contains(l, "fixups for "+uri+" ") {
			n++
		}
	}
	return n
}

// Modules Debian enables by default, and common additions, that the base
// config lacks: none of them may keep the sub-request.
var debianModules = func() string {
	var b strings.Builder
	for _, m := range []string{"access_compat", "auth_basic", "authn_file", "authz_user", "autoindex", "negotiation",
		"reqtimeout", "status", "socache_shmcb", "ssl", "expires", "proxy", "proxy_http", "http2", "cgid", "include"} {
		fmt.Fprintf(&b, "LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n", m, m)
	}
	return b.String()
}()

// Each module or configuration feature that could map a sub-request
// otherwise turns the shortcut off for the whole server, wherever it
// stands (an Included file) and from the next graceful restart on.
func TestPathTranslated_OffWhereConfigCouldRemap(t *testing.T) {
	gowsgiOnly(t)
	base := `
LoadModule log_debug_module /usr/lib/apache2/modules/mod_log_debug.so
LogMessage "fixups for %{REQUEST_URI} " hook=fixups
WSGIScriptAlias / @APPS@/env.wsgi
`
	for name, c := range map[string]struct {
		extra     string
		files     map[string]string
		noRewrite bool
	}{
		"none (control)":                    {"", nil, true},
		"Debian's default modules and more": {debianModules, nil, true},
		"mod_rewrite loaded":                {"", nil, false},
		"mod_lua hook":                      {"LoadModule lua_module /usr/lib/apache2/modules/mod_lua.so\nLuaHookTranslateName @ROOT@/decline.lua translate early\n", map[string]string{"decline.lua": "function translate(r)\n    return apache2.DECLINED\nend\n"}, true},
		"AllowOverride":                     {"<Directory @APPS@>\n    AllowOverride FileInfo\n</Directory>\n", nil, true},
		"AllowOverrideList":                 {"<Directory @APPS@>\n    AllowOverrideList Redirect\n</Directory>\n", nil, true},
		"If section":                        {"<If \"%{HTTP:X-Never} == 'x'\">\n    Header set X-Never x\n</If>\n", nil, true},
		"IS_SUBREQ":                         {"SetEnvIfExpr \"%{IS_SUBREQ} == 'true'\" GOWSGI_SUB=1\n", nil, true},
		"Alias expression":                  {"<Location /static>\n    Alias \"@ROOT@/htdocs%{QUERY_STRING}\"\n</Location>\n", nil, true},
		"ScriptAlias expression":            {"<Location /cgi>\n    ScriptAlias \"@ROOT@/htdocs%{QUERY_STRING}\"\n</Location>\n", nil, true},
		"ProxyPassInterpolateEnv":           {"LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\nProxyPassInterpolateEnv On\n", nil, true},
		"in an Included file":               {"Include @ROOT@/extra.conf\n", map[string]string{"extra.conf": "<If \"false\">\n</If>\n"}, true},
	} {
		name, c := name, c
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := StartApache(t, ServerSpec{MPM: "event", Snippet: base + c.extra, Files: c.files, NoRewrite: c.noRewrite})
			mark := markLog(a)
			r := Get(t, a.URL("/a/b"))
			require.Equal(t, 200, r.Status, r.String())
			want := 2
			if name == "none (control)" || name == "Debian's default modules and more" {
				want = 1
			}
			assert.Equal(t, want, fixupsFor(mark, "/a/b"), "fixups logged for GET /a/b (2: Apache's sub-request ran)")
		})
	}

	t.Run("added by a graceful restart", func(t *testing.T) {
		t.Parallel()
		a := StartApache(t, ServerSpec{MPM: "event", Snippet: base + "Include @ROOT@/extra.conf\n",
			Files: map[string]string{"extra.conf": "# nothing yet\n"}, NoRewrite: true})
		mark := markLog(a)
		require.Equal(t, 200, Get(t, a.URL("/a/b")).Status)
		assert.Equal(t, 1, fixupsFor(mark, "/a/b"), "before the restart: no sub-request")
		require.NoError(t, os.WriteFile(filepath.Join(a.Root, "extra.conf"), []byte("<If \"false\">\n</If>\n"), 0o644))
		require.NoError(t, a.Graceful())
		mark = markLog(a)
		require.Equal(t, 200, Get(t, a.URL("/a/c")).Status)
		assert.Equal(t, 2, fixupsFor(mark, "/a/c"), "after the restart: Apache's sub-request")
	})
}
