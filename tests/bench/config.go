package main

// Variants and the Apache configuration they run under. Every variant uses the
// same generated skeleton (listener, MPM block, keep-alive, timeouts, modules);
// only the lines that select the static floor, mod_wsgi or gowsgi differ.

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

//go:embed app/bench.wsgi
var benchApp []byte

const (
	apacheBin  = "/usr/sbin/apache2"
	modulesDir = "/usr/lib/apache2/modules"
	modWsgiSO  = "/usr/lib/apache2/modules/mod_wsgi.so"
	systemPy   = "/usr/bin/python3"
)

// Variant is one way of serving the workloads.
type Variant struct {
	Name   string // short id (command line, raw results)
	Title  string // report label
	Static bool   // Apache's static-file floor, no WSGI module
	Module string // "mod_wsgi" or "gowsgi"
	Daemon bool   // WSGIDaemonProcess bench processes=2 threads=16
	// UWSGI: no WSGI module; Apache proxies every request with
	// mod_proxy_uwsgi to a uWSGI server (processes=2 threads=16) that the
	// driver starts beside Apache (uwsgi.go).
	UWSGI bool
	// Probe: before timing, check that requests really run in a daemon
	// process; if they do not, the variant is skipped with a note.
	Probe bool
	// Python: the daemon group runs this pyenv CPython (X.Y) with
	// python-executable= (pythons.go). Such variants run only when named
	// in -variants.
	Python string
	// Tenants: the tenants benchmark's server (tenants.go): this many
	// daemon groups of one process serving hello.wsgi, started on demand
	// (OnDemand, stopping after Inactivity seconds idle) or eagerly; Django
	// adds one group serving the integration tests' Django app.
	// RestrictEmbedded: WSGIRestrictEmbedded On.
	Tenants          int
	OnDemand         bool
	Inactivity       int
	Django           bool
	RestrictEmbedded bool
}

func allVariants() []Variant {
	return []Variant{
		{Name: "floor", Title: "Apache static files (floor)", Static: true},
		{Name: "modwsgi-embedded", Title: "mod_wsgi embedded", Module: "mod_wsgi"},
		{Name: "modwsgi-daemon", Title: "mod_wsgi daemon", Module: "mod_wsgi", Daemon: true, Probe: true},
		{Name: "gowsgi-embedded", Title: "gowsgi embedded", Module: "gowsgi"},
		{Name: "gowsgi-daemon", Title: "gowsgi daemon", Module: "gowsgi", Daemon: true, Probe: true},
		{Name: "uwsgi", Title: "uWSGI (mod_proxy_uwsgi)", UWSGI: true, Probe: true},
		{Name: "gowsgi-daemon-3.12", Title: "gowsgi daemon, group on CPython 3.12", Module: "gowsgi", Daemon: true, Probe: true, Python: "3.12"},
		{Name: "gowsgi-daemon-3.13", Title: "gowsgi daemon, group on CPython 3.13", Module: "gowsgi", Daemon: true, Probe: true, Python: "3.13"},
	}
}

// separateProcesses: the app runs outside Apache's MPM children (daemon
// processes, or uWSGI's workers), whose PSS is reported per process.
func (v Variant) separateProcesses() bool { return v.Daemon || v.UWSGI }

// mpmBlock is the MPM configuration shared by every variant. The process and
// thread counts are fixed (StartServers = ServerLimit, MaxSpare* at the
// maximum), so no child is started or stopped during a measurement. With the
// threaded MPMs each child has as many threads as the largest workload has
// connections (64): connections are not spread evenly over the children, and
// an event child whose workers are all busy closes its idle keep-alive
// connections, which wrk counts as read errors (the request it had already
// sent on one is lost). Prefork has one process per connection of the largest
// workload.
func mpmBlock(mpm string) string {
	switch mpm {
	case "prefork":
		return `<IfModule mpm_prefork_module>
    StartServers 64
    MinSpareServers 1
    MaxSpareServers 64
    ServerLimit 64
    MaxRequestWorkers 64
    MaxConnectionsPerChild 0
</IfModule>`
	default:
		return fmt.Sprintf(`<IfModule mpm_%s_module>
    StartServers 2
    ServerLimit 2
    ThreadLimit 64
    ThreadsPerChild 64
    MinSpareThreads 1
    MaxSpareThreads 128
    MaxRequestWorkers 128
    MaxConnectionsPerChild 0
</IfModule>`, mpm)
	}
}

// ServerConfig is everything needed to write one server's ServerRoot.
type ServerConfig struct {
	Variant  Variant
	MPM      string
	BuildDir string // holds mod_gowsgi.so
	Root     string
	Port     int
	// PythonExe: the group's python-executable= (Variant.Python).
	PythonExe string
}

func (c *ServerConfig) ErrorLog() string { return filepath.Join(c.Root, "error.log") }
func (c *ServerConfig) ConfPath() string { return filepath.Join(c.Root, "httpd.conf") }
func (c *ServerConfig) UWSGISocket() string {
	return filepath.Join(c.Root, "run", "uwsgi", "uwsgi.sock")
}
func (c *ServerConfig) UWSGILog() string { return filepath.Join(c.Root, "uwsgi.log") }

