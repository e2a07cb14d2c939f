package tests

// conf/examples/vhosts.conf, the shared-hosting layout written as for
// mod_wsgi 4.x, served for real: one daemon group and one Unix user per
// site, Apache's own processes running no Python (WSGIRestrictEmbedded On).

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPackagingExampleSharedHosting(t *testing.T) {
	gowsgiOnly(t)
	example, err := os.ReadFile(filepath.Join(repoRoot(), "conf", "examples", "vhosts.conf"))
	require.NoError(t, err)
	probe, err := os.ReadFile(filepath.Join(appsDir(), "daemon", "probe.wsgi"))
	require.NoError(t, err)

	// Only what ties the example to a real machine changes: where the sites
	// live, the listener, the users' names (test users) and the log dir.
	conf := string(example)
	for _, site := range []string{"alice", "bob", "carol"} {
		conf = strings.ReplaceAll(conf, "user="+site+" group="+site, "user=@"+strings.ToUpper(site)+"@ group=@"+strings.ToUpper(site)+"@")
	}
	conf = strings.ReplaceAll(conf, "/srv/www/", "@ROOT@/srv/www/")
	conf = strings.ReplaceAll(conf, "<VirtualHost *:80>", "<VirtualHost 127.0.0.1:@PORT2@>")
	conf = "Define APACHE_LOG_DIR @ROOT@\n" + conf
	require.NotEqual(t, string(example), conf)

	spec, users := withDaemonUsers(t, ServerSpec{MPM: "event", ExtraPort: true, Snippet: conf, Setup: func(root string) error {
		sites := map[string]string{"alice": "app/app.wsgi", "bob": "app/app.wsgi", "carol": "wsgi/foo.wsgi"}
		for site, script := range sites {
			dir := filepath.Join(root, "srv", "www", site)
			for _, sub := range []string{"htdocs", filepath.Dir(script)} {
				if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
					return err
				}
			}
			if err := os.WriteFile(filepath.Join(dir, script), probe, 0o644); err != nil {
				return err
			}
		}
		// Bob's virtualenv, as the example's comment says to make it.
		venv := filepath.Join(root, "srv", "www", "bob", "venv")
		if out, err := exec.Command(venvPython(), "-m", "venv", "--without-pip", "--system-site-packages", venv).CombinedOutput(); err != nil {
			return err
		} else if len(out) > 0 {
			t.Logf("venv: %s", out)
		}
		for _, site := range []string{"alice", "bob", "carol"} {
			home := filepath.Join(root, "srv", "www", site)
			if out, err := exec.Command("chown", "-R", daemonUserName(t, site)+":", home).CombinedOutput(); err != nil {
				return fmt.Errorf("chown: %v: %s", err, out)
			}
			_ = os.Chmod(filepath.Dir(home), 0o755)
		}
		return os.Chmod(filepath.Join(root, "srv"), 0o755)
	}}, "alice", "bob", "carol")
	a := StartApache(t, spec)

	hostURL := func(path string) string { return "http://127.0.0.1:" + strconv.Itoa(a.Port2) + path }
	for _, c := range []struct{ site, host, path string }{
		{"alice", "alice.example.com", "/"},
		{"bob", "bob.example.com", "/app"},
		{"carol", "carol.example.com", "/foo"},
	} {
		f := getFacts(t, hostURL(c.path), map[string]string{"Host": c.host})
		u := users[c.site]
		require.NotNil(t, u)
		assert.Equal(t, u.UID, f.UID, "%s's app runs as %s", c.site, u.Name)
		assert.Equal(t, c.site, f.Environ["mod_wsgi.process_group"], "%s's group", c.site)
		assert.Equal(t, a.Pid(), f.Ppid, "%s's daemon is a child of the Apache parent", c.site)
		if c.site == "bob" {
			assert.Equal(t, filepath.Join(a.Root, "srv", "www", "bob", "venv"), f.Prefix, "bob's python-home is his venv")
		}
	}
	// Apache's own children run no Python.
	r := Get(t, a.URL("/"))
	assert.NotEqual(t, 200, r.Status)
	www, err := user.Lookup("www-data")
	require.NoError(t, err)
	children := 0
	for _, pid := range childPids(a.Pid()) {
		if uid := strings.Fields(procStatusField(pid, "Uid")); len(uid) == 0 || uid[0] != www.Uid {
			continue // a daemon process
		}
		children++
		maps, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/maps")
		assert.False(t, strings.Contains(string(maps), "libpython"), "Apache child %d loaded Python under WSGIRestrictEmbedded On", pid)
		assert.False(t, strings.Contains(string(maps), "libgowsgi"), "Apache child %d loaded the engine under WSGIRestrictEmbedded On", pid)
	}
	assert.Greater(t, children, 0, "Apache's own children were found")
}

// childPids lists the processes whose parent is pid.
func childPids(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if procStatusField(n, "PPid") == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}
