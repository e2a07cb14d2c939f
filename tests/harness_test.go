package tests

// Harness: starts a real Apache httpd with a generated configuration that
// loads the module under test (gowsgi or Debian's mod_wsgi), waits for it to
// answer, and stops it again, making sure no process is left behind.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	apacheBin  = "/usr/sbin/apache2"
	modulesDir = "/usr/lib/apache2/modules"
	modWsgiSO  = "/usr/lib/apache2/modules/mod_wsgi.so"
	systemPy   = "/usr/bin/python3"
)

// Module identifies the WSGI module loaded into Apache.
type Module string

const (
	ModGowsgi  Module = "gowsgi"
	ModModWsgi Module = "mod_wsgi"
)

// targetModule is the module selected by GOWSGI_TEST_MODULE (default gowsgi).
func targetModule() Module {
	switch strings.TrimSpace(os.Getenv("GOWSGI_TEST_MODULE")) {
	case "", "gowsgi":
		return ModGowsgi
	case "mod_wsgi", "modwsgi", "wsgi":
		return ModModWsgi
	default:
		panic("GOWSGI_TEST_MODULE must be gowsgi or mod_wsgi")
	}
}

// repoRoot is the repository root, found relative to this source file.
func repoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("cannot locate harness source file")
	}
	return filepath.Dir(filepath.Dir(file))
}

// appsDir holds the WSGI test applications.
func appsDir() string { return filepath.Join(repoRoot(), "tests", "apps") }

// gowsgiBuildDir is where mod_gowsgi.so lives (GOWSGI_BUILD_DIR or <repo>/build).
func gowsgiBuildDir() string {
	if d := os.Getenv("GOWSGI_BUILD_DIR"); d != "" {
		return d
	}
	return filepath.Join(repoRoot(), "build")
}

// loadModuleLine returns the LoadModule line for m, or an error explaining
// why the module cannot be loaded (a missing gowsgi build must fail tests).
func loadModuleLine(m Module) (string, error) {
	switch m {
	case ModModWsgi:
		if _, err := os.Stat(modWsgiSO); err != nil {
			return "", fmt.Errorf("mod_wsgi not installed at %s: %v", modWsgiSO, err)
		}
		return "LoadModule wsgi_module " + modWsgiSO, nil
	case ModGowsgi:
		so := filepath.Join(gowsgiBuildDir(), "mod_gowsgi.so")
		if _, err := os.Stat(so); err != nil {
			return "", fmt.Errorf("gowsgi build missing: %s not found (build it with `make`, or set GOWSGI_BUILD_DIR; "+
				"set GOWSGI_TEST_MODULE=mod_wsgi to test the reference module): %v", so, err)
		}
		return "LoadModule gowsgi_module " + so, nil
	}
	return "", fmt.Errorf("unknown module %q", m)
}

// requireModule fails the test when module m cannot be loaded.
func requireModule(t testing.TB, m Module) {
	t.Helper()
	if _, err := loadModuleLine(m); err != nil {
		t.Fatal(err)
	}
}

// testMPMs is the MPM list (GOWSGI_TEST_MPMS, comma separated; default all three).
func testMPMs() []string {
	v := strings.TrimSpace(os.Getenv("GOWSGI_TEST_MPMS"))
	if v == "" {
		return []string{"event", "worker", "prefork"}
	}
	var out []string
	for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		switch s {
		case "event", "worker", "prefork":
			out = append(out, s)
		default:
			panic("unknown MPM in GOWSGI_TEST_MPMS: " + s)
		}
	}
	return out
}

// ServerSpec describes one Apache instance.
type ServerSpec struct {
	Module Module
	MPM    string
	// Snippet is appended to the generated base config. Placeholders:
	// @ROOT@ (ServerRoot), @APPS@ (tests/apps), @PORT@, @PORT2@, @HOST@ (127.0.0.1).
	Snippet string
	// ExtraPort adds a second Listen (for @PORT2@ virtual hosts).
	ExtraPort bool
	// Files are written below ServerRoot before start (path -> content).
	Files map[string]string
	// Setup runs after Files are written and before the config is generated.
	Setup func(root string) error
	// Env adds variables to Apache's environment (@ROOT@ is replaced).
	Env []string
	// NoWSGI omits the module LoadModule line (e.g. to add both modules by hand).
	NoWSGI bool
	// NoRewrite leaves mod_rewrite out of the base modules.
	NoRewrite bool
	// Without leaves these base modules out (e.g. "filter", "deflate").
	Without []string
}

