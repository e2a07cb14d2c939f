package tests

// mod_wsgi.server_metrics() (mod_wsgi 4.9.4's wsgi_metrics.c): None unless
// WSGIServerMetrics is On (in Apache's children) or the daemon group has
// server-metrics=On (in its processes); else Apache's scoreboard as a dict
// with mod_wsgi's keys and value types, whose worker entries include the
// request being served. The app is apps/server_metrics.wsgi.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Embedded mode with WSGIServerMetrics On. ExtendedStatus On: Apache fills
// the scoreboard's request, client and vhost (mod_status turns it on too).
const serverMetricsOnSnippet = `
ExtendedStatus On
WSGIServerMetrics On
WSGIScriptAlias /emb @ROOT@/scratch/server_metrics.wsgi
`

// WSGIServerMetrics written Off.
const serverMetricsOffSnippet = `
ExtendedStatus On
WSGIServerMetrics Off
WSGIScriptAlias /emb @ROOT@/scratch/server_metrics.wsgi
`

// WSGIServerMetrics not written (Off); one daemon group with server-metrics=On, one
// without.
const serverMetricsDaemonSnippet = `
ExtendedStatus On
WSGIDaemonProcess smon processes=1 threads=2 server-metrics=On
WSGIDaemonProcess smoff processes=1 threads=2
WSGIScriptAlias /emb @ROOT@/scratch/server_metrics.wsgi
WSGIScriptAlias /don @ROOT@/scratch/server_metrics.wsgi process-group=smon
WSGIScriptAlias /doff @ROOT@/scratch/server_metrics.wsgi process-group=smoff
`

var (
	serverMetricsTypes = map[string]string{
		"server_limit": "int", "thread_limit": "int", "running_generation": "int",
		"restart_time": "float", "current_time": "float", "running_time": "int", "processes": "list"}
	serverMetricsProcess = map[string]string{
		"process_num": "int", "pid": "int", "generation": "int", "quiescing": "bool", "workers": "list"}
	serverMetricsWorker = map[string]string{
		"thread_num": "int", "generation": "int", "status": "str", "access_count": "int",
		"bytes_served": "int", "start_time": "float", "stop_time": "float", "last_used": "float",
		"client": "str", "request": "str", "vhost": "str"}
)

// smAnswer is the app's answer.
type smAnswer struct {
	Pid         int               `json:"pid"`
	Type        string            `json:"type"`
	Types       map[string]string `json:"types"`
	Process     map[string]string `json:"process"`
	Worker      map[string]string `json:"worker"`
	ServerLimit int               `json:"server_limit"`
	ThreadLimit int               `json:"thread_limit"`
	NProcesses  int               `json:"nprocesses"`
	NWorkers    []int             `json:"nworkers"`
	Statuses    []string          `json:"statuses"`
	Running     bool              `json:"running"`
	Mine        []struct {
		Status     string `json:"status"`
		Request    string `json:"request"`
		Pid        int    `json:"pid"`
		ProcessNum int    `json:"process_num"`
	} `json:"mine"`
}

// startServerMetrics starts a server with the app copied into its scratch.
func startServerMetrics(t *testing.T, m Module, mpm, snippet string) *Apache {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(appsDir(), "server_metrics.wsgi"))
	require.NoError(t, err)
	a, err := startApache(ServerSpec{Module: m, MPM: mpm, Snippet: snippet,
		Files: map[string]string{"scratch/server_metrics.wsgi": string(src)}})
	require.NoError(t, err, "starting %s", m)
	t.Cleanup(func() {
		_ = a.Stop()
		a.removeRoot()
	})
	return a
}

var smTokens atomic.Int64

// smGet asks the app at path with a fresh token.
func smGet(t *testing.T, a *Apache, path string) (smAnswer, string) {
	t.Helper()
	return smGetWithin(t, a, path, 0)
}

// smGetWithin is smGet, retrying a 503 (daemons still starting) for up to wait.
func smGetWithin(t *testing.T, a *Apache, path string, wait time.Duration) (smAnswer, string) {
	t.Helper()
	tok := fmt.Sprintf("sm%d", smTokens.Add(1))
	r := Get(t, a.URL(path+"?tok="+tok))
	for deadline := time.Now().Add(wait); r.Status == 503 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		r = Get(t, a.URL(path+"?tok="+tok))
	}
	require.Equal(t, 200, r.Status, "%s: %s\n%s", path, r.Body, a.ErrorLogContent())
	var ans smAnswer
	require.NoError(t, json.Unmarshal([]byte(r.Body), &ans), r.Body)
	return ans, "GET " + path + "?tok=" + tok + " HTTP/1.1"
}

