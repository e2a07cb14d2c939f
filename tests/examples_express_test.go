package tests

// conf/examples/express.conf, the layout mod_wsgi-express setup-server
// generates (a handler script for every URL that is not a static file, a
// daemon group, WSGIRestrictEmbedded On, the handler preloaded), served end
// to end by gowsgi and by mod_wsgi from the same file.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The handler: a WSGI app named handle_request that reports what it saw
// (its pid only when asked: it differs between any two servers).
const expressHandler = `import os, json
def handle_request(environ, start_response):
    keys = ('mod_wsgi.request_handler', 'mod_wsgi.handler_script', 'mod_wsgi.process_group',
            'mod_wsgi.application_group', 'mod_wsgi.callable_object', 'SCRIPT_NAME', 'PATH_INFO',
            'REQUEST_METHOD', 'HTTP_AUTHORIZATION', 'SCRIPT_FILENAME')
    if environ.get('QUERY_STRING') == 'short':
        # nothing that depends on the server root: its length differs between servers
        keys = ('mod_wsgi.request_handler', 'REQUEST_METHOD', 'PATH_INFO')
    seen = {k: environ.get(k) for k in keys}
    if environ.get('QUERY_STRING') == 'pid':
        seen['pid'] = os.getpid()
    body = json.dumps(seen, sort_keys=True).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]
`

func expressSpec(t *testing.T, m Module) ServerSpec {
	example, err := os.ReadFile(filepath.Join(repoRoot(), "conf", "examples", "express.conf"))
	require.NoError(t, err)
	conf := strings.ReplaceAll(string(example), "/srv/express", "@ROOT@/srv/express")
	// The harness serves its own DocumentRoot; the example's comes after
	// and wins.
	require.NotEqual(t, string(example), conf)
	static := []string{"srv/express/htdocs/static.txt", "srv/express/htdocs/sub/page.txt"}
	return ServerSpec{Module: m, MPM: "event", Snippet: conf, Files: map[string]string{
		"srv/express/handler.wsgi": expressHandler,
		static[0]:                  "static file\n",
		static[1]:                  "another\n",
	}, Setup: func(root string) error {
		// One mtime on both servers: Last-Modified is compared.
		when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		for _, f := range static {
			if err := os.Chtimes(filepath.Join(root, f), when, when); err != nil {
				return err
			}
		}
		return nil
	}}
}

func TestExamples_ExpressLayout(t *testing.T) {
	a := StartApache(t, expressSpec(t, targetModule()))

	r := Get(t, a.URL("/static.txt"))
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "static file\n", r.Body, "a static file is served by Apache, not the handler")

	r = Do(t, "GET", a.URL("/app/some/path?pid"), nil, map[string]string{"Authorization": "Bearer tok"})
	require.Equal(t, 200, r.Status, r.Body)
	seen := DecodeJSON(t, r.Body)
	assert.Equal(t, "wsgi-handler", seen["mod_wsgi.request_handler"])
	assert.Equal(t, filepath.Join(a.Root, "srv/express/handler.wsgi"), seen["mod_wsgi.handler_script"])
	assert.Equal(t, "express", seen["mod_wsgi.process_group"])
	assert.Equal(t, "", seen["mod_wsgi.application_group"])
	assert.Equal(t, "handle_request", seen["mod_wsgi.callable_object"])
	assert.Equal(t, "Bearer tok", seen["HTTP_AUTHORIZATION"], "WSGIPassAuthorization On")
	assert.Equal(t, filepath.Join(a.Root, "srv/express/htdocs/app"), seen["SCRIPT_FILENAME"])
	assert.Equal(t, "/app/some/path", seen["SCRIPT_NAME"].(string)+seen["PATH_INFO"].(string))
	// display-name=%{GROUP} names the daemon processes "(wsgi:express)":
	// the handler runs in one of them, and Apache's own children load no
	// Python (WSGIRestrictEmbedded On).
	pid := int(seen["pid"].(float64))
	var daemons, children []int
	for _, child := range a.ChildPids() {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/cmdline")
		if strings.HasPrefix(string(cmdline), "(wsgi:express)") {
			daemons = append(daemons, child)
		} else {
			children = append(children, child)
		}
	}
	assert.Contains(t, daemons, pid, "the handler runs in the daemon group")
	require.NotEmpty(t, children)
	if targetModule() == ModGowsgi {
		for _, child := range children {
			maps, err := os.ReadFile("/proc/" + strconv.Itoa(child) + "/maps")
			require.NoError(t, err)
			assert.False(t, strings.Contains(string(maps), "libpython"), "Apache child %d loaded Python", child)
		}
	}
}

// The same requests to mod_wsgi and gowsgi give the same answers.
func TestDifferential_ExpressLayout(t *testing.T) {
	differentialOnly(t)
	ref := StartApache(t, expressSpec(t, ModModWsgi))
	cand := StartApache(t, expressSpec(t, ModGowsgi))
	for _, rq := range []diffRequest{
		{name: "static", path: "/static.txt"},
		{name: "static in a subdirectory", path: "/sub/page.txt"},
		{name: "directory", path: "/sub/"},
		{name: "handler", path: "/app/x?y=1"},
		{name: "handler HEAD", method: "HEAD", path: "/app/x?short"},
		{name: "handler POST", method: "POST", path: "/form", body: "a=1"},
	} {
		rq := rq
		t.Run(rq.name, func(t *testing.T) {
			compareResponses(t, rq, ref, cand, diffDo(t, ref, rq), diffDo(t, cand, rq))
		})
	}
}
