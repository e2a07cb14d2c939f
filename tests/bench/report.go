package main

// Aggregation (medians over rounds) and the Markdown report.

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

const (
	refVariant   = "modwsgi-embedded"
	floorVariant = "floor"
	goVariant    = "gowsgi-embedded"
	// Targets for gowsgi embedded on hello, against mod_wsgi embedded.
	targetCPURatio = 0.70
	targetRPSRatio = 1.3

	// Daemon mode: gowsgi daemon against mod_wsgi daemon and uWSGI.
	daemonRef    = "modwsgi-daemon"
	goDaemon     = "gowsgi-daemon"
	uwsgiVariant = "uwsgi"
	// Targets for gowsgi daemon: on hello against mod_wsgi daemon (CPU/req,
	// req/s) and uWSGI (req/s); on the 1 MiB stream and upload, req/s against
	// mod_wsgi daemon; PSS per daemon process against mod_wsgi's.
	targetDaemonCPURatio   = 0.55
	targetDaemonRPSRatio   = 1.6
	targetUWSGIRPSRatio    = 1.3
	targetDaemonBulkRatio  = 1.0
	targetDaemonPSSDiffMiB = 3.0
)

// Summary is one (variant, workload) over all rounds.
type Summary struct {
	Rounds             int
	RPS, P50, P99, CPU float64 // req/s, ms, ms, us per request (medians)
	PSS                float64 // MiB (median)
	// SepPSS: median PSS of one daemon process (uWSGI: one worker) over all
	// such processes of all rounds; MasterPSS: the uWSGI master's. MiB, 0
	// when not measured.
	SepPSS, MasterPSS float64
	RPSMin, RPSMax    float64
	CPUMin, CPUMax    float64
	Errors, Requests  int64
	Status            string // "" when measured; else failed / skipped / n/a
}

func (s *Summary) ok() bool { return s.Status == "" && s.Rounds > 0 }

