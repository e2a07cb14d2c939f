package main

// Where an on-demand group's cold start goes, phase by phase, from the
// server's error log (the on-demand variant logs gowsgi at info) and the
// client's clock (the same wall clock): the request sent -> the starter
// starts the group (GW0500: Apache's child took the request and sent the
// wake; the starter heard it) -> the script's import begins (GW0424, from
// the daemon: fork, exec of gowsgi-daemon, Go runtime, Python) -> the
// process is ready as the starter saw it (GW0502; the starter looks every
// 10 ms, so up to 10 ms late, and no later than the answer here) -> the
// response is read whole (the waiting
// request goes on, the app's first call, the relay). And what the daemons
// cost in CPU while idle, which slows every cold start of a server with
// many groups up.

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// ColdPhases is one cold start, split.
type ColdPhases struct {
	ToStarter, ProcessUp, Script, Answer time.Duration
}

// coldSpan is one request's client-side start and end.
type coldSpan struct {
	group      string
	start, end time.Time
}

// logTime reads the timestamp of an Apache error log line
// ("[Mon Dec 07 05:26:32.269949 2026] ...").
func logTime(line string) (time.Time, bool) {
	if len(line) < 2 || line[0] != '[' {
		return time.Time{}, false
	}
	end := strings.IndexByte(line, ']')
	if end < 0 {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("Mon Jan 02 15:04:05.000000 2006", line[1:end], time.Local)
	return t, err == nil
}

// coldPhasesOf splits each span's cold start by the first lines of its
// group logged at or after its start; a span whose lines are missing is
// left out.
func coldPhasesOf(logPath string, spans []coldSpan) []ColdPhases {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return nil
	}
	type marks struct{ started, loading, ready []time.Time }
	byGroup := map[string]*marks{}
	get := func(g string) *marks {
		m := byGroup[g]
		if m == nil {
			m = &marks{}
			byGroup[g] = m
		}
		return m
	}
	// The group's name as each line gives it.
	between := func(line, before, after string) string {
		i := strings.Index(line, before)
		if i < 0 {
			return ""
		}
		rest := line[i+len(before):]
		j := strings.Index(rest, after)
		if j < 0 {
			return ""
		}
		return rest[:j]
	}
	for _, line := range strings.Split(string(data), "\n") {
		t, ok := logTime(line)
		if !ok {
			continue
		}
		switch {
		case strings.Contains(line, "GW0500:"):
			if g := between(line, "daemon process group '", "'"); g != "" {
				get(g).started = append(get(g).started, t)
			}
		case strings.Contains(line, "GW0424:"):
			if g := between(line, "process='", "'"); g != "" {
				get(g).loading = append(get(g).loading, t)
			}
		case strings.Contains(line, "GW0502:"):
			if g := between(line, "daemon process group '", "'"); g != "" {
				get(g).ready = append(get(g).ready, t)
			}
		}
	}
	first := func(ts []time.Time, after time.Time) (time.Time, bool) {
		for _, t := range ts {
			if !t.Before(after) {
				return t, true
			}
		}
		return time.Time{}, false
	}
	var out []ColdPhases
	for _, s := range spans {
		m := byGroup[s.group]
		if m == nil {
			continue
		}
		// Apache logs with microseconds; the client's start may be a
		// fraction of one later than the line it caused.
		from := s.start.Add(-time.Millisecond)
		started, ok1 := first(m.started, from)
		loading, ok2 := first(m.loading, started)
		ready, ok3 := first(m.ready, loading)
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		// The starter sees the process ready up to 10 ms late, by which
		// time the request (woken at once) may have been answered.
		if ready.After(s.end) {
			ready = s.end
		}
		out = append(out, ColdPhases{
			ToStarter: started.Sub(s.start), ProcessUp: loading.Sub(started),
			Script: ready.Sub(loading), Answer: s.end.Sub(ready),
		})
	}
	return out
}

// phaseStats: each phase's median and max over the cold starts.
func phaseStats(ps []ColdPhases) (med, max ColdPhases) {
	pick := func(f func(ColdPhases) time.Duration) (time.Duration, time.Duration) {
		ds := make([]time.Duration, len(ps))
		for i, p := range ps {
			ds[i] = f(p)
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2], ds[len(ds)-1]
	}
	if len(ps) == 0 {
		return
	}
	med.ToStarter, max.ToStarter = pick(func(p ColdPhases) time.Duration { return p.ToStarter })
	med.ProcessUp, max.ProcessUp = pick(func(p ColdPhases) time.Duration { return p.ProcessUp })
	med.Script, max.Script = pick(func(p ColdPhases) time.Duration { return p.Script })
	med.Answer, max.Answer = pick(func(p ColdPhases) time.Duration { return p.Answer })
	return
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// phasesText: "to starter X, process up Y, script Z, answer W ms".
func phasesText(p ColdPhases) string {
	return fmt.Sprintf("request to starter %.1f ms, fork to script import %.1f ms, script import %.1f ms, ready to answer %.1f ms",
		ms(p.ToStarter), ms(p.ProcessUp), ms(p.Script), ms(p.Answer))
}

// idleCPU is the CPU the whole server used over window while nothing was
// asked of it, and how many processes it had (Apache's included) at the end.
func idleCPU(s *Server, window time.Duration) (time.Duration, int, error) {
	a, err := s.treeCPU()
	if err != nil {
		return 0, 0, err
	}
	time.Sleep(window)
	b, err := s.treeCPU()
	if err != nil {
		return 0, 0, err
	}
	if b.Ticks < a.Ticks {
		return 0, 0, fmt.Errorf("the server's CPU went back (%d to %d ticks)", a.Ticks, b.Ticks)
	}
	return time.Duration(b.Ticks-a.Ticks) * time.Second / clockTicks, b.Procs, nil
}
