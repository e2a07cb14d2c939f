package tests

// HTTP helpers: plain requests, raw socket requests, JSON decoding of the
// probe apps' output and error-log polling.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var httpClient = &http.Client{
	Timeout: 20 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
	Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8},
}

// Resp is a fully read HTTP response.
type Resp struct {
	Status int
	Header http.Header
	Body   string
}

func (r Resp) String() string {
	return fmt.Sprintf("status=%d headers=%v body=%q", r.Status, r.Header, truncate(r.Body, 600))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Do sends a request and reads the whole response.
func Do(t testing.TB, method, url string, body io.Reader, headers map[string]string) Resp {
	t.Helper()
	r, err := doReq(httpClient, method, url, body, headers)
	require.NoError(t, err, "%s %s", method, url)
	return r
}

func doReq(c *http.Client, method, url string, body io.Reader, headers map[string]string) (Resp, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return Resp{}, err
	}
	for k, v := range headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		return Resp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return Resp{}, err
	}
	return Resp{Status: res.StatusCode, Header: res.Header, Body: string(b)}, nil
}

// Get is Do with GET and no body.
func Get(t testing.TB, url string) Resp { t.Helper(); return Do(t, "GET", url, nil, nil) }

// singleConnClient returns a client that reuses one keep-alive connection, so
// that consecutive requests reach the same Apache child process.
func singleConnClient() *http.Client {
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			DisableCompression:  true,
			MaxConnsPerHost:     1,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// RawResponse is what came back on a raw socket.
type RawResponse struct {
	Res  *http.Response
	Body string
}

// RawRequest writes raw bytes to the server and parses one HTTP response.
func RawRequest(t testing.TB, addr, raw string) RawResponse {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	_, err = io.WriteString(c, raw)
	require.NoError(t, err)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err, "reading response to raw request %q", truncate(raw, 200))
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return RawResponse{Res: res, Body: string(b)}
}

// token returns a random marker used to find this test's error-log lines.
func token() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "tok" + hex.EncodeToString(b)
}

// WaitLog waits until the error log contains every needle and returns the log.
func WaitLog(t testing.TB, a *Apache, timeout time.Duration, needles ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var log string
	for {
		log = a.ErrorLogContent()
		missing := ""
		for _, n := range needles {
			if !strings.Contains(log, n) {
				missing = n
				break
			}
		}
		if missing == "" {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("error log of %s/%s does not contain %q within %v; log tail:\n%s",
				a.Spec.Module, a.Spec.MPM, missing, timeout, tail(log, 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LogLinesWith returns the error-log lines containing needle.
func LogLinesWith(a *Apache, needle string) []string {
	var out []string
	for _, l := range strings.Split(a.ErrorLogContent(), "\n") {
		if strings.Contains(l, needle) {
			out = append(out, l)
		}
	}
	return out
}

// EnvDump is the JSON written by apps/env.wsgi.
type EnvDump struct {
	Environ map[string]any    `json:"environ"`
	Types   map[string]string `json:"types"`
	Py      map[string]any    `json:"py"`
}

// GetEnv fetches an env.wsgi URL and decodes it, requiring status 200.
func GetEnv(t testing.TB, url string, headers map[string]string) EnvDump {
	t.Helper()
	r := Do(t, "GET", url, nil, headers)
	require.Equal(t, 200, r.Status, "GET %s: %s", url, r)
	return decodeEnv(t, r.Body)
}

func decodeEnv(t testing.TB, body string) EnvDump {
	t.Helper()
	var d EnvDump
	require.NoError(t, json.Unmarshal([]byte(body), &d), "decoding env dump %q", truncate(body, 300))
	return d
}

// DecodeJSON decodes a JSON object body.
func DecodeJSON(t testing.TB, body string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m), "decoding %q", truncate(body, 300))
	return m
}

// RawRequestLocal is RawRequest that also returns the client-side port, so
// that error-log lines tagged "[client 127.0.0.1:<port>]" can be matched.
// Errors while reading the response are returned, not fatal.
func RawRequestLocal(t testing.TB, addr, raw string) (RawResponse, int, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	lport := c.LocalAddr().(*net.TCPAddr).Port
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	_, err = io.WriteString(c, raw)
	require.NoError(t, err)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return RawResponse{}, lport, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	return RawResponse{Res: res, Body: string(b)}, lport, err
}

// ClientLogLines returns error-log lines of the request made from lport.
func ClientLogLines(a *Apache, lport int) string {
	return strings.Join(LogLinesWith(a, fmt.Sprintf("[client 127.0.0.1:%d]", lport)), "\n")
}

// WaitClientLog waits until the request made from lport logged needle and
// returns that request's log lines.
func WaitClientLog(t testing.TB, a *Apache, lport int, needle string) string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		lines := ClientLogLines(a, lport)
		if strings.Contains(lines, needle) {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q for client port %d; log tail:\n%s", needle, lport, tail(a.ErrorLogContent(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getRaw(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
}
