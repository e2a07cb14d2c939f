// Command bench measures gowsgi side by side with mod_wsgi and Apache's own
// static-file floor, and writes docs/benchmarks.md. Run it with `make bench`
// (quick mode, about 13 minutes) or `make bench BENCH_MODE=long`.
//
// Every cell (one variant serving one workload in one round) runs in a freshly
// started Apache: correctness check, warm-up, timed wrk run with the server's
// process tree sampled around it, graceful stop, leftover check. Rounds
// alternate the variants and the report gives medians over rounds.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options are the command-line settings.
type Options struct {
	Mode      string
	MPM       string
	BuildDir  string
	Out       string
	Rounds    int
	Duration  time.Duration
	Warmup    time.Duration
	Variants  []string
	Workloads []string
	Keep      bool
	// Tenants: the tenants benchmark instead (tenants.go), with this many
	// daemon groups; TenantIdle: the on-demand groups' inactivity-timeout.
	Tenants        int
	TenantIdle     int
	TenantRestrict bool
	// Busy: the always-busy on-demand group benchmark instead (busy.go),
	// with timed runs this long.
	Busy time.Duration
}

// Cell is one timed measurement.
type Cell struct {
	Variant, Workload string
	Round             int
	Load              LoadResult
	WindowCPU         time.Duration // server tree CPU during the timed run
	LifetimeCPU       time.Duration // whole server life, from wait4 after stop
	PSS               int64         // bytes, max of mid-run and end-of-run samples
	Procs             int           // processes in the tree
	// SepPSS: PSS of each process running the app outside Apache's MPM
	// children (daemon processes, uWSGI workers), in bytes, sampled after the
	// timed run; MasterPSS: the uWSGI master's.
	SepPSS     []int64
	MasterPSS  int64
	Err        string // the cell could not be measured
	Warnings   []string
	LogExcerpt string // error-log lines worth showing
}

func (c *Cell) CPUPerRequest() time.Duration {
	if c.Load.Requests == 0 {
		return 0
	}
	return c.WindowCPU / time.Duration(c.Load.Requests)
}

// GateResult is what the correctness gate found for one variant.
type GateResult struct {
	Skip     string            // variant skipped entirely (note)
	Failures map[string]string // workload -> failure description
	Warnings []string
}

var (
	currentMu     sync.Mutex
	currentServer *Server
)

func setCurrent(s *Server) {
	currentMu.Lock()
	currentServer = s
	currentMu.Unlock()
}

func main() {
	var o Options
	var variants, wls string
	flag.StringVar(&o.Mode, "mode", "quick", "quick (3 rounds of 5 s cells, about 13 min) or long (5 rounds of 20 s cells)")
	flag.StringVar(&o.MPM, "mpm", "event", "Apache MPM: event, worker or prefork")
	flag.StringVar(&o.BuildDir, "build", "build", "directory holding mod_gowsgi.so and libgowsgi.so")
	flag.StringVar(&o.Out, "out", "docs/benchmarks.md", "Markdown report (written only by complete runs)")
	flag.IntVar(&o.Rounds, "rounds", 0, "rounds (default from -mode)")
	flag.DurationVar(&o.Duration, "duration", 0, "timed run per cell (default from -mode)")
	flag.DurationVar(&o.Warmup, "warmup", 0, "warm-up per cell (default from -mode)")
	flag.StringVar(&variants, "variants", "", "comma-separated subset of variants (partial run: report not written to -out)")
	flag.StringVar(&wls, "workloads", "", "comma-separated subset of workloads (partial run: report not written to -out)")
	flag.BoolVar(&o.Keep, "keep", false, "keep the generated server roots")
	flag.IntVar(&o.Tenants, "tenants", 0, "run the tenants benchmark with this many daemon groups instead (-variants: modwsgi, gowsgi, gowsgi-ondemand)")
	flag.BoolVar(&o.TenantRestrict, "tenant-restrict-embedded", false, "the tenants benchmark's server has WSGIRestrictEmbedded On")
	flag.IntVar(&o.TenantIdle, "tenant-idle", 0, "the on-demand groups' inactivity-timeout in the tenants benchmark, seconds (0: 30 + N/2, longer than the sweep of first requests takes, so every group is still up when the server is measured after it)")
	flag.DurationVar(&o.Busy, "ondemand-busy", 0, "instead: the always-busy on-demand group against an eager one, closed-loop wrk runs of this length, alternating over -rounds (default 3) (busy.go)")
	flag.Parse()

	switch o.Mode {
	case "quick":
		setDefaults(&o, 3, 5*time.Second, 1*time.Second)
	case "long":
		setDefaults(&o, 5, 20*time.Second, 3*time.Second)
	default:
		fatalf("unknown -mode %q (quick or long)", o.Mode)
	}
	switch o.MPM {
	case "event", "worker", "prefork":
	default:
		fatalf("unknown -mpm %q (event, worker or prefork)", o.MPM)
	}
	o.Variants = splitList(variants)
	o.Workloads = splitList(wls)
	var err error
	if o.BuildDir, err = filepath.Abs(o.BuildDir); err != nil {
		fatalf("%v", err)
	}
	if err := preflight(&o); err != nil {
		fatalf("%v", err)
	}
	if err := becomeSubreaper(); err != nil {
		fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", err)
	}
	defer removeBenchPythons()

	// Ctrl-C: stop the running server by its pid, then exit.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "\ninterrupted: stopping the running server")
		currentMu.Lock()
		if currentServer != nil {
			_, _ = currentServer.Stop()
		}
		removeBenchPythons()
		os.Exit(130)
	}()

	tmp, err := os.MkdirTemp("", "gowsgi-bench-")
	if err != nil {
		fatalf("%v", err)
	}
	_ = os.Chmod(tmp, 0o755)
	if !o.Keep {
		defer os.RemoveAll(tmp)
	}
	runMode := run
	if o.Tenants > 0 {
		runMode = runTenants
	}
	if o.Busy > 0 {
		runMode = runBusy
	}
	if err := runMode(&o, tmp); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if !o.Keep {
			os.RemoveAll(tmp)
		}
		removeBenchPythons()
		os.Exit(1)
	}
}

