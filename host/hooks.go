package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/relay"
	"github.com/hubd/hubd/sdk/wire"
)

// DenyError is a plugin's refusal, as the hub's hooks return it.
type DenyError struct {
	Reason string
	Data   json.RawMessage
}

func (e *DenyError) Error() string { return e.Reason }

// Hooks returns the hub hooks that run the host's plugins. They read the
// current plugin table on every call, so a Load takes effect at once.
//
// On the event hook, the client's ack is always answered when a plugin
// ends the event: deny and drop answer {ok:false, error}, reply answers
// with the plugin's arguments. A route (rooms, except, to_sender) is left
// in hub.Event.Route for the listener that relays.
//
// A socket that connection state recovery gives back is put to the
// connect hook only when hub.RecoveryOptions.RunMiddlewares is set; its
// envelope then says "recovered" and carries its restored id and data
// (its rooms come back after the hook lets it in), and a refusal fails
// the recovery with the client's connect_error. Socket data a connect
// decision attaches merges into the data the socket has.
//
// Every call is made with the socket's context (hub.Socket.Context): a
// call for a socket that disconnects meanwhile is abandoned by the
// runtimes that watch their context, rather than run to its timeout. The
// disconnect hook's call, made as the socket goes, keeps the context's
// values but not its end: it runs to completion within its timeout.
//
// Each call that reaches a plugin is recorded in the socket's decision
// trace (see SetTrace and Trace).
func (h *Host) Hooks() *hub.Hooks {
	return &hub.Hooks{
		Connect:    h.onConnect,
		Join:       h.onJoin,
		Leave:      h.onLeave,
		Event:      h.onEvent,
		Disconnect: h.onDisconnect,
	}
}

// socketEnvelope fills the socket part of an envelope.
func socketEnvelope(hook Hook, s *hub.Socket) Envelope {
	return Envelope{
		Hook:      hook,
		Namespace: s.Namespace().Name(),
		Socket:    Socket{ID: s.ID(), Rooms: s.JoinedRooms(), Data: wire.Raw(socketData(s))},
	}
}

func socketData(s *hub.Socket) json.RawMessage {
	switch v := s.Data().(type) {
	case nil:
		return nil
	case json.RawMessage:
		return v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil
		}
		return b
	}
}

func (h *Host) onConnect(s *hub.Socket) error {
	t := h.current.Load()
	ns := s.Namespace().Name()
	if !t.subscribed(HookConnect, ns, "") {
		return nil
	}
	env := socketEnvelope(HookConnect, s)
	hs := s.Handshake()
	env.Handshake = &Handshake{Auth: wire.Raw(hs.Auth), Query: firstValues(hs.Query()), Headers: lowerHeaders(hs.Headers), Address: hs.Address}
	env.Recovered = s.Recovered()
	ctx := s.Context()
	var show *TraceRecord // the trace a refused client is shown, if any
	if c := h.tracer.on(); c != nil && c.connectError {
		show = new(TraceRecord)
	}
	d := h.decide(ctx, ctx, t, &env, show)
	switch d.Action {
	case Deny, Drop, Disconnect, Reply:
		ce := connectError(&d)
		if show != nil && show.Hook != "" {
			ce.Data = withTrace(json.RawMessage(d.Data), show)
		}
		return ce
	}
	if d.SocketData != nil {
		// The data the chain ended with: the socket's own (a recovered
		// socket's restored data) merged key by key with each plugin's
		// socket_data, as the chain showed it to the plugins that followed.
		s.SetData(json.RawMessage(env.Socket.Data)) // as the hub keeps data: see socketData
	}
	if len(d.Join) > 0 {
		// Rooms a connect decision grants are not put to the join hook.
		s.Namespace().Adapter().AddAll(s, d.Join)
	}
	return nil
}

func connectError(d *Decision) *hub.ConnectError {
	ce := &hub.ConnectError{Message: d.Reason}
	if ce.Message == "" {
		ce.Message = "Forbidden"
	}
	if len(d.Data) > 0 {
		ce.Data = json.RawMessage(d.Data) // the hub passes json.RawMessage through as JSON
	}
	return ce
}

func (h *Host) onJoin(s *hub.Socket, rooms []string) ([]string, error) {
	t := h.current.Load()
	if !t.subscribed(HookJoin, s.Namespace().Name(), "") {
		return rooms, nil
	}
	env := socketEnvelope(HookJoin, s)
	env.Rooms = rooms
	ctx := s.Context()
	d := h.decide(ctx, ctx, t, &env, nil)
	switch d.Action {
	case Deny, Drop, Disconnect, Reply:
		return nil, &DenyError{Reason: reasonOr(d.Reason, "join refused"), Data: json.RawMessage(d.Data)}
	}
	if d.Rooms != nil {
		return d.Rooms, nil
	}
	return rooms, nil
}

func (h *Host) onLeave(s *hub.Socket, rooms []string) {
	t := h.current.Load()
	if !t.subscribed(HookLeave, s.Namespace().Name(), "") {
		return
	}
	env := socketEnvelope(HookLeave, s)
	env.Rooms = rooms
	ctx := s.Context()
	h.decide(ctx, ctx, t, &env, nil)
}