// Apache is one running (or configured) httpd instance.
type Apache struct {
	Spec     ServerSpec
	Root     string
	ConfPath string
	ErrorLog string
	Port     int
	Port2    int
	cmd      *exec.Cmd
	waitErr  chan error
	mu       sync.Mutex
	stopped  bool
}

// BaseURL is http://127.0.0.1:<port>.
func (a *Apache) BaseURL() string { return fmt.Sprintf("http://127.0.0.1:%d", a.Port) }

// Addr is 127.0.0.1:<port>.
func (a *Apache) Addr() string { return fmt.Sprintf("127.0.0.1:%d", a.Port) }

// URL joins the base URL and a path.
func (a *Apache) URL(path string) string { return a.BaseURL() + path }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func mpmBlock(mpm string) string {
	switch mpm {
	case "prefork":
		return `<IfModule mpm_prefork_module>
    StartServers 2
    MinSpareServers 1
    MaxSpareServers 4
    ServerLimit 8
    MaxRequestWorkers 8
    MaxConnectionsPerChild 0
</IfModule>`
	default:
		return `<IfModule mpm_` + mpm + `_module>
    StartServers 1
    ServerLimit 4
    ThreadLimit 8
    ThreadsPerChild 8
    MinSpareThreads 1
    MaxSpareThreads 16
    MaxRequestWorkers 16
    MaxConnectionsPerChild 0
</IfModule>`
	}
}

// generateConfig writes the full httpd.conf for the instance.
func (a *Apache) generateConfig() (string, error) {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# generated by gowsgi integration tests (module=%s mpm=%s)", a.Spec.Module, a.Spec.MPM)
	p("ServerRoot %q", a.Root)
	p("Listen 127.0.0.1:%d", a.Port)
	if a.Spec.ExtraPort {
		p("Listen 127.0.0.1:%d", a.Port2)
	}
	p("PidFile %q", filepath.Join(a.Root, "run", "httpd.pid"))
	p("DefaultRuntimeDir %q", filepath.Join(a.Root, "run"))
	p("Mutex file:%s default", filepath.Join(a.Root, "run"))
	p("ErrorLog %q", a.ErrorLog)
	p("LogLevel info")
	p("ServerName localhost")
	p("ServerAdmin webmaster@localhost")
	p("DocumentRoot %q", filepath.Join(a.Root, "htdocs"))
	p("Timeout 30")
	p("KeepAlive On")
	p("KeepAliveTimeout 5")
	p("MaxKeepAliveRequests 0")
	p("GracefulShutdownTimeout 10")
	p("LoadModule mpm_%s_module %s/mod_mpm_%s.so", a.Spec.MPM, modulesDir, a.Spec.MPM)
	for _, m := range []string{"authz_core", "authz_host", "authn_core", "alias", "mime", "env", "setenvif", "rewrite", "headers", "dir", "filter", "deflate"} {
		if m == "rewrite" && a.Spec.NoRewrite || slices.Contains(a.Spec.Without, m) {
			continue
		}
		p("LoadModule %s_module %s/mod_%s.so", m, modulesDir, m)
	}
	if !a.Spec.NoWSGI {
		line, err := loadModuleLine(a.Spec.Module)
		if err != nil {
			return "", err
		}
		p("%s", line)
	}
	if os.Geteuid() == 0 {
		p("User www-data")
		p("Group www-data")
	}
	p("%s", mpmBlock(a.Spec.MPM))
	p("TypesConfig /etc/mime.types")
	p("<Directory />\n    Options FollowSymLinks\n    AllowOverride None\n    Require all denied\n</Directory>")
	p("<Directory %q>\n    Require all granted\n</Directory>", a.Root)
	p("<Directory %q>\n    Require all granted\n</Directory>", appsDir())
	p("LogFormat \"%%h %%l %%u %%t \\\"%%r\\\" %%>s %%b\" common")
	p("CustomLog %q common", filepath.Join(a.Root, "access.log"))
	if !a.Spec.NoWSGI {
		p("<IfModule wsgi_module>\n    WSGISocketPrefix %s\n</IfModule>", filepath.Join(a.Root, "run", "wsgi"))
	}
	p("")
	snippet := a.expand(a.Spec.Snippet)
	if groupPy != nil && a.Spec.Module == ModGowsgi {
		snippet = withGroupPython(snippet, groupPy.Exe)
	}
	p("%s", snippet)
	return b.String(), nil
}

