package relay

import (
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"

	"github.com/hubd/hubd/hub"
)

// Command names: the "hub:" prefix belongs to the relay.
const (
	CommandPrefix = "hub:"
	CommandJoin   = "hub:join"
	CommandLeave  = "hub:leave"
)

// Errors the clients see in {ok: false, error} acks.
const (
	errUnknownCommand = "unknown command"
	errPublishing     = "publishing is disabled"
	errRelayFailed    = "relay failed"
	errRelayLocalOnly = "relayed to this node's clients only: the other nodes cannot be reached"
	errReservedName   = "reserved event name"
)

// Attach makes srv offer the client contract of hubd (see the package
// documentation) on the namespaces cfg allows: it creates the named ones
// (Server.Of), adds a dynamic namespace for each pattern
// (Server.OfPattern), and relays on every socket that connects to them.
// The main namespace "/", which every Server has, refuses connections with
// the standard "Invalid namespace" connect_error unless cfg allows it.
// Other namespaces the program creates itself are left alone.
//
// Attach returns cfg.Validate's error, if any, and then changes nothing.
// Call it once per Server, before clients connect.
func Attach(srv *hub.Server, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	limits := limits{room: cfg.MaxRoomName, perCall: cfg.MaxRoomsPerCall, perSocket: cfg.MaxRoomsPerSocket}
	mainAllowed := false
	// Names first: the hub resolves existing namespaces before patterns.
	for _, n := range cfg.Namespaces {
		if n.Name == "" {
			continue
		}
		r := newRelay(n, limits, cfg.Logger)
		srv.Of(n.Name).OnConnection(r.attach)
		mainAllowed = mainAllowed || n.Name == "/"
	}
	for _, n := range cfg.Namespaces {
		if n.Pattern == "" {
			continue
		}
		re, _ := compile(n.Pattern) // checked by Validate
		r := newRelay(n, limits, cfg.Logger)
		srv.OfPattern(re).OnConnection(r.attach)
		if !mainAllowed && re.MatchString("/") {
			// "/" always exists, so the pattern would never create it.
			srv.Of("/").OnConnection(r.attach)
			mainAllowed = true
		}
	}
	if !mainAllowed {
		srv.Of("/").Use(func(*hub.Socket) error {
			return &hub.ConnectError{Message: "Invalid namespace"}
		})
	}
	return nil
}

// limits bound what one client may ask of hub:join and hub:leave.
type limits struct {
	room      int
	perCall   int
	perSocket int
}

// relay serves the sockets of one configured namespace (or pattern).
type relay struct {
	route  Route
	echo   bool
	limits limits
	log    *slog.Logger
}

func newRelay(n Namespace, l limits, log *slog.Logger) *relay {
	r := &relay{route: n.Route, echo: n.Echo, limits: l, log: log}
	if r.route == "" {
		r.route = RouteRooms
	}
	return r
}

// attach sets the relay up on a socket that has just connected.
func (r *relay) attach(s *hub.Socket) { s.Use(r.handle) }

// handle is the socket middleware: it runs the commands and relays the
// rest. It never stops the event.
func (r *relay) handle(ev *hub.Event) error {
	if strings.HasPrefix(ev.Name, CommandPrefix) {
		switch ev.Name {
		case CommandJoin:
			r.join(ev)
		case CommandLeave:
			r.leave(ev)
		default:
			fail(ev, errUnknownCommand)
		}
		return nil
	}
	r.relay(ev)
	return nil
}

// relay sends the event on to its route and answers the ack.
func (r *relay) relay(ev *hub.Event) {
	s := ev.Socket()
	nsp := s.Namespace()
	echo := r.echo
	var except []string
	var op hub.BroadcastOperator
	rt := ev.Route
	if rt != nil {
		if rt.ToSender != nil {
			echo = *rt.ToSender
		}
		except = rt.Except
	}
	switch {
	case rt != nil && rt.Rooms != nil:
		op = nsp.To(rt.Rooms...)
		if echo {
			op = op.To(s.ID())
		} else if len(rt.Rooms) == 0 {
			succeed(ev) // routed to nobody
			return
		}
	case r.route == RouteNone:
		fail(ev, errPublishing)
		return
	case r.route == RouteNamespace:
		op = nsp.Except() // no room: the whole namespace
	default:
		rooms := joined(s)
		if echo {
			rooms = append(rooms, s.ID())
		}
		if len(rooms) == 0 {
			succeed(ev) // a sender in no room reaches nobody
			return
		}
		op = nsp.To(rooms...)
	}
	if len(except) > 0 {
		op = op.Except(except...)
	}
	if !echo {
		op = op.Except(s.ID())
	}
	if err := op.EmitArgs(ev.Name, ev.Args); err != nil {
		if errors.Is(err, hub.ErrReserved) {
			fail(ev, errReservedName)
			return
		}
		if errors.Is(err, hub.ErrUnavailable) {
			r.log.Warn("relay reached this node only", "namespace", nsp.Name(), "socket", s.ID(), "event", ev.Name, "err", err)
			fail(ev, errRelayLocalOnly)
			return
		}
		r.log.Error("relay failed", "namespace", nsp.Name(), "socket", s.ID(), "event", ev.Name, "err", err)
		fail(ev, errRelayFailed)
		return
	}
	succeed(ev)
}

// joined returns the socket's rooms without its own id room, sorted.
func joined(s *hub.Socket) []string {
	id := s.ID()
	return slices.DeleteFunc(s.Rooms(), func(r string) bool { return r == id })
}

var ackOK = json.RawMessage(`{"ok":true}`)

// succeed answers {ok: true} unless the ack was answered already or not
// asked for.
func succeed(ev *hub.Event) {
	if ev.WantsAck() && !ev.Acked() {
		_ = ev.Ack(ackOK)
	}
}

// fail answers {ok: false, error: msg} unless the ack was answered already
// or not asked for.
func fail(ev *hub.Event, msg string) {
	if ev.WantsAck() && !ev.Acked() {
		_ = ev.Ack(failure{Error: msg})
	}
}

type failure struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

type membership struct {
	OK    bool     `json:"ok"`
	Rooms []string `json:"rooms"`
}
