package hub_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
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
