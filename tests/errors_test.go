package tests

// Application errors and logging to the Apache error log.

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrors_UncaughtException(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		for _, op := range []string{"raise", "raiselater"} {
			op := op
			t.Run(op, func(t *testing.T) {
				tok := token()
				rr, lport, err := RawRequestLocal(t, a.Addr(), getRaw("/err?op="+op+"&tok="+tok))
				require.NoError(t, err)
				assert.Equal(t, 500, rr.Res.StatusCode)
				assert.NotContains(t, rr.Body, tok, "the traceback must not reach the client")
				WaitLog(t, a, 3*time.Second, "RuntimeError: ")
				lines := ClientLogLines(a, lport)
				assert.Contains(t, lines, "Exception occurred processing WSGI script '"+appsDir()+"/errors.wsgi'")
				assert.Contains(t, lines, "Traceback (most recent call last):")
				assert.Contains(t, lines, tok)
				assert.Contains(t, lines, errorTag(a))
			})
		}
	})
}

func TestErrors_NoneReturned(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		rr, lport, err := RawRequestLocal(t, a.Addr(), getRaw("/err?op=noreturn"))
		require.NoError(t, err)
		assert.Equal(t, 500, rr.Res.StatusCode)
		WaitLog(t, a, 3*time.Second, "TypeError: ")
		assert.Contains(t, ClientLogLines(a, lport), "Exception occurred processing WSGI script")
	})
}

func TestErrors_OutputLandsInErrorLog(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		for op, marker := range map[string]string{"print": "GOWSGI-PRINT", "stderr": "GOWSGI-STDERR", "errors": "GOWSGI-WSGIERRORS"} {
			op, marker := op, marker
			t.Run(op, func(t *testing.T) {
				tok := token()
				r := Get(t, a.URL("/err?op="+op+"&tok="+tok))
				require.Equal(t, 200, r.Status)
				assert.Equal(t, "logged "+tok, r.Body)
				WaitLog(t, a, 3*time.Second, marker+" "+tok)
				lines := LogLinesWith(a, marker+" "+tok)
				require.Len(t, lines, 1, "exactly one log line")
				assert.Contains(t, lines[0], errorTag(a))
				if op == "errors" {
					// wsgi.errors is per request: tagged with the client
					assert.Contains(t, lines[0], "[client 127.0.0.1:")
				}
				assert.False(t, strings.HasSuffix(strings.TrimSpace(lines[0]), "\\n"))
			})
		}
	})
}
