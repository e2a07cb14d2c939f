package main

// The tenants benchmark (`-tenants N`, `make bench-tenants`): one Apache
// with N daemon groups, each one process serving a hello app under its own
// Location, as a shared host has them. For each variant (mod_wsgi, gowsgi
// with eager groups, gowsgi with start=on-demand groups) it measures the
// PSS of the whole server (Apache's parent and children and every daemon)
// idle, after one request to each tenant, and (on-demand) once the groups
// have stopped again at their inactivity-timeout; how long each tenant's
// first request took (for on-demand groups: a cold start); and, for
// on-demand groups, the cold start of a Django app beside the time its
// import takes in a plain python3.

import (
	_ "embed"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

//go:embed app/hello.wsgi
var helloApp []byte

// djangoAppDir is the Django app of the integration tests, copied into a
// tenants server's root (the driver runs from the repository's top).
const djangoAppDir = "tests/apps/djangoapp"

// tenantVariants are the -tenant-variants.
func tenantVariants() []Variant {
	return []Variant{
		{Name: "modwsgi", Title: "mod_wsgi 4.9.4, eager groups", Module: "mod_wsgi", Daemon: true},
		{Name: "gowsgi", Title: "gowsgi, eager groups", Module: "gowsgi", Daemon: true},
		{Name: "gowsgi-ondemand", Title: "gowsgi, start=on-demand groups", Module: "gowsgi", Daemon: true, OnDemand: true},
	}
}

// TenantResult is what one variant measured.
type TenantResult struct {
	Variant     Variant
	Err         string
	Daemons     int     // daemon processes once idle (eager) or after the requests
	IdlePSS     int64   // the whole server, before any request
	IdleDaemon  []int64 // each daemon process's PSS, idle
	AfterPSS    int64   // after one request to each tenant
	AfterDaemon []int64
	StoppedPSS  int64 // on-demand: after the groups stopped again
	First       []time.Duration
	ApachePSS   int64 // parent and MPM children, idle
	// Django on an on-demand group: its first request, and the app's
	// import in a plain python3 (best of three).
	// DjangoFirst: the import and the app's first call, in python3.
	DjangoCold, DjangoImport, DjangoFirst time.Duration
	DjangoNote                            string
	// The idle daemons' mean breakdown by mapping (smapsBreakdown), and
	// their mean number of OS threads.
	BreakPSS, BreakDirty map[string]int64
	Threads              float64
	// Sweep: how long the first requests to every tenant took in all;
	// the load average before it and once measured after it.
	Sweep                 time.Duration
	LoadBefore, LoadAfter string
	// On-demand: each cold start split into phases (coldphases.go), the
	// hello groups' and Django's; the whole server's CPU over IdleWindow
	// once every group had answered and nothing was asked, with
	// IdleProcs processes in the server (Apache's parent and children,
	// the starter, the groups up).
	HelloPhases, DjangoPhases []ColdPhases
	IdleCPU                   time.Duration
	IdleProcs                 int
	// The daemons' own CPU and wake-ups over IdleCostWindow, nothing
	// asked: eager groups before their first request, on-demand ones
	// (awake) after it.
	DaemonIdle IdleCost
}

// IdleWindow is how long the idle server's CPU is measured.
const IdleWindow = 10 * time.Second

// IdleCostWindow is how long the idle daemons' CPU and wake-ups are
// measured: long enough for timers of a second or more to show.
const IdleCostWindow = 20 * time.Second

// tenantConfig writes the tenants' part of httpd.conf.
func (c *ServerConfig) tenantConfig(p func(string, ...any)) {
	v := c.Variant
	p("WSGISocketPrefix %s", filepath.Join(c.Root, "run", "wsgi"))
	if v.RestrictEmbedded {
		// Apache's children only forward: no Python (nor, under gowsgi,
		// the engine) in them.
		p("WSGIRestrictEmbedded On")
	}
	start := ""
	if v.OnDemand {
		start = fmt.Sprintf(" start=on-demand inactivity-timeout=%d", v.Inactivity)
	}
	hello := filepath.Join(c.Root, "app", "hello.wsgi")
	for i := 1; i <= v.Tenants; i++ {
		// process-group and application-group both given: the script is
		// loaded when the process starts (mod_wsgi's rule), as a tenant's
		// app would be.
		p("WSGIDaemonProcess t%d processes=1 threads=15%s", i, start)
		p("WSGIScriptAlias /t%d %q process-group=t%d application-group=%%{GLOBAL}", i, hello, i)
	}
	if v.Django {
		p("WSGIDaemonProcess dj processes=1 threads=15%s", start)
		p("WSGIScriptAlias /django %q process-group=dj application-group=%%{GLOBAL}",
			filepath.Join(c.Root, "app", "djangoapp", "django.wsgi"))
	}
}

func runTenants(o *Options, tmp string) error {
	n := o.Tenants
	var results []*TenantResult
	fmt.Printf("gowsgi tenants benchmark: %d tenants (daemon groups of one process, threads=15, hello app), MPM %s\n\n", n, o.MPM)
	for _, v := range tenantVariants() {
		if !selected(v.Name, o.Variants) {
			continue
		}
		v.Tenants = n
		v.Inactivity = o.TenantIdle
		if v.Inactivity == 0 {
			// The groups started first must still be up when the last
			// one has answered and the server is measured: a cold start
			// takes up to about 0.4 s on a loaded box.
			v.Inactivity = 30 + n/2
		}
		v.Django = v.OnDemand
		v.RestrictEmbedded = o.TenantRestrict
		r := measureTenants(v, o, tmp)
		results = append(results, r)
		printTenants(r, n)
	}
	md := tenantsMarkdown(o, results)
	fmt.Println()
	fmt.Println(md)
	out := filepath.Join(o.BuildDir, "bench", fmt.Sprintf("tenants-%d.md", n))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Printf("written: %s\n", out)
	return nil
}

func measureTenants(v Variant, o *Options, tmp string) *TenantResult {
	r := &TenantResult{Variant: v}
	s, err := startServer(v, o.MPM, o.BuildDir, tmp)
	if err != nil {
		r.Err = "server did not start: " + err.Error()
		return r
	}
	setCurrent(s)
	defer setCurrent(nil)
	defer func() {
		if _, err := s.Stop(); err != nil {
			r.Err = strings.TrimSpace(r.Err + "\nstop: " + err.Error())
		}
		if !o.Keep {
			os.RemoveAll(s.Conf.Root)
		}
	}()
	// Eager: one daemon per tenant. On-demand: none, though the processes
	// that start them (a starter) may run: whatever runs once their number
	// has settled is the idle server, and what it comes back to.
	base := 0
	if v.OnDemand {
		base = settledCount(s, 30*time.Second)
	} else if err := waitDaemons(s, v.Tenants, 60*time.Second+time.Duration(v.Tenants)*time.Second); err != nil {
		r.Err = err.Error() + "\nerror log:\n" + errorLogLines(s, 15)
		return r
	}
	r.IdlePSS = settledPSS(s)
	r.IdleDaemon, _ = daemonPSS(s)
	r.ApachePSS = r.IdlePSS - sum(r.IdleDaemon)
	r.BreakPSS, r.BreakDirty, r.Threads, _ = daemonBreakdown(s)
	if !v.OnDemand {
		if c, err := idleDaemonCost(s, IdleCostWindow); err == nil {
			r.DaemonIdle = c
		}
	}

	r.LoadBefore = loadAvg()
	sweep := time.Now()
	var spans []coldSpan
	for i := 1; i <= v.Tenants; i++ {
		start := time.Now()
		took, err := hello(s.BaseURL() + fmt.Sprintf("/t%d/", i))
		if err != nil {
			r.Err = fmt.Sprintf("tenant t%d: %v\nerror log:\n%s", i, err, errorLogLines(s, 15))
			return r
		}
		r.First = append(r.First, took)
		spans = append(spans, coldSpan{group: fmt.Sprintf("t%d", i), start: start, end: start.Add(took)})
	}
	r.Sweep = time.Since(sweep)
	if v.Django {
		r.DjangoImport, r.DjangoFirst, r.DjangoNote = djangoImportTime(filepath.Join(s.Conf.Root, "app", "djangoapp"))
		start := time.Now()
		if took, err := djangoRequest(s.BaseURL() + "/django/"); err != nil {
			r.DjangoNote = strings.TrimSpace(r.DjangoNote + " first Django request failed: " + err.Error())
		} else {
			r.DjangoCold = took
			r.DjangoPhases = coldPhasesOf(s.Conf.ErrorLog(), []coldSpan{{group: "dj", start: start, end: start.Add(took)}})
		}
	}
	if v.OnDemand {
		r.HelloPhases = coldPhasesOf(s.Conf.ErrorLog(), spans)
		if cpu, procs, err := idleCPU(s, IdleWindow); err == nil {
			r.IdleCPU, r.IdleProcs = cpu, procs
		}
		if c, err := idleDaemonCost(s, IdleCostWindow); err == nil {
			r.DaemonIdle = c
		}
	}
	r.AfterPSS = settledPSS(s)
	r.AfterDaemon, _ = daemonPSS(s)
	r.Daemons = len(r.AfterDaemon)
	r.LoadAfter = loadAvg()
	if v.OnDemand {
		// Past inactivity-timeout every group has stopped again.
		if err := waitDaemons(s, base, time.Duration(v.Inactivity)*time.Second+60*time.Second); err != nil {
			r.Err = "on-demand groups did not stop at inactivity-timeout: " + err.Error()
			return r
		}
		r.StoppedPSS = settledPSS(s)
	}
	return r
}

// daemonPSS is the PSS of each of the server's processes that does not
// hold its listener (the daemons and, on-demand, their starter).
// A process that exits between the scan of the tree and the read of its
// smaps_rollup (an on-demand group stopping) fails the scan: it is retried.
func daemonPSS(s *Server) ([]int64, error) {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		var procs []int64
		if procs, _, err = s.separatePSS(); err == nil {
			return procs, nil
		}
	}
	return nil, err
}

