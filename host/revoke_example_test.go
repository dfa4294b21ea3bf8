package host_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/httpapi"
)

// A server whose plugins' grants can be revoked: through the HTTP API's
// POST /api/revoke, from Go, and from plugins granted the "revoke"
// capability. Every node of a cluster serves revocations the same way.
func ExampleHost_ServeRevocations() {
	h := host.New(nil)
	srv := hub.New(hub.Options{})
	srv.SetHooks(h.Hooks())
	rv, err := h.ServeRevocations(srv, host.RevokeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer rv.Close()
	api, err := httpapi.New(srv, httpapi.Config{Key: "secret", Revoke: rv.RevokeJSON})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	mux.Handle("/api/", api)

	// From Go: re-run the connect hook of user u123's sockets.
	res, err := rv.Revoke(context.Background(), host.Revocation{
		Data:    &host.DataSelector{Path: "user.sub", Equals: []byte(`"u123"`)},
		Recheck: host.RecheckConnect,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Matched, res.Disconnected, len(res.Errors))
	// Output: 0 0 0
}
