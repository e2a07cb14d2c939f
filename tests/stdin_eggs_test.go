package tests

// WSGIRestrictStdin and WSGIPythonEggs at run time (configtest covers their
// syntax): stdin access raises with mod_wsgi's message, and the egg cache
// reaches os.environ before the app imports anything, whether the child
// loads the engine at start or, with a daemon group in the server, at its
// first embedded request (the child sets it in child_init either way).

import (
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
