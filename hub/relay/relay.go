package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/hubd/hubd/hub"
)

// Command names: the "hub:" prefix belongs to the relay.
const (
	CommandPrefix = "hub:"
	CommandJoin   = "hub:join"
	CommandLeave  = "hub:leave"
	// EventJoined and EventLeft are the presence announcements
	// (Namespace.Presence).
	EventJoined = "hub:joined"
	EventLeft   = "hub:left"
)

// Errors the clients see in {ok: false, error} acks.
const (
	errUnknownCommand = "unknown command"
	errPublishing     = "publishing is disabled"
	errRelayFailed    = "relay failed"
	errRelayLocalOnly = "relayed to this node's clients only: the other nodes cannot be reached"
	errReservedName   = "reserved event name"
)

// Relay is the client contract attached to a Server by New. Its
// configuration can change while clients use it (Update).
type Relay struct {
	// namespaces are the namespaces and patterns New attached, which
	// Update may not change.
	namespaces []Namespace
	// cur is the configuration in force. What it points to is never
	// changed: an event reads it once and is handled with one
	// configuration, old or new, whatever Update does meanwhile.
	cur atomic.Pointer[settings]
}

// settings are one configuration in force, one namespaceRelay per entry of
// Config.Namespaces, in order.
type settings struct {
	namespaces []*namespaceRelay
}

// ErrNamespacesChanged is returned by Update when the Config does not name
// the namespaces the relay was attached with.
var ErrNamespacesChanged = errors.New("relay: the namespaces differ from those attached; adding, removing or reordering namespaces needs a new server")

// Attach is New for a relay whose configuration never changes.
func Attach(srv *hub.Server, cfg Config) error {
	_, err := New(srv, cfg)
	return err
}

// New makes srv offer the client contract of hubd (see the package
// documentation) on the namespaces cfg allows: it creates the named ones
// (Server.Of), adds a dynamic namespace for each pattern
// (Server.OfPattern), and relays on every socket that connects to them.
// The main namespace "/", which every Server has, refuses connections with
// the standard "Invalid namespace" connect_error unless cfg allows it.
// Other namespaces the program creates itself are left alone.
//
// New returns cfg.Validate's error, if any, and then changes nothing.
// Call it once per Server, before clients connect; change the
// configuration later with Update.
func New(srv *hub.Server, cfg Config) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &Relay{namespaces: slices.Clone(cfg.Namespaces)}
	r.cur.Store(newSettings(cfg))
	mainAllowed := false
	// Names first: the hub resolves existing namespaces before patterns.
	for i, n := range cfg.Namespaces {
		if n.Name == "" {
			continue
		}
		srv.Of(n.Name).OnConnection(r.attach(i))
		mainAllowed = mainAllowed || n.Name == "/"
	}
	for i, n := range cfg.Namespaces {
		if n.Pattern == "" {
			continue
		}
		re, _ := compile(n.Pattern) // checked by Validate
		srv.OfPattern(re).OnConnection(r.attach(i))
		if !mainAllowed && re.MatchString("/") {
			// "/" always exists, so the pattern would never create it.
			srv.Of("/").OnConnection(r.attach(i))
			mainAllowed = true
		}
	}
	if !mainAllowed {
		srv.Of("/").Use(func(*hub.Socket) error {
			return &hub.ConnectError{Message: "Invalid namespace"}
		})
	}
	return r, nil
}

// Update puts cfg in force for every event that reaches the relay from now
// on, on every socket, those connected already included; an event being
// handled finishes with the configuration it started with. Every setting
// may change (routes, echo, limits, logger) but the namespaces themselves:
// cfg.Namespaces must name the namespaces and patterns New was given, in
// the same order (no namespace stands for [{Name: "/"}], as in New).
//
// Update returns cfg.Validate's error, or one wrapping
// ErrNamespacesChanged, and then changes nothing. It is safe to call while
// clients send events, and from several goroutines (the last one wins).
func (r *Relay) Update(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	if len(cfg.Namespaces) != len(r.namespaces) {
		return fmt.Errorf("%w: %d given, %d attached", ErrNamespacesChanged, len(cfg.Namespaces), len(r.namespaces))
	}
	for i, n := range cfg.Namespaces {
		if was := r.namespaces[i]; n.Name != was.Name || n.Pattern != was.Pattern {
			return fmt.Errorf("%w: namespaces[%d] is %s, attached as %s", ErrNamespacesChanged, i, n.key(), was.key())
		}
	}
	r.cur.Store(newSettings(cfg))
	return nil
}

