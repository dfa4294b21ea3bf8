package engine

import (
	"slices"
	"time"

	"github.com/hubd/hubd/hub/internal/eio"
)

// Revision 3 of the protocol, spoken by socket.io-client 2.x, is served
// when Config.AllowEIO3 is set, as the reference's allowEIO3. A session
// keeps the revision of its handshake; what its revision changes:
//
//   - heartbeat: the client pings and the server answers with a pong; a
//     session that hears no ping for PingInterval+PingTimeout times out, and
//     a pong from the client is an error (the reference's "invalid
//     heartbeat direction");
//   - binary messages carry their type byte: Send puts it before the data
//     of every binary frame, so that WebSocket writes them as they are and
//     polling payloads frame them as the reference does;
//   - polling payloads frame packets with their length (eio's revision 3
//     codec), in binary form (application/octet-stream) when a binary
//     message is among them and the client did not ask for base64 (b64).
//
// Revision 4 sessions pay one nil check for all this, where Send, the
// heartbeat and the decoders branch.

// eio3 is the state of a revision 3 session; nil for revision 4.
type eio3 struct {
	// b64: the client asked for base64 in polling payloads (its XHR reads
	// no binary). A WebSocket client reads binary frames either way.
	b64 bool
}

// Protocol returns the revision of the Engine.IO protocol the session's
// client speaks: 4, or 3 for socket.io-client 2.x (see Config.AllowEIO3).
func (c *Conn) Protocol() int {
	if c.v3 != nil {
		return 3
	}
	return 4
}

// framesV3 returns frames with the type byte of revision 3 put before the
// data of each binary message, copying only what it changes: the caller's
// frames may be shared with other sessions.
func framesV3(frames []Frame) []Frame {
	var out []Frame
	for i := range frames {
		f := &frames[i]
		if !f.Binary || f.op != 0 {
			continue
		}
		if out == nil {
			out = slices.Clone(frames)
		}
		d := make([]byte, 1+len(f.Data))
		d[0] = eio.BinaryMessageV3
		copy(d[1:], f.Data)
		out[i].Data = d
	}
	if out == nil {
		return frames
	}
	return out
}

// heartbeatV3 is how long a revision 3 session waits for the client's next
// ping, as the reference: PingInterval+PingTimeout.
func (c *Conn) heartbeatV3() time.Duration {
	return c.srv.cfg.PingInterval + c.srv.cfg.PingTimeout
}

// startHeartbeatV3 arms the ping timeout of an open revision 3 session. It
// reuses the revision 4 machinery: the session is always awaiting (the
// client's ping), so onHeartbeat ends it once pingAt passes unmoved.
func (c *Conn) startHeartbeatV3() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return
	}
	d := c.heartbeatV3()
	c.awaitingPong = true
	c.pingAt = time.Now().Add(d)
	c.timer = time.AfterFunc(d, c.onHeartbeat)
}

var pongFrame = Frame{Data: []byte("3")}

// onPingV3 answers a revision 3 client's ping and moves its timeout on.
func (c *Conn) onPingV3() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen || c.timer == nil {
		return
	}
	d := c.heartbeatV3()
	c.pingAt = time.Now().Add(d)
	c.timer.Reset(d)
	c.queue = append(c.queue, pongFrame)
	c.queued += len(pongFrame.Data)
	c.kickLocked()
}

// readPacketV3 decodes one WebSocket message of a revision 3 session.
func readPacketV3(binary bool, data []byte) (eio.Packet, error) {
	if binary {
		return eio.DecodeBinaryV3(data)
	}
	return eio.DecodeTextV3(data)
}

// appendPayload lays frames out as a revision 3 polling payload and
// returns it with its content type. Binary frames hold the type byte
// before their data (see framesV3).
func (v *eio3) appendPayload(dst []byte, frames []Frame) ([]byte, string) {
	binary := false
	if !v.b64 {
		for i := range frames {
			if frames[i].Binary {
				binary = true
				break
			}
		}
	}
	if binary {
		for i := range frames {
			if f := &frames[i]; f.Binary {
				dst = eio.AppendBinaryPayloadBinaryV3(dst, f.Data[1:])
			} else {
				dst = eio.AppendBinaryPayloadTextV3(dst, f.Data)
			}
		}
		return dst, "application/octet-stream"
	}
	if len(frames) == 0 {
		dst = append(dst, "0:"...)
	}
	for i := range frames {
		if f := &frames[i]; f.Binary {
			dst = eio.AppendPayloadBase64V3(dst, f.Data[1:])
		} else {
			dst = eio.AppendPayloadTextV3(dst, f.Data)
		}
	}
	return dst, "text/plain; charset=UTF-8"
}

// decodePayload splits a revision 3 polling body, binary when its
// Content-Type says application/octet-stream.
func (v *eio3) decodePayload(body []byte, binary bool, fn func(eio.Packet) error) error {
	if binary {
		return eio.DecodeBinaryPayloadV3(body, fn)
	}
	return eio.DecodePayloadV3(body, fn)
}
