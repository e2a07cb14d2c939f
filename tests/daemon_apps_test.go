package tests

// Apps in daemon mode: Django, import scripts and preloading into a group
// (threads=0 service scripts too), and a daemon killed under load.

import (
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const daemonAppsSnippet = `
WSGIDaemonProcess dj threads=4
WSGIScriptAlias /django @APPS@/djangoapp/django.wsgi process-group=dj
WSGIDaemonProcess imp threads=2
WSGIImportScript @APPS@/importscript.py process-group=imp application-group=%{GLOBAL}
WSGIScriptAlias /imp @APPS@/env.wsgi process-group=imp application-group=%{GLOBAL}
WSGIDaemonProcess service threads=0
WSGIImportScript @ROOT@/scratch/service.py process-group=service application-group=%{GLOBAL}
`

func TestDaemon_Apps(t *testing.T) {
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: daemonAppsSnippet, Files: map[string]string{
			"scratch/service.py": "import os\nopen(os.path.join(os.path.dirname(__file__), 'service-ran'), 'w').write(str(os.getpid()))\n",
		}})

		t.Run("django", func(t *testing.T) {
			r := Get(t, a.URL("/django/item/21/"))
			require.Equal(t, 200, r.Status, r.String())
			m := DecodeJSON(t, r.Body)
			assert.EqualValues(t, 42, m["double"])
			assert.Equal(t, "/item/21/", m["path_info"])
			form := url.Values{"a": {"1"}, "b": {"two words"}}
			r = Do(t, "POST", a.URL("/django/form/"), strings.NewReader(form.Encode()), formHeaders)
			require.Equal(t, 200, r.Status, r.String())
			assert.Equal(t, map[string]any{"a": "1", "b": "two words"}, DecodeJSON(t, r.Body)["fields"])
			assert.Equal(t, 404, Get(t, a.URL("/django/nope/")).Status)
		})

		t.Run("import script and preload run in the daemon", func(t *testing.T) {
			d := GetEnv(t, a.URL("/imp"), nil)
			assert.Equal(t, "imp", d.Environ["mod_wsgi.process_group"])
			assert.Equal(t, d.Py["pid"], d.Py["imported_marker"], "WSGIImportScript ran in this daemon process at start")
			assert.Contains(t, a.ErrorLogContent(), "Loading Python script file '"+appsDir()+"/env.wsgi'",
				"the alias naming both groups was preloaded")
		})

		t.Run("threads=0 runs its import script", func(t *testing.T) {
			deadline := time.Now().Add(5 * time.Second)
			var pid []byte
			for time.Now().Before(deadline) {
				if b, err := os.ReadFile(a.Root + "/scratch/service-ran"); err == nil && len(b) > 0 {
					pid = b
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			require.NotEmpty(t, pid, "the service script ran")
			time.Sleep(1500 * time.Millisecond)
			assert.NotRegexp(t, `group 'service' \(pid \d+\) (exited|was killed)`, a.ErrorLogContent(), "a service process stays up")
		})
	})
}

// kill -9 of a daemon process under load: it is replaced, only the
// requests it held fail, and no Apache child dies.
func TestDaemon_KilledUnderLoad(t *testing.T) {
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: `
WSGIDaemonProcess load processes=2 threads=4
WSGIScriptAlias /load @APPS@/daemon/probe.wsgi process-group=load
`})
		victim := getFacts(t, a.URL("/load"), nil)
		var ok, failed atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					r, err := doReq(longClient, "GET", a.URL("/load?op=sleep&s=0.05"), nil, nil)
					if err == nil && r.Status == 200 {
						ok.Add(1)
					} else {
						failed.Add(1)
					}
				}
			}()
		}
		time.Sleep(500 * time.Millisecond)
		require.NoError(t, syscall.Kill(victim.Pid, syscall.SIGKILL))
		killed := time.Now()
		// Replaced within a second or so: the parent notices the death on
		// its next maintenance tick (Apache's: once a second) and forks.
		replaced := time.Duration(0)
		for time.Since(killed) < 5*time.Second {
			if strings.Contains(a.ErrorLogContent(), "was killed by signal 9 (Killed); starting a new one") {
				replaced = time.Since(killed)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		f := getFacts(t, a.URL("/load?op=facts"), nil)
		assert.NotEqual(t, victim.Pid, f.Pid)
		time.Sleep(500 * time.Millisecond)
		close(stop)
		wg.Wait()
		assert.NotZero(t, replaced, "the killed process was replaced")
		assert.Less(t, replaced, 1500*time.Millisecond, "replaced within about a second")
		assert.Greater(t, ok.Load(), int64(20), "the load went on")
		assert.LessOrEqual(t, failed.Load(), int64(4), "only the requests the killed process held failed (threads=4)")
		log := a.ErrorLogContent()
		assert.NotContains(t, log, "Segmentation fault")
		assert.NotContains(t, log, "exit signal", "no Apache child died")
	})
}
