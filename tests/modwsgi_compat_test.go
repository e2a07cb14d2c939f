package tests

// GoWSGICompatibility 4|6 (cshim/modwsgi_compat.c; README, "mod_wsgi 4.9.4
// vs 6.0"): where mod_wsgi 4.9.4 and 6.0 disagree, a configuration keeps
// 4.9.4's rules unless the directive picks 6.0's, per server or vhost. The
// facts pinned here were measured with mod_wsgi 6.0.5 built from its source
// against Debian 12's Apache and Python, beside Debian's 4.9.4, on the same
// requests (embedded and daemon). With GOWSGI_TEST_MODWSGI6 set to such a
// build's mod_wsgi.so, TestModWSGICompat_Against605 checks them again
// against the real thing.

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The environ keys 4.9.4 has and 6.0.5 has not, and the reverse, in both
// modes, then only in one mode. Every other key is in both.
var (
	compat4Only = []string{
		"GATEWAY_INTERFACE", "PATH_TRANSLATED", "SERVER_SIGNATURE",
		"mod_wsgi.enable_sendfile", "mod_wsgi.ignore_activity", "mod_wsgi.script_reloading",
		"mod_wsgi.script_start", "mod_wsgi.thread_requests", "mod_wsgi.total_requests",
	}
	compat4OnlyDaemon   = []string{"mod_wsgi.daemon_connects", "mod_wsgi.daemon_restarts"}
	compat6Only         = []string{"mod_wsgi.application_start", "mod_wsgi.server_pid"}
	compat6OnlyEmbedded = []string{"mod_wsgi.daemon_start", "mod_wsgi.queue_start"}
	// 6.0.5 gives the request's instants as float seconds since the epoch
	// (4.9.4: decimal strings of microseconds); queue_start and
	// daemon_start are 0.0 in embedded mode.
	compat6Floats = []string{"mod_wsgi.request_start", "mod_wsgi.queue_start", "mod_wsgi.daemon_start",
		"mod_wsgi.application_start"}
)

// The group and the four mounts (mod_wsgi 6.0.5 takes them too).
const compatMounts = `
WSGISocketPrefix @ROOT@/run/wsgi
WSGIDaemonProcess compat processes=1 threads=2
WSGIScriptAlias /emb @APPS@/env.wsgi
WSGIScriptAlias /dmn @APPS@/env.wsgi process-group=compat application-group=%{GLOBAL}
WSGIScriptAlias /c6emb @APPS@/compat6.wsgi
WSGIScriptAlias /c6dmn @APPS@/compat6.wsgi process-group=compat application-group=%{GLOBAL}
`

// The main server keeps the default; the vhost on @PORT2@ picks 6. One
// daemon group, defined in the main server, serves both: each request takes
// its own vhost's rule.
const compatSnippet = compatMounts + `<VirtualHost 127.0.0.1:@PORT2@>
    ServerName six.example
    GoWSGICompatibility 6
    WSGIScriptAlias /emb @APPS@/env.wsgi
    WSGIScriptAlias /dmn @APPS@/env.wsgi process-group=compat application-group=%{GLOBAL}
    WSGIScriptAlias /c6emb @APPS@/compat6.wsgi
    WSGIScriptAlias /c6dmn @APPS@/compat6.wsgi process-group=compat application-group=%{GLOBAL}
</VirtualHost>
`

func compatEnvKeys(d EnvDump) map[string]bool {
	keys := map[string]bool{}
	for k := range d.Environ {
		// connection_id comes once the connection has a log id (on a
		// kept connection's second request), under either rule.
		if !strings.HasPrefix(k, "HTTP_") && k != "mod_wsgi.connection_id" {
			keys[k] = true
		}
	}
	return keys
}

func compatKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// want6 is the key set 6.0.5 has where 4.9.4 has keys4.
func want6(keys4 map[string]bool, daemon bool) map[string]bool {
	out := map[string]bool{}
	for k := range keys4 {
		out[k] = true
	}
	drop, add := compat4Only, compat6Only
	if daemon {
		drop = append(append([]string{}, drop...), compat4OnlyDaemon...)
	} else {
		add = append(append([]string{}, add...), compat6OnlyEmbedded...)
	}
	for _, k := range drop {
		delete(out, k)
	}
	for _, k := range add {
		out[k] = true
	}
	return out
}

// checkEnviron6 checks one 6-mode environ against the 4-mode one of the
// same request.
func checkEnviron6(t *testing.T, d4, d6 EnvDump, daemon bool) {
	t.Helper()
	for _, k := range compat4Only {
		assert.Contains(t, d4.Environ, k, "4.9.4's rules set %s", k)
	}
	assert.Equal(t, compatKeys(want6(compatEnvKeys(d4), daemon)), compatKeys(compatEnvKeys(d6)), "6.0.5's key set")
	for _, k := range compat6Floats {
		assert.Equal(t, "float", d6.Types[k], "%s is a float", k)
		f, err := strconv.ParseFloat(fmt.Sprint(d6.Environ[k]), 64)
		require.NoError(t, err, "%s=%v", k, d6.Environ[k])
		if !daemon && (k == "mod_wsgi.queue_start" || k == "mod_wsgi.daemon_start") {
			assert.Equal(t, 0.0, f, "%s is 0.0 in embedded mode", k)
		} else {
			assert.Greater(t, f, 1.7e9, "%s is seconds since the epoch", k)
		}
	}
	_, isStr := d4.Environ["mod_wsgi.request_start"].(string)
	assert.True(t, isStr && d4.Types["mod_wsgi.request_start"] == "", "4.9.4's request_start is a string")
	_, err := strconv.Atoi(fmt.Sprint(d6.Environ["mod_wsgi.server_pid"]))
	assert.NoError(t, err, "server_pid is the Apache child's pid, a string: %v", d6.Environ["mod_wsgi.server_pid"])
	assert.Empty(t, d6.Types["mod_wsgi.server_pid"], "server_pid is a str")
}

func TestModWSGICompat_Environ(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{Module: ModGowsgi, MPM: mpm, Snippet: compatSnippet, ExtraPort: true})
		for _, mode := range []string{"emb", "dmn"} {
			mode := mode
			t.Run(mode, func(t *testing.T) {
				path := "/" + mode + "/a/b?q=1"
				d4 := GetEnv(t, a.BaseURL()+path, nil)
				d6 := GetEnv(t, fmt.Sprintf("http://127.0.0.1:%d%s", a.Port2, path), nil)
				checkEnviron6(t, d4, d6, mode == "dmn")
				// Again: the second request of a shape comes from the
				// environ template (wsgi/environ_template.c).
				d6b := GetEnv(t, fmt.Sprintf("http://127.0.0.1:%d%s", a.Port2, path), nil)
				assert.Equal(t, compatKeys(compatEnvKeys(d6)), compatKeys(compatEnvKeys(d6b)), "the same keys from the template")
				d4b := GetEnv(t, a.BaseURL()+path, nil)
				assert.Equal(t, compatKeys(compatEnvKeys(d4)), compatKeys(compatEnvKeys(d4b)), "4's keys unchanged after a 6 request")
			})
		}
	})
}

