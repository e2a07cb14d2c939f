package tests

// Kept connections between Apache's children and daemon processes (beyond
// mod_wsgi, which connects once per request): a daemon keeps a connection
// open after a complete response, and the Apache thread sends its next
// request for the group on it; a daemon that goes away, or replaces
// itself, costs no request.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func daemonConns(t *testing.T, c *http.Client, url string) []string {
	t.Helper()
	r, err := doReq(c, "GET", url, nil, nil)
	require.NoError(t, err)
	require.Equal(t, 200, r.Status, "%s", r)
	var out struct {
		Conns []string `json:"conns"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Body), &out))
	return out.Conns
}

// On prefork with a single child there is one Apache thread: every request
// reaches the daemon on the same connection.
func TestGowsgiOnly_DaemonKeepsConnections(t *testing.T) {
	gowsgiOnly(t)
	a := StartApache(t, ServerSpec{MPM: "prefork", Snippet: "" +
		"<IfModule mpm_prefork_module>\n    StartServers 1\n    MinSpareServers 1\n    MaxSpareServers 1\n" +
		"    ServerLimit 1\n    MaxRequestWorkers 1\n</IfModule>\n" +
		"WSGIDaemonProcess keep processes=1 threads=2\n" +
		"WSGIScriptAlias /k @APPS@/daemon/probe.wsgi process-group=keep\n"})
	c := singleConnClient()
	seen := map[string]bool{}
	var each [][]string
	for i := 0; i < 20; i++ {
		conns := daemonConns(t, c, a.URL("/k?op=conns"))
		each = append(each, conns)
		for _, conn := range conns {
			seen[conn] = true
		}
	}
	// One connection; a second at most, should both daemon threads have
	// been away from their wait when a request came (the thread then goes
	// through the channel). Without kept connections: twenty.
	assert.LessOrEqual(t, len(seen), 2, "twenty requests from one Apache thread came on one connection: %v", each)
}

// A kept connection to a process that died (kill -9) or that made way
// after maximum-requests is never used for a request that then fails: the
// Apache thread notices (the send fails, or the daemon said GOODBYE) and
// sends it through the channel to a live process.
func TestGowsgiOnly_KeptConnectionsSurviveDaemonReplacement(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: "" +
			"WSGIDaemonProcess kill processes=1 threads=4\n" +
			"WSGIDaemonProcess recycle processes=1 threads=4 maximum-requests=3\n" +
			"WSGIScriptAlias /kill @APPS@/daemon/probe.wsgi process-group=kill\n" +
			"WSGIScriptAlias /recycle @APPS@/daemon/probe.wsgi process-group=recycle\n"})
		c := singleConnClient()

		// Every request of a process that replaces itself every third one.
		pids := map[int]bool{}
		for i := 0; i < 12; i++ {
			f := getFactsWith(t, c, a.URL("/recycle"))
			pids[f.Pid] = true
		}
		assert.GreaterOrEqual(t, len(pids), 4, "maximum-requests=3 replaced the process (pids %v)", pids)

		// The next request after the process holding this thread's kept
		// connection was killed (and the parent has seen it go: a request
		// sent while its threads are still dying is lost with it, as one
		// it had taken would be) goes to the new process.
		before := getFactsWith(t, c, a.URL("/kill"))
		mark := markLog(a)
		require.NoError(t, syscall.Kill(before.Pid, syscall.SIGKILL))
		mark.waitRaw(fmt.Sprintf("(pid %d) was killed by signal 9", before.Pid), 10*time.Second)
		for i := 0; i < 5; i++ {
			after := getFactsWith(t, c, a.URL("/kill"))
			assert.NotEqual(t, before.Pid, after.Pid)
		}
		assert.NotContains(t, a.ErrorLogContent(), "cut off", "no request was lost on a kept connection")
	})
}

func getFactsWith(t *testing.T, c *http.Client, url string) probeFacts {
	t.Helper()
	r, err := doReq(c, "GET", url, nil, nil)
	require.NoError(t, err)
	require.Equal(t, 200, r.Status, "GET %s: %s", url, r)
	return decodeFacts(t, r.Body)
}
