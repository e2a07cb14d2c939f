package main

// Process-tree accounting from /proc: CPU time (user+system) and PSS of an
// Apache parent and all its descendants (children, MPM workers, daemons).
//
// CPU of the tree at one instant is
//
//	sum over the parent and every live descendant of utime+stime+cutime+cstime
//
// from /proc/<pid>/stat. cutime/cstime hold the CPU of descendants that have
// exited and been reaped, so children that come and go are not lost; a child
// that exited but is not reaped yet still shows its own times (zombie). The
// load window's CPU is the difference of two such samples taken just before
// and just after the load generator runs: start-up (Python initialisation,
// importing the app) and shutdown stay outside it, and the load generator is
// not in the tree. After the server is stopped, the whole lifetime's CPU is
// also known exactly from wait4's rusage of the parent (it includes every
// reaped descendant); the driver checks the window against it.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTicks = 100

type procStat struct {
	pid, ppid, pgid int
	state           byte
	comm            string
	// user+system of the process itself, and of its reaped children, in ticks
	self, children uint64
}

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// comm is in parentheses and may contain spaces or ')'.
	open, close := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || close < open {
		return procStat{}, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(data[close+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("short /proc/%d/stat", pid)
	}
	num := func(field int) uint64 { v, _ := strconv.ParseUint(f[field-3], 10, 64); return v }
	return procStat{
		pid: pid, ppid: int(num(4)), pgid: int(num(5)), state: f[0][0], comm: string(data[open+1 : close]),
		self:     num(14) + num(15),
		children: num(16) + num(17),
	}, nil
}

// allProcs reads the stat of every process on the machine.
func allProcs() map[int]procStat {
	out := map[int]procStat{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil {
			out[pid] = st
		}
	}
	return out
}

// tree returns root and its live descendants (root first).
func tree(root int) []procStat {
	procs := allProcs()
	kids := map[int][]int{}
	for pid, st := range procs {
		kids[st.ppid] = append(kids[st.ppid], pid)
	}
	r, ok := procs[root]
	if !ok {
		return nil
	}
	out := []procStat{r}
	for i := 0; i < len(out); i++ {
		for _, k := range kids[out[i].pid] {
			out = append(out, procs[k])
		}
	}
	return out
}

// CPUSample is the tree's cumulative CPU at one instant.
type CPUSample struct {
	Ticks uint64
	Procs int
}

func (s CPUSample) Duration() time.Duration {
	return time.Duration(s.Ticks) * time.Second / clockTicks
}

// treeCPU samples the tree's CPU. A child reaped between reading the tree and
// reading the parent would be counted twice or not at all, so the sample is
// retried until the parent's reaped-children time is the same before and
// after the scan.
func treeCPU(root int) (CPUSample, error) {
	for attempt := 0; attempt < 20; attempt++ {
		before, err := readStat(root)
		if err != nil {
			return CPUSample{}, err
		}
		procs := tree(root)
		after, err := readStat(root)
		if err != nil {
			return CPUSample{}, err
		}
		if len(procs) == 0 || before.children != after.children {
			continue
		}
		var s CPUSample
		for i, p := range procs {
			if i == 0 {
				p = after
			}
			s.Ticks += p.self + p.children
			s.Procs++
		}
		return s, nil
	}
	return CPUSample{}, fmt.Errorf("tree of %d kept changing while sampled", root)
}

// treePSS is the sum of Pss over the tree, in bytes.
func treePSS(root int) (int64, int) {
	var total int64
	n := 0
	for _, p := range tree(root) {
		if kb, err := pssKB(p.pid); err == nil {
			total += kb << 10
			n++
		}
	}
	return total, n
}

func pssKB(pid int) (int64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Pss:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				return strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no Pss in smaps_rollup of %d", pid)
}
