package tests

// The process state a daemon gives the app, beside mod_wsgi's: which signals
// it ignores, and which descriptors a program the app starts inherits.

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

// What a daemon process holds open is close-on-exec (ARCHITECTURE §5) but
// for standard input, output and error: a program the app starts without
// closing descriptors (os.system()) holds nothing of the daemon's, in
// particular not its end of the group's channel, which must go with the
// group's last process. Both ways a process starts: exec'd launcher, and
// server-metrics=On (the engine loaded in the fork).
const inheritedFdsApp = `import os
def application(environ, start_response):
    kept = []
    for fd in sorted(os.listdir('/proc/self/fd'), key=int):
        if int(fd) > 2 and os.get_inheritable(int(fd)) if os.path.exists('/proc/self/fd/' + fd) else False:
            kept.append('%s %s' % (fd, os.readlink('/proc/self/fd/' + fd)))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('kept: ' + ', '.join(kept)).encode()]
`

func TestGowsgiOnly_DaemonDescriptorsCloseOnExec(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"fds.wsgi": inheritedFdsApp}, Snippet: `
WSGIDaemonProcess launched processes=1 threads=2
WSGIDaemonProcess metrics processes=1 threads=2 server-metrics=On
WSGIScriptAlias /launched @ROOT@/fds.wsgi process-group=launched application-group=%{GLOBAL}
WSGIScriptAlias /metrics @ROOT@/fds.wsgi process-group=metrics application-group=%{GLOBAL}
`})
		for _, path := range []string{"/launched", "/metrics"} {
			r := Get(t, a.URL(path))
			require.Equal(t, 200, r.Status, "%s: %s", path, r)
			assert.Equal(t, "kept: ", r.Body, "%s: descriptors a program the app starts would inherit", path)
		}
	})
}
