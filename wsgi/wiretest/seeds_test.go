package wiretest_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	w "github.com/gowsgi/gowsgi/wsgi/wiretest"
)

// The fuzzers' seed corpora (wsgi/fuzz, `make fuzz`) are made here from the
// real encoders: `go test ./wsgi/wiretest -run Seeds -update-seeds` writes
// them, and without the flag the test fails when they are out of date.
var updateSeeds = flag.Bool("update-seeds", false, "rewrite wsgi/testdata/fuzz from the encoders")

func getRequest(method string, withBody bool) *w.Request {
	r := &w.Request{
		ScriptMtime:      1700000000000000,
		RequestStart:     1700000001000000,
		QueueStart:       1700000001000100,
		Script:           "/srv/www/app.wsgi",
		ProcessGroup:     "site",
		ApplicationGroup: "localhost|",
		CallableObject:   "application",
		EnvKeys: []string{"REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_PROTOCOL",
			"HTTP_HOST", "REMOTE_ADDR", "wsgi.url_scheme"},
		EnvVals: []string{method, "", "/hello", "a=1&b=", "HTTP/1.1", "localhost", "127.0.0.1", "http"},
	}
	for i := range r.Secret {
		r.Secret[i] = byte(0xa5 ^ i)
	}
	if withBody {
		r.EnvKeys = append(r.EnvKeys, "CONTENT_LENGTH", "CONTENT_TYPE")
		r.EnvVals = append(r.EnvVals, "11", "text/plain")
	}
	return r
}

func seedFrames(t *testing.T, puts ...func(*w.Buf) bool) []byte {
	b := w.NewBuf()
	defer b.Free()
	for i, put := range puts {
		require.True(t, put(b), "frame %d", i)
	}
	return b.Bytes()
}

