package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hubd/hubd/hub/httpapi"
)

// TestRevoke: POST revoke hands the body to Config.Revoke and answers its
// result under "revocation", behind the key; the provider's error is a
// 400, a body that is not JSON never reaches it, and a server without a
// provider answers 404 saying why.
func TestRevoke(t *testing.T) {
	var got []string
	provider := func(ctx context.Context, req json.RawMessage) (any, error) {
		if ctx == nil {
			return nil, errors.New("no context")
		}
		got = append(got, string(req))
		if strings.Contains(string(req), "bad") {
			return nil, errors.New("bad revocation: no selector")
		}
		return map[string]int{"matched": 3}, nil
	}
	w := newWorld(t, httpapi.Config{Revoke: provider})
	tests := []struct {
		name, method, body, auth string
		status                   int
		want                     string
	}{
		{"revocation", "POST", `{"rooms": ["vip"]}`, "", 200, `{"ok":true,"revocation":{"matched":3}}`},
		{"refused by the provider", "POST", `{"bad": 1}`, "", 400, `{"ok":false,"error":"bad revocation: no selector"}`},
		{"not JSON", "POST", `{"rooms": [`, "", 400, `{"ok":false,"error":"bad JSON body: the body ends before its JSON value does"}`},
		{"no key", "POST", `{"rooms": ["vip"]}`, "-", 401, `{"ok":false,"error":"missing API key: send the header Authorization: Bearer <key>"}`},
		{"GET", "GET", ``, "", 405, `{"ok":false,"error":"method GET not allowed: use POST"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			auth := tc.auth
			switch auth {
			case "":
				auth = "Bearer " + key
			case "-":
				auth = ""
			}
			status, body, _ := w.do(tc.method, "/api/revoke", strings.NewReader(tc.body), auth)
			if status != tc.status || body != tc.want {
				t.Errorf("%d %s\nwant %d %s", status, body, tc.status, tc.want)
			}
		})
	}
	if want := []string{`{"rooms": ["vip"]}`, `{"bad": 1}`}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the provider got %q, want %q", got, want)
	}

	bare := newWorld(t, httpapi.Config{})
	status, body, _ := bare.call("POST", "/api/revoke", `{"rooms": ["vip"]}`)
	if want := `{"ok":false,"error":"revocations are not served here: the server gives the API no revocation provider (Config.Revoke)"}`; status != 404 || body != want {
		t.Errorf("%d %s\nwant 404 %s", status, body, want)
	}
}
