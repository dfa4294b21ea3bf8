package hub

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/hubd/hubd/hub/internal/engine"
)

// TestConnectionErrorConversion: a refusal reaches Options.OnConnectionError
// with the engine's code, message, context and request, for the engine
// error codes as engine.io names them and a refusal by AllowRequest.
func TestConnectionErrorConversion(t *testing.T) {
	var got []ConnectionError
	eng := engine.NewServer(engine.Config{
		OnConnectionError: engineConnectionError(func(e ConnectionError) { got = append(got, e) }),
		AllowRequest:      func(*http.Request) error { return errors.New("no entry") },
	})
	cases := []struct {
		method, query string
		code          int
		context       map[string]any
	}{
		{"GET", "EIO=4&transport=smoke", CodeUnknownTransport, map[string]any{"transport": "smoke"}},
		{"GET", "EIO=4&transport=polling&sid=x", CodeUnknownSID, map[string]any{"sid": "x"}},
		{"POST", "EIO=4&transport=polling", CodeBadHandshakeMethod, map[string]any{"method": "POST"}},
		{"GET", "EIO=4&transport=websocket", CodeBadRequest, map[string]any{"name": "TRANSPORT_HANDSHAKE_ERROR"}},
		{"GET", "EIO=4&transport=polling", CodeForbidden, map[string]any{"message": "no entry"}},
	}
	messages := []string{"Transport unknown", "Session ID unknown", "Bad handshake method", "Bad request", "Forbidden"}
	for i, c := range cases {
		req := httptest.NewRequest(c.method, "/socket.io/?"+c.query, nil)
		eng.ServeHTTP(httptest.NewRecorder(), req)
		if len(got) != i+1 {
			t.Fatalf("%s %s: %d errors reported in all, want %d", c.method, c.query, len(got), i+1)
		}
		e := got[i]
		if e.Code != c.code || e.Message != messages[i] || !reflect.DeepEqual(e.Context, c.context) || e.Request != req {
			t.Errorf("%s %s: reported %d %q %v (request %p), want %d %q %v (%p)", c.method, c.query,
				e.Code, e.Message, e.Context, e.Request, c.code, messages[i], c.context, req)
		}
	}
	noAllow := engine.NewServer(engine.Config{OnConnectionError: engineConnectionError(func(e ConnectionError) { got = append(got, e) })})
	noAllow.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/socket.io/?EIO=3&transport=polling", nil))
	if e := got[len(got)-1]; e.Code != CodeUnsupportedProtocolVersion || e.Message != "Unsupported protocol version" {
		t.Errorf("EIO=3: reported %d %q", e.Code, e.Message)
	}
	if engineConnectionError(nil) != nil {
		t.Error("no hook gave an engine hook")
	}
}
