package main

// The always-busy on-demand group benchmark (`-ondemand-busy D`, `make
// bench-ondemand-busy`): issue 16's "an on-demand group that never idles
// serves as fast as an eager one". The same server as the tenants
// benchmark's with one tenant (one daemon process, threads=15, the hello
// app), its group eager or start=on-demand with a short
// inactivity-timeout, under a closed loop of wrk connections for D, the
// two variants alternating over the rounds (the box is shared: alternating
// spreads its noise over both). The daemon processes' pids are compared
// before and after each run: the on-demand group must not have stopped
// (idled) in between, or the run measured cold starts, not a busy group.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// busyConnections is wrk's closed loop: fewer than the group's 15 threads,
// more than the box's 2 cores, so the daemon is never without a request.
const busyConnections = 8

// busyInactivity is the on-demand group's inactivity-timeout: short, so a
// gap in the load would stop it (and the pid check would see it).
const busyInactivity = 2

// BusyRun is one timed run of one variant.
type BusyRun struct {
	Variant string
	Round   int
	Load    LoadResult
	CPU     time.Duration // the server's whole tree during the run
	Err     string
}

func (r BusyRun) CPUPerReq() time.Duration {
	if r.Load.Requests == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Load.Requests)
}

func busyVariants() []Variant {
	return []Variant{
		{Name: "gowsgi", Title: "gowsgi, eager group", Module: "gowsgi", Daemon: true, Tenants: 1},
		{Name: "gowsgi-ondemand", Title: "gowsgi, start=on-demand group", Module: "gowsgi", Daemon: true, Tenants: 1,
			OnDemand: true, Inactivity: busyInactivity},
	}
}

func runBusy(o *Options, tmp string) error {
	fmt.Printf("gowsgi always-busy on-demand group vs eager group: hello app, 1 daemon process, threads=15, wrk -c%d for %v, %d rounds, MPM %s\n\n",
		busyConnections, o.Busy, o.Rounds, o.MPM)
	script, err := writeScript(Workload{Name: "busy-hello", Method: "GET", Path: "/t1/"}, tmp)
	if err != nil {
		return err
	}
	load0 := loadAvg()
	var runs []BusyRun
	vs := busyVariants()
	for round := 1; round <= o.Rounds; round++ {
		order := []Variant{vs[0], vs[1]}
		if round%2 == 0 {
			order[0], order[1] = order[1], order[0]
		}
		for _, v := range order {
			r := measureBusy(v, o, tmp, script)
			r.Round = round
			runs = append(runs, r)
			if r.Err != "" {
				fmt.Printf("  round %d %-16s ERROR %s\n", round, v.Name, indent(r.Err))
				continue
			}
			fmt.Printf("  round %d %-16s %8.0f req/s  CPU %6.1f us/request  p50 %.0f us p99 %.0f us  errors %d\n",
				round, v.Name, r.Load.RPS(), float64(r.CPUPerReq().Nanoseconds())/1000, r.Load.P50US, r.Load.P99US, r.Load.Errors())
		}
	}
	md := busyMarkdown(o, runs, load0, loadAvg())
	fmt.Println()
	fmt.Println(md)
	out := filepath.Join(o.BuildDir, "bench", "ondemand-busy.md")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Printf("written: %s\n", out)
	for _, r := range runs {
		if r.Err != "" {
			return fmt.Errorf("some runs failed")
		}
	}
	return nil
}