func setDefaults(o *Options, rounds int, d, warm time.Duration) {
	if o.Rounds == 0 {
		o.Rounds = rounds
	}
	if o.Duration == 0 {
		o.Duration = d
	}
	if o.Warmup == 0 {
		o.Warmup = warm
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(2)
}

func preflight(o *Options) error {
	for _, f := range []string{apacheBin, modWsgiSO, systemPy, filepath.Join(modulesDir, "mod_mpm_"+o.MPM+".so"),
		filepath.Join(o.BuildDir, "mod_gowsgi.so"), filepath.Join(o.BuildDir, "libgowsgi.so")} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("missing %s (run `make deps build`, or `make bench` which does both)", f)
		}
	}
	for _, v := range o.Variants {
		if o.Tenants > 0 && findTenantVariant(v) == nil || o.Tenants == 0 && findVariant(v) == nil {
			return fmt.Errorf("unknown variant %q", v)
		}
	}
	for _, w := range o.Workloads {
		if findWorkload(w) == nil {
			return fmt.Errorf("unknown workload %q", w)
		}
	}
	return nil
}

func findVariant(name string) *Variant {
	for _, v := range allVariants() {
		if v.Name == name {
			return &v
		}
	}
	return nil
}

func findTenantVariant(name string) *Variant {
	for _, v := range tenantVariants() {
		if v.Name == name {
			return &v
		}
	}
	return nil
}

func findWorkload(name string) *Workload {
	for _, w := range workloads() {
		if w.Name == name {
			return &w
		}
	}
	return nil
}

func selected(name string, list []string) bool {
	if len(list) == 0 {
		return true
	}
	for _, x := range list {
		if x == name {
			return true
		}
	}
	return false
}

// Plan is what a run covers.
type Plan struct {
	Variants  []Variant
	Workloads []Workload
	Partial   bool
}

