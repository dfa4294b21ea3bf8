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

// Decision is a handler's answer (package wire's Decision, shared with
// the host). The zero Decision allows the call unchanged (and costs
// nothing to send). Its fields are those of the decision schema; see
// sdk/wasm/ABI.md.
type Decision = wire.Decision

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