// Report is everything the Markdown needs.
type Report struct {
	Opts      *Options
	Plan      *Plan
	Info      SysInfo
	Gates     map[string]*GateResult
	Cells     []*Cell
	Sum       map[string]map[string]*Summary // variant -> workload
	Elapsed   time.Duration
	notes     []string
	cellNotes []string
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func minMax(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

func buildReport(o *Options, plan *Plan, info SysInfo, gates map[string]*GateResult, cells []*Cell, elapsed time.Duration) *Report {
	r := &Report{Opts: o, Plan: plan, Info: info, Gates: gates, Cells: cells, Elapsed: elapsed, Sum: map[string]map[string]*Summary{}}
	for _, v := range plan.Variants {
		r.Sum[v.Name] = map[string]*Summary{}
		g := gates[v.Name]
		for _, w := range plan.Workloads {
			s := &Summary{}
			r.Sum[v.Name][w.Name] = s
			switch {
			case v.Static && !w.Floor:
				s.Status = "n/a"
				continue
			case g.Skip != "":
				s.Status = "skipped"
				continue
			case g.Failures[w.Name] != "":
				s.Status = "FAILED (gate)"
				continue
			}
			var rps, p50, p99, cpu, pss, sep, master []float64
			for _, c := range cells {
				if c.Variant != v.Name || c.Workload != w.Name {
					continue
				}
				if c.Err != "" {
					r.cellNotes = append(r.cellNotes, fmt.Sprintf("%s / %s, round %d: not measured: %s", w.Name, v.Name, c.Round, oneLine(c.Err)))
					continue
				}
				rps = append(rps, c.Load.RPS())
				p50 = append(p50, c.Load.P50US/1000)
				p99 = append(p99, c.Load.P99US/1000)
				cpu = append(cpu, float64(c.CPUPerRequest().Nanoseconds())/1000)
				pss = append(pss, float64(c.PSS)/(1<<20))
				for _, b := range c.SepPSS {
					sep = append(sep, float64(b)/(1<<20))
				}
				if c.MasterPSS > 0 {
					master = append(master, float64(c.MasterPSS)/(1<<20))
				}
				s.Errors += c.Load.Errors()
				s.Requests += c.Load.Requests
				if c.Load.Errors() > 0 {
					msg := fmt.Sprintf("%s / %s, round %d: %d errors in %d requests (%s)", w.Name, v.Name, c.Round, c.Load.Errors(), c.Load.Requests, c.Load.ErrorSummary())
					if c.LogExcerpt != "" {
						msg += "; error log: `" + oneLine(tail(c.LogExcerpt, 3)) + "`"
					}
					r.cellNotes = append(r.cellNotes, msg)
				}
				for _, wm := range c.Warnings {
					r.cellNotes = append(r.cellNotes, fmt.Sprintf("%s / %s, round %d: %s", w.Name, v.Name, c.Round, wm))
				}
			}
			s.Rounds = len(rps)
			if s.Rounds == 0 {
				s.Status = "not measured"
				continue
			}
			s.RPS, s.P50, s.P99, s.CPU, s.PSS = median(rps), median(p50), median(p99), median(cpu), median(pss)
			s.SepPSS, s.MasterPSS = median(sep), median(master)
			s.RPSMin, s.RPSMax = minMax(rps)
			s.CPUMin, s.CPUMax = minMax(cpu)
		}
	}
	return r
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

func (r *Report) get(v, w string) *Summary {
	if m, ok := r.Sum[v]; ok {
		if s, ok := m[w]; ok && s.ok() {
			return s
		}
	}
	return nil
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func spread(s *Summary) string {
	if s.Rounds < 2 || s.RPS == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*(s.RPSMax-s.RPSMin)/s.RPS)
}

func (r *Report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	o := r.Opts
	p("# gowsgi benchmarks")
	p("")
	p("Latest full run of `make bench` (mode `%s`, %s MPM), %s. Regenerate with `make bench`; `make bench BENCH_MODE=long` for the long run, `MPM=worker` or `MPM=prefork` for another MPM.", o.Mode, o.MPM, r.Info.Date)
	p("")
	p("## How to read this")
	p("")
	p("- Each row is one way of serving one workload. Every number is the **median over %d rounds**; in each round every cell ran in a freshly started Apache, was checked for a correct answer, warmed up for %v and then driven for %v by `wrk` (one thread, keep-alive connections, closed loop) on the same machine. Rounds alternate the variants (A, B, C, A, B, C, …).", o.Rounds, o.Warmup, o.Duration)
	p("- **req/s**: completed requests per second, higher is better. **p50 / p99**: latency percentiles from wrk, in ms.")
	p("- **CPU/req**: user + system CPU time of the whole server process tree (Apache parent, children, daemon processes; for uWSGI also the uWSGI master and its workers, which the driver starts beside Apache) during the timed run, divided by completed requests, in µs. wrk's own CPU is not in it. Lower is better. On a small shared machine this is the steadier number: req/s also depends on how the %d cores are shared between Apache and wrk.", r.Info.Cores)
	p("- **PSS**: proportional set size of the server's process tree (sum of `Pss` in `/proc/<pid>/smaps_rollup`; for uWSGI, Apache's tree plus uWSGI's), the larger of a mid-run and an end-of-run sample, in MiB. The daemon section also gives the PSS of one daemon process.")
	p("- **vs mod_wsgi**: ratio to *mod_wsgi embedded* on the same workload; **vs floor**: ratio to Apache serving the same bytes as static files (no Python at all; not possible for the upload and sleep workloads). For req/s above 1.00× is better, for CPU/req below 1.00× is better.")
	p("- **errors**: total over all rounds (wrk socket errors, timeouts, HTTP status ≥ 400). **spread**: (max − min) / median of req/s across rounds; a large spread means the machine was busy with something else during some round, so trust CPU/req more than req/s for that row.")
	p("- gowsgi's targets: on `hello`, gowsgi embedded should use **≤ %.2f×** mod_wsgi embedded's CPU/req and reach **≥ %.1f×** its req/s; gowsgi daemon **≤ %.2f×** mod_wsgi daemon's CPU/req, **≥ %.1f×** its req/s and **≥ %.1f×** uWSGI's req/s, **≥ %.1f×** mod_wsgi daemon's req/s on the 1 MiB stream and upload, and a PSS per daemon process within %.0f MiB of mod_wsgi daemon's.",
		targetCPURatio, targetRPSRatio, targetDaemonCPURatio, targetDaemonRPSRatio, targetUWSGIRPSRatio, targetDaemonBulkRatio, targetDaemonPSSDiffMiB)
	p("- **Daemon mode** compares the three ways of running the app in 2 processes × 16 threads outside Apache's children: gowsgi daemon, mod_wsgi daemon and uWSGI behind mod_proxy_uwsgi (ratios there are gowsgi daemon's to the other two).")
	p("")
	p("## Results")
	p("")
	p("| Workload | Variant | req/s | p50 ms | p99 ms | CPU/req µs | PSS MiB | req/s vs mod_wsgi | CPU vs mod_wsgi | req/s vs floor | CPU vs floor | errors | spread |")
	p("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, w := range r.Plan.Workloads {
		first := true
		ref := r.get(refVariant, w.Name)
		floor := r.get(floorVariant, w.Name)
		for _, v := range r.Plan.Variants {
			s := r.Sum[v.Name][w.Name]
			label := ""
			if first {
				label = fmt.Sprintf("%s (c=%d)", w.Title, w.Connections)
				first = false
			}
			if !s.ok() {
				p("| %s | %s | %s | | | | | | | | | | |", label, v.Title, s.Status)
				continue
			}
			rr, rc, fr, fc := "–", "–", "–", "–"
			if ref != nil {
				rr, rc = ratio(s.RPS, ref.RPS), ratio(s.CPU, ref.CPU)
			}
			if floor != nil {
				fr, fc = ratio(s.RPS, floor.RPS), ratio(s.CPU, floor.CPU)
			}
			p("| %s | %s | %.0f | %.2f | %.2f | %.1f | %.1f | %s | %s | %s | %s | %d | %s |",
				label, v.Title, s.RPS, s.P50, s.P99, s.CPU, s.PSS, rr, rc, fr, fc, s.Errors, spread(s))
		}
	}
	p("")
	r.targets(p)
	r.daemonSection(p)
	r.notesSection(p)
	r.setup(p)
	return b.String()
}

func (r *Report) targets(p func(string, ...any)) {
	p("## Targets (hello, gowsgi embedded vs mod_wsgi embedded)")
	p("")
	g, m := r.get(goVariant, "hello"), r.get(refVariant, "hello")
	if g == nil || m == nil {
		p("Not evaluated: a hello row for gowsgi embedded or mod_wsgi embedded is missing.")
		p("")
		return
	}
	cr, rr := g.CPU/m.CPU, g.RPS/m.RPS
	p("- CPU/req: %.1f µs vs %.1f µs = **%.2f×** (target ≤ %.2f×): %s. Per-round range: gowsgi %.1f–%.1f µs, mod_wsgi %.1f–%.1f µs.",
		g.CPU, m.CPU, cr, targetCPURatio, verdict(cr <= targetCPURatio), g.CPUMin, g.CPUMax, m.CPUMin, m.CPUMax)
	p("- req/s: %.0f vs %.0f = **%.2f×** (target ≥ %.1f×): %s. Per-round range: gowsgi %.0f–%.0f, mod_wsgi %.0f–%.0f.",
		g.RPS, m.RPS, rr, targetRPSRatio, verdict(rr >= targetRPSRatio), g.RPSMin, g.RPSMax, m.RPSMin, m.RPSMax)
	if cpuV, rpsV := r.paired(goVariant, refVariant, "hello"); len(cpuV) > 0 {
		p("- Paired by round (the two cells ran seconds apart): CPU/req %s; req/s %s.", fmtPaired(cpuV), fmtPaired(rpsV))
	}
	p("")
}

// paired returns, for each round where both cells were measured, a's CPU/req
// and req/s divided by b's on workload w. The two cells of one round ran a
// few seconds apart, so their ratio is less exposed to the machine's slow
// drifts than the ratio of medians.
func (r *Report) paired(a, b, w string) (cpu, rps []float64) {
	for round := 1; round <= r.Opts.Rounds; round++ {
		ac, bc := r.cell(a, w, round), r.cell(b, w, round)
		if ac == nil || bc == nil || bc.CPUPerRequest() == 0 || bc.Load.RPS() == 0 {
			continue
		}
		cpu = append(cpu, float64(ac.CPUPerRequest())/float64(bc.CPUPerRequest()))
		rps = append(rps, ac.Load.RPS()/bc.Load.RPS())
	}
	return cpu, rps
}

// fmtPaired is "0.59×, 0.73×, 1.01× (median 0.73×)".
func fmtPaired(xs []float64) string {
	if len(xs) == 0 {
		return "–"
	}
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%.2f×", x))
	}
	return fmt.Sprintf("%s (median %.2f×)", strings.Join(parts, ", "), median(xs))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// daemonSection compares gowsgi daemon with mod_wsgi daemon and uWSGI: the
// medians and their ratios per workload, the same ratios paired by round, the
// PSS of one daemon process, and the daemon targets.
func (r *Report) daemonSection(p func(string, ...any)) {
	inPlan := map[string]bool{}
	for _, v := range r.Plan.Variants {
		inPlan[v.Name] = true
	}
	if !inPlan[goDaemon] || (!inPlan[daemonRef] && !inPlan[uwsgiVariant]) {
		return
	}
	title := func(name string) string {
		if v := findVariant(name); v != nil {
			return v.Title
		}
		return name
	}
	status := func(v, w string) string {
		if s := r.Sum[v][w]; s != nil && s.Status != "" {
			return s.Status
		}
		if !inPlan[v] {
			return "not run"
		}
		return "–"
	}
	num := func(v, w string, f func(*Summary) float64, format string) string {
		if s := r.get(v, w); s != nil {
			return fmt.Sprintf(format, f(s))
		}
		return status(v, w)
	}
	rpsOf := func(s *Summary) float64 { return s.RPS }
	cpuOf := func(s *Summary) float64 { return s.CPU }
	ratioOf := func(a, b, w string, f func(*Summary) float64) string {
		x, y := r.get(a, w), r.get(b, w)
		if x == nil || y == nil {
			return "–"
		}
		return ratio(f(x), f(y))
	}

	p("## Daemon mode: gowsgi daemon vs mod_wsgi daemon and uWSGI")
	p("")
	p("The three variants that run the app in 2 processes × 16 threads outside Apache's children: gowsgi daemon and mod_wsgi daemon (`WSGIDaemonProcess bench processes=2 threads=16`), and uWSGI (`--processes 2 --threads 16`; Apache's children proxy each request to its unix socket with mod_proxy_uwsgi). Medians from the results table; ratios are gowsgi daemon's divided by the other's (req/s: above 1.00× is better; CPU/req: below 1.00× is better).")
	p("")
	p("| Workload | gowsgi daemon req/s | CPU/req µs | mod_wsgi daemon req/s | CPU/req µs | uWSGI req/s | CPU/req µs | req/s vs mod_wsgi daemon | CPU vs mod_wsgi daemon | req/s vs uWSGI | CPU vs uWSGI |")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, w := range r.Plan.Workloads {
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", w.Name,
			num(goDaemon, w.Name, rpsOf, "%.0f"), num(goDaemon, w.Name, cpuOf, "%.1f"),
			num(daemonRef, w.Name, rpsOf, "%.0f"), num(daemonRef, w.Name, cpuOf, "%.1f"),
			num(uwsgiVariant, w.Name, rpsOf, "%.0f"), num(uwsgiVariant, w.Name, cpuOf, "%.1f"),
			ratioOf(goDaemon, daemonRef, w.Name, rpsOf), ratioOf(goDaemon, daemonRef, w.Name, cpuOf),
			ratioOf(goDaemon, uwsgiVariant, w.Name, rpsOf), ratioOf(goDaemon, uwsgiVariant, w.Name, cpuOf))
	}
	p("")
	p("Paired by round: in every round the cells of one workload ran seconds apart, so the ratio of a round's two cells is less exposed to the machine's slow drifts than the ratio of medians.")
	p("")
	p("| Workload | CPU vs mod_wsgi daemon | req/s vs mod_wsgi daemon | CPU vs uWSGI | req/s vs uWSGI |")
	p("|---|---|---|---|---|")
	for _, w := range r.Plan.Workloads {
		mc, mr := r.paired(goDaemon, daemonRef, w.Name)
		uc, ur := r.paired(goDaemon, uwsgiVariant, w.Name)
		p("| %s | %s | %s | %s | %s |", w.Name, fmtPaired(mc), fmtPaired(mr), fmtPaired(uc), fmtPaired(ur))
	}
	p("")

	// PSS of one daemon process.
	sepAll := func(v string) (all, master []float64) {
		for _, c := range r.Cells {
			if c.Variant != v || c.Err != "" {
				continue
			}
			for _, b := range c.SepPSS {
				all = append(all, float64(b)/(1<<20))
			}
			if c.MasterPSS > 0 {
				master = append(master, float64(c.MasterPSS)/(1<<20))
			}
		}
		return all, master
	}
	mib := func(x float64, n int) string {
		if n == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f", x)
	}
	sepOf := func(v, w string) string {
		if s := r.get(v, w); s != nil {
			return mib(s.SepPSS, btoi(s.SepPSS > 0))
		}
		return status(v, w)
	}
	masterOf := func(w string) string {
		if s := r.get(uwsgiVariant, w); s != nil {
			return mib(s.MasterPSS, btoi(s.MasterPSS > 0))
		}
		return status(uwsgiVariant, w)
	}
	diff := func(w string) string {
		g, m := r.get(goDaemon, w), r.get(daemonRef, w)
		if g == nil || m == nil || g.SepPSS == 0 || m.SepPSS == 0 {
			return "–"
		}
		return fmt.Sprintf("%+.1f", g.SepPSS-m.SepPSS)
	}
	p("PSS of one daemon process, in MiB: each gowsgi and mod_wsgi daemon process (the Apache parent's descendants that do not hold its listening socket) and each uWSGI worker, measured alone from `/proc/<pid>/smaps_rollup` right after the timed run; the median over the %d processes of every round. The uWSGI master (which imports the app before forking its workers) is listed apart.", uwsgiWorkers)
	p("")
	p("| Workload | gowsgi daemon | mod_wsgi daemon | uWSGI worker | uWSGI master | gowsgi − mod_wsgi |")
	p("|---|--:|--:|--:|--:|--:|")
	for _, w := range r.Plan.Workloads {
		p("| %s | %s | %s | %s | %s | %s |", w.Name, sepOf(goDaemon, w.Name), sepOf(daemonRef, w.Name), sepOf(uwsgiVariant, w.Name), masterOf(w.Name), diff(w.Name))
	}
	gAll, _ := sepAll(goDaemon)
	mAll, _ := sepAll(daemonRef)
	uAll, uMaster := sepAll(uwsgiVariant)
	allDiff := "–"
	if len(gAll) > 0 && len(mAll) > 0 {
		allDiff = fmt.Sprintf("%+.1f", median(gAll)-median(mAll))
	}
	p("| all workloads | %s | %s | %s | %s | %s |", mib(median(gAll), len(gAll)), mib(median(mAll), len(mAll)), mib(median(uAll), len(uAll)), mib(median(uMaster), len(uMaster)), allDiff)
	p("")

	// Targets.
	p("## Targets (gowsgi daemon)")
	p("")
	line := func(label, other string, w string, cpu bool, target float64, le bool) {
		g, m := r.get(goDaemon, w), r.get(other, w)
		if g == nil || m == nil {
			p("- %s: not evaluated (a %s row for %s or %s is missing).", label, w, title(goDaemon), title(other))
			return
		}
		pc, pr := r.paired(goDaemon, other, w)
		var gv, mv, q float64
		var unit, pairedS string
		if cpu {
			gv, mv, unit, pairedS = g.CPU, m.CPU, "µs", fmtPaired(pc)
		} else {
			gv, mv, unit, pairedS = g.RPS, m.RPS, "req/s", fmtPaired(pr)
		}
		q = gv / mv
		ok := q >= target
		cmp := "≥"
		if le {
			ok, cmp = q <= target, "≤"
		}
		prec := "%.0f"
		if cpu {
			prec = "%.1f"
		}
		p("- %s: "+prec+" vs "+prec+" %s = **%.2f×** (target %s %.2f×): %s. Paired by round: %s.",
			label, gv, mv, unit, q, cmp, target, verdict(ok), pairedS)
	}
	line("hello, CPU/req vs mod_wsgi daemon", daemonRef, "hello", true, targetDaemonCPURatio, true)
	line("hello, req/s vs mod_wsgi daemon", daemonRef, "hello", false, targetDaemonRPSRatio, false)
	line("hello, req/s vs uWSGI", uwsgiVariant, "hello", false, targetUWSGIRPSRatio, false)
	line("1 MiB stream, req/s vs mod_wsgi daemon", daemonRef, "stream", false, targetDaemonBulkRatio, false)
	line("1 MiB upload, req/s vs mod_wsgi daemon", daemonRef, "upload", false, targetDaemonBulkRatio, false)
	if len(gAll) > 0 && len(mAll) > 0 {
		d := median(gAll) - median(mAll)
		p("- PSS per daemon process, all workloads: %.1f MiB vs %.1f MiB = **%+.1f MiB** (target ≤ +%.0f MiB): %s.",
			median(gAll), median(mAll), d, targetDaemonPSSDiffMiB, verdict(d <= targetDaemonPSSDiffMiB))
	} else {
		p("- PSS per daemon process: not evaluated (no per-process PSS for %s or %s).", title(goDaemon), title(daemonRef))
	}
	p("")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (r *Report) cell(v, w string, round int) *Cell {
	for _, c := range r.Cells {
		if c.Variant == v && c.Workload == w && c.Round == round && c.Err == "" {
			return c
		}
	}
	return nil
}

func (r *Report) notesSection(p func(string, ...any)) {
	var notes []string
	for _, v := range r.Plan.Variants {
		g := r.Gates[v.Name]
		if g.Skip != "" {
			notes = append(notes, fmt.Sprintf("**%s skipped**: %s.", v.Title, strings.TrimSuffix(g.Skip, ".")))
		}
		for _, w := range r.Plan.Workloads {
			if f := g.Failures[w.Name]; f != "" {
				notes = append(notes, fmt.Sprintf("**%s failed the correctness gate on %s** (not timed): `%s`", v.Title, w.Name, oneLine(f)))
			}
		}
		for _, wm := range g.Warnings {
			notes = append(notes, fmt.Sprintf("%s, correctness gate: %s", v.Title, oneLine(wm)))
		}
	}
	notes = append(notes, "The floor serves `stream` as a static file, so with a Content-Length; the WSGI variants stream it chunked.")
	notes = append(notes, r.cellNotes...)
	p("## Notes")
	p("")
	for _, n := range notes {
		p("- %s", n)
	}
	p("")
}

func (r *Report) setup(p func(string, ...any)) {
	si := r.Info
	p("## Setup")
	p("")
	p("- Date: %s; run took %v; load average at start: %s; CPU time stolen by the hypervisor during the run: %s; CPU used by processes other than the benchmark's (servers, uWSGI, wrk, driver) during the run: %s.", si.Date, r.Elapsed.Round(time.Second), si.LoadAvg, r.Info.stealSince(), r.Info.othersCPU(r.Elapsed))
	p("- Machine: %d × %s, %s, %s (shared, not pinned).", si.Cores, si.CPU, si.Memory, si.Kernel)
	uw := ""
	if si.UWSGI != "" {
		uw = "; " + si.UWSGI
	}
	p("- Software: %s; %s; %s (built with %s); %s%s; load generator %s.", si.Apache, si.ModWsgi, si.Gowsgi, si.GoBuild, si.Python, uw, si.Wrk)
	p("- Mode `%s`: %d rounds, %v timed + %v warm-up per cell, every cell in a fresh server on 127.0.0.1.", r.Opts.Mode, r.Opts.Rounds, r.Opts.Duration, r.Opts.Warmup)
	p("- All variants use one generated config: `KeepAlive On`, `MaxKeepAliveRequests 0`, no access log, `LogLevel notice`, modules authz_core, mime, headers, and this %s MPM block (no child is started or stopped during a run):", r.Opts.MPM)
	p("")
	p("```apache")
	p("%s", mpmBlock(r.Opts.MPM))
	p("```")
	p("")
	p("- WSGI variants: `WSGIScriptAlias / …/bench.wsgi` and `WSGIApplicationGroup %%{GLOBAL}`; daemon variants add `WSGIDaemonProcess bench processes=2 threads=16` and `WSGIProcessGroup bench`. The app is `tests/bench/app/bench.wsgi`; the driver is `tests/bench` (`go run ./tests/bench -h`).")
	p("- uWSGI variant: Apache loads mod_proxy and mod_proxy_uwsgi (no WSGI module) with `ProxyPass / \"unix:ROOT/run/uwsgi/uwsgi.sock|uwsgi://localhost/\"`; the driver starts uWSGI before each Apache (Debian's `uwsgi-core` and `uwsgi-plugin-python3`, installed on demand) as `%s` (ROOT is the cell's server root; `--uid`/`--gid www-data` when run as root), tracks its master by pid and stops it (SIGINT) after Apache. The master imports the app and forks the two workers.", uwsgiArgsDisplay())
	p("- Workloads: `hello` returns 13 bytes; `64k` 64 KiB with Content-Length; `stream` 1 MiB from a generator of 16 × 64 KiB, no Content-Length; `upload` POSTs 1 MiB that the app reads from `wsgi.input` and SHA-256-hashes; `headers` sends 30 request headers and gets 20 response headers; `sleep` is `time.sleep(0.02)` at 64 connections. The other workloads use 16 connections.")
	p("- CPU accounting: `/proc/<pid>/stat` utime+stime+cutime+cstime summed over the parent and every live descendant, sampled just before and just after the timed run (reaped children are in their parent's cutime/cstime). For uWSGI the same sum over the uWSGI master's tree is added to Apache's. After the graceful stop, the server's lifetime CPU from `wait4` (Apache parent, plus uWSGI master) is checked to be at least the window's.")
}
