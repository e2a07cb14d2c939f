package main

// What idle daemon processes cost while nothing is asked of them: CPU time
// (from each thread's /proc schedstat, in nanoseconds, not the 10 ms ticks
// of /proc/<pid>/stat) and wake-ups (each thread's voluntary and
// involuntary context switches). A wake-up count does not depend on how
// loaded the box is; the CPU each costs does.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// IdleCost is what the daemons cost over a window, in all and per daemon
// per second.
type IdleCost struct {
	Daemons       int
	Window        time.Duration
	CPU           time.Duration // all daemons' threads
	Wakes         int64         // all daemons' threads' context switches
	ThreadWakes   map[string]int64
	PerDaemonCPU  time.Duration // per daemon per second
	PerDaemonWake float64       // per daemon per second
}

type threadSample struct {
	ns    int64
	wakes int64
	comm  string
}

// sampleThreads reads every thread of pid.
func sampleThreads(pid int) map[int]threadSample {
	out := map[int]threadSample{}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return out
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := fmt.Sprintf("/proc/%d/task/%d/", pid, tid)
		sched, err := os.ReadFile(dir + "schedstat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(sched))
		if len(f) < 1 {
			continue
		}
		ns, _ := strconv.ParseInt(f[0], 10, 64)
		status, err := os.ReadFile(dir + "status")
		if err != nil {
			continue
		}
		var wakes int64
		for _, line := range strings.Split(string(status), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				wakes += n
			}
		}
		comm, _ := os.ReadFile(dir + "comm")
		out[tid] = threadSample{ns: ns, wakes: wakes, comm: strings.TrimSpace(string(comm))}
	}
	return out
}

// idleDaemonCost measures the server's daemon processes (its processes that
// do not hold the listener) over window. Threads that start or end within
// the window count from zero or not at all.
func idleDaemonCost(s *Server, window time.Duration) (IdleCost, error) {
	inode, err := listenerInode(s.Conf.Port)
	if err != nil {
		return IdleCost{}, err
	}
	var pids []int
	for i, p := range tree(s.Pid()) {
		if i > 0 && !holdsSocket(p.pid, inode) {
			pids = append(pids, p.pid)
		}
	}
	if len(pids) == 0 {
		return IdleCost{}, fmt.Errorf("no daemon process")
	}
	before := make([]map[int]threadSample, len(pids))
	for i, pid := range pids {
		before[i] = sampleThreads(pid)
	}
	time.Sleep(window)
	c := IdleCost{Daemons: len(pids), Window: window, ThreadWakes: map[string]int64{}}
	for i, pid := range pids {
		for tid, b := range sampleThreads(pid) {
			a := before[i][tid]
			c.CPU += time.Duration(b.ns - a.ns)
			c.Wakes += b.wakes - a.wakes
			c.ThreadWakes[b.comm] += b.wakes - a.wakes
		}
	}
	per := float64(len(pids)) * window.Seconds()
	c.PerDaemonCPU = time.Duration(float64(c.CPU) / per)
	c.PerDaemonWake = float64(c.Wakes) / per
	return c, nil
}

func (c IdleCost) String() string {
	return fmt.Sprintf("%d daemons over %v: %.3f ms of CPU and %.1f wake-ups a second each (wake-ups by thread name: %v)",
		c.Daemons, c.Window, float64(c.PerDaemonCPU.Microseconds())/1000, c.PerDaemonWake, c.ThreadWakes)
}
