package tests

// Response-side semantics (reference 2.4, 2.5).

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func staticFile(t testing.TB) string {
	b, err := os.ReadFile(filepath.Join(appsDir(), "static", "file.txt"))
	require.NoError(t, err)
	return string(b)
}

func TestResponse_HeaderAndBodyValidation(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		t.Run("non-latin-1 header value gives 500 and a log line", func(t *testing.T) {
			tok := token()
			rr, lport, err := RawRequestLocal(t, a.Addr(), getRaw("/resp?op=latin1hdr&tok="+tok))
			require.NoError(t, err)
			assert.Equal(t, 500, rr.Res.StatusCode)
			assert.Empty(t, rr.Res.Header.Get("X-Euro"))
			assert.NotContains(t, rr.Body, "should not be seen")
			WaitLog(t, a, 3*time.Second, "ValueError: unicode object contains non latin-1 characters")
			assert.Contains(t, ClientLogLines(a, lport), "Exception occurred processing WSGI script")
		})
		t.Run("latin-1 header value is sent as latin-1 bytes", func(t *testing.T) {
			r := Get(t, a.URL("/resp?op=latin1ok"))
			assert.Equal(t, 200, r.Status)
			assert.Equal(t, "caf\xe9", r.Header.Get("X-Latin"))
		})
		t.Run("str body item gives 500 and a log line", func(t *testing.T) {
			tok := token()
			rr, lport, err := RawRequestLocal(t, a.Addr(), getRaw("/resp?op=strbody&tok="+tok))
			require.NoError(t, err)
			assert.Equal(t, 500, rr.Res.StatusCode)
			assert.NotContains(t, rr.Body, tok)
			WaitLog(t, a, 3*time.Second, "TypeError: sequence of byte string values expected, value of type str found")
			assert.Contains(t, ClientLogLines(a, lport), "Exception occurred processing WSGI script")
		})
		t.Run("tuple response_headers gives 500", func(t *testing.T) {
			rr, lport, err := RawRequestLocal(t, a.Addr(), getRaw("/resp?op=tuplehdrs"))
			require.NoError(t, err)
			assert.Equal(t, 500, rr.Res.StatusCode)
			// mod_wsgi: "TypeError: start_response() argument 2 must be list, not tuple"
			lines := WaitClientLog(t, a, lport, "TypeError: ")
			assert.Contains(t, lines, "Exception occurred processing WSGI script")
			assert.Regexp(t, `TypeError: .*list.*tuple`, lines)
		})
		t.Run("status without code gives 500", func(t *testing.T) {
			rr, lport, err := RawRequestLocal(t, a.Addr(), getRaw("/resp?op=badstatus"))
			require.NoError(t, err)
			assert.Equal(t, 500, rr.Res.StatusCode)
			assert.NotContains(t, rr.Body, "bad status")
			// mod_wsgi: "ValueError: status code is not a 3 digit integer"
			lines := WaitClientLog(t, a, lport, "ValueError: ")
			assert.Contains(t, lines, "Exception occurred processing WSGI script")
			assert.Contains(t, lines, "3 digit")
		})
	})
}

func TestResponse_ContentLengthTruncationAndClose(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		t.Run("Content-Length smaller than body truncates", func(t *testing.T) {
			tok := token()
			r := Get(t, a.URL("/resp?op=clshort&tok="+tok))
			assert.Equal(t, 200, r.Status)
			assert.Equal(t, "5", r.Header.Get("Content-Length"))
			assert.Equal(t, "hello", r.Body)
			WaitLog(t, a, 3*time.Second, "GOWSGI-CLOSE-CALLED "+tok)
		})
		t.Run("close() called after normal iteration", func(t *testing.T) {
			tok := token()
			r := Get(t, a.URL("/resp?op=close&tok="+tok))
			assert.Equal(t, 200, r.Status)
			assert.Equal(t, "abc", r.Body)
			WaitLog(t, a, 3*time.Second, "GOWSGI-CLOSE-CALLED "+tok)
			assert.Len(t, LogLinesWith(a, "GOWSGI-CLOSE-CALLED "+tok), 1, "close() must be called exactly once")
		})
		t.Run("close() called when iteration raises", func(t *testing.T) {
			tok := token()
			_, _, _ = RawRequestLocal(t, a.Addr(), getRaw("/resp?op=closefail&tok="+tok))
			WaitLog(t, a, 3*time.Second, "GOWSGI-CLOSE-CALLED "+tok, "RuntimeError: iteration failure "+tok)
		})
		t.Run("HEAD suppresses the body and still calls close()", func(t *testing.T) {
			tok := token()
			r := Do(t, "HEAD", a.URL("/resp?op=head&tok="+tok), nil, nil)
			assert.Equal(t, 200, r.Status)
			assert.Equal(t, "yes", r.Header.Get("X-Head-Test"))
			assert.Equal(t, "", r.Body)
			WaitLog(t, a, 3*time.Second, "GOWSGI-CLOSE-CALLED "+tok)
			// the raw connection must not carry body bytes either
			rr := RawRequest(t, a.Addr(), "HEAD /resp?op=head&tok=raw HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
			assert.Equal(t, 200, rr.Res.StatusCode)
		})
		t.Run("HEAD without mapping keeps REQUEST_METHOD=HEAD", func(t *testing.T) {
			r := Do(t, "HEAD", a.URL("/emb"), nil, nil)
			assert.Equal(t, 200, r.Status)
			assert.Equal(t, "HEAD", r.Header.Get("X-Method"))
			assert.Equal(t, "", r.Body)
		})
	})
}

