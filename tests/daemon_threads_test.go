package tests

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// threadsApp: /pid answers the daemon's pid; /meet waits until 15 requests
// are in the app at once (a barrier), so it answers 200 only if the process
// runs 15 of them side by side, and 503 if the barrier gives up.
const threadsApp = `import os, threading
meet = threading.Barrier(15)
def application(environ, start_response):
    if environ['PATH_INFO'] == '/pid':
        body, status = str(os.getpid()).encode(), '200 OK'
    else:
        try:
            meet.wait(timeout=30)
            body, status = b'met', '200 OK'
        except threading.BrokenBarrierError:
            body, status = b'fewer than 15 at once', '503 Service Unavailable'
    start_response(status, [('Content-Type', 'text/plain')])
    return [body]
`

// A daemon process starts its worker threads as concurrency needs them: an
// idle threads=15 process runs fewer OS threads than threads= (it started
// all 15 and 8 of the runtime's before), and once 15 requests come at once
// it serves all 15 side by side, as threads=15 promises.
func TestGowsgiOnly_DaemonThreadsAsNeeded(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"threads.wsgi": threadsApp}, Snippet: `
<IfModule mpm_prefork_module>
    StartServers 16
    MinSpareServers 16
    MaxSpareServers 20
    ServerLimit 20
    MaxRequestWorkers 20
</IfModule>
WSGIDaemonProcess fifteen processes=1 threads=15
WSGIScriptAlias /threads @ROOT@/threads.wsgi process-group=fifteen application-group=%{GLOBAL}
`})
		r := Get(t, a.URL("/threads/pid"))
		require.Equal(t, 200, r.Status, r.String())
		pid, err := strconv.Atoi(r.Body)
		require.NoError(t, err, r.Body)
		idle := osThreads(t, pid)
		assert.Less(t, idle, 15, "an idle threads=15 daemon that has served one request runs fewer OS threads than threads=")

		var wg sync.WaitGroup
		results := make([]Resp, 15)
		errs := make([]error, 15)
		for i := range results {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results[i], errs[i] = doReq(longClient, "GET", a.URL("/threads/meet"), nil, nil)
			}(i)
		}
		wg.Wait()
		for i, res := range results {
			require.NoError(t, errs[i])
			assert.Equal(t, 200, res.Status, "request %d: %s", i, res.String())
		}
		assert.GreaterOrEqual(t, osThreads(t, pid), 15, "the process grew to threads= workers")
		assert.Equal(t, strconv.Itoa(pid), Get(t, a.URL("/threads/pid")).Body, "one process served them all")
	})
}

// osThreads counts a process's OS threads.
func osThreads(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	require.NoError(t, err)
	n := 0
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}
