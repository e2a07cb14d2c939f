package tests

// SetHandler gowsgi-status (README, "Monitoring"; docs/status-json.md):
// real traffic to an embedded app and three daemon groups (one run as a
// Unix user this test creates, one start=on-demand, one whose name holds
// markup and a byte that is not UTF-8), requests held in flight while the
// test looks, a daemon process killed with SIGKILL; then ?json checked
// against what was sent and what the apps said of themselves, and the page
// loaded in Debian's headless Chromium: its DOM after the page's own script
// ran, and a screenshot kept for a reader of the test output. Also: the
// handler answers only where a <Location> puts it, only GET and HEAD, with
// a strict Content-Security-Policy. App: apps/status.wsgi.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statusDoc is the ?json document (docs/status-json.md).
type statusDoc struct {
	Server struct {
		Version           string  `json:"version"`
		MPM               string  `json:"mpm"`
		GenerationStarted float64 `json:"generation_started"`
		Now               float64 `json:"now"`
		SampleSeconds     int     `json:"sample_seconds"`
	} `json:"server"`
	Groups   []statusGroup `json:"groups"`
	InFlight []struct {
		Group   string  `json:"group"`
		Pid     int     `json:"pid"`
		Since   float64 `json:"since"`
		Elapsed float64 `json:"elapsed"`
		Request string  `json:"request"`
	} `json:"in_flight"`
}

type statusGroup struct {
	Name      string `json:"name"`
	Mode      string `json:"mode"`
	User      string `json:"user"`
	Python    string `json:"python"`
	OnDemand  bool   `json:"on_demand"`
	Asleep    bool   `json:"asleep"`
	Processes []struct {
		Pid        int     `json:"pid"`
		State      string  `json:"state"`
		Started    float64 `json:"started"`
		RSSBytes   float64 `json:"rss_bytes"`
		CPUSeconds float64 `json:"cpu_seconds"`
		Requests   uint64  `json:"requests"`
	} `json:"processes"`
	Threads struct {
		Busy       int `json:"busy"`
		Idle       int `json:"idle"`
		NotStarted int `json:"not_started"`
	} `json:"threads"`
	Totals *struct {
		Requests    map[string]uint64 `json:"requests"`
		Count       uint64            `json:"count"`
		DurationSum float64           `json:"duration_sum"`
	} `json:"totals"`
	History []struct {
		T           float64 `json:"t"`
		Requests    uint64  `json:"requests"`
		DurationSum float64 `json:"duration_sum"`
		Errors      uint64  `json:"5xx"`
	} `json:"history"`
	Restarts []struct {
		Time   float64 `json:"time"`
		Pid    int     `json:"pid"`
		Cause  string  `json:"cause"`
		Detail string  `json:"detail"`
	} `json:"restarts"`
}

func (d *statusDoc) group(t *testing.T, name string) *statusGroup {
	t.Helper()
	for i := range d.Groups {
		if d.Groups[i].Name == name {
			return &d.Groups[i]
		}
	}
	require.Failf(t, "no such group in ?json", "%q", name)
	return nil
}

// pids of the group's processes and the sum of their request counts.
func (g *statusGroup) pidsAndRequests() (map[int]bool, uint64) {
	pids := map[int]bool{}
	var n uint64
	for _, p := range g.Processes {
		pids[p.Pid] = true
		n += p.Requests
	}
	return pids, n
}

// The markup and the byte that is not UTF-8 that a client and an admin put
// where the page shows them: nothing of it may run.
const statusEvil = `<script>document.title='pwned'</script>`

// statusSnippet: @USER@ is the test's Unix user.
const statusSnippet = `
ExtendedStatus On
WSGIDaemonProcess gwspusr processes=2 threads=2 user=@USER@
WSGIDaemonProcess gwspod processes=1 threads=2 start=on-demand
WSGIDaemonProcess "gwsp` + statusEvil + "\xff" + `" processes=1 threads=1
WSGIScriptAlias /emb @ROOT@/scratch/status.wsgi
WSGIScriptAlias /du @ROOT@/scratch/status.wsgi process-group=gwspusr application-group=%{GLOBAL}
WSGIScriptAlias /od @ROOT@/scratch/status.wsgi process-group=gwspod application-group=%{GLOBAL}
<Location /status>
    SetHandler gowsgi-status
    Require ip 127.0.0.1
</Location>
`

