package tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An app whose process has an exit handler that needs a lock a request
// holds: what OpenSSL's exit handler, or malloc's own lock, is to a
// request that a signal interrupts inside them. /hold takes the lock,
// says so, and keeps it for a minute.
const preforkExitApp = `
import ctypes, os, time
libc = ctypes.CDLL(None)
libc.pthread_mutex_lock.argtypes = [ctypes.c_void_p]
libc.pthread_mutex_unlock.argtypes = [ctypes.c_void_p]
lock = ctypes.create_string_buffer(64)  # zeroed: PTHREAD_MUTEX_INITIALIZER

@ctypes.CFUNCTYPE(None, ctypes.c_void_p)
def at_exit(arg):
    libc.pthread_mutex_lock(lock)
    libc.pthread_mutex_unlock(lock)

libc.__cxa_atexit.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
libc.__cxa_atexit(ctypes.cast(at_exit, ctypes.c_void_p), None, None)

def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    if environ['PATH_INFO'] != '/hold':
        return [b'ok pid=%d' % os.getpid()]
    def body():
        libc.pthread_mutex_lock(lock)
        try:
            yield b'holding pid=%d\n' % os.getpid()
            time.sleep(60)
            yield b'done\n'
        finally:
            libc.pthread_mutex_unlock(lock)
    return body()
`

// holdRequest starts /x/hold and returns once the app holds its lock: the
// connection and the pid of the child serving it.
func holdRequest(t *testing.T, a *Apache) (net.Conn, int) {
	t.Helper()
	conn, err := net.Dial("tcp", a.Addr())
	require.NoError(t, err)
	fmt.Fprintf(conn, "GET /x/hold HTTP/1.1\r\nHost: %s\r\n\r\n", a.Addr())
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
	br := bufio.NewReader(conn)
	for {
		line, err := br.ReadString('\n')
		require.NoError(t, err, "reading the held response")
		if m := regexp.MustCompile(`holding pid=(\d+)`).FindStringSubmatch(line); m != nil {
			pid, _ := strconv.Atoi(m[1])
			return conn, pid
		}
	}
}

// Prefork runs a child's exit inside its SIGHUP/SIGTERM handler, on top of
// whatever the signal interrupted. A child stopped while a request runs
// the app must end at once, not run exit code (pool cleanups, exit
// handlers) that waits for what the interrupted request holds: before,
// such a child hung until the parent's SIGKILL (AH00045, AH00046). The
// request is lost, as with any ungraceful restart; the next is served.
func TestGowsgiOnly_PreforkChildStoppedMidRequestExitsAtOnce(t *testing.T) {
	gowsgiOnly(t)
	a := StartApache(t, ServerSpec{MPM: "prefork", Snippet: "" +
		"<IfModule mpm_prefork_module>\n    StartServers 2\n    MinSpareServers 2\n    MaxSpareServers 2\n</IfModule>\n" +
		"WSGIScriptAlias /x @ROOT@/x.wsgi\n",
		Files: map[string]string{"x.wsgi": preforkExitApp}})
	getEventually(t, a, "/x/ok")

	for _, step := range []struct {
		name string
		do   func() error
	}{{"an ungraceful restart (SIGHUP)", a.Restart}, {"a stop (SIGTERM)", a.Stop}} {
		conn, pid := holdRequest(t, a)
		require.NoError(t, step.do(), step.name)
		// The parent reaps its children before it goes on: the child is gone.
		assert.Equal(t, syscall.ESRCH, syscall.Kill(pid, 0), "after %s the child %d that served is gone", step.name, pid)
		rest, _ := io.ReadAll(conn)
		conn.Close()
		assert.NotContains(t, string(rest), "done", "the held request was cut off by %s", step.name)
		assert.Empty(t, stressCrashLines(a.ErrorLogContent()),
			"after %s no child needed more than its signal, none crashed", step.name)
		if strings.Contains(step.name, "restart") {
			r := Get(t, a.URL("/x/ok"))
			assert.Equal(t, 200, r.Status, "served after %s: %s", step.name, r)
		}
	}
}
