package tests

// The gowsgi section of mod_status's page (README, "Monitoring"): with
// ExtendedStatus On, server-status's HTML and its ?auto form show each
// group (Apache's children, then each daemon group) with its processes'
// pids (compared with the apps' os.getpid()), threads consistent with
// threads=, an on-demand group asleep then awake, and exactly the requests
// sent; nothing with ExtendedStatus Off; a group name that needs escaping
// escaped in HTML and percent-encoded in ?auto; and Debian's
// prometheus-apache-exporter still reads the ?auto page whole. mod_status
// is loaded from Debian's module directory by each test's own config.
// App: apps/metrics.wsgi.

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The odd group: a quote, angle brackets, an ampersand, a colon and spaces
// (a quoted WSGIDaemonProcess name may hold them).
const (
	msOddName  = `gwms <b>"q": & x`
	msOddConf  = `"gwms <b>\"q\": & x"`
	msOddAuto  = `gwms%20<b>"q":%20&%20x`
	msStatusOn = `
LoadModule status_module ` + modulesDir + `/mod_status.so
ExtendedStatus On
<Location /server-status>
    SetHandler server-status
    Require ip 127.0.0.1
</Location>
`
)

const modStatusApps = `
WSGIDaemonProcess gwmsa processes=2 threads=1
WSGIDaemonProcess gwmsod processes=1 threads=3 start=on-demand
WSGIDaemonProcess ` + msOddConf + ` processes=1 threads=2
WSGIScriptAlias /emb @ROOT@/scratch/metrics.wsgi
WSGIScriptAlias /da @ROOT@/scratch/metrics.wsgi process-group=gwmsa application-group=%{GLOBAL}
WSGIScriptAlias /od @ROOT@/scratch/metrics.wsgi process-group=gwmsod application-group=%{GLOBAL}
WSGIScriptAlias /odd @ROOT@/scratch/metrics.wsgi process-group=` + msOddConf + ` application-group=%{GLOBAL}
`

// msAuto is one ?auto reading: every line's key and value (as readers
// split them: at the first colon, spaces trimmed), and the gowsgi groups by
// their decoded-as-written names.
type msAuto struct {
	body   string
	kv     map[string]string
	groups map[string]int // ?auto Name value -> index
}

func readAuto(t *testing.T, a *Apache) msAuto {
	t.Helper()
	r := Get(t, a.URL("/server-status?auto"))
	require.Equal(t, 200, r.Status, "%v\n%s", r, a.ErrorLogContent())
	m := msAuto{body: r.Body, kv: map[string]string{}, groups: map[string]int{}}
	for i, line := range strings.Split(strings.TrimSuffix(r.Body, "\n"), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if i == 0 && !ok {
			continue // mod_status's first line: the server's name
		}
		require.True(t, ok, "a line without a key: %q", line)
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		_, dup := m.kv[k]
		require.False(t, dup, "key %q twice", k)
		m.kv[k] = v
	}
	n, err := strconv.Atoi(m.kv["GoWSGIGroups"])
	require.NoError(t, err, "GoWSGIGroups in\n%s", r.Body)
	for i := 0; i < n; i++ {
		name, ok := m.kv[fmt.Sprintf("GoWSGIGroup[%d]Name", i)]
		require.True(t, ok, "group %d has no Name", i)
		m.groups[name] = i
	}
	return m
}

// num is group name's field as a number (-1 when absent).
func (m msAuto) num(t *testing.T, name, field string) int {
	t.Helper()
	i, ok := m.groups[name]
	require.True(t, ok, "no group %q in\n%s", name, m.body)
	v, ok := m.kv[fmt.Sprintf("GoWSGIGroup[%d]%s", i, field)]
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "%s of %q: %q", field, name, v)
	return n
}

func (m msAuto) str(name, field string) string {
	return m.kv[fmt.Sprintf("GoWSGIGroup[%d]%s", m.groups[name], field)]
}