// statusUserName is this test's Unix user (gwsp-: this test's prefix).
func statusUserName(t *testing.T) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(t.Name()))
	return fmt.Sprintf("gwsp-%06x", h.Sum32()&0xffffff)
}

func startStatusServer(t *testing.T, mpm, snippet string, withUser bool) (*Apache, string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(appsDir(), "status.wsgi"))
	require.NoError(t, err)
	spec := ServerSpec{Module: ModGowsgi, MPM: mpm, Snippet: snippet,
		Files: map[string]string{"scratch/status.wsgi": string(src)}}
	name := ""
	if withUser {
		name = statusUserName(t)
		spec.Snippet = strings.ReplaceAll(spec.Snippet, "@USER@", name)
		spec.Setup = func(root string) error {
			_, err := createDaemonUser(t, name, filepath.Join(root, "home-"+name))
			return err
		}
	}
	a, err := startApache(spec)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = a.Stop()
		a.removeRoot()
	})
	return a, name
}

func readStatus(t *testing.T, a *Apache) (*statusDoc, string) {
	t.Helper()
	r := Get(t, a.URL("/status?json"))
	require.Equal(t, 200, r.Status, "%v\n%s", r, a.ErrorLogContent())
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
	require.True(t, utf8.ValidString(r.Body), "?json is valid UTF-8")
	var d statusDoc
	require.NoError(t, json.Unmarshal([]byte(r.Body), &d), r.Body)
	return &d, r.Body
}

// waitStatus reads ?json until ok says so (or fails after timeout).
func waitStatus(t *testing.T, a *Apache, timeout time.Duration, what string, ok func(*statusDoc) bool) *statusDoc {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, body := readStatus(t, a)
		if ok(d) {
			return d
		}
		require.True(t, time.Now().Before(deadline), "%s: still not so after %v:\n%s", what, timeout, body)
		time.Sleep(200 * time.Millisecond)
	}
}