func (h *Host) onDisconnect(s *hub.Socket, reason hub.DisconnectReason) {
	t := h.current.Load()
	// The socket's strikes go with it, whether or not a plugin handles
	// disconnect.
	defer t.forget(s.ID())
	if !t.subscribed(HookDisconnect, s.Namespace().Name(), "") {
		return
	}
	env := socketEnvelope(HookDisconnect, s)
	env.Reason = string(reason)
	ctx := s.Context()
	h.decide(context.WithoutCancel(ctx), ctx, t, &env, nil)
}

// ErrDenied is wrapped by the errors an event hook returns for a denied
// event.
var ErrDenied = errors.New("host: event denied")

// eventEnvelopes recycles the event hook's envelopes: a plugin does not
// keep the envelope past its call (see Plugin), and what keeps a copy (a
// tape, a shadow's job) copies the struct.
var eventEnvelopes = sync.Pool{New: func() any { return new(Envelope) }}

func (h *Host) onEvent(ev *hub.Event) error {
	t := h.current.Load()
	if len(t.byHook[slotEvent]) == 0 {
		return nil
	}
	s := ev.Socket()
	if !t.subscribed(HookEvent, s.Namespace().Name(), ev.Name) {
		return nil
	}
	env := eventEnvelopes.Get().(*Envelope)
	*env = socketEnvelope(HookEvent, s)
	env.Event = ev.Name
	env.Args = wire.Raw(ev.Args.JSON())
	env.Attachments = ev.Args.Attachments()
	env.Ack = ev.WantsAck()
	env.Rooms = env.Socket.Rooms
	ctx := s.Context()
	d := h.decide(ctx, ctx, t, env, nil)
	*env = Envelope{}
	eventEnvelopes.Put(env)
	switch d.Action {
	case Deny:
		reason := reasonOr(d.Reason, "denied")
		answer(ev, reason)
		return &DenyError{Reason: reason, Data: json.RawMessage(d.Data)}
	case Drop:
		answer(ev, reasonOr(d.Reason, "dropped"))
		return hub.ErrDrop
	case Disconnect:
		s.Disconnect(false)
		return hub.ErrDrop
	case Reply:
		h.reply(ev, json.RawMessage(d.Reply))
		return hub.ErrDrop
	}
	if d.Event != "" {
		ev.Name = d.Event
	}
	if d.Args != nil {
		args, err := hub.RawArgs(json.RawMessage(d.Args), ev.Args.Attachments())
		if err != nil {
			// A transform that broke the arguments fails open.
			h.logger.Warn("plugin returned bad args", "event", ev.Name, "err", err)
		} else {
			ev.Args = args
		}
	}
	if d.Rooms != nil || d.Except != nil || d.ToSender != nil {
		ev.Route = &hub.Route{Rooms: d.Rooms, Except: d.Except, ToSender: d.ToSender}
	}
	if d.Reply != nil {
		h.reply(ev, json.RawMessage(d.Reply))
	}
	return nil
}

// decide runs t's chain for env with ctx and, when tracing is on, records
// the decision in the trace of env's socket, whose life is sockCtx; show,
// when not nil, gets the record. With a tape being recorded (SetTape), the
// envelope as the chain got it and the decision go to the tape.
func (h *Host) decide(ctx, sockCtx context.Context, t *table, env *Envelope, show *TraceRecord) Decision {
	if r := h.tape.Load(); r != nil {
		if at, ok := r.take(env); ok {
			pre := *env // the chain replaces env's fields, never changes them
			d := h.traced(ctx, sockCtx, t, env, show)
			r.put(at, pre, &d)
			return d
		}
	}
	return h.traced(ctx, sockCtx, t, env, show)
}

// traced is decide without the tape.
func (h *Host) traced(ctx, sockCtx context.Context, t *table, env *Envelope, show *TraceRecord) Decision {
	c := h.tracer.on()
	if c == nil {
		return t.run(ctx, env.Hook, env, nil)
	}
	var tb traceBuf
	event := env.Event // as the client sent it; the chain may rename it
	d := t.run(ctx, env.Hook, env, &tb)
	r, seq := h.tracer.recordAt(c, env.Socket.ID, env.Namespace, sockCtx, slot(env.Hook), event, &tb, &d, show)
	if tb.shadows != nil {
		dispatchShadows(&tb, r, seq)
	}
	return d
}

func reasonOr(reason, fallback string) string {
	if reason == "" {
		return fallback
	}
	return reason
}

// answer tells a client that waits for an ack that its event went nowhere,
// in the relay's shape, so that a plugin's refusal reads like the relay's.
func answer(ev *hub.Event, reason string) { relay.Fail(ev, reason) }

// reply answers the client's ack with a plugin's reply. Placeholders in
// it stand for the event's binary values, as in a transform's args: a
// reply that uses any carries the event's attachments with it.
func (h *Host) reply(ev *hub.Event, args json.RawMessage) {
	if !ev.WantsAck() {
		return
	}
	var att [][]byte
	if bytes.Contains(args, []byte("placeholder")) || bytes.Contains(args, []byte(`\u`)) {
		att = ev.Args.Attachments()
	}
	a, err := hub.RawArgs(args, att)
	if err != nil {
		// The chain checked each plugin's reply; this is a bug.
		h.logger.Error("plugin reply refused", "event", ev.Name, "err", err)
		answer(ev, "plugin returned a bad reply")
		return
	}
	_ = ev.Ack(a)
}

func firstValues(q map[string][]string) map[string]string {
	out := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

func lowerHeaders(h map[string][]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	return out
}
