package tests

// `apache2 -t` on good and bad configurations.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigTest_BadConfigs(t *testing.T) {
	t.Parallel()
	// badLine is the text of the offending line: the error must name that
	// line ("Syntax error on line N"), and the message must be mod_wsgi's.
	cases := []struct {
		name, snippet, badLine string
		want                   []string
	}{
		{"WSGIPythonPath in VirtualHost", "<VirtualHost 127.0.0.1:@PORT@>\n  WSGIPythonPath /tmp\n</VirtualHost>", "  WSGIPythonPath /tmp",
			[]string{"WSGIPythonPath cannot occur within <VirtualHost> section"}},
		{"WSGIPythonHome in VirtualHost", "<VirtualHost 127.0.0.1:@PORT@>\n  WSGIPythonHome /usr\n</VirtualHost>", "  WSGIPythonHome /usr",
			[]string{"WSGIPythonHome cannot occur within <VirtualHost> section"}},
		{"WSGISocketPrefix in VirtualHost", "<VirtualHost 127.0.0.1:@PORT@>\n  WSGISocketPrefix /tmp/x\n</VirtualHost>", "  WSGISocketPrefix /tmp/x",
			[]string{"WSGISocketPrefix cannot occur within <VirtualHost> section"}},
		{"WSGIRestrictEmbedded in VirtualHost", "<VirtualHost 127.0.0.1:@PORT@>\n  WSGIRestrictEmbedded On\n</VirtualHost>", "  WSGIRestrictEmbedded On",
			[]string{"WSGIRestrictEmbedded cannot occur within <VirtualHost> section"}},
		{"WSGIPythonPath in Directory", "<Directory /tmp>\n  WSGIPythonPath /tmp\n</Directory>", "  WSGIPythonPath /tmp",
			[]string{"WSGIPythonPath not allowed in <Directory> context"}},
		{"unknown WSGIDaemonProcess option", "WSGIDaemonProcess d1 threads=2 bogus-option=1", "WSGIDaemonProcess d1 threads=2 bogus-option=1",
			[]string{"Invalid option to WSGI daemon process definition"}},
		{"WSGIDaemonProcess bad threads", "WSGIDaemonProcess d1 threads=-1", "WSGIDaemonProcess d1 threads=-1",
			[]string{"Invalid thread count for WSGI daemon process."}},
		{"duplicate WSGIDaemonProcess", "WSGIDaemonProcess d1\nWSGIDaemonProcess d1 threads=3", "WSGIDaemonProcess d1 threads=3",
			[]string{"Name duplicates previous WSGI daemon definition."}},
		{"WSGIImportScript before WSGIDaemonProcess", "WSGIImportScript @APPS@/importscript.py process-group=d1 application-group=%{GLOBAL}\nWSGIDaemonProcess d1",
			"WSGIImportScript @APPS@/importscript.py process-group=d1 application-group=%{GLOBAL}",
			[]string{"WSGI process group not yet configured."}},
		{"WSGIImportScript without options", "WSGIImportScript @APPS@/importscript.py", "WSGIImportScript @APPS@/importscript.py",
			[]string{"Name of WSGI application group required."}},
		{"unknown WSGIScriptAlias option", "WSGIScriptAlias /x @APPS@/env.wsgi bogus=1", "WSGIScriptAlias /x @APPS@/env.wsgi bogus=1",
			[]string{"Invalid option to WSGI script alias definition"}},
		{"invalid On/Off", "WSGIPassAuthorization Maybe", "WSGIPassAuthorization Maybe",
			[]string{"WSGIPassAuthorization must be one of: Off | On"}},
		{"invalid On/Off server scope", "WSGIRestrictStdout Perhaps", "WSGIRestrictStdout Perhaps",
			[]string{"WSGIRestrictStdout must be one of: Off | On"}},
		{"invalid WSGIPythonHashSeed", "WSGIPythonHashSeed notanumber", "WSGIPythonHashSeed notanumber", nil},
		{"WSGIMapHEADToGET bad value", "WSGIMapHEADToGET Sometimes", "WSGIMapHEADToGET Sometimes", nil},
		{"missing argument", "WSGIScriptAlias /x", "WSGIScriptAlias /x",
			[]string{"WSGIScriptAlias requires at least two arguments"}},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, code, conf := ConfigTestConf(t, ServerSpec{Snippet: c.snippet})
			assert.NotEqual(t, 0, code, "config must be rejected; output:\n%s", out)
			assert.NotContains(t, out, "Syntax OK")
			line := 0
			bad := asWritten(strings.ReplaceAll(c.badLine, "@APPS@", appsDir()))
			for i, l := range strings.Split(conf, "\n") {
				if l == bad {
					line = i + 1
				}
			}
			require.NotZero(t, line, "offending line %q not found in config", bad)
			assert.Contains(t, out, fmt.Sprintf("Syntax error on line %d of ", line), "the error must point at the offending directive")
			for _, w := range c.want {
				assert.Contains(t, out, w)
			}
		})
	}
}