// rawHold sends a request line as bytes (markup and a byte that is not
// UTF-8 included) on its own connection; the answer comes on done.
func rawHold(t *testing.T, a *Apache, target string) <-chan string {
	done := make(chan string, 1)
	c, err := net.DialTimeout("tcp", a.Addr(), 5*time.Second)
	require.NoError(t, err)
	_, err = c.Write([]byte("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
	require.NoError(t, err)
	go func() {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(90 * time.Second))
		b, _ := io.ReadAll(c)
		done <- string(b)
	}()
	return done
}

func TestStatusPage(t *testing.T) {
	chromium := requireChromium(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a, user := startStatusServer(t, mpm, statusSnippet, true)
		evilGroup := "gwsp" + statusEvil + "\xff"
		waitUp(t, a, "/emb")
		waitUp(t, a, "/du")

		before, _ := readStatus(t, a)
		od := before.group(t, "gwspod")
		assert.True(t, od.OnDemand)
		assert.True(t, od.Asleep, "no request has woken it")
		assert.Empty(t, od.Processes)
		_, duBefore := before.group(t, "gwspusr").pidsAndRequests()
		_, embProcBefore := before.group(t, "").pidsAndRequests()

		// Real traffic: N to each, the daemons' answers saying their pids.
		const nEmb, nDu, nOd = 5, 7, 3
		duPids := map[int]bool{}
		for i := 0; i < nEmb; i++ {
			require.Equal(t, 200, Get(t, a.URL("/emb")).Status)
		}
		for i := 0; i < nDu; i++ {
			r := Get(t, a.URL("/du?pid=1"))
			require.Equal(t, 200, r.Status, "%v", r)
			pid, err := strconv.Atoi(r.Body)
			require.NoError(t, err, r.Body)
			duPids[pid] = true
		}
		odPids := map[int]bool{}
		for i := 0; i < nOd; i++ {
			r := Get(t, a.URL("/od?pid=1"))
			require.Equal(t, 200, r.Status, "%v\n%s", r, a.ErrorLogContent())
			pid, err := strconv.Atoi(r.Body)
			require.NoError(t, err, r.Body)
			odPids[pid] = true
		}

		d, _ := readStatus(t, a)
		assert.Equal(t, mpm, d.Server.MPM)
		assert.Contains(t, d.Server.Version, "gowsgi/")
		delta := func(name string) uint64 {
			return d.group(t, name).Totals.Count - before.group(t, name).Totals.Count
		}
		assert.Equal(t, uint64(nEmb), delta(""), "embedded requests")
		assert.Equal(t, uint64(nDu), delta("gwspusr"), "gwspusr requests")
		assert.Equal(t, uint64(nOd), delta("gwspod"), "gwspod requests")
		emb := d.group(t, "")
		assert.Equal(t, "embedded", emb.Mode)
		assert.Equal(t, "www-data", emb.User)
		assert.NotEmpty(t, emb.Python)
		_, embProc := emb.pidsAndRequests()
		assert.GreaterOrEqual(t, embProc-embProcBefore, uint64(nEmb), "Apache's children's scoreboard counts")

		du := d.group(t, "gwspusr")
		assert.Equal(t, "daemon", du.Mode)
		assert.Equal(t, user, du.User)
		assert.Regexp(t, `^3\.\d+`, du.Python)
		pids, duProcN := du.pidsAndRequests()
		assert.Len(t, pids, 2)
		for pid := range duPids {
			assert.True(t, pids[pid], "pid %d answered but is not listed: %v", pid, pids)
		}
		assert.Equal(t, uint64(nDu), duProcN-duBefore, "requests counted per process of gwspusr")
		for _, p := range du.Processes {
			assert.Equal(t, "ready", p.State)
			assert.Positive(t, p.RSSBytes)
			assert.InDelta(t, d.Server.Now, p.Started, 600)
		}
		od = d.group(t, "gwspod")
		assert.False(t, od.Asleep)
		odList, odN := od.pidsAndRequests()
		assert.Equal(t, odPids, odList, "the on-demand group's process is the one that answered")
		assert.Equal(t, uint64(nOd), odN)

		// A daemon process killed: a restart with its cause, a new pid.
		var victim int
		for pid := range pids {
			victim = pid
			break
		}
		require.NoError(t, syscall.Kill(victim, syscall.SIGKILL))
		d = waitStatus(t, a, 30*time.Second, "the killed process restarted", func(d *statusDoc) bool {
			g := d.group(t, "gwspusr")
			ready := 0
			for _, p := range g.Processes {
				if p.Pid == victim {
					return false
				}
				if p.State == "ready" {
					ready++
				}
			}
			return len(g.Restarts) > 0 && ready == 2
		})
		du = d.group(t, "gwspusr")
		require.Len(t, du.Restarts, 1)
		assert.Equal(t, victim, du.Restarts[0].Pid)
		assert.Equal(t, "killed", du.Restarts[0].Cause)
		assert.Contains(t, du.Restarts[0].Detail, "signal 9")
		newPids, _ := du.pidsAndRequests()
		assert.False(t, newPids[victim])

		// The history the parent samples every 5 s: the traffic is in it.
		d = waitStatus(t, a, 30*time.Second, "three samples after the traffic", func(d *statusDoc) bool {
			h := d.group(t, "gwspusr").History
			return len(h) >= 3 && h[len(h)-1].Requests >= before.group(t, "gwspusr").Totals.Count+nDu
		})
		h := d.group(t, "gwspusr").History
		// The first sample is the parent's at start-up, before any traffic.
		assert.GreaterOrEqual(t, h[len(h)-1].Requests-h[0].Requests, uint64(nDu), "the history covers the traffic")
		for i := 1; i < len(h); i++ {
			assert.Greater(t, h[i].T, h[i-1].T)
			assert.GreaterOrEqual(t, h[i].Requests, h[i-1].Requests)
			// At least 5 s apart; Apache's parent runs its monitor hook
			// about once a second, less often when the box is loaded.
			assert.GreaterOrEqual(t, h[i].T-h[i-1].T, 4.9, "samples at least 5 s apart")
			assert.Less(t, h[i].T-h[i-1].T, 30.0, "samples at least every 30 s")
		}

		// Requests held in flight: one to a daemon group, one embedded with
		// markup and a byte that is not UTF-8 in its request line.
		release := func(name string) {
			require.NoError(t, os.WriteFile(filepath.Join(a.Root, "scratch", "release-"+name), nil, 0o644))
		}
		holdDu := rawHold(t, a, "/du?hold=du&slowpath=1")
		evilTarget := "/emb?hold=emb&x=" + statusEvil + "\xfe"
		holdEmb := rawHold(t, a, evilTarget)
		released := false
		defer func() {
			if !released {
				release("du")
				release("emb")
			}
		}()
		d = waitStatus(t, a, 20*time.Second, "both held requests in flight", func(d *statusDoc) bool {
			n := 0
			for _, f := range d.InFlight {
				if strings.Contains(f.Request, "/du?hold=du&slowpath=1") || strings.Contains(f.Request, "hold=emb") {
					n++
				}
			}
			return n == 2 && d.group(t, "gwspusr").Threads.Busy >= 1
		})
		for _, f := range d.InFlight {
			switch {
			case strings.Contains(f.Request, "hold=du"):
				assert.Equal(t, "GET /du?hold=du&slowpath=1", f.Request)
				assert.Equal(t, "gwspusr", f.Group)
			case strings.Contains(f.Request, "hold=emb"):
				assert.Equal(t, "GET /emb?hold=emb&x="+statusEvil+"\ufffd", f.Request, "escaped, bad byte replaced")
				assert.Equal(t, "", f.Group)
			}
			assert.GreaterOrEqual(t, f.Elapsed, 0.0)
			assert.InDelta(t, d.Server.Now, f.Since, 120)
		}
		_, body := readStatus(t, a)
		assert.Contains(t, body, `\u003cscript\u003e`, "markup escaped in ?json")
		assert.NotContains(t, body, "<script", "no raw markup in ?json")
		assert.Equal(t, evilGroup[:len(evilGroup)-1]+"\ufffd", d.Groups[3].Name, "the group's name, bad byte replaced")

		// The page, in a real browser, with the held requests still in flight.
		dom, png := chromiumLoad(t, chromium, a.URL("/status"), "status-"+mpm)
		assert.Contains(t, dom, "<title>gowsgi status</title>", "the page's title: nothing of the markup ran")
		assert.Equal(t, 1, strings.Count(dom, "<script"), "only the page's own script")
		assert.Regexp(t, `<span id="state" class="">updated at [^<]+</span>`, dom)
		for _, name := range []string{"gwspusr", "gwspod", "embedded (Apache's children)", user} {
			assert.Contains(t, dom, name)
		}
		assert.Contains(t, dom, "&lt;script&gt;document.title='pwned'&lt;/script&gt;", "the group name and request line as text")
		assert.Contains(t, dom, "/du?hold=du&amp;slowpath=1", "the request in flight")
		d, _ = readStatus(t, a)
		du = d.group(t, "gwspusr")
		for _, p := range du.Processes {
			assert.Regexp(t, fmt.Sprintf(`<tr data-pid="%d"><td class="pid">%d</td><td>ready</td>`, p.Pid, p.Pid), dom)
			assert.Regexp(t, fmt.Sprintf(`<tr data-pid="%d">.*?<td class="num requests">%d</td>`, p.Pid, p.Requests), dom)
		}
		assert.Contains(t, dom, fmt.Sprintf("%d requests (2xx %d", du.Totals.Count, du.Totals.Requests["2xx"]))
		assert.Regexp(t, `<td class="cause">killed</td>`, dom)
		assert.Regexp(t, `<svg class="chart"[^>]*data-series="rate"[^>]*>.*?<path d="M`, dom, "the rate chart is drawn")
		assert.Regexp(t, `<svg class="chart"[^>]*data-series="lat"[^>]*>.*?<path d="M`, dom, "the latency chart is drawn")
		m := regexp.MustCompile(`(?s)data-group="gwspusr".*?data-series="rate".*?>max ([0-9.]+)<`).FindStringSubmatch(dom)
		if assert.NotNil(t, m, "gwspusr's rate chart") {
			v, _ := strconv.ParseFloat(m[1], 64)
			assert.Positive(t, v, "gwspusr's rate chart shows the traffic")
		}
		t.Logf("%s: screenshot of the status page: %s", mpm, png)

		release("du")
		release("emb")
		released = true
		assert.Contains(t, <-holdDu, "HTTP/1.1 200")
		assert.Contains(t, <-holdEmb, "HTTP/1.1 200")
		waitStatus(t, a, 10*time.Second, "nothing in flight", func(d *statusDoc) bool { return len(d.InFlight) == 0 })
	})
}

