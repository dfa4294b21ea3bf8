package relay

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
)

// Route is where a namespace relays a client's event when no hook set a
// hub.Route.
type Route string

// The default routes.
const (
	// RouteRooms relays to every room the sender has joined (not its own
	// id room); a sender in no room reaches nobody.
	RouteRooms Route = "rooms"
	// RouteNamespace relays to every socket of the namespace.
	RouteNamespace Route = "namespace"
	// RouteNone lets no client publish: the ack is
	// {ok: false, error: "publishing is disabled"}.
	RouteNone Route = "none"
)

// Defaults of the Config limits.
const (
	DefaultMaxRoomName       = 256
	DefaultMaxRoomsPerCall   = 100
	DefaultMaxRoomsPerSocket = 1000
)

// Config says which namespaces clients may use and how each relays. The
// zero Config allows the main namespace "/" with the default route
// (RouteRooms) and no echo.
type Config struct {
	// Namespaces are the namespaces clients may connect to, by name or by
	// pattern ([{Name: "/"}] when empty). A name is matched exactly, before
	// any pattern; patterns are tried in order.
	Namespaces []Namespace `json:"namespaces"`
	// MaxRoomName is the longest room name, in bytes, a client may join or
	// leave (DefaultMaxRoomName).
	MaxRoomName int `json:"max_room_name"`
	// MaxRoomsPerCall is the most rooms one hub:join or hub:leave may name
	// (DefaultMaxRoomsPerCall).
	MaxRoomsPerCall int `json:"max_rooms_per_call"`
	// MaxRoomsPerSocket is the most rooms a hub:join may leave a socket in,
	// its own id room not counted (DefaultMaxRoomsPerSocket).
	MaxRoomsPerSocket int `json:"max_rooms_per_socket"`
	// Logger receives the relay failures (slog.Default() when nil).
	Logger *slog.Logger `json:"-"`
}

// Namespace is one namespace, or one family of dynamic namespaces, clients
// may connect to. Exactly one of Name and Pattern is set.
type Namespace struct {
	// Name is a namespace name, e.g. "/" or "/chat".
	Name string `json:"name,omitempty"`
	// Pattern is a regular expression (RE2 syntax) that must match the
	// whole namespace name, e.g. `/team-\d+`; each matching namespace is
	// created when a client first asks for it.
	Pattern string `json:"pattern,omitempty"`
	// Route is the default route of the clients' events (RouteRooms when
	// empty).
	Route Route `json:"route,omitempty"`
	// Echo sends a client's event back to the client as well (default
	// false).
	Echo bool `json:"echo,omitempty"`
	// Presence announces to a room each socket that joins it with hub:join
	// (EventJoined) and each that leaves it with hub:leave or by
	// disconnecting (EventLeft), the socket itself left out; a socket
	// whose connection state was recovered is announced again in its
	// rooms. The payload is {room, id, data}, data being the socket's data
	// (what connect hooks set): keep nothing private there when Presence
	// is on. Rooms joined otherwise (by a hook, by the program) are not
	// announced.
	Presence bool `json:"presence,omitempty"`
}

// key names the namespace in messages: its name, or its pattern.
func (n Namespace) key() string {
	if n.Pattern != "" {
		return "pattern " + strconv.Quote(n.Pattern)
	}
	return "name " + strconv.Quote(n.Name)
}

// Validate reports every problem of the Config at once, joined in one
// error; nil means New and Update will accept it (Update also wants the
// namespaces New was given).
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("relay: "+format, args...)) }
	if c.MaxRoomName < 0 {
		bad("max_room_name is %d: it must be positive (0 for the default, %d)", c.MaxRoomName, DefaultMaxRoomName)
	}
	if c.MaxRoomsPerCall < 0 {
		bad("max_rooms_per_call is %d: it must be positive (0 for the default, %d)", c.MaxRoomsPerCall, DefaultMaxRoomsPerCall)
	}
	if c.MaxRoomsPerSocket < 0 {
		bad("max_rooms_per_socket is %d: it must be positive (0 for the default, %d)", c.MaxRoomsPerSocket, DefaultMaxRoomsPerSocket)
	}
	names := make(map[string]int)
	patterns := make(map[string]int)
	for i, n := range c.Namespaces {
		switch {
		case n.Name == "" && n.Pattern == "":
			bad("namespaces[%d]: set a name or a pattern", i)
		case n.Name != "" && n.Pattern != "":
			bad("namespaces[%d]: set a name or a pattern, not both", i)
		case n.Name != "":
			if !strings.HasPrefix(n.Name, "/") {
				bad("namespaces[%d]: name %q must start with /", i, n.Name)
			} else if strings.ContainsAny(n.Name, ",?") {
				bad("namespaces[%d]: name %q may not hold a comma or a question mark", i, n.Name)
			}
			if j, dup := names[n.Name]; dup {
				bad("namespaces[%d]: name %q already given in namespaces[%d]", i, n.Name, j)
			} else {
				names[n.Name] = i
			}
		default:
			if _, err := compile(n.Pattern); err != nil {
				bad("namespaces[%d]: pattern %q: %v", i, n.Pattern, err)
			}
			if j, dup := patterns[n.Pattern]; dup {
				bad("namespaces[%d]: pattern %q already given in namespaces[%d]", i, n.Pattern, j)
			} else {
				patterns[n.Pattern] = i
			}
		}
		switch n.Route {
		case "", RouteRooms, RouteNamespace, RouteNone:
		default:
			bad("namespaces[%d]: route %q: use %q, %q or %q", i, n.Route, RouteRooms, RouteNamespace, RouteNone)
		}
	}
	return errors.Join(errs...)
}

// compile anchors a namespace pattern so that it matches whole names.
func compile(pattern string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + pattern + `)$`)
}

// withDefaults fills in the zero fields of a valid Config.
func (c Config) withDefaults() Config {
	if len(c.Namespaces) == 0 {
		c.Namespaces = []Namespace{{Name: "/"}}
	}
	if c.MaxRoomName == 0 {
		c.MaxRoomName = DefaultMaxRoomName
	}
	if c.MaxRoomsPerCall == 0 {
		c.MaxRoomsPerCall = DefaultMaxRoomsPerCall
	}
	if c.MaxRoomsPerSocket == 0 {
		c.MaxRoomsPerSocket = DefaultMaxRoomsPerSocket
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
