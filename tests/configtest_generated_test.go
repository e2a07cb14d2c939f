package tests

// Configurations nobody wrote by hand: every directive of the module with
// arguments drawn from values that have broken parsers (empty, huge,
// negative, unterminated quotes, long, non-ASCII, '=' in odd places), in
// the main server and in sections, through `apache2 -t`. Whatever the line,
// configtest answers (it never dies of a signal), and a line it refuses is
// named: the file, the line and the directive. The generator is seeded, so
// every run tries the same lines and a failure can be replayed.

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// generatedDirectives: the module's directives and how many arguments they
// take ("raw": a line of their own syntax).
var generatedDirectives = map[string]string{
	"GoWSGICompatibility": "1", "GoWSGILibrary": "1", "GoWSGIWorkerShare": "1", "WSGIAcceptMutex": "1",
	"WSGIAccessScript": "raw", "WSGIApplicationGroup": "1", "WSGIAuthGroupScript": "raw", "WSGIAuthUserScript": "raw",
	"WSGICallableObject": "1", "WSGICaseSensitivity": "1", "WSGIChunkedRequest": "1", "WSGIDaemonProcess": "raw",
	"WSGIDaemonStart": "1", "WSGIDaemonStartLimit": "1", "WSGIDestroyInterpreter": "1", "WSGIDispatchScript": "raw",
	"WSGIDontWriteBytecode": "1", "WSGIEnableSendfile": "1", "WSGIErrorOverride": "1", "WSGIFreeThreading": "1",
	"WSGIGroupAuthoritative": "1", "WSGIHandlerScript": "raw", "WSGIIgnoreActivity": "1", "WSGIImportScript": "raw",
	"WSGILazyInitialization": "1", "WSGIMapHEADToGET": "1", "WSGINewRelicConfigFile": "1", "WSGINewRelicEnvironment": "1",
	"WSGIPassApacheRequest": "1", "WSGIPassAuthorization": "1", "WSGIPerInterpreterGIL": "1", "WSGIProcessGroup": "1",
	"WSGIPythonEggs": "1", "WSGIPythonHashSeed": "1", "WSGIPythonHome": "1", "WSGIPythonOptimize": "1",
	"WSGIPythonPath": "1", "WSGIPythonWarnings": "1", "WSGIRestrictEmbedded": "1", "WSGIRestrictProcess": "raw",
	"WSGIRestrictSignal": "1", "WSGIRestrictStdin": "1", "WSGIRestrictStdout": "1", "WSGIScriptAlias": "raw",
	"WSGIScriptAliasMatch": "raw", "WSGIScriptReloading": "1", "WSGIServerMetrics": "1", "WSGISlowRequests": "1",
	"WSGISocketPrefix": "1", "WSGISocketRotation": "1", "WSGISwitchInterval": "1", "WSGITelemetryOptions": "raw",
	"WSGITelemetryService": "2", "WSGITrustedProxies": "raw", "WSGITrustedProxyHeaders": "raw", "WSGIVerboseDebugging": "1",
}

// generatedOptions: WSGIDaemonProcess's options, and the script
// directives' (process-group= and the rest).
var generatedOptions = []string{
	"processes", "threads", "user", "group", "supplementary-groups", "umask", "home", "chroot", "lang", "locale",
	"python-home", "python-path", "python-eggs", "python-executable", "display-name", "maximum-requests",
	"restart-interval", "inactivity-timeout", "deadlock-timeout", "startup-timeout", "shutdown-timeout",
	"request-timeout", "graceful-timeout", "eviction-timeout", "connect-timeout", "socket-timeout", "queue-timeout",
	"interrupt-timeout", "listen-backlog", "stack-size", "send-buffer-size", "receive-buffer-size",
	"header-buffer-size", "response-buffer-size", "response-socket-timeout", "response-flush-delay",
	"script-user", "script-group", "socket-user", "cpu-time-limit", "cpu-priority", "memory-limit",
	"virtual-memory-limit", "server-metrics", "switch-interval", "worker-share", "start", "newrelic-config-file",
	"newrelic-environment", "process-group", "application-group", "callable-object", "pass-authorization",
	"bogus-option",
}

