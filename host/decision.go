package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/sdk/wire"
)

// Action is what a decision asks for.
type Action = wire.Action

// The actions. The empty action is Allow.
const (
	Allow      = wire.ActionAllow
	Deny       = wire.ActionDeny
	Drop       = wire.ActionDrop
	Reply      = wire.ActionReply
	Disconnect = wire.ActionDisconnect
)

// Decision is a plugin's answer to one hook call (package wire defines it
// for every runtime and SDK). Every field is optional; the zero Decision
// allows the call unchanged.
type Decision = wire.Decision

// Limits of a decision; a plugin exceeding them returns garbage.
const (
	maxReason = wire.MaxReason
	maxRooms  = wire.MaxRooms
)

// ErrGarbage reports a decision that is not valid: malformed JSON, an
// unknown action, fields out of bounds.
var ErrGarbage = errors.New("host: invalid decision")

// ParseDecision decodes and checks a decision's JSON. An empty input is the
// zero Decision.
func ParseDecision(b []byte) (*Decision, error) {
	d := &Decision{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return d, nil
	}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrGarbage, err)
	}
	if err := CheckDecision(d); err != nil {
		return nil, err
	}
	return d, nil
}

// CheckDecision reports whether a decision keeps within the bounds every
// runtime's decision must keep (an error wrapping ErrGarbage when it does
// not): a known action, a short reason, few and non-empty room names, args
// and reply that are arrays, and JSON values of valid UTF-8 nested no
// deeper than MaxJSONDepth. The chain checks every plugin's decision with it; a
// reply action without a reply gets an empty one.
func CheckDecision(d *Decision) error {
	switch d.Action {
	case "", Allow, Deny, Drop, Reply, Disconnect:
	default:
		return fmt.Errorf("%w: unknown action %q", ErrGarbage, d.Action)
	}
	if len(d.Reason) > maxReason {
		return fmt.Errorf("%w: reason longer than %d bytes", ErrGarbage, maxReason)
	}
	if len(d.Rooms) > maxRooms || len(d.Except) > maxRooms || len(d.Join) > maxRooms {
		return fmt.Errorf("%w: more than %d rooms", ErrGarbage, maxRooms)
	}
	for _, list := range [][]string{d.Rooms, d.Except, d.Join} {
		for _, r := range list {
			if r == "" {
				return fmt.Errorf("%w: empty room name", ErrGarbage)
			}
		}
	}
	if !isArray(d.Args) {
		return fmt.Errorf("%w: args must be a JSON array", ErrGarbage)
	}
	if !isArray(d.Reply) {
		return fmt.Errorf("%w: reply must be a JSON array", ErrGarbage)
	}
	for _, f := range [...]struct {
		name string
		raw  wire.Raw
	}{{"args", d.Args}, {"reply", d.Reply}, {"data", d.Data}, {"socket_data", d.SocketData}} {
		if nestedDeeper(f.raw, MaxJSONDepth) {
			return fmt.Errorf("%w: %s nested deeper than %d levels", ErrGarbage, f.name, MaxJSONDepth)
		}
		if !utf8.Valid(f.raw) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrGarbage, f.name)
		}
	}
	if d.Action == Reply && len(d.Reply) == 0 {
		d.Reply = wire.Raw("[]")
	}
	return nil
}

// checkPlaceholders reports whether the binary placeholders of an event
// decision's args and reply point at the event's n attachments (an error
// wrapping ErrGarbage when one does not): a plugin may move the event's
// binary values about, never invent one.
//
// Values without a placeholder (the common transform) are not parsed
// here: the hooks parse them once, when they use them.
func checkPlaceholders(d *Decision, n int) error {
	var att [][]byte
	for _, f := range [...]struct {
		name string
		raw  wire.Raw
	}{{"args", d.Args}, {"reply", d.Reply}} {
		if !bytes.Contains(f.raw, []byte("_placeholder")) && !bytes.Contains(f.raw, []byte(`\u`)) {
			continue // no placeholder, even one with an escaped key
		}
		if att == nil {
			att = make([][]byte, n) // only counted
		}
		if _, err := hub.RawArgs(json.RawMessage(f.raw), att); err != nil {
			return fmt.Errorf("%w: %s: %v (the event has %d binary values)", ErrGarbage, f.name, err, n)
		}
	}
	return nil
}

// final reports whether the decision d ends the chain.
func final(d *Decision) bool {
	switch d.Action {
	case Deny, Drop, Reply, Disconnect:
		return true
	}
	return false
}

// isArray reports whether raw is absent or starts a JSON array.
func isArray(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || raw[0] == '['
}
