package tests

// WSGIRestrictStdin and WSGIPythonEggs at run time (configtest covers their
// syntax): stdin access raises with mod_wsgi's message, and the egg cache
// reaches os.environ before the app imports anything, whether the child
// loads the engine at start or, with a daemon group in the server, at its
// first embedded request (the child sets it in child_init either way).

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

const stdinEggsApp = `import os, sys
def application(environ, start_response):
    try:
        sys.stdin.read()
        stdin = 'readable'
    except Exception as e:
        stdin = '%s: %s' % (type(e).__name__, e)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('%s|%s' % (stdin, os.environ.get('PYTHON_EGG_CACHE', 'unset'))).encode()]
`

func TestPythonDirectives_RestrictStdinAndEggs(t *testing.T) {
	for _, c := range []struct{ restrict, daemons string }{
		{"On", ""}, {"Off", ""}, {"Off", "WSGISocketPrefix @ROOT@/run/wsgi\nWSGIDaemonProcess idle threads=1\n"},
	} {
		restrict := c.restrict
		a := StartApache(t, ServerSpec{MPM: "event",
			Files:   map[string]string{"app/stdin.wsgi": stdinEggsApp},
			Snippet: c.daemons + "WSGIRestrictStdin " + restrict + "\nWSGIPythonEggs /tmp/gowsgi-eggs\nWSGIScriptAlias /stdin @ROOT@/app/stdin.wsgi\n<Directory @ROOT@/app>\n    Require all granted\n</Directory>\n"})
		r := Get(t, a.URL("/stdin"))
		assert.Equal(t, 200, r.Status, r.String())
		if restrict == "On" {
			assert.Contains(t, r.Body, "OSError: sys.stdin access restricted by mod_wsgi|", r.String())
		} else {
			assert.NotContains(t, r.Body, "restricted", r.String())
		}
		assert.Contains(t, r.Body, "|/tmp/gowsgi-eggs", r.String())
	}
}

// A daemon group's python-eggs= is its processes' PYTHON_EGG_CACHE, whether
// the process execs the launcher or (server-metrics=On) loads the engine
// itself: cshim/daemon_child.c sets it before either.
func TestPythonDirectives_DaemonEggs(t *testing.T) {
	a := StartApache(t, ServerSpec{MPM: "event",
		Files: map[string]string{"app/stdin.wsgi": stdinEggsApp},
		Snippet: `WSGISocketPrefix @ROOT@/run/wsgi
WSGIPythonEggs /tmp/gowsgi-eggs
WSGIDaemonProcess launched threads=1 python-eggs=/tmp/gowsgi-eggs-launched
WSGIDaemonProcess metrics threads=1 python-eggs=/tmp/gowsgi-eggs-metrics server-metrics=On
WSGIDaemonProcess none threads=1
WSGIScriptAlias /launched @ROOT@/app/stdin.wsgi process-group=launched
WSGIScriptAlias /metrics @ROOT@/app/stdin.wsgi process-group=metrics
WSGIScriptAlias /none @ROOT@/app/stdin.wsgi process-group=none
<Directory @ROOT@/app>
    Require all granted
</Directory>
`})
	for path, want := range map[string]string{
		"/launched": "|/tmp/gowsgi-eggs-launched", "/metrics": "|/tmp/gowsgi-eggs-metrics",
		// mod_wsgi applies WSGIPythonEggs to embedded mode only.
		"/none": "|unset",
	} {
		r := Get(t, a.URL(path))
		assert.Equal(t, 200, r.Status, "%s: %s", path, r)
		assert.True(t, strings.HasSuffix(r.Body, want), "%s: %s", path, r.Body)
	}
}
