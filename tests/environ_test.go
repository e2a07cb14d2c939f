package tests

// environ contents (reference 2.1).

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnviron_Embedded(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		d := GetEnv(t, a.URL("/emb/foo/bar?x=1&y=%C3%A9"), map[string]string{"X-Custom": "custom-value"})
		e := d.Environ
		port := strconv.Itoa(a.Port)

		// WSGI keys
		assert.Equal(t, "(1, 0)", e["wsgi.version"])
		assert.Equal(t, "tuple", d.Types["wsgi.version"])
		assert.Equal(t, "http", e["wsgi.url_scheme"])
		assert.Equal(t, "True", e["wsgi.input_terminated"])
		assert.Equal(t, "False", e["wsgi.run_once"])
		assert.Equal(t, "True", e["wsgi.multiprocess"], "all three MPMs are multi-process")
		if mpm == "prefork" {
			assert.Equal(t, "False", e["wsgi.multithread"])
		} else {
			assert.Equal(t, "True", e["wsgi.multithread"])
		}
		assert.Equal(t, "Input", d.Types["wsgi.input"])
		assert.Equal(t, "TextIOWrapper", d.Types["wsgi.errors"])
		assert.Contains(t, e, "wsgi.file_wrapper")

		// mod_wsgi keys
		assert.Equal(t, "(4, 9, 4)", e["mod_wsgi.version"])
		assert.Equal(t, "tuple", d.Types["mod_wsgi.version"])
		assert.Equal(t, "tuple", d.Types["apache.version"])
		assert.True(t, strings.HasPrefix(e["apache.version"].(string), "(2, 4, "), "apache.version %v", e["apache.version"])
		assert.Equal(t, "", e["mod_wsgi.process_group"])
		assert.Equal(t, "localhost:"+port+"|/emb", e["mod_wsgi.application_group"])
		assert.Equal(t, "application", e["mod_wsgi.callable_object"])
		assert.Equal(t, "wsgi-script", e["mod_wsgi.request_handler"])
		assert.Equal(t, "", e["mod_wsgi.handler_script"])
		assert.Equal(t, "1", e["mod_wsgi.script_reloading"])
		assert.Equal(t, "0", e["mod_wsgi.enable_sendfile"])
		assert.Equal(t, "0", e["mod_wsgi.ignore_activity"])
		assert.Equal(t, "127.0.0.1", e["mod_wsgi.listener_host"])
		assert.Equal(t, port, e["mod_wsgi.listener_port"])
		assert.Equal(t, "/emb", e["mod_wsgi.script_name"])
		assert.Equal(t, "/foo/bar", e["mod_wsgi.path_info"])
		for _, k := range []string{"mod_wsgi.request_start", "mod_wsgi.script_start"} {
			v, _ := e[k].(string)
			_, err := strconv.ParseInt(v, 10, 64)
			assert.NoError(t, err, "%s must be a string of microseconds, got %v (%s)", k, e[k], d.Types[k])
			assert.Greater(t, len(v), 15, k)
		}
		for _, k := range []string{"mod_wsgi.total_requests", "mod_wsgi.thread_id", "mod_wsgi.thread_requests"} {
			assert.Equal(t, "int", d.Types[k], k)
		}
		for _, k := range []string{"mod_wsgi.queue_start", "mod_wsgi.daemon_start", "mod_wsgi.daemon_connects",
			"mod_wsgi.daemon_restarts", "apache.request_rec", "mod_ssl.is_https", "mod_ssl.var_lookup", "PATH", "HTTPS"} {
			assert.NotContains(t, e, k, "embedded environ must not contain %s", k)
		}
		// request_id is Apache's %L log id; connection_id only exists when
		// something generated a connection log id (not in this config).
		assert.Regexp(t, `^[A-Za-z0-9@+/_-]{6,}$`, e["mod_wsgi.request_id"])

		// CGI keys
		for _, k := range []string{"CONTEXT_DOCUMENT_ROOT", "CONTEXT_PREFIX", "DOCUMENT_ROOT", "GATEWAY_INTERFACE", "PATH_INFO",
			"PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_PORT", "REQUEST_METHOD", "REQUEST_SCHEME", "REQUEST_URI",
			"SCRIPT_FILENAME", "SCRIPT_NAME", "SERVER_ADDR", "SERVER_ADMIN", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
			"SERVER_SIGNATURE", "SERVER_SOFTWARE"} {
			assert.Contains(t, e, k)
		}
		assert.Equal(t, "CGI/1.1", e["GATEWAY_INTERFACE"])
		assert.Equal(t, "GET", e["REQUEST_METHOD"])
		assert.Equal(t, "x=1&y=%C3%A9", e["QUERY_STRING"])
		assert.Equal(t, "/emb/foo/bar?x=1&y=%C3%A9", e["REQUEST_URI"])
		assert.Equal(t, "/emb", e["SCRIPT_NAME"])
		assert.Equal(t, "/foo/bar", e["PATH_INFO"])
		assert.Equal(t, filepath.Join(appsDir(), "env.wsgi"), e["SCRIPT_FILENAME"])
		assert.Equal(t, "127.0.0.1", e["REMOTE_ADDR"])
		assert.Equal(t, "127.0.0.1", e["SERVER_ADDR"])
		assert.Equal(t, "127.0.0.1", e["SERVER_NAME"], "UseCanonicalName Off: SERVER_NAME follows the Host header")
		assert.Equal(t, port, e["SERVER_PORT"])
		assert.Equal(t, "HTTP/1.1", e["SERVER_PROTOCOL"])
		assert.Equal(t, "http", e["REQUEST_SCHEME"])
		assert.Equal(t, "webmaster@localhost", e["SERVER_ADMIN"])
		sw, _ := e["SERVER_SOFTWARE"].(string)
		// the module/Python tokens legitimately differ between implementations
		assert.True(t, strings.HasPrefix(sw, "Apache/2.4.71 (Debian) "), "SERVER_SOFTWARE %q", sw)
		assert.Equal(t, "custom-value", e["HTTP_X_CUSTOM"])
		assert.Equal(t, fmt.Sprintf("127.0.0.1:%d", a.Port), e["HTTP_HOST"])

		// Python side
		assert.Equal(t, []any{"mod_wsgi"}, d.Py["argv"])
		sum := md5.Sum([]byte(filepath.Join(appsDir(), "env.wsgi")))
		assert.Equal(t, "_mod_wsgi_"+hex.EncodeToString(sum[:]), d.Py["module_name"])
	})
}

