package redisadapter

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/hubd/hubd/hub"
)

// broadcastMsg is a classic broadcast message carrying event and args.
func broadcastMsg(t testing.TB, event string, args hub.Args) []byte {
	t.Helper()
	msg := appendString(appendArrayHeader(nil, 3), "abcdef")
	msg, err := appendPacketMsgpack(msg, hub.NewPacket("/chat", event, args))
	if err != nil {
		t.Fatal(err)
	}
	msg, err = appendValue(msg, msgpackOpts(hub.BroadcastOptions{Rooms: []string{"r", "7"}, Except: []string{"x"},
		Flags: hub.BroadcastFlags{Volatile: true}}))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestTranscodeRoundTrip(t *testing.T) {
	blob, small := []byte{0, 1, 2, 0xff}, []byte("hi")
	args, err := hub.NewArgs("plain", "esc\"aped\\ \u00e9 \U0001F600 \n\t", 0, -1, 255, -129, 1<<40, 2.5, -1e-7, 1e21, true, false, nil,
		blob, map[string]any{"nested": []any{small, map[string]any{"deep": blob}}, "": "empty key"}, []any{})
	if err != nil {
		t.Fatal(err)
	}
	msg := broadcastMsg(t, "ev", args)

	// What the transcoder writes is what the generic encoder would write,
	// value for value, binary as bin.
	generic, err := decodeMsgpack(msg)
	if err != nil {
		t.Fatal(err)
	}
	data := generic.([]any)[1].(map[string]any)["data"].([]any)
	want, _ := args.Values()
	if data[0] != "ev" || !reflect.DeepEqual(normalize(data[1:]), normalize(want)) {
		t.Errorf("msgpack data = %#v\nwant %#v", data[1:], want)
	}

	// And back to hub arguments.
	uid, nsp, event, back, opts, err := decodeBroadcast(msg)
	if err != nil {
		t.Fatal(err)
	}
	if uid != "abcdef" || nsp != "/chat" || event != "ev" {
		t.Errorf("uid %q nsp %q event %q", uid, nsp, event)
	}
	if !reflect.DeepEqual(opts.Rooms, []string{"r", "7"}) || !reflect.DeepEqual(opts.Except, []string{"x"}) || !opts.Flags.Volatile {
		t.Errorf("opts = %+v", opts)
	}
	got, err := back.Values()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalize(got), normalize(want)) {
		t.Errorf("arguments back = %#v\nwant %#v", got, want)
	}
	if len(back.Attachments()) != 3 || !bytes.Equal(back.Attachments()[0], blob) {
		t.Errorf("attachments back = %q", back.Attachments())
	}
}

func TestTranscodeRejects(t *testing.T) {
	for _, raw := range []string{
		"\x93\xa6abcdef\x81\xa4data\x91\x01\x80",                       // event not a string
		"\x93\xa6abcdef\x81\xa4data\x90\x80",                           // empty data
		"\x93\xa6abcdef\x80\x80",                                       // no data
		"\x93\xa6abcdef\x81\xa4data\x91\xa1e\xc0",                      // opts not a map
		"\x93\xa6abcdef\x81\xa4data\x91\xa1e\x81\x01\x01",              // opts key not a string
		"\x92\xa6abcdef\x80",                                           // two elements
		"\x93\xa6abcdef\x81\xa4data\x91\xa1e\x80\xc0",                  // bytes after
		"\x93\xa6abcdef\x81\xa4data\x92\xa1e\xa1\xff\x80",              // an argument that is not UTF-8
		"\x93\xa6abcdef\x81\xa4data\x92\xa1e\x81\xa1\xff\x01\x80",      // a key that is not UTF-8
		"\x93\xa6abcdef\x81\xa4data\x91\xa1\xff\x80",                   // an event name that is not UTF-8
		"\x93\xa6abcdef\x81\xa4data\x91\xa1e\x81\xa5rooms\x91\xa1\xff", // a room that is not UTF-8
	} {
		if _, _, _, _, _, err := decodeBroadcast([]byte(raw)); err == nil {
			t.Errorf("decodeBroadcast(%q) took it", raw)
		}
	}
}

func FuzzTranscode(f *testing.F) {
	for _, s := range []string{`[]`, `[1,"a",{"b":[true,null,-2.5e-8]}]`, `["\u00e9\ud83d\ude00\\\"",{"":{}}]`,
		`[{"_placeholder":true,"num":0}]`, `[12345678901234567890, -0, 1e400]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, js string) {
		args, err := hub.RawArgs(json.RawMessage(js), nil)
		if err != nil {
			return
		}
		msg := append(appendString(appendArrayHeader(nil, 3), "abcdef"), 0)[:8]
		msg, err = appendPacketMsgpack(msg, hub.NewPacket("/", "e", args))
		if err != nil {
			t.Fatalf("valid arguments %s not encoded: %v", js, err)
		}
		msg, _ = appendValue(msg, msgpackOpts(hub.BroadcastOptions{}))
		_, _, _, back, _, err := decodeBroadcast(msg)
		if err != nil {
			t.Fatalf("%s: encoded %x does not decode: %v", js, msg, err)
		}
		var want, got []any
		_ = json.Unmarshal(args.JSON(), &want)
		if err := json.Unmarshal(back.JSON(), &got); err != nil {
			t.Fatalf("%s: decoded to invalid JSON %s", js, back.JSON())
		}
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			t.Fatalf("%s came back as %s", js, back.JSON())
		}
	})
}

func TestTranscodeSurrogates(t *testing.T) {
	for _, js := range []string{`["\ud83d\ude00"]`, `["\ud800\u0041"]`, `["\udc00\udc00"]`, `["\ud800"]`, `["\ud800\ud800\udc00"]`} {
		args, err := hub.RawArgs(json.RawMessage(js), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, back, _, err := decodeBroadcast(broadcastMsg(t, "e", args))
		if err != nil {
			t.Fatal(err)
		}
		var want, got []any
		_ = json.Unmarshal([]byte(js), &want)
		_ = json.Unmarshal(back.JSON(), &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s came back as %s, want %q as encoding/json reads it", js, back.JSON(), want)
		}
	}
}

func FuzzDecodeBroadcast(f *testing.F) {
	args, _ := hub.NewArgs("a", []byte{1, 2}, map[string]any{"k": []any{1.5, nil}})
	f.Add(broadcastMsg(f, "ev", args))
	f.Add([]byte("\x93\xa6abcdef\x81\xa4data\x91\xa1e\x80"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, event, args, _, err := decodeBroadcast(b)
		if err == nil && !json.Valid(args.JSON()) {
			t.Fatalf("%x decoded to invalid JSON %s", b, args.JSON())
		}
		if err == nil && (!utf8.Valid(args.JSON()) || !utf8.ValidString(event)) {
			t.Fatalf("%x decoded to invalid UTF-8: %q %q", b, event, args.JSON())
		}
	})
}