// The handler is nowhere by default; where a <Location> puts it: GET and
// HEAD only, no-store, nosniff, a CSP whose nonce is new in each response
// and the one the page's script and style carry.
func TestStatusPage_Exposure(t *testing.T) {
	a, _ := startStatusServer(t, testMPMs()[0], `WSGIScriptAlias /emb @ROOT@/scratch/status.wsgi
`, false)
	waitUp(t, a, "/emb")
	for _, p := range []string{"/status", "/status?json", "/gowsgi-status", "/server-status", "/emb/status?json"} {
		r := Get(t, a.URL(p)) // 404, or the app's own answer
		assert.NotContains(t, r.Body, "in_flight")
		assert.NotContains(t, r.Body, "gowsgi status")
	}

	b, _ := startStatusServer(t, testMPMs()[0], `WSGIScriptAlias /emb @ROOT@/scratch/status.wsgi
<Location /ops/status>
    SetHandler gowsgi-status
    Require ip 127.0.0.1
</Location>
<Location /status-denied>
    SetHandler gowsgi-status
    Require all denied
</Location>
<Location /status-nojson>
    SetHandler gowsgi-status
    <If "%{QUERY_STRING} == 'json'">
        Require all denied
    </If>
</Location>
`, false)
	waitUp(t, b, "/emb")
	assert.Equal(t, 403, Get(t, b.URL("/status-denied?json")).Status)
	assert.Equal(t, 404, Get(t, b.URL("/status?json")).Status)
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		r := Do(t, m, b.URL("/ops/status?json"), strings.NewReader("x"), nil)
		assert.Equal(t, 405, r.Status, m)
		assert.Contains(t, r.Header.Get("Allow"), "GET", m)
		assert.NotContains(t, r.Body, "in_flight")
	}
	h := Do(t, "HEAD", b.URL("/ops/status"), nil, nil)
	assert.Equal(t, 200, h.Status)
	assert.Empty(t, h.Body)

	nonceRe := regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9+/=]{24})'`)
	var nonces []string
	for i := 0; i < 2; i++ {
		r := Get(t, b.URL("/ops/status"))
		require.Equal(t, 200, r.Status)
		assert.Equal(t, "text/html; charset=utf-8", r.Header.Get("Content-Type"))
		assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
		assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
		csp := r.Header.Get("Content-Security-Policy")
		assert.True(t, strings.HasPrefix(csp, "default-src 'none'; "), csp)
		assert.Contains(t, csp, "connect-src 'self'")
		assert.NotContains(t, csp, "unsafe-inline")
		m := nonceRe.FindStringSubmatch(csp)
		require.NotNil(t, m, csp)
		nonces = append(nonces, m[1])
		assert.Equal(t, 1, strings.Count(r.Body, `<script nonce="`+m[1]+`">`))
		assert.Equal(t, 1, strings.Count(r.Body, `<style nonce="`+m[1]+`">`))
		assert.NotContains(t, r.Body, "@NONCE@")
		assert.NotRegexp(t, `(src|href)="(https?:)?//`, r.Body, "nothing from outside the server")
	}
	assert.NotEqual(t, nonces[0], nonces[1], "a nonce per response")

	// The page whose ?json fails says so, visibly.
	dom, _ := chromiumLoad(t, requireChromium(t), b.URL("/status-nojson"), "status-error")
	assert.Regexp(t, `<span id="state" class="err">error: HTTP 403</span>`, dom)
	assert.NotContains(t, dom, `class="">updated at`)
}

