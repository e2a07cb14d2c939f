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
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const goRuntimeEnvApp = `
import json, os
def application(environ, start_response):
    fds = []
    for fd in os.listdir('/proc/self/fd'):
        try:
            fds.append(os.readlink('/proc/self/fd/' + fd))
        except OSError:
            pass
    body = json.dumps({'pid': os.getpid(), 'GOMAXPROCS': os.environ.get('GOMAXPROCS'),
                       'GODEBUG': os.environ.get('GODEBUG'), 'fds': fds,
                       'marker': os.environ.get('GOWSGI_DAEMON_GOMAXPROCS'),
                       'marker2': os.environ.get('GOWSGI_DAEMON_GODEBUG')}).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
`

func TestGowsgiOnly_DaemonGoRuntimeEnviron(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	three, debug := "3", "madvdontneed=1"
	forEachMPM(t, func(t *testing.T, mpm string) {
		for _, c := range []struct {
			name        string
			env         []string
			opts        string
			expect      *string // os.environ['GOMAXPROCS'] in the app
			expectDebug *string // and its GODEBUG
			execDebug   string  // GODEBUG in the environment the launcher was exec'd with
		}{
			{name: "unset", execDebug: "GODEBUG=containermaxprocs=0"},
			{name: "Apache's own", env: []string{"GOMAXPROCS=3", "GODEBUG=" + debug}, expect: &three, expectDebug: &debug,
				execDebug: "GODEBUG=madvdontneed=1,containermaxprocs=0"},
			// No exec (the engine loads in the fork): left as it was.
			{name: "server-metrics", env: []string{"GOMAXPROCS=3", "GODEBUG=" + debug}, opts: " server-metrics=On", expect: &three,
				expectDebug: &debug},
		} {
			t.Run(c.name, func(t *testing.T) {
				a := StartApache(t, ServerSpec{MPM: mpm, Env: c.env, Files: map[string]string{"env.wsgi": goRuntimeEnvApp}, Snippet: `
WSGIDaemonProcess goenv processes=1 threads=2` + c.opts + `
WSGIScriptAlias /env @ROOT@/env.wsgi process-group=goenv application-group=%{GLOBAL}
`})
				r := Get(t, a.URL("/env"))
				require.Equal(t, 200, r.Status, r.String())
				var got struct {
					Pid        int      `json:"pid"`
					GOMAXPROCS *string  `json:"GOMAXPROCS"`
					GODEBUG    *string  `json:"GODEBUG"`
					Fds        []string `json:"fds"`
					Marker     *string  `json:"marker"`
					Marker2    *string  `json:"marker2"`
				}
				require.NoError(t, json.Unmarshal([]byte(r.Body), &got), r.Body)
				assert.Equal(t, c.expect, got.GOMAXPROCS, "os.environ's GOMAXPROCS is Apache's")
				assert.Equal(t, c.expectDebug, got.GODEBUG, "os.environ's GODEBUG is Apache's")
				assert.Nil(t, got.Marker, "the engine's note does not reach os.environ")
				assert.Nil(t, got.Marker2, "the engine's note does not reach os.environ")
				if c.opts != "" {
					return
				}
				// Go's runtime read the cgroup's CPU limit and closed its files.
				for _, fd := range got.Fds {
					assert.NotContains(t, fd, "/sys/fs/cgroup", "a descriptor the app can see")
				}
				// What the process was exec'd with (its initial environment):
				// Go's runtime read GOMAXPROCS=1 as it started.
				raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", got.Pid))
				require.NoError(t, err)
				assert.Contains(t, strings.Split(string(raw), "\x00"), "GOMAXPROCS=1", "the daemon's Go runtime starts with one P")
				assert.Contains(t, strings.Split(string(raw), "\x00"), c.execDebug, "and keeps no cgroup files")
			})
		}
	})
}

// forkApp forks a child per signal that stops or drains a daemon process;
// each sends it to itself (delivered before kill(2) returns, as to any
// single-threaded process) and says so if it lives on. The answer is how
// each child ended: "signal N" or "exit N".
const forkApp = `
import os, signal
def application(environ, start_response):
    body = str(os.getpid()).encode()
    if environ.get('PATH_INFO') == '/fork':
        ends = []
        for sig in (signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP):
            pid = os.fork()
            if pid == 0:
                os.kill(os.getpid(), sig)
                os._exit(7)
            _, status = os.waitpid(pid, 0)
            if os.WIFSIGNALED(status):
                ends.append('signal %d' % os.WTERMSIG(status))
            else:
                ends.append('exit %d' % os.WEXITSTATUS(status))
        body = ', '.join(ends).encode()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
`

// The daemon's signals are taken in C (wsgi/daemon_signals.c), not by
// os/signal; a child an app forks keeps the handlers, and there a signal
// sent to it ends it as it would a plain Python process (multiprocessing's
// terminate()), without reaching the daemon process's monitor.
func TestGowsgiOnly_DaemonForkedChildSignals(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Files: map[string]string{"fork.wsgi": forkApp}, Snippet: `
WSGIDaemonProcess forky processes=1 threads=2
WSGIScriptAlias /f @ROOT@/fork.wsgi process-group=forky application-group=%{GLOBAL}
`})
		pid := Get(t, a.URL("/f/pid"))
		require.Equal(t, 200, pid.Status, pid.String())
		r := Get(t, a.URL("/f/fork"))
		require.Equal(t, 200, r.Status, r.String())
		assert.Equal(t, "signal 15, signal 10, signal 1", r.Body, "SIGTERM, SIGUSR1 and SIGHUP end a forked child, as in plain Python")
		// A byte in the daemon's signal pipe would reach its monitor at once;
		// 2 s is ample even on a loaded box.
		time.Sleep(2 * time.Second)
		assert.Equal(t, pid.Body, Get(t, a.URL("/f/pid")).Body, "the same daemon process serves on")
		assert.NotContains(t, a.ErrorLogContent(), "stopping: signal", "the daemon process was not told to stop")
		assert.NotContains(t, a.ErrorLogContent(), "SIGUSR1 (an eviction)", "the daemon process was not told to make way")
	})
}
