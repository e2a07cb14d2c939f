package tests

// The "hooks" server configuration: WSGIHandlerScript, WSGIDispatchScript,
// WSGIAccessScript, WSGIAuthUserScript (Basic and Digest) and
// WSGIAuthGroupScript, composed with Apache's own auth modules. Scripts in
// apps/hooks/; the hook scripts write what they saw into
// <ServerRoot>/scratch/<X-Hooks-Dump>-<function>.json (see _dump.py).

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The handler scripts have a server of their own, so that their test does
// not depend on the other hooks.
const hooksHandlerSnippet = `
WSGIDaemonProcess hooksd threads=2

# --- WSGIHandlerScript
WSGIHandlerScript hs-emb @APPS@/hooks/handler.py
WSGIHandlerScript hs-daemon @APPS@/hooks/handler.py process-group=hooksd application-group=%{GLOBAL}
WSGIHandlerScript hs-pass @APPS@/hooks/handler.py pass-authorization=On
<Location /hs-emb>
    SetHandler hs-emb
</Location>
<Location /hs-daemon>
    SetHandler hs-daemon
</Location>
<Location /hs-pass>
    SetHandler hs-pass
</Location>
Alias /hs-add @ROOT@/htdocs/hsadd
<Directory @ROOT@/htdocs/hsadd>
    AddHandler hs-emb .hx
</Directory>
`

const hooksSnippet = `
<IfModule !auth_basic_module>
    LoadModule auth_basic_module /usr/lib/apache2/modules/mod_auth_basic.so
</IfModule>
<IfModule !auth_digest_module>
    LoadModule auth_digest_module /usr/lib/apache2/modules/mod_auth_digest.so
</IfModule>
<IfModule !authn_file_module>
    LoadModule authn_file_module /usr/lib/apache2/modules/mod_authn_file.so
</IfModule>
<IfModule !authz_user_module>
    LoadModule authz_user_module /usr/lib/apache2/modules/mod_authz_user.so
</IfModule>
<IfModule !access_compat_module>
    LoadModule access_compat_module /usr/lib/apache2/modules/mod_access_compat.so
</IfModule>

WSGIDaemonProcess hooksd threads=2

# --- WSGIDispatchScript
WSGIScriptAlias /disp @APPS@/env.wsgi
<Location /disp>
    WSGIDispatchScript @APPS@/hooks/dispatch.py
</Location>
WSGIScriptAlias /disp-grp @APPS@/env.wsgi
<Location /disp-grp>
    WSGIDispatchScript @APPS@/hooks/dispatch.py application-group=dispgroup
</Location>
WSGIScriptAlias /disp-syntax @APPS@/env.wsgi
<Location /disp-syntax>
    WSGIDispatchScript @APPS@/hooks/broken/syntax.py
</Location>
WSGIScriptAlias /disp-missing @APPS@/env.wsgi
<Location /disp-missing>
    WSGIDispatchScript @APPS@/hooks/broken/does-not-exist.py
</Location>
WSGIScriptAlias /disp-nofunc @APPS@/env.wsgi
<Location /disp-nofunc>
    WSGIDispatchScript @APPS@/hooks/broken/nofunc.py
</Location>

# --- WSGIAccessScript
WSGIScriptAlias /acc @APPS@/env.wsgi
<Location /acc>
    WSGIAccessScript @APPS@/hooks/access.py
</Location>
WSGIScriptAlias /acc-grp @APPS@/env.wsgi
<Location /acc-grp>
    WSGIAccessScript @APPS@/hooks/access.py application-group=accgroup
</Location>
WSGIScriptAlias /acc-compat-deny @APPS@/env.wsgi
<Location /acc-compat-deny>
    WSGIAccessScript @APPS@/hooks/access.py
    Order deny,allow
    Deny from all
</Location>
WSGIScriptAlias /acc-any @APPS@/env.wsgi
<Location /acc-any>
    WSGIAccessScript @APPS@/hooks/access.py
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/auth.py
    Require valid-user
    Satisfy Any
</Location>
WSGIScriptAlias /acc-pass @APPS@/env.wsgi
<Location /acc-pass>
    WSGIPassAuthorization On
    WSGIAccessScript @APPS@/hooks/access.py
</Location>
WSGIScriptAlias /acc-missing @APPS@/env.wsgi
<Location /acc-missing>
    WSGIAccessScript @APPS@/hooks/broken/does-not-exist.py
</Location>
WSGIScriptAlias /acc-syntax @APPS@/env.wsgi
<Location /acc-syntax>
    WSGIAccessScript @APPS@/hooks/broken/syntax.py
</Location>
WSGIScriptAlias /acc-raises @APPS@/env.wsgi
<Location /acc-raises>
    WSGIAccessScript @APPS@/hooks/broken/raises.py
</Location>
WSGIScriptAlias /acc-nofunc @APPS@/env.wsgi
<Location /acc-nofunc>
    WSGIAccessScript @APPS@/hooks/broken/nofunc.py
</Location>

# --- WSGIAuthUserScript, Basic
WSGIScriptAlias /basic @APPS@/env.wsgi
<Location /basic>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/auth.py
    Require valid-user
</Location>
WSGIScriptAlias /basic-grp @APPS@/env.wsgi
<Location /basic-grp>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/auth.py application-group=authgroup
    Require valid-user
</Location>
WSGIScriptAlias /basic-pass @APPS@/env.wsgi
<Location /basic-pass>
    WSGIPassAuthorization On
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/auth.py
    Require valid-user
</Location>
WSGIScriptAlias /basic-file @APPS@/env.wsgi
<Location /basic-file>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider file wsgi
    AuthUserFile @ROOT@/htpasswd
    WSGIAuthUserScript @APPS@/hooks/auth.py
    Require valid-user
</Location>
WSGIScriptAlias /basic-missing @APPS@/env.wsgi
<Location /basic-missing>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/broken/does-not-exist.py
    Require valid-user
</Location>
WSGIScriptAlias /basic-syntax @APPS@/env.wsgi
<Location /basic-syntax>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/broken/syntax.py
    Require valid-user
</Location>
WSGIScriptAlias /basic-raises @APPS@/env.wsgi
<Location /basic-raises>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/broken/raises.py
    Require valid-user
</Location>
WSGIScriptAlias /basic-nofunc @APPS@/env.wsgi
<Location /basic-nofunc>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/broken/nofunc.py
    Require valid-user
</Location>

# --- WSGIAuthUserScript, Digest
WSGIScriptAlias /digest @APPS@/env.wsgi
<Location /digest>
    AuthType Digest
    AuthName "hooks-realm"
    AuthDigestProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/auth.py
    Require valid-user
</Location>
WSGIScriptAlias /digest-nofunc @APPS@/env.wsgi
<Location /digest-nofunc>
    AuthType Digest
    AuthName "hooks-realm"
    AuthDigestProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/broken/nofunc.py
    Require valid-user
</Location>

# --- WSGIAuthGroupScript
WSGIScriptAlias /group @APPS@/env.wsgi
<Location /group>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/auth.py
    WSGIAuthGroupScript @APPS@/hooks/groups.py
    Require wsgi-group admins editors
</Location>
WSGIScriptAlias /group-nonauth @APPS@/env.wsgi
<Location /group-nonauth>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/auth.py
    WSGIAuthGroupScript @APPS@/hooks/groups.py
    WSGIGroupAuthoritative Off
    Require wsgi-group admins
</Location>
WSGIScriptAlias /group-any @APPS@/env.wsgi
<Location /group-any>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/auth.py
    WSGIAuthGroupScript @APPS@/hooks/groups.py
    <RequireAny>
        Require user carol
        Require wsgi-group admins
    </RequireAny>
</Location>
WSGIScriptAlias /group-missing @APPS@/env.wsgi
<Location /group-missing>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/auth.py
    WSGIAuthGroupScript @APPS@/hooks/broken/does-not-exist.py
    Require wsgi-group admins
</Location>
WSGIScriptAlias /group-nofunc @APPS@/env.wsgi
<Location /group-nofunc>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/auth.py
    WSGIAuthGroupScript @APPS@/hooks/broken/nofunc.py
    Require wsgi-group admins
</Location>
WSGIScriptAlias /group-noscript @APPS@/env.wsgi
<Location /group-noscript>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/hooks/auth.py
    Require wsgi-group admins
</Location>
`

