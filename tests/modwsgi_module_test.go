package tests

// `import mod_wsgi` inside the application.

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModWsgiModule_Attributes(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		for path, group := range map[string]string{
			"/emb":        "localhost:" + strconv.Itoa(a.Port) + "|/emb",
			"/grp-global": "",
			"/grp-opt":    "optgroup",
		} {
			d := GetEnv(t, a.URL(path), nil)
			mw, ok := d.Py["mod_wsgi"].(map[string]any)
			require.True(t, ok, "import mod_wsgi must work in %s", path)
			assert.Equal(t, []any{4.0, 9.0, 4.0}, mw["version"])
			assert.Equal(t, "", mw["process_group"], "embedded mode")
			if group == "" && knownModWsgiDeviation(t, a, fmt.Sprintf(
				"in %%{GLOBAL} mod_wsgi.application_group is the last sub-interpreter created (%v)", mw["application_group"])) {
				continue
			}
			assert.Equal(t, group, mw["application_group"])
			assert.Equal(t, d.Environ["mod_wsgi.application_group"], mw["application_group"])
		}
	})
}