// generatedValues are the arguments and option values tried. None ends in a
// backslash (it would continue the line) or starts with '<' (a section).
var generatedValues = []string{
	"", "0", "1", "-1", "2", "15", "300", "65536", "2147483647", "2147483648", "-2147483649",
	"99999999999999999999999", "0x10", "1e3", "1.5", "abc", "On", "off", "ON", "Auto", "random", "none",
	"%{GLOBAL}", "%{ENV:X}", "%{RESOURCE}", "%{SERVER}", "%{", "}", "%{HOST", "/", "/tmp", "/nonexistent/path",
	"relative/path", "www-data", "root", "#0", "#99999", "nobody:nogroup", "'single quoted'", "\"double quoted\"",
	"\"unterminated", "'unterminated", "a=b", "=", "==", "x=", "=x", "a\\b", "ünïcödé", "\u00a0", "☃",
	"on-demand", "eager", "ignore::DeprecationWarning", "127.0.0.1", "10.0.0.0/8", "::1/129", "X-Forwarded-For",
	"/tmp:/usr", "*", "?", "(.*)", "[", "^/x(.*)$", "$1", strings.Repeat("x", 300), strings.Repeat("9", 400),
	strings.Repeat("a=", 200), "C.UTF-8", "en_US.UTF-8", "-", "--", "%", "%%", "%{GROUP}",
}

// generatedLine builds one directive line (and its name).
func generatedLine(r *rand.Rand) (string, string) {
	names := make([]string, 0, len(generatedDirectives))
	for n := range generatedDirectives {
		names = append(names, n)
	}
	// map order is random: sort for the seed to mean the same lines
	sort.Strings(names)
	name := names[r.Intn(len(names))]
	if r.Intn(2) == 0 {
		name = "WSGIDaemonProcess" // the richest syntax: half the lines
	}
	pick := func() string { return generatedValues[r.Intn(len(generatedValues))] }
	quoteMaybe := func(v string) string {
		if v == "" || strings.ContainsAny(v, " \t") || r.Intn(8) == 0 {
			return "\"" + strings.ReplaceAll(v, "\"", "\\\"") + "\""
		}
		return v
	}
	var args []string
	switch generatedDirectives[name] {
	case "1", "2":
		n := 1
		if generatedDirectives[name] == "2" {
			n = 1 + r.Intn(2)
		}
		if r.Intn(6) == 0 {
			n = r.Intn(4) // a wrong count now and then
		}
		for i := 0; i < n; i++ {
			args = append(args, quoteMaybe(pick()))
		}
	default:
		switch name {
		case "WSGIDaemonProcess":
			group := "g" + fmt.Sprint(r.Intn(3))
			if r.Intn(5) == 0 {
				group = quoteMaybe(pick())
			}
			args = append(args, group)
		case "WSGIScriptAlias", "WSGIScriptAliasMatch":
			args = append(args, quoteMaybe(pick()), quoteMaybe(pick()))
		default:
			if r.Intn(2) == 0 {
				args = append(args, quoteMaybe(pick()))
			}
		}
		for i := r.Intn(5); i > 0; i-- {
			opt := generatedOptions[r.Intn(len(generatedOptions))]
			switch r.Intn(10) {
			case 0:
				args = append(args, opt) // no '='
			case 1:
				args = append(args, quoteMaybe(pick()))
			default:
				args = append(args, opt+"="+quoteMaybe(pick()))
			}
		}
	}
	line := strings.TrimRight(strings.Join(append([]string{name}, args...), " "), " ")
	return line, name
}

// generatedSections wrap the line: where it stands matters to most
// directives (server-wide only, not in <Directory>, ...).
var generatedSections = [][2]string{
	{"", ""},
	{"<VirtualHost 127.0.0.1:@PORT@>\n", "\n</VirtualHost>"},
	{"<Directory /tmp>\n", "\n</Directory>"},
	{"<Location /x>\n", "\n</Location>"},
}

