// Package httpapi is the server-side publish API of hubd:
// an http.Handler through which a trusted back end publishes events to a
// hub's clients and looks at who is connected, without speaking
// Socket.IO. Every operation goes through the namespace's adapter, so with
// a cluster adapter it covers every node.
//
//	api, err := httpapi.New(srv, httpapi.Config{Key: os.Getenv("HUBD_API_KEY")})
//	mux.Handle("/api/", api) // at Config.Prefix, without StripPrefix
//
// Every request carries the key: "Authorization: Bearer <key>". The
// endpoints, under Config.Prefix ("/api/"):
//
//	POST /api/emit        {"namespace": "/", "rooms": "r" | ["r", ...],
//	                       "except": "r" | ["r" or socket id, ...],
//	                       "event": "name", "args": [...]}
//	                      → {"ok": true}
//	GET  /api/rooms?namespace=/
//	                      → {"ok": true, "namespace": "/", "rooms": ["a", "b"]}
//	GET  /api/sockets?namespace=/&room=r
//	                      → {"ok": true, "namespace": "/", "sockets":
//	                         [{"id": "...", "rooms": ["r"], "data": {...}}]}
//	POST /api/disconnect  {"namespace": "/", "id": "<socket id>", "close": false}
//	                      → {"ok": true}
//	GET  /api/sockets/<socket id>/trace
//	                      → {"ok": true, "socket": "...", "trace": ...}
//	                        (with Config.Trace set: see below)
//	POST /api/revoke      {"namespace": "/", "rooms": [...] | "sockets": [...] |
//	                       "data": {"path": "user.sub", "equals": "u123"},
//	                       "recheck": "join" | "connect"}
//	                      → {"ok": true, "revocation": ...}
//	                        (with Config.Revoke set: see below)
//	GET  /api/shadows     → {"ok": true, "shadows": ...}
//	GET  /api/shadows/divergences?shadow=<name>&limit=<n>
//	                      → {"ok": true, "divergences": ...}
//	POST /api/shadows/<name>/promote
//	                      → {"ok": true, "promoted": "<name>"}
//	                        (with Config.Shadows, ShadowDivergences and
//	                        PromoteShadow set: see below)
//
// Every answer is JSON: {"ok": true, ...} with 200, or
// {"ok": false, "error": "..."} with 400 (bad JSON, a body that is not
// valid UTF-8, an unknown field, a missing event or id, a reserved event
// name, args that are not a JSON array), 401 (no key or a wrong one; with WWW-Authenticate), 404 (an
// unknown namespace, socket or endpoint), 405 (a wrong method; with Allow),
// 413 (a body over Config.MaxBody), 500 (the adapter failed) or 504 (the
// other nodes did not answer within Config.Timeout).
//
// # Decisions
//
//   - The key is checked first, before the path and the method, so that
//     nothing about the API is told to a caller without it; the comparison
//     takes the same time whatever the key sent.
//   - emit does not pass through the hub's event hook: the HTTP caller is
//     the trusted side. It does refuse the names Socket.IO reserves and
//     the "hub:" prefix, which belongs to hubd's client commands. An empty
//     or missing "rooms" targets the whole namespace; "except" takes rooms
//     and socket ids alike. Arguments are JSON only (no binary).
//   - namespace defaults to "/"; a missing leading slash is added. Only a
//     namespace that exists on this node can be addressed: a dynamic
//     namespace exists from the first client that connects to it.
//   - rooms lists the rooms that have at least one socket, sorted, without
//     the sockets' own id rooms. It is built from one FetchSockets request
//     (one round trip to the cluster, and exact) rather than from
//     Namespace.Rooms, which lists id rooms too and would need a second
//     request to tell them apart.
//   - sockets reports each socket's id, its rooms without its own id room,
//     and the data the server attached to it (null when none); not its
//     handshake, which holds the client's credentials. Several room
//     parameters select the sockets in any of them; none selects all.
//   - disconnect answers 404 when no node has a socket with that id; with
//     "close": true it closes the client's whole connection, every
//     namespace of it.
//   - sockets/{id}/trace answers what Config.Trace gives for the id, such
//     as the decision trace of a plugin host (host.Host.Trace): why the
//     socket was refused, cut or had its events changed. It is this node's
//     only: the socket's own node holds its trace, and keeps it a while
//     after the socket closed. An id Config.Trace knows nothing of gets
//     404, and so does every id when Config.Trace is not set.
//   - revoke hands its body to Config.Revoke, such as a plugin host's
//     revoker (host.Revoker.RevokeJSON), which puts the grants of the
//     sockets it names back to the plugins across the cluster and answers
//     what each node did; its refusal of the request is answered 400. It
//     answers 404 when Config.Revoke is not set.
//   - shadows, shadows/divergences and shadows/{name}/promote serve a
//     plugin host's shadow plugins (host.Host.ShadowStats,
//     ShadowDivergences, PromoteShadow): their agreements and divergences
//     with the live plugins, and making one live. Each answers 404 when its
//     provider is not set; promote answers 404 with the provider's error.
//   - Unknown JSON fields are refused (400), so that a misspelt "room" does
//     not silently broadcast to the whole namespace; unknown query
//     parameters are ignored.
package httpapi
