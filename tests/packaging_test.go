package tests

// Install and packaging: `make install`/`make uninstall`, the Debian package
// (installed for real with dpkg, enabled with a2enmod, then purged), the
// example configurations, and the Docker image's build and run scripts run
// outside Docker into scratch roots.

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	debPackage  = "libapache2-mod-gowsgi"
	policyRCD   = "/usr/sbin/policy-rc.d"
	apacheConf  = "/etc/apache2"
	apacheState = "/var/lib/apache2"
)

// runCmd runs a command with a plain environment plus env, and returns its
// combined output and exit code (-1 when it could not be started).
func runCmd(t testing.TB, env []string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append([]string{"PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C", "HOME=" + os.Getenv("HOME"), "DEBIAN_FRONTEND=noninteractive"}, env...)
	if gp := os.Getenv("GOPATH"); gp != "" {
		cmd.Env = append(cmd.Env, "GOPATH="+gp)
	}
	if gc := os.Getenv("GOCACHE"); gc != "" {
		cmd.Env = append(cmd.Env, "GOCACHE="+gc)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		return string(out) + err.Error(), -1
	}
	return string(out), 0
}

// mustRun is runCmd that fails the test on a non-zero exit.
func mustRun(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	out, code := runCmd(t, env, name, args...)
	require.Equal(t, 0, code, "%s %s failed:\n%s", name, strings.Join(args, " "), out)
	return out
}

// makeMu serialises this file's make runs: a stale build would otherwise be
// rebuilt by several of them at once in the same directory.
var makeMu sync.Mutex

// makeTarget runs a Makefile target against the build under test.
func makeTarget(t testing.TB, vars ...string) string {
	t.Helper()
	makeMu.Lock()
	defer makeMu.Unlock()
	args := append([]string{"-C", repoRoot(), "--no-print-directory", "BUILD=" + gowsgiBuildDir()}, vars...)
	return mustRun(t, nil, "make", args...)
}

func apxsQuery(t testing.TB, v string) string {
	t.Helper()
	return strings.TrimSpace(mustRun(t, nil, "apxs", "-q", v))
}

// scratchDir is a directory that Apache's children (www-data) can traverse.
func scratchDir(t testing.TB, pattern string) string {
	t.Helper()
	d, err := os.MkdirTemp("", pattern)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(d, 0o755))
	t.Cleanup(func() {
		if os.Getenv("GOWSGI_TEST_KEEP") == "" {
			_ = os.RemoveAll(d)
		}
	})
	return d
}

// filesUnder lists the regular files and symlinks below dir, relative.
func filesUnder(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	require.NoError(t, err)
	sort.Strings(out)
	return out
}

func sameFile(t testing.TB, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	require.NoError(t, err)
	y, err := os.ReadFile(b)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(x, y), "%s differs from %s", a, b)
}

// helloSnippet serves conf/examples/hello.wsgi on /.
func helloSnippet() string {
	dir := filepath.Join(repoRoot(), "conf", "examples")
	return fmt.Sprintf("WSGIScriptAlias / %s/hello.wsgi\n<Directory %q>\n    Require all granted\n</Directory>\n", dir, dir)
}

// ---- make install / make uninstall ----------------------------------------