func (m msAuto) pids(name string) []int {
	var out []int
	for _, f := range strings.Fields(m.str(name, "Pids")) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// htmlRows reads the page's gowsgi table: each row's cells by the first
// cell (the group, as written in the page).
func htmlRows(t *testing.T, a *Apache) (string, map[string][]string) {
	t.Helper()
	r := Get(t, a.URL("/server-status"))
	require.Equal(t, 200, r.Status, "%v\n%s", r, a.ErrorLogContent())
	require.Equal(t, 1, strings.Count(r.Body, "<h2>gowsgi</h2>"), r.Body)
	sec := r.Body[strings.Index(r.Body, "<h2>gowsgi</h2>"):]
	end := strings.Index(sec, "</table>")
	require.Positive(t, end, sec)
	sec = sec[:end]
	rows := map[string][]string{}
	cell := regexp.MustCompile(`<td>(.*?)</td>`)
	for _, tr := range regexp.MustCompile(`<tr><td>.*</tr>`).FindAllString(sec, -1) {
		var cells []string
		for _, c := range cell.FindAllStringSubmatch(tr, -1) {
			cells = append(cells, c[1])
		}
		require.Len(t, cells, 12, tr)
		rows[cells[0]] = cells
	}
	return r.Body, rows
}

func msPid(t *testing.T, a *Apache, path string) int {
	t.Helper()
	r := Get(t, a.URL(path+"?pid=1"))
	require.Equal(t, 200, r.Status, "%s: %v\n%s", path, r, a.ErrorLogContent())
	pid, err := strconv.Atoi(r.Body)
	require.NoError(t, err, r.Body)
	return pid
}

func startModStatusServer(t *testing.T, mpm, snippet string) *Apache {
	t.Helper()
	_, err := os.Stat(filepath.Join(modulesDir, "mod_status.so"))
	require.NoError(t, err, "Debian's mod_status (apache2)")
	return startMetricsServer(t, mpm, snippet)
}

func TestModStatus_Section(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := startModStatusServer(t, mpm, msStatusOn+modStatusApps)
		waitUp(t, a, "/emb")
		waitUp(t, a, "/da")
		waitUp(t, a, "/odd")

		// The on-demand group, asleep: no process, no thread.
		m := readAuto(t, a)
		assert.Contains(t, m.kv, "Scoreboard", "mod_status's own lines are there")
		assert.Equal(t, "4", m.kv["GoWSGIGroups"])
		assert.Equal(t, 0, m.groups[""], "group 0: Apache's children")
		assert.Equal(t, "embedded", m.str("", "Mode"))
		assert.Equal(t, "daemon", m.str("gwmsa", "Mode"))
		assert.Equal(t, "on-demand", m.str("gwmsod", "Mode"))
		assert.Equal(t, 1, m.num(t, "gwmsod", "Asleep"))
		assert.Equal(t, 0, m.num(t, "gwmsa", "Asleep"))
		assert.Equal(t, 0, m.num(t, "gwmsod", "ProcessesReady"))
		assert.Empty(t, m.pids("gwmsod"))
		assert.Equal(t, 0, m.num(t, "gwmsod", "ThreadsIdle")+m.num(t, "gwmsod", "ThreadsBusy")+
			m.num(t, "gwmsod", "ThreadsNotStarted"))
		assert.Equal(t, 0, m.num(t, "gwmsod", "Requests"))
		assert.Equal(t, 0, m.num(t, "gwmsod", "ColdStarts"))
		_, rows := htmlRows(t, a)
		require.Contains(t, rows, "gwmsod")
		assert.Equal(t, "daemon, on-demand, asleep", rows["gwmsod"][2])
		assert.Equal(t, "0", rows["gwmsod"][3])

		// gwmsa's two processes, one thread each: two requests at once run
		// in both, and the page shows them busy while they sleep.
		before := readAuto(t, a)
		var wg sync.WaitGroup
		got := make([]int, 2)
		for i := range got {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r, err := doReq(http.DefaultClient, "GET", a.URL("/da?sleep=3&pid=1"), nil, nil)
				if err == nil && r.Status == 200 {
					got[i], _ = strconv.Atoi(r.Body)
				}
			}(i)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			m = readAuto(t, a)
			if m.num(t, "gwmsa", "ThreadsBusy") == 2 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		assert.Equal(t, 2, m.num(t, "gwmsa", "ThreadsBusy"), m.body)
		assert.Equal(t, 0, m.num(t, "gwmsa", "ThreadsIdle"))
		wg.Wait()
		sort.Ints(got)
		require.NotZero(t, got[0], "both requests answered with their pid")
		require.NotEqual(t, got[0], got[1], "one thread per process: two processes ran them")
		m = readAuto(t, a)
		assert.Equal(t, got, m.pids("gwmsa"), "the group's pids are the apps' os.getpid()")
		assert.Equal(t, 2, m.num(t, "gwmsa", "ProcessesReady"))
		assert.Equal(t, 0, m.num(t, "gwmsa", "ProcessesStarting")+m.num(t, "gwmsa", "ProcessesExiting"))
		assert.Equal(t, 2, m.num(t, "gwmsa", "ThreadsBusy")+m.num(t, "gwmsa", "ThreadsIdle")+
			m.num(t, "gwmsa", "ThreadsNotStarted"), "threads=1 x 2 processes")
		_, rows = htmlRows(t, a)
		require.Contains(t, rows, "gwmsa")
		cellPids := strings.Split(rows["gwmsa"][6], ", ")
		sort.Slice(cellPids, func(i, j int) bool {
			return len(cellPids[i]) < len(cellPids[j]) || len(cellPids[i]) == len(cellPids[j]) && cellPids[i] < cellPids[j]
		})
		assert.Equal(t, []string{strconv.Itoa(got[0]), strconv.Itoa(got[1])}, cellPids)
		assert.Equal(t, "2", rows["gwmsa"][3])
		assert.Equal(t, "daemon", rows["gwmsa"][2])

		// Embedded: the child that answered is one of Apache's children.
		emb := msPid(t, a, "/emb")
		m = readAuto(t, a)
		assert.Contains(t, m.pids(""), emb, m.body)
		assert.Positive(t, m.num(t, "", "ThreadsBusy"), "the status request itself")

		// Requests: exactly what was sent since before (two sleepers and a
		// pid in gwmsa and embedded mode, then these).
		for i := 0; i < 3; i++ {
			require.Equal(t, 404, Get(t, a.URL("/emb?status=404")).Status)
		}
		for i := 0; i < 2; i++ {
			require.Equal(t, 200, Get(t, a.URL("/da")).Status)
		}
		m = readAuto(t, a)
		assert.Equal(t, 4, m.num(t, "", "Requests")-before.num(t, "", "Requests"))
		assert.Equal(t, 4, m.num(t, "gwmsa", "Requests")-before.num(t, "gwmsa", "Requests"))
		assert.Equal(t, 0, m.num(t, "gwmsa", "Restarts"))
		_, rows = htmlRows(t, a)
		assert.Equal(t, strconv.Itoa(m.num(t, "gwmsa", "Requests")), rows["gwmsa"][10])
		assert.Equal(t, strconv.Itoa(m.num(t, "", "Requests")), rows["<i>Apache's children</i>"][10])

		// The on-demand group woken by a request.
		od := msPid(t, a, "/od")
		// The starter counts the wake once the process is ready, which may
		// be just after the request's answer.
		for deadline = time.Now().Add(10 * time.Second); ; {
			m = readAuto(t, a)
			if m.num(t, "gwmsod", "ColdStarts") != 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		assert.Equal(t, 0, m.num(t, "gwmsod", "Asleep"))
		assert.Equal(t, 1, m.num(t, "gwmsod", "ProcessesReady"))
		assert.Equal(t, []int{od}, m.pids("gwmsod"))
		assert.Equal(t, 3, m.num(t, "gwmsod", "ThreadsBusy")+m.num(t, "gwmsod", "ThreadsIdle")+
			m.num(t, "gwmsod", "ThreadsNotStarted"), "threads=3")
		assert.Equal(t, 1, m.num(t, "gwmsod", "Requests"))
		assert.Equal(t, 1, m.num(t, "gwmsod", "ColdStarts"))
		_, rows = htmlRows(t, a)
		assert.Equal(t, "daemon, on-demand, awake", rows["gwmsod"][2])
		assert.Equal(t, strconv.Itoa(od), rows["gwmsod"][6])

		// The odd name: escaped in HTML, percent-encoded in ?auto.
		odd := msPid(t, a, "/odd")
		body, rows := htmlRows(t, a)
		const esc = "gwms &lt;b&gt;&quot;q&quot;: &amp; x"
		require.Equal(t, msOddName, html.UnescapeString(esc))
		require.Contains(t, rows, esc, body)
		assert.Equal(t, strconv.Itoa(odd), rows[esc][6])
		assert.NotContains(t, body, `<b>"q"`)
		m = readAuto(t, a)
		dec, err := url.PathUnescape(msOddAuto)
		require.NoError(t, err)
		require.Equal(t, msOddName, dec, "?auto's name is the name percent-encoded")
		assert.Equal(t, []int{odd}, m.pids(msOddAuto), m.body)
		assert.Equal(t, "daemon", m.str(msOddAuto, "Mode"))

		// A daemon process killed: counted as a restart, its replacement's
		// pid shown once it is up.
		require.NoError(t, syscall.Kill(odd, syscall.SIGKILL))
		deadline = time.Now().Add(30 * time.Second)
		for {
			m = readAuto(t, a)
			p := m.pids(msOddAuto)
			if m.num(t, msOddAuto, "Restarts") == 1 && m.num(t, msOddAuto, "ProcessesReady") == 1 && len(p) == 1 &&
				p[0] != odd || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		assert.Equal(t, 1, m.num(t, msOddAuto, "Restarts"), "%s\n%s", m.body, a.ErrorLogContent())
		again := msPid(t, a, "/odd")
		assert.NotEqual(t, odd, again)
		assert.Equal(t, []int{again}, readAuto(t, a).pids(msOddAuto))
		_, rows = htmlRows(t, a)
		assert.Equal(t, "1", rows[esc][11])
	})
}

// ExtendedStatus Off: mod_status still answers, with no gowsgi section in
// either form.
func TestModStatus_ExtendedStatusOff(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := startModStatusServer(t, mpm, strings.Replace(msStatusOn, "ExtendedStatus On", "ExtendedStatus Off", 1)+
			modStatusApps)
		waitUp(t, a, "/emb")
		waitUp(t, a, "/da")
		r := Get(t, a.URL("/server-status"))
		require.Equal(t, 200, r.Status, "%v", r)
		assert.Contains(t, r.Body, "Apache Server Status")
		assert.NotContains(t, r.Body, "gowsgi</h2>")
		assert.NotContains(t, r.Body, "gwmsa")
		r = Get(t, a.URL("/server-status?auto"))
		require.Equal(t, 200, r.Status, "%v", r)
		assert.Contains(t, r.Body, "\nScoreboard: ")
		assert.NotContains(t, r.Body, "GoWSGI")
		r = Get(t, a.URL("/server-status?notable"))
		require.Equal(t, 200, r.Status, "%v", r)
		assert.NotContains(t, r.Body, "gwmsa")
	})
}

