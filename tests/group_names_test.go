package tests

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A process or application group name is bytes from the configuration, not
// always UTF-8: mod_wsgi decodes it as Latin-1 for mod_wsgi.process_group
// and mod_wsgi.application_group, and such a group starts and serves (it
// used to fail setting up its first interpreter).
func TestGroupNames_NotUTF8(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: "WSGIDaemonProcess \"gw\xffn\" threads=2\n" +
			"WSGIScriptAlias /odd @APPS@/daemon/probe.wsgi process-group=\"gw\xffn\" application-group=\"app\xe9\"\n" +
			"WSGIScriptAlias /emb @APPS@/daemon/probe.wsgi application-group=\"app\xe9\"\n"})
		for _, path := range []string{"/odd", "/emb"} {
			f := getFacts(t, a.URL(path), nil)
			if path == "/odd" {
				assert.Equal(t, "gw\u00ffn", f.Module["process_group"], "Latin-1, as mod_wsgi decodes it")
			} else {
				assert.Equal(t, "", f.Module["process_group"])
			}
			assert.Equal(t, "app\u00e9", f.Module["application_group"], path)
		}
		assert.NotContains(t, a.ErrorLogContent(), "codec can't decode")
	})
}