// AnnounceLeft tells the other members of rooms that s left them, as a
// hub:leave does where the namespace has presence on (nothing otherwise):
// for rooms a socket left by other means, such as a revocation.
func (r *Relay) AnnounceLeft(s *hub.Socket, rooms []string) {
	name := s.Namespace().Name()
	i := slices.IndexFunc(r.namespaces, func(n Namespace) bool { return n.Name == name })
	if i < 0 {
		i = slices.IndexFunc(r.namespaces, func(n Namespace) bool {
			re, err := compile(n.Pattern)
			return n.Pattern != "" && err == nil && re.MatchString(name)
		})
	}
	if i >= 0 {
		r.cur.Load().namespaces[i].announce(s, EventLeft, rooms)
	}
}

// newSettings are the settings of a valid Config with its defaults.
func newSettings(cfg Config) *settings {
	l := limits{room: cfg.MaxRoomName, perCall: cfg.MaxRoomsPerCall, perSocket: cfg.MaxRoomsPerSocket}
	st := &settings{namespaces: make([]*namespaceRelay, len(cfg.Namespaces))}
	for i, n := range cfg.Namespaces {
		st.namespaces[i] = newNamespaceRelay(n, l, cfg.Logger)
	}
	return st
}

// attach returns the connection listener that sets the relay up on a
// socket of cfg.Namespaces[i]. The socket's middleware reads the settings
// in force at every event, so that Update reaches the sockets connected
// already.
func (r *Relay) attach(i int) func(*hub.Socket) {
	return func(s *hub.Socket) {
		s.Use(func(ev *hub.Event) error {
			r.cur.Load().namespaces[i].handle(ev)
			return nil
		})
		s.OnDisconnecting(func(hub.DisconnectReason) {
			r.cur.Load().namespaces[i].announce(s, EventLeft, joined(s))
		})
		if s.Recovered() {
			r.cur.Load().namespaces[i].announce(s, EventJoined, joined(s))
		}
	}
}

// limits bound what one client may ask of hub:join and hub:leave.
type limits struct {
	room      int
	perCall   int
	perSocket int
}

// namespaceRelay serves the sockets of one configured namespace (or
// pattern) with one configuration.
type namespaceRelay struct {
	route    Route
	echo     bool
	presence bool
	limits   limits
	log      *slog.Logger
}

// presenceNotice is the payload of EventJoined and EventLeft.
type presenceNotice struct {
	Room string `json:"room"`
	ID   string `json:"id"`
	Data any    `json:"data"`
}

// announce tells each of rooms' other members that s joined or left it,
// when presence is on.
func (r *namespaceRelay) announce(s *hub.Socket, event string, rooms []string) {
	if !r.presence {
		return
	}
	nsp := s.Namespace()
	for _, room := range rooms {
		err := nsp.To(room).Except(s.ID()).Emit(event, presenceNotice{Room: room, ID: s.ID(), Data: s.Data()})
		if err != nil {
			r.log.Warn("presence notice failed", "namespace", nsp.Name(), "socket", s.ID(), "room", room, "event", event, "err", err)
		}
	}
}

func newNamespaceRelay(n Namespace, l limits, log *slog.Logger) *namespaceRelay {
	r := &namespaceRelay{route: n.Route, echo: n.Echo, presence: n.Presence, limits: l, log: log}
	if r.route == "" {
		r.route = RouteRooms
	}
	return r
}

// handle runs the commands and relays the rest. It never stops the event.
func (r *namespaceRelay) handle(ev *hub.Event) {
	if strings.HasPrefix(ev.Name, CommandPrefix) {
		switch ev.Name {
		case CommandJoin:
			r.join(ev)
		case CommandLeave:
			r.leave(ev)
		default:
			Fail(ev, errUnknownCommand)
		}
		return
	}
	r.relay(ev)
}

// relay sends the event on to its route and answers the ack.
func (r *namespaceRelay) relay(ev *hub.Event) {
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
		Fail(ev, errPublishing)
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
			Fail(ev, errReservedName)
			return
		}
		if errors.Is(err, hub.ErrUnavailable) {
			r.log.Warn("relay reached this node only", "namespace", nsp.Name(), "socket", s.ID(), "event", ev.Name, "err", err)
			Fail(ev, errRelayLocalOnly)
			return
		}
		r.log.Error("relay failed", "namespace", nsp.Name(), "socket", s.ID(), "event", ev.Name, "err", err)
		Fail(ev, errRelayFailed)
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

// Fail answers the client's ack with {ok: false, error: msg}, the shape of
// every refusal of the client contract, unless the client asked for no ack
// or it was answered already. A hook or listener that ends an event the
// relay would have answered uses it, so that the client sees one shape.
func Fail(ev *hub.Event, msg string) {
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