// ?notable (mod_status's page without tables): a line per group.
func TestModStatus_NoTable(t *testing.T) {
	a := startModStatusServer(t, testMPMs()[0], msStatusOn+modStatusApps)
	waitUp(t, a, "/da")
	pid := msPid(t, a, "/odd")
	r := Get(t, a.URL("/server-status?notable"))
	require.Equal(t, 200, r.Status, "%v", r)
	assert.NotContains(t, r.Body, `class="gowsgi"`)
	assert.Contains(t, r.Body, fmt.Sprintf("<b>gwms &lt;b&gt;&quot;q&quot;: &amp; x</b> (daemon): 1 ready, 0 starting, 0 exiting (%d);", pid))
	assert.Contains(t, r.Body, "<b>gwmsod</b> (daemon, on-demand, asleep): 0 ready")
}

// Debian's prometheus-apache-exporter reads the ?auto page with the gowsgi
// lines in it (the odd group's too): it is up, and Apache's own series are
// all there, with the values the page gives.
func TestModStatus_ApacheExporter(t *testing.T) {
	exporter, err := exec.LookPath("prometheus-apache-exporter")
	require.NoError(t, err, "Debian's prometheus-apache-exporter (make deps installs it)")
	// Debian 12's (0.11) takes --telemetry.address; Debian 13's (1.0,
	// exporter-toolkit) --web.listen-address.
	help, _ := exec.Command(exporter, "--help").CombinedOutput()
	listenFlag := "--telemetry.address"
	if strings.Contains(string(help), "--web.listen-address") {
		listenFlag = "--web.listen-address"
	}
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := startModStatusServer(t, mpm, msStatusOn+modStatusApps)
		waitUp(t, a, "/da")
		waitUp(t, a, "/odd")
		port, err := freePort()
		require.NoError(t, err)
		cmd := exec.Command(exporter, fmt.Sprintf("%s=127.0.0.1:%d", listenFlag, port),
			"--scrape_uri="+a.URL("/server-status?auto"))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		m := readAuto(t, a)
		require.Contains(t, m.groups, msOddAuto, "the odd name is on the page the exporter reads")
		var body string
		deadline := time.Now().Add(20 * time.Second)
		for {
			r, err := doReq(http.DefaultClient, "GET", fmt.Sprintf("http://127.0.0.1:%d/metrics", port), nil, nil)
			if err == nil && r.Status == 200 {
				body = r.Body
				break
			}
			require.True(t, time.Now().Before(deadline), "exporter: %v %v\n%s", err, r, out.String())
			time.Sleep(100 * time.Millisecond)
		}
		series := map[string]float64{}
		for _, line := range strings.Split(body, "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			v, err := strconv.ParseFloat(line[i+1:], 64)
			require.NoError(t, err, line)
			series[line[:i]] = v
		}
		assert.Equal(t, 1.0, series["apache_up"], body)
		_, failed := series["apache_exporter_scrape_failures_total"]
		assert.False(t, failed, "no scrape failure: %v\n%s", series["apache_exporter_scrape_failures_total"], out.String())
		want := []string{"apache_accesses_total", "apache_uptime_seconds_total", "apache_sent_kilobytes_total",
			`apache_workers{state="busy"}`, `apache_workers{state="idle"}`, `apache_scoreboard{state="idle"}`}
		if mpm == "event" {
			// mod_status gives Processes for the event MPM only.
			want = append(want, `apache_processes{state="all"}`)
		}
		for _, k := range want {
			assert.Contains(t, series, k, body)
		}
		// Apache's own values, not gowsgi's: the exporter's generation and
		// MPM are the page's.
		gen, err := strconv.ParseFloat(m.kv["ParentServerConfigGeneration"], 64)
		require.NoError(t, err, m.body)
		assert.Equal(t, gen, series[`apache_generation{type="config"}`], body)
		found := false
		for k, v := range series {
			if strings.HasPrefix(k, "apache_info{") && strings.Contains(k, `mpm="`+mpm+`"`) && v == 1 {
				found = true
			}
		}
		assert.True(t, found, "apache_info with mpm=%s:\n%s", mpm, body)
		assert.Greater(t, series["apache_accesses_total"], 0.0)
		for k := range series {
			name, _, _ := strings.Cut(k, "{")
			assert.NotContains(t, strings.ToLower(name), "gowsgi", "the exporter takes no gowsgi line for its own")
		}
	})
}