func TestModWSGICompat_Statuses(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{Module: ModGowsgi, MPM: mpm, Snippet: compatSnippet, ExtraPort: true})
		six := fmt.Sprintf("http://127.0.0.1:%d", a.Port2)
		for _, mode := range []string{"emb", "dmn"} {
			// A status line without a reason phrase: 4.9.4 refuses it
			// (500, "no space following status code"), 6.0 sends it.
			r4 := Get(t, a.BaseURL()+"/c6"+mode+"?status=200")
			assert.Equal(t, 500, r4.Status, "%s, 4: %s", mode, r4)
			r6 := Get(t, six+"/c6"+mode+"?status=200")
			assert.Equal(t, 200, r6.Status, "%s, 6: %s", mode, r6)
			assert.Equal(t, "compat6\n", r6.Body)
			// What both refuse stays refused.
			for _, bad := range []string{"99%20X", "2000", "200x"} {
				assert.Equal(t, 500, Get(t, six+"/c6"+mode+"?status="+bad).Status, "%s, 6, status %q", mode, bad)
			}
			assert.Equal(t, 201, Get(t, six+"/c6"+mode+"?status=201%20Created").Status)
			assert.Equal(t, 500, Get(t, a.BaseURL()+"/c6"+mode+"?status=99%20X").Status)
		}
		// The exception's words: 4.9.4's, and 6.0's with the line.
		WaitLog(t, a, 30*time.Second, "ValueError: status code is not a 3 digit integer\n",
			"ValueError: status code must be a 3 digit integer: b'99 X'",
			"ValueError: no space following status code: b'200x'")
		// The daemon process ends before it answers: 4.9.4's 500, 6.0's 502.
		// (The next request waits, up to connect-timeout, for the
		// replacement process.)
		assert.Equal(t, 500, Get(t, a.BaseURL()+"/c6dmn?exit=1").Status, "4")
		assert.Equal(t, 502, Get(t, six+"/c6dmn?exit=1").Status, "6")
		// The group comes back for both.
		assert.Equal(t, 200, Get(t, a.BaseURL()+"/c6dmn").Status)
		assert.Equal(t, 200, Get(t, six+"/c6dmn").Status)
	})
}

// Log lines: what the application writes, and the head of an exception's
// report. 6.0 prefixes the first with "[script <file>] " and words the
// second differently (without "mod_wsgi (pid=N): "); gowsgi's 4 rule keeps
// its own "gowsgi (pid=N): " where 4.9.4 writes "mod_wsgi (pid=N): ".
func TestModWSGICompat_LogLines(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{Module: ModGowsgi, MPM: mpm, Snippet: compatSnippet, ExtraPort: true})
		script := appsDir() + "/compat6.wsgi"
		for _, mode := range []string{"emb", "dmn"} {
			for _, six := range []bool{false, true} {
				base, tok := a.BaseURL(), token()
				if six {
					base = fmt.Sprintf("http://127.0.0.1:%d", a.Port2)
				}
				mark := markLog(a)
				assert.Equal(t, 500, Get(t, base+"/c6"+mode+"?say="+tok).Status)
				WaitLog(t, a, 30*time.Second, "errors "+tok, "RuntimeError: "+tok)
				var app, head []string
				for _, l := range LogLinesWith(a, tok) {
					if strings.Contains(l, "stderr "+tok) || strings.Contains(l, "errors "+tok) {
						app = append(app, l)
					}
				}
				require.Len(t, app, 2, "%s six=%v", mode, six)
				for _, l := range app {
					assert.Equal(t, six, strings.Contains(l, "] [script "+script+"] "), "%s six=%v: %s", mode, six, l)
				}
				// The report's head: the line since the mark naming the script.
				for _, l := range mark.raw() {
					if strings.Contains(l, "WSGI script '"+script+"'") {
						head = append(head, l)
					}
				}
				assert.Len(t, head, 1, "%s six=%v", mode, six)
				var interp string
				if mode == "emb" {
					host := "localhost:" + strconv.Itoa(a.Port)
					if six {
						host = "six.example:" + strconv.Itoa(a.Port2)
					}
					interp = "sub-interpreter '" + host + "|/c6emb' in embedded mode"
				} else {
					interp = "main interpreter of daemon process 'compat'"
				}
				want := "gowsgi (pid="
				wantRest := "): Exception occurred processing WSGI script '" + script + "'."
				if six {
					want = "[script " + script + "] RuntimeError exception raised processing WSGI script '" + script + "' for " + interp + "."
					wantRest = ""
				}
				found := false
				for _, l := range head {
					if strings.Contains(l, want) && strings.Contains(l, wantRest) {
						found = true
					}
				}
				assert.True(t, found, "%s six=%v: a head %q...%q in %q", mode, six, want, wantRest, head)
			}
		}
	})
}

