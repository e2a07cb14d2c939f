package wsgi_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gowsgi/gowsgi/wsgi/wsgitest"
)

func TestMain(m *testing.M) {
	if err := wsgitest.Start(wsgitest.Options{RestrictSignal: true, MaxThreads: 4}); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

func script(t testing.TB, name string) string {
	p, err := filepath.Abs(filepath.Join("testdata", name))
	require.NoError(t, err)
	return p
}

func do(t testing.TB, path string, mod ...func(*wsgitest.Request)) wsgitest.Response {
	s := script(t, "app.wsgi")
	r := wsgitest.Request{Script: s, ApplicationGroup: "", Mtime: 1, Reloading: true,
		Env: map[string]string{"PATH_INFO": path, "SCRIPT_FILENAME": s}}
	for _, m := range mod {
		m(&r)
	}
	return wsgitest.Do(r)
}

func TestHello(t *testing.T) {
	r := do(t, "/hello")
	require.Equal(t, 0, r.Result, r.String())
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "200 OK", r.StatusLine)
	assert.Equal(t, "text/plain", r.Header("Content-Type"))
	assert.Equal(t, "Hello, World!", string(r.Body))
}

func TestEnvironAdjustments(t *testing.T) {
	r := do(t, "/environ", func(r *wsgitest.Request) {
		r.Env["HTTP_X_ROUTE"] = "/environ"
		r.Env["PATH_INFO"] = "//a//b/"
		r.Env["SCRIPT_NAME"] = "/x//y"
		r.Env["PATH"] = "/usr/bin"
		r.Env["HTTPS"] = "on"
		r.Env["HTTP_X_LATIN"] = "caf\xe9"
	})
	require.Equal(t, 0, r.Result, r.String())
	body := string(r.Body)
	assert.Contains(t, body, "('PATH_INFO', '/a/b/')")
	assert.Contains(t, body, "('SCRIPT_NAME', '/x/y')")
	assert.Contains(t, body, "('wsgi.url_scheme', 'https')")
	assert.Contains(t, body, "('HTTP_X_LATIN', 'café')", "values are latin-1 native strings")
	assert.NotContains(t, body, "('PATH', ")
	assert.NotContains(t, body, "('HTTPS', ")
	assert.Contains(t, body, "('wsgi.version', (1, 0))")
	assert.Contains(t, body, "('wsgi.input_terminated', True)")
	assert.Contains(t, body, "('wsgi.run_once', False)")
	assert.Contains(t, body, "('mod_wsgi.version', (4, 9, 4))")
}

func TestEnvironPathInfoDefaultsToEmpty(t *testing.T) {
	s := script(t, "app.wsgi")
	r := wsgitest.Do(wsgitest.Request{Script: s, Mtime: 1, Env: map[string]string{"PATH_INFO": "/environ"}})
	require.Equal(t, 0, r.Result)
	assert.Contains(t, string(r.Body), "('wsgi.url_scheme', 'http')")
}

func TestInput(t *testing.T) {
	body := []byte("line one\nline two\nlast")
	cases := map[string]string{
		"all":       "line one\nline two\nlast",
		"n":         "lin|e o|ne\nline two\nlast",
		"readline":  "line one\n|li|ne two\n",
		"readlines": "line one\n|line two\n|last",
		"iter":      "line one\n|line two\n|last",
		"eof":       "b'line one\\nline two\\nlast'b''",
	}
	for mode, want := range cases {
		t.Run(mode, func(t *testing.T) {
			r := do(t, "/input", func(r *wsgitest.Request) {
				r.Env["QUERY_STRING"] = mode
				r.Body = body
			})
			require.Equal(t, 0, r.Result, r.String())
			assert.Equal(t, want, string(r.Body))
		})
	}
}

func TestInputNotReadUnlessAppReads(t *testing.T) {
	r := do(t, "/hello", func(r *wsgitest.Request) { r.Body = []byte("unread") })
	assert.Equal(t, 0, r.Reads, "the body (and so 100-continue) is only read when the app reads")
}

func TestStrBodyIs500(t *testing.T) {
	r := do(t, "/str")
	assert.Equal(t, 500, r.Result)
	assert.Contains(t, r.Log, "sequence of byte string values expected, value of type str found")
}

func TestNonLatin1HeaderIs500(t *testing.T) {
	r := do(t, "/latin1")
	assert.Equal(t, 500, r.Result)
	assert.Contains(t, r.Log, "unicode object contains non latin-1 characters")
}

func TestBadStatusIs500(t *testing.T) {
	r := do(t, "/badstatus")
	assert.Equal(t, 500, r.Result)
	assert.Contains(t, r.Log, "status code is not a 3 digit integer")
}

