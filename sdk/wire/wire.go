// Package wire is the one definition of what travels between hubd and its
// plugins, whatever the runtime: the envelope a hook call sends and the
// decision that answers it (Envelope, Decision, and Raw for their JSON
// values) with their one JSON writer (AppendJSON, AppendString), the hook
// and action names, the bounds a decision keeps within, the Wasm ABI's
// hook ids, and the field ids and key tables of the envelope index the
// host writes after a Wasm guest's envelope (sdk/wasm/ABI.md, "Envelope
// index"). The plugin host, the process SDK and the Go guest SDK all take
// them from here; sdk/schema describes the same JSON for other languages.
//
// It imports no package of hubd's and, of the standard library, only
// strconv, unicode/utf8, slices and unsafe (no reflection, no
// encoding/json, no fmt), so that it builds for any target a guest is
// built for (wasip1, TinyGo). The struct types still carry json tags, so
// that encoding/json reads and writes them as AppendJSON does.
package wire

// Version is the envelope schema's version (the envelope's "v").
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

// HookIDs are the Wasm ABI's hook numbers (hubd_handle's first argument):
// HookIDs[i] is hook number i; 0 is none.
var HookIDs = [...]Hook{1: HookConnect, 2: HookJoin, 3: HookLeave, 4: HookEvent, 5: HookDisconnect}

// HookID returns h's ABI number, 0 for an unknown hook.
func HookID(h Hook) uint32 {
	for i, x := range HookIDs {
		if x == h && i > 0 {
			return uint32(i)
		}
	}
	return 0
}

// Action is what a decision asks for.
type Action string

// The actions. The empty action is ActionAllow.
const (
	ActionAllow      Action = "allow"
	ActionDeny       Action = "deny"
	ActionDrop       Action = "drop"
	ActionReply      Action = "reply"
	ActionDisconnect Action = "disconnect"
)

// Bounds every runtime's decision keeps within; one beyond them is
// garbage, the plugin's failure.
const (
	// MaxReason is the longest reason, in bytes.
	MaxReason = 256
	// MaxRooms is the most names in one room list (rooms, except, join).
	MaxRooms = 256
	// MaxJSONDepth is how deeply a decision's JSON values may nest; an
	// envelope nested deeper reaches no plugin.
	MaxJSONDepth = 64
)

// IndexMagic starts the envelope index ("hIDX" little-endian).
const IndexMagic = 0x58444968

// The field ids of the envelope index: FieldX is the index's pair number
// for field X. New fields are only ever appended.
const (
	FieldV = iota
	FieldHook
	FieldNs
	FieldSocket
	FieldSocketID
	FieldSocketRooms
	FieldSocketData
	FieldHandshake
	FieldAuth
	FieldQuery
	FieldHeaders
	FieldAddress
	FieldEvent
	FieldArgs
	FieldAck
	FieldRooms
	FieldReason
	FieldRecovered
	// FieldArg0 to FieldArg3 are the first IndexedArgs elements of args
	// (the element's bytes, (0, 0) when args has fewer); they have no key
	// of their own. A host that writes fewer than NumFields pairs (an
	// older one) has not indexed them: guests scan args then.
	FieldArg0
	FieldArg1
	FieldArg2
	FieldArg3
	NumFields
)

// IndexedArgs is how many arguments the index locates.
const IndexedArgs = NumFields - FieldArg0

// NumKeyFields is the number of fields an index holds at least: those
// with a key (the envelope index of hosts before FieldArg0).
const NumKeyFields = FieldArg0

// TopKey, SocketKey and HandshakeKey are the key tables of the index: the
// field id of each key of the envelope's top-level object, of its "socket"
// and of its "handshake" object; -1 for a key that is not indexed.
func TopKey(k []byte) int {
	switch string(k) {
	case "v":
		return FieldV
	case "hook":
		return FieldHook
	case "ns":
		return FieldNs
	case "socket":
		return FieldSocket
	case "handshake":
		return FieldHandshake
	case "event":
		return FieldEvent
	case "args":
		return FieldArgs
	case "ack":
		return FieldAck
	case "rooms":
		return FieldRooms
	case "reason":
		return FieldReason
	case "recovered":
		return FieldRecovered
	}
	return -1
}

// SocketKey is the key table of the "socket" object (see TopKey).
func SocketKey(k []byte) int {
	switch string(k) {
	case "id":
		return FieldSocketID
	case "rooms":
		return FieldSocketRooms
	case "data":
		return FieldSocketData
	}
	return -1
}

// HandshakeKey is the key table of the "handshake" object (see TopKey).
func HandshakeKey(k []byte) int {
	switch string(k) {
	case "auth":
		return FieldAuth
	case "query":
		return FieldQuery
	case "headers":
		return FieldHeaders
	case "address":
		return FieldAddress
	}
	return -1
}