func measureBusy(v Variant, o *Options, tmp, script string) BusyRun {
	r := BusyRun{Variant: v.Name}
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
	url := s.BaseURL() + "/t1/"
	// The first request starts the on-demand group (and waits for an eager
	// one that is still starting); the warm-up brings both to steady state.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err = hello(url); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		r.Err = "first request: " + err.Error() + "\nerror log:\n" + errorLogLines(s, 15)
		return r
	}
	ctx := context.Background()
	if _, err := runWrk(ctx, url, script, busyConnections, o.Warmup); err != nil {
		r.Err = "warm-up: " + err.Error()
		return r
	}
	pids, err := daemonPids(s)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	before, err := s.treeCPU()
	if err != nil {
		r.Err = err.Error()
		return r
	}
	load, err := runWrk(ctx, url, script, busyConnections, o.Busy)
	after, err2 := s.treeCPU()
	pidsAfter, err3 := daemonPids(s)
	for _, e := range []error{err, err2, err3} {
		if e != nil {
			r.Err = e.Error()
			return r
		}
	}
	if pids != pidsAfter {
		r.Err = fmt.Sprintf("the daemon processes changed during the run (%s, then %s): the group stopped or restarted", pids, pidsAfter)
		return r
	}
	if load.Errors() > 0 {
		r.Err = "wrk errors: " + load.ErrorSummary() + "\nerror log:\n" + errorLogLines(s, 10)
		return r
	}
	r.Load = load
	r.CPU = after.Duration() - before.Duration()
	return r
}

// daemonPids lists, sorted, the pids of the server's processes that do not
// hold its listener (the daemon and, on demand, the starter).
func daemonPids(s *Server) (string, error) {
	inode, err := listenerInode(s.Conf.Port)
	if err != nil {
		return "", err
	}
	var pids []int
	for i, p := range tree(s.Pid()) {
		if i > 0 && !holdsSocket(p.pid, inode) {
			pids = append(pids, p.pid)
		}
	}
	sort.Ints(pids)
	return fmt.Sprint(pids), nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func busyMarkdown(o *Options, runs []BusyRun, load0, load1 string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("### Always-busy on-demand group vs eager group, MPM %s (`make bench-ondemand-busy`)", o.MPM)
	p("")
	p("Hello app, one daemon process with threads=15, wrk closed loop of %d keep-alive connections for %v after %v of warm-up, variants alternating over %d rounds; the on-demand group has inactivity-timeout=%d and its process is the same one before and after each run. Load average %s before, %s after.",
		busyConnections, o.Busy, o.Warmup, o.Rounds, busyInactivity, load0, load1)
	p("")
	p("| round | variant | req/s | server CPU per request | p50 / p99 latency |")
	p("| ---: | --- | ---: | ---: | ---: |")
	for _, r := range runs {
		if r.Err != "" {
			p("| %d | %s | error: %s | | |", r.Round, r.Variant, oneLine(r.Err))
			continue
		}
		cpu := float64(r.CPUPerReq().Nanoseconds()) / 1000
		p("| %d | %s | %.0f | %.1f us | %.0f / %.0f us |", r.Round, r.Variant, r.Load.RPS(), cpu, r.Load.P50US, r.Load.P99US)
	}
	if rps, cpu := pairedRatios(runs); len(rps) > 0 {
		p("")
		p("- on-demand / eager, paired by round (median, then each round): req/s %.3f (%s), server CPU per request %.3f (%s).",
			median(rps), fmtRatios(rps), median(cpu), fmtRatios(cpu))
	}
	return b.String()
}

// pairedRatios are each round's on-demand/eager ratios of req/s and of
// CPU per request (rounds where both ran).
func pairedRatios(runs []BusyRun) (rps, cpu []float64) {
	for round := 1; ; round++ {
		var e, d *BusyRun
		found := false
		for i := range runs {
			if runs[i].Round != round {
				continue
			}
			found = true
			if runs[i].Err != "" {
				continue
			}
			if runs[i].Variant == "gowsgi" {
				e = &runs[i]
			} else {
				d = &runs[i]
			}
		}
		if !found {
			return rps, cpu
		}
		if e != nil && d != nil && e.Load.RPS() > 0 && e.CPUPerReq() > 0 {
			rps = append(rps, d.Load.RPS()/e.Load.RPS())
			cpu = append(cpu, float64(d.CPUPerReq())/float64(e.CPUPerReq()))
		}
	}
}

func fmtRatios(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%.3f", x))
	}
	return strings.Join(parts, ", ")
}