func TestEnviron_PostContentHeaders(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		r := Do(t, "POST", a.URL("/emb"), strings.NewReader("a=1&b=2"),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		require.Equal(t, 200, r.Status, r.String())
		e := decodeEnv(t, r.Body).Environ
		assert.Equal(t, "POST", e["REQUEST_METHOD"])
		assert.Equal(t, "application/x-www-form-urlencoded", e["CONTENT_TYPE"])
		assert.Equal(t, "7", e["CONTENT_LENGTH"])
		assert.NotContains(t, e, "HTTP_CONTENT_TYPE")
		assert.NotContains(t, e, "HTTP_CONTENT_LENGTH")
		assert.Equal(t, "", e["PATH_INFO"])
	})
}

func TestEnviron_InvalidHeaderNamesDroppedAndLatin1Values(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		raw := "GET /emb HTTP/1.1\r\nHost: localhost\r\nX_Under: dropped\r\nX-Ok: kept\r\nX-Latin: caf\xe9\r\nConnection: close\r\n\r\n"
		rr := RawRequest(t, a.Addr(), raw)
		require.Equal(t, 200, rr.Res.StatusCode, rr.Body)
		e := decodeEnv(t, rr.Body).Environ
		assert.Equal(t, "kept", e["HTTP_X_OK"])
		assert.NotContains(t, e, "HTTP_X_UNDER", "header names with '_' must be dropped")
		assert.Equal(t, "caf\u00e9", e["HTTP_X_LATIN"], "header values are latin-1 decoded")
		assert.Equal(t, "localhost", e["SERVER_NAME"])
	})
}

func TestEnviron_SetEnvRewriteAndSetEnvIf(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		e := GetEnv(t, a.URL("/setenv/p"), map[string]string{"User-Agent": "gowsgi-ua/1.0"}).Environ
		assert.Equal(t, "hello-setenv", e["GOWSGI_SETENV"])
		assert.Equal(t, "from-rewrite", e["GOWSGI_REWRITE"])
		assert.Equal(t, "matched", e["GOWSGI_SETENVIF"])
		e2 := GetEnv(t, a.URL("/emb"), map[string]string{"User-Agent": "other"}).Environ
		assert.NotContains(t, e2, "GOWSGI_SETENV")
		assert.NotContains(t, e2, "GOWSGI_SETENVIF")
	})
}
