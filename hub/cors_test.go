package hub_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/hubd/hubd/hub"
)

// TestCORSIsTheHubsType: hub.CORS is a type of the hub package, whose
// documented fields go doc shows, not an alias of an internal type.
func TestCORSIsTheHubsType(t *testing.T) {
	if p := reflect.TypeOf(hub.CORS{}).PkgPath(); p != "github.com/hubd/hubd/hub" {
		t.Fatalf("hub.CORS is declared in %s", p)
	}
}

// TestCORSOptions: every field of hub.CORS reaches the server's answers,
// and a nil CORS leaves CORS off.
func TestCORSOptions(t *testing.T) {
	srv := hub.New(hub.Options{CORS: &hub.CORS{
		Origins:     []string{"https://a.example", "*"},
		Methods:     "GET,POST",
		Headers:     "X-Token",
		Credentials: true,
		MaxAge:      600,
	}})
	defer srv.Close()
	req := httptest.NewRequest(http.MethodOptions, ioPath+"?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", "https://b.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	want := map[string]string{
		"Access-Control-Allow-Origin":      "https://b.example", // "*" with credentials echoes
		"Access-Control-Allow-Methods":     "GET,POST",
		"Access-Control-Allow-Headers":     "X-Token",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Max-Age":           "600",
	}
	if rec.Code != http.StatusNoContent {
		t.Fatalf("preflight: %d, want 204", rec.Code)
	}
	for k, v := range want {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("preflight %s = %q, want %q", k, got, v)
		}
	}

	off := hub.New(hub.Options{})
	defer off.Close()
	req = httptest.NewRequest(http.MethodGet, ioPath+"?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", "https://b.example")
	rec = httptest.NewRecorder()
	off.ServeHTTP(rec, req)
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("CORS off, yet Access-Control-Allow-Origin %q", got)
	}
}

// TestCORSOriginRules: as Node's cors origin option, an origin is allowed
// by the list, by a pattern it matches or by the function; any other gets
// no Access-Control-Allow-Origin. Exposed headers go on every answer.
func TestCORSOriginRules(t *testing.T) {
	srv := hub.New(hub.Options{CORS: &hub.CORS{
		Origins:        []string{"https://listed.example"},
		OriginPatterns: []*regexp.Regexp{regexp.MustCompile(`^https://[a-z]+\.pattern\.example$`)},
		AllowOrigin:    func(o string) bool { return strings.HasSuffix(o, ".func.example") },
		ExposedHeaders: "X-Trace, X-Node",
	}})
	defer srv.Close()
	for _, c := range []struct {
		origin string
		allow  bool
	}{
		{"https://listed.example", true},
		{"https://chat.pattern.example", true},
		{"https://chat.pattern.example.evil", false}, // anchored
		{"https://a.func.example", true},
		{"https://other.example", false},
	} {
		for _, method := range []string{http.MethodOptions, http.MethodGet} {
			req := httptest.NewRequest(method, ioPath+"?EIO=4&transport=polling", nil)
			req.Header.Set("Origin", c.origin)
			req.Header.Set("Access-Control-Request-Method", "GET")
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			got := rec.Header().Get("Access-Control-Allow-Origin")
			if want := map[bool]string{true: c.origin, false: ""}[c.allow]; got != want {
				t.Errorf("%s from %s: Access-Control-Allow-Origin %q, want %q", method, c.origin, got, want)
			}
			if got := rec.Header().Get("Access-Control-Expose-Headers"); got != "X-Trace, X-Node" {
				t.Errorf("%s from %s: Access-Control-Expose-Headers %q", method, c.origin, got)
			}
		}
	}
}
