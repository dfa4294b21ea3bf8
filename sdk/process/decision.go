package process

import (
	"encoding/json"
	"fmt"

	"github.com/hubd/hubd/sdk/wire"
)

// Action is what a decision asks for.
type Action = wire.Action

// The actions. The empty action is ActionAllow.
const (
	ActionAllow      = wire.ActionAllow
	ActionDeny       = wire.ActionDeny
	ActionDrop       = wire.ActionDrop
	ActionReply      = wire.ActionReply
	ActionDisconnect = wire.ActionDisconnect
)

// Decision is a plugin's answer to one hook call: package wire's
// Decision, whose fields it promotes (d.Reason, d.Args ...), with builders.
// Every field is optional: a nil or zero Decision allows the call
// unchanged. The helpers below build the common ones; their With methods
// add changes and may be chained, e.g.
// Allow().WithSocketData(map[string]any{"user": id}). Its JSON form is
// wire's.
type Decision struct {
	wire.Decision

	// err is the first encoding error of a With method, reported when the
	// decision is sent.
	err error
}

// decision returns a Decision of action a.
func decision(a Action) *Decision { return &Decision{Decision: wire.Decision{Action: a}} }

// Allow allows the call; add changes with the With methods.
func Allow() *Decision { return decision(ActionAllow) }

// Deny refuses the call with a reason: the client of a refused connect
// gets connect_error {message: reason}.
func Deny(reason string) *Decision {
	d := decision(ActionDeny)
	d.Reason = reason
	return d
}

// Drop ends an event silently (the client's ack, if any, gets an error).
func Drop() *Decision { return decision(ActionDrop) }

// Disconnect disconnects the socket.
func Disconnect() *Decision { return decision(ActionDisconnect) }

// Reply ends an event and answers the client's ack with args.
func Reply(args ...any) *Decision {
	d := decision(ActionReply)
	d.Reply = d.array(args)
	return d
}

// WithData sets the data that goes with a deny.
func (d *Decision) WithData(v any) *Decision {
	d.Data = d.value(v)
	return d
}

// WithEvent renames the event.
func (d *Decision) WithEvent(name string) *Decision {
	d.Event = name
	return d
}

// WithArgs replaces the event's arguments.
func (d *Decision) WithArgs(args ...any) *Decision {
	d.Args = d.array(args)
	return d
}

// WithRooms replaces the rooms being joined, or routes the event to rooms.
func (d *Decision) WithRooms(rooms ...string) *Decision {
	d.Rooms = rooms
	return d
}

// WithExcept keeps the event from the sockets in rooms.
func (d *Decision) WithExcept(rooms ...string) *Decision {
	d.Except = rooms
	return d
}

// WithToSender tells whether a routed event also reaches its sender.
func (d *Decision) WithToSender(b bool) *Decision {
	d.ToSender = &b
	return d
}

// WithReply answers the client's ack with args and lets the event go on.
func (d *Decision) WithReply(args ...any) *Decision {
	d.Reply = d.array(args)
	return d
}

// WithSocketData attaches v to the socket (connect hook).
func (d *Decision) WithSocketData(v any) *Decision {
	d.SocketData = d.value(v)
	return d
}

// WithJoin makes the socket join rooms on connect.
func (d *Decision) WithJoin(rooms ...string) *Decision {
	d.Join = append(d.Join, rooms...)
	return d
}

// Err returns the first error met while encoding a With method's value.
func (d *Decision) Err() error { return d.err }

func (d *Decision) value(v any) wire.Raw {
	switch raw := v.(type) {
	case wire.Raw:
		return raw
	case json.RawMessage:
		return wire.Raw(raw)
	}
	b, err := json.Marshal(v)
	if err != nil && d.err == nil {
		d.err = fmt.Errorf("process: encoding a decision: %w", err)
	}
	return b
}

func (d *Decision) array(args []any) wire.Raw {
	if args == nil {
		args = []any{}
	}
	return d.value(args)
}

// marshal encodes the decision; nil is the empty (allow) decision.
func (d *Decision) marshal() ([]byte, error) {
	if d == nil {
		return nil, nil
	}
	if d.err != nil {
		return nil, d.err
	}
	return json.Marshal(d)
}
