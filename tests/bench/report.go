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
)

// Summary is one (variant, workload) over all rounds.
type Summary struct {
	Rounds             int
	RPS, P50, P99, CPU float64 // req/s, ms, ms, us per request (medians)
	PSS                float64 // MiB (median)
	RPSMin, RPSMax     float64
	CPUMin, CPUMax     float64
	Errors, Requests   int64
	Status             string // "" when measured; else failed / skipped / n/a
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
			var rps, p50, p99, cpu, pss []float64
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
	p("- **CPU/req**: user + system CPU time of the whole server process tree (Apache parent, children, daemon processes) during the timed run, divided by completed requests, in µs. wrk's own CPU is not in it. Lower is better. On a small shared machine this is the steadier number: req/s also depends on how the %d cores are shared between Apache and wrk.", r.Info.Cores)
	p("- **PSS**: proportional set size of the server's process tree (sum of `Pss` in `/proc/<pid>/smaps_rollup`), the larger of a mid-run and an end-of-run sample, in MiB.")
	p("- **vs mod_wsgi**: ratio to *mod_wsgi embedded* on the same workload; **vs floor**: ratio to Apache serving the same bytes as static files (no Python at all; not possible for the upload and sleep workloads). For req/s above 1.00× is better, for CPU/req below 1.00× is better.")
	p("- **errors**: total over all rounds (wrk socket errors, timeouts, HTTP status ≥ 400). **spread**: (max − min) / median of req/s across rounds; a large spread means the machine was busy with something else during some round, so trust CPU/req more than req/s for that row.")
	p("- gowsgi's targets: on `hello`, gowsgi embedded should use **≤ %.2f×** mod_wsgi embedded's CPU/req and reach **≥ %.1f×** its req/s.", targetCPURatio, targetRPSRatio)
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
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	cr, rr := g.CPU/m.CPU, g.RPS/m.RPS
	p("- CPU/req: %.1f µs vs %.1f µs = **%.2f×** (target ≤ %.2f×): %s. Per-round range: gowsgi %.1f–%.1f µs, mod_wsgi %.1f–%.1f µs.",
		g.CPU, m.CPU, cr, targetCPURatio, verdict(cr <= targetCPURatio), g.CPUMin, g.CPUMax, m.CPUMin, m.CPUMax)
	p("- req/s: %.0f vs %.0f = **%.2f×** (target ≥ %.1f×): %s. Per-round range: gowsgi %.0f–%.0f, mod_wsgi %.0f–%.0f.",
		g.RPS, m.RPS, rr, targetRPSRatio, verdict(rr >= targetRPSRatio), g.RPSMin, g.RPSMax, m.RPSMin, m.RPSMax)
	// The two cells of one round ran a few seconds apart, so their ratio is
	// less exposed to the machine's slow drifts than the ratio of medians.
	var cpuR, rpsR []string
	var cpuV, rpsV []float64
	for round := 1; round <= r.Opts.Rounds; round++ {
		gc, mc := r.cell(goVariant, "hello", round), r.cell(refVariant, "hello", round)
		if gc == nil || mc == nil || mc.CPUPerRequest() == 0 || mc.Load.RPS() == 0 {
			continue
		}
		c := float64(gc.CPUPerRequest()) / float64(mc.CPUPerRequest())
		q := gc.Load.RPS() / mc.Load.RPS()
		cpuV, rpsV = append(cpuV, c), append(rpsV, q)
		cpuR, rpsR = append(cpuR, fmt.Sprintf("%.2f×", c)), append(rpsR, fmt.Sprintf("%.2f×", q))
	}
	if len(cpuV) > 0 {
		p("- Paired by round (the two cells ran seconds apart): CPU/req %s (median %.2f×); req/s %s (median %.2f×).",
			strings.Join(cpuR, ", "), median(cpuV), strings.Join(rpsR, ", "), median(rpsV))
	}
	p("")
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
	p("- Date: %s; run took %v; load average at start: %s; CPU time stolen by the hypervisor during the run: %s.", si.Date, r.Elapsed.Round(time.Second), si.LoadAvg, r.Info.stealSince())
	p("- Machine: %d × %s, %s, %s (shared, not pinned).", si.Cores, si.CPU, si.Memory, si.Kernel)
	p("- Software: %s; %s; %s (built with %s); %s; load generator %s.", si.Apache, si.ModWsgi, si.Gowsgi, si.GoBuild, si.Python, si.Wrk)
	p("- Mode `%s`: %d rounds, %v timed + %v warm-up per cell, every cell in a fresh server on 127.0.0.1.", r.Opts.Mode, r.Opts.Rounds, r.Opts.Duration, r.Opts.Warmup)
	p("- All variants use one generated config: `KeepAlive On`, `MaxKeepAliveRequests 0`, no access log, `LogLevel notice`, modules authz_core, mime, headers, and this %s MPM block (no child is started or stopped during a run):", r.Opts.MPM)
	p("")
	p("```apache")
	p("%s", mpmBlock(r.Opts.MPM))
	p("```")
	p("")
	p("- WSGI variants: `WSGIScriptAlias / …/bench.wsgi` and `WSGIApplicationGroup %%{GLOBAL}`; daemon variants add `WSGIDaemonProcess bench processes=2 threads=16` and `WSGIProcessGroup bench`. The app is `tests/bench/app/bench.wsgi`; the driver is `tests/bench` (`go run ./tests/bench -h`).")
	p("- Workloads: `hello` returns 13 bytes; `64k` 64 KiB with Content-Length; `stream` 1 MiB from a generator of 16 × 64 KiB, no Content-Length; `upload` POSTs 1 MiB that the app reads from `wsgi.input` and SHA-256-hashes; `headers` sends 30 request headers and gets 20 response headers; `sleep` is `time.sleep(0.02)` at 64 connections. The other workloads use 16 connections.")
	p("- CPU accounting: `/proc/<pid>/stat` utime+stime+cutime+cstime summed over the parent and every live descendant, sampled just before and just after the timed run (reaped children are in their parent's cutime/cstime). After the graceful stop, the server's lifetime CPU from `wait4` is checked to be at least the window's.")
}
