package tests

// Server-wide Python directives, each group on its own server:
// WSGIPythonOptimize/HashSeed/DontWriteBytecode/Warnings/Path,
// WSGIRestrictStdout/Signal, WSGIImportScript, WSGIPythonHome (venv),
// WSGIRestrictEmbedded.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const pyflagsSnippet = `
WSGIPythonOptimize 1
WSGIPythonHashSeed 0
WSGIDontWriteBytecode On
WSGIPythonWarnings ignore::DeprecationWarning
WSGIPythonWarnings error::ResourceWarning
WSGIPythonPath @APPS@/pylib
WSGIRestrictStdout On
WSGIRestrictSignal On
WSGIImportScript @APPS@/importscript.py process-group=%{GLOBAL} application-group=%{GLOBAL}
WSGIScriptAlias /global @APPS@/env.wsgi
<Location /global>
    WSGIApplicationGroup %{GLOBAL}
</Location>
WSGIScriptAlias /sub @APPS@/env.wsgi
WSGIScriptAlias /pylib @APPS@/pylib.wsgi
WSGIScriptAlias /restrict @APPS@/restrict.wsgi
`

func pyflagsServer(t testing.TB, mpm string) *Apache {
	return SharedApache(t, "pyflags", ServerSpec{MPM: mpm, Snippet: pyflagsSnippet})
}

func hashWithSeed0(t testing.TB) string {
	cmd := exec.Command(systemPy, "-c", "print(hash('abc'))")
	cmd.Env = []string{"PYTHONHASHSEED=0"}
	out, err := cmd.Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func TestPythonDirectives_Flags(t *testing.T) {
	want := hashWithSeed0(t)
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := pyflagsServer(t, mpm)
		for _, path := range []string{"/global", "/sub"} {
			py := GetEnv(t, a.URL(path), nil).Py
			assert.EqualValues(t, 1, py["optimize"], "WSGIPythonOptimize 1 (%s)", path)
			assert.Equal(t, false, py["debug"], "__debug__ is False under -O (%s)", path)
			assert.EqualValues(t, 0, py["hash_randomization"], "WSGIPythonHashSeed 0 (%s)", path)
			assert.Equal(t, want, py["hash_abc"], "hash('abc') with PYTHONHASHSEED=0 (%s)", path)
			assert.Equal(t, true, py["dont_write_bytecode"], "WSGIDontWriteBytecode On (%s)", path)
			assert.EqualValues(t, 1, py["flag_dont_write_bytecode"], path)
			assert.Equal(t, []any{"ignore::DeprecationWarning", "error::ResourceWarning"}, py["warnoptions"], path)
			assert.Contains(t, py["path"], filepath.Join(appsDir(), "pylib"), "WSGIPythonPath (%s)", path)
			if p, ok := py["path"].([]any); assert.True(t, ok && len(p) > 0) {
				// observed in mod_wsgi 4.9.4: WSGIPythonPath entries come first (they shadow the stdlib)
				assert.Equal(t, filepath.Join(appsDir(), "pylib"), p[0], "sys.path[0] (%s)", path)
			}
		}
	})
}

func TestPythonDirectives_PythonPathImport(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := pyflagsServer(t, mpm)
		r := Get(t, a.URL("/pylib"))
		assert.Equal(t, 200, r.Status)
		assert.Equal(t, "gowsgi-testlib-imported", r.Body)
		// without WSGIPythonPath the module is not importable
		r = Get(t, mainServer(t, mpm).URL("/ht/pylib.wsgi"))
		assert.Equal(t, 200, r.Status)
		assert.Equal(t, "ImportError: No module named 'gowsgi_testlib'", r.Body)
	})
}

func TestPythonDirectives_ImportScriptGlobal(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := pyflagsServer(t, mpm)
		d := GetEnv(t, a.URL("/global"), nil)
		assert.Equal(t, d.Py["pid"], d.Py["imported_marker"], "WSGIImportScript ran in this process's main interpreter")
		sub := GetEnv(t, a.URL("/sub"), nil)
		assert.Nil(t, sub.Py["imported_marker"], "the import script ran in %{GLOBAL}, not in the sub-interpreter")
		WaitLog(t, a, 3*time.Second, "GOWSGI-IMPORT-SCRIPT-RAN pid=")
	})
}

func TestPythonDirectives_RestrictStdout(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := pyflagsServer(t, mpm)
		tok := token()
		r := Get(t, a.URL("/restrict?op=print&tok="+tok))
		require.Equal(t, 200, r.Status)
		m := DecodeJSON(t, r.Body)
		assert.Equal(t, "raised", m["result"])
		assert.Equal(t, "OSError", m["type"])
		assert.Equal(t, "sys.stdout access restricted by mod_wsgi", m["message"])
		assert.NotContains(t, a.ErrorLogContent(), "GOWSGI-RESTRICTED-PRINT "+tok)
	})
}

func TestPythonDirectives_RestrictSignal(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := pyflagsServer(t, mpm)
		r := Get(t, a.URL("/restrict?op=signal"))
		require.Equal(t, 200, r.Status)
		m := DecodeJSON(t, r.Body)
		assert.Equal(t, "returned", m["result"], "signal.signal() must not raise")
		// observed in mod_wsgi 4.9.4: the ignored call returns the handler it was given
		assert.Contains(t, m["returned"], "<function _handler at ", "return value of the ignored signal.signal()")
		assert.NotContains(t, m["now"], "_handler", "the handler must not be installed")
		WaitLog(t, a, 3*time.Second, "Callback registration for signal 12 ignored.")
	})
}

func TestPythonDirectives_PythonHomeVenv(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := SharedApache(t, "venv", ServerSpec{
			MPM: mpm,
			Setup: func(root string) error {
				out, err := exec.Command(systemPy, "-m", "venv", "--without-pip", filepath.Join(root, "venv")).CombinedOutput()
				if err != nil {
					return err
				}
				_ = out
				return os.MkdirAll(filepath.Join(root, "venv", "lib", systemPyLib(), "site-packages"), 0o755)
			},
			Snippet: "WSGIPythonHome @ROOT@/venv\nWSGIScriptAlias /emb @APPS@/env.wsgi\n",
		})
		venv := filepath.Join(a.Root, "venv")
		py := GetEnv(t, a.URL("/emb"), nil).Py
		assert.Equal(t, venv, py["prefix"], "sys.prefix is the venv")
		assert.Equal(t, "/usr", py["base_prefix"])
		assert.Contains(t, py["path"], filepath.Join(venv, "lib", systemPyLib(), "site-packages"))
		assert.NotContains(t, py["path"], "/usr/lib/python3/dist-packages", "system dist-packages are not on a venv's path")
	})
}

func TestPythonDirectives_RestrictEmbedded(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := SharedApache(t, "restrict-embedded", ServerSpec{
			MPM:     mpm,
			Snippet: "WSGIRestrictEmbedded On\nWSGIScriptAlias /emb @APPS@/env.wsgi\n",
		})
		rr, lport, err := RawRequestLocal(t, a.Addr(), getRaw("/emb"))
		require.NoError(t, err)
		assert.Equal(t, 500, rr.Res.StatusCode)
		WaitLog(t, a, 3*time.Second, "Embedded mode of mod_wsgi disabled by runtime configuration")
		assert.Contains(t, ClientLogLines(a, lport), "Embedded mode of mod_wsgi disabled by runtime configuration")
		assert.NotContains(t, a.ErrorLogContent(), "Initializing Python", "Python is not initialised in the children")
	})
}
