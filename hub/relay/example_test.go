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

// A relay whose routes change while clients are connected: "/feed" opens
// to its clients' events without a restart.
func ExampleRelay_Update() {
	srv := hub.New(hub.Options{})
	feed := relay.Namespace{Name: "/feed", Route: relay.RouteNone}
	r, err := relay.New(srv, relay.Config{Namespaces: []relay.Namespace{{Name: "/"}, feed}})
	if err != nil {
		log.Fatal(err)
	}
	// ... serve srv ...

	// Later (on SIGHUP, say): the same namespaces, in the same order.
	feed.Route = relay.RouteNamespace
	if err := r.Update(relay.Config{Namespaces: []relay.Namespace{{Name: "/"}, feed}}); err != nil {
		log.Print(err) // the configuration in force stays
	}
}