func TestUncaughtExceptionLogsTraceback(t *testing.T) {
	r := do(t, "/raise")
	assert.Equal(t, 500, r.Result)
	assert.Contains(t, r.Log, "Exception occurred processing WSGI script")
	assert.Contains(t, r.Log, "Traceback (most recent call last):")
	assert.Contains(t, r.Log, "RuntimeError: boom from the app")
}

func TestNoStartResponseIs500(t *testing.T) {
	r := do(t, "/nostart")
	assert.Equal(t, 500, r.Result)
	assert.Contains(t, r.Log, "response has not been started")
}

func TestShortBodyIsIncomplete(t *testing.T) {
	r := do(t, "/short")
	assert.Equal(t, wsgitest.Incomplete, r.Result, r.String())
	assert.Equal(t, "only ten b", string(r.Body))
}

func TestInvalidContentLengthIs500(t *testing.T) {
	r := do(t, "/badlength")
	assert.Equal(t, 500, r.Result)
	assert.Contains(t, r.Log, "ValueError: invalid content length")
}

func TestContentLengthTruncates(t *testing.T) {
	r := do(t, "/truncate")
	require.Equal(t, 0, r.Result, r.String())
	assert.Equal(t, "abcde", string(r.Body))
}

func TestWriteCallable(t *testing.T) {
	r := do(t, "/write")
	require.Equal(t, 0, r.Result, r.String())
	assert.Equal(t, "abcdef", string(r.Body))
}

func TestCloseAlwaysCalled(t *testing.T) {
	r := do(t, "/close")
	require.Equal(t, 0, r.Result, r.String())
	assert.Equal(t, "body", string(r.Body))
	assert.Contains(t, r.Log, "close called")
}

func TestStartResponseTwiceBeforeOutput(t *testing.T) {
	r := do(t, "/twice")
	require.Equal(t, 0, r.Result, r.String())
	assert.Equal(t, 201, r.Status)
}

func TestExcInfoAfterHeadersReraises(t *testing.T) {
	r := do(t, "/excinfo")
	assert.Equal(t, wsgitest.Incomplete, r.Result, "headers were sent: the connection must close")
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "partial", string(r.Body))
	assert.Contains(t, r.Log, "ValueError: late failure")
}

func TestFileWrapperAddsContentLength(t *testing.T) {
	st, err := os.Stat(script(t, "app.wsgi"))
	require.NoError(t, err)
	for _, sendfile := range []bool{false, true} {
		r := do(t, "/file", func(r *wsgitest.Request) { r.Sendfile = sendfile })
		require.Equal(t, 0, r.Result, r.String())
		assert.Equal(t, st.Size(), int64(len(r.Body)))
		assert.Equal(t, strconv.FormatInt(st.Size(), 10), r.Header("Content-Length"))
		if sendfile {
			assert.Equal(t, 1, r.Sendfiles)
		} else {
			assert.Equal(t, 0, r.Sendfiles)
		}
	}
}

func TestFileWrapperHonoursContentLength(t *testing.T) {
	for _, sendfile := range []bool{false, true} {
		r := do(t, "/file-cl", func(r *wsgitest.Request) { r.Sendfile = sendfile })
		require.Equal(t, 0, r.Result, r.String())
		assert.Equal(t, "# One app,", string(r.Body))
	}
}

func TestGeneratorStreamsWithFlushes(t *testing.T) {
	r := do(t, "/stream")
	require.Equal(t, 0, r.Result, r.String())
	assert.Equal(t, "chunk0chunk1chunk2", string(r.Body))
	assert.Equal(t, 3, r.Flushes)
}

func TestEmptyBody(t *testing.T) {
	r := do(t, "/empty")
	require.Equal(t, 0, r.Result, r.String())
	assert.Equal(t, 204, r.Status)
	assert.Empty(t, r.Body)
}

func TestPrintAndStderrGoToRequestLog(t *testing.T) {
	r := do(t, "/print")
	require.Equal(t, 0, r.Result, r.String())
	assert.Contains(t, r.Log, "hello from print")
	assert.Contains(t, r.Log, "to stderr")
	assert.Contains(t, r.Log, "to errors")
}

func TestSignalRegistrationIgnored(t *testing.T) {
	r := do(t, "/signal")
	require.Equal(t, 0, r.Result, r.String())
	assert.Equal(t, "still here", string(r.Body))
	// Server-wide at warning level, as mod_wsgi logs it, with the app's
	// stack and no frame of gowsgi's own.
	plog := wsgitest.ProcessLog()
	assert.Contains(t, plog, "[4] GW0450: gowsgi (pid=") // its id first (docs/log-messages.md)
	assert.Contains(t, plog, "Callback registration for signal 10 ignored.")
	assert.Regexp(t, `\[4\]\s+File ".*app\.wsgi", line \d+, in application`, plog)
	assert.NotContains(t, plog, "<string>")
	assert.NotContains(t, r.Log, "Callback registration")
}