func (a *Apache) expand(s string) string {
	r := strings.NewReplacer(
		"@ROOT@", a.Root,
		"@APPS@", appsDir(),
		"@PORT2@", strconv.Itoa(a.Port2),
		"@PORT@", strconv.Itoa(a.Port),
		"@HOST@", "127.0.0.1",
	)
	return r.Replace(s)
}

// newApache prepares the ServerRoot and config without starting.
func newApache(spec ServerSpec) (*Apache, error) {
	if spec.MPM == "" {
		spec.MPM = "event"
	}
	if spec.Module == "" {
		spec.Module = targetModule()
	}
	if groupPy != nil && spec.Module == ModModWsgi {
		return nil, fmt.Errorf("mod_wsgi runs only the server's Python %s, not GOWSGI_TEST_GROUP_PYTHON=%s: "+
			"a test comparing with it skips (skipUnderGroupPython)", serverPythonTag(), groupPy.Tag)
	}
	root, err := os.MkdirTemp("", "gowsgi-it-")
	if err != nil {
		return nil, err
	}
	// Apache children run as www-data: the tree must be traversable and the
	// "scratch" directory writable.
	for _, d := range []string{"", "run", "htdocs", "scratch"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, err
		}
		_ = os.Chmod(filepath.Join(root, d), 0o755)
	}
	_ = os.Chmod(filepath.Join(root, "scratch"), 0o777)
	a := &Apache{Spec: spec, Root: root, ConfPath: filepath.Join(root, "httpd.conf"), ErrorLog: filepath.Join(root, "error.log")}
	for rel, content := range spec.Files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	if spec.Setup != nil {
		if err := spec.Setup(root); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
	}
	return a, nil
}

func (a *Apache) writeConfig() error {
	var err error
	if a.Port, err = freePort(); err != nil {
		return err
	}
	if a.Spec.ExtraPort {
		if a.Port2, err = freePort(); err != nil {
			return err
		}
	}
	conf, err := a.generateConfig()
	if err != nil {
		return err
	}
	return os.WriteFile(a.ConfPath, []byte(conf), 0o644)
}

// ErrorLogContent returns the current error log.
func (a *Apache) ErrorLogContent() string {
	b, _ := os.ReadFile(a.ErrorLog)
	return string(b)
}

// startApache starts httpd in the foreground and waits until the port answers.
func startApache(spec ServerSpec) (*Apache, error) {
	a, err := newApache(spec)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if err := a.writeConfig(); err != nil {
			return nil, err
		}
		_ = os.Truncate(a.ErrorLog, 0)
		lastErr = a.launch()
		if lastErr == nil {
			return a, nil
		}
		if !strings.Contains(lastErr.Error(), "Address already in use") {
			break
		}
	}
	a.removeRoot()
	return nil, lastErr
}

