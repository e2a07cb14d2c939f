package tests

// WSGIMapHEADToGET against mod_wsgi 4.9.4 under the output-filter chains
// real servers have: none, Debian's default mod_deflate/mod_filter
// configuration (AddOutputFilterByType inside <IfModule mod_filter.c>),
// SetOutputFilter, AddOutputFilter, mod_include's INCLUDES, Header;
// embedded and daemon mode; the directive Off/On/Auto in a section, in
// .htaccess, at main-server and at <VirtualHost> scope.
//
// mod_wsgi's rule (mod_wsgi.c 4.9.4, wsgi_build_environment L6316, run in
// the handler): the directory's value if a section or .htaccess set one,
// else the value set at the request's own server scope, else 0 = Off. Its
// server config never gives the field its documented default (Auto), and a
// vhost's zeroed field wins over the main server's in the merge, so Auto
// applies only where it is written, and a main-server value never reaches
// a <VirtualHost>. Auto maps a HEAD when the output chain at handler time
// begins with a filter below AP_FTYPE_PROTOCOL, whatever the response's
// content type will be (mod_filter's BYTYPE harness is in the chain
// before the app has chosen one).
//
// Each case sends HEAD then GET, pipelined on one connection, with and
// without Accept-Encoding: gzip, and compares the whole exchange (status,
// headers, framing, body, trailing bytes): with a content filter in the
// chain, mod_wsgi's FLUSH after each piece of body shows in mod_deflate's
// output (chunked, a sync-flushed block per piece);
// headmap.wsgi refuses a HEAD with 405 as pywps does and reports the
// method it saw in X-Method.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Debian 12's /etc/apache2/mods-available/deflate.conf (apache2 2.4).
const debianDeflateConf = `
<IfModule mod_filter.c>
	AddOutputFilterByType DEFLATE text/html text/plain text/xml text/css text/javascript
	AddOutputFilterByType DEFLATE application/x-javascript application/javascript application/ecmascript
	AddOutputFilterByType DEFLATE application/rss+xml
	AddOutputFilterByType DEFLATE application/wasm
	AddOutputFilterByType DEFLATE application/xml
</IfModule>
`

// The mounts both filter servers share: the default, the three values in
// a <Location>, a Header directive (mod_headers' FIXUP_HEADERS_OUT is a
// content filter), and the same in a daemon group.
const headmapMounts = `
WSGISocketPrefix @ROOT@/run/wsgi
WSGIDaemonProcess hm processes=1 threads=4
WSGIScriptAlias /app @APPS@/headmap.wsgi
WSGIScriptAlias /auto @APPS@/headmap.wsgi
WSGIScriptAlias /on @APPS@/headmap.wsgi
WSGIScriptAlias /off @APPS@/headmap.wsgi
WSGIScriptAlias /hdr @APPS@/headmap.wsgi
WSGIScriptAlias /hdr-auto @APPS@/headmap.wsgi
WSGIScriptAlias /d-app @APPS@/headmap.wsgi process-group=hm
WSGIScriptAlias /d-auto @APPS@/headmap.wsgi process-group=hm
WSGIScriptAlias /d-on @APPS@/headmap.wsgi process-group=hm
WSGIScriptAlias /d-off @APPS@/headmap.wsgi process-group=hm
<Location /auto>
    WSGIMapHEADToGET Auto
</Location>
<Location /on>
    WSGIMapHEADToGET On
</Location>
<Location /off>
    WSGIMapHEADToGET Off
</Location>
<Location /hdr>
    Header set X-Extra one
</Location>
<Location /hdr-auto>
    Header set X-Extra one
    WSGIMapHEADToGET Auto
</Location>
<Location /d-auto>
    WSGIMapHEADToGET Auto
</Location>
<Location /d-on>
    WSGIMapHEADToGET On
</Location>
<Location /d-off>
    WSGIMapHEADToGET Off
</Location>
`

// Filters set by hand, on top of Debian's default configuration.
const headmapFilterMounts = `
LoadModule include_module /usr/lib/apache2/modules/mod_include.so
WSGIScriptAlias /setof @APPS@/headmap.wsgi
WSGIScriptAlias /setof-auto @APPS@/headmap.wsgi
WSGIScriptAlias /addof @APPS@/headmap.wsgi
WSGIScriptAlias /addof-auto @APPS@/headmap.wsgi
WSGIScriptAlias /incl @APPS@/headmap.wsgi
WSGIScriptAlias /incl-auto @APPS@/headmap.wsgi
WSGIScriptAlias /d-setof-auto @APPS@/headmap.wsgi process-group=hm
<Location /setof>
    SetOutputFilter DEFLATE
</Location>
<Location /setof-auto>
    SetOutputFilter DEFLATE
    WSGIMapHEADToGET Auto
</Location>
<Location /addof>
    AddOutputFilter DEFLATE .wsgi
</Location>
<Location /addof-auto>
    AddOutputFilter DEFLATE .wsgi
    WSGIMapHEADToGET Auto
</Location>
<Location /incl>
    Options +Includes
    SetOutputFilter INCLUDES
</Location>
<Location /incl-auto>
    Options +Includes
    SetOutputFilter INCLUDES
    WSGIMapHEADToGET Auto
</Location>
<Location /d-setof-auto>
    SetOutputFilter DEFLATE
    WSGIMapHEADToGET Auto
</Location>
`

