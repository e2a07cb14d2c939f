// Command gil measures what the GIL modes are for (docs/benchmarks.md, "GIL
// modes"): the throughput of a CPU-bound app with two requests at once
// against one at a time, in one daemon process, for
//
//   - two sub-interpreters with their own GIL (WSGIPerInterpreterGIL, 3.12),
//   - the same two sharing one GIL (the control),
//   - two threads of one interpreter on a free-threaded 3.13
//     (WSGIFreeThreading), and the same build with its GIL on (the control).
//
// One Apache serves every group; the cells of a round run one after the
// other, the rounds interleave them, and the ratio of each mode is the
// median over rounds of (requests/s with two clients) / (with one).
//
//	go run ./tests/bench/gil [-build build] [-duration 5s] [-rounds 5]
//
// Needs root (Apache's User www-data runs the daemons), a pyenv CPython
// 3.12 and its engine build (make pythons), and for the free-threaded
// cells build/python-3.13t (make python-freethreaded, then make pythons
// PYTHONS=build/python-3.13t/bin/python3.13t); those cells are left out,
// with a note, when it is absent. Prints a Markdown table.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gowsgi/gowsgi/tests/internal/pycopy"
)

type cell struct {
	mode    string   // the row
	group   string   // its daemon group (display-name=gilbench-GROUP)
	paths   []string // one client per path
	clients int
}

func main() {
	build := flag.String("build", "build", "directory holding mod_gowsgi.so and the engine builds")
	duration := flag.Duration("duration", 5*time.Second, "timed run per cell")
	warmup := flag.Duration("warmup", time.Second, "warm-up per cell")
	rounds := flag.Int("rounds", 5, "rounds")
	flag.Parse()
	if err := run(*build, *duration, *warmup, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "gil bench:", err)
		os.Exit(1)
	}
}

