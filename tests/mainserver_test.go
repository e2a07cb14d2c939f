package tests

// The "main" server configuration: every per-directory feature that can be
// exercised in one Apache, shared by the environ, scriptname, input,
// response, errors, directives, frameworks and differential tests.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const mainSnippet = `
# --- SCRIPT_NAME / PATH_INFO table (reference 2.2)
WSGIScriptAlias /emb @APPS@/env.wsgi
WSGIScriptAlias /slash/ @APPS@/env.wsgi
WSGIScriptAlias /dir/ @APPS@/scripts/
WSGIScriptAliasMatch ^/match/([^/]+) @APPS@/scripts/$1.wsgi
WSGIScriptAlias /missing @ROOT@/does-not-exist.wsgi

# AddHandler route, with and without ExecCGI
Alias /ht/ @APPS@/
<Location /ht/>
    Options +ExecCGI
    AddHandler wsgi-script .wsgi
</Location>
Alias /noexec/ @APPS@/
<Location /noexec/>
    Options -ExecCGI
    AddHandler wsgi-script .wsgi
</Location>

# --- input
WSGIScriptAlias /input @APPS@/input.wsgi
WSGIScriptAlias /inputchunked @APPS@/input.wsgi
<Location /inputchunked>
    WSGIChunkedRequest On
</Location>

# --- response / errors
WSGIScriptAlias /resp @APPS@/response.wsgi
WSGIScriptAlias /respsendfile @APPS@/response.wsgi
<Location /respsendfile>
    WSGIEnableSendfile On
</Location>
WSGIScriptAlias /err @APPS@/errors.wsgi
WSGIScriptAlias /sleep @APPS@/sleep.wsgi

# --- callable object
WSGIScriptAlias /callopt @APPS@/env.wsgi callable-object=other
WSGIScriptAlias /calldir @APPS@/env.wsgi
<Location /calldir>
    WSGICallableObject other
</Location>
WSGIScriptAlias /callenv @APPS@/env.wsgi
<Location /callenv>
    SetEnv MYCALLABLE fromenv
    WSGICallableObject %{ENV:MYCALLABLE}
</Location>

# --- application groups
WSGIScriptAlias /grp-opt @APPS@/env.wsgi application-group=optgroup
WSGIScriptAlias /grp-global @APPS@/env.wsgi
<Location /grp-global>
    WSGIApplicationGroup %{GLOBAL}
</Location>
WSGIScriptAlias /grp-resource @APPS@/env.wsgi
<Location /grp-resource>
    WSGIApplicationGroup %{RESOURCE}
</Location>
WSGIScriptAlias /grp-server @APPS@/env.wsgi
<Location /grp-server>
    WSGIApplicationGroup %{SERVER}
</Location>
WSGIScriptAlias /grp-env @APPS@/env.wsgi
<Location /grp-env>
    SetEnv MYAPPGROUP fromenv
    WSGIApplicationGroup %{ENV:MYAPPGROUP}
</Location>
WSGIScriptAlias /grp-literal @APPS@/env.wsgi
<Location /grp-literal>
    WSGIApplicationGroup literalgroup
</Location>
WSGIScriptAlias /MixedCase @APPS@/env.wsgi
WSGIScriptAlias /iso-a1 @APPS@/env.wsgi application-group=isoA
WSGIScriptAlias /iso-a2 @APPS@/scripts/one.wsgi application-group=isoA
WSGIScriptAlias /iso-b @APPS@/env.wsgi application-group=isoB

# --- authorization
WSGIScriptAlias /auth-default @APPS@/env.wsgi
WSGIScriptAlias /auth-on @APPS@/env.wsgi
<Location /auth-on>
    WSGIPassAuthorization On
</Location>
WSGIScriptAlias /auth-opt @APPS@/env.wsgi pass-authorization=On
WSGIScriptAlias /auth-cgi @APPS@/env.wsgi
<Location /auth-cgi>
    CGIPassAuth On
</Location>

# --- HEAD mapping
WSGIScriptAlias /headget @APPS@/env.wsgi
<Location /headget>
    WSGIMapHEADToGET On
</Location>

# --- trusted proxies
WSGIScriptAlias /proxy-trusted @APPS@/env.wsgi
<Location /proxy-trusted>
    WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Proto
    WSGITrustedProxies 127.0.0.1
</Location>
WSGIScriptAlias /proxy-notrust @APPS@/env.wsgi
<Location /proxy-notrust>
    WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Proto
    WSGITrustedProxies 10.9.9.9
</Location>
WSGIScriptAlias /proxy-all @APPS@/env.wsgi
<Location /proxy-all>
    WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Proto
</Location>

# --- script reloading (copies in the server root)
WSGIScriptAlias /reload-on @ROOT@/reload/on.wsgi
WSGIScriptAlias /reload-off @ROOT@/reload/off.wsgi
<Location /reload-off>
    WSGIScriptReloading Off
</Location>

# --- SetEnv / SetEnvIf / RewriteRule variables
WSGIScriptAlias /setenv @APPS@/env.wsgi
<Location /setenv>
    SetEnv GOWSGI_SETENV hello-setenv
    RewriteEngine On
    RewriteRule .* - [E=GOWSGI_REWRITE:from-rewrite]
</Location>
SetEnvIf User-Agent "^gowsgi-ua" GOWSGI_SETENVIF=matched

# --- frameworks
WSGIScriptAlias /flask @APPS@/flaskapp/app.wsgi
WSGIScriptAlias /django @APPS@/djangoapp/django.wsgi

# --- a second listener with a root mount
<VirtualHost 127.0.0.1:@PORT2@>
    ServerName rootsite.example
    WSGIScriptAlias / @APPS@/env.wsgi
</VirtualHost>
`

func reloadScript(version string) string {
	b, err := os.ReadFile(filepath.Join(appsDir(), "reload.wsgi.tmpl"))
	if err != nil {
		panic(err)
	}
	return strings.ReplaceAll(string(b), "@VERSION@", version)
}

func mainSpec(module Module, mpm string) ServerSpec {
	return ServerSpec{
		Module:    module,
		MPM:       mpm,
		Snippet:   mainSnippet,
		ExtraPort: true,
		Files: map[string]string{
			"reload/on.wsgi":  reloadScript("1"),
			"reload/off.wsgi": reloadScript("1"),
		},
	}
}

// mainServer returns the shared main server of the target module for mpm.
func mainServer(t testing.TB, mpm string) *Apache {
	t.Helper()
	return SharedApache(t, "main", mainSpec(targetModule(), mpm))
}
