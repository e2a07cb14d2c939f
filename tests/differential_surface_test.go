package tests

// Differential surface tests: corner cases of the WSGI contract (object
// surfaces in environ and sys, malformed statuses and header names, broken
// request bodies, Expect: 100-continue, missing callables, signals,
// sys.exit) sent to Apache+mod_wsgi and Apache+gowsgi with the same config
// snippet, comparing the responses byte for byte (after normalising server
// roots and ports) and the error-log lines each request caused.
//
// Every subtest also checks that the reference (mod_wsgi) behaves as
// documented, so that a comparison cannot pass vacuously because both
// servers failed the same way.
//
// Each MPM gets its own pair of servers and the subtests run one after the
// other, so the error-log lines written between two marks belong to the
// request sent in between.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const surfaceSnippet = `
WSGIScriptAlias /s @APPS@/surface.wsgi
WSGIScriptAlias /sc @APPS@/surface.wsgi
<Location /sc>
    WSGIChunkedRequest On
</Location>
WSGIScriptAlias /env @APPS@/env.wsgi
WSGIScriptAlias /resp @APPS@/response.wsgi
WSGIScriptAlias /nocallable @APPS@/nocallable.wsgi
WSGIScriptAlias /nosuch @APPS@/surface.wsgi callable-object=nosuch
`

// surfacePair returns the mod_wsgi and gowsgi servers (started in
// parallel on first use) with surfaceSnippet for mpm. They are shared
// servers, stopped by TestMain together with the others (mod_wsgi 4.9.4
// takes ~10 s to stop once it has created a sub-interpreter; that wait
// then overlaps the other shared servers' instead of adding to the test's
// time). Only TestDifferential_Surface uses them, one request at a time,
// which the error-log marks rely on.
func surfacePair(t *testing.T, mpm string) (ref, cand *Apache) {
	t.Helper()
	var wg sync.WaitGroup
	servers := make([]*Apache, 2)
	errs := make([]error, 2)
	for i, m := range []Module{ModModWsgi, ModGowsgi} {
		wg.Add(1)
		go func(i int, m Module) {
			defer wg.Done()
			servers[i], errs[i] = sharedApacheErr("surface", ServerSpec{Module: m, MPM: mpm, Snippet: surfaceSnippet})
		}(i, m)
	}
	wg.Wait()
	require.NoError(t, errs[0], "starting mod_wsgi")
	require.NoError(t, errs[1], "starting gowsgi")
	return servers[0], servers[1]
}

// sharedApacheErr is SharedApache without a testing.TB, for starting
// several shared servers concurrently.
func sharedApacheErr(name string, spec ServerSpec) (*Apache, error) {
	if _, err := loadModuleLine(spec.Module); err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%s|%s|%s", name, spec.Module, spec.MPM)
	sharedMu.Lock()
	e, ok := sharedServers[key]
	if !ok {
		e = &sharedEntry{}
		sharedServers[key] = e
	}
	sharedMu.Unlock()
	e.once.Do(func() { e.a, e.err = startApache(spec) })
	return e.a, e.err
}

// ---- raw exchanges ------------------------------------------------------------

// rawExchange is one response read from a raw socket, with its framing.
type rawExchange struct {
	Status int
	Header http.Header
	TE     []string // Transfer-Encoding (net/http moves it out of Header)
	Close  bool     // the response announced the end of the connection
	Body   string
	// BodyErr is how reading the body ended early ("" when the framing
	// held: e.g. "unexpected EOF" when fewer bytes than Content-Length
	// came before the connection closed).
	BodyErr string
	Err     string // failure reading the status line and headers
}

func (r rawExchange) String() string {
	if r.Err != "" {
		return "no response: " + r.Err
	}
	return fmt.Sprintf("status=%d te=%v close=%v headers=%v body=%q body-err=%q",
		r.Status, r.TE, r.Close, r.Header, truncate(r.Body, 600), r.BodyErr)
}

// readFinal reads responses from br until a final (non-1xx) one, returning
// it and the interim status lines seen before it.
func readFinal(br *bufio.Reader) (rawExchange, []int) {
	var interim []int
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			return rawExchange{Err: connErrorKind(err)}, interim
		}
		if res.StatusCode >= 100 && res.StatusCode < 200 {
			interim = append(interim, res.StatusCode)
			continue
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		ex := rawExchange{Status: res.StatusCode, Header: res.Header, TE: res.TransferEncoding, Close: res.Close, Body: string(b)}
		if err != nil {
			ex.BodyErr = connErrorKind(err)
		}
		return ex, interim
	}
}

// connErrorKind reduces a read error to a comparable category.
func connErrorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case strings.Contains(err.Error(), "connection reset"):
		return "connection reset"
	}
	return err.Error()
}

// rawDo sends raw on a new connection, half-closes the connection's write
// side when halfClose is set (so the server sees the end of the request body
// at once) and reads one final response.
func rawDo(t *testing.T, a *Apache, raw string, halfClose bool) rawExchange {
	t.Helper()
	c, err := net.DialTimeout("tcp", a.Addr(), 5*time.Second)
	require.NoError(t, err, "connecting to %s", a.Spec.Module)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	_, err = io.WriteString(c, raw)
	require.NoError(t, err, "writing request to %s", a.Spec.Module)
	if halfClose {
		require.NoError(t, c.(*net.TCPConn).CloseWrite())
	}
	ex, _ := readFinal(bufio.NewReader(c))
	return ex
}

func getReq(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
}

// normBody replaces per-server values (roots, ports, object addresses).
func normBody(a *Apache, s string) string {
	return objectAddress.ReplaceAllString(normalizer(a).Replace(s), "0xADDR")
}

// compareRaw compares status, framing, every header but Date, Server,
// Keep-Alive and ETag, and the body. Content-Length is always compared:
// when normalising changed a body, a Content-Length that matched the raw
// body is compared as the length of the normalised body.
func compareRaw(t *testing.T, refA, candA *Apache, ref, cand rawExchange) {
	t.Helper()
	require.Empty(t, ref.Err, "reference mod_wsgi gave no response")
	if !assert.Empty(t, cand.Err, "gowsgi gave no response; mod_wsgi gave %s", ref) {
		return
	}
	assert.Equal(t, ref.Status, cand.Status, "status; mod_wsgi: %s\ngowsgi: %s", ref, cand)
	assert.Equal(t, ref.TE, cand.TE, "Transfer-Encoding (body framing)")
	assert.Equal(t, ref.Close, cand.Close, "connection close announced")
	assert.Equal(t, ref.BodyErr, cand.BodyErr, "how reading the body ended (framing)")
	refBody, candBody := normBody(refA, ref.Body), normBody(candA, cand.Body)
	keys := map[string]bool{}
	for k := range ref.Header {
		keys[k] = true
	}
	for k := range cand.Header {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		if !diffIgnoredHeaders[http.CanonicalHeaderKey(k)] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		rv, cv := ref.Header.Values(k), cand.Header.Values(k)
		if k == "Content-Length" {
			rv, cv = normalizedCL(rv, ref.Body, refBody), normalizedCL(cv, cand.Body, candBody)
		}
		assert.Equal(t, rv, cv, "header %s", k)
	}
	assert.Equal(t, refBody, candBody, "body")
}

func normalizedCL(v []string, raw, norm string) []string {
	if len(v) == 1 && raw != norm && v[0] == strconv.Itoa(len(raw)) {
		return []string{strconv.Itoa(len(norm))}
	}
	return v
}

// ---- error-log extraction -----------------------------------------------------

// logMark remembers the size of a server's error log so that the lines
// written afterwards can be extracted.
type logMark struct {
	a   *Apache
	off int
}

func markLog(a *Apache) logMark { return logMark{a: a, off: len(a.ErrorLogContent())} }

// raw returns the complete lines written since the mark.
func (m logMark) raw() []string {
	s := m.a.ErrorLogContent()
	if len(s) <= m.off {
		return nil
	}
	s = s[m.off:]
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	} else {
		return nil
	}
	return strings.Split(s, "\n")
}

// wait polls until a line written since the mark contains needle, then
// returns the normalised lines (warn and above) written since the mark. It
// does not fail: the caller compares what it got.
func (m logMark) wait(needle string, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for {
		raw := m.raw()
		if strings.Contains(strings.Join(raw, "\n"), needle) || time.Now().After(deadline) {
			// let the rest of a multi-line report (traceback) land: wait
			// until the log has not grown for 100ms
			for size := len(m.a.ErrorLogContent()); ; {
				time.Sleep(100 * time.Millisecond)
				n := len(m.a.ErrorLogContent())
				if n == size || time.Now().After(deadline) {
					break
				}
				size = n
			}
			return normLogLines(m.a, m.raw())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

var (
	// [date] [module:level] [pid N(:tid N)] ([client ip:port] )rest
	logLinePrefix = regexp.MustCompile(`^\[[^\]]+\] \[([^:\]]*):([a-z0-9]+)\] \[pid \d+(?::tid \d+)?\] (\[client [0-9.]+:\d+\] )?`)
	logModulePid  = regexp.MustCompile(`\b(?:mod_wsgi|gowsgi) \(pid=\d+\)`)
	logMessageID  = regexp.MustCompile(`\bGW\d{4}: `) // gowsgi's own (docs/log-messages.md); mod_wsgi 4.9.4 has none
	logQuietLevel = map[string]bool{"notice": true, "info": true, "debug": true}
)

// normLogLine strips the timestamp, pid/tid and client port, maps the
// module tags [wsgi:LEVEL] and [gowsgi:LEVEL] to [LEVEL] and the message
// prefixes "mod_wsgi (pid=N)" and "gowsgi (pid=N)" to "WSGI(pid)", drops
// gowsgi's message ids, and
// replaces the server root and ports by placeholders. It returns the level
// separately ("" for a line without the standard prefix).
func normLogLine(a *Apache, line string) (string, string) {
	level := ""
	if m := logLinePrefix.FindStringSubmatch(line); m != nil {
		module, client := m[1], m[2+1]
		level = m[2]
		tag := "[" + level + "] "
		if module != "wsgi" && module != "gowsgi" {
			tag = "[" + module + ":" + level + "] "
		}
		if client != "" {
			tag += "[client] "
		}
		line = tag + line[len(m[0]):]
	}
	line = logMessageID.ReplaceAllString(line, "")
	line = logModulePid.ReplaceAllString(line, "WSGI(pid)")
	return normalizer(a).Replace(line), level
}

// normLogLines normalises lines and drops those below warn.
func normLogLines(a *Apache, lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n, level := normLogLine(a, l)
		if logQuietLevel[level] || strings.HasPrefix(level, "trace") {
			continue
		}
		out = append(out, n)
	}
	return out
}

func linesContaining(lines []string, needle string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, needle) {
			out = append(out, l)
		}
	}
	return out
}

func logDump(ref, cand []string) string {
	return fmt.Sprintf("\nmod_wsgi log:\n  %s\ngowsgi log:\n  %s", strings.Join(ref, "\n  "), strings.Join(cand, "\n  "))
}

// exceptionLine is the last line of a logged traceback ("ValueError: ...").
var exceptionLine = regexp.MustCompile(`^\[error\] (?:\[client\] )?([A-Za-z_][A-Za-z0-9_.]*(?:Error|Exception|Exit)(?:: .*)?)$`)

func loggedExceptions(lines []string) []string {
	var out []string
	for _, l := range lines {
		if m := exceptionLine.FindStringSubmatch(l); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// ---- the test -----------------------------------------------------------------

// surfaceRun sends the same raw request to both servers (reference first),
// returning both exchanges and the normalised log lines each caused (the
// wait for logNeedle is skipped when it is "").
type surfaceResult struct {
	ref, cand       rawExchange
	refLog, candLog []string
}

func surfaceRun(t *testing.T, ref, cand *Apache, raw string, halfClose bool, logNeedle string) surfaceResult {
	t.Helper()
	var res surfaceResult
	for i, a := range []*Apache{ref, cand} {
		m := markLog(a)
		ex := rawDo(t, a, raw, halfClose)
		var lines []string
		if logNeedle != "" {
			lines = m.wait(logNeedle, 3*time.Second)
		} else {
			time.Sleep(50 * time.Millisecond)
			lines = normLogLines(a, m.raw())
		}
		if i == 0 {
			res.ref, res.refLog = ex, lines
		} else {
			res.cand, res.candLog = ex, lines
		}
	}
	return res
}

func decodeObj(t *testing.T, who, body string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m), "%s: decoding %q", who, truncate(body, 400))
	return m
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// compareSurfaceDumps compares surface.wsgi's op=surface output object by
// object: type name, dir() (missing/extra names) and the type of each public
// attribute; plain values are compared as JSON.
func compareSurfaceDumps(t *testing.T, ref, cand map[string]any) {
	t.Helper()
	var objs []string
	for k := range ref {
		objs = append(objs, k)
	}
	for k := range cand {
		if _, ok := ref[k]; !ok {
			objs = append(objs, k)
		}
	}
	sort.Strings(objs)
	for _, obj := range objs {
		r, rok := ref[obj].(map[string]any)
		c, cok := cand[obj].(map[string]any)
		_, isSurface := r["dir"]
		if !rok || !cok || !isSurface {
			if rok && cok && !isSurface {
				// simple values: one assertion per attribute
				for _, k := range sortedKeys(r, c) {
					assert.Equal(t, jsonString(r[k]), jsonString(c[k]), "%s: %s", obj, k)
				}
				continue
			}
			assert.Equal(t, jsonString(ref[obj]), jsonString(cand[obj]), "%s", obj)
			continue
		}
		assert.Equal(t, r["type"], c["type"], "%s: type(x) (module.qualname)", obj)
		assert.Equal(t, r["class"], c["class"], "%s: the class's own module.qualname", obj)
		rd, cd := stringSet(r["dir"]), stringSet(c["dir"])
		var missing, extra []string
		for k := range rd {
			if !cd[k] {
				missing = append(missing, k)
			}
		}
		for k := range cd {
			if !rd[k] {
				extra = append(extra, k)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		assert.Empty(t, missing, "%s: names in dir() under mod_wsgi but not under gowsgi", obj)
		assert.Empty(t, extra, "%s: names in dir() under gowsgi but not under mod_wsgi", obj)
		ra, _ := r["attrs"].(map[string]any)
		ca, _ := c["attrs"].(map[string]any)
		var diffs []string
		for _, k := range sortedKeys(ra, ca) {
			rv, rin := ra[k]
			cv, cin := ca[k]
			if rin && cin && rv != cv {
				diffs = append(diffs, fmt.Sprintf("%s: mod_wsgi %v, gowsgi %v", k, rv, cv))
			}
		}
		assert.Empty(t, diffs, "%s: types of public attributes differ", obj)
	}
}

func sortedKeys(ms ...map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func stringSet(v any) map[string]bool {
	out := map[string]bool{}
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				out[s] = true
			}
		}
	}
	return out
}

// keepAliveProbe is what a client observes around a POST with
// Expect: 100-continue whose application never reads the body, followed
// by a second request on the same connection.
type keepAliveProbe struct {
	// AnswerBeforeBody: some response bytes came before the body was sent
	// (only probed when the body is held back).
	AnswerBeforeBody bool
	Interim          []int
	FirstStatus      int
	FirstClose       bool
	FirstConnHdr     []string
	FirstBody        string
	FirstBodyErr     string
	SecondStatus     int
	SecondErr        string
}

// expectKeepAlive sends a POST with Expect: 100-continue to response.wsgi
// (op=hello, which never reads the body) on a keep-alive connection, then a
// GET on the same connection. With bodyFirst the body follows the headers
// at once (a client that does not wait for 100 Continue); otherwise the
// client waits up to a second for an answer, then sends the body anyway
// (as curl does when no 100 Continue comes).
func expectKeepAlive(t *testing.T, a *Apache, bodyFirst bool) keepAliveProbe {
	t.Helper()
	const body = "hello=world"
	c, err := net.DialTimeout("tcp", a.Addr(), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	req := fmt.Sprintf("POST /resp?op=hello HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\nConnection: keep-alive\r\n\r\n", len(body))
	if bodyFirst {
		req += body
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, req)
	require.NoError(t, err)
	br := bufio.NewReader(c)
	var p keepAliveProbe
	if !bodyFirst {
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, perr := br.Peek(1)
		p.AnswerBeforeBody = perr == nil
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, body); err != nil {
			p.SecondErr = "writing the body: " + connErrorKind(err)
			return p
		}
	}
	// Short deadlines: a server that keeps the connection open without
	// answering must not stall the test.
	_ = c.SetDeadline(time.Now().Add(4 * time.Second))
	first, interim := readFinal(br)
	p.Interim = interim
	if first.Err != "" {
		p.SecondErr = "first response: " + first.Err
		return p
	}
	p.FirstStatus, p.FirstClose, p.FirstConnHdr = first.Status, first.Close, first.Header.Values("Connection")
	p.FirstBody, p.FirstBodyErr = first.Body, first.BodyErr
	_ = c.SetDeadline(time.Now().Add(4 * time.Second))
	if _, err := io.WriteString(c, getReq("/resp?op=hello")); err != nil {
		p.SecondErr = "writing the second request: " + connErrorKind(err)
		return p
	}
	second, _ := readFinal(br)
	if second.Err != "" {
		p.SecondErr = second.Err
		return p
	}
	p.SecondStatus = second.Status
	return p
}

func TestDifferential_Surface(t *testing.T) {
	differentialOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		ref, cand := surfacePair(t, mpm)
		surfaceChecks(t, ref, cand)
	})
}

// surfaceChecks runs every surface comparison of cand against ref (the
// reference must be mod_wsgi; cand may be mod_wsgi too, to check that the
// comparisons are deterministic).
func surfaceChecks(t *testing.T, ref, cand *Apache) {
	script := filepath.Join(appsDir(), "surface.wsgi")
	fileTxt, err := os.ReadFile(filepath.Join(appsDir(), "static", "file.txt"))
	require.NoError(t, err)

	// 1. the attribute surface of wsgi.input, wsgi.errors (and its
	// buffer), wsgi.file_wrapper (type and instance), sys.stdout and
	// sys.stderr.
	t.Run("object surfaces", func(t *testing.T) {
		r := surfaceRun(t, ref, cand, getReq("/s?op=surface"), false, "")
		require.Equal(t, 200, r.ref.Status, "reference mod_wsgi: %s", r.ref)
		require.Equal(t, 200, r.cand.Status, "gowsgi: %s", r.cand)
		rd, cd := decodeObj(t, "mod_wsgi", r.ref.Body), decodeObj(t, "gowsgi", r.cand.Body)
		// the reference is what the README documents
		errs, _ := rd["wsgi.errors"].(map[string]any)
		require.Equal(t, "_io.TextIOWrapper", errs["type"], "reference mod_wsgi wsgi.errors type")
		simple, _ := rd["wsgi.errors simple"].(map[string]any)
		require.Equal(t, map[string]any{"encoding": "utf-8", "errors": "replace", "line_buffering": true, "write_through": true},
			map[string]any{"encoding": simple["encoding"], "errors": simple["errors"], "line_buffering": simple["line_buffering"], "write_through": simple["write_through"]},
			"reference mod_wsgi wsgi.errors parameters")
		buf, _ := rd["wsgi.errors.buffer"].(map[string]any)
		require.Equal(t, "mod_wsgi.Log", buf["type"], "reference mod_wsgi wsgi.errors.buffer type")
		fw, _ := rd["wsgi.file_wrapper"].(map[string]any)
		require.Equal(t, "mod_wsgi.FileWrapper", fw["class"], "reference mod_wsgi wsgi.file_wrapper class")
		inp, _ := rd["wsgi.input"].(map[string]any)
		require.Equal(t, "mod_wsgi.Input", inp["type"], "reference mod_wsgi wsgi.input type")
		compareSurfaceDumps(t, rd, cd)
	})

	// 1. interpreter facts under a systemd-like environment (PATH only,
	// no HOME): sys.prefix, sys.base_prefix, sys.executable, sys.path.
	t.Run("interpreter facts", func(t *testing.T) {
		r := surfaceRun(t, ref, cand, getReq("/env"), false, "")
		require.Equal(t, 200, r.ref.Status, "reference mod_wsgi: %s", r.ref)
		require.Equal(t, 200, r.cand.Status, "gowsgi: %s", r.cand)
		rd, cd := decodeEnv(t, r.ref.Body), decodeEnv(t, r.cand.Body)
		require.Equal(t, "/usr", rd.Py["prefix"], "reference mod_wsgi sys.prefix")
		require.Equal(t, "/usr/bin/python3", rd.Py["executable"], "reference mod_wsgi sys.executable")
		require.Contains(t, rd.Py["path"], "/usr/local/lib/"+systemPyLib()+"/dist-packages", "reference mod_wsgi sys.path")
		// Python's locale with no LANG at all: the C locale, on which
		// mod_wsgi 4.9.4's Python says 'ascii'.
		if !modWsgiIs5() {
			require.Equal(t, "ascii", rd.Py["filesystem_encoding"], "reference mod_wsgi sys.getfilesystemencoding()")
		}
		compareLocaleFacts(t, rd.Py, cd.Py)
		for _, k := range []string{"prefix", "base_prefix", "exec_prefix", "executable", "path"} {
			if _, ok := rd.Py[k]; !ok && k == "exec_prefix" {
				continue
			}
			assert.Equal(t, jsonString(rd.Py[k]), jsonString(cd.Py[k]), "py fact %q", k)
		}
	})

	// 2. a status without a reason phrase.
	t.Run("status without reason phrase", func(t *testing.T) {
		r := surfaceRun(t, ref, cand, getReq("/s?op=nophrase"), false, ":error]")
		require.Equal(t, 500, r.ref.Status, "reference mod_wsgi: %s", r.ref)
		require.Contains(t, loggedExceptions(r.refLog), "ValueError: no space following status code", "reference mod_wsgi log%s", logDump(r.refLog, r.candLog))
		compareRaw(t, ref, cand, r.ref, r.cand)
		assert.Equal(t, linesContaining(r.refLog, "Exception occurred processing WSGI script"),
			linesContaining(r.candLog, "Exception occurred processing WSGI script"), "log line naming the script%s", logDump(r.refLog, r.candLog))
		assert.Equal(t, loggedExceptions(r.refLog), loggedExceptions(r.candLog), "logged exception%s", logDump(r.refLog, r.candLog))
	})

	// 3. invalid response header names.
	for _, which := range []string{"space", "ctrl", "empty", "colon", "latin1"} {
		which := which
		t.Run("bad header name "+which, func(t *testing.T) {
			r := surfaceRun(t, ref, cand, getReq("/s?op=badname&which="+which), false, ":error]")
			require.Equal(t, 500, r.ref.Status, "reference mod_wsgi: %s", r.ref)
			want := "[error] [client] WSGI(pid): Exception occurred processing WSGI script '" + script + "'."
			if which == "colon" || which == "latin1" {
				// A documented difference (README): mod_wsgi passes these
				// names on, Apache refuses them (AH02429) and its 500 page
				// announces more bytes than it sends. gowsgi refuses them in
				// start_response: the same page, framed correctly, and the
				// ValueError with its traceback in the log.
				require.Equal(t, "unexpected EOF", r.ref.BodyErr, "reference mod_wsgi's broken framing: %s", r.ref)
				require.Empty(t, r.cand.Err, "gowsgi gave no response")
				assert.Equal(t, 500, r.cand.Status, "gowsgi: %s", r.cand)
				assert.Empty(t, r.cand.BodyErr, "gowsgi's 500 page is complete")
				assert.Equal(t, []string{strconv.Itoa(len(r.cand.Body))}, r.cand.Header.Values("Content-Length"))
				assert.Equal(t, normBody(ref, r.ref.Body), normBody(cand, r.cand.Body), "the same error page")
				assert.Contains(t, r.candLog, want, "gowsgi log names the script%s", logDump(r.refLog, r.candLog))
				assert.NotEmpty(t, linesContaining(loggedExceptions(r.candLog), "ValueError: invalid character present in header name"),
					"gowsgi log ends the traceback with the ValueError%s", logDump(r.refLog, r.candLog))
				return
			}
			compareRaw(t, ref, cand, r.ref, r.cand)
			if which != "space" {
				return
			}
			require.Contains(t, r.refLog, want, "reference mod_wsgi log%s", logDump(r.refLog, r.candLog))
			require.NotEmpty(t, linesContaining(loggedExceptions(r.refLog), "ValueError"), "reference mod_wsgi log%s", logDump(r.refLog, r.candLog))
			assert.Contains(t, r.candLog, want, "gowsgi log must name the script like mod_wsgi%s", logDump(r.refLog, r.candLog))
			assert.NotEmpty(t, linesContaining(loggedExceptions(r.candLog), "ValueError"),
				"gowsgi log must end the traceback with the ValueError like mod_wsgi%s", logDump(r.refLog, r.candLog))
		})
	}

	// 4. wsgi.input after a malformed chunked body: both reads raise.
	t.Run("read after malformed chunk", func(t *testing.T) {
		raw := "POST /sc?op=readtwice HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n\r\n"
		r := surfaceRun(t, ref, cand, raw, true, "")
		// Apache's chunk parser answers 400 itself; mod_wsgi then still
		// writes the application's report after the error page.
		require.Equal(t, 400, r.ref.Status, "reference mod_wsgi: %s", r.ref)
		i := strings.Index(r.ref.Body, "{\n \"reads\"")
		require.GreaterOrEqual(t, i, 0, "reference mod_wsgi: the report follows the 400 page: %s", r.ref)
		rd := decodeObj(t, "mod_wsgi", r.ref.Body[i:])
		reads, _ := rd["reads"].([]any)
		require.Len(t, reads, 2, "reference mod_wsgi: %s", r.ref)
		first, _ := reads[0].(map[string]any)
		second, _ := reads[1].(map[string]any)
		require.Regexp(t, `^Apache/mod_wsgi request data read error: .+\.$`, first["message"], "reference mod_wsgi first read")
		require.Equal(t, "Apache/mod_wsgi request data read error: Input is already in error state.", second["message"], "reference mod_wsgi second read")
		compareRaw(t, ref, cand, r.ref, r.cand)
	})

	// 5. Transfer-Encoding: gzip, chunked (with and without
	// WSGIChunkedRequest).
	for _, path := range []string{"/s", "/sc"} {
		path := path
		t.Run("gzip chunked "+path, func(t *testing.T) {
			raw := "POST " + path + "?op=readtwice HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
			r := surfaceRun(t, ref, cand, raw, true, "Transfer-Encoding")
			require.NotEqual(t, 200, r.ref.Status, "reference mod_wsgi: %s", r.ref)
			compareRaw(t, ref, cand, r.ref, r.cand)
			require.NotEmpty(t, linesContaining(r.refLog, "Transfer-Encoding"), "reference mod_wsgi log%s", logDump(r.refLog, r.candLog))
			assert.NotEmpty(t, linesContaining(r.candLog, "Transfer-Encoding"), "gowsgi log must report the Transfer-Encoding%s", logDump(r.refLog, r.candLog))
			assert.Equal(t, r.refLog, r.candLog, "log lines%s", logDump(r.refLog, r.candLog))
		})
	}

	// 6. Expect: 100-continue, body never read: the connection stays usable.
	for _, bodyFirst := range []bool{false, true} {
		bodyFirst := bodyFirst
		name := "expect 100-continue keep-alive, body after response"
		if bodyFirst {
			name = "expect 100-continue keep-alive, body with headers"
		}
		t.Run(name, func(t *testing.T) {
			rp := expectKeepAlive(t, ref, bodyFirst)
			cp := expectKeepAlive(t, cand, bodyFirst)
			require.Equal(t, 200, rp.FirstStatus, "reference mod_wsgi: %+v", rp)
			require.False(t, rp.FirstClose, "reference mod_wsgi keeps the connection: %+v", rp)
			require.Equal(t, 200, rp.SecondStatus, "reference mod_wsgi keeps the connection usable: %+v", rp)
			if !bodyFirst {
				require.True(t, rp.AnswerBeforeBody, "reference mod_wsgi answers before the body is sent: %+v", rp)
			}
			assert.Equal(t, rp, cp, "mod_wsgi %+v\ngowsgi %+v", rp, cp)
		})
	}

	// 7. a script without the callable, and callable-object=nosuch.
	for _, path := range []string{"/nocallable", "/nosuch"} {
		path := path
		t.Run("missing callable "+path, func(t *testing.T) {
			r := surfaceRun(t, ref, cand, getReq(path), false, "does not contain WSGI application")
			require.Equal(t, 404, r.ref.Status, "reference mod_wsgi: %s", r.ref)
			compareRaw(t, ref, cand, r.ref, r.cand)
			rl := linesContaining(r.refLog, "does not contain WSGI application")
			require.NotEmpty(t, rl, "reference mod_wsgi log%s", logDump(r.refLog, r.candLog))
			assert.Equal(t, rl, linesContaining(r.candLog, "does not contain WSGI application"), "log line%s", logDump(r.refLog, r.candLog))
		})
	}

	// 8. wsgi.file_wrapper with a huge block size.
	t.Run("file_wrapper huge blksize", func(t *testing.T) {
		r := surfaceRun(t, ref, cand, getReq("/s?op=bigwrapper"), false, "")
		require.Equal(t, 200, r.ref.Status, "reference mod_wsgi: %s", r.ref)
		require.Equal(t, string(fileTxt), r.ref.Body, "reference mod_wsgi serves the file")
		compareRaw(t, ref, cand, r.ref, r.cand)
	})

	// 9. a lone surrogate written to wsgi.errors.
	t.Run("wsgi.errors lone surrogate", func(t *testing.T) {
		r := surfaceRun(t, ref, cand, getReq("/s?op=surrogate"), false, ":error]")
		require.Equal(t, 200, r.ref.Status, "reference mod_wsgi: %s", r.ref)
		require.Nil(t, decodeObj(t, "mod_wsgi", r.ref.Body)["raised"], "reference mod_wsgi accepts the write: %s", r.ref)
		compareRaw(t, ref, cand, r.ref, r.cand)
		require.Equal(t, []string{"[error] [client] ? x"}, r.refLog, "reference mod_wsgi log (errors='replace')%s", logDump(r.refLog, r.candLog))
		assert.Equal(t, r.refLog, r.candLog, "log lines%s", logDump(r.refLog, r.candLog))
	})

	// 10. a body shorter than its Content-Length (client half-closes).
	t.Run("short body", func(t *testing.T) {
		raw := "POST /s?op=readtwice HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789"
		r := surfaceRun(t, ref, cand, raw, true, "")
		require.Equal(t, 200, r.ref.Status, "reference mod_wsgi: %s", r.ref)
		reads, _ := decodeObj(t, "mod_wsgi", r.ref.Body)["reads"].([]any)
		require.Len(t, reads, 2, "reference mod_wsgi: %s", r.ref)
		first, _ := reads[0].(map[string]any)
		require.Equal(t, "Apache/mod_wsgi request data read error: Partial results are valid but processing is incomplete.",
			first["message"], "reference mod_wsgi first read")
		compareRaw(t, ref, cand, r.ref, r.cand)
	})

	// 11. signal.signal from a request (WSGIRestrictSignal On).
	t.Run("signal registration", func(t *testing.T) {
		r := surfaceRun(t, ref, cand, getReq("/s?op=signal"), false, "signal.signal(signal.SIGUSR1")
		require.Equal(t, 200, r.ref.Status, "reference mod_wsgi: %s", r.ref)
		compareRaw(t, ref, cand, r.ref, r.cand)
		levels := func(lines []string) []string {
			set := map[string]bool{}
			for _, l := range lines {
				if i := strings.Index(l, "] "); strings.HasPrefix(l, "[") && i > 0 {
					set[l[:i+1]] = true
				}
			}
			var out []string
			for k := range set {
				out = append(out, k)
			}
			sort.Strings(out)
			return out
		}
		lastFrame := func(lines []string) string {
			last := ""
			for _, l := range lines {
				if strings.Contains(l, `File "`) {
					last = l
				}
			}
			return last
		}
		require.Contains(t, r.refLog, "[warn] WSGI(pid): Callback registration for signal 10 ignored.", "reference mod_wsgi log%s", logDump(r.refLog, r.candLog))
		require.Equal(t, []string{"[warn]"}, levels(r.refLog), "reference mod_wsgi log levels%s", logDump(r.refLog, r.candLog))
		require.Contains(t, lastFrame(r.refLog), `File "`+script+`"`, "reference mod_wsgi stack%s", logDump(r.refLog, r.candLog))
		assert.Contains(t, r.candLog, "[warn] WSGI(pid): Callback registration for signal 10 ignored.", "log line%s", logDump(r.refLog, r.candLog))
		assert.Equal(t, levels(r.refLog), levels(r.candLog), "log levels%s", logDump(r.refLog, r.candLog))
		assert.Equal(t, lastFrame(r.refLog), lastFrame(r.candLog), "last stack frame is the app's line%s", logDump(r.refLog, r.candLog))
		assert.Empty(t, linesContaining(r.candLog, `File "<string>"`), "no internal <string> frame in the stack%s", logDump(r.refLog, r.candLog))
	})

	// 12. sys.exit() inside the callable.
	t.Run("sys.exit", func(t *testing.T) {
		r := surfaceRun(t, ref, cand, getReq("/s?op=exit"), false, "SystemExit")
		require.Equal(t, 500, r.ref.Status, "reference mod_wsgi: %s", r.ref)
		compareRaw(t, ref, cand, r.ref, r.cand)
		rl := linesContaining(r.refLog, "SystemExit exception raised by WSGI script")
		require.Equal(t, []string{"[error] [client] WSGI(pid): SystemExit exception raised by WSGI script '" + script + "' ignored."}, rl,
			"reference mod_wsgi log%s", logDump(r.refLog, r.candLog))
		assert.Equal(t, rl, linesContaining(r.candLog, "SystemExit exception raised by WSGI script"), "log line%s", logDump(r.refLog, r.candLog))
	})
}