func TestModWSGICompat_Configtest(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	for _, bad := range []string{"5", "4.9", "six", "On"} {
		bad := bad
		t.Run(bad, func(t *testing.T) {
			out, code, conf := ConfigTestConf(t, ServerSpec{MPM: "event", Snippet: "GoWSGICompatibility " + bad + "\n"})
			require.NotEqual(t, 0, code, "configtest fails: %s", out)
			m := syntaxErrorRe.FindStringSubmatch(out)
			require.NotNil(t, m, "a syntax error with the file and line: %s", out)
			n, _ := strconv.Atoi(m[1])
			assert.True(t, strings.HasPrefix(confLine(conf, n), "GoWSGICompatibility "+bad), "line %d: %q", n, confLine(conf, n))
			assert.Contains(t, out, "GoWSGICompatibility: must be 4 (mod_wsgi 4.9.4's rules, the default) or 6 (mod_wsgi 6.0's), not '"+bad+"'")
		})
	}
	t.Run("accepted", func(t *testing.T) {
		out, code := ConfigTest(t, ServerSpec{MPM: "event", ExtraPort: true, Snippet: `
GoWSGICompatibility 4
<VirtualHost 127.0.0.1:@PORT2@>
    GoWSGICompatibility 6
</VirtualHost>
`})
		assert.Equal(t, 0, code, out)
	})
	t.Run("not in a directory", func(t *testing.T) {
		out, code := ConfigTest(t, ServerSpec{MPM: "event", Snippet: "<Location /x>\n    GoWSGICompatibility 6\n</Location>\n"})
		assert.NotEqual(t, 0, code, out)
		assert.Contains(t, out, "GoWSGICompatibility not allowed in <Location> context")
	})
}