// requireChromium finds Debian's chromium (make deps installs it).
func requireChromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	require.NoError(t, err, "chromium (Debian's; make deps installs it)")
	return p
}

// statusArtifacts is where screenshots are kept for a reader of the test
// output: $GOWSGI_TEST_ARTIFACTS, else /tmp/gowsgi-artifacts.
func statusArtifacts(t *testing.T) string {
	dir := os.Getenv("GOWSGI_TEST_ARTIFACTS")
	if dir == "" {
		dir = "/tmp/gowsgi-artifacts"
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

const chromiumWidth, chromiumHeight = 1280, 1400

// chromiumLoad loads url in headless Chromium twice: --dump-dom (the DOM
// once the page's script has fetched ?json and drawn it) and --screenshot
// (kept in the artifacts directory; its path is returned). Each run is its
// own process group, killed whole when it ends or the test fails; its
// profile lives under a temporary directory removed after.
func chromiumLoad(t *testing.T, chromium, url, name string) (string, string) {
	t.Helper()
	profile := t.TempDir()
	png := filepath.Join(statusArtifacts(t), fmt.Sprintf("%s-%d.png", name, time.Now().UnixNano()))
	run := func(args ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
			"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
			"--disable-background-networking", "--disable-component-update", "--user-data-dir=" + profile,
			fmt.Sprintf("--window-size=%d,%d", chromiumWidth, chromiumHeight), "--hide-scrollbars",
			"--virtual-time-budget=4000"}
		cmd := exec.CommandContext(ctx, chromium, append(append(base, args...), url)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		require.NoError(t, cmd.Start())
		pgid := cmd.Process.Pid
		defer func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }() // its helpers too, whatever happened
		err := cmd.Wait()
		require.NoError(t, err, "chromium %v: %s", args, errb.String())
		return out.Bytes()
	}
	dom := string(run("--dump-dom"))
	run("--screenshot=" + png)
	b, err := os.ReadFile(png)
	require.NoError(t, err)
	require.Greater(t, len(b), 24)
	require.Equal(t, []byte("\x89PNG\r\n\x1a\n"), b[:8], "a PNG")
	assert.Equal(t, "IHDR", string(b[12:16]))
	assert.Equal(t, uint32(chromiumWidth), binary.BigEndian.Uint32(b[16:20]), "the window's width")
	assert.Equal(t, uint32(chromiumHeight), binary.BigEndian.Uint32(b[20:24]), "the window's height")
	// No chromium of this profile may be left running.
	assert.Empty(t, processesWith(profile), "chromium processes left running")
	return dom, png
}

// processesWith lists the pids whose command line contains s.
func processesWith(s string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// An Apache child killed while it runs a WSGI request leaves its worker's
// in-flight record set: it is not listed (the scoreboard says the worker
// is not busy in that child), and the worker that takes its place records
// its own requests. Under prefork the server has exactly two children, so
// that the dead child's slot is taken by the new one, which then serves
// either the next held request or the test's reads of ?json: a record
// left behind, or one never written again, shows either way.
func TestStatusPage_DeadChild(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		snippet := `WSGIScriptAlias /emb @ROOT@/scratch/status.wsgi
<Location /status>
    SetHandler gowsgi-status
</Location>
`
		if mpm == "prefork" {
			snippet += "StartServers 2\nMinSpareServers 2\nMaxSpareServers 2\nServerLimit 2\nMaxRequestWorkers 2\n"
		}
		a, _ := startStatusServer(t, mpm, snippet, false)
		waitUp(t, a, "/emb")
		scratch := filepath.Join(a.Root, "scratch")
		defer func() {
			for _, n := range []string{"a", "b"} {
				_ = os.WriteFile(filepath.Join(scratch, "release-"+n), nil, 0o644)
			}
		}()
		held := rawHold(t, a, "/emb?hold=a")
		var pid int
		waitStatus(t, a, 20*time.Second, "the held request in flight", func(d *statusDoc) bool {
			for _, f := range d.InFlight {
				if f.Request == "GET /emb?hold=a" {
					pid = f.Pid
					return true
				}
			}
			return false
		})
		require.Positive(t, pid)
		d, _ := readStatus(t, a)
		pids, _ := d.group(t, "").pidsAndRequests()
		require.True(t, pids[pid], "the in-flight pid %d is one of Apache's children %v", pid, pids)
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		<-held
		waitStatus(t, a, 20*time.Second, "the dead child's request no longer listed", func(d *statusDoc) bool {
			return len(d.InFlight) == 0
		})
		// Requests after it are listed again (a new child, maybe in the
		// same scoreboard slot).
		for i := 0; i < 3; i++ {
			require.Equal(t, 200, Get(t, a.URL("/emb")).Status)
		}
		heldB := rawHold(t, a, "/emb?hold=b")
		waitStatus(t, a, 20*time.Second, "a new held request in flight", func(d *statusDoc) bool {
			return len(d.InFlight) == 1 && d.InFlight[0].Request == "GET /emb?hold=b" && d.InFlight[0].Pid != pid
		})
		require.NoError(t, os.WriteFile(filepath.Join(scratch, "release-b"), nil, 0o644))
		assert.Contains(t, <-heldB, "HTTP/1.1 200")
	})
}