// daemonCount is how many of the server's processes do not hold its
// listener, or -1.
func daemonCount(s *Server) int {
	procs, err := daemonPSS(s)
	if err != nil {
		return -1
	}
	return len(procs)
}

// waitDaemons waits until exactly want processes of the server do not hold
// its listener.
func waitDaemons(s *Server, want int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	last := -1
	for time.Now().Before(deadline) {
		if s.exited() {
			return fmt.Errorf("apache exited")
		}
		if last = daemonCount(s); last == want {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("%d daemon processes after %v, want %d", last, limit, want)
}

// settledCount is the number of the server's processes that do not hold
// its listener once it has not changed for 2 s (at most limit).
func settledCount(s *Server, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	last, since := daemonCount(s), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < 2*time.Second {
		time.Sleep(250 * time.Millisecond)
		if n := daemonCount(s); n != last {
			last, since = n, time.Now()
		}
	}
	return last
}

// settledPSS samples the server's PSS each second until two samples in a
// row differ by less than 0.5% (processes finish starting, lazy pages are
// touched), at most 20 s.
func settledPSS(s *Server) int64 {
	prev, _ := s.treePSS()
	for i := 0; i < 20; i++ {
		time.Sleep(time.Second)
		cur, _ := s.treePSS()
		d := cur - prev
		if d < 0 {
			d = -d
		}
		if float64(d) < 0.005*float64(cur) {
			return cur
		}
		prev = cur
	}
	return prev
}

var tenantClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func hello(url string) (time.Duration, error) { return timedGet(url, helloBody) }

func djangoRequest(url string) (time.Duration, error) { return timedGet(url, "") }

// timedGet: how long a GET took to answer 200 (with body want, unless "").
func timedGet(url, want string) (time.Duration, error) {
	start := time.Now()
	resp, err := tenantClient.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != 200 || (want != "" && string(body) != want) {
		return 0, fmt.Errorf("status %d, body %q", resp.StatusCode, trim(body))
	}
	return took, nil
}

func trim(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// djangoImportTime is how long the Django app's WSGI script (the server's
// copy, in dir) takes to run in a plain python3 (the interpreter's own
// start-up excluded), and that plus the app's first call (Django imports
// its URLconf, views and middleware then): best of three each.
func djangoImportTime(dir string) (imp, first time.Duration, note string) {
	script := fmt.Sprintf(`import runpy, time, wsgiref.util
t = time.perf_counter()
app = runpy.run_path(%q)["application"]
t1 = time.perf_counter()
env = {"SCRIPT_NAME": "/django", "PATH_INFO": "/", "HTTP_HOST": "127.0.0.1"}
wsgiref.util.setup_testing_defaults(env)
b"".join(app(env, lambda status, headers, exc_info=None: None))
print(t1 - t, time.perf_counter() - t)`, filepath.Join(dir, "django.wsgi"))
	for i := 0; i < 3; i++ {
		cmd := exec.Command(systemPy, "-c", script)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
		out, err := cmd.Output()
		if err != nil {
			return 0, 0, "Django import failed: " + err.Error()
		}
		var a, b float64
		if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "%g %g", &a, &b); err != nil {
			return 0, 0, "Django import time unreadable: " + string(out)
		}
		if d := time.Duration(a * float64(time.Second)); imp == 0 || d < imp {
			imp = d
		}
		if d := time.Duration(b * float64(time.Second)); first == 0 || d < first {
			first = d
		}
	}
	return imp, first, ""
}

func sum(xs []int64) int64 {
	var t int64
	for _, x := range xs {
		t += x
	}
	return t
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func durations(ds []time.Duration) (med, max time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2], s[len(s)-1]
}

func printTenants(r *TenantResult, n int) {
	switch {
	case r.Err != "":
		fmt.Printf("  %-16s ERROR %s\n", r.Variant.Name, indent(r.Err))
		return
	}
	med, max := durations(r.First)
	fmt.Printf("  %-16s idle %7.1f MiB (%.2f MiB/tenant, daemons %.2f MiB each)  after one request each %7.1f MiB  first request median %v max %v\n",
		r.Variant.Name, mib(r.IdlePSS), mib(r.IdlePSS)/float64(n), avgMiB(r.IdleDaemon), mib(r.AfterPSS),
		med.Round(100*time.Microsecond), max.Round(100*time.Microsecond))
	if r.Variant.OnDemand {
		fmt.Printf("  %-16s stopped again %7.1f MiB; Django cold start %v (import alone %v, import and first call %v) %s\n", "",
			mib(r.StoppedPSS), r.DjangoCold.Round(time.Millisecond), r.DjangoImport.Round(time.Millisecond),
			r.DjangoFirst.Round(time.Millisecond), r.DjangoNote)
		med, max := phaseStats(r.HelloPhases)
		fmt.Printf("  %-16s hello cold starts (%d split): median %s; max %s\n", "", len(r.HelloPhases), phasesText(med), phasesText(max))
		if len(r.DjangoPhases) == 1 {
			fmt.Printf("  %-16s Django cold start: %s\n", "", phasesText(r.DjangoPhases[0]))
		}
		fmt.Printf("  %-16s idle server of %d processes: %.0f ms of CPU over %v\n", "", r.IdleProcs, ms(r.IdleCPU), IdleWindow)
	}
	if r.DaemonIdle.Daemons > 0 {
		fmt.Printf("  %-16s idle daemons: %v\n", "", r.DaemonIdle)
	}
}

func avgMiB(xs []int64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return mib(sum(xs)) / float64(len(xs))
}

func tenantsMarkdown(o *Options, rs []*TenantResult) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	n := o.Tenants
	restrict := ""
	if o.TenantRestrict {
		restrict = ", WSGIRestrictEmbedded On"
	}
	p("### %d tenants, MPM %s%s (`make bench-tenants TENANTS=%d`)", n, o.MPM, restrict, n)
	p("")
	p("| variant | idle PSS, whole server | per tenant | one daemon (mean) | Apache parent + children | after one request to each | first request, median / max |")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	var base *TenantResult
	for _, r := range rs {
		if r.Err != "" {
			p("| %s | error: %s | | | | | |", r.Variant.Title, oneLine(r.Err))
			continue
		}
		if r.Variant.Module == "mod_wsgi" {
			base = r
		}
		med, max := durations(r.First)
		p("| %s | %.0f MiB | %.2f MiB | %.2f MiB | %.0f MiB | %.0f MiB | %.1f / %.1f ms |", r.Variant.Title,
			mib(r.IdlePSS), mib(r.IdlePSS)/float64(n), avgMiB(r.IdleDaemon), mib(r.ApachePSS), mib(r.AfterPSS),
			float64(med.Microseconds())/1000, float64(max.Microseconds())/1000)
	}
	p("")
	for _, r := range rs {
		if base == nil || r == base || r.Err != "" || r.IdlePSS == 0 {
			continue
		}
		p("- %s / mod_wsgi: idle %.2fx, after one request each %.2fx; one daemon process %.2fx.", r.Variant.Title,
			float64(r.IdlePSS)/float64(base.IdlePSS), float64(r.AfterPSS)/float64(base.AfterPSS),
			avgMiB(r.IdleDaemon)/avgMiB(base.IdleDaemon))
	}
	for _, r := range rs {
		if c := r.DaemonIdle; r.Err == "" && c.Daemons > 0 {
			p("- %s, idle daemon processes (%s): %.3f ms of CPU and %.1f wake-ups (context switches) a second each, over %v.",
				r.Variant.Title, map[bool]string{true: "awake after their first request", false: "before any request"}[r.Variant.OnDemand],
				float64(c.PerDaemonCPU.Microseconds())/1000, c.PerDaemonWake, c.Window)
		}
	}
	for _, r := range rs {
		if r.Variant.OnDemand && r.Err == "" {
			med, max := durations(r.First)
			p("- On-demand: idle (no group running) %.0f MiB; after one request to each, %d processes besides Apache's (the groups' and the starter) when measured; stopped again after inactivity-timeout=%d %.0f MiB; a hello group's cold start (first request) median %.0f ms, max %.0f ms; Django's cold start %.0f ms against %.0f ms for its import alone in python3 (%.0f ms with its first call). %s",
				mib(r.IdlePSS), r.Daemons, r.Variant.Inactivity, mib(r.StoppedPSS), float64(med.Microseconds())/1000,
				float64(max.Microseconds())/1000, float64(r.DjangoCold.Microseconds())/1000,
				float64(r.DjangoImport.Microseconds())/1000, float64(r.DjangoFirst.Microseconds())/1000, r.DjangoNote)
		}
	}
	for _, r := range rs {
		if !r.Variant.OnDemand || r.Err != "" {
			continue
		}
		med, max := phaseStats(r.HelloPhases)
		if len(r.HelloPhases) > 0 {
			p("- On-demand cold starts by phase (from the error log's GW0500, GW0424 and GW0502 lines and the client's clock; \"ready\" is when the starter, looking every 10 ms, saw it), hello groups (%d of %d split): median %s; max of each phase %s.",
				len(r.HelloPhases), len(r.First), phasesText(med), phasesText(max))
		}
		if len(r.DjangoPhases) == 1 {
			p("- Django's cold start by phase: %s (its script's import in python3: %.0f ms; with its first call %.0f ms).",
				phasesText(r.DjangoPhases[0]), ms(r.DjangoImport), ms(r.DjangoFirst))
		}
		if r.IdleProcs > 0 {
			p("- The idle server right after the requests, nothing asked (%d processes, Apache's parent and children, the starter and the groups still up): %.0f ms of CPU over %v, %.2f ms a second per process.",
				r.IdleProcs, ms(r.IdleCPU), IdleWindow, ms(r.IdleCPU)/IdleWindow.Seconds()/float64(r.IdleProcs))
		}
	}
	for _, r := range rs {
		if r.Err == "" {
			p("- %s: the first requests to the %d tenants took %.0f s in all; load average %s before them, %s after.",
				r.Variant.Title, n, r.Sweep.Seconds(), r.LoadBefore, r.LoadAfter)
			// Every group, the Django group and the starter.
			if want := n + 2; r.Variant.OnDemand && r.Daemons < want {
				p("- %s: only %d processes besides Apache's were up when the server was measured after the requests (%d with every group up, Django's and the starter): the sweep outlasted inactivity-timeout=%d for the first groups, so \"after one request to each\" counts only the groups still up.",
					r.Variant.Title, r.Daemons, want, r.Variant.Inactivity)
			}
		}
	}
	breakdownMarkdown(rs, p)
	p("")
	p("- PSS is /proc/PID/smaps_rollup summed over the Apache parent and all its descendants, sampled each second until two samples agree within 0.5%%; \"one daemon\" is the mean over the processes that do not hold Apache's listener.")
	return b.String()
}

// Where a process's PSS goes, by mapping (/proc/PID/smaps): the categories
// of the per-tenant breakdown in docs/benchmarks.md.
var smapsCategories = []string{
	"libpython", "engine (libgowsgi.so, mod_wsgi.so)", "libc, ld.so, other libraries", "executable (apache2, gowsgi-daemon)",
	"Go heap arenas", "malloc main arena (brk heap)", "thread stacks", "other anonymous (Python objects, malloc arenas, Go runtime)",
	"other",
	"gowsgi-daemon-X.Y (launcher, libpython and engine linked in)",
}

func smapsCategory(name string, start, size uint64, afterGuard bool) string {
	base := filepath.Base(name)
	switch {
	case strings.Contains(base, "libpython"):
		return smapsCategories[0]
	case strings.Contains(base, "libgowsgi") || strings.HasPrefix(base, "mod_wsgi"):
		return smapsCategories[1]
	case strings.Contains(base, ".so"):
		return smapsCategories[2]
	case base == "apache2" || base == "gowsgi-daemon":
		return smapsCategories[3]
	case strings.HasPrefix(base, "gowsgi-daemon-"):
		return smapsCategories[9]
	case name == "[heap]":
		return smapsCategories[5]
	case name == "[stack]":
		return smapsCategories[6]
	case name != "":
		return smapsCategories[8]
	// Go reserves its heap in 4 MiB arenas at hinted addresses below the
	// mmap area; glibc's thread stacks follow their guard page.
	case start < 0x7f0000000000 && start%(4<<20) == 0 && size%(4<<20) == 0:
		return smapsCategories[4]
	case afterGuard && size >= 1<<20:
		return smapsCategories[6]
	}
	return smapsCategories[7]
}

// smapsBreakdown is one process's PSS and private dirty bytes per category.
func smapsBreakdown(pid int) (pss, dirty map[string]int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return nil, nil, err
	}
	pss, dirty = map[string]int64{}, map[string]int64{}
	cat := ""
	guard := false
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			var start, end uint64
			if _, err := fmt.Sscanf(f[0], "%x-%x", &start, &end); err != nil {
				continue
			}
			name := ""
			if len(f) >= 6 {
				name = strings.Join(f[5:], " ")
			}
			cat = smapsCategory(name, start, end-start, guard)
			guard = f[1] == "---p" && name == "" && end-start <= 64<<10
			continue
		}
		if len(f) == 3 && f[2] == "kB" {
			var kb int64
			fmt.Sscanf(f[1], "%d", &kb)
			switch f[0] {
			case "Pss:":
				pss[cat] += kb << 10
			case "Private_Dirty:":
				dirty[cat] += kb << 10
			}
		}
	}
	return pss, dirty, nil
}