func TestPackagingMakeInstallDestdir(t *testing.T) {
	t.Parallel()
	requireModule(t, ModGowsgi)
	libexec, sysconf := apxsQuery(t, "LIBEXECDIR"), apxsQuery(t, "SYSCONFDIR")
	dest := scratchDir(t, "gowsgi-destdir-")

	makeTarget(t, "install", "DESTDIR="+dest)
	want := []string{
		strings.TrimPrefix(sysconf+"/mods-available/gowsgi.conf", "/"),
		strings.TrimPrefix(sysconf+"/mods-available/gowsgi.load", "/"),
		strings.TrimPrefix(libexec+"/gowsgi-daemon", "/"),
		strings.TrimPrefix(libexec+"/libgowsgi.so", "/"),
		strings.TrimPrefix(libexec+"/mod_gowsgi.so", "/"),
	}
	builtin := builtinLauncherBuilt(t)
	if builtin {
		want = append(want, strings.TrimPrefix(libexec+"/"+builtinLauncher(), "/"))
	}
	// Each other Python's engine build (make pythons) goes beside them.
	engines := otherEngineBuilds(t)
	for _, e := range engines {
		want = append(want, strings.TrimPrefix(libexec+"/"+e, "/"))
	}
	sort.Strings(want)
	require.Equal(t, want, filesUnder(t, dest), "files installed under DESTDIR")
	sameFile(t, filepath.Join(gowsgiBuildDir(), "mod_gowsgi.so"), filepath.Join(dest, libexec, "mod_gowsgi.so"))
	sameFile(t, filepath.Join(gowsgiBuildDir(), "libgowsgi.so"), filepath.Join(dest, libexec, "libgowsgi.so"))
	sameFile(t, filepath.Join(gowsgiBuildDir(), "gowsgi-daemon"), filepath.Join(dest, libexec, "gowsgi-daemon"))
	if builtin {
		sameFile(t, filepath.Join(gowsgiBuildDir(), builtinLauncher()), filepath.Join(dest, libexec, builtinLauncher()))
	}
	for _, e := range engines {
		sameFile(t, filepath.Join(gowsgiBuildDir(), e), filepath.Join(dest, libexec, e))
	}
	sameFile(t, filepath.Join(repoRoot(), "conf", "gowsgi.conf"), filepath.Join(dest, sysconf, "mods-available", "gowsgi.conf"))
	for _, f := range want {
		st, err := os.Stat(filepath.Join(dest, f))
		require.NoError(t, err)
		mode := os.FileMode(0o644)
		if filepath.Base(f) == "gowsgi-daemon" || filepath.Base(f) == builtinLauncher() {
			mode = 0o755 // the launchers daemon processes exec
		}
		assert.Equal(t, mode, st.Mode().Perm(), f)
	}
	load, err := os.ReadFile(filepath.Join(dest, sysconf, "mods-available", "gowsgi.load"))
	require.NoError(t, err)
	// The LoadModule path is the real one (never DESTDIR), and a2enmod reads
	// "# Conflicts:" only in the leading comment block.
	assert.Contains(t, string(load), "\nLoadModule gowsgi_module "+libexec+"/mod_gowsgi.so\n")
	assert.NotContains(t, string(load), dest)
	assert.True(t, strings.HasPrefix(string(load), "# Conflicts: wsgi\n"), "gowsgi.load must start with '# Conflicts: wsgi':\n%s", load)

	makeTarget(t, "uninstall", "DESTDIR="+dest)
	assert.Empty(t, filesUnder(t, dest), "make uninstall left files behind")
}

// Installs into a non-standard module and configuration directory (no
// DESTDIR), serves a request through the installed files, and uninstalls.
func TestPackagingMakeInstallServes(t *testing.T) {
	t.Parallel()
	requireModule(t, ModGowsgi)
	prefix := scratchDir(t, "gowsgi-prefix-")
	libexec, sysconf := filepath.Join(prefix, "modules"), filepath.Join(prefix, "etc")
	vars := []string{"DESTDIR=", "LIBEXECDIR=" + libexec, "SYSCONFDIR=" + sysconf}

	makeTarget(t, append([]string{"install"}, vars...)...)
	want := []string{"etc/mods-available/gowsgi.conf", "etc/mods-available/gowsgi.load", "modules/gowsgi-daemon",
		"modules/libgowsgi.so", "modules/mod_gowsgi.so"}
	if builtinLauncherBuilt(t) {
		want = append(want, "modules/"+builtinLauncher())
	}
	for _, e := range otherEngineBuilds(t) {
		want = append(want, "modules/"+e)
	}
	sort.Strings(want)
	assert.Equal(t, want, filesUnder(t, prefix))
	load := filepath.Join(sysconf, "mods-available", "gowsgi.load")
	a := StartApache(t, ServerSpec{Module: ModGowsgi, NoWSGI: true, Snippet: fmt.Sprintf(
		"Include %s\nInclude %s/mods-available/gowsgi.conf\n%s", load, sysconf, helloSnippet())})
	r := Get(t, a.URL("/"))
	require.Equal(t, 200, r.Status, "%s\n%s", r, a.ErrorLogContent())
	assert.Equal(t, "Hello, World!", r.Body)
	assert.Contains(t, r.Header.Get("Server"), "gowsgi/")
	require.NoError(t, a.Stop())
	// A group on another Python runs on the installed engine build for it.
	t.Run("group on 3.12", func(t *testing.T) {
		py := requirePython(t, "3.12")
		a := StartApache(t, ServerSpec{Module: ModGowsgi, NoWSGI: true, Snippet: fmt.Sprintf(
			"Include %s\nWSGIDaemonProcess py threads=2 python-executable=%s\nWSGIScriptAlias /v %s/pythons/version.wsgi process-group=py\n",
			load, py.Exe, appsDir())})
		f := getVersion(t, a.URL("/v"))
		assert.Equal(t, "3.12", f.Version)
		assert.Contains(t, mapsOf(f.Pid), filepath.Join(libexec, "libgowsgi-3.12.so"), "the installed build")
		require.NoError(t, a.Stop())
	})

	makeTarget(t, append([]string{"uninstall"}, vars...)...)
	assert.Empty(t, filesUnder(t, prefix), "make uninstall left files behind")
}