func TestStatusWithoutReasonIs500(t *testing.T) {
	r := do(t, "/noreason")
	assert.Equal(t, 500, r.Result)
	assert.Contains(t, r.Log, "ValueError: no space following status code")
}

func TestInvalidHeaderNamesAre500WithTraceback(t *testing.T) {
	for name, want := range map[string]string{
		"space":   "space character present in header name",
		"control": "control character present in header name",
		"empty":   "header name is empty",
		"colon":   "invalid character present in header name 'X:Bad'",
		"latin1":  "invalid character present in header name",
	} {
		r := do(t, "/badheader", func(r *wsgitest.Request) { r.Env["QUERY_STRING"] = name })
		assert.Equal(t, 500, r.Result, name)
		assert.Contains(t, r.Log, "Exception occurred processing WSGI script", name)
		assert.Contains(t, r.Log, "ValueError: "+want, name)
		assert.Contains(t, r.Log, "in application", name+": the traceback reaches the app's frame")
	}
}

func TestSystemExitIsLoggedAsIgnored(t *testing.T) {
	r := do(t, "/exit")
	assert.Equal(t, 500, r.Result)
	assert.Contains(t, r.Log, "SystemExit exception raised by WSGI script '")
	assert.Contains(t, r.Log, "' ignored.")
}

func TestInputErrorIsSticky(t *testing.T) {
	r := do(t, "/input", func(r *wsgitest.Request) {
		r.Body = []byte("partial")
		r.BodyBroken = true
		r.Env["QUERY_STRING"] = "errors"
	})
	require.Equal(t, 0, r.Result, r.String())
	assert.Equal(t, "OSError: Apache/mod_wsgi request data read error: Partial results are valid but processing is incomplete.|"+
		"OSError: Apache/mod_wsgi request data read error: Input is already in error state.", string(r.Body))
}

func TestErrorsIsTextIOWrapperOverLog(t *testing.T) {
	r := do(t, "/errors")
	require.Equal(t, 0, r.Result, r.String())
	assert.Equal(t, "TextIOWrapper Log <wsgi.errors> utf-8 replace True True None", string(r.Body))
	assert.Contains(t, r.Log, "? lone surrogate")
	assert.Contains(t, r.Log, "via print")
}

func TestErrorsKeptPastItsRequestExpire(t *testing.T) {
	// One OS thread: each thread hands its wsgi.errors to its next request.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	require.Equal(t, "kept", string(do(t, "/keep-errors").Body))
	r := do(t, "/use-kept-errors")
	require.Equal(t, 0, r.Result, r.String())
	assert.Equal(t, "log object has expired fresh=True", string(r.Body),
		"a wsgi.errors the app kept is never handed to a later request")
	assert.Contains(t, r.Log, "fresh line")
	assert.NotContains(t, r.Log, "late line")
}

func TestErrorsReconfiguredIsNotReused(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	require.Equal(t, 0, do(t, "/reconfigure-errors").Result)
	assert.Equal(t, "True", string(do(t, "/errors-id").Body), "the next request gets a line-buffered wsgi.errors")
}

func TestFileWrapperBlockSizeIsAHint(t *testing.T) {
	r := do(t, "/file-huge-block")
	require.Equal(t, 0, r.Result, r.String())
	assert.Contains(t, string(r.Body), "One app, many behaviours")
}

func TestApplicationGroupsAreSeparateInterpreters(t *testing.T) {
	a1 := do(t, "/counter", func(r *wsgitest.Request) { r.ApplicationGroup = "groupA" })
	a2 := do(t, "/counter", func(r *wsgitest.Request) { r.ApplicationGroup = "groupA" })
	b1 := do(t, "/counter", func(r *wsgitest.Request) { r.ApplicationGroup = "groupB" })
	assert.Equal(t, "groupA 1", string(a1.Body), a1.String())
	assert.Equal(t, "groupA 2", string(a2.Body))
	assert.Equal(t, "groupB 1", string(b1.Body), "a new interpreter starts with a fresh module")
}

func TestCallableObject(t *testing.T) {
	s := script(t, "other.wsgi")
	r := wsgitest.Do(wsgitest.Request{Script: s, Callable: "handler", Mtime: 1})
	require.Equal(t, 0, r.Result, r.String())
	assert.Equal(t, "from handler", string(r.Body))

	r = wsgitest.Do(wsgitest.Request{Script: s, Mtime: 1})
	assert.Equal(t, 404, r.Result, "mod_wsgi's status for a script without the callable")
	assert.Contains(t, r.Log, "does not contain WSGI application 'application'")
}

