package main

// Versions and a description of the machine, for the report's header.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// SysInfo describes the run's software and machine.
type SysInfo struct {
	Date, Apache, ModWsgi, Python, Gowsgi, GoBuild, Wrk string
	UWSGI                                               string // "" when not installed
	Kernel, CPU, Memory, LoadAvg                        string
	Cores                                               int
	// /proc/stat "cpu" line at the start: total and steal jiffies.
	startTotal, startSteal uint64
	// At the start: the machine's busy jiffies, and the CPU of this driver
	// and its reaped children (servers, wrk).
	startBusy     uint64
	startBenchCPU time.Duration
}

// busyJiffies is user+nice+system of all CPUs from /proc/stat (irq and
// softirq time, much of it the benchmark's own loopback traffic, is in no
// process's times and so left out).
func busyJiffies() uint64 {
	line, _, _ := strings.Cut(readFile("/proc/stat"), "\n")
	f := strings.Fields(line)
	var busy uint64
	for _, i := range []int{1, 2, 3} {
		if i < len(f) {
			var v uint64
			fmt.Sscan(f[i], &v)
			busy += v
		}
	}
	return busy
}

// benchCPU is the user+system CPU of this process and of its children that
// have been waited for (every server, uWSGI and wrk run).
func benchCPU() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += tvDur(ru.Utime) + tvDur(ru.Stime)
		}
	}
	return total
}

// othersCPU is the CPU time that processes other than the benchmark's used
// since the start, as a share of the machine's capacity (cores x elapsed).
func (si SysInfo) othersCPU(elapsed time.Duration) string {
	busy := time.Duration(busyJiffies()-si.startBusy) * time.Second / clockTicks
	others := busy - (benchCPU() - si.startBenchCPU)
	if others < 0 {
		others = 0
	}
	capacity := elapsed * time.Duration(si.Cores)
	if capacity <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f%% of the machine (%v of CPU time)", 100*float64(others)/float64(capacity), others.Round(time.Second))
}

// cpuTimes reads the total and steal jiffies of all CPUs from /proc/stat.
func cpuTimes() (total, steal uint64) {
	line, _, _ := strings.Cut(readFile("/proc/stat"), "\n")
	f := strings.Fields(line)
	for i := 1; i < len(f); i++ {
		var v uint64
		fmt.Sscan(f[i], &v)
		if i <= 8 { // user nice system idle iowait irq softirq steal
			total += v
		}
		if i == 8 {
			steal = v
		}
	}
	return total, steal
}

// stealSince is the share of all CPU time stolen since the start.
func (si SysInfo) stealSince() string {
	total, steal := cpuTimes()
	if total <= si.startTotal {
		return "?"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(steal-si.startSteal)/float64(total-si.startTotal))
}

func collectSysInfo(o *Options) SysInfo {
	si := SysInfo{Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Cores: runtime.NumCPU()}
	si.startTotal, si.startSteal = cpuTimes()
	si.startBusy, si.startBenchCPU = busyJiffies(), benchCPU()
	si.Apache = firstLine(cmdOut(apacheBin, "-v"))
	si.Apache = strings.TrimPrefix(si.Apache, "Server version: ")
	si.ModWsgi = "mod_wsgi " + strings.TrimSpace(cmdOut("dpkg-query", "-W", "-f=${Version}", "libapache2-mod-wsgi-py3")) + " (Debian libapache2-mod-wsgi-py3)"
	si.Python = strings.TrimSpace(cmdOut(systemPy, "-c", "import sys; print('CPython', sys.version.split()[0])")) + " (" + systemPy + ")"
	si.Wrk = firstLine(cmdOut("wrk", "-v"))
	if f := strings.Fields(si.Wrk); len(f) >= 2 {
		si.Wrk = "wrk " + f[1]
	}
	ver := "?"
	if b, err := os.ReadFile(filepath.Join(o.BuildDir, "shim_build.h")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[1] == "GOWSGI_VERSION" {
				ver = strings.Trim(f[2], `"`)
			}
		}
	}
	commit := strings.TrimSpace(cmdOut("git", "describe", "--always", "--dirty", "--exclude", "*"))
	si.Gowsgi = "gowsgi " + ver
	if commit != "" {
		si.Gowsgi += " (commit " + commit + ")"
	}
	si.GoBuild = strings.TrimSpace(strings.TrimPrefix(firstLine(cmdOut("go", "version", filepath.Join(o.BuildDir, "libgowsgi.so"))), filepath.Join(o.BuildDir, "libgowsgi.so")+":"))
	if si.GoBuild == "" {
		si.GoBuild = runtime.Version()
	}
	si.Kernel = "Linux " + strings.TrimSpace(readFile("/proc/sys/kernel/osrelease"))
	si.CPU = cpuModel()
	si.Memory = memTotal()
	si.LoadAvg = strings.Join(strings.Fields(readFile("/proc/loadavg"))[:3], " ")
	return si
}

func (si SysInfo) oneLine() string {
	return fmt.Sprintf("%s, %s, %s, %s; %d x %s, %s, %s", si.Apache, si.ModWsgi, si.Gowsgi, si.Python, si.Cores, si.CPU, si.Memory, si.Kernel)
}

func cmdOut(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return ""
	}
	return string(out)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func memTotal() string {
	for _, line := range strings.Split(readFile("/proc/meminfo"), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			var kb int64
			fmt.Sscan(f[1], &kb)
			return fmt.Sprintf("%.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	return "?"
}