// ---- the Debian package ---------------------------------------------------

// buildDeb runs `make deb` and returns the package's path.
func buildDeb(t testing.TB) string {
	t.Helper()
	out := strings.TrimSpace(makeTarget(t, "deb"))
	lines := strings.Split(out, "\n")
	deb := lines[len(lines)-1]
	require.FileExists(t, deb, "make deb output:\n%s", out)
	return deb
}

func debField(t testing.TB, deb, field string) string {
	t.Helper()
	return strings.TrimSpace(mustRun(t, nil, "dpkg-deb", "-f", deb, field))
}

func shimBuildDefine(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(gowsgiBuildDir(), "shim_build.h"))
	require.NoError(t, err)
	m := regexp.MustCompile(`#define ` + name + ` "([^"]*)"`).FindSubmatch(b)
	require.NotNil(t, m, "%s not in shim_build.h", name)
	return string(m[1])
}

func TestPackagingDebContents(t *testing.T) {
	t.Parallel()
	requireModule(t, ModGowsgi)
	deb := buildDeb(t)
	version := shimBuildDefine(t, "GOWSGI_VERSION")
	arch := strings.TrimSpace(mustRun(t, nil, "dpkg", "--print-architecture"))
	assert.Equal(t, fmt.Sprintf("%s_%s_%s.deb", debPackage, version, arch), filepath.Base(deb))
	assert.Equal(t, debPackage, debField(t, deb, "Package"))
	assert.Equal(t, version, debField(t, deb, "Version"))
	assert.Equal(t, arch, debField(t, deb, "Architecture"))

	// Depends: Apache's module ABI (what apache2-bin provides) and the
	// libpython package the shim's compiled-in soname comes from.
	depends := debField(t, deb, "Depends")
	mmn := strings.TrimSpace(mustRun(t, nil, "a2query", "-a"))
	provides := mustRun(t, nil, "dpkg-query", "-W", "-f=${Provides}", "apache2-bin")
	require.Contains(t, provides, "apache2-api-"+mmn)
	assert.Contains(t, depends, "apache2-api-"+mmn)
	soname := shimBuildDefine(t, "GOWSGI_LIBPYTHON") // libpython3.X.so.1.0
	pyPkg := strings.TrimSuffix(soname, ".so.1.0")
	pyVer := strings.TrimSpace(mustRun(t, nil, "dpkg-query", "-W", "-f=${Version}", pyPkg))
	assert.Contains(t, depends, fmt.Sprintf("%s (>= %s)", pyPkg, strings.SplitN(pyVer, "-", 2)[0]))
	assert.Regexp(t, `libc6 \(>= 2\.[0-9]+\)`, depends)
	assert.NotContains(t, depends, "wsgi", "must not conflict with or depend on mod_wsgi's package")

	listing := mustRun(t, nil, "dpkg-deb", "-c", deb)
	for _, f := range []string{"/usr/lib/apache2/modules/mod_gowsgi.so", "/usr/lib/apache2/modules/libgowsgi.so",
		"/usr/lib/apache2/modules/gowsgi-daemon",
		"/etc/apache2/mods-available/gowsgi.load", "/etc/apache2/mods-available/gowsgi.conf",
		"/usr/share/doc/" + debPackage + "/copyright", "/usr/share/doc/" + debPackage + "/examples/embedded.conf"} {
		assert.Contains(t, listing, " ."+f+"\n", "package lacks %s", f)
	}
	assert.Regexp(t, `-rw-r--r-- root/root +\d+ .* \./usr/lib/apache2/modules/mod_gowsgi\.so`, listing)
	assert.Regexp(t, `-rwxr-xr-x root/root +\d+ .* \./usr/lib/apache2/modules/gowsgi-daemon\n`, listing)
	if builtinLauncherBuilt(t) {
		assert.Regexp(t, `-rwxr-xr-x root/root +\d+ .* \./usr/lib/apache2/modules/`+regexp.QuoteMeta(builtinLauncher())+`\n`, listing)
	} else {
		assert.NotContains(t, listing, builtinLauncher())
	}

	ctl := t.TempDir()
	mustRun(t, nil, "dpkg-deb", "-e", deb, ctl)
	conffiles, err := os.ReadFile(filepath.Join(ctl, "conffiles"))
	require.NoError(t, err)
	assert.Equal(t, "/etc/apache2/mods-available/gowsgi.conf\n/etc/apache2/mods-available/gowsgi.load\n", string(conffiles))
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		b, err := os.ReadFile(filepath.Join(ctl, s))
		require.NoError(t, err, s)
		assert.Contains(t, string(b), "apache2-maintscript-helper", s)
		out, code := runCmd(t, nil, "sh", "-n", filepath.Join(ctl, s))
		assert.Equal(t, 0, code, "%s: %s", s, out)
	}
}

