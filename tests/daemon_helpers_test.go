package tests

// Helpers for the daemon-mode tests (daemon_*_test.go): real Unix users for
// daemon groups, the probe app's report, and /proc inspection.
//
// Users: every test that needs daemon users creates its own, named
// gwt-<base>-<hash of the test name> (deterministic, so a user left over by a
// crashed run is deleted and created again by the next run; unique per test,
// so parallel tests never share one). They are removed in t.Cleanup, after
// the test's servers have stopped.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// daemonUserMu serialises useradd/userdel (they lock /etc/passwd and fail
// when another one holds the lock).
var daemonUserMu sync.Mutex

// unixUser is a user created for a test.
type unixUser struct {
	Name     string
	UID, GID int
	Home     string // the passwd home directory
}

// daemonUserName is the name of the test's user with the given base name
// ("alice" gives gwt-alice-1a2b3c).
func daemonUserName(t testing.TB, base string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(t.Name()))
	return fmt.Sprintf("gwt-%s-%06x", base, h.Sum32()&0xffffff)
}

func runQuiet(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// createDaemonUser creates the system user name with home directory home
// (created here, owned by the user, mode 0750), deleting a user and group
// of that name left over by an earlier run first. The user is deleted in
// t.Cleanup; register it before starting servers that use it so that the
// servers stop first.
func createDaemonUser(t testing.TB, name, home string) (*unixUser, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("daemon users need root (euid %d)", os.Geteuid())
	}
	daemonUserMu.Lock()
	defer daemonUserMu.Unlock()
	// a leftover from a crashed run: delete it (and its group) first
	if _, err := user.Lookup(name); err == nil {
		if out, err := runQuiet("userdel", "-f", name); err != nil {
			return nil, fmt.Errorf("deleting leftover user %s: %v: %s", name, err, out)
		}
	}
	if _, err := user.LookupGroup(name); err == nil {
		_, _ = runQuiet("groupdel", name)
	}
	out, err := runQuiet("useradd", "--system", "--no-create-home", "--user-group",
		"--shell", "/usr/sbin/nologin", "--home-dir", home, name)
	if err != nil {
		return nil, fmt.Errorf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		daemonUserMu.Lock()
		defer daemonUserMu.Unlock()
		if out, err := runQuiet("userdel", "-f", name); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
		if _, err := user.LookupGroup(name); err == nil {
			_, _ = runQuiet("groupdel", name)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.MkdirAll(home, 0o750); err != nil {
		return nil, err
	}
	if err := os.Chown(home, uid, gid); err != nil {
		return nil, err
	}
	if err := os.Chmod(home, 0o750); err != nil {
		return nil, err
	}
	return &unixUser{Name: name, UID: uid, GID: gid, Home: home}, nil
}

// withDaemonUsers prepares spec for a server whose daemon groups run as
// test users: for each base name ("alice", "bob") it replaces @ALICE@ (the
// upper-cased base) in the snippet by the user's name and creates the user
// in the server's Setup, with its passwd home at <ServerRoot>/home/<base>.
// The returned map is filled when the server has been set up.
func withDaemonUsers(t *testing.T, spec ServerSpec, bases ...string) (ServerSpec, map[string]*unixUser) {
	t.Helper()
	users := map[string]*unixUser{}
	names := map[string]string{}
	for _, b := range bases {
		names[b] = daemonUserName(t, b)
		spec.Snippet = strings.ReplaceAll(spec.Snippet, "@"+strings.ToUpper(b)+"@", names[b])
	}
	setup := spec.Setup
	spec.Setup = func(root string) error {
		if err := os.MkdirAll(filepath.Join(root, "home"), 0o755); err != nil {
			return err
		}
		for _, b := range bases {
			u, err := createDaemonUser(t, names[b], filepath.Join(root, "home", b))
			if err != nil {
				return err
			}
			users[b] = u
		}
		if setup != nil {
			return setup(root)
		}
		return nil
	}
	return spec, users
}

// requireReadableBy checks, as the user, that each path can be read (and
// each directory searched): the daemon's files must be reachable by it.
func requireReadableBy(t *testing.T, u *unixUser, paths ...string) {
	t.Helper()
	for _, p := range paths {
		test := "-r"
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			test = "-x"
		}
		out, err := runQuiet("runuser", "-u", u.Name, "--", "/usr/bin/test", test, p)
		require.NoError(t, err, "%s cannot read %s (%s)", u.Name, p, out)
	}
}

// ---- the probe app ------------------------------------------------------------

// probeFacts is apps/daemon/probe.wsgi's default report.
type probeFacts struct {
	Pid          int               `json:"pid"`
	Ppid         int               `json:"ppid"`
	UID          int               `json:"uid"`
	EUID         int               `json:"euid"`
	GID          int               `json:"gid"`
	EGID         int               `json:"egid"`
	Groups       []int             `json:"groups"`
	User         *string           `json:"user"`
	Cwd          string            `json:"cwd"`
	Home         *string           `json:"HOME"`
	UserEnv      *string           `json:"USER"`
	LogName      *string           `json:"LOGNAME"`
	Argv         []string          `json:"argv"`
	Cmdline      string            `json:"cmdline"`
	Umask        string            `json:"umask"`
	ThreadName   string            `json:"thread_name"`
	ActiveCount  int               `json:"active_count"`
	Environ      map[string]string `json:"environ_mod_wsgi"`
	Multithread  *bool             `json:"multithread"`
	Multiprocess *bool             `json:"multiprocess"`
	RunOnce      *bool             `json:"run_once"`
	Module       map[string]any    `json:"module"`
	Prefix       string            `json:"prefix"`
	BasePrefix   string            `json:"base_prefix"`
	Path         []string          `json:"path"`
	raw          string
}

func decodeFacts(t testing.TB, body string) probeFacts {
	t.Helper()
	var f probeFacts
	require.NoError(t, json.Unmarshal([]byte(body), &f), "decoding probe facts %q", truncate(body, 400))
	f.raw = body
	return f
}

// getFacts requests a probe URL and decodes its report (status 200 required).
func getFacts(t testing.TB, url string, headers map[string]string) probeFacts {
	t.Helper()
	r := Do(t, "GET", url, nil, headers)
	require.Equal(t, 200, r.Status, "GET %s: %s", url, r)
	return decodeFacts(t, r.Body)
}

func strp(p *string) string {
	if p == nil {
		return "<absent>"
	}
	return *p
}

func boolp(p *bool) string {
	if p == nil {
		return "<absent>"
	}
	return strconv.FormatBool(*p)
}

// ---- /proc ----------------------------------------------------------------------

// procStatusField returns a field of /proc/<pid>/status ("Threads", "Umask", "Uid").
func procStatusField(pid int, field string) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// processesOfUID lists live (non-zombie) processes whose real uid is uid.
func processesOfUID(uid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		uids := strings.Fields(procStatusField(pid, "Uid"))
		if len(uids) == 0 || uids[0] != strconv.Itoa(uid) {
			continue
		}
		if st := procStatusField(pid, "State"); strings.HasPrefix(st, "Z") {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// waitNoProcessesOf polls until no process of uid is left.
func waitNoProcessesOf(uid int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		left := processesOfUID(uid)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var socketLink = regexp.MustCompile(`^socket:\[(\d+)\]$`)

// procFds returns fd -> link target of a process (read as root).
func procFds(pid int) map[string]string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	out := map[string]string{}
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil {
			out[e.Name()] = l
		}
	}
	return out
}

// socketInodes returns the inodes of the sockets a process holds.
func socketInodes(pid int) map[string]bool {
	out := map[string]bool{}
	for _, l := range procFds(pid) {
		if m := socketLink.FindStringSubmatch(l); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

// unixSocketPaths maps socket inode -> bound path (from /proc/net/unix;
// abstract names start with '@').
func unixSocketPaths() map[string]string {
	b, _ := os.ReadFile("/proc/net/unix")
	out := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 7 {
			continue
		}
		if len(f) >= 8 {
			out[f[6]] = f[7]
		}
	}
	return out
}

// unixSocketPeers maps socket inode -> peer inode for connected UNIX
// sockets (from `ss -xanH`: netid state recv-q send-q local-addr
// local-inode peer-addr peer-inode).
func unixSocketPeers(t testing.TB) map[string]string {
	t.Helper()
	out, err := exec.Command("ss", "-xanH").Output()
	require.NoError(t, err, "ss -xanH")
	peers := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		if f[7] != "0" {
			peers[f[5]] = f[7]
		}
	}
	return peers
}

func sortedSet(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// apacheCmdline is the command line the harness starts Apache with, as
// /proc/<pid>/cmdline shows it (NUL-terminated arguments).
func apacheCmdline(a *Apache) string {
	return strings.Join([]string{apacheBin, "-d", a.Root, "-f", a.ConfPath, "-DFOREGROUND"}, "\x00") + "\x00"
}

// mustReadFile reads a file or fails.
func mustReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