// A group defined in a <VirtualHost>: the table names that host (groups are
// server-wide: the page of either host lists every group). No ExtendedStatus
// line: mod_status loaded turns it on, and the section is there.
func TestModStatus_VirtualHost(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(appsDir(), "metrics.wsgi"))
	require.NoError(t, err)
	a, err := startApache(ServerSpec{Module: ModGowsgi, MPM: testMPMs()[0], ExtraPort: true,
		Files: map[string]string{"scratch/metrics.wsgi": string(src)},
		Snippet: strings.Replace(msStatusOn, "ExtendedStatus On\n", "", 1) + `
WSGIDaemonProcess gwmsmain processes=1 threads=1
WSGIScriptAlias /main @ROOT@/scratch/metrics.wsgi process-group=gwmsmain
<VirtualHost @HOST@:@PORT2@>
    ServerName gwms-vhost.test
    WSGIDaemonProcess gwmsv processes=1 threads=1
    WSGIScriptAlias /v @ROOT@/scratch/metrics.wsgi process-group=gwmsv
    <Location /server-status>
        SetHandler server-status
    </Location>
</VirtualHost>
`})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = a.Stop()
		a.removeRoot()
	})
	waitUp(t, a, "/main")
	_, rows := htmlRows(t, a)
	require.Contains(t, rows, "gwmsv")
	assert.Equal(t, "gwms-vhost.test", rows["gwmsv"][1])
	assert.Equal(t, "", rows["gwmsmain"][1])
	r := Get(t, fmt.Sprintf("http://127.0.0.1:%d/server-status", a.Port2))
	require.Equal(t, 200, r.Status, "%v", r)
	assert.Contains(t, r.Body, "<tr><td>gwmsmain</td>")
	assert.Contains(t, r.Body, "<tr><td>gwmsv</td><td>gwms-vhost.test</td>")
}

