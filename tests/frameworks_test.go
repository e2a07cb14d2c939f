package tests

// Flask and Django (Debian packages) served through the module.

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var formHeaders = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

func TestFrameworks_Flask(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		r := Get(t, a.URL("/flask/"))
		require.Equal(t, 200, r.Status, r.String())
		assert.Equal(t, "flask index", r.Body)

		r = Get(t, a.URL("/flask/hello/bob?x=1"))
		require.Equal(t, 200, r.Status, r.String())
		m := DecodeJSON(t, r.Body)
		assert.Equal(t, "hello bob", m["greeting"])
		assert.Equal(t, "/flask", m["script_root"])
		assert.Equal(t, "/hello/bob", m["path"])
		assert.Equal(t, map[string]any{"x": "1"}, m["args"])

		form := url.Values{"name": {"alice"}, "note": {"h\u00e9llo world"}}
		r = Do(t, "POST", a.URL("/flask/form"), strings.NewReader(form.Encode()), formHeaders)
		require.Equal(t, 200, r.Status, r.String())
		m = DecodeJSON(t, r.Body)
		assert.Equal(t, map[string]any{"name": "alice", "note": "h\u00e9llo world"}, m["fields"])

		r = Get(t, a.URL("/flask/no/such/route"))
		assert.Equal(t, 404, r.Status)
		assert.Contains(t, r.Body, "<h1>Not Found</h1>")

		r = Get(t, a.URL("/flask/form"))
		assert.Equal(t, 405, r.Status)
	})
}

func TestFrameworks_Django(t *testing.T) {
	forEachMPM(t, func(t *testing.T, mpm string) {
		a := mainServer(t, mpm)
		r := Get(t, a.URL("/django/"))
		require.Equal(t, 200, r.Status, r.String())
		assert.Equal(t, "django index", r.Body)

		r = Get(t, a.URL("/django/item/21/"))
		require.Equal(t, 200, r.Status, r.String())
		m := DecodeJSON(t, r.Body)
		assert.EqualValues(t, 21, m["num"])
		assert.EqualValues(t, 42, m["double"])
		assert.Equal(t, "/django", m["script_name"])
		assert.Equal(t, "/django/item/21/", m["path"])
		assert.Equal(t, "/item/21/", m["path_info"])

		form := url.Values{"a": {"1"}, "b": {"two words"}}
		r = Do(t, "POST", a.URL("/django/form/"), strings.NewReader(form.Encode()), formHeaders)
		require.Equal(t, 200, r.Status, r.String())
		assert.Equal(t, map[string]any{"a": "1", "b": "two words"}, DecodeJSON(t, r.Body)["fields"])

		r = Get(t, a.URL("/django/nope/"))
		assert.Equal(t, 404, r.Status)
		assert.Contains(t, r.Body, "<h1>Not Found</h1><p>The requested resource was not found on this server.</p>")
	})
}
