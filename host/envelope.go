package host

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/hubd/hubd/internal/jsonstr"
	"github.com/hubd/hubd/sdk/wire"
)

// Version is the version of the envelope and decision schema (the "v"
// field). A plugin built for another major version is refused at load.
const Version = 1

// MaxJSONDepth bounds how deeply the JSON values a client controls may
// nest arrays and objects: an event's arguments (the array itself is level
// 1), the handshake's auth and a socket's data. It is the strictest bound
// of any runtime's path, the JS runtime's encoder, so that every runtime
// takes (and can hand back) any envelope the chain lets through. The chain
// answers a deeper envelope with each plugin's failure policy without
// calling the plugin, and a decision carrying deeper JSON is garbage.
const MaxJSONDepth = wire.MaxJSONDepth

// Hook names a moment of a socket's life (package wire defines the names
// for every runtime and SDK).
type Hook = wire.Hook

// The hooks.
const (
	HookConnect    = wire.HookConnect
	HookJoin       = wire.HookJoin
	HookLeave      = wire.HookLeave
	HookEvent      = wire.HookEvent
	HookDisconnect = wire.HookDisconnect
)

// allHooks lists every hook, in lifecycle order.
var allHooks = [...]Hook{HookConnect, HookJoin, HookLeave, HookEvent, HookDisconnect}

// Hooks yields every hook, in lifecycle order, with its index; range over
// it:
//
//	for _, h := range host.Hooks { ... }
//
// (A function rather than a slice, so that no caller can change the list.)
func Hooks(yield func(int, Hook) bool) {
	for i, h := range allHooks {
		if !yield(i, h) {
			return
		}
	}
}

func validHook(h Hook) bool {
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
	// Recovered is set on connect only, when the socket is one its client
	// got back after a disconnection (hub.Socket.Recovered): Socket.ID and
	// Socket.Data are the restored ones. Like Ack, it is sent only when
	// true ("recovered":true), never as false.
	Recovered bool `json:"recovered,omitempty"`
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

// tooDeep reports whether any JSON value of the envelope nests deeper than
// MaxJSONDepth.
func (e *Envelope) tooDeep() bool {
	return nestedDeeper(e.Args, MaxJSONDepth) || nestedDeeper(e.Socket.Data, MaxJSONDepth) ||
		e.Handshake != nil && nestedDeeper(e.Handshake.Auth, MaxJSONDepth)
}

// jsonClass marks the bytes that matter to nestedDeeper.
var jsonClass = [256]byte{'"': 1, '[': 2, '{': 2, ']': 3, '}': 3}

// nestedDeeper reports whether the JSON text b opens more than max arrays
// and objects inside one another. It takes one pass without recursion or
// allocation and does not validate b: malformed JSON is for its parser to
// refuse.
func nestedDeeper(b []byte, max int) bool {
	// Every level takes an opening and a closing byte.
	if len(b) <= 2*max {
		return false
	}
	depth, n := 0, len(b)
	for i := 0; i < n; i++ {
		switch jsonClass[b[i]] {
		case 1:
			// Short strings byte by byte; past 16 bytes, IndexByte.
			i++
			for k := 0; ; k++ {
				if i >= n {
					return false
				}
				if k == 16 {
					if i = stringEnd(b, i); i < 0 {
						return false
					}
					break
				}
				if c := b[i]; c == '"' {
					break
				} else if c == '\\' {
					i++
				}
				i++
			}
		case 2:
			depth++
			if depth > max {
				return true
			}
		case 3:
			depth--
		}
	}
	return false
}

// stringEnd returns the index of the quote that closes the JSON string
// whose contents start at b[i], or -1.
func stringEnd(b []byte, i int) int {
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		j += i
		// The quote is escaped when an odd number of backslashes precede it.
		k := j
		for k > i && b[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			return j
		}
		i = j + 1
	}
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
	if e.Recovered {
		dst = append(dst, `,"recovered":true`...)
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