func TestBrokenScriptIs500WithTraceback(t *testing.T) {
	r := wsgitest.Do(wsgitest.Request{Script: script(t, "broken.wsgi"), Mtime: 1})
	assert.Equal(t, 500, r.Result)
	assert.Contains(t, r.Log, "Failed to exec Python script file")
	assert.Contains(t, r.Log, "ImportError: broken on purpose")
}

func TestReloadOnMtimeChange(t *testing.T) {
	dir := t.TempDir()
	s := filepath.Join(dir, "reload.wsgi")
	write := func(body string) {
		require.NoError(t, os.WriteFile(s, []byte(
			"def application(environ, start_response):\n"+
				"    start_response('200 OK', [])\n"+
				"    return [b'"+body+"']\n"), 0o644))
	}
	write("v1")
	r := wsgitest.Do(wsgitest.Request{Script: s, Mtime: 100, Reloading: true})
	require.Equal(t, "v1", string(r.Body), r.String())

	write("v2")
	r = wsgitest.Do(wsgitest.Request{Script: s, Mtime: 100, Reloading: true})
	assert.Equal(t, "v1", string(r.Body), "same mtime: no reload")
	r = wsgitest.Do(wsgitest.Request{Script: s, Mtime: 200, Reloading: false})
	assert.Equal(t, "v1", string(r.Body), "WSGIScriptReloading Off: no reload")
	r = wsgitest.Do(wsgitest.Request{Script: s, Mtime: 200, Reloading: true})
	assert.Equal(t, "v2", string(r.Body), "new mtime: reloaded in place")
	r = wsgitest.Do(wsgitest.Request{Script: s, Mtime: 50, Reloading: true})
	assert.Equal(t, "v2", string(r.Body), "a backwards mtime change also reloads")
}

func TestConcurrentRequests(t *testing.T) {
	const n = 40
	done := make(chan wsgitest.Response, n)
	for i := 0; i < n; i++ {
		go func() { done <- do(t, "/hello") }()
	}
	timeout := time.After(30 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case r := <-done:
			assert.Equal(t, "Hello, World!", string(r.Body))
		case <-timeout:
			t.Fatal("concurrent requests did not finish")
		}
	}
}

// apacheEnviron is what the shim hands over for a plain GET through
// WSGIScriptAlias (Apache's CGI variables plus the mod_wsgi.* strings).
var apacheEnviron = map[string]string{
	"HTTP_HOST": "127.0.0.1:8080", "HTTP_USER_AGENT": "wrk", "HTTP_ACCEPT": "*/*",
	"HTTP_CONNECTION": "keep-alive", "SERVER_SIGNATURE": "", "SERVER_SOFTWARE": "Apache/2.4.71 (Debian) gowsgi/0.1.0",
	"SERVER_NAME": "127.0.0.1", "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": "8080", "REMOTE_ADDR": "127.0.0.1",
	"DOCUMENT_ROOT": "/var/www/html", "REQUEST_SCHEME": "http", "CONTEXT_PREFIX": "",
	"CONTEXT_DOCUMENT_ROOT": "/var/www/html", "SERVER_ADMIN": "webmaster@localhost",
	"SCRIPT_FILENAME": "/srv/app/hello.wsgi", "REMOTE_PORT": "53210", "GATEWAY_INTERFACE": "CGI/1.1",
	"SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "GET", "QUERY_STRING": "", "REQUEST_URI": "/hello",
	"SCRIPT_NAME": "", "PATH_INFO": "/hello", "PATH_TRANSLATED": "/var/www/html/hello",
	"mod_wsgi.request_id": "ZxYwVuTs", "mod_wsgi.process_group": "", "mod_wsgi.application_group": "",
	"mod_wsgi.callable_object": "application", "mod_wsgi.request_handler": "wsgi-script",
	"mod_wsgi.handler_script": "", "mod_wsgi.script_reloading": "1", "mod_wsgi.listener_host": "127.0.0.1",
	"mod_wsgi.listener_port": "8080", "mod_wsgi.enable_sendfile": "0", "mod_wsgi.ignore_activity": "0",
	"mod_wsgi.request_start": "1795312223354013",
}

// BenchmarkHello is the runner alone (no Apache, no sockets): one request
// with a realistic environ through wsgi.Handle, as the shim makes it.
func BenchmarkHello(b *testing.B) {
	s := script(b, "app.wsgi")
	p := wsgitest.Prepare(wsgitest.Request{Script: s, Mtime: 1, Reloading: true, Env: apacheEnviron})
	defer p.Free()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := p.Run()
		if r.Result != 0 || len(r.Body) != 13 {
			b.Fatal(r.String())
		}
	}
}
