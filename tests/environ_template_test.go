package tests

// Requests whose environ names repeat an earlier request's: the engine copies
// that request's environ (wsgi/environ_template.c) and sets what differs, so
// every value must still be the request's own, whatever shapes came before.

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEnviron_RepeatedShapes(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		for i := 0; i < 9; i++ {
			path := fmt.Sprintf("/emb/p%d", i)
			query := fmt.Sprintf("n=%d", i)
			val := fmt.Sprintf("value-%d", i)
			h := map[string]string{"X-Custom": val}
			// Three shapes in turn: the same names, one name more, and four
			// more (the last two share the engine's template slot with
			// nothing, the first and last share one).
			extra := []string{}
			switch i % 3 {
			case 1:
				extra = []string{"X-Other"}
			case 2:
				extra = []string{"X-A", "X-B", "X-C", "X-D"}
			}
			for _, k := range extra {
				h[k] = k + "-" + val
			}
			d := GetEnv(t, a.URL(path+"?"+query), h)
			e := d.Environ
			assert.Equal(t, fmt.Sprintf("/p%d", i), e["PATH_INFO"], "request %d", i)
			assert.Equal(t, fmt.Sprintf("/p%d", i), e["mod_wsgi.path_info"], "request %d", i)
			assert.Equal(t, "/emb", e["SCRIPT_NAME"], "request %d", i)
			assert.Equal(t, query, e["QUERY_STRING"], "request %d", i)
			assert.Equal(t, path+"?"+query, e["REQUEST_URI"], "request %d", i)
			assert.Equal(t, val, e["HTTP_X_CUSTOM"], "request %d", i)
			for _, k := range []string{"X-Other", "X-A", "X-B", "X-C", "X-D"} {
				key := "HTTP_" + map[string]string{"X-Other": "X_OTHER", "X-A": "X_A", "X-B": "X_B", "X-C": "X_C", "X-D": "X_D"}[k]
				if h[k] != "" {
					assert.Equal(t, h[k], e[key], "request %d", i)
				} else {
					assert.NotContains(t, e, key, "request %d: a header of an earlier request", i)
				}
			}
			assert.Equal(t, "int", d.Types["mod_wsgi.total_requests"], "request %d", i)
			assert.Equal(t, "Input", d.Types["wsgi.input"], "request %d", i)
		}
	})
}