// The pinned facts against mod_wsgi 6.0.5 itself: the same requests to a
// 6.0.5 build (GOWSGI_TEST_MODWSGI6=/path/to/mod_wsgi.so) and to gowsgi
// under GoWSGICompatibility 6 give the same environ keys and types (the
// HTTP_ ones aside) and the same statuses.
func TestModWSGICompat_Against605(t *testing.T) {
	gowsgiOnly(t)
	so := strings.TrimSpace(os.Getenv("GOWSGI_TEST_MODWSGI6"))
	if so == "" {
		t.Skip("GOWSGI_TEST_MODWSGI6 (the path of a mod_wsgi 6.0.5 build's mod_wsgi.so) not set")
	}
	_, err := os.Stat(so)
	require.NoError(t, err, "GOWSGI_TEST_MODWSGI6")
	forEachMPM(t, func(t *testing.T, mpm string) {
		snippet := compatMounts
		ref := StartApache(t, ServerSpec{Module: ModModWsgi, MPM: mpm, NoWSGI: true,
			Snippet: "LoadModule wsgi_module " + so + "\n" + snippet})
		cand := StartApache(t, ServerSpec{Module: ModGowsgi, MPM: mpm, Snippet: "GoWSGICompatibility 6\n" + snippet})
		for _, mode := range []string{"emb", "dmn"} {
			r := GetEnv(t, ref.BaseURL()+"/"+mode+"/a/b?q=1", nil)
			c := GetEnv(t, cand.BaseURL()+"/"+mode+"/a/b?q=1", nil)
			require.Equal(t, []any{6.0, 0.0, 5.0}, r.Py["mod_wsgi"].(map[string]any)["version"], "the reference is 6.0.5")
			assert.Equal(t, compatKeys(compatEnvKeys(r)), compatKeys(compatEnvKeys(c)), "%s: keys", mode)
			for _, k := range compatKeys(compatEnvKeys(r)) {
				if k != "mod_wsgi.version" && k != "apache.version" {
					assert.Equal(t, r.Types[k], c.Types[k], "%s: type of %s", mode, k)
				}
			}
			for _, k := range []string{"filesystem_encoding", "utf8_mode", "preferred_encoding", "lc_ctype", "environ_lc_ctype"} {
				assert.Equal(t, jsonString(r.Py[k]), jsonString(c.Py[k]), "%s: Python's %s", mode, k)
			}
			for _, q := range []string{"status=200", "status=99%20X", "status=201%20Created"} {
				assert.Equal(t, Get(t, ref.BaseURL()+"/c6"+mode+"?"+q).Status, Get(t, cand.BaseURL()+"/c6"+mode+"?"+q).Status,
					"%s: %s", mode, q)
			}
		}
		// A request's log lines: the same text after the client's address,
		// 6.0.5's message id aside.
		for _, mode := range []string{"emb", "dmn"} {
			script := appsDir() + "/compat6.wsgi"
			lines := func(a *Apache, tok string) []string {
				mark := markLog(a)
				Get(t, a.BaseURL()+"/c6"+mode+"?say="+tok)
				WaitLog(t, a, 30*time.Second, "RuntimeError: "+tok)
				var out []string
				for _, l := range mark.raw() {
					if i := strings.Index(l, "[script "+script+"]"); i >= 0 {
						l = strings.ReplaceAll(l[i:], tok, "TOKEN")
						out = append(out, strings.ReplaceAll(l, a.Addr()[len("127.0.0.1"):], ":PORT"))
					}
				}
				return out
			}
			assert.Equal(t, lines(ref, token()), lines(cand, token()), "%s: log lines", mode)
		}
		assert.Equal(t, 502, Get(t, ref.BaseURL()+"/c6dmn?exit=1").Status, "6.0.5")
		assert.Equal(t, 502, Get(t, cand.BaseURL()+"/c6dmn?exit=1").Status, "gowsgi")
	})
}

// How Python starts is a process's rule, not a request's: Apache's children
// take the main server's, a daemon group's processes the vhost's that
// defines the group. Under Apache's LANG=C, mod_wsgi 4.9.4 (Py_Initialize)
// neither coerces the C locale nor turns on UTF-8 mode, and ignores
// PYTHONUTF8 (set here to show it); 6.0.5 (the Python config) does both,
// and LC_CTYPE appears in os.environ. Both measured with the two builds.
const compatLocaleSnippet = `
WSGISocketPrefix @ROOT@/run/wsgi
WSGIDaemonProcess mainsrv processes=1 threads=2
WSGIScriptAlias /emb @APPS@/env.wsgi
WSGIScriptAlias /dmn @APPS@/env.wsgi process-group=mainsrv application-group=%{GLOBAL}
WSGIDaemonProcess utf8 processes=1 threads=2 lang=C.UTF-8 locale=C.UTF-8
WSGIScriptAlias /utf8 @APPS@/env.wsgi process-group=utf8 application-group=%{GLOBAL}
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName six.example
    GoWSGICompatibility 6
    WSGIDaemonProcess vhost processes=1 threads=2
    WSGIScriptAlias /emb @APPS@/env.wsgi
    WSGIScriptAlias /dmn @APPS@/env.wsgi process-group=vhost application-group=%{GLOBAL}
</VirtualHost>
`

type pythonLocale struct {
	FS, Preferred, CType string
	UTF8                 float64
	EnvironCType         any
}

func pythonLocaleOf(t *testing.T, url string) pythonLocale {
	t.Helper()
	d := GetEnv(t, url, nil)
	str := func(k string) string { s, _ := d.Py[k].(string); return s }
	utf8, _ := d.Py["utf8_mode"].(float64)
	// Python 3.10 and older say 'UTF-8' where 3.11 says 'utf-8'.
	return pythonLocale{FS: str("filesystem_encoding"), Preferred: strings.ToLower(str("preferred_encoding")), CType: str("lc_ctype"),
		UTF8: utf8, EnvironCType: d.Py["environ_lc_ctype"]}
}

