package tests

// WSGICaseSensitivity, WSGIPassApacheRequest and WSGIVerboseDebugging:
// the first two compared with mod_wsgi, the third gowsgi's own lines.

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

const namingSnippet = `
WSGIScriptAlias /named @APPS@/naming/MixedCase.wsgi
WSGIScriptAlias /rec @APPS@/naming/MixedCase.wsgi
<Location /rec>
    WSGIPassApacheRequest On
</Location>
`

func moduleNameOf(path string) string {
	sum := md5.Sum([]byte(path))
	return "_mod_wsgi_" + hex.EncodeToString(sum[:])
}

// mod_wsgi 4.9.4 hashes the lower-cased script path when
// WSGICaseSensitivity is On, its default on Linux, and the path as written
// when it is Off; WSGIPassApacheRequest puts a PyCapsule in the environ.
func TestServerDirectives_ModuleNamingAndApacheRequest(t *testing.T) {
	script := filepath.Join(appsDir(), "naming", "MixedCase.wsgi")
	forEachMPM(t, func(t *testing.T, mpm string) {
		for _, c := range []struct{ directive, name string }{
			{"", moduleNameOf(strings.ToLower(script))},
			{"WSGICaseSensitivity On\n", moduleNameOf(strings.ToLower(script))},
			{"WSGICaseSensitivity Off\n", moduleNameOf(script)},
		} {
			a := StartApache(t, ServerSpec{MPM: mpm, Snippet: c.directive + namingSnippet})
			assert.Equal(t, c.name+" -", Get(t, a.URL("/named")).Body, "module name with %q", c.directive)
			assert.Equal(t, c.name+" PyCapsule", Get(t, a.URL("/rec")).Body, "apache.request_rec with %q", c.directive)
		}
	})
}

// In daemon mode there is no request_rec to pass: mod_wsgi leaves the key
// out, and so does gowsgi.
func TestServerDirectives_ApacheRequestNotInDaemonMode(t *testing.T) {
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: "WSGIDaemonProcess rec threads=2\n" +
		"WSGIScriptAlias /rec @APPS@/naming/MixedCase.wsgi process-group=rec\n" +
		"<Location /rec>\n    WSGIPassApacheRequest On\n</Location>\n"})
	r := Get(t, a.URL("/rec"))
	assert.Equal(t, 200, r.Status)
	assert.True(t, strings.HasSuffix(r.Body, " -"), "no apache.request_rec in daemon mode: %q", r.Body)
}

// WSGIVerboseDebugging On: each daemon process says when its threads start
// and exit; Off (the default) it does not.
func TestGowsgiOnly_VerboseDebugging(t *testing.T) {
	gowsgiOnly(t)
	for _, verbose := range []bool{true, false} {
		snippet := "WSGIDaemonProcess talk threads=3\nWSGIScriptAlias /v @APPS@/env.wsgi process-group=talk\n"
		if verbose {
			snippet = "WSGIVerboseDebugging On\n" + snippet
		}
		a := StartApache(t, ServerSpec{MPM: "event", Snippet: snippet})
		GetEnv(t, a.URL("/v"), nil)
		started := "Starting 3 threads in daemon process 'talk'."
		if !verbose {
			time.Sleep(300 * time.Millisecond)
			assert.NotContains(t, a.ErrorLogContent(), started)
			continue
		}
		WaitLog(t, a, 5*time.Second, started)
		a.Stop()
		log := a.ErrorLogContent()
		for i := 1; i <= 3; i++ {
			assert.Contains(t, log, fmt.Sprintf("Exiting thread %d in daemon process 'talk'.", i))
		}
	}
}
