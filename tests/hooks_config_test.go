package tests

// Configuration errors of the hook directives: apache2 -t output with
// mod_wsgi 4.9.4's words (gowsgi also names the option it refuses).

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHooks_ConfigErrors(t *testing.T) {
	t.Parallel()
	loc := func(body string) string { return "<Location /x>\n    " + body + "\n</Location>\n" }
	for _, c := range []struct{ snippet, msg string }{
		{loc("WSGIAccessScript @APPS@/hooks/access.py process-group=x"), "Invalid option to WSGI access script definition"},
		{loc("WSGIAccessScript @APPS@/hooks/access.py application-group="), "Invalid name for WSGI application group."},
		{loc("WSGIAuthUserScript @APPS@/hooks/auth.py bogus=1"), "Invalid option to WSGI auth user script definition"},
		{loc("WSGIAuthGroupScript @APPS@/hooks/groups.py bogus=1"), "Invalid option to WSGI auth group script definition"},
		{loc("WSGIDispatchScript @APPS@/hooks/dispatch.py process-group=x"), "Invalid option to WSGI dispatch script definition"},
		{loc("WSGIGroupAuthoritative maybe"), "WSGIGroupAuthoritative must be one of: Off | On"},
		{"WSGIHandlerScript h @APPS@/hooks/handler.py bogus=1\n", "Invalid option to WSGI handler script definition"},
		{"WSGIHandlerScript h @APPS@/hooks/handler.py pass-authorization=maybe\n", "Invalid value for authorization flag."},
		{"WSGIHandlerScript h\n", "Location of handler script not supplied."},
		{"WSGIAccessScript @APPS@/hooks/access.py\n", "WSGIAccessScript not allowed here"},
		{"WSGIAuthUserScript @APPS@/hooks/auth.py\n", "WSGIAuthUserScript not allowed here"},
		{"WSGIAuthGroupScript @APPS@/hooks/groups.py\n", "WSGIAuthGroupScript not allowed here"},
		{"WSGIGroupAuthoritative On\n", "WSGIGroupAuthoritative not allowed here"},
	} {
		out, code := ConfigTest(t, ServerSpec{Snippet: c.snippet})
		assert.NotEqual(t, 0, code, "%q must be rejected:\n%s", c.snippet, out)
		assert.Contains(t, out, c.msg, "%q", c.snippet)
	}
	// accepted: server-level dispatch and handler scripts, the options
	// each directive takes, WSGIGroupAuthoritative in a directory
	out, code := ConfigTest(t, ServerSpec{Snippet: "" +
		"WSGIDispatchScript @APPS@/hooks/dispatch.py application-group=%{GLOBAL}\n" +
		"WSGIHandlerScript h @APPS@/hooks/handler.py application-group=g pass-authorization=On\n" +
		loc(strings.Join([]string{
			"WSGIAccessScript @APPS@/hooks/access.py application-group=a",
			"WSGIAuthUserScript @APPS@/hooks/auth.py application-group=a",
			"WSGIAuthGroupScript @APPS@/hooks/groups.py application-group=a",
			"WSGIGroupAuthoritative Off",
			"WSGIDispatchScript @APPS@/hooks/dispatch.py",
		}, "\n    "))})
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "Syntax OK")
}
