package process

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hubd/hubd/sdk/wire"
)

// Hook names a moment of a socket's life.
type Hook = wire.Hook

// The hooks.
const (
	HookConnect    = wire.HookConnect
	HookJoin       = wire.HookJoin
	HookLeave      = wire.HookLeave
	HookEvent      = wire.HookEvent
	HookDisconnect = wire.HookDisconnect
)

// Envelope is one hook call, as every hubd runtime sees it.
type Envelope struct {
	// V is the schema version, 1.
	V         int    `json:"v"`
	Hook      Hook   `json:"hook"`
	Namespace string `json:"ns"`
	Socket    Socket `json:"socket"`
	// Handshake is set on connect only.
	Handshake *Handshake `json:"handshake,omitempty"`
	// Recovered is set on connect only, when the socket is one its client
	// got back after a disconnection (connection state recovery): the
	// socket's id and Data are the restored ones; its rooms come back once
	// the connect is allowed, and a deny fails the recovery. hubd sends it
	// only when true.
	Recovered bool `json:"recovered,omitempty"`
	// Event and Args are set on the event hook: the event name and the
	// client's JSON argument array, binary values as placeholders
	// {"_placeholder":true,"num":N} whose bytes are in Attachments.
	Event string          `json:"event,omitempty"`
	Args  json.RawMessage `json:"args,omitempty"`
	// Ack tells whether the client waits for an ack (event hook).
	Ack bool `json:"ack,omitempty"`
	// Rooms are the rooms acted on: those being joined or left, or the
	// event's target rooms.
	Rooms []string `json:"rooms,omitempty"`
	// Reason is the disconnect reason.
	Reason string `json:"reason,omitempty"`
	// Attachments are the binary values of Args.
	Attachments [][]byte `json:"-"`
}

// Socket is the socket a hook call is about.
type Socket struct {
	ID string `json:"id"`
	// Rooms the socket is in, without its own.
	Rooms []string `json:"rooms"`
	// Data is what a connect decision attached (Decision.SocketData).
	Data json.RawMessage `json:"data,omitempty"`
}

// Handshake is what the client sent when connecting.
type Handshake struct {
	// Auth is the client's auth payload, {} when it sent none.
	Auth    json.RawMessage   `json:"auth"`
	Query   map[string]string `json:"query"`
	Headers map[string]string `json:"headers"` // lower-case names
	Address string            `json:"address"`
}

// ErrNoArg is returned by Envelope.Arg for an index past the arguments.
var ErrNoArg = errors.New("process: no such argument")

// ArgList splits the event's arguments into their raw JSON values.
func (e *Envelope) ArgList() ([]json.RawMessage, error) {
	if len(e.Args) == 0 {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(e.Args, &list); err != nil {
		return nil, fmt.Errorf("process: event arguments: %w", err)
	}
	return list, nil
}

// Arg decodes the event's i-th argument into v.
func (e *Envelope) Arg(i int, v any) error {
	list, err := e.ArgList()
	if err != nil {
		return err
	}
	if i < 0 || i >= len(list) {
		return ErrNoArg
	}
	return json.Unmarshal(list[i], v)
}

// AuthInto decodes the handshake's auth payload into v (connect hook). It
// leaves v as it is when there is no handshake or no payload.
func (e *Envelope) AuthInto(v any) error {
	if e.Handshake == nil || len(e.Handshake.Auth) == 0 {
		return nil
	}
	return json.Unmarshal(e.Handshake.Auth, v)
}

// DataInto decodes the socket's data into v. It leaves v as it is when
// the socket has no data.
func (e *Envelope) DataInto(v any) error {
	if len(e.Socket.Data) == 0 {
		return nil
	}
	return json.Unmarshal(e.Socket.Data, v)
}
