package tests

// Go's runtime in a daemon process starts with one P: the forked process
// execs its launcher with GOMAXPROCS=1 (cshim/daemon_child.c), and the
// engine puts Apache's environment back before Python reads os.environ
// (wsgi/daemon_goruntime.go). docs/benchmarks.md, "Go runtime in an idle
// daemon", has what the second P cost.

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const goRuntimeEnvApp = `
import json, os
def application(environ, start_response):
    body = json.dumps({'pid': os.getpid(), 'GOMAXPROCS': os.environ.get('GOMAXPROCS'),
                       'marker': os.environ.get('GOWSGI_DAEMON_GOMAXPROCS')}).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
`

func TestGowsgiOnly_DaemonGoRuntimeEnviron(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	three := "3"
	forEachMPM(t, func(t *testing.T, mpm string) {
		for _, c := range []struct {
			name   string
			env    []string
			expect *string // os.environ['GOMAXPROCS'] in the app
		}{
			{name: "unset", expect: nil},
			{name: "Apache's own", env: []string{"GOMAXPROCS=3"}, expect: &three},
		} {
			t.Run(c.name, func(t *testing.T) {
				a := StartApache(t, ServerSpec{MPM: mpm, Env: c.env, Files: map[string]string{"env.wsgi": goRuntimeEnvApp}, Snippet: `
WSGIDaemonProcess goenv processes=1 threads=2
WSGIScriptAlias /env @ROOT@/env.wsgi process-group=goenv application-group=%{GLOBAL}
`})
				r := Get(t, a.URL("/env"))
				require.Equal(t, 200, r.Status, r.String())
				var got struct {
					Pid        int     `json:"pid"`
					GOMAXPROCS *string `json:"GOMAXPROCS"`
					Marker     *string `json:"marker"`
				}
				require.NoError(t, json.Unmarshal([]byte(r.Body), &got), r.Body)
				assert.Equal(t, c.expect, got.GOMAXPROCS, "os.environ's GOMAXPROCS is Apache's")
				assert.Nil(t, got.Marker, "the engine's note does not reach os.environ")
				// What the process was exec'd with (its initial environment):
				// Go's runtime read GOMAXPROCS=1 as it started.
				raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", got.Pid))
				require.NoError(t, err)
				assert.Contains(t, strings.Split(string(raw), "\x00"), "GOMAXPROCS=1", "the daemon's Go runtime starts with one P")
			})
		}
	})
}