// apacheSnapshot records what a2enmod/a2dismod and the maintainer scripts
// touch: the links in mods-enabled and the state markers in /var/lib/apache2.
type apacheSnapshot struct {
	links   map[string]string // mods-enabled name -> link target
	markers map[string]bool   // path below /var/lib/apache2 -> is a directory
}

func takeApacheSnapshot(t testing.TB) apacheSnapshot {
	t.Helper()
	s := apacheSnapshot{links: map[string]string{}, markers: map[string]bool{}}
	ents, err := os.ReadDir(filepath.Join(apacheConf, "mods-enabled"))
	require.NoError(t, err)
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join(apacheConf, "mods-enabled", e.Name()))
		s.links[e.Name()] = target
	}
	_ = filepath.WalkDir(apacheState, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != apacheState {
			s.markers[p] = d.IsDir()
		}
		return nil
	})
	return s
}

// restore puts mods-enabled and the state markers back as they were.
func (s apacheSnapshot) restore(t testing.TB) {
	t.Helper()
	now := takeApacheSnapshot(t)
	for name, target := range now.links {
		if old, ok := s.links[name]; !ok || old != target {
			_ = os.Remove(filepath.Join(apacheConf, "mods-enabled", name))
		}
	}
	for name, target := range s.links {
		if cur, ok := now.links[name]; !ok || cur != target {
			if err := os.Symlink(target, filepath.Join(apacheConf, "mods-enabled", name)); err != nil {
				t.Errorf("restoring mods-enabled/%s: %v", name, err)
			}
		}
	}
	var extra []string
	for p := range now.markers {
		if _, ok := s.markers[p]; !ok {
			extra = append(extra, p)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(extra))) // children before parents
	for _, p := range extra {
		_ = os.Remove(p)
	}
	var missing []string
	for p := range s.markers {
		if _, ok := now.markers[p]; !ok {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	for _, p := range missing {
		var err error
		if s.markers[p] {
			err = os.MkdirAll(p, 0o755)
		} else {
			err = os.WriteFile(p, nil, 0o644)
		}
		if err != nil {
			t.Errorf("restoring %s: %v", p, err)
		}
	}
}

func debInstalled(t testing.TB) bool {
	out, code := runCmd(t, nil, "dpkg-query", "-W", "-f=${Status}", debPackage)
	return code == 0 && strings.Contains(out, "installed") && !strings.Contains(out, "not-installed")
}

// gowsgiLeftovers lists anything named after gowsgi that the package or
// a2enmod could have left on the system.
func gowsgiLeftovers(t testing.TB) []string {
	t.Helper()
	var left []string
	for _, root := range []string{apacheConf, apacheState, "/usr/lib/apache2/modules", "/usr/share/doc/" + debPackage} {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.Contains(filepath.Base(p), "gowsgi") {
				left = append(left, p)
			}
			return nil
		})
	}
	return left
}

