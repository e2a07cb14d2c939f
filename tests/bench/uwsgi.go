package main

// The uWSGI variant: Apache's children proxy every request with
// mod_proxy_uwsgi over a unix socket to a uWSGI server running the same
// bench.wsgi in processes=2 threads=16 (a master and two worker processes,
// the app imported in the master before the workers are forked, uWSGI's
// default). uWSGI is not started by Apache: the driver starts it beside each
// Apache (in its own process group), tracks it by pid, and stops it after
// Apache. Its process tree (master and workers) is sampled together with
// Apache's for CPU and PSS, so the server CPU per request of this variant is
// Apache's tree plus uWSGI's tree.
//
// uWSGI is optional: Debian's uwsgi-core and uwsgi-plugin-python3 are
// installed on demand (apt-get, as root) the first time the variant is
// gated; if that is not possible the variant is skipped with a note.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	modProxySO      = "/usr/lib/apache2/modules/mod_proxy.so"
	modProxyUWSGISO = "/usr/lib/apache2/modules/mod_proxy_uwsgi.so"
	uwsgiPlugin     = "/usr/lib/uwsgi/plugins/python3_plugin.so"
	// uwsgiWorkers and uwsgiThreads match WSGIDaemonProcess processes=2 threads=16.
	uwsgiWorkers = 2
	uwsgiThreads = 16
)

var uwsgiDebs = []string{"uwsgi-core", "uwsgi-plugin-python3"}

var (
	uwsgiOnce sync.Once
	uwsgiBin  string // the uwsgi binary, once found or installed
	uwsgiNote string // why the variant cannot run ("" when it can)
)

// ensureUWSGI finds uWSGI and its python3 plugin, installing them with
// apt-get if they are missing. It returns the binary, or a note saying why
// the uWSGI variant must be skipped.
func ensureUWSGI() (string, string) {
	uwsgiOnce.Do(func() { uwsgiBin, uwsgiNote = findOrInstallUWSGI() })
	return uwsgiBin, uwsgiNote
}

func findUWSGI() string {
	if _, err := os.Stat(uwsgiPlugin); err != nil {
		return ""
	}
	for _, b := range []string{"/usr/bin/uwsgi", "/usr/bin/uwsgi-core"} {
		if _, err := os.Stat(b); err == nil {
			return b
		}
	}
	return ""
}