func TestResponse_StartResponseSemantics(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		t.Run("write() callable", func(t *testing.T) {
			r := Get(t, a.URL("/resp?op=write"))
			assert.Equal(t, 200, r.Status)
			assert.Equal(t, "written-by-write-then-iterable", r.Body)
		})
		t.Run("start_response twice before output", func(t *testing.T) {
			r := Get(t, a.URL("/resp?op=twice"))
			assert.Equal(t, 201, r.Status)
			assert.Equal(t, "2", r.Header.Get("X-Second"))
			assert.Empty(t, r.Header.Get("X-First"))
			assert.Equal(t, "second wins", r.Body)
		})
		t.Run("start_response after output raises", func(t *testing.T) {
			r := Get(t, a.URL("/resp?op=twiceafter"))
			assert.Equal(t, 200, r.Status)
			assert.True(t, strings.HasPrefix(r.Body, "first;"), r.Body)
			assert.Contains(t, r.Body, "headers have already been sent")
		})
		t.Run("exc_info before output replaces status and headers", func(t *testing.T) {
			r := Get(t, a.URL("/resp?op=excinfo"))
			assert.Equal(t, 503, r.Status)
			assert.Equal(t, "yes", r.Header.Get("X-Exc"))
			assert.Empty(t, r.Header.Get("X-First"))
			assert.Equal(t, "error page", r.Body)
		})
		t.Run("exc_info after output re-raises", func(t *testing.T) {
			tok := token()
			rr, _, _ := RawRequestLocal(t, a.Addr(), getRaw("/resp?op=excinfoafter&tok="+tok))
			if rr.Res != nil {
				assert.Equal(t, 200, rr.Res.StatusCode)
				assert.True(t, strings.HasPrefix(rr.Body, "partial;"), rr.Body)
				assert.NotContains(t, rr.Body, "not reached")
			}
			WaitLog(t, a, 3*time.Second, "ValueError: after output "+tok)
		})
		t.Run("multiple headers and empty chunks", func(t *testing.T) {
			r := Get(t, a.URL("/resp?op=multi"))
			assert.Equal(t, 200, r.Status)
			assert.Equal(t, []string{"a=1", "b=2"}, r.Header.Values("Set-Cookie"))
			assert.Equal(t, "onetwo", r.Body)
		})
		t.Run("embedded 200 with Location is returned unchanged", func(t *testing.T) {
			r := Get(t, a.URL("/resp?op=location"))
			assert.Equal(t, 200, r.Status)
			assert.Equal(t, "/resp?op=hello", r.Header.Get("Location"))
			assert.Equal(t, "location body", r.Body)
		})
		t.Run("hop-by-hop Connection: close passes", func(t *testing.T) {
			rr := RawRequest(t, a.Addr(), "GET /resp?op=connclose HTTP/1.1\r\nHost: localhost\r\n\r\n")
			assert.Equal(t, 200, rr.Res.StatusCode)
			assert.True(t, rr.Res.Close, "Connection: close must reach the client")
			assert.Equal(t, "conn close", rr.Body)
		})
	})
}

func TestResponse_FileWrapper(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		file := staticFile(t)
		for _, prefix := range []string{"/resp", "/respsendfile"} {
			prefix := prefix
			t.Run(prefix, func(t *testing.T) {
				r := Get(t, a.URL(prefix+"?op=filewrapper"))
				require.Equal(t, 200, r.Status)
				assert.Equal(t, "11600", r.Header.Get("Content-Length"), "file_wrapper adds Content-Length")
				assert.Equal(t, file, r.Body)

				r = Get(t, a.URL(prefix+"?op=filewrapper&skip=100"))
				require.Equal(t, 200, r.Status)
				assert.Equal(t, "11500", r.Header.Get("Content-Length"), "Content-Length = size - position")
				assert.Equal(t, file[100:], r.Body)

				r = Get(t, a.URL(prefix+"?op=filewrapper&cl=50"))
				require.Equal(t, 200, r.Status)
				assert.Equal(t, "50", r.Header.Get("Content-Length"))
				assert.Equal(t, file[:50], r.Body)

				r = Get(t, a.URL(prefix+"?op=filewrapper_blksize"))
				require.Equal(t, 200, r.Status)
				assert.Equal(t, file, r.Body)

				r = Do(t, "HEAD", a.URL(prefix+"?op=filewrapper"), nil, nil)
				assert.Equal(t, 200, r.Status)
				assert.Equal(t, "", r.Body)
			})
		}
		e := GetEnv(t, a.URL("/emb"), nil).Environ
		assert.Equal(t, "0", e["mod_wsgi.enable_sendfile"])
		_ = http.StatusOK
	})
}
