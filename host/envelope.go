package host

import (
	"bytes"

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

// Envelope is what a plugin sees of one hook call (package wire defines it
// for every runtime and SDK). Its JSON form (AppendJSON) is the wire format
// for every runtime.
type Envelope = wire.Envelope

// Socket is the socket a hook call is about.
type Socket = wire.Socket

// Handshake is what the client sent when connecting.
type Handshake = wire.Handshake

// tooDeep reports whether any JSON value of the envelope nests deeper than
// MaxJSONDepth.
func tooDeep(e *Envelope) bool {
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
	// Nor deeper than it opens arrays and objects; counting the bytes
	// (brackets in strings too) is much quicker than the walk below.
	if bytes.Count(b, []byte{'['})+bytes.Count(b, []byte{'{'}) <= max {
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
