package host

import (
	"encoding/json"
	"strconv"

	"github.com/hubd/hubd/internal/jsonstr"
)

// Version is the version of the envelope and decision schema (the "v"
// field). A plugin built for another major version is refused at load.
const Version = 1

// Hook names a moment of a socket's life.
type Hook string

// The hooks.
const (
	HookConnect    Hook = "connect"
	HookJoin       Hook = "join"
	HookLeave      Hook = "leave"
	HookEvent      Hook = "event"
	HookDisconnect Hook = "disconnect"
)

// Hooks lists every hook, in lifecycle order.
var Hooks = []Hook{HookConnect, HookJoin, HookLeave, HookEvent, HookDisconnect}

func (h Hook) valid() bool {
	switch h {
	case HookConnect, HookJoin, HookLeave, HookEvent, HookDisconnect:
		return true
	}
	return false
}

// Envelope is what a plugin sees of one hook call. Its JSON form (AppendJSON)
// is the wire format for every runtime.
type Envelope struct {
	Hook      Hook   `json:"hook"`
	Namespace string `json:"ns"`
	Socket    Socket `json:"socket"`
	// Handshake is set on connect only.
	Handshake *Handshake `json:"handshake,omitempty"`
	// Event and Args are set on the event hook: the event name and the
	// packet's raw JSON argument array, binary values as placeholders.
	Event string          `json:"event,omitempty"`
	Args  json.RawMessage `json:"args,omitempty"`
	// Ack tells whether the client waits for an ack (event hook).
	Ack bool `json:"ack,omitempty"`
	// Rooms are the rooms acted on: those being joined or left, or the
	// event's target rooms.
	Rooms []string `json:"rooms,omitempty"`
	// Reason is the disconnect reason.
	Reason string `json:"reason,omitempty"`
	// Attachments are the binary values of Args, out of band.
	Attachments [][]byte `json:"-"`
}

// Socket is the socket a hook call is about.
type Socket struct {
	ID    string   `json:"id"`
	Rooms []string `json:"rooms"`
	// Data is what a connect decision attached (socket_data), as JSON.
	Data json.RawMessage `json:"data,omitempty"`
}

// Handshake is what the client sent when connecting.
type Handshake struct {
	Auth    json.RawMessage   `json:"auth"`
	Query   map[string]string `json:"query"`
	Headers map[string]string `json:"headers"`
	Address string            `json:"address"`
}

// AppendJSON appends the envelope's JSON form to dst. Args are copied as
// they are; nothing is re-encoded.
func (e *Envelope) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, Version, 10)
	dst = append(dst, `,"hook":`...)
	dst = jsonstr.Append(dst, string(e.Hook))
	dst = append(dst, `,"ns":`...)
	dst = jsonstr.Append(dst, e.Namespace)
	dst = append(dst, `,"socket":{"id":`...)
	dst = jsonstr.Append(dst, e.Socket.ID)
	dst = append(dst, `,"rooms":`...)
	dst = appendStrings(dst, e.Socket.Rooms)
	if len(e.Socket.Data) > 0 {
		dst = append(dst, `,"data":`...)
		dst = append(dst, e.Socket.Data...)
	}
	dst = append(dst, '}')
	if h := e.Handshake; h != nil {
		dst = append(dst, `,"handshake":{"auth":`...)
		if len(h.Auth) > 0 {
			dst = append(dst, h.Auth...)
		} else {
			dst = append(dst, "{}"...)
		}
		dst = append(dst, `,"query":`...)
		dst = appendMap(dst, h.Query)
		dst = append(dst, `,"headers":`...)
		dst = appendMap(dst, h.Headers)
		dst = append(dst, `,"address":`...)
		dst = jsonstr.Append(dst, h.Address)
		dst = append(dst, '}')
	}
	if e.Event != "" {
		dst = append(dst, `,"event":`...)
		dst = jsonstr.Append(dst, e.Event)
	}
	if len(e.Args) > 0 {
		dst = append(dst, `,"args":`...)
		dst = append(dst, e.Args...)
	}
	if e.Ack {
		dst = append(dst, `,"ack":true`...)
	}
	if e.Rooms != nil {
		dst = append(dst, `,"rooms":`...)
		dst = appendStrings(dst, e.Rooms)
	}
	if e.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = jsonstr.Append(dst, e.Reason)
	}
	return append(dst, '}')
}

func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonstr.Append(dst, s)
	}
	return append(dst, ']')
}

func appendMap(dst []byte, m map[string]string) []byte {
	b, _ := json.Marshal(m) // sorted keys; never fails for strings
	if m == nil {
		b = []byte("{}")
	}
	return append(dst, b...)
}
