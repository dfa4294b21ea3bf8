// Package engine is the Engine.IO v4 server: sessions over HTTP long-polling
// and WebSocket, the upgrade from one to the other, the server heartbeat,
// payload limits, CORS and the reference server's HTTP errors. With
// Config.AllowEIO3 it serves revision 3 too (socket.io-client 2.x; see
// eio3.go).
//
// A session (Conn) hands each incoming message to its Handler on the
// goroutine that read it, in order. Outgoing frames go into a bounded
// per-session queue; a writer goroutine exists only while that queue is
// non-empty, so an idle WebSocket session costs one parked reader goroutine
// and an idle polling session none. A WebSocket writer drains the whole queue
// and hands it to the kernel in one write.
//
// Clients are assumed hostile. Every length a client announces is checked
// against the limit without overflow before anything is allocated for it,
// and a message's buffer grows with the bytes that arrive, never with what
// a header announces. Every goroutine that works for a session recovers a
// panic (its own or a handler's) by closing that session alone; the panic
// is logged with its stack and counted.
package engine
