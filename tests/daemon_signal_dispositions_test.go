package tests

// What a daemon process ignores, as mod_wsgi 4.9.4's do (Python's own start
// ignores SIGPIPE and SIGXFSZ; measured side by side): a write to a pipe
// nobody reads, or past RLIMIT_FSIZE, is an OSError for the app, and the
// process serves on. A daemon that left SIGXFSZ at its default died of the
// write (signal 25) and the request got 500.

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const writeLimitsApp = `import errno, os, resource, tempfile
def application(environ, start_response):
    out = []
    r, w = os.pipe()
    os.close(r)
    try:
        os.write(w, b'x')
        out.append('pipe: written')
    except OSError as e:
        out.append('pipe: ' + errno.errorcode[e.errno])
    finally:
        os.close(w)
    if environ['PATH_INFO'] == '/fsize':
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
        try:
            with tempfile.TemporaryFile() as f:
                os.write(f.fileno(), b'y' * 8192)
                os.write(f.fileno(), b'y' * 8192)
            out.append('fsize: written')
        except OSError as e:
            out.append('fsize: ' + errno.errorcode[e.errno])
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    out.append('pid %d' % os.getpid())
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return ['; '.join(out).encode()]
`

func TestDaemon_WriteLimitsAreErrors(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"limits.wsgi": writeLimitsApp}, Snippet: `
WSGIDaemonProcess lim processes=1 threads=2
WSGIScriptAlias /lim @ROOT@/limits.wsgi process-group=lim application-group=%{GLOBAL}
`})
		before := Get(t, a.URL("/lim/pipe"))
		require.Equal(t, 200, before.Status, before.String())
		assert.Contains(t, before.Body, "pipe: EPIPE;", "SIGPIPE ignored")
		r := Get(t, a.URL("/lim/fsize"))
		require.Equal(t, 200, r.Status, r.String())
		assert.Contains(t, r.Body, "fsize: EFBIG;", "SIGXFSZ ignored")
		after := Get(t, a.URL("/lim/pipe"))
		pidOf := func(body string) string { return body[strings.LastIndex(body, "; pid ")+1:] }
		assert.Equal(t, pidOf(before.Body), pidOf(after.Body), "the same daemon process serves on")
	})
}
