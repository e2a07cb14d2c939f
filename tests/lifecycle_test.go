package tests

// Apache lifecycle: graceful (SIGUSR1), restart (SIGHUP), graceful-stop
// (SIGWINCH) and stop (SIGTERM) under light load.

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const lifecycleSnippet = `
WSGIScriptAlias /emb @APPS@/env.wsgi
WSGIScriptAlias /sleep @APPS@/sleep.wsgi
`

type loadGen struct {
	ok, failed atomic.Int64
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(a *Apache) *loadGen {
	l := &loadGen{stop: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		c := singleConnClient()
		c.Timeout = 10 * time.Second
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			r, err := doReq(c, "GET", a.URL("/emb/load"), nil, nil)
			if err == nil && r.Status == 200 && strings.Contains(r.Body, `"SCRIPT_NAME": "/emb"`) {
				l.ok.Add(1)
			} else {
				l.failed.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return l
}

func (l *loadGen) finish() (int64, int64) {
	close(l.stop)
	l.wg.Wait()
	return l.ok.Load(), l.failed.Load()
}

// getEventually retries until a 200 arrives (after SIGHUP the listener is
// briefly re-opened).
func getEventually(t *testing.T, a *Apache, path string) Resp {
	t.Helper()
	var last Resp
	var err error
	for i := 0; i < 40; i++ {
		last, err = doReq(httpClient, "GET", a.URL(path), nil, nil)
		if err == nil && last.Status == 200 {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s never returned 200: %v %s", path, err, last)
	return last
}

func TestLifecycle_RestartsUnderLoad(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: lifecycleSnippet})
		getEventually(t, a, "/emb")

		// an in-flight embedded request survives a graceful restart
		type result struct {
			r   Resp
			err error
			d   time.Duration
		}
		done := make(chan result, 1)
		go func() {
			s := time.Now()
			r, err := doReq(httpClient, "GET", a.URL("/sleep?s=2"), nil, nil)
			done <- result{r, err, time.Since(s)}
		}()
		time.Sleep(400 * time.Millisecond)
		require.NoError(t, a.Graceful())
		res := <-done
		require.NoError(t, res.err, "in-flight request during graceful")
		assert.Equal(t, 200, res.r.Status, res.r.String())
		assert.Regexp(t, `^slept 2(\.0)? pid=\d+$`, res.r.Body)
		assert.GreaterOrEqual(t, res.d, 2*time.Second)

		load := startLoad(a)
		for i, step := range []func() error{a.Graceful, a.Restart, a.Graceful, a.Restart, a.Graceful} {
			require.NoError(t, step(), "step %d", i)
			d := decodeEnv(t, getEventually(t, a, "/emb").Body)
			assert.Equal(t, "/emb", d.Environ["SCRIPT_NAME"])
			time.Sleep(150 * time.Millisecond)
		}
		ok, failed := load.finish()
		assert.Greater(t, ok, int64(10), "load generator got %d OK / %d failed", ok, failed)
		t.Logf("load: %d ok, %d failed (failures are expected only around SIGHUP)", ok, failed)

		assert.Equal(t, 7, strings.Count(a.ErrorLogContent(), "resuming normal operations"), "start + one new generation per signal")
		assert.Empty(t, crashLines(a.ErrorLogContent()), "no child may crash during graceful/restart")

		s := time.Now()
		require.NoError(t, a.Stop())
		t.Logf("stop took %v", time.Since(s))
		assert.Empty(t, a.Processes(), "no process of this server may survive the stop")
		assertNoShutdownCrash(t, a)
	})
}

func TestLifecycle_GracefulStopFinishesInFlight(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: lifecycleSnippet})
		getEventually(t, a, "/emb")
		done := make(chan Resp, 1)
		go func() {
			r, err := doReq(httpClient, "GET", a.URL("/sleep?s=2"), nil, nil)
			if err != nil {
				r.Body = err.Error()
			}
			done <- r
		}()
		time.Sleep(400 * time.Millisecond)
		require.NoError(t, a.GracefulStop(40*time.Second))
		r := <-done
		assert.Equal(t, 200, r.Status, "in-flight request must complete during graceful-stop: %s", r)
		assert.Empty(t, a.Processes())
		assert.Contains(t, a.ErrorLogContent(), "caught SIGWINCH, shutting down gracefully")
		assertNoShutdownCrash(t, a)
	})
}

func TestLifecycle_RepeatedStartStop(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		for i := 0; i < 2; i++ {
			a, err := startApache(ServerSpec{Module: targetModule(), MPM: mpm, Snippet: lifecycleSnippet})
			requireModule(t, targetModule())
			require.NoError(t, err)
			r := getEventually(t, a, "/emb")
			assert.Equal(t, 200, r.Status)
			require.NoError(t, a.Stop(), "stop #%d", i)
			assert.Empty(t, a.Processes())
			assertNoShutdownCrash(t, a)
			a.removeRoot()
		}
	})
}
