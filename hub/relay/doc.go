// Package relay gives a hub.Server hubd's client contract, so that a Go
// program embedding the hub offers what the hubd daemon offers with one
// call:
//
//	srv := hub.New(hub.Options{})
//	srv.SetHooks(pluginHost.Hooks()) // optional: the plugin host
//	err := relay.Attach(srv, relay.Config{
//		Namespaces: []relay.Namespace{
//			{Name: "/"},
//			{Pattern: `/team-\d+`, Route: relay.RouteNamespace},
//		},
//	})
//
// A client then needs nothing but socket.io-client:
//
//   - It connects to a namespace the Config allows; any other namespace
//     gets the standard "Invalid namespace" connect_error.
//   - "hub:join" and "hub:leave" with a room or a list of rooms change its
//     membership; the ack is {ok: true, rooms: [...]} (the whole membership
//     afterwards, sorted, without the socket's own id room) or
//     {ok: false, error: "..."}. A list is all-or-nothing.
//   - Any other event is relayed, arguments byte for byte (binary
//     included), to the namespace's default route or to the route a hook
//     set in hub.Event.Route. An ack the client asked for is always
//     answered: {ok: true} once routed, {ok: false, error} otherwise,
//     unless a hook answered it already (a hook that refuses an event
//     answers with Fail, so that the client sees the same shape).
//   - Other "hub:" events get {ok: false, error: "unknown command"} and are
//     never relayed.
//
// # Changing the configuration
//
// Attach fixes the configuration for the life of the Server. New attaches
// the same way and returns the Relay, whose Update puts a new
// configuration (routes, echo, limits, logger; not the namespaces
// themselves) in force for the next event of every socket, connected
// already or not. Each event is handled with the configuration in force
// when the relay took it up, old or new, never part of each.
//
// # Where the relay runs
//
// For every socket of a configured namespace, the relay adds a socket
// middleware (hub.Socket.Use) from a namespace connection listener. An
// event therefore meets, in order: the server's event hook (the plugin
// host: deny, drop, reply, transform, route), the catch-all listeners
// (Socket.OnAny), the socket middlewares added before the relay's, the
// relay, later middlewares and the event's own listener (Socket.On). The
// relay never stops an event, so listeners after it still observe it (and
// see Event.Acked). A middleware was chosen over a catch-all listener
// because catch-all listeners run before the middlewares: a Go middleware
// that refuses an event (a rate limit, say) must be able to keep it from
// being relayed. To have such a middleware run first, add it from a
// connection middleware (Server.Use, Namespace.Use) or from a connection
// listener registered before Attach (or New).
//
// Everything runs on the sending socket's runner goroutine (see
// hub.Socket), one event at a time in the order the client sent them, and
// a broadcast is queued on every recipient's connection before the next
// event of the same socket is handled: events from one sender reach each
// recipient in the order sent. A relay that waits (a cluster adapter's
// request) holds up its sender's later events only.
//
// # Decisions the contract leaves open
//
//   - Room names are non-empty strings of at most Config.MaxRoomName bytes
//     (256). One call names at most Config.MaxRoomsPerCall rooms (100), and
//     a hub:join that would put the socket in more than
//     Config.MaxRoomsPerSocket rooms (1000, its own id room not counted) is
//     refused; rooms the server or a hook adds are not refused but count.
//     Duplicates in a list count once. An empty list is allowed: it changes
//     nothing and the ack tells the current membership.
//   - A socket id is never joinable: the joining socket's own id, the id of
//     any socket of the namespace on this node, and, when the namespace has
//     a cluster adapter, the id of any socket of the namespace on another
//     node (checked with FetchSockets, only for names shaped like a socket
//     id: 20 URL-safe base64 characters). A socket may not leave its own
//     id room either.
//   - Echo (and a hub.Route's ToSender) makes the sender a recipient of its
//     own event, exactly once, even when it is in no room; without it the
//     sender never receives its own event, even when a route names a room
//     it is in.
//   - A hub.Route with nil Rooms keeps the namespace's default targets and
//     applies only Except and ToSender; a Route with an empty, non-nil
//     Rooms reaches nobody (but the sender, with ToSender). A Route that
//     names rooms is obeyed even where the default route is "none": the
//     hook, not the client, decided where the event goes.
//   - A refused join answers the join hook's error text as the error
//     (for the plugin host, the plugin's reason): a hook writes it for the
//     client.
//   - hub:join and hub:leave work whatever the route, "none" included:
//     rooms still receive what the server publishes.
//   - With Presence, a room's other members get hub:joined when a socket
//     joins it with hub:join and hub:left when it leaves it with hub:leave
//     or disconnects, with {room, id, data} (data: the socket's data); a
//     recovered socket is announced again in its rooms. The notice goes
//     out before the command's ack.
//   - An event whose relay fails (a cluster adapter error) is answered
//     {ok: false, error: "relay failed"} and logged.
package relay
