package tests

// SCRIPT_NAME / PATH_INFO derivation (reference 2.2, Appendix A seed 1).

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type scriptNameCase struct {
	path       string
	status     int
	scriptName string
	pathInfo   string
	port2      bool // request goes to the root-mount virtual host
}

var scriptNameTable = []scriptNameCase{
	{path: "/emb", status: 200, scriptName: "/emb", pathInfo: ""},
	{path: "/emb/", status: 200, scriptName: "/emb", pathInfo: "/"},
	{path: "/emb/a/b", status: 200, scriptName: "/emb", pathInfo: "/a/b"},
	{path: "/emb//a//b/", status: 200, scriptName: "/emb", pathInfo: "/a/b/"},
	{path: "/emb/a%20b", status: 200, scriptName: "/emb", pathInfo: "/a b"},
	{path: "/emb/a%2Fb", status: 404},
	{path: "/embx", status: 404},
	{path: "/EMB", status: 404},
	{path: "/slash", status: 404},
	{path: "/slash/", status: 200, scriptName: "/slash/", pathInfo: ""},
	{path: "/slash/a", status: 404},
	{path: "/dir/one.wsgi/x", status: 200, scriptName: "/dir/one.wsgi", pathInfo: "/x"},
	{path: "/dir/two.wsgi", status: 200, scriptName: "/dir/two.wsgi", pathInfo: ""},
	{path: "/dir/one", status: 404},
	{path: "/dir/", status: 403},
	{path: "/match/one/extra/path", status: 200, scriptName: "/match/one", pathInfo: "/extra/path"},
	{path: "/match/two", status: 200, scriptName: "/match/two", pathInfo: ""},
	{path: "/match/nosuch/x", status: 404},
	{path: "/ht/env.wsgi/p", status: 200, scriptName: "/ht/env.wsgi", pathInfo: "/p"},
	{path: "/noexec/env.wsgi/p", status: 403},
	{path: "/missing", status: 404},
	{path: "/missing/x", status: 404},
	{path: "/", status: 200, scriptName: "", pathInfo: "/", port2: true},
	{path: "/a/b/", status: 200, scriptName: "", pathInfo: "/a/b/", port2: true},
	{path: "//a", status: 200, scriptName: "", pathInfo: "/a", port2: true},
}

func TestScriptName_Table(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		for _, c := range scriptNameTable {
			c := c
			name := c.path
			if c.port2 {
				name = "port2" + c.path
			}
			t.Run(name, func(t *testing.T) {
				addr := a.Addr()
				if c.port2 {
					addr = fmt.Sprintf("127.0.0.1:%d", a.Port2)
				}
				rr := RawRequest(t, addr, "GET "+c.path+" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
				require.Equal(t, c.status, rr.Res.StatusCode, "GET %s body=%q", c.path, truncate(rr.Body, 300))
				if c.status != 200 {
					return
				}
				e := decodeEnv(t, rr.Body).Environ
				assert.Equal(t, c.scriptName, e["SCRIPT_NAME"], "SCRIPT_NAME for %s", c.path)
				assert.Equal(t, c.pathInfo, e["PATH_INFO"], "PATH_INFO for %s", c.path)
			})
		}
	})
}

func TestScriptName_MissingScriptLogged(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		r := Get(t, a.URL("/missing"))
		require.Equal(t, 404, r.Status)
		WaitLog(t, a, 3e9, "Target WSGI script not found or unable to stat: "+a.Root+"/does-not-exist.wsgi")
	})
}

func TestScriptName_NoExecCGILogged(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		r := Get(t, a.URL("/noexec/env.wsgi"))
		require.Equal(t, 403, r.Status)
		WaitLog(t, a, 3e9, "Options ExecCGI is off in this directory: "+appsDir()+"/env.wsgi")
	})
}

func TestScriptName_RootMountApplicationGroup(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		d := GetEnv(t, fmt.Sprintf("http://127.0.0.1:%d/x", a.Port2), nil)
		assert.Equal(t, "rootsite.example:"+strconv.Itoa(a.Port2)+"|", d.Environ["mod_wsgi.application_group"])
		assert.Equal(t, "rootsite.example:"+strconv.Itoa(a.Port2)+"|", d.Py["mod_wsgi"].(map[string]any)["application_group"])
	})
}