func seeds(t *testing.T) map[string]map[string][]byte {
	reloading := getRequest("GET", false)
	reloading.Flags = w.ReqScriptReloading | w.ReqEnableSendfile | w.ReqHeadOnly
	reloading.Restarts = 1
	reloading.Ticket = 3
	reloading.TicketSeq = 4321<<32 | 7
	reloading.HandlerScript = "/srv/www/handler.wsgi"
	modwsgi6 := getRequest("GET", false)
	modwsgi6.Flags = w.ReqModwsgi6 | w.ReqIgnoreActivity
	hello := &w.Headers{Status: 200, StatusLine: "200 OK", Names: []string{"Content-Type", "Content-Length"},
		Values: []string{"text/plain", "13"}}
	return map[string]map[string][]byte{
		"daemon_side": {
			"get": seedFrames(t,
				func(b *w.Buf) bool { return b.PutRequest(getRequest("GET", false), w.Opts{}) }),
			"post_body": seedFrames(t,
				func(b *w.Buf) bool { return b.PutRequest(getRequest("POST", true), w.Opts{}) },
				func(b *w.Buf) bool { return b.PutFrame(w.FrameBody, []byte("hello ")) },
				func(b *w.Buf) bool { return b.PutFrame(w.FrameBody, []byte("world")) },
				func(b *w.Buf) bool { return b.PutFrame(w.FrameBodyEnd, nil) }),
			"body_error": seedFrames(t,
				func(b *w.Buf) bool { return b.PutRequest(getRequest("PUT", true), w.Opts{}) },
				func(b *w.Buf) bool { return b.PutFrame(w.FrameBody, []byte("hel")) },
				func(b *w.Buf) bool {
					return b.PutFrame(w.FrameBodyError, []byte("The client closed the connection"))
				}),
			"empty_request": seedFrames(t,
				func(b *w.Buf) bool { return b.PutRequest(&w.Request{}, w.Opts{}) },
				func(b *w.Buf) bool { return b.PutFrame(w.FrameBodyEnd, nil) }),
			"modwsgi6_ignore_activity": seedFrames(t,
				func(b *w.Buf) bool { return b.PutRequest(modwsgi6, w.Opts{}) },
				func(b *w.Buf) bool { return b.PutFrame(w.FrameBodyEnd, nil) }),
			"reloading_replay": seedFrames(t,
				func(b *w.Buf) bool { return b.PutRequest(reloading, w.Opts{}) },
				func(b *w.Buf) bool { return b.PutFrame(w.FrameBodyEnd, nil) }),
		},
		"child_side": {
			"hello": seedFrames(t,
				func(b *w.Buf) bool { return b.PutAccept(1234, 0) },
				func(b *w.Buf) bool { return b.PutHeaders(hello, w.Opts{}) },
				func(b *w.Buf) bool { return b.PutData(0, []byte("Hello World!\n")) },
				func(b *w.Buf) bool { return b.PutEnd(w.EndComplete) }),
			"read_body": seedFrames(t,
				func(b *w.Buf) bool { return b.PutAccept(1234, 41) },
				func(b *w.Buf) bool { return b.PutU32(w.FrameRead, 8192) },
				func(b *w.Buf) bool { return b.PutU32(w.FrameRead, 1) },
				func(b *w.Buf) bool { return b.PutLog(6, []byte("read 11 bytes")) },
				func(b *w.Buf) bool { return b.PutHeaders(&w.Headers{Status: 201, StatusLine: "201 Created"}, w.Opts{}) },
				func(b *w.Buf) bool { return b.PutData(w.DataFlush, nil) },
				func(b *w.Buf) bool { return b.PutEnd(w.EndComplete) }),
			"app_error": seedFrames(t,
				func(b *w.Buf) bool { return b.PutAccept(99, 3) },
				func(b *w.Buf) bool { return b.PutLog(3, []byte("Traceback (most recent call last):\x00")) },
				func(b *w.Buf) bool { return b.PutError(500, w.CauseApp, "Exception occurred processing WSGI script") }),
			"shutdown": seedFrames(t,
				func(b *w.Buf) bool { return b.PutAccept(7, 1000) },
				func(b *w.Buf) bool { return b.PutError(503, w.CauseShutdown, "") }),
			"interrupted": seedFrames(t,
				func(b *w.Buf) bool { return b.PutAccept(1234, 2) },
				func(b *w.Buf) bool { return b.PutError(504, w.CauseInterrupted, "request-timeout=2") }),
			"incomplete": seedFrames(t,
				func(b *w.Buf) bool { return b.PutAccept(1234, 5) },
				func(b *w.Buf) bool {
					return b.PutHeaders(&w.Headers{Status: 200, StatusLine: "200 OK", Names: []string{"Content-Length"},
						Values: []string{"100"}}, w.Opts{})
				},
				func(b *w.Buf) bool { return b.PutData(w.DataFlush, []byte("0123456789")) },
				func(b *w.Buf) bool { return b.PutEnd(w.EndIncomplete) }),
			"kept": seedFrames(t,
				func(b *w.Buf) bool { return b.PutAccept(1234, 6) },
				func(b *w.Buf) bool { return b.PutHeaders(hello, w.Opts{}) },
				func(b *w.Buf) bool { return b.PutData(0, []byte("Hello World!\n")) },
				func(b *w.Buf) bool { return b.PutEnd(w.EndKeep) }),
			"goodbye": seedFrames(t,
				func(b *w.Buf) bool { return b.PutFrame(w.FrameGoodbye, nil) }),
		},
	}
}

func TestFuzzSeeds(t *testing.T) {
	for dir, files := range seeds(t) {
		path := filepath.Join("..", "testdata", "fuzz", dir)
		if *updateSeeds {
			require.NoError(t, os.RemoveAll(path))
			require.NoError(t, os.MkdirAll(path, 0o755))
			for name, data := range files {
				require.NoError(t, os.WriteFile(filepath.Join(path, name), data, 0o644))
			}
			continue
		}
		entries, err := os.ReadDir(path)
		require.NoError(t, err, "run: go test ./wsgi/wiretest -run Seeds -update-seeds")
		var have, want []string
		for _, e := range entries {
			have = append(have, e.Name())
		}
		for name, data := range files {
			want = append(want, name)
			got, err := os.ReadFile(filepath.Join(path, name))
			if assert.NoError(t, err) {
				assert.True(t, bytes.Equal(data, got), "%s/%s is out of date: run with -update-seeds", dir, name)
			}
		}
		sort.Strings(want)
		assert.Equal(t, want, have, "%s: stale or missing seeds", dir)
	}
}
