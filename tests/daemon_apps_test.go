package tests

// Apps in daemon mode: Django, import scripts and preloading into a group
// (threads=0 service scripts too). A daemon killed under load: daemon_faults_test.go.

import (
	"net/url"
	"os"
	"strings"
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
			skipUnderGroupPython(t, "Django is Debian's python3-django, in the server's Python's dist-packages")
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
