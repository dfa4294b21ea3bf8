package relay_test

import (
	"log"
	"net/http"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/relay"
)

// A hub that offers what hubd offers clients: "/" relays to the sender's
// rooms, each "/team-<n>" relays to everyone connected to it, and "/feed"
// only carries what the server publishes.
func ExampleAttach() {
	srv := hub.New(hub.Options{})
	err := relay.Attach(srv, relay.Config{
		Namespaces: []relay.Namespace{
			{Name: "/"},
			{Pattern: `/team-\d+`, Route: relay.RouteNamespace, Echo: true},
			{Name: "/feed", Route: relay.RouteNone},
		},
	})
	if err != nil {
		log.Fatal(err) // every problem of the config, one per line
	}
	http.Handle("/socket.io/", srv)
	// log.Fatal(http.ListenAndServe(":3000", nil))
	//
	// In the browser:
	//   socket.emit("hub:join", ["lobby", "news"], (res) => console.log(res));
	//   // { ok: true, rooms: ["lobby", "news"] }
	//   socket.emit("chat", { text: "hi" }, (res) => console.log(res));
	//   // { ok: true }; everyone else in lobby or news gets "chat" once
}
