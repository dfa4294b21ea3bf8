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

// Envelope is one hook call, as every hubd runtime sees it: package wire's
// Envelope, whose fields it promotes (e.Hook, e.Socket.ID, e.Args ...),
// with methods that decode its JSON values. Its JSON form is wire's.
//
// On the event hook, Args holds the client's JSON argument array, binary
// values as placeholders {"_placeholder":true,"num":N} whose bytes are in
// Attachments.
type Envelope struct {
	wire.Envelope
}

// Socket is the socket a hook call is about (Envelope.Socket).
type Socket = wire.Socket

// Handshake is what the client sent when connecting (Envelope.Handshake).
type Handshake = wire.Handshake

// Raw is a JSON value as its text: the type of the envelope's and the
// decision's JSON fields (Args, Socket.Data, Handshake.Auth, Reply ...).
type Raw = wire.Raw

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