// Installs the .deb on this machine with dpkg, enables it with a2enmod,
// serves a request through the installed files, purges the package, and
// checks that nothing is left and that mod_wsgi's set-up is as it was.
func TestPackagingDebInstall(t *testing.T) {
	requireModule(t, ModGowsgi)
	if os.Geteuid() != 0 {
		t.Skip("installing a Debian package needs root")
	}
	require.False(t, debInstalled(t), "%s is already installed on this machine: remove it (dpkg --purge %s) before running this test", debPackage, debPackage)
	deb := buildDeb(t)

	before := takeApacheSnapshot(t)
	_, wsgiCode := runCmd(t, nil, "a2query", "-q", "-m", "wsgi")
	wsgiWasEnabled := wsgiCode == 0
	require.Empty(t, gowsgiLeftovers(t), "gowsgi files present before the test")

	// Debian's maintainer scripts restart apache2 through invoke-rc.d:
	// refuse that, as `make deps` does.
	if _, err := os.Stat(policyRCD); os.IsNotExist(err) {
		require.NoError(t, os.WriteFile(policyRCD, []byte("#!/bin/sh\nexit 101\n"), 0o755))
		t.Cleanup(func() { _ = os.Remove(policyRCD) })
	}
	// Runs even when the test fails half-way (registered after the
	// policy-rc.d removal, so it runs before it).
	t.Cleanup(func() {
		if debInstalled(t) {
			if out, code := runCmd(t, nil, "dpkg", "--purge", debPackage); code != 0 {
				t.Errorf("cleanup: dpkg --purge: %s", out)
			}
		}
		before.restore(t)
		after := takeApacheSnapshot(t)
		assert.Equal(t, before.links, after.links, "mods-enabled not restored")
		assert.Equal(t, before.markers, after.markers, "/var/lib/apache2 not restored")
	})

	out := mustRun(t, nil, "dpkg", "-i", deb)
	require.True(t, debInstalled(t))
	enabled := func(mod string) bool { _, c := runCmd(t, nil, "a2query", "-q", "-m", mod); return c == 0 }
	if wsgiWasEnabled {
		// postinst leaves mod_wsgi alone and says how to switch.
		assert.Contains(t, out, "a2dismod wsgi", "dpkg -i output:\n%s", out)
		assert.False(t, enabled("gowsgi"), "postinst enabled gowsgi next to mod_wsgi")
		assert.True(t, enabled("wsgi"), "postinst disabled mod_wsgi")
		out, code := runCmd(t, nil, "a2enmod", "gowsgi")
		assert.NotEqual(t, 0, code, "a2enmod gowsgi succeeded with wsgi enabled:\n%s", out)
		assert.Contains(t, out, "Module wsgi is enabled - cannot proceed due to conflicts")
		assert.False(t, enabled("gowsgi"))
		mustRun(t, nil, "a2dismod", "-q", "wsgi")
		out = mustRun(t, nil, "a2enmod", "gowsgi")
		assert.Contains(t, out, "Enabling module gowsgi")
	} else {
		assert.True(t, enabled("gowsgi"), "postinst did not enable gowsgi:\n%s", out)
	}
	require.True(t, enabled("gowsgi"))

	// An Apache that uses the installed files, as Debian's apache2.conf
	// would include them.
	a := StartApache(t, ServerSpec{Module: ModGowsgi, NoWSGI: true, Snippet: "Include " + apacheConf + "/mods-enabled/gowsgi.load\n" +
		"Include " + apacheConf + "/mods-enabled/gowsgi.conf\n" + helloSnippet()})
	r := Get(t, a.URL("/"))
	require.Equal(t, 200, r.Status, "%s\n%s", r, a.ErrorLogContent())
	assert.Equal(t, "Hello, World!", r.Body)
	assert.Contains(t, r.Header.Get("Server"), "gowsgi/"+shimBuildDefine(t, "GOWSGI_VERSION"))
	require.NoError(t, a.Stop())

	// The module itself refuses a server that loads mod_wsgi too.
	if _, err := os.Stat(filepath.Join(apacheConf, "mods-available", "wsgi.load")); err == nil {
		out, code := ConfigTest(t, ServerSpec{Module: ModGowsgi, NoWSGI: true, Snippet: "Include " + apacheConf + "/mods-available/wsgi.load\n" +
			"Include " + apacheConf + "/mods-enabled/gowsgi.load\n"})
		assert.NotEqual(t, 0, code, out)
		assert.Contains(t, out, "a2dismod wsgi")
	}

	// Purge: prerm disables the module, postrm forgets its state.
	out = mustRun(t, nil, "dpkg", "--purge", debPackage)
	assert.False(t, debInstalled(t), out)
	assert.Empty(t, gowsgiLeftovers(t), "left behind by dpkg --purge")

	// Back to mod_wsgi, as the machine was.
	if wsgiWasEnabled {
		mustRun(t, nil, "a2enmod", "-q", "wsgi")
		assert.True(t, enabled("wsgi"))
	}
}