// fullConfig uses every mod_wsgi 4.9.4 directive and every WSGIDaemonProcess option.
const fullConfig = `
WSGISocketPrefix @ROOT@/run/wsgi
WSGISocketRotation Off
WSGIAcceptMutex default
WSGILazyInitialization On
WSGIRestrictEmbedded Off
WSGIPythonHome /usr
WSGIPythonPath @APPS@/pylib:@APPS@
WSGIPythonEggs @ROOT@/eggs
WSGIPythonOptimize 0
WSGIPythonHashSeed random
WSGIPythonWarnings ignore::DeprecationWarning
WSGIDontWriteBytecode Off
WSGIDestroyInterpreter On
WSGIVerboseDebugging Off
WSGICaseSensitivity On
WSGIRestrictStdin Off
WSGIRestrictStdout Off
WSGIRestrictSignal On
WSGIServerMetrics Off
WSGINewRelicConfigFile @ROOT@/newrelic.ini
WSGINewRelicEnvironment staging
WSGIDaemonProcess full processes=2 threads=5 user=www-data group=www-data \
    supplementary-groups=www-data umask=0022 home=/tmp lang=en_US.UTF-8 locale=en_US.UTF-8 \
    python-home=/usr python-path=@APPS@/pylib python-eggs=@ROOT@/eggs display-name=%{GROUP} \
    stack-size=524288 maximum-requests=1000 restart-interval=3600 inactivity-timeout=300 \
    request-timeout=60 deadlock-timeout=60 startup-timeout=15 graceful-timeout=15 eviction-timeout=0 \
    shutdown-timeout=5 connect-timeout=15 socket-timeout=60 queue-timeout=45 listen-backlog=100 \
    socket-user=www-data send-buffer-size=65536 receive-buffer-size=65536 header-buffer-size=32768 \
    response-buffer-size=65536 response-socket-timeout=60 script-user=www-data \
    cpu-time-limit=0 cpu-priority=0 memory-limit=0 virtual-memory-limit=0 server-metrics=Off \
    newrelic-config-file=@ROOT@/newrelic.ini newrelic-environment=staging
WSGIDaemonProcess other
WSGIImportScript @APPS@/importscript.py process-group=full application-group=%{GLOBAL}
WSGIScriptAlias /app @APPS@/env.wsgi process-group=full application-group=%{GLOBAL} callable-object=application pass-authorization=On
WSGIScriptAliasMatch ^/m/([^/]+) @APPS@/scripts/$1.wsgi process-group=full application-group=%{GLOBAL}
WSGIProcessGroup %{GLOBAL}
WSGIApplicationGroup %{RESOURCE}
WSGICallableObject application
WSGIHandlerScript my-handler @APPS@/env.wsgi process-group=full application-group=%{GLOBAL} pass-authorization=Off
WSGIDispatchScript @APPS@/env.wsgi application-group=%{GLOBAL}
WSGIRestrictProcess full other
WSGIPassApacheRequest Off
WSGIPassAuthorization Off
WSGIScriptReloading On
WSGIErrorOverride Off
WSGIChunkedRequest Off
WSGIMapHEADToGET Auto
WSGIIgnoreActivity Off
WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Proto X-Forwarded-Host
WSGITrustedProxies 127.0.0.1 10.0.0.0/8
WSGIEnableSendfile Off
<Directory @APPS@>
    WSGIProcessGroup full
    WSGIApplicationGroup %{GLOBAL}
    WSGIAccessScript @APPS@/env.wsgi application-group=%{GLOBAL}
    WSGIAuthUserScript @APPS@/env.wsgi application-group=%{GLOBAL}
    WSGIAuthGroupScript @APPS@/env.wsgi application-group=%{GLOBAL}
    WSGIGroupAuthoritative On
    WSGIPassAuthorization On
    WSGIChunkedRequest On
</Directory>
<Location /app>
    WSGIProcessGroup %{ENV:PG}
    WSGIApplicationGroup %{HOST}
    WSGICallableObject %{ENV:CALLABLE}
</Location>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName vhost.example
    WSGIDaemonProcess vhostgroup threads=2
    WSGIProcessGroup vhostgroup
    WSGIImportScript @APPS@/importscript.py process-group=vhostgroup application-group=%{GLOBAL}
    WSGIScriptAlias /v @APPS@/env.wsgi
</VirtualHost>
`

func TestConfigTest_FullModWsgiConfigParses(t *testing.T) {
	t.Parallel()
	out, code := ConfigTest(t, ServerSpec{Snippet: fullConfig})
	assert.Equal(t, 0, code, "output:\n%s", out)
	assert.Contains(t, out, "Syntax OK")
}

func TestConfigTest_CaseInsensitiveOnOff(t *testing.T) {
	t.Parallel()
	out, code := ConfigTest(t, ServerSpec{Snippet: "WSGIPassAuthorization on\nWSGIScriptReloading OFF\nWSGIRestrictSignal oN\n"})
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "Syntax OK")
}