func hooksSpec(module Module, mpm string) ServerSpec {
	return ServerSpec{
		Module:  module,
		MPM:     mpm,
		Snippet: hooksSnippet,
		Setup: func(root string) error {
			if err := os.MkdirAll(filepath.Join(root, "htdocs", "hsadd"), 0o755); err != nil {
				return err
			}
			// filer's password in the file is "filepw"; auth.py would accept "wsgipw".
			out, err := runQuiet("htpasswd", "-cbB", filepath.Join(root, "htpasswd"), "filer", "filepw")
			if err != nil {
				return fmt.Errorf("htpasswd: %v: %s", err, out)
			}
			return os.Chmod(filepath.Join(root, "htpasswd"), 0o644)
		},
	}
}

// hooksHandlerServer is the shared handler-script server of the module under test.
func hooksHandlerServer(t testing.TB, mpm string) *Apache {
	t.Helper()
	spec := hooksSpec(targetModule(), mpm)
	spec.Snippet = hooksHandlerSnippet
	return SharedApache(t, "hooks-handler", spec)
}

// hooksServer is the shared hooks server of the module under test.
func hooksServer(t testing.TB, mpm string) *Apache {
	t.Helper()
	return SharedApache(t, "hooks", hooksSpec(targetModule(), mpm))
}

func basicAuth(user, pass string) string {
	return "Basic " + b64(user+":"+pass)
}

// hooksDump reads what a hook function wrote for the dump name (the
// X-Hooks-Dump header), waiting briefly for it.
type hooksDumpData struct {
	Kind     string  `json:"kind"`
	Environ  [][]any `json:"environ"`
	Pid      int     `json:"pid"`
	User     *string `json:"user"`
	Password *string `json:"password"`
	Realm    *string `json:"realm"`
	Host     *string `json:"host"`
	// mod_ssl.is_https() and mod_ssl.var_lookup("HTTPS") as repr
	IsHTTPS        *string `json:"is_https"`
	VarLookupHTTPS *string `json:"var_lookup_https"`
}

// Env returns the environ as key -> [type, value].
func (d hooksDumpData) Env() map[string][2]any {
	m := map[string][2]any{}
	for _, e := range d.Environ {
		m[e[0].(string)] = [2]any{e[1], e[2]}
	}
	return m
}

func readHooksDump(t testing.TB, a *Apache, name, kind string) hooksDumpData {
	t.Helper()
	p := filepath.Join(a.Root, "scratch", name+"-"+kind+".json")
	deadline := time.Now().Add(3 * time.Second)
	for {
		b, err := os.ReadFile(p)
		if err == nil {
			var d hooksDumpData
			require.NoError(t, json.Unmarshal(b, &d), "decoding %s", p)
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not write %s", kind, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hooksDumpExists(a *Apache, name, kind string) bool {
	_, err := os.Stat(filepath.Join(a.Root, "scratch", name+"-"+kind+".json"))
	return err == nil
}

func dumpName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "d" + hex.EncodeToString(b)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

var _ = strings.TrimSpace
