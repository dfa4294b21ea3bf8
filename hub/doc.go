// Package hub is a Socket.IO server: the official socket.io-client (v4) and
// every other Socket.IO v4 client connect to it unchanged, over WebSocket or
// HTTP long-polling with the upgrade between them.
//
// A Server is an http.Handler. It holds namespaces; a client opens a Socket
// in each namespace it connects to, and sockets join rooms. Broadcasts pick
// sockets by room through each namespace's Adapter: the MemoryAdapter for
// one node, a cluster adapter for many (hub/redisadapter: Redis, in the
// wire format of Node's @socket.io/redis-adapter, so hub nodes and Node
// servers can share one cluster).
//
//	srv := hub.New(hub.Options{})
//	srv.OnConnection(func(s *hub.Socket) {
//		s.On("chat", func(ev *hub.Event) {
//			s.To("lobby").EmitArgs("chat", ev.Args)
//		})
//	})
//	http.Handle("/socket.io/", srv)
//
// The data path is walked once. A frame is decoded on the goroutine that
// reads its connection, which answers acks at once (an AckFunc runs there
// and must not block) and queues each event on its socket. The socket's
// runner runs the event hook and the listeners, one event at a time in the
// order they arrived: a listener may wait, for its client's ack
// (EmitWithAck) or a database, while the connection keeps being read and
// its other sockets go on. Over WebSocket the reading goroutine is itself
// the runner of an idle socket, and writes the listener's replies when it
// returns; a listener that holds it for more than a millisecond gets the
// reading moved to a fresh goroutine. Otherwise a runner goroutine exists
// only while its socket has work. A broadcast is encoded once and queued
// as the same bytes for every recipient. Each connection has one bounded
// write queue; a writer goroutine exists only while the queue holds
// something.
//
// With Options.ConnectionStateRecovery, a client that loses its connection
// and comes back within the configured duration gets the same socket back
// (id, rooms, data) and every broadcast and emit it missed, once and in
// order; Socket.Recovered reports it, as the client's socket.recovered
// does. One node's namespaces keep what that takes in memory; a cluster
// adapter that is a SessionStore keeps it for every node, so that a client
// recovers on another node, even after its first node died.
//
// Hooks (Server.SetHooks) are the interception points of a plugin host:
// connect, join, leave, event and disconnect. With none set they cost
// nothing.
package hub
