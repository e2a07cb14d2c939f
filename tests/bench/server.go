package main

// Starting and stopping one Apache. Each measurement cell gets a freshly
// started server in its own ServerRoot and process group; it is stopped
// gracefully by its pid, and the driver then checks that no process of it is
// left. The driver is a child subreaper, so a descendant that outlives the
// Apache parent is re-parented to the driver (not to init): it is found,
// stopped by its pid, reaped, and its CPU is still counted. The uWSGI
// variant's uWSGI server (uwsgi.go) is started before Apache, stopped after
// it, and is part of the server for every measurement (roots).

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

const prSetChildSubreaper = 36

func becomeSubreaper() error {
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// Server is one running Apache.
type Server struct {
	Conf    ServerConfig
	cmd     *exec.Cmd
	out     bytes.Buffer
	done    chan struct{}
	waitErr error
	// seen holds every pid observed in the tree while it ran.
	seen map[int]bool
	// uwsgi is the uWSGI server beside this Apache (uWSGI variant only).
	uwsgi *uwsgiProc
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer writes a ServerRoot under parent and starts Apache on a free
// port, waiting until it declares itself ready and accepts connections.
func startServer(v Variant, mpm, buildDir, parent string) (*Server, error) {
	root, err := os.MkdirTemp(parent, v.Name+"-")
	if err != nil {
		return nil, err
	}
	var lastErr error
	var up *uwsgiProc
	stopUp := func() {
		if up != nil {
			up.stop()
			_, _ = (&Server{uwsgi: up, seen: map[int]bool{}}).reapLeftovers()
		}
	}
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			stopUp()
			return nil, err
		}
		s := &Server{Conf: ServerConfig{Variant: v, MPM: mpm, BuildDir: buildDir, Root: root, Port: port}, seen: map[int]bool{}}
		if v.Python != "" {
			if s.Conf.PythonExe, err = benchPython(v.Python, buildDir); err != nil {
				stopUp()
				return nil, err
			}
		}
		if err := s.Conf.prepareRoot(); err != nil {
			stopUp()
			return nil, err
		}
		_ = os.Remove(s.Conf.ErrorLog())
		if v.UWSGI && up == nil {
			if up, err = startUWSGI(&s.Conf); err != nil {
				stopUp()
				return nil, err
			}
		}
		// Apache alone first: a failed launch stops and reaps only Apache.
		if lastErr = s.launch(); lastErr == nil {
			s.uwsgi = up
			s.note()
			return s, nil
		}
		if !strings.Contains(lastErr.Error(), "Address already in use") {
			break
		}
	}
	stopUp()
	return nil, lastErr
}

func (s *Server) Addr() string    { return fmt.Sprintf("127.0.0.1:%d", s.Conf.Port) }
func (s *Server) BaseURL() string { return "http://" + s.Addr() }
func (s *Server) Pid() int        { return s.cmd.Process.Pid }

// roots are the pids whose process trees make up the server: the Apache
// parent, and the uWSGI master when there is one.
func (s *Server) roots() []int {
	r := []int{s.Pid()}
	if s.uwsgi != nil && !s.uwsgi.exited() {
		r = append(r, s.uwsgi.Pid())
	}
	return r
}

// treeCPU samples the CPU of every root's tree.
func (s *Server) treeCPU() (CPUSample, error) {
	var total CPUSample
	for _, root := range s.roots() {
		c, err := treeCPU(root)
		if err != nil {
			return total, err
		}
		total.Ticks += c.Ticks
		total.Procs += c.Procs
	}
	return total, nil
}

// treePSS sums the PSS of every root's tree.
func (s *Server) treePSS() (int64, int) {
	var total int64
	var n int
	for _, root := range s.roots() {
		b, k := treePSS(root)
		total += b
		n += k
	}
	return total, n
}

// treePids are the live pids of the server.
func (s *Server) treePids() map[int]bool {
	m := map[int]bool{}
	for _, root := range s.roots() {
		for _, p := range tree(root) {
			m[p.pid] = true
		}
	}
	return m
}

// separatePSS measures, one by one, the processes that run the app outside
// Apache's MPM children: for a daemon variant, the Apache parent's
// descendants that do not hold its listening socket (the daemon processes;
// the MPM children hold it); for uWSGI, the master's descendants (its
// workers), and the master itself apart. PSS in bytes.
func (s *Server) separatePSS() (procs []int64, master int64, err error) {
	v := s.Conf.Variant
	switch {
	case v.UWSGI:
		if s.uwsgi == nil || s.uwsgi.exited() {
			return nil, 0, fmt.Errorf("uwsgi is not running")
		}
		for i, p := range tree(s.uwsgi.Pid()) {
			kb, err := pssKB(p.pid)
			if err != nil {
				return nil, 0, err
			}
			if i == 0 {
				master = kb << 10
			} else {
				procs = append(procs, kb<<10)
			}
		}
	case v.Daemon:
		inode, err := listenerInode(s.Conf.Port)
		if err != nil {
			return nil, 0, err
		}
		for i, p := range tree(s.Pid()) {
			if i == 0 || holdsSocket(p.pid, inode) {
				continue
			}
			kb, err := pssKB(p.pid)
			if err != nil {
				return nil, 0, err
			}
			procs = append(procs, kb<<10)
		}
	}
	return procs, master, nil
}

func (s *Server) ErrorLogText() string {
	b, _ := os.ReadFile(s.Conf.ErrorLog())
	return string(b)
}

