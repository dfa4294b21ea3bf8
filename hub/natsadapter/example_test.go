package natsadapter_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/natsadapter"
)

// A node of a cluster: every node runs the same, against the same NATS
// servers and subject prefix.
func ExampleNew() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cluster, err := natsadapter.New(ctx, natsadapter.Options{
		URLs:            []string{"nats://nats-1:4222", "nats://nats-2:4222"},
		CredentialsFile: "/etc/hubd/nats.creds",
		SubjectPrefix:   "chat-prod",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	srv := hub.New(hub.Options{Adapter: cluster.Adapter})
	defer srv.Close()
	http.Handle("/socket.io/", srv)
	log.Fatal(http.ListenAndServe(":3000", nil))
}
