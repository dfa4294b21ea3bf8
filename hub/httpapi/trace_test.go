package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/hubd/hubd/hub/httpapi"
)

// apiCase is a request without a body and the answer it must get; auth
// "" sends the right key, "-" none, anything else is sent as it is.
type apiCase struct {
	name, method, path, auth string
	status                   int
	want                     string
}

// runCases sends each case to w, in a subtest of its own.
func (w *world) runCases(t *testing.T, tests []apiCase) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			auth := tc.auth
			switch auth {
			case "":
				auth = "Bearer " + key
			case "-":
				auth = ""
			}
			status, got, _ := w.do(tc.method, tc.path, http.NoBody, auth)
			if status != tc.status || got != tc.want {
				t.Errorf("%d %s\nwant %d %s", status, got, tc.status, tc.want)
			}
		})
	}
}

// TestTrace: GET sockets/{id}/trace answers what Config.Trace gives,
// behind the key; an unknown id, a malformed path and a server without a
// provider get 404 with a clear error.
func TestTrace(t *testing.T) {
	traces := map[string]any{"abc-_1": []map[string]any{{"hook": "connect", "outcome": "deny"}}}
	provider := func(id string) (any, bool) {
		v, ok := traces[id]
		return v, ok
	}
	w := newWorld(t, httpapi.Config{Trace: provider})
	tests := []apiCase{
		{"known socket", "GET", "/api/sockets/abc-_1/trace", "", 200,
			`{"ok":true,"socket":"abc-_1","trace":[{"hook":"connect","outcome":"deny"}]}`},
		{"no key", "GET", "/api/sockets/abc-_1/trace", "-", 401,
			`{"ok":false,"error":"missing API key: send the header Authorization: Bearer <key>"}`},
		{"wrong key", "GET", "/api/sockets/abc-_1/trace", "Bearer nope", 401, `{"ok":false,"error":"wrong API key"}`},
		{"unknown socket", "GET", "/api/sockets/nope/trace", "", 404,
			`{"ok":false,"error":"no trace of socket \"nope\": it is unknown, made no decision a plugin took part in, or closed too long ago"}`},
		{"POST", "POST", "/api/sockets/abc-_1/trace", "", 405, `{"ok":false,"error":"method POST not allowed: use GET"}`},
		{"no id (the mux cleans the path)", "GET", "/api/sockets//trace", "", 404,
			`{"ok":false,"error":"no endpoint /api/sockets/trace: use /api/emit, rooms, sockets, sockets/{id}/trace or disconnect"}`},
		{"an id with a slash", "GET", "/api/sockets/a%2Fb/trace", "", 404,
			`{"ok":false,"error":"no endpoint /api/sockets/a/b/trace: use /api/emit, rooms, sockets, sockets/{id}/trace or disconnect"}`},
		{"more after trace", "GET", "/api/sockets/abc-_1/trace/x", "", 404,
			`{"ok":false,"error":"no endpoint /api/sockets/abc-_1/trace/x: use /api/emit, rooms, sockets, sockets/{id}/trace or disconnect"}`},
	}
	w.runCases(t, tests)

	// Without a provider the endpoint says why it has nothing.
	bare := newWorld(t, httpapi.Config{})
	status, got, _ := bare.call("GET", "/api/sockets/abc-_1/trace", "")
	if want := `{"ok":false,"error":"decision traces are not served here: the server gives the API no trace provider (Config.Trace)"}`; status != 404 || got != want {
		t.Errorf("%d %s\nwant 404 %s", status, got, want)
	}
}