func run(o *Options, tmp string) error {
	var plan Plan
	for _, v := range allVariants() {
		// A group on another Python only when asked for by name.
		if selected(v.Name, o.Variants) && (v.Python == "" || len(o.Variants) > 0) {
			plan.Variants = append(plan.Variants, v)
		}
	}
	for _, w := range workloads() {
		if selected(w.Name, o.Workloads) {
			plan.Workloads = append(plan.Workloads, w)
		}
	}
	plan.Partial = len(o.Variants) > 0 || len(o.Workloads) > 0
	started := time.Now()
	info := collectSysInfo(o)
	fmt.Printf("gowsgi benchmark: mode %s, MPM %s, %d rounds x %v (+%v warm-up) per cell\n%s\n\n",
		o.Mode, o.MPM, o.Rounds, o.Duration, o.Warmup, info.oneLine())

	scripts := filepath.Join(tmp, "wrk")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		return err
	}
	scriptOf := map[string]string{}
	for _, w := range plan.Workloads {
		p, err := writeScript(w, scripts)
		if err != nil {
			return err
		}
		scriptOf[w.Name] = p
	}

	// 1. The correctness gate.
	fmt.Println("Correctness gate:")
	gates := map[string]*GateResult{}
	for _, v := range plan.Variants {
		g := gate(v, plan.Workloads, o, tmp)
		gates[v.Name] = g
		switch {
		case g.Skip != "":
			fmt.Printf("  %-18s skipped: %s\n", v.Name, g.Skip)
		case len(g.Failures) > 0:
			for _, w := range plan.Workloads {
				if f, ok := g.Failures[w.Name]; ok {
					fmt.Printf("  %-18s FAILED %s: %s\n", v.Name, w.Name, indent(f))
				}
			}
		default:
			fmt.Printf("  %-18s ok\n", v.Name)
		}
		for _, wmsg := range g.Warnings {
			fmt.Printf("  %-18s warning: %s\n", v.Name, wmsg)
		}
	}

	info.UWSGI = uwsgiVersion()

	// 2. Timed rounds: for each workload, the variants in turn (A, B, C, A,
	// B, C, ...), each cell in a fresh server.
	var cells []*Cell
	for r := 1; r <= o.Rounds; r++ {
		fmt.Printf("\nRound %d of %d:\n", r, o.Rounds)
		for _, w := range plan.Workloads {
			for _, v := range plan.Variants {
				if !timed(v, w, gates[v.Name]) {
					continue
				}
				c := runCell(v, w, r, o, tmp, scriptOf[w.Name])
				cells = append(cells, c)
				printCell(c)
			}
		}
	}
	rep := buildReport(o, &plan, info, gates, cells, time.Since(started))
	md := rep.markdown()
	fmt.Println()
	fmt.Println(md)
	if plan.Partial {
		out := filepath.Join(o.BuildDir, "bench", "benchmarks-partial.md")
		_ = os.MkdirAll(filepath.Dir(out), 0o755)
		fmt.Printf("partial run (-variants/-workloads): report written to %s, not %s\n", out, o.Out)
		o.Out = out
	}
	if err := os.WriteFile(o.Out, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Printf("written: %s (%v)\n", o.Out, time.Since(started).Round(time.Second))
	if b := runnerBenchmarks(); b != "" {
		fmt.Println(b)
	}
	return nil
}