func (a *Apache) launch() error {
	cmd := exec.Command(apacheBin, "-d", a.Root, "-f", a.ConfPath, "-DFOREGROUND")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	for _, e := range a.Spec.Env {
		cmd.Env = append(cmd.Env, strings.ReplaceAll(e, "@ROOT@", a.Root))
	}
	// prefork signals its whole process group on shutdown: give Apache its own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return err
	}
	a.cmd = cmd
	a.waitErr = make(chan error, 1)
	go func() { a.waitErr <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-a.waitErr:
			a.waitErr <- err
			a.killLeftovers()
			return fmt.Errorf("apache exited during start-up (%v)\nconfig: %s\noutput: %s\nerror log:\n%s",
				err, a.ConfPath, out.String(), a.ErrorLogContent())
		default:
		}
		c, err := net.DialTimeout("tcp", a.Addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			// Listening happens in the parent before children exist; wait
			// until the server has declared itself ready.
			if strings.Contains(a.ErrorLogContent(), "resuming normal operations") {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = a.stop()
	return fmt.Errorf("apache did not answer on %s within 20s\nerror log:\n%s", a.Addr(), a.ErrorLogContent())
}

// StartApache starts a server for this test; it is stopped in t.Cleanup.
func StartApache(t testing.TB, spec ServerSpec) *Apache {
	t.Helper()
	if spec.Module == "" {
		spec.Module = targetModule()
	}
	if spec.Module == ModModWsgi {
		skipUnderGroupPython(t, "mod_wsgi, the reference, runs only the server's Python")
	}
	if !spec.NoWSGI {
		requireModule(t, spec.Module)
	}
	a, err := startApache(spec)
	require.NoError(t, err, "starting apache")
	t.Cleanup(func() {
		if err := a.Stop(); err != nil {
			t.Errorf("stopping apache: %v", err)
		}
		// Every line gowsgi wrote carries its id (tests/logids_test.go).
		for _, l := range checkLogIDs(a) {
			t.Errorf("error log: %s", l)
		}
		if t.Failed() {
			t.Logf("error log of %s (%s/%s):\n%s", a.ConfPath, a.Spec.Module, a.Spec.MPM, tail(a.ErrorLogContent(), 60))
		}
		a.removeRoot()
	})
	return a
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (a *Apache) removeRoot() {
	if os.Getenv("GOWSGI_TEST_KEEP") != "" {
		return
	}
	// Crash reports its daemons wrote outside the root (the error log
	// names them): a test that crashes one on purpose leaves none behind.
	for _, m := range crashReportName.FindAllStringSubmatch(a.ErrorLogContent(), -1) {
		_ = os.Remove(m[1])
	}
	_ = os.RemoveAll(a.Root)
}

// Pid is the parent httpd pid.
func (a *Apache) Pid() int { return a.cmd.Process.Pid }

func (a *Apache) signal(sig syscall.Signal) error { return a.cmd.Process.Signal(sig) }

func (a *Apache) countReady() int {
	return strings.Count(a.ErrorLogContent(), "resuming normal operations")
}

func (a *Apache) signalAndWaitReady(sig syscall.Signal) error {
	before := a.countReady()
	if err := a.signal(sig); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if a.countReady() > before {
			return nil
		}
		select {
		case err := <-a.waitErr:
			a.waitErr <- err
			return fmt.Errorf("apache exited after %v: %v\n%s", sig, err, tail(a.ErrorLogContent(), 40))
		default:
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("apache not ready again after %v", sig)
}

// Graceful sends SIGUSR1 and waits until the new generation is ready.
func (a *Apache) Graceful() error { return a.signalAndWaitReady(syscall.SIGUSR1) }

// Restart sends SIGHUP and waits until the new generation is ready.
func (a *Apache) Restart() error { return a.signalAndWaitReady(syscall.SIGHUP) }

// GracefulStop sends SIGWINCH and waits (up to timeout) for all processes to exit.
func (a *Apache) GracefulStop(timeout time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return nil
	}
	if err := a.signal(syscall.SIGWINCH); err != nil {
		return err
	}
	return a.waitGone(timeout)
}

// Stop sends SIGTERM to the parent and waits until the parent and every
// process whose command line mentions our config are gone.
func (a *Apache) Stop() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stop()
}

func (a *Apache) stop() error {
	if a.stopped || a.cmd == nil {
		return nil
	}
	_ = a.signal(syscall.SIGTERM)
	return a.waitGone(20 * time.Second)
}

func (a *Apache) waitGone(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	exited := false
	for time.Now().Before(deadline) {
		if !exited {
			select {
			case err := <-a.waitErr:
				a.waitErr <- err
				exited = true
			default:
			}
		}
		if exited && len(a.Processes()) == 0 {
			a.stopped = true
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	left := a.Processes()
	a.killLeftovers()
	a.stopped = true
	return fmt.Errorf("apache (pid %d) did not stop within %v: parent exited=%v, leftover pids %v", a.Pid(), timeout, exited, left)
}

func (a *Apache) killLeftovers() {
	if a.cmd != nil && a.cmd.Process != nil {
		_ = a.cmd.Process.Kill()
	}
	for _, pid := range a.Processes() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// Processes lists pids whose command line contains this instance's config path.
func (a *Apache) Processes() []int {
	return processesMatching(a.ConfPath)
}

func processesMatching(needle string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		// skip zombies: they are gone once reaped
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:])); len(f) > 0 && f[0] == "Z" {
				continue
			}
		}
		if strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), needle) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ChildPids lists the non-parent processes of this instance.
