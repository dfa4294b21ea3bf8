package main

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Frame scanning and building for the hot path. Incoming frames are never
// decoded as a whole: the few fields a scenario needs are located with a byte
// scan. Every frame is a WebSocket text frame holding one Engine.IO packet; a
// Socket.IO packet on namespace "/" follows the Engine.IO type digit "4".

// Engine.IO packet types (first byte of a frame).
const (
	eioOpen    = '0'
	eioClose   = '1'
	eioPing    = '2'
	eioPong    = '3'
	eioMessage = '4'
)

// Socket.IO packet types (second byte of a message frame).
const (
	sioConnect      = '0'
	sioDisconnect   = '1'
	sioEvent        = '2'
	sioAck          = '3'
	sioConnectError = '4'
)

// sioType returns the Socket.IO packet type of an Engine.IO message frame, or
// 0 when the frame is not a message.
func sioType(frame []byte) byte {
	if len(frame) < 2 || frame[0] != eioMessage {
		return 0
	}
	return frame[1]
}

// parseAck splits an ack frame `43<id>[args]` into its id and the argument
// array. ok is false when the frame is not an ack with an id.
func parseAck(frame []byte) (id uint64, args []byte, ok bool) {
	if sioType(frame) != sioAck {
		return 0, nil, false
	}
	id, n := leadingUint(frame[2:])
	if n == 0 {
		return 0, nil, false
	}
	return id, frame[2+n:], true
}

// parseEvent splits an event frame `42[<id>]["name",args...]` into its event
// name and the bytes after the name (starting at the "," or "]" that follows
// it). Names containing escapes are not supported: the bench never sends them.
func parseEvent(frame []byte) (name, rest []byte, ok bool) {
	if sioType(frame) != sioEvent {
		return nil, nil, false
	}
	p := frame[2:]
	_, n := leadingUint(p)
	p = p[n:]
	if len(p) < 3 || p[0] != '[' || p[1] != '"' {
		return nil, nil, false
	}
	end := bytes.IndexByte(p[2:], '"')
	if end < 0 {
		return nil, nil, false
	}
	return p[2 : 2+end], p[2+end+1:], true
}

// lastStringArg returns the last argument of an event frame when it is a
// string, such as the offset a server with connection state recovery
// appends to every packet it keeps. ok is false when the frame is not an
// event or its last argument is no string (the event name is not an
// argument).
func lastStringArg(frame []byte) (s string, ok bool) {
	if sioType(frame) != sioEvent || !bytes.HasSuffix(frame, []byte(`"]`)) {
		return "", false
	}
	end := len(frame) - 2 // the closing quote
	start := -1
	for i := end - 1; i >= 2; i-- {
		if frame[i] != '"' {
			continue
		}
		slashes := 0
		for j := i - 1; j >= 0 && frame[j] == '\\'; j-- {
			slashes++
		}
		if slashes%2 == 0 {
			start = i
			break
		}
	}
	if start < 1 || frame[start-1] != ',' {
		return "", false
	}
	raw := frame[start : end+1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// intField finds the first `"key":` in b and parses the integer after it.
// The scan is textual: callers use it on payloads whose layout they control.
func intField(b []byte, key string) (int64, bool) {
	var pat [16]byte
	if len(key)+3 > len(pat) {
		return 0, false
	}
	n := copy(pat[:], `"`)
	n += copy(pat[n:], key)
	n += copy(pat[n:], `":`)
	i := bytes.Index(b, pat[:n])
	if i < 0 {
		return 0, false
	}
	b = b[i+n:]
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	v, digits := leadingUint(b)
	if digits == 0 || v > 1<<63-1 {
		return 0, false
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}

// leadingUint parses the decimal digits at the start of b and returns the
// value and the number of digits consumed (0 when b does not start with a
// digit). Overflow saturates at the maximum uint64.
func leadingUint(b []byte) (v uint64, n int) {
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		d := uint64(b[n] - '0')
		if v > (1<<64-1-d)/10 {
			v = 1<<64 - 1
		} else {
			v = v*10 + d
		}
		n++
	}
	return v, n
}

// appendEmit appends an event frame `42[<ackID>]["name",` to dst; the caller
// appends the arguments and the closing "]". ackID < 0 means no ack.
func appendEmit(dst []byte, ackID int64, name string) []byte {
	dst = append(dst, eioMessage, sioEvent)
	if ackID >= 0 {
		dst = strconv.AppendInt(dst, ackID, 10)
	}
	dst = append(dst, `["`...)
	dst = append(dst, name...)
	return append(dst, `",`...)
}

// appendPayload appends the bench payload {"t":<nanos>,"s":<seq>,"p":"<pad>"}.
// t and s come first so receivers find them without scanning the padding.
func appendPayload(dst []byte, t, seq int64, pad []byte) []byte {
	dst = append(dst, `{"t":`...)
	dst = strconv.AppendInt(dst, t, 10)
	dst = append(dst, `,"s":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"p":"`...)
	dst = append(dst, pad...)
	return append(dst, `"}`...)
}

// appendString appends s as a JSON string; s must need no escaping.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// padding returns n bytes of filler that needs no JSON escaping.
func padding(n int) []byte {
	return bytes.Repeat([]byte{'x'}, n)
}

// appendConnect appends a Socket.IO CONNECT frame for namespace "/": `40`,
// followed by the auth object when there is one.
func appendConnect(dst, auth []byte) []byte {
	dst = append(dst, eioMessage, sioConnect)
	return append(dst, auth...)
}

// appendPublish appends one fanout publish under the given contract:
// `42["publish","<room>",<payload>]` for the bench contract, and
// `42["msg",<payload>]` for the hubd contract, where the server relays any
// event to the rooms the sender joined.
func appendPublish(dst []byte, contract, room string, t, seq int64, pad []byte) []byte {
	if contract == contractHubd {
		dst = appendEmit(dst, -1, "msg")
	} else {
		dst = appendEmit(dst, -1, "publish")
		dst = appendString(dst, room)
		dst = append(dst, ',')
	}
	dst = appendPayload(dst, t, seq, pad)
	return append(dst, ']')
}