func TestConfigTest_GeneratedLines(t *testing.T) {
	gowsgiOnly(t)
	skipUnderGroupPython(t, "the lines are the test's own")
	t.Parallel()
	// About 15 s: 2 at a time, and about 80 servers started. A longer
	// hunt: GOWSGI_TEST_GENERATED=lines[:seed].
	cases, seed := 600, int64(20261207)
	if v := os.Getenv("GOWSGI_TEST_GENERATED"); v != "" {
		n, sd, _ := strings.Cut(v, ":")
		var err error
		cases, err = strconv.Atoi(n)
		require.NoError(t, err, "GOWSGI_TEST_GENERATED=lines[:seed]")
		if sd != "" {
			seed, err = strconv.ParseInt(sd, 10, 64)
			require.NoError(t, err, "GOWSGI_TEST_GENERATED=lines[:seed]")
		}
	}
	a, err := newApache(ServerSpec{Snippet: "WSGIDaemonProcess g0 threads=1\n# GENERATED\n"})
	require.NoError(t, err)
	defer a.removeRoot()
	require.NoError(t, a.writeConfig())
	base, err := os.ReadFile(a.ConfPath)
	require.NoError(t, err)
	lines := strings.Split(string(base), "\n")
	at := -1
	for i, l := range lines {
		if l == "# GENERATED" {
			at = i
		}
	}
	require.NotEqual(t, -1, at, "the marker is in the config")

	r := rand.New(rand.NewSource(seed))
	type genCase struct {
		conf, line, name, text string
		lineNo                 int
	}
	var all []genCase
	for i := 0; i < cases; i++ {
		line, name := generatedLine(r)
		sec := generatedSections[r.Intn(len(generatedSections))]
		text := a.expand(sec[0]) + line + sec[1]
		lineNo := at + 1 + strings.Count(a.expand(sec[0]), "\n")
		out := append(append(append([]string{}, lines[:at]...), text), lines[at+1:]...)
		conf := filepath.Join(a.Root, fmt.Sprintf("generated-%03d.conf", i))
		require.NoError(t, os.WriteFile(conf, []byte(strings.Join(out, "\n")), 0o644))
		all = append(all, genCase{conf: conf, line: line, name: name, text: sec[0] + line + sec[1], lineNo: lineNo})
	}

	var mu sync.Mutex
	refused, accepted := 0, 0
	work := make(chan genCase)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				out, code := runConfigTest(a.Root, c.conf)
				problem := ""
				// Apache's form for what a directive refuses as it is read;
				// gowsgi's for what it checks once the whole configuration
				// is read (python-home=, say), both with file and line.
				syntaxErr := regexp.MustCompile(`Syntax error on line (\d+) of ([^:]+):\n(.*)`).FindStringSubmatch(out)
				if m := regexp.MustCompile(`(?m)^(GW\d+: gowsgi: .*)\(line (\d+) of ([^)]+)\)`).FindStringSubmatch(out); syntaxErr == nil && m != nil {
					syntaxErr = []string{m[0], m[2], m[3], m[1]}
				}
				switch {
				case code != 0 && code != 1:
					problem = fmt.Sprintf("configtest ended with %d (a signal?)", code)
				case strings.Contains(out, "Segmentation") || strings.Contains(out, "Aborted") || strings.Contains(out, "panic"):
					problem = "configtest crashed"
				case code == 0 && !strings.Contains(out, "Syntax OK"):
					problem = "exit 0 without Syntax OK"
				case code == 1 && syntaxErr == nil:
					problem = "refused without naming the line"
				case code == 1 && (syntaxErr[1] != fmt.Sprint(c.lineNo) || syntaxErr[2] != c.conf):
					problem = fmt.Sprintf("refused naming %s:%s, not %s:%d", syntaxErr[2], syntaxErr[1], c.conf, c.lineNo)
				case code == 1 && !strings.Contains(syntaxErr[3], c.name):
					problem = "the message does not name the directive"
				}
				if code == 0 && problem == "" {
					// What configtest accepts, Apache starts with.
					sa, err := startApache(ServerSpec{Module: ModGowsgi, Snippet: "WSGIDaemonProcess g0 threads=1\n" + c.text})
					if err != nil {
						problem = "accepted by configtest, but the server did not start: " + tail(err.Error(), 8)
					} else {
						_ = sa.Stop()
						sa.removeRoot()
					}
				}
				mu.Lock()
				if code == 0 {
					accepted++
				} else {
					refused++
				}
				mu.Unlock()
				if problem != "" {
					t.Errorf("%s\nline: %q\noutput:\n%s", problem, c.line, tail(out, 10))
				}
			}
		}()
	}
	for _, c := range all {
		work <- c
	}
	close(work)
	wg.Wait()
	t.Logf("%d generated lines (seed %d): %d accepted, %d refused", cases, seed, accepted, refused)
	// The generator must reach both answers, or it tests nothing.
	require.Greater(t, accepted, cases/10)
	require.Greater(t, refused, cases/10)
}