func (s *Server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *Server) launch() error {
	cmd := exec.Command(apacheBin, "-d", s.Conf.Root, "-f", s.Conf.ConfPath(), "-DFOREGROUND")
	// A clean environment: nothing from the caller's PATH (pyenv shims and
	// the like) or PYTHON* variables may reach the embedded interpreters.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout = &s.out
	cmd.Stderr = &s.out
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() { s.waitErr = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if s.exited() {
			_, _ = s.reapLeftovers()
			return fmt.Errorf("apache exited during start-up (%v)\noutput: %s\nerror log:\n%s",
				s.waitErr, s.out.String(), tail(s.ErrorLogText(), 30))
		}
		if strings.Contains(s.ErrorLogText(), "resuming normal operations") {
			if c, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond); err == nil {
				c.Close()
				s.note()
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, _ = s.Stop()
	return fmt.Errorf("apache did not become ready on %s within 30s\nerror log:\n%s", s.Addr(), tail(s.ErrorLogText(), 30))
}

// note records the tree's current pids (for the leftover check).
func (s *Server) note() {
	if s.exited() {
		return
	}
	for pid := range s.treePids() {
		s.seen[pid] = true
	}
}

// StopResult is what stopping a server tells about its whole lifetime.
type StopResult struct {
	// LifetimeCPU is user+system of the parent and every descendant over the
	// server's whole life (wait4 rusage of the parent, plus any orphan the
	// driver reaped).
	LifetimeCPU time.Duration
	Graceful    bool
}

// Stop stops the server gracefully (SIGWINCH, graceful-stop) and waits for
// the parent to exit; SIGTERM and finally SIGKILL follow if it takes too long.
// It then makes sure no process of the server is left.
func (s *Server) Stop() (StopResult, error) {
	var res StopResult
	if s.cmd == nil {
		return res, nil
	}
	s.note()
	res.Graceful = true
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGWINCH, 25 * time.Second}, {syscall.SIGTERM, 15 * time.Second}, {syscall.SIGKILL, 10 * time.Second}}
	for i, st := range steps {
		if s.exited() {
			break
		}
		if i > 0 {
			res.Graceful = false
		}
		_ = s.cmd.Process.Signal(st.sig)
		select {
		case <-s.done:
		case <-time.After(st.wait):
		}
	}
	if !s.exited() {
		// cmd.Wait also waits for every holder of Apache's stdout pipe:
		// daemons it forked (1,000 of mod_wsgi's, a server stopped while
		// still starting) keep it from returning after the parent died.
		// They are reaped here, not left behind.
		_, _ = s.reapLeftovers()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
		}
	}
	if !s.exited() {
		return res, fmt.Errorf("apache parent %d did not exit, even after SIGKILL", s.Pid())
	}
	if ps := s.cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			res.LifetimeCPU = tvDur(ru.Utime) + tvDur(ru.Stime)
		}
	}
	// uWSGI after Apache, which no longer sends it anything.
	if s.uwsgi != nil {
		if !s.uwsgi.stop() {
			res.Graceful = false
		}
		res.LifetimeCPU += s.uwsgi.cpu
	}
	orphanCPU, err := s.reapLeftovers()
	res.LifetimeCPU += orphanCPU
	return res, err
}

func tvDur(tv syscall.Timeval) time.Duration {
	return time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond
}

// reapLeftovers finds processes of this server that outlived its parent: in
// its process group, or re-parented to the driver (subreaper) from the tree.
// Live ones are signalled by pid (SIGTERM, then SIGKILL); all are reaped, and
// their CPU is returned. Any leftover is an error.
func (s *Server) reapLeftovers() (time.Duration, error) {
	pgids := map[int]bool{}
	if s.cmd != nil {
		pgids[s.Pid()] = true
	}
	if s.uwsgi != nil {
		pgids[s.uwsgi.Pid()] = true
	}
	me := os.Getpid()
	var cpu time.Duration
	var found []string
	deadline := time.Now().Add(15 * time.Second)
	killed := map[int]bool{}
	for {
		var left []procStat
		for pid, st := range allProcs() {
			if pid == me {
				continue
			}
			// The driver is a subreaper and runs one server at a time:
			// any child of its own is the server's orphan, seen or not
			// (a server stopped while it was still forking daemons forked
			// some after its tree was last noted).
			if pgids[st.pgid] || st.ppid == me {
				left = append(left, st)
			}
		}
		if len(left) == 0 {
			break
		}
		for _, st := range left {
			desc := fmt.Sprintf("pid %d (%s, state %c)", st.pid, st.comm, st.state)
			if !containsStr(found, desc) && st.state != 'Z' {
				found = append(found, desc)
			}
			if st.ppid == me {
				var ws syscall.WaitStatus
				var ru syscall.Rusage
				if wpid, _ := syscall.Wait4(st.pid, &ws, syscall.WNOHANG, &ru); wpid == st.pid {
					cpu += tvDur(ru.Utime) + tvDur(ru.Stime)
					continue
				}
			}
			sig := syscall.SIGTERM
			if killed[st.pid] {
				sig = syscall.SIGKILL
			}
			_ = syscall.Kill(st.pid, sig)
			killed[st.pid] = true
		}
		if time.Now().After(deadline) {
			return cpu, fmt.Errorf("processes of the server at %s could not be stopped: %v", s.Conf.Root, found)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(found) > 0 {
		return cpu, fmt.Errorf("processes outlived the Apache parent and had to be stopped: %s", strings.Join(found, ", "))
	}
	return cpu, nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
