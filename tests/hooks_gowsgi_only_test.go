package tests

// What gowsgi does with the auth hooks beyond mod_wsgi 4.9.4.

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// mod_wsgi 4.9.4 builds check_password's arguments with "s" (UTF-8): a user
// name or password that is not UTF-8 makes Py_BuildValue fail and the child
// crash (Py_DECREF(NULL)). gowsgi must answer 401 or 500, name the cause in
// one log line, and keep serving from the same child.
func TestGowsgiOnly_HooksBadBasicCredentials(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := hooksServer(t, mpm)
		for _, c := range []struct{ name, creds string }{
			{"latin-1 user", "j\xf6rg:secret"},
			{"latin-1 password", "alice:p\xe4ss"},
			{"lone continuation byte", "\x80\x80:\xff"},
			{"truncated UTF-8", "alice\xc3:x"},
		} {
			r := hooksGet(t, a, "/basic", "Authorization: Basic "+b64(c.creds))
			assert.Contains(t, []int{401, 500}, r.Status, c.name)
			if r.Status == 500 {
				lines := ClientLogLines(a, r.Port)
				assert.Contains(t, lines, appsDir()+"/hooks/auth.py", "%s: the log names the script", c.name)
				assert.Contains(t, strings.ToLower(lines), "utf-8", "%s: the log names the cause", c.name)
			}
			// the same server (and children) go on serving, with no crash
			ok := hooksGet(t, a, "/basic", authz("alice", "secret"))
			assert.Equal(t, 200, ok.Status, "after %s", c.name)
		}
		assert.Empty(t, crashLines(a.ErrorLogContent()), "no child crashed")
	})
}

// With WSGIPassAuthorization On in scope, the access and auth scripts see
// HTTP_AUTHORIZATION too (mod_wsgi's Auth_environ never has it).
func TestGowsgiOnly_HooksPassAuthorization(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := hooksServer(t, mpm)
		n := dumpName()
		r := hooksGet(t, a, "/basic-pass", authz("alice", "secret"), "X-Hooks-Dump: "+n)
		assert.Equal(t, 200, r.Status)
		assert.Equal(t, [2]any{"str", basicAuth("alice", "secret")}, readHooksDump(t, a, n, "check_password").Env()["HTTP_AUTHORIZATION"])
		e := envBody(t, r)
		assert.Equal(t, basicAuth("alice", "secret"), e["HTTP_AUTHORIZATION"], "the application sees it too")

		n = dumpName()
		r = hooksGet(t, a, "/acc-pass?allow=1", authz("u", "p"), "X-Hooks-Dump: "+n)
		assert.Equal(t, 200, r.Status)
		assert.Equal(t, [2]any{"str", basicAuth("u", "p")}, readHooksDump(t, a, n, "allow_access").Env()["HTTP_AUTHORIZATION"])

		// out of its scope: not there (as in mod_wsgi)
		n = dumpName()
		r = hooksGet(t, a, "/basic", authz("alice", "secret"), "X-Hooks-Dump: "+n)
		assert.Equal(t, 200, r.Status)
		_, has := readHooksDump(t, a, n, "check_password").Env()["HTTP_AUTHORIZATION"]
		assert.False(t, has)
	})
}
