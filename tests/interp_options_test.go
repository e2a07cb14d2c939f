package tests

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mod_wsgi 6's <WSGIInterpreterOptions> beyond the GIL: WSGIPythonPath,
// WSGIRestrictStdin, WSGIRestrictStdout, WSGIRestrictSignal and
// WSGISwitchInterval, per process group and per application group, with
// 6.0.5's resolution (wsgi_interp.c): the container with more selectors
// wins, the later among equals; every matching WSGIPythonPath is a layer,
// the lightest first, each put first on sys.path after the process's own.
const interpOptionsConfig = `
WSGIPythonPath @ROOT@/interp-options/p0
<WSGIInterpreterOptions>
  WSGIPythonPath @ROOT@/interp-options/all
</WSGIInterpreterOptions>
<WSGIInterpreterOptions application-group=alpha>
  WSGIPythonPath @ROOT@/interp-options/alpha
  WSGIRestrictStdout On
  WSGIRestrictSignal Off
</WSGIInterpreterOptions>
<WSGIInterpreterOptions process-group=grp application-group=alpha>
  WSGIPythonPath @ROOT@/interp-options/grp-alpha
  WSGIRestrictStdin On
</WSGIInterpreterOptions>
<WSGIInterpreterOptions process-group=grp>
  WSGIRestrictStdout On
  WSGIRestrictSignal On
  WSGISwitchInterval 0.003
</WSGIInterpreterOptions>
<WSGIInterpreterOptions process-group=grp application-group=beta>
  WSGISwitchInterval 0.009
</WSGIInterpreterOptions>
WSGIDaemonProcess grp threads=2 python-path=@ROOT@/interp-options/dp
WSGIScriptAlias /emb/main @APPS@/interp_options.wsgi application-group=%{GLOBAL}
WSGIScriptAlias /emb/alpha @APPS@/interp_options.wsgi application-group=alpha
WSGIScriptAlias /emb/beta @APPS@/interp_options.wsgi application-group=beta
WSGIScriptAlias /grp/main @APPS@/interp_options.wsgi process-group=grp application-group=%{GLOBAL}
WSGIScriptAlias /grp/alpha @APPS@/interp_options.wsgi process-group=grp application-group=alpha
WSGIScriptAlias /grp/beta @APPS@/interp_options.wsgi process-group=grp application-group=beta
`

type interpFacts struct {
	ApplicationGroup string   `json:"application_group"`
	ProcessGroup     string   `json:"process_group"`
	Path             []string `json:"path"`
	Stdout           string   `json:"stdout"`
	Stdin            string   `json:"stdin"`
	Signal           string   `json:"signal"`
	SwitchInterval   float64  `json:"switch_interval"`
}

func TestInterpOptions_PerInterpreter(t *testing.T) {
	gowsgiOnly(t)
	t.Parallel()
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := StartApache(t, ServerSpec{MPM: mpm, Snippet: interpOptionsConfig})
		get := func(path string) interpFacts {
			r := Get(t, a.URL(path))
			require.Equal(t, 200, r.Status, "%s: %s", path, r)
			var f interpFacts
			require.NoError(t, json.Unmarshal([]byte(r.Body), &f), "%s: %s", path, r)
			return f
		}
		dir := func(names ...string) []string {
			var out []string
			for _, n := range names {
				out = append(out, a.Root+"/interp-options/"+n)
			}
			return out
		}
		restricted, stream := "Restricted", "TextIOWrapper"

		main := get("/emb/main")
		assert.Equal(t, dir("all", "p0"), main.Path, "embedded main: WSGIPythonPath, then the container layer first")
		assert.Equal(t, stream, main.Stdout)
		assert.Equal(t, "ignored", main.Signal, "WSGIRestrictSignal's default holds")

		alpha := get("/emb/alpha")
		assert.Equal(t, "alpha", alpha.ApplicationGroup)
		assert.Equal(t, dir("alpha", "all", "p0"), alpha.Path, "the heavier layer goes before the lighter")
		assert.Equal(t, restricted, alpha.Stdout, "WSGIRestrictStdout On for application group alpha")
		assert.NotEqual(t, restricted, alpha.Stdin, "stdin restricted only in grp's alpha")
		assert.Regexp(t, "^raised ", alpha.Signal, "WSGIRestrictSignal Off for alpha: the real signal.signal (a request thread may not)")

		beta := get("/emb/beta")
		assert.Equal(t, dir("all", "p0"), beta.Path, "no container names beta outside grp")
		assert.Equal(t, stream, beta.Stdout)

		gmain := get("/grp/main")
		assert.Equal(t, "grp", gmain.ProcessGroup)
		assert.Equal(t, dir("all", "dp"), gmain.Path, "a daemon's python-path=, then the layers (WSGIPythonPath is embedded mode's)")
		assert.Equal(t, restricted, gmain.Stdout, "the container naming the process group")
		assert.InDelta(t, 0.003, gmain.SwitchInterval, 1e-6, "the process group's container sets the process's interval")

		galpha := get("/grp/alpha")
		assert.Equal(t, dir("grp-alpha", "alpha", "all", "dp"), galpha.Path, "every matching layer, by weight")
		assert.Equal(t, restricted, galpha.Stdin, "the container naming both selectors")
		assert.Equal(t, restricted, galpha.Stdout)
		assert.Equal(t, "ignored", galpha.Signal, "between two one-selector containers the later wins")

		gbeta := get("/grp/beta")
		assert.InDelta(t, 0.003, gbeta.SwitchInterval, 1e-6, "an interpreter sharing the GIL keeps the process's interval")
		mark := a.ErrorLogContent()
		assert.Contains(t, mark, "Skipping per-interpreter switch interval 0.009000s for interpreter 'beta': setting it "+
			"would mutate the process-global value because this interpreter does not have its own GIL.")
		assert.NotContains(t, mark, "accepted but not honoured", "every directive inside the containers is honoured")
	})
}