func (a *Apache) ChildPids() []int {
	var out []int
	for _, p := range a.Processes() {
		if p != a.Pid() {
			out = append(out, p)
		}
	}
	return out
}

// ConfigTest runs `apache2 -t` on a generated config for spec and returns
// the combined output and exit code.
func ConfigTest(t testing.TB, spec ServerSpec) (string, int) {
	t.Helper()
	out, code, _ := ConfigTestConf(t, spec)
	return out, code
}

// ConfigTestConf is ConfigTest that also returns the generated config text.
func ConfigTestConf(t testing.TB, spec ServerSpec) (string, int, string) {
	t.Helper()
	if spec.Module == "" {
		spec.Module = targetModule()
	}
	if spec.Module == ModModWsgi {
		skipUnderGroupPython(t, "mod_wsgi, the reference, runs only the server's Python")
	}
	if !spec.NoWSGI {
		requireModule(t, spec.Module)
	}
	a, err := newApache(spec)
	require.NoError(t, err)
	defer a.removeRoot()
	require.NoError(t, a.writeConfig())
	conf, _ := os.ReadFile(a.ConfPath)
	out, code := runConfigTest(a.Root, a.ConfPath)
	return out, code, string(conf)
}

func runConfigTest(root, conf string) (string, int) {
	cmd := exec.Command(apacheBin, "-d", root, "-f", conf, "-t")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			code = -1
			out = append(out, []byte(err.Error())...)
		}
	}
	return string(out), code
}

// ---- shared servers -------------------------------------------------------

type sharedEntry struct {
	once sync.Once
	a    *Apache
	err  error
}

var (
	sharedMu      sync.Mutex
	sharedServers = map[string]*sharedEntry{}
)

// SharedApache returns a server for (name, module, MPM) that is started on
// first use and shared by every test asking for the same name; all shared
// servers are stopped by TestMain.
func SharedApache(t testing.TB, name string, spec ServerSpec) *Apache {
	t.Helper()
	if spec.Module == "" {
		spec.Module = targetModule()
	}
	if spec.Module == ModModWsgi {
		skipUnderGroupPython(t, "mod_wsgi, the reference, runs only the server's Python")
	}
	requireModule(t, spec.Module)
	key := fmt.Sprintf("%s|%s|%s", name, spec.Module, spec.MPM)
	sharedMu.Lock()
	e, ok := sharedServers[key]
	if !ok {
		e = &sharedEntry{}
		sharedServers[key] = e
	}
	sharedMu.Unlock()
	e.once.Do(func() { e.a, e.err = startApache(spec) })
	require.NoError(t, e.err, "starting shared apache %s", key)
	return e.a
}

func stopSharedServers() []error {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	for key, e := range sharedServers {
		if e.a == nil {
			continue
		}
		wg.Add(1)
		go func(key string, a *Apache) {
			defer wg.Done()
			if crash := crashLines(a.ErrorLogContent()); crash != "" {
				emu.Lock()
				errs = append(errs, fmt.Errorf("%s: crash lines in error log before shutdown:\n%s", key, crash))
				emu.Unlock()
			}
			before := len(crashLines(a.ErrorLogContent()))
			if err := a.Stop(); err != nil {
				emu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
				emu.Unlock()
			}
			for _, l := range checkLogIDs(a) {
				emu.Lock()
				errs = append(errs, fmt.Errorf("%s: error log: %s", key, l))
				emu.Unlock()
			}
			if crash := crashLines(a.ErrorLogContent()); len(crash) > before {
				if a.Spec.Module == ModModWsgi {
					fmt.Fprintf(os.Stderr, "note: known mod_wsgi 4.9.4 shutdown crash (%s):\n%s\n", key, crash[before:])
				} else {
					emu.Lock()
					errs = append(errs, fmt.Errorf("%s: crash lines in error log during shutdown:\n%s", key, crash[before:]))
					emu.Unlock()
				}
			}
			a.removeRoot()
		}(key, e.a)
	}
	wg.Wait()
	return errs
}

