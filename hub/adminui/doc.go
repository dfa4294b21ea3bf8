// Package adminui is the server side of the Socket.IO admin UI
// (@socket.io/admin-ui 0.5): what Node's instrument(io, options) does, for
// a hub.Server. The UI — the hosted page at admin.socket.io, or its files
// served by Handler — connects to the admin namespace ("/admin") with the
// stock socket.io-client and sees the server's namespaces, sockets, rooms,
// traffic and, in development mode, every event; it may make sockets join
// or leave rooms and disconnect them, and emit to them (a feature of the
// protocol that the UI's pages of 0.5 do not offer yet), unless the
// instrumentation is read-only.
//
//	ui, err := adminui.Instrument(srv, adminui.Options{
//		Auth: &adminui.BasicAuth{Username: "admin", PasswordHash: hash}, // bcrypt
//	})
//
// The protocol is the Node package's, event for event: the namespace's
// middleware checks the credentials (or a session id given out before),
// the UI gets "session", "config" and, in development mode, "all_sockets",
// then "server_stats" every two seconds and the live updates
// ("socket_connected", "room_joined", "event_received"...). Everything is
// emitted to the admin namespace through its adapter, so with a cluster
// adapter (hub/redisadapter) every UI sees every node: the hub's and the
// Node servers' running instrument() on the same Redis alike, since the
// sockets are listed with FetchSockets and the actions are broadcasts.
//
// Handler serves the UI's page from an installed @socket.io/admin-ui
// package, for a hub that serves its own UI; the hosted page works as
// well, given CORS for its origin (hub.Options.CORS).
//
// It costs nothing while no UI watches. On one node, the per-socket
// listeners (events received and sent) and the room listeners are put in
// place when the first UI connects and removed when the last one leaves;
// the connection listener left meanwhile reads one atomic flag. With a
// cluster adapter a node cannot know whether a UI watches on another node,
// so, as Node's instrument(), it reports all the time: production mode is
// then the one to run outside debugging sessions.
package adminui