// Scopes: Auto at main-server scope; a vhost with no WSGI directive (it
// shares the main server's value), one with a WSGI directive in a section
// and one with a WSGIScriptAlias of its own (both Off), one with On at its
// own scope; a main-server <Location> Off that applies in every vhost;
// .htaccess On.
const headmapScopes = `
WSGIMapHEADToGET Auto
WSGIScriptAlias /app @APPS@/headmap.wsgi
<Location /app/off>
    WSGIMapHEADToGET Off
</Location>
Alias /ht @ROOT@/ht
<Directory @ROOT@/ht>
    Options ExecCGI
    AllowOverride FileInfo
    AddHandler wsgi-script .wsgi
</Directory>
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName a.example
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName b.example
    WSGIMapHEADToGET On
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName c.example
    <Location /elsewhere>
        WSGIPassAuthorization On
    </Location>
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName d.example
    WSGIScriptAlias /own @APPS@/headmap.wsgi
</VirtualHost>
`

type headmapCase struct {
	path  string // with its query
	host  string // Host header; "" = localhost
	port2 bool
	gzip  bool   // the client accepts gzip (mod_deflate compresses)
	want  string // the REQUEST_METHOD the app sees for a HEAD
	// inflated: a gzip body is compared decompressed. mod_wsgi's Apache
	// child passes on, flushed, whatever each read of the daemon socket
	// returns, so how a daemon app's generator pieces fall into compressed
	// blocks depends on timing there; gowsgi keeps the app's pieces.
	inflated bool
}

type headmapServer struct {
	name  string
	spec  func(m Module, mpm string) ServerSpec
	cases []headmapCase
}

// the cases of headmapMounts; deflate: Debian's AddOutputFilterByType is in
// force (every Auto maps, whatever the type).
func headmapMountCases(deflate bool) []headmapCase {
	auto := "HEAD"
	if deflate {
		auto = "GET"
	}
	var out []headmapCase
	for _, q := range []string{"", "?type=image/png", "?cl=0"} {
		out = append(out,
			headmapCase{path: "/app" + q, want: "HEAD"},
			headmapCase{path: "/auto" + q, want: auto},
			headmapCase{path: "/on" + q, want: "GET"},
			headmapCase{path: "/off" + q, want: "HEAD"},
			headmapCase{path: "/hdr" + q, want: "HEAD"},
			headmapCase{path: "/hdr-auto" + q, want: "GET"},
			headmapCase{path: "/d-app" + q, want: "HEAD"},
			headmapCase{path: "/d-auto" + q, want: auto},
			headmapCase{path: "/d-on" + q, want: "GET"},
			headmapCase{path: "/d-off" + q, want: "HEAD"},
		)
	}
	return out
}

func headmapServers() []headmapServer {
	filterCases := headmapMountCases(true)
	// A body in pieces (a generator: mod_wsgi flushes after each).
	filterCases = append(filterCases,
		headmapCase{path: "/app?gen=1", want: "HEAD"},
		headmapCase{path: "/app?gen=1&cl=0", want: "HEAD"},
		headmapCase{path: "/on?gen=1&cl=0", want: "GET"},
		headmapCase{path: "/d-app?gen=1&cl=0", want: "HEAD", inflated: true},
		headmapCase{path: "/d-on?gen=1", want: "GET", inflated: true},
	)
	for _, q := range []string{"", "?type=image/png"} {
		filterCases = append(filterCases,
			headmapCase{path: "/setof" + q, want: "HEAD"},
			headmapCase{path: "/setof-auto" + q, want: "GET"},
			headmapCase{path: "/addof" + q, want: "HEAD"},
			headmapCase{path: "/addof-auto" + q, want: "GET"},
			headmapCase{path: "/incl" + q, want: "HEAD"},
			headmapCase{path: "/incl-auto" + q, want: "GET"},
			headmapCase{path: "/d-setof-auto" + q, want: "GET"},
		)
	}
	app, err := os.ReadFile(filepath.Join(appsDir(), "headmap.wsgi"))
	if err != nil {
		panic(err)
	}
	return []headmapServer{
		{
			name: "no mod_filter or mod_deflate",
			spec: func(m Module, mpm string) ServerSpec {
				return ServerSpec{Module: m, MPM: mpm, Without: []string{"filter", "deflate"}, Snippet: headmapMounts}
			},
			cases: headmapMountCases(false),
		},
		{
			name: "Debian's default deflate.conf",
			spec: func(m Module, mpm string) ServerSpec {
				return ServerSpec{Module: m, MPM: mpm, Snippet: debianDeflateConf + headmapMounts + headmapFilterMounts}
			},
			cases: filterCases,
		},
		{
			name: "server, vhost, section and .htaccess scopes",
			spec: func(m Module, mpm string) ServerSpec {
				return ServerSpec{Module: m, MPM: mpm, ExtraPort: true, Snippet: debianDeflateConf + headmapScopes,
					Files: map[string]string{"ht/app.wsgi": string(app), "ht/.htaccess": "WSGIMapHEADToGET On\n"}}
			},
			cases: []headmapCase{
				{path: "/app", want: "GET"},
				{path: "/app?type=image/png", want: "GET"},
				{path: "/app/off", want: "HEAD"},
				{path: "/ht/app.wsgi", want: "GET"},
				{path: "/app", host: "a.example", port2: true, want: "GET"},
				{path: "/app/off", host: "a.example", port2: true, want: "HEAD"},
				{path: "/ht/app.wsgi", host: "a.example", port2: true, want: "GET"},
				{path: "/app?type=image/png", host: "b.example", port2: true, want: "GET"},
				{path: "/app/off", host: "b.example", port2: true, want: "HEAD"},
				{path: "/ht/app.wsgi", host: "b.example", port2: true, want: "GET"},
				{path: "/app", host: "c.example", port2: true, want: "HEAD"},
				{path: "/ht/app.wsgi", host: "c.example", port2: true, want: "GET"},
				{path: "/app", host: "d.example", port2: true, want: "HEAD"},
				{path: "/own", host: "d.example", port2: true, want: "HEAD"},
				{path: "/own?type=image/png", host: "d.example", port2: true, want: "HEAD"},
			},
		},
	}
}