// crashLines returns error-log lines that indicate a crashed child.
func crashLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "exit signal") || strings.Contains(l, "Segmentation fault") ||
			strings.Contains(l, "signal Abort") || strings.Contains(l, "core dumped") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// assertNoShutdownCrash checks the error log after a stop. Debian's
// mod_wsgi 4.9.4 (Python 3.11) intermittently aborts children while
// finalising interpreters; that is reported, not failed, for mod_wsgi.
func assertNoShutdownCrash(t *testing.T, a *Apache) {
	t.Helper()
	crash := crashLines(a.ErrorLogContent())
	if crash == "" {
		return
	}
	if a.Spec.Module == ModModWsgi {
		t.Logf("KNOWN mod_wsgi 4.9.4 issue, crash during shutdown:\n%s", crash)
		return
	}
	t.Errorf("child crashed during shutdown:\n%s", crash)
}

// knownModWsgiDeviation reports whether the module under test is Debian's
// mod_wsgi and the checked behaviour is a known deviation of it from the
// reference; the caller then skips the assertion (logged, not failed).
func knownModWsgiDeviation(t *testing.T, a *Apache, what string) bool {
	t.Helper()
	if a.Spec.Module == ModModWsgi {
		t.Logf("KNOWN mod_wsgi 4.9.4 deviation, not asserted: %s", what)
		return true
	}
	return false
}

// errorTag is the tag Apache puts on the module's error-level log lines:
// it follows the module name ([wsgi:error] for mod_wsgi, [gowsgi:error]
// for gowsgi_module).
func errorTag(a *Apache) string {
	if a.Spec.Module == ModModWsgi {
		return "[wsgi:error]"
	}
	return "[gowsgi:error]"
}

// forEachMPM runs f as a parallel subtest per configured MPM.
func forEachMPM(t *testing.T, f func(t *testing.T, mpm string)) {
	for _, mpm := range testMPMs() {
		mpm := mpm
		t.Run(mpm, func(t *testing.T) {
			t.Parallel()
			f(t, mpm)
		})
	}
}

// What differs between the supported Debian releases (README, "Supported
// distributions"): the server's Python (3.11 in Debian 12, 3.13 in 13) and
// the reference mod_wsgi (4.9.4, 5.0.2). Derived from the machine, never
// assumed.
var (
	hostFactsOnce  sync.Once
	systemPyXY     string // "3.11"
	modWsgiVersion string // "4.9.4", "" when not installed
)

func loadHostFacts() {
	hostFactsOnce.Do(func() {
		out, err := exec.Command(systemPy, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").Output()
		if err != nil {
			panic(fmt.Sprintf("%s: %v", systemPy, err))
		}
		systemPyXY = strings.TrimSpace(string(out))
		out, _ = exec.Command("dpkg-query", "-W", "-f=${Version}", "libapache2-mod-wsgi-py3").Output()
		v := strings.TrimSpace(string(out))
		if i := strings.IndexAny(v, "-+~"); i >= 0 {
			v = v[:i]
		}
		modWsgiVersion = v
	})
}

// systemPyLib is the server Python's directory name under lib/: "python3.11".
func systemPyLib() string {
	loadHostFacts()
	return "python" + systemPyXY
}

// modWsgiIs5 tells whether the reference mod_wsgi is 5.x (Debian 13)
// rather than 4.9.4 (Debian 12).
func modWsgiIs5() bool {
	loadHostFacts()
	return strings.HasPrefix(modWsgiVersion, "5.")
}
