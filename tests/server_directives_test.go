package tests

// WSGICaseSensitivity, WSGIPassApacheRequest and WSGIVerboseDebugging:
// the first two compared with mod_wsgi, the third gowsgi's own lines.

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
// and when each started thread exits; Off (the default) it does not.
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
		// Threads start as concurrency needs them (daemon_pool.go): the
		// first, and the one it started when it took the request; each
		// started thread says when it exits, and none beyond threads=.
		for i := 1; i <= 2; i++ {
			assert.Contains(t, log, fmt.Sprintf("Exiting thread %d in daemon process 'talk'.", i))
		}
		assert.NotContains(t, log, "Exiting thread 4 in daemon process 'talk'.")
	}
}

// An auth script under WSGIRestrictEmbedded On: Python starts in Apache's
// children for it (mod_wsgi's wsgi_python_required), while a WSGI app
// there is still refused with 500.
func TestServerDirectives_AuthScriptUnderRestrictEmbedded(t *testing.T) {
	a := StartApache(t, ServerSpec{MPM: "event", Snippet: `
<IfModule !auth_basic_module>
    LoadModule auth_basic_module /usr/lib/apache2/modules/mod_auth_basic.so
</IfModule>
<IfModule !authn_core_module>
    LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so
</IfModule>
<IfModule !authz_user_module>
    LoadModule authz_user_module /usr/lib/apache2/modules/mod_authz_user.so
</IfModule>
WSGIRestrictEmbedded On
WSGIDaemonProcess guarded threads=2
WSGIScriptAlias /guarded @APPS@/env.wsgi process-group=guarded
WSGIScriptAlias /embedded @APPS@/env.wsgi
<Location /guarded>
    AuthType Basic
    AuthName "guarded"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @ROOT@/auth.py
    Require valid-user
</Location>
`, Files: map[string]string{"auth.py": "def check_password(environ, user, password):\n    return password == 'pw'\n"}})
	r := Do(t, "GET", a.URL("/guarded/x"), nil, map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("ann:pw"))})
	require.Equal(t, 200, r.Status, "%s", r)
	e := decodeEnv(t, r.Body).Environ
	assert.Equal(t, "ann", e["REMOTE_USER"])
	assert.Equal(t, "guarded", e["mod_wsgi.process_group"])
	r = Do(t, "GET", a.URL("/guarded/x"), nil, map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("ann:no"))})
	assert.Equal(t, 401, r.Status)
	assert.Equal(t, 500, Get(t, a.URL("/embedded")).Status, "embedded apps stay refused")
}
