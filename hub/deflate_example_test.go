package hub_test

import (
	"fmt"
	"net/http"

	"github.com/hubd/hubd/hub"
)

// WebSocket compression for the clients that offer it (browsers, and
// socket.io-client under Node): messages from 1 KiB up go compressed, a
// broadcast compressed once for all its receivers. Stats tell how much of
// it happens.
func ExamplePerMessageDeflate() {
	srv := hub.New(hub.Options{PerMessageDeflate: &hub.PerMessageDeflate{Threshold: 1024}})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	// log.Fatal(http.ListenAndServe(":3000", mux))

	st := srv.Stats()
	fmt.Println(st.Compressions, st.CompressedSent, st.CompressedReceived)
	// Output: 0 0 0
}
