package redisadapter_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/redisadapter"
)

// A node of a cluster on a Redis Cluster, in the sharded flavour, with a
// readiness probe that says whether the node reaches the others.
func ExampleNewClient() {
	rdb, err := redisadapter.NewClient("redis-cluster://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000")
	if err != nil {
		log.Fatal(err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cluster, err := redisadapter.New(ctx, rdb, redisadapter.Options{Sharded: true})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	srv := hub.New(hub.Options{Adapter: cluster.Adapter})
	defer srv.Close()
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := cluster.Ready(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	log.Fatal(http.ListenAndServe(":3000", mux))
}

// The URL decides the kind of client.
func ExampleNewClient_forms() {
	for _, url := range []string{
		"redis://127.0.0.1:6379/0",
		"redis://10.0.0.1:7000?addr=10.0.0.2:7000",
		"rediss-cluster://user:password@10.0.0.1:7000",
	} {
		rdb, err := redisadapter.NewClient(url)
		if err != nil {
			log.Fatal(err)
		}
		_, isCluster := rdb.(*redis.ClusterClient)
		fmt.Println(isCluster)
		rdb.Close()
	}
	// Output:
	// false
	// true
	// true
}