// headmapExchange sends HEAD then GET for c on one connection and returns
// the two answers as normalised text, and the method the app saw for HEAD.
func headmapExchange(t *testing.T, a *Apache, c headmapCase) (string, string) {
	t.Helper()
	port, host := a.Port, c.host
	if c.port2 {
		port = a.Port2
	}
	if host == "" {
		host = "localhost"
	}
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	enc := ""
	if c.gzip {
		enc = "Accept-Encoding: gzip\r\n"
	}
	_, err = fmt.Fprintf(conn, "HEAD %s HTTP/1.1\r\nHost: %s\r\n%s\r\nGET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n",
		c.path, host, enc, c.path, host, enc)
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	var out strings.Builder
	seen := ""
	for _, method := range []string{"HEAD", "GET"} {
		res, err := http.ReadResponse(br, &http.Request{Method: method})
		require.NoError(t, err, "%s %s from %s", method, c.path, a.Spec.Module)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err, "%s %s body from %s", method, c.path, a.Spec.Module)
		res.Body.Close()
		if method == "HEAD" {
			seen = res.Header.Get("X-Method")
		}
		if c.inflated && res.Header.Get("Content-Encoding") == "gzip" && len(body) > 0 {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			require.NoError(t, err, "gzip body of %s %s from %s", method, c.path, a.Spec.Module)
			body, err = io.ReadAll(zr)
			require.NoError(t, err, "gzip body of %s %s from %s", method, c.path, a.Spec.Module)
			body = append([]byte("(decompressed) "), body...)
		}
		fmt.Fprintf(&out, "%s -> %s\n", method, res.Status)
		var names []string
		for k := range res.Header {
			if !diffIgnoredHeaders[k] {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(&out, "%s: %q\n", k, res.Header.Values(k))
		}
		fmt.Fprintf(&out, "framing: transfer-encoding=%v content-length=%d close=%v\nbody: %q\n",
			res.TransferEncoding, res.ContentLength, res.Close, body)
	}
	rest, _ := io.ReadAll(br)
	fmt.Fprintf(&out, "after the GET: %q\n", rest)
	return normalizer(a).Replace(out.String()), seen
}

func TestDifferential_MapHEADToGET(t *testing.T) {
	differentialOnly(t)
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		for _, srv := range headmapServers() {
			srv := srv
			t.Run(srv.name, func(t *testing.T) {
				ref, cand := startPair(t, srv.spec(ModModWsgi, mpm), srv.spec(ModGowsgi, mpm))
				var cases []headmapCase
				for _, c := range srv.cases {
					gz := c
					gz.gzip = true
					cases = append(cases, c, gz)
				}
				for _, c := range cases {
					c := c
					name := strings.TrimPrefix(c.host+c.path, "/")
					if c.gzip {
						name += " gzip"
					}
					t.Run(name, func(t *testing.T) {
						refText, refSeen := headmapExchange(t, ref, c)
						candText, candSeen := headmapExchange(t, cand, c)
						assert.Equal(t, c.want, refSeen, "the method mod_wsgi's app saw for HEAD")
						assert.Equal(t, c.want, candSeen, "the method gowsgi's app saw for HEAD")
						assert.Equal(t, refText, candText, "HEAD then GET on one connection")
					})
				}
			})
		}
	})
}