func timed(v Variant, w Workload, g *GateResult) bool {
	if v.Static && !w.Floor {
		return false
	}
	if g.Skip != "" {
		return false
	}
	_, failed := g.Failures[w.Name]
	return !failed
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n      ") }

// gate starts one server for the variant and checks every workload on it.
func gate(v Variant, wls []Workload, o *Options, tmp string) *GateResult {
	g := &GateResult{Failures: map[string]string{}}
	if v.Python != "" {
		if _, err := benchPython(v.Python, o.BuildDir); err != nil {
			g.Skip = err.Error()
			return g
		}
	}
	if v.UWSGI {
		if _, note := ensureUWSGI(); note != "" {
			g.Skip = note
			return g
		}
	}
	s, err := startServer(v, o.MPM, o.BuildDir, tmp)
	if err != nil {
		for _, w := range wls {
			if !v.Static || w.Floor {
				g.Failures[w.Name] = "server did not start: " + err.Error()
			}
		}
		return g
	}
	setCurrent(s)
	defer setCurrent(nil)
	if v.Probe {
		note, err := probeDaemon(s)
		if err != nil {
			note = "daemon probe failed: " + err.Error()
		}
		if note != "" {
			g.Skip = note
		}
	}
	if g.Skip == "" {
		for _, w := range wls {
			if v.Static && !w.Floor {
				continue
			}
			if err := checkWorkload(s, w, 3); err != nil {
				msg := err.Error()
				if lines := errorLogLines(s, 15); lines != "" {
					msg += "\nerror log:\n" + lines
				}
				g.Failures[w.Name] = msg
			}
		}
	}
	if _, err := s.Stop(); err != nil {
		g.Warnings = append(g.Warnings, err.Error())
	}
	if !o.Keep {
		os.RemoveAll(s.Conf.Root)
	}
	return g
}

// runCell measures one variant serving one workload in a fresh server.
func runCell(v Variant, w Workload, round int, o *Options, tmp, script string) *Cell {
	c := &Cell{Variant: v.Name, Workload: w.Name, Round: round}
	s, err := startServer(v, o.MPM, o.BuildDir, tmp)
	if err != nil {
		c.Err = "server did not start: " + err.Error()
		return c
	}
	setCurrent(s)
	defer setCurrent(nil)
	defer func() {
		if !o.Keep {
			os.RemoveAll(s.Conf.Root)
		}
	}()
	stop := func() {
		res, err := s.Stop()
		if err != nil {
			c.Warnings = append(c.Warnings, err.Error())
		}
		if !res.Graceful {
			c.Warnings = append(c.Warnings, "the server did not stop gracefully within 25 s")
		}
		c.LifetimeCPU = res.LifetimeCPU
	}
	url := s.BaseURL() + w.Path
	ctx := context.Background()
	if err := checkWorkload(s, w, 1); err != nil {
		c.Err = "correctness check: " + err.Error()
		c.LogExcerpt = errorLogLines(s, 15)
		stop()
		return c
	}
	if _, err := runWrk(ctx, url, script, w.Connections, o.Warmup); err != nil {
		c.Err = "warm-up: " + err.Error()
		stop()
		return c
	}
	s.note()
	before, err := s.treeCPU()
	if err != nil {
		c.Err = err.Error()
		stop()
		return c
	}
	// PSS is sampled half-way through the run and at its end.
	pssMid := make(chan int64, 1)
	go func() {
		time.Sleep(o.Duration / 2)
		p, _ := s.treePSS()
		pssMid <- p
	}()
	load, err := runWrk(ctx, url, script, w.Connections, o.Duration)
	after, err2 := s.treeCPU()
	pssEnd, procs := s.treePSS()
	if v.separateProcesses() {
		sep, master, err := s.separatePSS()
		if err != nil {
			c.Warnings = append(c.Warnings, "PSS per daemon process: "+err.Error())
		}
		c.SepPSS, c.MasterPSS = sep, master
	}
	s.note()
	c.PSS = max(pssEnd, <-pssMid)
	c.Procs = procs
	if err != nil {
		c.Err = err.Error()
	} else if err2 != nil {
		c.Err = err2.Error()
	}
	c.Load = load
	c.WindowCPU = after.Duration() - before.Duration()
	if load.Errors() > 0 {
		c.LogExcerpt = errorLogLines(s, 10)
	}
	stop()
	// The window cannot hold more CPU than the whole life (allow one tick of
	// rounding per process).
	if c.LifetimeCPU > 0 && c.WindowCPU > c.LifetimeCPU+time.Duration(after.Procs)*time.Second/clockTicks {
		c.Warnings = append(c.Warnings, fmt.Sprintf("window CPU %v exceeds the server's lifetime CPU %v", c.WindowCPU, c.LifetimeCPU))
	}
	return c
}

func printCell(c *Cell) {
	if c.Err != "" {
		fmt.Printf("  %-8s %-18s ERROR %s\n", c.Workload, c.Variant, indent(c.Err))
		return
	}
	sep := ""
	if len(c.SepPSS) > 0 {
		var mib []string
		for _, b := range c.SepPSS {
			mib = append(mib, fmt.Sprintf("%.1f", float64(b)/(1<<20)))
		}
		sep = "  per process " + strings.Join(mib, "/")
		if c.MasterPSS > 0 {
			sep += fmt.Sprintf(" (master %.1f)", float64(c.MasterPSS)/(1<<20))
		}
	}
	fmt.Printf("  %-8s %-18s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  cpu %6.1f us/req  pss %6.1f MiB%s  errors %d\n",
		c.Workload, c.Variant, c.Load.RPS(), c.Load.P50US/1000, c.Load.P99US/1000,
		float64(c.CPUPerRequest().Nanoseconds())/1000, float64(c.PSS)/(1<<20), sep, c.Load.Errors())
	for _, w := range c.Warnings {
		fmt.Printf("      warning: %s\n", w)
	}
}

// runnerBenchmarks mentions the Go benchmark of the WSGI runner alone (no
// Apache, no sockets) when the engine has one.
func runnerBenchmarks() string {
	var pkgs []string
	_ = filepath.WalkDir("wsgi", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), "\nfunc Benchmark") {
			pkgs = append(pkgs, "./"+filepath.Dir(path))
		}
		return nil
	})
	if len(pkgs) == 0 {
		return ""
	}
	sort.Strings(pkgs)
	pkgs = uniq(pkgs)
	return "The WSGI runner alone (no Apache, no sockets) has Go benchmarks: with the Makefile's cgo flags, run\n" +
		"  go test -run '^$' -bench . " + strings.Join(pkgs, " ")
}

func uniq(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}
