package hubd

import "github.com/hubd/hubd/sdk/wire"

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

// Decision is a handler's answer. The zero Decision allows the call
// unchanged (and costs nothing to send). The fields are those of the
// host's decision schema; see sdk/wasm/ABI.md.
type Decision struct {
	Action Action
	// Reason and Data explain a deny (a refused connect reaches the client
	// as connect_error {message: Reason, data: Data}).
	Reason string
	Data   Raw
	// Event and Args replace the event's name and arguments.
	Event string
	Args  Raw
	// Rooms replaces the rooms being joined (join) or routes the event to
	// these rooms (event).
	Rooms []string
	// Except and ToSender complete an event's route.
	Except   []string
	ToSender *bool
	// Reply answers the client's ack with these arguments (a JSON array).
	Reply Raw
	// SocketData is attached to the socket (connect) and seen by every
	// later call for it.
	SocketData Raw
	// Join lists rooms the socket joins on connect.
	Join []string
}

// Allow allows the call unchanged.
func Allow() Decision { return Decision{} }

// Deny refuses the call with a reason.
func Deny(reason string) Decision { return Decision{Action: ActionDeny, Reason: reason} }

// DenyWith refuses the call with a reason and data for the client.
func DenyWith(reason string, data Raw) Decision {
	return Decision{Action: ActionDeny, Reason: reason, Data: data}
}

// Drop drops the event silently.
func Drop() Decision { return Decision{Action: ActionDrop} }

// Disconnect disconnects the socket.
func Disconnect() Decision { return Decision{Action: ActionDisconnect} }

// ReplyWith answers the client's ack with args and stops the event.
func ReplyWith(args ...Raw) Decision { return Decision{Action: ActionReply, Reply: Array(args...)} }

// Route sends the event to these rooms.
func Route(rooms ...string) Decision { return Decision{Rooms: rooms} }

// Transform replaces the event's arguments (a JSON array).
func Transform(args Raw) Decision { return Decision{Args: args} }

// isZero reports whether d allows the call unchanged.
func (d *Decision) isZero() bool {
	return (d.Action == "" || d.Action == ActionAllow) && d.Reason == "" && d.Data == nil &&
		d.Event == "" && d.Args == nil && d.Rooms == nil && d.Except == nil && d.ToSender == nil &&
		d.Reply == nil && d.SocketData == nil && d.Join == nil
}

// AppendJSON appends the decision's JSON form to dst.
func (d *Decision) AppendJSON(dst []byte) []byte {
	if d.Args != nil && d.Action == "" && d.Event == "" && d.Rooms == nil && d.Except == nil &&
		d.ToSender == nil && d.Reply == nil && d.Reason == "" && d.Data == nil && d.SocketData == nil && d.Join == nil {
		// A transform: the common case of the event hook.
		dst = append(dst, `{"args":`...)
		dst = append(dst, d.Args...)
		return append(dst, '}')
	}
	sep := byte('{')
	if d.Action != "" {
		dst = append(dst, sep)
		dst = append(dst, `"action":`...)
		dst = appendString(dst, string(d.Action))
		sep = ','
	}
	if d.Reason != "" {
		dst = append(dst, sep)
		dst = append(dst, `"reason":`...)
		dst = appendString(dst, d.Reason)
		sep = ','
	}
	if d.Data != nil {
		dst = append(dst, sep)
		dst = append(dst, `"data":`...)
		dst = appendValue(dst, d.Data)
		sep = ','
	}
	if d.Event != "" {
		dst = append(dst, sep)
		dst = append(dst, `"event":`...)
		dst = appendString(dst, d.Event)
		sep = ','
	}
	if d.Args != nil {
		dst = append(dst, sep)
		dst = append(dst, `"args":`...)
		dst = appendValue(dst, d.Args)
		sep = ','
	}
	if d.Rooms != nil {
		dst = append(dst, sep)
		dst = append(dst, `"rooms":`...)
		dst = appendStrings(dst, d.Rooms)
		sep = ','
	}
	if d.Except != nil {
		dst = append(dst, sep)
		dst = append(dst, `"except":`...)
		dst = appendStrings(dst, d.Except)
		sep = ','
	}
	if d.ToSender != nil {
		dst = append(dst, sep)
		if *d.ToSender {
			dst = append(dst, `"to_sender":true`...)
		} else {
			dst = append(dst, `"to_sender":false`...)
		}
		sep = ','
	}
	if d.Reply != nil {
		dst = append(dst, sep)
		dst = append(dst, `"reply":`...)
		dst = appendValue(dst, d.Reply)
		sep = ','
	}
	if d.SocketData != nil {
		dst = append(dst, sep)
		dst = append(dst, `"socket_data":`...)
		dst = appendValue(dst, d.SocketData)
		sep = ','
	}
	if d.Join != nil {
		dst = append(dst, sep)
		dst = append(dst, `"join":`...)
		dst = appendStrings(dst, d.Join)
		sep = ','
	}
	if sep == '{' {
		return append(dst, '{', '}')
	}
	return append(dst, '}')
}
