package tests

// PATH_TRANSLATED of an app mounted at "/": Apache's ap_add_cgi_vars finds
// it with a sub-request for PATH_INFO, which for such an app retraces the
// request itself; gowsgi answers from the request instead (cgi_vars.c)
// unless mod_rewrite is loaded. Compared with mod_wsgi, embedded and daemon.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mod_log_debug logs every sub-request's fixups, which shows whether the
// sub-request ran.
const pathTranslatedSnippet = `
LoadModule log_debug_module /usr/lib/apache2/modules/mod_log_debug.so
LogMessage "sub-request for %{REQUEST_URI}" hook=fixups "expr=%{IS_SUBREQ} == 'true'"
WSGISocketPrefix @ROOT@/run/wsgi
WSGIDaemonProcess rootd processes=1 threads=2
WSGIScriptAlias /sub @APPS@/env.wsgi
WSGIScriptAlias / @APPS@/env.wsgi
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName daemon.example
    WSGIScriptAlias / @APPS@/env.wsgi process-group=rootd application-group=%{GLOBAL}
</VirtualHost>
`

var pathTranslatedPaths = []string{"/", "/a/b", "/a%20b/c%3Fd?q=1", "/%25x", "//a//b/", "/env.wsgi/x", "/a/./b/../c"}

func TestPathTranslated_RootMount(t *testing.T) {
	if targetModule() != ModGowsgi {
		t.Skip("compares gowsgi with mod_wsgi; module under test is " + string(targetModule()))
	}
	requireModule(t, ModGowsgi)
	requireModule(t, ModModWsgi)
	spec := func(m Module, noRewrite bool) ServerSpec {
		return ServerSpec{Module: m, MPM: "event", Snippet: pathTranslatedSnippet, ExtraPort: true, NoRewrite: noRewrite}
	}
	ref := StartApache(t, spec(ModModWsgi, true))
	cand := StartApache(t, spec(ModGowsgi, true))
	candRewrite := StartApache(t, spec(ModGowsgi, false))

	var requests []diffRequest
	for _, port2 := range []bool{false, true} {
		for _, path := range pathTranslatedPaths {
			requests = append(requests, diffRequest{name: fmt.Sprintf("%s port2=%v", path, port2), path: path, port2: port2, env: true})
		}
	}
	requests = append(requests, diffRequest{name: "mounted below /", path: "/sub/x", env: true})

	refMark, candMark, rewriteMark := markLog(ref), markLog(cand), markLog(candRewrite)
	for _, rq := range requests {
		rq := rq
		t.Run(rq.name, func(t *testing.T) {
			r := diffDo(t, ref, rq)
			require.Equal(t, 200, r.Status, r.Body)
			assert.Contains(t, r.Body, "PATH_TRANSLATED", "mod_wsgi sets PATH_TRANSLATED here")
			compareResponses(t, rq, ref, cand, r, diffDo(t, cand, rq))
			compareResponses(t, rq, ref, candRewrite, r, diffDo(t, candRewrite, rq))
		})
	}

	// mod_wsgi (and gowsgi with mod_rewrite loaded) ran a sub-request for
	// every request; gowsgi without mod_rewrite only where the app is not
	// mounted at "/".
	subRequests := func(m logMark) []string {
		var out []string
		for _, l := range m.raw() {
			if strings.Contains(l, "sub-request for") {
				out = append(out, l)
			}
		}
		return out
	}
	assert.Len(t, subRequests(refMark), len(requests), "mod_wsgi's sub-requests")
	assert.Len(t, subRequests(rewriteMark), len(requests), "gowsgi's sub-requests with mod_rewrite loaded")
	got := subRequests(candMark)
	if assert.Len(t, got, 1, "gowsgi's sub-requests without mod_rewrite") {
		assert.Contains(t, got[0], "sub-request for /x", "only the app mounted at /sub needs one")
	}
}
