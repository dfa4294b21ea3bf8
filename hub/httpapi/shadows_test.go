package httpapi_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/hubd/hubd/hub/httpapi"
)

// TestShadows: GET shadows and shadows/divergences answer what their
// providers give, POST shadows/{name}/promote calls its provider, all
// behind the key; an unknown shadow, a bad limit, a malformed path and a
// server without providers get clear errors.
func TestShadows(t *testing.T) {
	var promoted []string
	var asked []any
	w := newWorld(t, httpapi.Config{
		Shadows: func() any { return []map[string]any{{"shadow": "b", "plugin": "a"}} },
		ShadowDivergences: func(shadow string, limit int) any {
			asked = append(asked, shadow, limit)
			return []map[string]any{{"shadow": "b", "result": "action"}}
		},
		PromoteShadow: func(name string) error {
			if name != "b" {
				return errors.New(`host: no such shadow plugin: "` + name + `" (loaded: b)`)
			}
			promoted = append(promoted, name)
			return nil
		},
	})
	tests := []apiCase{
		{"list", "GET", "/api/shadows", "", 200, `{"ok":true,"shadows":[{"plugin":"a","shadow":"b"}]}`},
		{"list without the key", "GET", "/api/shadows", "-", 401,
			`{"ok":false,"error":"missing API key: send the header Authorization: Bearer <key>"}`},
		{"divergences", "GET", "/api/shadows/divergences?shadow=b&limit=5", "", 200,
			`{"ok":true,"divergences":[{"result":"action","shadow":"b"}]}`},
		{"divergences, bad limit", "GET", "/api/shadows/divergences?limit=-1", "", 400,
			`{"ok":false,"error":"limit \"-1\": give a number of divergences, 0 or more (0 for all kept)"}`},
		{"divergences without the key", "GET", "/api/shadows/divergences", "Bearer nope", 401, `{"ok":false,"error":"wrong API key"}`},
		{"promote", "POST", "/api/shadows/b/promote", "", 200, `{"ok":true,"promoted":"b"}`},
		{"promote an unknown shadow", "POST", "/api/shadows/x/promote", "", 404,
			`{"ok":false,"error":"host: no such shadow plugin: \"x\" (loaded: b)"}`},
		{"promote by GET", "GET", "/api/shadows/b/promote", "", 405, `{"ok":false,"error":"method GET not allowed: use POST"}`},
		{"promote without the key", "POST", "/api/shadows/b/promote", "-", 401,
			`{"ok":false,"error":"missing API key: send the header Authorization: Bearer <key>"}`},
		{"a name with a slash", "POST", "/api/shadows/a%2Fb/promote", "", 404,
			`{"ok":false,"error":"no endpoint /api/shadows/a/b/promote: use /api/emit, rooms, sockets, shadows or disconnect"}`},
	}
	w.runCases(t, tests)
	if len(promoted) != 1 || len(asked) != 2 || asked[0] != "b" || asked[1] != 5 {
		t.Errorf("promoted %v, divergences asked %v", promoted, asked)
	}

	bare := newWorld(t, httpapi.Config{})
	for path, want := range map[string]string{
		"/api/shadows":             `{"ok":false,"error":"shadow plugins are not served here: the server gives the API no shadow provider (Config.Shadows)"}`,
		"/api/shadows/divergences": `{"ok":false,"error":"shadow divergences are not served here: the server gives the API no provider (Config.ShadowDivergences)"}`,
	} {
		if status, got, _ := bare.call("GET", path, ""); status != 404 || got != want {
			t.Errorf("%s: %d %s\nwant 404 %s", path, status, got, want)
		}
	}
	if status, got, _ := bare.do("POST", "/api/shadows/b/promote", http.NoBody, "Bearer "+key); status != 404 ||
		got != `{"ok":false,"error":"shadow plugins are not served here: the server gives the API no promotion provider (Config.PromoteShadow)"}` {
		t.Errorf("promote without a provider: %d %s", status, got)
	}
}