func run(build string, duration, warmup time.Duration, rounds int) error {
	build, err := filepath.Abs(build)
	if err != nil {
		return fmt.Errorf("build directory: %w", err)
	}
	here, err := filepath.Abs(filepath.Join("tests", "bench", "gil"))
	if err != nil {
		return fmt.Errorf("app directory: %w", err)
	}
	tmp, err := os.MkdirTemp("", "gowsgi-gilbench-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	py312, err := copyPython(tmp, "/root/.pyenv/versions", "3.12", "python3.12")
	if err != nil {
		return err
	}
	var snippet strings.Builder
	for _, g := range []string{"own", "shared"} {
		fmt.Fprintf(&snippet, "WSGIDaemonProcess %s processes=1 threads=2 display-name=gilbench-%s python-executable=%s\n", g, g, py312)
	}
	snippet.WriteString("<WSGIInterpreterOptions process-group=own>\n    WSGIPerInterpreterGIL On\n</WSGIInterpreterOptions>\n")
	for _, g := range []string{"own", "shared"} {
		for _, app := range []string{"a", "b"} {
			fmt.Fprintf(&snippet, "WSGIScriptAlias /%s/%s %s/cpu.wsgi process-group=%s application-group=%s\n", g, app, here, g, app)
		}
	}
	cells := []cell{
		{"per-interpreter GIL (3.12), two sub-interpreters", "own", []string{"/own/a"}, 1},
		{"per-interpreter GIL (3.12), two sub-interpreters", "own", []string{"/own/a", "/own/b"}, 2},
		{"shared GIL (3.12), two sub-interpreters", "shared", []string{"/shared/a"}, 1},
		{"shared GIL (3.12), two sub-interpreters", "shared", []string{"/shared/a", "/shared/b"}, 2},
	}
	ft := filepath.Join(build, "python-3.13t", "bin", "python3.13t")
	note := ""
	if _, err := os.Stat(ft); err == nil {
		for _, g := range []string{"ft", "ftgil"} {
			fmt.Fprintf(&snippet, "WSGIDaemonProcess %s processes=1 threads=2 display-name=gilbench-%s python-executable=%s\n", g, g, ft)
		}
		snippet.WriteString("<WSGIInterpreterOptions process-group=ft>\n    WSGIFreeThreading On\n</WSGIInterpreterOptions>\n")
		for _, g := range []string{"ft", "ftgil"} {
			fmt.Fprintf(&snippet, "WSGIScriptAlias /%s %s/cpu.wsgi process-group=%s application-group=%%{GLOBAL}\n", g, here, g)
		}
		cells = append(cells,
			cell{"free-threaded (3.13t, WSGIFreeThreading On), two threads", "ft", []string{"/ft"}, 1},
			cell{"free-threaded (3.13t, WSGIFreeThreading On), two threads", "ft", []string{"/ft", "/ft"}, 2},
			cell{"3.13t with its GIL on (the default), two threads", "ftgil", []string{"/ftgil"}, 1},
			cell{"3.13t with its GIL on (the default), two threads", "ftgil", []string{"/ftgil", "/ftgil"}, 2})
	} else {
		note = fmt.Sprintf("(free-threaded cells left out: %s is absent)", ft)
	}
	srv, err := startApache(tmp, build, snippet.String())
	if err != nil {
		return err
	}
	defer srv.stop()

	rates := map[string][]float64{} // mode/clients -> requests/s per round
	cores := map[string][]float64{} // mode/clients -> the daemon's CPU seconds per second
	load1 := loadAverage()
	for r := 0; r < rounds; r++ {
		for _, c := range cells {
			pid, err := daemonPid(c.group)
			if err != nil {
				return err
			}
			n, cpu, err := load(srv.base, c.paths, warmup, duration, pid)
			if err != nil {
				return fmt.Errorf("%s, %d client(s): %w", c.mode, c.clients, err)
			}
			rate := float64(n) / duration.Seconds()
			key := fmt.Sprintf("%s|%d", c.mode, c.clients)
			rates[key] = append(rates[key], rate)
			cores[key] = append(cores[key], cpu/duration.Seconds())
			fmt.Fprintf(os.Stderr, "round %d: %-60s %d client(s): %.1f req/s, daemon %.2f cores\n", r+1, c.mode, c.clients, rate, cpu/duration.Seconds())
		}
	}
	fmt.Printf("Load average (1 min) before: %s, after: %s.\n\n", load1, loadAverage())
	fmt.Printf("| mode | 1 client (req/s) | 2 clients (req/s) | ratio (median of %d rounds) | ratios per round | daemon CPU with 2 clients (cores, median) |\n|---|---|---|---|---|---|\n", rounds)
	seen := map[string]bool{}
	for _, c := range cells {
		if seen[c.mode] {
			continue
		}
		seen[c.mode] = true
		one, two := rates[c.mode+"|1"], rates[c.mode+"|2"]
		var ratios []string
		var rs []float64
		for i := range one {
			rs = append(rs, two[i]/one[i])
			ratios = append(ratios, fmt.Sprintf("%.2f", two[i]/one[i]))
		}
		fmt.Printf("| %s | %.1f | %.1f | **%.2fx** | %s | %.2f |\n", c.mode, median(one), median(two), median(rs), strings.Join(ratios, ", "),
			median(cores[c.mode+"|2"]))
	}
	if note != "" {
		fmt.Println(note)
	}
	return nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// load runs one client per path, each one request at a time on a kept
// connection, and counts the requests completed in the timed part, and the
// CPU seconds the daemon process pid used in it.
func load(base string, paths []string, warmup, duration time.Duration, pid int) (int64, float64, error) {
	var counting atomic.Bool
	var n atomic.Int64
	var firstErr atomic.Value
	stop := time.Now().Add(warmup + duration)
	var wg sync.WaitGroup
	for _, p := range paths {
		wg.Add(1)
		go func(p string) {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second}
			for time.Now().Before(stop) {
				resp, err := client.Get(base + p)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					firstErr.CompareAndSwap(nil, fmt.Errorf("GET %s: %s", p, resp.Status))
					return
				}
				if counting.Load() {
					n.Add(1)
				}
			}
		}(p)
	}
	time.Sleep(warmup)
	cpu0, err0 := cpuSeconds(pid)
	counting.Store(true)
	time.Sleep(duration)
	counting.Store(false)
	cpu1, err1 := cpuSeconds(pid)
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, 0, err
	}
	if err0 != nil || err1 != nil {
		return 0, 0, fmt.Errorf("the daemon's CPU: %v %v", err0, err1)
	}
	return n.Load(), cpu1 - cpu0, nil
}

