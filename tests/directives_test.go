package tests

// Per-directory directives on the main server: callable object,
// authorization passing, HEAD mapping, trusted proxy headers, reloading.

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDirectives_CallableObject(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		for path, want := range map[string]string{
			"/callopt": "callable=other",
			"/calldir": "callable=other",
			"/callenv": "callable=fromenv",
		} {
			r := Get(t, a.URL(path))
			assert.Equal(t, 200, r.Status, path)
			assert.Equal(t, want, r.Body, path)
		}
		e := GetEnv(t, a.URL("/emb"), nil).Environ
		assert.Equal(t, "application", e["mod_wsgi.callable_object"])
	})
}

func TestDirectives_PassAuthorization(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		hdrs := map[string]string{"Authorization": "Basic dXNlcjpwYXNz", "Proxy-Authorization": "Basic cHJveHk6cHc="}
		type want struct{ auth, proxy bool }
		for path, w := range map[string]want{
			"/auth-default": {false, false},
			"/auth-on":      {true, false},
			"/auth-opt":     {true, false},
			"/auth-cgi":     {true, true},
		} {
			e := GetEnv(t, a.URL(path), hdrs).Environ
			if w.auth {
				assert.Equal(t, "Basic dXNlcjpwYXNz", e["HTTP_AUTHORIZATION"], path)
			} else {
				assert.NotContains(t, e, "HTTP_AUTHORIZATION", path)
			}
			if w.proxy {
				assert.Equal(t, "Basic cHJveHk6cHc=", e["HTTP_PROXY_AUTHORIZATION"], path)
			} else {
				assert.NotContains(t, e, "HTTP_PROXY_AUTHORIZATION", path)
			}
		}
	})
}

func TestDirectives_MapHEADToGET(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		r := Do(t, "HEAD", a.URL("/headget"), nil, nil)
		assert.Equal(t, 200, r.Status)
		assert.Equal(t, "GET", r.Header.Get("X-Method"), "WSGIMapHEADToGET On presents HEAD as GET")
		assert.Equal(t, "", r.Body)
		r = Do(t, "HEAD", a.URL("/emb"), nil, nil)
		assert.Equal(t, "HEAD", r.Header.Get("X-Method"), "no WSGIMapHEADToGET (Off in effect, as in mod_wsgi 4.9.4) keeps HEAD")
	})
}

func TestDirectives_TrustedProxyHeaders(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		hdrs := map[string]string{
			"X-Forwarded-For":    "1.2.3.4",
			"X-Forwarded-Proto":  "https",
			"X-Real-IP":          "9.9.9.9",
			"X-Forwarded-Scheme": "ftp",
		}
		t.Run("trusted proxy", func(t *testing.T) {
			e := GetEnv(t, a.URL("/proxy-trusted"), hdrs).Environ
			assert.Equal(t, "1.2.3.4", e["REMOTE_ADDR"])
			assert.Equal(t, "https", e["wsgi.url_scheme"])
			assert.Equal(t, "1.2.3.4", e["HTTP_X_FORWARDED_FOR"])
			assert.Equal(t, "https", e["HTTP_X_FORWARDED_PROTO"])
			assert.NotContains(t, e, "HTTP_X_REAL_IP", "untrusted header of the same purpose is dropped")
			assert.NotContains(t, e, "HTTP_X_FORWARDED_SCHEME", "untrusted header of the same purpose is dropped")
		})
		t.Run("all clients trusted without WSGITrustedProxies", func(t *testing.T) {
			e := GetEnv(t, a.URL("/proxy-all"), hdrs).Environ
			assert.Equal(t, "1.2.3.4", e["REMOTE_ADDR"])
			assert.Equal(t, "https", e["wsgi.url_scheme"])
			assert.NotContains(t, e, "HTTP_X_REAL_IP")
		})
		t.Run("client not in WSGITrustedProxies", func(t *testing.T) {
			e := GetEnv(t, a.URL("/proxy-notrust"), hdrs).Environ
			assert.Equal(t, "127.0.0.1", e["REMOTE_ADDR"])
			assert.Equal(t, "http", e["wsgi.url_scheme"])
			assert.NotContains(t, e, "HTTP_X_FORWARDED_FOR")
			assert.NotContains(t, e, "HTTP_X_FORWARDED_PROTO")
			assert.NotContains(t, e, "HTTP_X_REAL_IP")
		})
		t.Run("no proxy config leaves headers alone", func(t *testing.T) {
			e := GetEnv(t, a.URL("/emb"), hdrs).Environ
			assert.Equal(t, "127.0.0.1", e["REMOTE_ADDR"])
			assert.Equal(t, "http", e["wsgi.url_scheme"])
			assert.Equal(t, "1.2.3.4", e["HTTP_X_FORWARDED_FOR"])
			assert.Equal(t, "9.9.9.9", e["HTTP_X_REAL_IP"])
		})
	})
}

func TestDirectives_ScriptReloading(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		c := singleConnClient()
		get := func(path string) string {
			r, err := doReq(c, "GET", a.URL(path), nil, nil)
			require.NoError(t, err)
			require.Equal(t, 200, r.Status, r.String())
			return r.Body
		}
		on1, off1 := get("/reload-on"), get("/reload-off")
		require.Regexp(t, `^version=1 hits=1 pid=\d+$`, on1)
		require.Regexp(t, `^version=1 hits=1 pid=\d+$`, off1)
		assert.Regexp(t, `^version=1 hits=2 `, get("/reload-on"))

		future := time.Now().Add(10 * time.Second)
		for _, f := range []string{"on.wsgi", "off.wsgi"} {
			p := filepath.Join(a.Root, "reload", f)
			require.NoError(t, os.WriteFile(p, []byte(reloadScript("2")), 0o644))
			require.NoError(t, os.Chtimes(p, future, future))
		}
		on2, off2 := get("/reload-on"), get("/reload-off")
		assert.Regexp(t, `^version=2 hits=1 `, on2, "WSGIScriptReloading On re-imports the touched script")
		assert.Regexp(t, `^version=1 hits=2 `, off2, "WSGIScriptReloading Off keeps the loaded module")
		// embedded mode reloads in place: same process
		assert.Equal(t, on1[len("version=1 hits=1 "):], on2[len("version=2 hits=1 "):])
	})
}
