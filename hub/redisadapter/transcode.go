package redisadapter

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/msgpack"
)

// A broadcast's arguments are raw JSON with binary placeholders in the hub
// and msgpack with bin values on the wire. hub/internal/msgpack converts
// one into the other directly, without building Go values (the per-message
// work of every cross-node broadcast); the functions here wrap its
// conversions in the Node adapter's messages.

// appendPacketMsgpack appends the Node adapter's packet map {type: 2,
// data: [event, ...args], nsp} of p.
func appendPacketMsgpack(dst []byte, p *hub.Packet) ([]byte, error) {
	dst = msgpack.AppendMapHeader(dst, 3)
	dst = appendString(dst, "type")
	dst = append(dst, 2)
	dst = appendString(dst, "nsp")
	dst = appendString(dst, p.Nsp)
	dst = appendString(dst, "data")
	return appendEventMsgpack(dst, p.Event, p.Args)
}

// appendEventMsgpack appends the msgpack array [event, ...args].
func appendEventMsgpack(dst []byte, event string, args hub.Args) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0xdd, 0, 0, 0, 0) // array 32, its length patched below
	dst = appendString(dst, event)
	dst, n, err := msgpack.AppendJSONList(dst, args.JSON(), args.Attachments(), maxDepth, false)
	if err != nil {
		return dst, fmt.Errorf("redisadapter: arguments: %w", err)
	}
	n++ // the event
	binary.BigEndian.PutUint32(dst[start+1:], uint32(n))
	return dst, nil
}

// stringsOf reads an array of strings (numbers become their decimal form,
// as Node allows numeric room names).
func stringsOf(d *decoder) ([]string, error) {
	n, err := d.ArrayHeader()
	if err != nil {
		return nil, err
	}
	if n > d.Left() {
		return nil, msgpack.ErrShort
	}
	out := make([]string, 0, n)
	for range n {
		if s, ok, err := d.StrBytes(); err != nil {
			return nil, err
		} else if ok {
			out = append(out, string(s))
			continue
		}
		v, err := d.Value(1)
		if err != nil {
			return nil, err
		}
		out = append(out, stringList([]any{v})...)
	}
	return out, nil
}

// broadcastOpts reads a broadcast's opts map {rooms, except, flags}.
func broadcastOpts(d *decoder) (o hub.BroadcastOptions, err error) {
	n, err := d.MapHeader()
	if err != nil {
		return o, err
	}
	for range n {
		key, ok, err := d.StrBytes()
		if err != nil || !ok {
			return o, errors.New("msgpack: opts key is not a string")
		}
		switch string(key) {
		case "rooms":
			o.Rooms, err = stringsOf(d)
		case "except":
			o.Except, err = stringsOf(d)
		case "flags":
			var v any
			if v, err = d.Value(1); err == nil {
				o.Flags = flagsFrom(v)
			}
		default:
			_, err = d.Value(1)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// decodeBroadcast reads a classic broadcast message [uid, packet, opts]
// into the packet's namespace, event and arguments and the options.
func decodeBroadcast(payload []byte) (uid, nsp, event string, args hub.Args, opts hub.BroadcastOptions, err error) {
	dec := msgpack.NewDecoder(payload)
	d := &dec
	var atts [][]byte
	if n, herr := d.ArrayHeader(); herr != nil || n != 3 {
		return "", "", "", hub.Args{}, opts, errors.New("redisadapter: a broadcast is a 3-element array")
	}
	if v, verr := d.Value(0); verr != nil {
		return "", "", "", hub.Args{}, opts, verr
	} else {
		uid, _ = v.(string)
	}
	fields, err := d.MapHeader()
	if err != nil {
		return "", "", "", hub.Args{}, opts, err
	}
	nsp = "/"
	list := make([]byte, 0, len(payload)+16)
	for range fields {
		k, kerr := d.Value(1)
		if kerr != nil {
			return "", "", "", hub.Args{}, opts, kerr
		}
		switch k {
		case "data":
			n, herr := d.ArrayHeader()
			if herr != nil || n == 0 {
				return "", "", "", hub.Args{}, opts, errors.New("redisadapter: a packet's data is a non-empty array")
			}
			ev, verr := d.Value(1)
			if verr != nil {
				return "", "", "", hub.Args{}, opts, verr
			}
			var ok bool
			if event, ok = ev.(string); !ok {
				return "", "", "", hub.Args{}, opts, errors.New("redisadapter: an event name is a string")
			}
			list = append(list, '[')
			for i := 1; i < n; i++ {
				if i > 1 {
					list = append(list, ',')
				}
				if list, err = d.AppendJSON(list, &atts, 2); err != nil {
					return "", "", "", hub.Args{}, opts, err
				}
			}
			list = append(list, ']')
		case "nsp":
			v, verr := d.Value(1)
			if verr != nil {
				return "", "", "", hub.Args{}, opts, verr
			}
			nsp, _ = v.(string)
		default:
			if _, verr := d.Value(1); verr != nil {
				return "", "", "", hub.Args{}, opts, verr
			}
		}
	}
	if len(list) == 0 {
		return "", "", "", hub.Args{}, opts, errors.New("redisadapter: a packet without data")
	}
	if opts, err = broadcastOpts(d); err != nil {
		return "", "", "", hub.Args{}, opts, fmt.Errorf("redisadapter: a broadcast's opts: %w", err)
	}
	if d.Left() != 0 {
		return "", "", "", hub.Args{}, opts, errors.New("redisadapter: bytes after a broadcast")
	}
	args, err = hub.RawArgs(list, atts)
	return uid, nsp, event, args, opts, err
}
