package tests

// PATH_TRANSLATED of an app mounted at "/": Apache's ap_add_cgi_vars finds
// it with a sub-request for PATH_INFO, which for such an app retraces the
// request itself; gowsgi answers from the request instead (cgi_vars.c) for
// a GET with no query string, unless the configuration could map the
// sub-request differently. Compared with mod_wsgi, embedded and daemon.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mod_log_debug logs the fixups of every request and sub-request, which
// shows whether the sub-request ran.
const pathTranslatedSnippet = `
LoadModule log_debug_module /usr/lib/apache2/modules/mod_log_debug.so
LogMessage "fixups for %{REQUEST_URI}" hook=fixups
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

// Configurations in which the sub-request does not retrace the request
// (found by an attack on the first version of the shortcut): <If>
// sections are merged before translate_name, and an Alias expression can
// read what the sub-request lacks. gowsgi must ask Apache there.
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
		requests []diffRequest
	}{
		{"If IS_SUBREQ", withDaemon(`<Location "/">
    <If "%{IS_SUBREQ} == 'true'">
        Redirect gone
    </If>
</Location>
`), []diffRequest{get}},
		{"If REQUEST_METHOD", withDaemon(`<Location "/">
    <If "%{REQUEST_METHOD} in {'GET', 'HEAD'}">
        Redirect 301 "http://static.example/"
    </If>
</Location>
`), []diffRequest{{name: "PUT", method: "PUT", path: "/a/b", body: "x", env: true}}},
		{"If QUERY_STRING", withDaemon(`<Location "/">
    <If "-z %{QUERY_STRING}">
        Redirect /other
    </If>
</Location>
`), []diffRequest{{name: "GET with query", path: "/a/b?x=1", env: true}}},
		{"Alias expression", `<Location "/">
    Alias "@APPS@/env.wsgi%{QUERY_STRING}"
    SetHandler wsgi-script
    Options +ExecCGI
</Location>
`, []diffRequest{{name: "GET with query", path: "/a/b?/a/b", env: true}}},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			spec := func(m Module) ServerSpec {
				return ServerSpec{Module: m, MPM: "event", Snippet: c.snippet, ExtraPort: true, NoRewrite: true}
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

// Each configuration feature that could map a sub-request otherwise turns
// the shortcut off for the whole server: Apache's sub-request runs (its
// fixups are logged) for a GET that would otherwise not need it.
func TestPathTranslated_OffWhereConfigCouldRemap(t *testing.T) {
	gowsgiOnly(t)
	base := `
LoadModule log_debug_module /usr/lib/apache2/modules/mod_log_debug.so
LogMessage "fixups for %{REQUEST_URI}" hook=fixups
WSGIScriptAlias / @APPS@/env.wsgi
`
	for name, extra := range map[string]string{
		"none (control)":          "",
		"AllowOverride":           "<Directory @APPS@>\n    AllowOverride FileInfo\n</Directory>\n",
		"If section":              "<If \"%{HTTP:X-Never} == 'x'\">\n    Header set X-Never x\n</If>\n",
		"IS_SUBREQ":               "SetEnvIfExpr \"%{IS_SUBREQ} == 'true'\" GOWSGI_SUB=1\n",
		"Alias expression":        "<Location /static>\n    Alias \"@ROOT@/htdocs%{QUERY_STRING}\"\n</Location>\n",
		"ProxyPassInterpolateEnv": "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\nProxyPassInterpolateEnv On\n",
	} {
		name, extra := name, extra
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := StartApache(t, ServerSpec{MPM: "event", Snippet: base + extra, NoRewrite: true})
			mark := markLog(a)
			r := Get(t, a.URL("/a/b"))
			require.Equal(t, 200, r.Status, r.String())
			want := 1
			if extra != "" {
				want = 2
			}
			lines := mark.waitRaw("fixups for /a/b", 5*time.Second)
			n := 0
			for _, l := range lines {
				if strings.Contains(l, "fixups for /a/b") {
					n++
				}
			}
			assert.Equal(t, want, n, "fixups logged for GET /a/b (2: Apache's sub-request ran)")
		})
	}
}
