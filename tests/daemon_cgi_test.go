package tests

// Daemon mode keeps CGI's rules for responses, as mod_wsgi's does (reference
// 2.4 and section 3): a 200 with a local Location is an internal redirect (a
// GET, the body dropped), and WSGIErrorOverride On hands 4xx/5xx statuses to
// Apache's ErrorDocument. Embedded mode does neither.

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const daemonCGISnippet = `
WSGISocketPrefix @ROOT@/run/wsgi
WSGIDaemonProcess cgi threads=2
WSGIScriptAlias /d @APPS@/daemon/probe.wsgi process-group=cgi
WSGIScriptAlias /eo @APPS@/daemon/probe.wsgi process-group=cgi
WSGIScriptAlias /emb @APPS@/daemon/probe.wsgi
<Location /eo>
    WSGIErrorOverride On
</Location>
`

func TestDaemon_CGIResponseRules(t *testing.T) {
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: daemonCGISnippet})

		// The redirect is followed inside Apache, as a GET: the client
		// sees the target's answer, never the redirecting body.
		r := Do(t, "POST", a.URL("/d?op=location&to=/d%3Fop%3Dmethod"), strings.NewReader("posted"), nil)
		require.Equal(t, 200, r.Status, "%s", r)
		assert.Equal(t, "method=GET body=b''", r.Body)
		assert.Empty(t, r.Header.Get("Location"))

		// Embedded mode passes the Location through untouched.
		r = Get(t, a.URL("/emb?op=location&to=/d%3Fop%3Dmethod"))
		assert.Equal(t, 200, r.Status)
		assert.Equal(t, "/d?op=method", r.Header.Get("Location"))
		assert.Equal(t, "body of the redirecting response", r.Body)

		// WSGIErrorOverride On: Apache's error page replaces the app's.
		r = Get(t, a.URL("/eo?op=notfound"))
		assert.Equal(t, 404, r.Status)
		assert.NotContains(t, r.Body, "app says not found")
		assert.Contains(t, r.Body, "Not Found")
		// Off (the default): the app's own body.
		r = Get(t, a.URL("/d?op=notfound"))
		assert.Equal(t, 404, r.Status)
		assert.Equal(t, "app says not found", r.Body)
		// A success is untouched by the override.
		assert.Equal(t, 200, Get(t, a.URL("/eo?op=facts")).Status)
	})
}