// ---- the example configurations -------------------------------------------

func TestPackagingExampleConfigs(t *testing.T) {
	t.Parallel()
	requireModule(t, ModGowsgi)
	files, err := filepath.Glob(filepath.Join(repoRoot(), "conf", "examples", "*.conf"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 3)
	for _, f := range files {
		f := f
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			if regexp.MustCompile(`(?m)^\s*WSGIDaemonProcess.* user=`).Match(b) {
				t.Skip("names users this machine has not got: served for real by TestPackagingExampleSharedHosting")
			}
			if regexp.MustCompile(`(?m)^\s*DocumentRoot /srv/`).Match(b) {
				t.Skip("names directories this machine has not got: served for real by TestExamples_ExpressLayout")
			}
			out, code := ConfigTest(t, ServerSpec{Module: ModGowsgi, Snippet: "Define APACHE_LOG_DIR @ROOT@\n" + string(b)})
			assert.Equal(t, 0, code, "configtest of %s:\n%s", f, out)
		})
	}
}

// ---- the Docker image's scripts, outside Docker ---------------------------

// scratchServer is an Apache started by docker/entrypoint.sh in a scratch root.
type scratchServer struct {
	root, log string
	port      int
	cmd       *exec.Cmd
	done      chan error
}

func (s *scratchServer) url(p string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", s.port, p) }

func (s *scratchServer) logText() string { b, _ := os.ReadFile(s.log); return string(b) }

func (s *scratchServer) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	needle := filepath.Join(s.root, "etc", "apache2")
	deadline := time.Now().Add(20 * time.Second)
	exited := false
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			exited = true
		default:
		}
		if exited && len(processesMatching(needle)) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	left := processesMatching(needle)
	_ = s.cmd.Process.Kill()
	for _, pid := range left {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return fmt.Errorf("apache in %s did not stop within 20s (leftover pids %v)", s.root, left)
}

// startEntrypoint runs ROOT/usr/local/sbin/gowsgi-entrypoint with env and
// waits until Apache is ready; it is stopped in t.Cleanup.
func startEntrypoint(t testing.TB, root string, env ...string) *scratchServer {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		require.NoError(t, err)
		s := &scratchServer{root: root, port: port, log: filepath.Join(root, fmt.Sprintf("entrypoint-%d.log", attempt)), done: make(chan error, 1)}
		logf, err := os.Create(s.log)
		require.NoError(t, err)
		s.cmd = exec.Command(filepath.Join(root, "usr/local/sbin/gowsgi-entrypoint"))
		s.cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C",
			"GOWSGI_ROOT=" + root, fmt.Sprintf("GOWSGI_LISTEN=127.0.0.1:%d", port)}, env...)
		s.cmd.Stdout, s.cmd.Stderr = logf, logf
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		require.NoError(t, s.cmd.Start())
		logf.Close()
		go func() { s.done <- s.cmd.Wait() }()
		lastErr = waitEntrypoint(s)
		if lastErr == nil {
			t.Cleanup(func() {
				if err := s.stop(); err != nil {
					t.Error(err)
				}
				if t.Failed() {
					t.Logf("output of the entry point in %s:\n%s", root, tail(s.logText(), 40))
				}
			})
			return s
		}
		_ = s.stop()
		if !strings.Contains(lastErr.Error(), "Address already in use") {
			break
		}
	}
	require.NoError(t, lastErr)
	return nil
}

