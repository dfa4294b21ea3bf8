package hub_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hubd/hubd/hub"
)

// TestEngineEventsThroughOptions: the engine events reach the hooks set in
// hub.Options: a refused request calls OnConnectionError, the handshake
// response carries the InitialHeaders and every response the Headers.
func TestEngineEventsThroughOptions(t *testing.T) {
	var mu sync.Mutex
	var refused []hub.ConnectionError
	srv := hub.New(hub.Options{
		OnConnectionError: func(e hub.ConnectionError) {
			mu.Lock()
			refused = append(refused, e)
			mu.Unlock()
		},
		InitialHeaders: func(h http.Header, _ *http.Request) { h.Set("X-Initial", "1") },
		Headers:        func(h http.Header, _ *http.Request) { h.Set("X-Every", "1") },
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	res, err := http.Get(ts.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("X-Initial") != "1" || res.Header.Get("X-Every") != "1" {
		t.Fatalf("handshake: %d, X-Initial %q, X-Every %q", res.StatusCode, res.Header.Get("X-Initial"), res.Header.Get("X-Every"))
	}
	sid := strings.SplitN(strings.SplitN(string(body), `"sid":"`, 2)[1], `"`, 2)[0]
	res, err = http.Post(ts.URL+"/socket.io/?EIO=4&transport=polling&sid="+sid, "text/plain", strings.NewReader("40"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("X-Every") != "1" || res.Header.Get("X-Initial") != "" {
		t.Fatalf("later request: X-Every %q, X-Initial %q; want 1 and none", res.Header.Get("X-Every"), res.Header.Get("X-Initial"))
	}

	res, err = http.Get(ts.URL + "/socket.io/?EIO=4&transport=polling&sid=nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(refused) != 1 || refused[0].Code != hub.CodeUnknownSID || refused[0].Request == nil {
		t.Fatalf("OnConnectionError saw %+v, want one CodeUnknownSID with its request", refused)
	}
}