// The page with 20 daemon groups, each with traffic: ?auto and HTML each
// under 50 ms, the best of 7 (as gowsgi-metrics's bound; the best, so that
// the shared machine's load does not decide).
func TestModStatus_PageTime(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		var b strings.Builder
		b.WriteString(msStatusOn)
		for i := 0; i < 20; i++ {
			fmt.Fprintf(&b, "WSGIDaemonProcess gwms%02d processes=1 threads=1\n", i)
			fmt.Fprintf(&b, "WSGIScriptAlias /g%02d @ROOT@/scratch/metrics.wsgi process-group=gwms%02d\n", i, i)
		}
		a := startModStatusServer(t, mpm, b.String())
		for i := 0; i < 20; i++ {
			waitUp(t, a, fmt.Sprintf("/g%02d", i))
		}
		m := readAuto(t, a)
		assert.Equal(t, "21", m.kv["GoWSGIGroups"])
		for _, path := range []string{"/server-status?auto", "/server-status"} {
			best := time.Hour
			var all []time.Duration
			for i := 0; i < 7; i++ {
				start := time.Now()
				r := Get(t, a.URL(path))
				d := time.Since(start)
				require.Equal(t, 200, r.Status)
				require.Contains(t, r.Body, "gwms19")
				all = append(all, d)
				best = min(best, d)
			}
			t.Logf("%s %s, 20 groups: %v (best %v)", mpm, path, all, best)
			assert.Less(t, best, 50*time.Millisecond, path)
		}
	})
}