func waitEntrypoint(s *scratchServer) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("entry point exited (%v):\n%s", err, s.logText())
		default:
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 200*time.Millisecond); err == nil {
			c.Close()
			if strings.Contains(s.logText(), "resuming normal operations") {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("entry point did not answer within 20s:\n%s", s.logText())
}

// assertPristineApacheTree checks that ROOT/etc/apache2, as
// runtime-setup.sh made it, holds nothing of this machine's own set-up:
// its files are the apache2 package's configuration files and gowsgi's,
// its *-enabled entries are links to the *-available files beside them,
// and no site is enabled (the entry point writes its own).
func assertPristineApacheTree(t testing.TB, root string) {
	t.Helper()
	conffiles := map[string]bool{"/etc/apache2/mods-available/gowsgi.load": true, "/etc/apache2/mods-available/gowsgi.conf": true}
	for _, line := range strings.Split(mustRun(t, nil, "dpkg-query", "-W", "-f=${Conffiles}\n", "apache2"), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			conffiles[f[0]] = true
		}
	}
	var foreign []string
	tree := filepath.Join(root, "etc", "apache2")
	require.NoError(t, filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, root)
		switch {
		case d.IsDir():
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			dir := filepath.Base(filepath.Dir(p))
			want := "../" + strings.TrimSuffix(dir, "-enabled") + "-available/"
			if !strings.HasSuffix(dir, "-enabled") || !strings.HasPrefix(target, want) || dir == "sites-enabled" {
				foreign = append(foreign, rel+" -> "+target)
			}
		case !conffiles[rel]:
			foreign = append(foreign, rel)
		}
		return nil
	}))
	assert.Empty(t, foreign, "ROOT's Apache tree has entries that are not the apache2 package's or gowsgi's")
}