func findOrInstallUWSGI() (string, string) {
	for _, so := range []string{modProxySO, modProxyUWSGISO} {
		if _, err := os.Stat(so); err != nil {
			return "", fmt.Sprintf("%s is missing (it ships with Debian's apache2 package)", so)
		}
	}
	if b := findUWSGI(); b != "" {
		return b, ""
	}
	if os.Geteuid() != 0 {
		return "", fmt.Sprintf("uWSGI is not installed and the driver is not root to install it (apt-get install %s)", strings.Join(uwsgiDebs, " "))
	}
	fmt.Printf("  (installing %s for the uwsgi variant)\n", strings.Join(uwsgiDebs, " "))
	install := func() ([]byte, error) {
		cmd := exec.Command("apt-get", append([]string{"install", "-y", "-qq", "--no-install-recommends"}, uwsgiDebs...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	out, err := install()
	if err != nil {
		// The package lists may be missing or stale.
		if upd, uerr := exec.Command("apt-get", "update", "-qq").CombinedOutput(); uerr != nil {
			return "", fmt.Sprintf("apt-get update failed (%v): %s", uerr, oneLine(tail(string(upd), 3)))
		}
		out, err = install()
	}
	if err != nil {
		return "", fmt.Sprintf("apt-get install %s failed (%v): %s", strings.Join(uwsgiDebs, " "), err, oneLine(tail(string(out), 3)))
	}
	if b := findUWSGI(); b != "" {
		return b, ""
	}
	return "", fmt.Sprintf("%s installed, but no uwsgi binary or %s was found", strings.Join(uwsgiDebs, " "), uwsgiPlugin)
}

// uwsgiVersion describes the installed uWSGI for the report ("" if none).
func uwsgiVersion() string {
	b := findUWSGI()
	if b == "" {
		return ""
	}
	v := strings.TrimSpace(cmdOut(b, "--version"))
	pv := strings.TrimSpace(cmdOut("dpkg-query", "-W", "-f=${Version}", "uwsgi-plugin-python3"))
	s := "uWSGI " + v
	if pv != "" {
		s += " (Debian uwsgi-core, uwsgi-plugin-python3 " + pv + ")"
	}
	return s
}

// uwsgiArgs is uWSGI's command line for one server root; asRoot adds the
// switch to www-data.
func uwsgiArgs(c *ServerConfig, asRoot bool) []string {
	args := []string{
		"--plugin", "python3",
		"--master",
		"--processes", fmt.Sprint(uwsgiWorkers),
		"--threads", fmt.Sprint(uwsgiThreads),
		"--socket", c.UWSGISocket(),
		// Apache's children (www-data) connect to it.
		"--chmod-socket=666",
		"--wsgi-file", c.Root + "/app/bench.wsgi",
		"--need-app",
		"--disable-logging",
		"--die-on-term",
		"--no-orphans",
	}
	if asRoot {
		// As Apache's children and the daemon variants' processes.
		args = append(args, "--uid", "www-data", "--gid", "www-data")
	}
	return args
}

// uwsgiArgsDisplay is the command line as the report shows it.
func uwsgiArgsDisplay() string {
	c := &ServerConfig{Root: "ROOT"}
	return "uwsgi " + strings.Join(uwsgiArgs(c, false), " ")
}

// uwsgiProc is one running uWSGI master (and its workers).
type uwsgiProc struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error
	stopped bool
	cpu     time.Duration // lifetime CPU from wait4, once stopped
}

func (u *uwsgiProc) Pid() int { return u.cmd.Process.Pid }

func (u *uwsgiProc) exited() bool {
	select {
	case <-u.done:
		return true
	default:
		return false
	}
}

func (u *uwsgiProc) logText() string {
	b, _ := os.ReadFile(u.logPath)
	return string(b)
}

// startUWSGI starts uWSGI for the server root c and waits until both workers
// are spawned and the socket accepts connections.
func startUWSGI(c *ServerConfig) (*uwsgiProc, error) {
	bin, note := ensureUWSGI()
	if bin == "" {
		return nil, fmt.Errorf("uWSGI unavailable: %s", note)
	}
	// uWSGI binds its socket after dropping privileges to www-data: the
	// socket's directory is www-data's.
	dir := filepath.Dir(c.UWSGISocket())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		uid, gid, err := lookupWWWData()
		if err != nil {
			return nil, err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	_ = os.Remove(c.UWSGISocket())
	logf, err := os.OpenFile(c.UWSGILog(), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, uwsgiArgs(c, os.Geteuid() == 0)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.Dir = c.Root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout = logf
	cmd.Stderr = logf
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return nil, err
	}
	u := &uwsgiProc{cmd: cmd, logPath: c.UWSGILog(), done: make(chan struct{})}
	go func() { u.waitErr = cmd.Wait(); close(u.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if u.exited() {
			return u, fmt.Errorf("uwsgi exited during start-up (%v)\nuwsgi log:\n%s", u.waitErr, tail(u.logText(), 30))
		}
		if strings.Count(u.logText(), "spawned uWSGI worker ") >= uwsgiWorkers {
			if conn, err := net.DialTimeout("unix", c.UWSGISocket(), 200*time.Millisecond); err == nil {
				conn.Close()
				return u, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return u, fmt.Errorf("uwsgi did not become ready within 30s\nuwsgi log:\n%s", tail(u.logText(), 30))
}

// stop ends uWSGI (SIGINT: the master stops and reaps its workers; SIGKILL
// after 15 s) and records its lifetime CPU (master and reaped workers).
// It reports whether SIGINT sufficed.
func (u *uwsgiProc) stop() bool {
	if u.stopped {
		return true
	}
	u.stopped = true
	graceful := true
	for i, st := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGINT, 15 * time.Second}, {syscall.SIGKILL, 10 * time.Second}} {
		if u.exited() {
			break
		}
		if i > 0 {
			graceful = false
		}
		_ = u.cmd.Process.Signal(st.sig)
		select {
		case <-u.done:
		case <-time.After(st.wait):
		}
	}
	if ps := u.cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			u.cpu = tvDur(ru.Utime) + tvDur(ru.Stime)
		}
	}
	return graceful && u.exited()
}

func lookupWWWData() (int, int, error) {
	u, err := user.Lookup("www-data")
	if err != nil {
		return 0, 0, err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, err
	}
	gid, err := strconv.Atoi(u.Gid)
	return uid, gid, err
}
