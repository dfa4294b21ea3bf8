package redisadapter_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/redisadapter"
)

// A node of a cluster that shares its namespaces, and its clients'
// recovery sessions, through Redis Streams: a client whose node dies
// comes back on another with its id, rooms, data and what it missed.
func ExampleNewStreams() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	streams, err := redisadapter.NewStreams(ctx, rdb, redisadapter.StreamsOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer streams.Close()
	srv := hub.New(hub.Options{
		Adapter:                 streams.Adapter,
		ConnectionStateRecovery: &hub.RecoveryOptions{MaxDisconnectionDuration: 2 * time.Minute},
	})
	defer srv.Close()
	srv.Of("/").OnConnection(func(s *hub.Socket) {
		if !s.Recovered() {
			_ = s.Join("lobby")
		}
	})
	log.Fatal(http.ListenAndServe(":3000", srv))
}
