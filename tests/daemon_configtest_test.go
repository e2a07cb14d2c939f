package tests

// `apache2 -t` on WSGIDaemonProcess options that must be refused. (threads=-1,
// a duplicate group name and an unknown option are in configtest_test.go.)

import (
	"fmt"
	"os/user"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDaemon_ConfigErrors(t *testing.T) {
	t.Parallel()
	const nosuchUser, nosuchGroup = "gwt-nosuch-user", "gwt-nosuch-group"
	_, err := user.Lookup(nosuchUser)
	require.Error(t, err, "user %s must not exist", nosuchUser)
	_, err = user.LookupGroup(nosuchGroup)
	require.Error(t, err, "group %s must not exist", nosuchGroup)

	cases := []struct {
		name, line string
		// want is mod_wsgi's text; withLine: mod_wsgi reports it as a
		// syntax error of the directive's line. Without, Apache's
		// ap_uname2id/ap_gname2id print the message and exit while the
		// directive is parsed, with no line (mod_wsgi); gowsgi reports the
		// same text as a syntax error of the line.
		want     string
		withLine bool
	}{
		{"user=root", "WSGIDaemonProcess d1 user=root", "WSGI process blocked from running as root.", true},
		{"user=#0", "WSGIDaemonProcess d1 user=#0", "WSGI process blocked from running as root.", true},
		{"unknown user", "WSGIDaemonProcess d1 user=" + nosuchUser, "AH00543: apache2: bad user name " + nosuchUser, false},
		{"unknown group", "WSGIDaemonProcess d1 group=" + nosuchGroup, "AH00544: apache2: bad group name " + nosuchGroup, false},
		{"relative home", "WSGIDaemonProcess d1 home=relative/dir", "Invalid home directory for WSGI daemon process.", true},
		{"processes=0", "WSGIDaemonProcess d1 processes=0", "Invalid process count for WSGI daemon process.", true},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, code, conf := ConfigTestConf(t, ServerSpec{Snippet: c.line + "\nWSGIScriptAlias /d @APPS@/env.wsgi process-group=d1\n"})
			assert.NotEqual(t, 0, code, "config must be rejected; output:\n%s", out)
			assert.NotContains(t, out, "Syntax OK")
			line := 0
			for i, l := range strings.Split(conf, "\n") {
				if l == asWritten(c.line) {
					line = i + 1
				}
			}
			require.NotZero(t, line)
			syntax := fmt.Sprintf("Syntax error on line %d of ", line)
			if c.withLine || targetModule() == ModGowsgi {
				assert.Contains(t, out, syntax, "the error must point at the directive")
			}
			if c.withLine || targetModule() == ModModWsgi {
				assert.Contains(t, out, c.want)
			} else {
				// gowsgi: the message without Apache's AH number and program name
				assert.Contains(t, out, c.want[strings.Index(c.want, "bad "):])
			}
		})
	}
}

// processes= has a ceiling: mod_wsgi forks any count at start, so a slip
// (processes=65536, found by TestConfigTest_GeneratedLines) took the host
// down before Apache answered. 1024 is accepted, 1025 refused with its line.
func TestGowsgiOnly_ProcessesCeiling(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	out, code := ConfigTest(t, ServerSpec{Snippet: "WSGIDaemonProcess d1 processes=1024\n"})
	assert.Equal(t, 0, code, "output:\n%s", out)
	const bad = "WSGIDaemonProcess d1 processes=65536"
	out, code, conf := ConfigTestConf(t, ServerSpec{Snippet: bad + "\n"})
	assert.Equal(t, 1, code, "output:\n%s", out)
	line := 0
	for i, l := range strings.Split(conf, "\n") {
		if l == asWritten(bad) {
			line = i + 1
		}
	}
	require.NotZero(t, line)
	assert.Contains(t, out, fmt.Sprintf("Syntax error on line %d of ", line))
	assert.Contains(t, out, "WSGIDaemonProcess: Invalid process count for WSGI daemon process: processes=65536 is more than one group may have (1024).")
}