// prepareRoot creates the ServerRoot: static bodies, the app and httpd.conf.
// Apache's children run as www-data, so everything is world-readable.
func (c *ServerConfig) prepareRoot() error {
	for _, d := range []string{"", "run", "htdocs", "app"} {
		if err := os.MkdirAll(filepath.Join(c.Root, d), 0o755); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(c.Root, d), 0o755); err != nil {
			return err
		}
	}
	files := map[string][]byte{
		"htdocs/hello":   []byte(helloBody),
		"htdocs/64k":     block(),
		"htdocs/stream":  streamBody(),
		"htdocs/headers": []byte(fmt.Sprint(numReqHdrs)),
		"app/bench.wsgi": benchApp,
		"app/hello.wsgi": helloApp,
	}
	for rel, content := range files {
		if err := os.WriteFile(filepath.Join(c.Root, rel), content, 0o644); err != nil {
			return err
		}
	}
	if c.Variant.Django {
		if err := copyTree(djangoAppDir, filepath.Join(c.Root, "app", "djangoapp")); err != nil {
			return err
		}
	}
	return os.WriteFile(c.ConfPath(), []byte(c.generate()), 0o644)
}

// copyTree copies a directory of plain files, world-readable.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			if d.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
}

func (c *ServerConfig) generate() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	v := c.Variant
	p("# generated by tests/bench (variant %s, MPM %s)", v.Name, c.MPM)
	p("ServerRoot %q", c.Root)
	p("ServerName localhost")
	p("Listen 127.0.0.1:%d", c.Port)
	p("PidFile %q", filepath.Join(c.Root, "run", "httpd.pid"))
	p("DefaultRuntimeDir %q", filepath.Join(c.Root, "run"))
	p("Mutex file:%s default", filepath.Join(c.Root, "run"))
	p("ErrorLog %q", c.ErrorLog())
	if v.OnDemand {
		// gowsgi's cold-start lines (starting, loading the script, ready),
		// which split each cold start into phases (coldphases.go).
		p("LogLevel notice gowsgi:info")
	} else {
		p("LogLevel notice")
	}
	if os.Geteuid() == 0 {
		p("User www-data")
		p("Group www-data")
	}
	p("Timeout 60")
	p("KeepAlive On")
	p("MaxKeepAliveRequests 0")
	p("KeepAliveTimeout 15")
	p("GracefulShutdownTimeout 15")
	p("LoadModule mpm_%s_module %s/mod_mpm_%s.so", c.MPM, modulesDir, c.MPM)
	for _, m := range []string{"authz_core", "mime", "headers"} {
		p("LoadModule %s_module %s/mod_%s.so", m, modulesDir, m)
	}
	switch v.Module {
	case "mod_wsgi":
		p("LoadModule wsgi_module %s", modWsgiSO)
	case "gowsgi":
		p("LoadModule gowsgi_module %s", filepath.Join(c.BuildDir, "mod_gowsgi.so"))
	}
	if v.UWSGI {
		p("LoadModule proxy_module %s", modProxySO)
		p("LoadModule proxy_uwsgi_module %s", modProxyUWSGISO)
	}
	p("%s", mpmBlock(c.MPM))
	p("TypesConfig /etc/mime.types")
	p("DocumentRoot %q", filepath.Join(c.Root, "htdocs"))
	p("<Directory />\n    AllowOverride None\n    Require all denied\n</Directory>")
	p("<Directory %q>\n    AllowOverride None\n    Require all granted\n</Directory>", filepath.Join(c.Root, "htdocs"))
	p("<Directory %q>\n    AllowOverride None\n    Require all granted\n</Directory>", filepath.Join(c.Root, "app"))
	if v.Static {
		// The app's 20 response headers, added to the static /headers file.
		p("<Location /headers>")
		for i := 1; i <= numRespHdrs; i++ {
			p("    Header set %s %q", respHeaderName(i), respHeaderValue(i))
		}
		p("</Location>")
		return b.String()
	}
	if v.UWSGI {
		// Apache's children connect to uWSGI's unix socket once per request
		// (the uwsgi protocol has no keep-alive), as mod_wsgi's do to its
		// daemon processes.
		p("ProxyPass / %q", "unix:"+c.UWSGISocket()+"|uwsgi://localhost/")
		return b.String()
	}
	if v.Tenants > 0 {
		c.tenantConfig(p)
		return b.String()
	}
	p("WSGIScriptAlias / %q", filepath.Join(c.Root, "app", "bench.wsgi"))
	p("WSGIApplicationGroup %%{GLOBAL}")
	if v.Daemon {
		p("WSGISocketPrefix %s", filepath.Join(c.Root, "run", "wsgi"))
		if v.Python != "" {
			p("WSGIDaemonProcess bench processes=2 threads=16 python-executable=%s", c.PythonExe)
		} else {
			p("WSGIDaemonProcess bench processes=2 threads=16")
		}
		p("WSGIProcessGroup bench")
	}
	return b.String()
}
