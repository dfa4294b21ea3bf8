package natsadapter

import (
	"bytes"
	"slices"
	"testing"

	"github.com/hubd/hubd/hub"
)

// wireSamples are one well-formed message of each type.
func wireSamples(t testing.TB) map[string][]byte {
	args, err := hub.NewArgs("text", 1.5, []byte{0, 255}, map[string]any{"k": []any{true, nil}})
	if err != nil {
		t.Fatal(err)
	}
	opts := hub.BroadcastOptions{Rooms: []string{"r1", "é"}, Except: []string{"x"}, Flags: hub.BroadcastFlags{Volatile: true, Compress: true}}
	m := map[string][]byte{}
	add := func(name string, typ byte, fill func(w *writer)) {
		w := newMessage(typ, "node-1")
		fill(w)
		m[name] = w.b
	}
	none := func(*writer) {}
	add("hello", msgHello, none)
	add("heartbeat", msgHeartbeat, none)
	add("bye", msgBye, none)
	add("rooms", msgRooms, none)
	add("gone", msgGone, none)
	add("broadcast", msgBroadcast, func(w *writer) { w.opts(opts); w.str("ev"); w.args(args) })
	add("join", msgJoin, func(w *writer) { w.opts(opts); w.strs([]string{"a", "b"}) })
	add("leave", msgLeave, func(w *writer) { w.opts(opts); w.strs([]string{"a"}) })
	add("disconnect", msgDisconnect, func(w *writer) { w.opts(opts); w.b = append(w.b, 1) })
	add("fetch", msgFetch, func(w *writer) { w.opts(opts) })
	add("emit", msgEmit, func(w *writer) { w.str("ping"); w.args(args) })
	add("count", msgClientCount, func(w *writer) { w.uint(3) })
	add("ack", msgAck, func(w *writer) { w.args(args) })
	add("sockets", msgSockets, func(w *writer) { w.bytes([]byte(`[{"id":"x","rooms":["x"],"data":{}}]`)) })
	add("roomlist", msgRoomList, func(w *writer) { w.strs([]string{"a", "x"}) })
	add("emitack", msgEmitAck, func(w *writer) { w.args(args) })
	return m
}

// Every message type reads back as written, and no proper prefix of one
// reads at all.
func TestWireRoundTrip(t *testing.T) {
	for name, b := range wireSamples(t) {
		m, ok := decode(b)
		if !ok || m.uid != "node-1" {
			t.Errorf("%s: does not decode (%+v)", name, m)
			continue
		}
		for i := range len(b) {
			if _, ok := decode(b[:i]); ok {
				t.Errorf("%s: its first %d bytes decode", name, i)
			}
		}
		if _, ok := decode(append(slices.Clone(b), 0)); ok {
			t.Errorf("%s: decodes with a byte too many", name)
		}
	}
	m, _ := decode(wireSamples(t)["broadcast"])
	if m.event != "ev" || !slices.Equal(m.opts.Rooms, []string{"r1", "é"}) || !slices.Equal(m.opts.Except, []string{"x"}) ||
		!m.opts.Flags.Volatile || !m.opts.Flags.Compress || m.opts.Flags.Local {
		t.Errorf("broadcast = %+v", m)
	}
	var s string
	var f float64
	var bin []byte
	if err := m.args.Bind(&s, &f, &bin); err != nil || s != "text" || f != 1.5 || !bytes.Equal(bin, []byte{0, 255}) {
		t.Errorf("broadcast args = %s (%v)", m.args.JSON(), err)
	}
}

// The first argument of an answer crosses nodes with its binary value.
func TestFirstArg(t *testing.T) {
	two, _ := hub.NewArgs([]byte{7}, "second")
	f := firstArg(two)
	var b []byte
	if f.Len() != 1 || f.Bind(&b) != nil || !bytes.Equal(b, []byte{7}) {
		t.Errorf("firstArg = %s %v", f.JSON(), f.Attachments())
	}
	plain, _ := hub.NewArgs("a", []byte{1})
	if f := firstArg(plain); len(f.Attachments()) != 0 || string(f.JSON()) != `["a"]` {
		t.Errorf("firstArg = %s with %d attachments, want none", f.JSON(), len(f.Attachments()))
	}
}

// Whatever the bytes, decode returns without panicking, and what it
// accepts holds only valid UTF-8 strings.
func FuzzDecode(f *testing.F) {
	for _, b := range wireSamples(f) {
		f.Add(b)
	}
	f.Add([]byte{1, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{1, 5, 1, 'x', 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok := decode(b)
		if !ok {
			return
		}
		for _, s := range slices.Concat([]string{m.uid, m.event}, m.rooms, m.opts.Rooms, m.opts.Except) {
			if !validString(s) {
				t.Fatalf("accepted the string %q", s)
			}
		}
	})
}