// checkScoreboard asserts a dict answer: mod_wsgi's keys and types, one
// process entry per ServerLimit slot with ThreadLimit workers each, and the
// request itself among the workers, busy writing ('W'), in an Apache child
// (the app's process in embedded mode, another in daemon mode).
func checkScoreboard(t *testing.T, ans smAnswer, requestLine string, embedded bool) {
	t.Helper()
	require.Equal(t, "dict", ans.Type)
	assert.Equal(t, serverMetricsTypes, ans.Types)
	assert.Equal(t, serverMetricsProcess, ans.Process)
	assert.Equal(t, serverMetricsWorker, ans.Worker)
	assert.Positive(t, ans.ServerLimit)
	assert.Positive(t, ans.ThreadLimit)
	assert.Equal(t, ans.ServerLimit, ans.NProcesses, "one entry per scoreboard process slot")
	assert.Equal(t, []int{ans.ThreadLimit}, ans.NWorkers, "thread_limit workers per process")
	assert.True(t, ans.Running, "restart_time <= current_time, running_time >= 0")
	for _, s := range ans.Statuses {
		assert.Contains(t, "._SRWKLDCGI", s, "status letters are mod_wsgi's")
	}
	require.Len(t, ans.Mine, 1, "the request being served is one worker entry")
	assert.Equal(t, "W", ans.Mine[0].Status)
	assert.Equal(t, requestLine, ans.Mine[0].Request)
	if embedded {
		assert.Equal(t, ans.Pid, ans.Mine[0].Pid, "embedded: this process's own slot")
	} else {
		assert.NotEqual(t, ans.Pid, ans.Mine[0].Pid, "daemon: the Apache child that forwarded it")
	}
}

func TestServerMetrics_EmbeddedOn(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := startServerMetrics(t, targetModule(), mpm, serverMetricsOnSnippet)
		ans, line := smGet(t, a, "/emb")
		checkScoreboard(t, ans, line, true)
		assert.NotContains(t, a.ErrorLogContent(), "not honoured", "WSGIServerMetrics is honoured")
	})
}

func TestServerMetrics_EmbeddedOff(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := startServerMetrics(t, targetModule(), mpm, serverMetricsOffSnippet)
		ans, _ := smGet(t, a, "/emb")
		assert.Equal(t, "NoneType", ans.Type, "WSGIServerMetrics Off")
	})
}

func TestServerMetrics_Daemon(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := startServerMetrics(t, targetModule(), mpm, serverMetricsDaemonSnippet)
		ans, line := smGet(t, a, "/don")
		checkScoreboard(t, ans, line, false)

		off, _ := smGet(t, a, "/doff")
		assert.Equal(t, "NoneType", off.Type, "a daemon group without server-metrics=On")

		emb, _ := smGet(t, a, "/emb")
		if !(emb.Type == "dict" && knownModWsgiDeviation(t, a,
			"WSGIServerMetrics not written is -1 in mod_wsgi, taken as On by server_metrics() in Apache's children")) {
			assert.Equal(t, "NoneType", emb.Type, "WSGIServerMetrics not written: Off")
		}
		assert.NotContains(t, a.ErrorLogContent(), "not honoured", "server-metrics= is honoured")

		// After a graceful restart the new daemons are forked from a parent
		// that has the scoreboard already (mod_wsgi's daemons may answer 503
		// until they are back).
		require.NoError(t, a.Graceful())
		ans, line = smGetWithin(t, a, "/don", 10*time.Second)
		checkScoreboard(t, ans, line, false)
	})
}

// The same requests to mod_wsgi and gowsgi: the same answer types and key
// sets (not values) at every level.
func TestDifferential_ServerMetrics(t *testing.T) {
	differentialOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		for _, c := range []struct{ snippet, path string }{
			{serverMetricsOnSnippet, "/emb"},
			{serverMetricsOffSnippet, "/emb"},
			{serverMetricsDaemonSnippet, "/don"},
			{serverMetricsDaemonSnippet, "/doff"},
		} {
			var ref smAnswer
			var refLine string
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				ref, refLine = smGet(t, startServerMetrics(t, ModModWsgi, mpm, c.snippet), c.path)
			}()
			cand, candLine := smGet(t, startServerMetrics(t, ModGowsgi, mpm, c.snippet), c.path)
			wg.Wait()
			assert.Equal(t, ref.Type, cand.Type, "%s: type", c.path)
			assert.Equal(t, ref.Types, cand.Types, "%s: keys and types", c.path)
			assert.Equal(t, ref.Process, cand.Process, "%s: process keys and types", c.path)
			assert.Equal(t, ref.Worker, cand.Worker, "%s: worker keys and types", c.path)
			assert.Equal(t, len(ref.Mine), len(cand.Mine), "%s: the request's worker entries", c.path)
			if len(ref.Mine) == 1 && len(cand.Mine) == 1 {
				assert.Equal(t, ref.Mine[0].Status, cand.Mine[0].Status, "%s: status", c.path)
				assert.Equal(t, refLine, ref.Mine[0].Request)
				assert.Equal(t, candLine, cand.Mine[0].Request)
			}
			assert.Equal(t, ref.ServerLimit > 0, cand.ServerLimit > 0)
		}
	})
}