var (
	locale4 = pythonLocale{FS: "ascii", Preferred: "ansi_x3.4-1968", CType: "C", UTF8: 0, EnvironCType: nil}
	locale6 = pythonLocale{FS: "utf-8", Preferred: "utf-8", CType: "C.UTF-8", UTF8: 1, EnvironCType: "C.UTF-8"}
	// A UTF-8 locale given, as mod_wsgi's docs advise: no coercion needed.
	localeUTF8 = pythonLocale{FS: "utf-8", Preferred: "utf-8", CType: "C.UTF-8", UTF8: 0, EnvironCType: nil}
)

func TestModWSGICompat_PythonLocale(t *testing.T) {
	gowsgiOnly(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{Module: ModGowsgi, MPM: mpm, Snippet: compatLocaleSnippet, ExtraPort: true,
			Env: []string{"PYTHONUTF8=1", "PYTHONCOERCECLOCALE=1"}})
		vhost6 := fmt.Sprintf("http://127.0.0.1:%d", a.Port2)
		// The children load the engine at their first embedded request
		// (the server has daemon groups): Python finds the locale
		// child_init set.
		assert.Equal(t, locale4, pythonLocaleOf(t, a.URL("/emb")), "embedded, main server's rule 4")
		assert.Equal(t, locale4, pythonLocaleOf(t, vhost6+"/emb"), "embedded in the 6 vhost: the children take the main server's rule")
		assert.Equal(t, locale4, pythonLocaleOf(t, a.URL("/dmn")), "daemon group of the main server (4)")
		assert.Equal(t, locale6, pythonLocaleOf(t, vhost6+"/dmn"), "daemon group of the 6 vhost")
		assert.Equal(t, localeUTF8, pythonLocaleOf(t, a.URL("/utf8")), "daemon group with lang= and locale=")

		// Main server 6: its children load the engine at start (Python's
		// coercion sets LC_CTYPE in the environment, before threads run).
		// The vhost on @PORT2@ says 4 and defines its own group.
		snippet := strings.Replace(compatLocaleSnippet, "GoWSGICompatibility 6", "GoWSGICompatibility 4", 1)
		b := StartApache(t, ServerSpec{Module: ModGowsgi, MPM: mpm, Snippet: "GoWSGICompatibility 6\n" + snippet, ExtraPort: true})
		waitChildrenHoldEngine(t, b, "GoWSGICompatibility 6")
		vhost4 := fmt.Sprintf("http://127.0.0.1:%d", b.Port2)
		assert.Equal(t, locale6, pythonLocaleOf(t, b.URL("/emb")), "embedded, main server's rule 6")
		assert.Equal(t, locale6, pythonLocaleOf(t, b.URL("/dmn")), "daemon group of the main server (6)")
		assert.Equal(t, locale6, pythonLocaleOf(t, vhost4+"/emb"), "embedded in the 4 vhost: the children take the main server's rule")
		assert.Equal(t, locale4, pythonLocaleOf(t, vhost4+"/dmn"), "daemon group of the 4 vhost")

		// Apache started on a UTF-8 locale: the child's setlocale in
		// child_init is the one Python takes (it sets none itself there).
		c := StartApache(t, ServerSpec{Module: ModGowsgi, MPM: mpm, Snippet: compatLocaleSnippet, ExtraPort: true,
			Env: []string{"LC_ALL=C.UTF-8"}})
		assert.Equal(t, localeUTF8, pythonLocaleOf(t, c.URL("/emb")), "embedded, Apache on a UTF-8 locale")
		assert.Equal(t, localeUTF8, pythonLocaleOf(t, c.URL("/dmn")), "daemon group, Apache on a UTF-8 locale")
	})
}