// daemonBreakdown is the mean breakdown over the server's daemon processes
// (those that do not hold its listener), and their mean thread count.
func daemonBreakdown(s *Server) (pss, dirty map[string]int64, threads float64, n int) {
	inode, err := listenerInode(s.Conf.Port)
	if err != nil {
		return nil, nil, 0, 0
	}
	pss, dirty = map[string]int64{}, map[string]int64{}
	for i, p := range tree(s.Pid()) {
		if i == 0 || holdsSocket(p.pid, inode) {
			continue
		}
		ps, pd, err := smapsBreakdown(p.pid)
		if err != nil {
			continue
		}
		for k, v := range ps {
			pss[k] += v
		}
		for k, v := range pd {
			dirty[k] += v
		}
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", p.pid)); err == nil {
			threads += float64(len(ents))
		}
		n++
	}
	if n == 0 {
		return nil, nil, 0, 0
	}
	for k := range pss {
		pss[k] /= int64(n)
	}
	for k := range dirty {
		dirty[k] /= int64(n)
	}
	return pss, dirty, threads / float64(n), n
}

func breakdownMarkdown(rs []*TenantResult, p func(string, ...any)) {
	var cols []*TenantResult
	for _, r := range rs {
		if r.BreakPSS != nil {
			cols = append(cols, r)
		}
	}
	if len(cols) == 0 {
		return
	}
	p("")
	p("One idle daemon process, mean over the tenants: PSS (private dirty) in KiB by mapping")
	p("")
	head, sep := "| mapping |", "| --- |"
	for _, r := range cols {
		head += " " + r.Variant.Title + " |"
		sep += " ---: |"
	}
	p("%s", head)
	p("%s", sep)
	row := func(label string, pss, dirty func(*TenantResult) int64) {
		line := "| " + label + " |"
		for _, r := range cols {
			line += fmt.Sprintf(" %d (%d) |", pss(r)>>10, dirty(r)>>10)
		}
		p("%s", line)
	}
	for _, c := range smapsCategories {
		c := c
		row(c, func(r *TenantResult) int64 { return r.BreakPSS[c] }, func(r *TenantResult) int64 { return r.BreakDirty[c] })
	}
	row("**total**", func(r *TenantResult) int64 { return sumMap(r.BreakPSS) }, func(r *TenantResult) int64 { return sumMap(r.BreakDirty) })
	line := "| OS threads |"
	for _, r := range cols {
		line += fmt.Sprintf(" %.0f |", r.Threads)
	}
	p("%s", line)
}

func sumMap(m map[string]int64) int64 {
	var t int64
	for _, v := range m {
		t += v
	}
	return t
}