// daemonPid is the process of group (display-name=gilbench-GROUP).
func daemonPid(group string) (int, error) {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err == nil && strings.HasPrefix(string(b), "gilbench-"+group) && (len(b) == len("gilbench-"+group) || b[len("gilbench-"+group)] == 0 || b[len("gilbench-"+group)] == ' ') {
			var pid int
			if _, err := fmt.Sscanf(filepath.Base(filepath.Dir(d)), "%d", &pid); err == nil {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no daemon process titled gilbench-%s", group)
}

// cpuSeconds is utime+stime of pid (its threads included), in seconds.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var ut, st float64
	if _, err := fmt.Sscanf(f[11]+" "+f[12], "%g %g", &ut, &st); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return (ut + st) / 100, nil // USER_HZ
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// copyPython copies the newest pyenv build of tag under versions into dir
// (hard links where it can), where Apache's User can read it.
func copyPython(dir, versions, tag, program string) (string, error) {
	found, _ := filepath.Glob(filepath.Join(versions, tag+".*", "bin", program))
	sort.Strings(found)
	if len(found) == 0 {
		return "", fmt.Errorf("no CPython %s under %s (the benchmark needs one)", tag, versions)
	}
	src := filepath.Dir(filepath.Dir(found[len(found)-1]))
	dst := filepath.Join(dir, filepath.Base(src))
	if err := pycopy.Copy(src, dst); err != nil {
		return "", err
	}
	return filepath.Join(dst, "bin", program), nil
}

type apache struct {
	cmd  *exec.Cmd
	base string
	root string
}

func startApache(tmp, build, snippet string) (*apache, error) {
	root := filepath.Join(tmp, "root")
	for _, d := range []string{"run", "htdocs"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, fmt.Errorf("server root: %w", err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := fmt.Sprintf(`ServerRoot %q
Listen 127.0.0.1:%d
PidFile %q
DefaultRuntimeDir %q
Mutex file:%s default
ErrorLog %q
LogLevel warn
ServerName localhost
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule gowsgi_module %s/mod_gowsgi.so
<IfModule mpm_event_module>
    StartServers 1
    ServerLimit 2
    ThreadsPerChild 16
    MaxRequestWorkers 32
</IfModule>
KeepAlive On
MaxKeepAliveRequests 0
<Directory />
    Require all granted
</Directory>
%s`, root, port, filepath.Join(root, "run", "httpd.pid"), filepath.Join(root, "run"), filepath.Join(root, "run"),
		filepath.Join(root, "error.log"), build, snippet)
	confPath := filepath.Join(root, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", confPath, err)
	}
	cmd := exec.Command("/usr/sbin/apache2", "-d", root, "-f", confPath, "-DFOREGROUND")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting apache: %w", err)
	}
	a := &apache{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), root: root}
	for i := 0; i < 200; i++ {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond); err == nil {
			c.Close()
			return a, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.stop()
	log, _ := os.ReadFile(filepath.Join(root, "error.log"))
	return nil, fmt.Errorf("apache did not start: %s\n%s", out.String(), log)
}

// stop ends Apache by its pid (it stops its daemons) and waits for it.
func (a *apache) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = a.cmd.Process.Kill()
		<-done
	}
	if b, err := os.ReadFile(filepath.Join(a.root, "error.log")); err == nil && len(b) > 0 {
		fmt.Fprintf(os.Stderr, "error log:\n%s", b)
	}
}
