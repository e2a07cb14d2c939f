package tests

// wsgi.input semantics, chunked request bodies and 100-continue.

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const inputBody = "first line\nsecond, longer line\n\nx\nlast line without newline"

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func splitLinesKeep(s string) []any {
	var out []any
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

func postInput(t *testing.T, a *Apache, query, body string) map[string]any {
	t.Helper()
	r := Do(t, "POST", a.URL("/input?"+query), strings.NewReader(body), map[string]string{"Content-Type": "application/octet-stream"})
	require.Equal(t, 200, r.Status, r.String())
	return DecodeJSON(t, r.Body)
}

func TestInput_ReadVariants(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		lines := splitLinesKeep(inputBody)

		t.Run("read()", func(t *testing.T) {
			m := postInput(t, a, "op=read&echo=1", inputBody)
			assert.Equal(t, inputBody, m["data"])
			assert.EqualValues(t, len(inputBody), m["len"])
			assert.Equal(t, fmt.Sprint(len(inputBody)), m["content_length"])
			assert.Equal(t, "True", m["input_terminated"])
		})
		t.Run("read(n)", func(t *testing.T) {
			m := postInput(t, a, "op=readn&n=7", inputBody)
			assert.Equal(t, md5hex(inputBody), m["md5"])
			var want []any
			for n := len(inputBody); n > 0; n -= 7 {
				want = append(want, float64(min(7, n)))
			}
			assert.Equal(t, want, m["chunks"], "read(7) returns exactly 7 bytes until the last chunk")
		})
		t.Run("readline()", func(t *testing.T) {
			m := postInput(t, a, "op=readline", inputBody)
			assert.Equal(t, lines, m["lines"])
		})
		t.Run("readline(n)", func(t *testing.T) {
			m := postInput(t, a, "op=readline&n=4", inputBody)
			var want []any
			for _, l := range lines {
				s := l.(string)
				for len(s) > 4 {
					want = append(want, s[:4])
					s = s[4:]
				}
				want = append(want, s)
			}
			assert.Equal(t, want, m["lines"])
			assert.Equal(t, md5hex(inputBody), m["md5"])
		})
		t.Run("readlines()", func(t *testing.T) {
			m := postInput(t, a, "op=readlines", inputBody)
			assert.Equal(t, lines, m["lines"])
			assert.Equal(t, "", m["rest"])
		})
		t.Run("readlines(hint)", func(t *testing.T) {
			m := postInput(t, a, "op=readlines&hint=15", inputBody)
			// lines are read until their total size reaches the hint
			assert.Equal(t, lines[:2], m["lines"])
			assert.Equal(t, strings.Join([]string{"\n", "x\n", "last line without newline"}, ""), m["rest"])
		})
		t.Run("iteration", func(t *testing.T) {
			m := postInput(t, a, "op=iter", inputBody)
			assert.Equal(t, lines, m["lines"])
		})
		t.Run("b'' at EOF", func(t *testing.T) {
			m := postInput(t, a, "op=eof", inputBody)
			assert.EqualValues(t, len(inputBody), m["len"])
			assert.Equal(t, "b''", m["after_read"])
			assert.Equal(t, "b''", m["after_read_n"])
			assert.Equal(t, "b''", m["after_readline"])
		})
		t.Run("empty body", func(t *testing.T) {
			m := postInput(t, a, "op=eof", "")
			assert.EqualValues(t, 0, m["len"])
			assert.Equal(t, "b''", m["after_read"])
		})
		t.Run("GET without body", func(t *testing.T) {
			r := Get(t, a.URL("/input?op=eof"))
			require.Equal(t, 200, r.Status)
			m := DecodeJSON(t, r.Body)
			assert.EqualValues(t, 0, m["len"])
			assert.Equal(t, false, m["has_content_length"])
		})
		t.Run("large binary body", func(t *testing.T) {
			var sb strings.Builder
			for i := 0; sb.Len() < 3<<20; i++ {
				sb.WriteByte(byte(i * 7 % 256))
			}
			big := sb.String()
			m := postInput(t, a, "op=readn&n=65536", big)
			assert.EqualValues(t, len(big), m["len"])
			assert.Equal(t, md5hex(big), m["md5"])
		})
	})
}

func chunkedRaw(path, body string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "POST %s HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n", path)
	for len(body) > 0 {
		n := min(10, len(body))
		fmt.Fprintf(&sb, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	sb.WriteString("0\r\n\r\n")
	return sb.String()
}

func TestInput_Chunked(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		t.Run("411 without WSGIChunkedRequest", func(t *testing.T) {
			rr := RawRequest(t, a.Addr(), chunkedRaw("/input?op=read", inputBody))
			assert.Equal(t, http.StatusLengthRequired, rr.Res.StatusCode, rr.Body)
		})
		t.Run("WSGIChunkedRequest On", func(t *testing.T) {
			rr := RawRequest(t, a.Addr(), chunkedRaw("/inputchunked?op=read&echo=1", inputBody))
			require.Equal(t, 200, rr.Res.StatusCode, rr.Body)
			m := DecodeJSON(t, rr.Body)
			assert.Equal(t, inputBody, m["data"])
			assert.Equal(t, false, m["has_content_length"], "CONTENT_LENGTH must be absent for chunked bodies")
			assert.Equal(t, "chunked", m["transfer_encoding"])
		})
		t.Run("WSGIChunkedRequest On readline", func(t *testing.T) {
			rr := RawRequest(t, a.Addr(), chunkedRaw("/inputchunked?op=readline", inputBody))
			require.Equal(t, 200, rr.Res.StatusCode, rr.Body)
			assert.Equal(t, splitLinesKeep(inputBody), DecodeJSON(t, rr.Body)["lines"])
		})
	})
}

// expectContinue sends headers with Expect: 100-continue and returns the
// first status line received within wait.
func expectContinue(t *testing.T, a *Apache, path, body string, wait time.Duration) (first string, final *http.Response, finalBody string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", a.Addr(), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", path, len(body))
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	line, err := br.ReadString('\n')
	require.NoError(t, err, "no response line within %v", wait)
	first = strings.TrimSpace(line)
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if strings.HasPrefix(first, "HTTP/1.1 100") {
		// skip the blank line after the interim response, then send the body
		for {
			l, err := br.ReadString('\n')
			require.NoError(t, err)
			if strings.TrimSpace(l) == "" {
				break
			}
		}
		_, err = io.WriteString(c, body)
		require.NoError(t, err)
		final, err = http.ReadResponse(br, nil)
		require.NoError(t, err)
	} else {
		final, err = http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(line), br)), nil)
		require.NoError(t, err)
	}
	b, _ := io.ReadAll(final.Body)
	return first, final, string(b)
}

func TestInput_100Continue(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		t.Run("sent when the app reads", func(t *testing.T) {
			first, final, body := expectContinue(t, a, "/input?op=read&echo=1", inputBody, 5*time.Second)
			assert.Equal(t, "HTTP/1.1 100 Continue", first)
			require.Equal(t, 200, final.StatusCode)
			assert.Equal(t, inputBody, DecodeJSON(t, body)["data"])
		})
		t.Run("not sent when the app does not read", func(t *testing.T) {
			first, final, body := expectContinue(t, a, "/input?op=noread", inputBody, 5*time.Second)
			assert.True(t, strings.HasPrefix(first, "HTTP/1.1 200"), "first line %q: 100 Continue must not be sent", first)
			assert.Equal(t, 200, final.StatusCode)
			assert.EqualValues(t, 0, DecodeJSON(t, body)["len"])
		})
	})
}