// Runs the Dockerfile's steps on this machine: docker/build.sh (build
// stage), docker/runtime-setup.sh into scratch roots (runtime stage), and the
// entry point: three replicas serving the image's example app, mounted as
// /srv/app would be, behind a fourth instance acting as load balancer.
func TestPackagingDockerScripts(t *testing.T) {
	t.Parallel()
	requireModule(t, ModGowsgi)
	if os.Geteuid() != 0 {
		t.Skip("the image's scripts run as root")
	}
	dockerDir := filepath.Join(repoRoot(), "docker")
	dockerfile, err := os.ReadFile(filepath.Join(dockerDir, "Dockerfile"))
	require.NoError(t, err)
	for _, step := range []string{"FROM golang:", "-bookworm AS build", "RUN docker/build.sh /out", "FROM debian:12-slim",
		"runtime-setup.sh", `ENTRYPOINT ["/usr/local/sbin/gowsgi-entrypoint"]`} {
		assert.Contains(t, string(dockerfile), step)
	}

	out := scratchDir(t, "gowsgi-docker-out-")
	makeMu.Lock()
	buildOut, code := runCmd(t, []string{"BUILD=" + gowsgiBuildDir()}, filepath.Join(dockerDir, "build.sh"), out)
	makeMu.Unlock()
	require.Equal(t, 0, code, "docker/build.sh failed:\n%s", buildOut)
	debs, _ := filepath.Glob(filepath.Join(out, debPackage+"_*.deb"))
	require.Len(t, debs, 1, "docker/build.sh output:\n%s", buildOut)

	hostBefore := takeApacheSnapshot(t)
	setup := func(name string) string {
		root := scratchDir(t, "gowsgi-docker-"+name+"-")
		mustRun(t, nil, filepath.Join(dockerDir, "runtime-setup.sh"), debs[0], root)
		require.FileExists(t, filepath.Join(root, "usr/local/sbin/gowsgi-entrypoint"))
		require.FileExists(t, filepath.Join(root, "etc/apache2/mods-enabled/gowsgi.load"))
		require.NoFileExists(t, filepath.Join(root, "etc/apache2/mods-enabled/wsgi.load"))
		assertPristineApacheTree(t, root)
		// The "mounted" app.
		app, err := os.ReadFile(filepath.Join(dockerDir, "app", "app.wsgi"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(root, "srv/app/app.wsgi"), app, 0o644))
		return root
	}

	var members []string
	for i := 1; i <= 3; i++ {
		root := setup(fmt.Sprintf("r%d", i))
		s := startEntrypoint(t, root, "GOWSGI_APP="+filepath.Join(root, "srv/app/app.wsgi"), fmt.Sprintf("GOWSGI_REPLICA=r%d", i))
		r := Get(t, s.url("/"))
		require.Equal(t, 200, r.Status, "%s\n%s", r, s.logText())
		assert.Contains(t, r.Body, fmt.Sprintf("Hello from gowsgi replica r%d ", i))
		// Debian's ServerTokens OS keeps the version out of the Server header.
		assert.Contains(t, s.logText(), "gowsgi/"+shimBuildDefine(t, "GOWSGI_VERSION")+" configured")
		members = append(members, fmt.Sprintf("http://127.0.0.1:%d", s.port))
	}
	// runtime-setup.sh worked on the scratch roots only.
	assert.Equal(t, hostBefore, takeApacheSnapshot(t), "runtime-setup.sh with a ROOT changed the machine's Apache set-up")

	lbRoot := setup("lb")
	lb := startEntrypoint(t, lbRoot, "GOWSGI_REPLICA=lb", "GOWSGI_BALANCER_MEMBERS="+strings.Join(members, " "))
	seen := map[string]int{}
	for i := 0; i < 12; i++ {
		r := Get(t, lb.url("/"))
		require.Equal(t, 200, r.Status, "%s\n%s", r, lb.logText())
		seen[r.Header.Get("X-Gowsgi-Replica")]++
	}
	assert.Len(t, seen, 3, "the balancer should spread requests over the three replicas: %v", seen)
	assert.NotContains(t, seen, "", "answer without a replica header")
}

// otherEngineBuilds are the libgowsgi-X.Y.so files `make pythons` put in
// the build directory.
func otherEngineBuilds(t testing.TB) []string {
	m, err := filepath.Glob(filepath.Join(gowsgiBuildDir(), "libgowsgi-*.so"))
	require.NoError(t, err)
	var out []string
	for _, f := range m {
		out = append(out, filepath.Base(f))
	}
	sort.Strings(out)
	return out
}

// An engine build for another Python older than the engine's sources (its
// sources changed, `make pythons` not run again) is not installed beside a
// newer mod_gowsgi.so and libgowsgi.so: `make install` refuses, naming it
// (before, it was installed, and a group on that Python ran an engine
// that did not match the shim). The build is made stale by its mtime, and
// given it back.
func TestPackagingMakeInstallRefusesStaleEngineBuild(t *testing.T) {
	requireModule(t, ModGowsgi)
	builds := otherEngineBuilds(t)
	if len(builds) == 0 {
		t.Skip("no other engine build (make pythons)")
	}
	makeTarget(t, "build") // up to date first: only the build below is stale
	dest := scratchDir(t, "gowsgi-destdir-")
	stale := filepath.Join(gowsgiBuildDir(), builds[0])
	st, err := os.Stat(stale)
	require.NoError(t, err)
	makeMu.Lock()
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, os.Chtimes(stale, old, old))
	out, err := exec.Command("make", "-C", repoRoot(), "--no-print-directory", "BUILD="+gowsgiBuildDir(),
		"install", "DESTDIR="+dest).CombinedOutput()
	require.NoError(t, os.Chtimes(stale, st.ModTime(), st.ModTime()))
	makeMu.Unlock()
	require.Error(t, err, "make install refuses: %s", out)
	assert.Contains(t, string(out), "engine builds older than the engine's sources: "+stale)
	assert.Contains(t, string(out), "run make pythons first")
	assert.Empty(t, filesUnder(t, dest), "nothing installed")
}
