package host

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/sdk/wire"
)

func TestTapeOptionsValidate(t *testing.T) {
	if err := (TapeOptions{}).Validate(); err != nil {
		t.Fatalf("zero options: %v", err)
	}
	ok := TapeOptions{File: "t", Hooks: []Hook{HookEvent}, Sample: 0.5, MaxBytes: 1 << 20, Queue: 10,
		Redact: TapeRedact{Auth: []string{"token", "user.*"}, Headers: []string{"cookie"}, Args: []string{"args.0.password", "args.*.card"}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	bad := TapeOptions{Hooks: []Hook{"evnt"}, Sample: 2, MaxBytes: -1, Queue: MaxTapeQueue + 1,
		Redact: TapeRedact{Auth: []string{"a..b"}, Args: []string{"0.password", ""}, Headers: make([]string, maxTapeRedactPaths+1)}}
	err := bad.Validate()
	for _, want := range []string{`unknown hook "evnt"`, "sample is 2", "max_bytes is -1", "queue is", `redact auth: "a..b"`,
		`"0.password" must start with "args."`, "headers lists 257 entries"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v\nwant it to say %q", err, want)
		}
	}
}

// TestRedactJSON: values at the paths are replaced, wildcards match every
// key and index, the input is not changed, and what cannot be parsed is
// kept out whole.
func TestRedactJSON(t *testing.T) {
	for _, c := range []struct {
		in, paths, want string
	}{
		{`[{"user":"a","password":"p"},2]`, "0.password", `[{"password":"[redacted]","user":"a"},2]`},
		{`[{"password":"p"},{"password":"q"}]`, "*.password", `[{"password":"[redacted]"},{"password":"[redacted]"}]`},
		{`[{"card":{"number":1,"cvc":2}}]`, "0.card", `[{"card":"[redacted]"}]`},
		{`[1,2]`, "5.x", `[1,2]`},
		{`{"token":"t","nested":{"pin":1}}`, "nested.pin,token", `{"nested":{"pin":"[redacted]"},"token":"[redacted]"}`},
		{`[1e400,`, "0", `"[redacted]"`},
	} {
		var paths [][]string
		for _, p := range strings.Split(c.paths, ",") {
			paths = append(paths, strings.Split(p, "."))
		}
		in := []byte(c.in)
		got := redactJSON(in, paths)
		if string(got) != c.want || string(in) != c.in {
			t.Errorf("redactJSON(%s, %s) = %s, want %s (input now %s)", c.in, c.paths, got, c.want, in)
		}
	}
}

// TestTapeQueueFull: records that find the queue full are dropped and
// counted, never waited for.
func TestTapeQueueFull(t *testing.T) {
	r := &tapeRecorder{queue: make(chan tapeEntry, 2)}
	env := Envelope{Hook: HookEvent, Event: "x"}
	for range 5 {
		r.put(time.Now(), env, &Decision{})
	}
	if st := r.stats(); st.Dropped != 3 || len(r.queue) != 2 {
		t.Fatalf("dropped %d, queued %d; want 3 and 2", st.Dropped, len(r.queue))
	}
}

// TestTapeMaxBytes: recording stops at the record that would take the
// file past MaxBytes; the tape is whole records and reads back.
func TestTapeMaxBytes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "t.tape")
	r, err := openTape(TapeOptions{File: file, MaxBytes: 1000}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	env := Envelope{Hook: HookEvent, Namespace: "/", Socket: Socket{ID: "s1"}, Event: "chat", Args: wire.Raw(`["` + strings.Repeat("x", 100) + `"]`)}
	for range 20 {
		r.put(time.Now(), env, &Decision{Action: Deny, Reason: "no"})
	}
	r.close()
	st := r.stats()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Full || st.Recorded == 0 || st.Recorded+st.Skipped+st.Dropped != 20 || int64(len(raw)) != st.Bytes || st.Bytes > 1000 {
		t.Fatalf("stats %+v, file of %d bytes", st, len(raw))
	}
	tr, err := NewTapeReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		rec, got, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if got.Event != "chat" || got.Socket.ID != "s1" || rec.Decision.Action != Deny || rec.Decision.Reason != "no" {
			t.Fatalf("record %d: %s %+v", n, rec.Envelope, rec.Decision)
		}
		n++
	}
	if uint64(n) != st.Recorded {
		t.Fatalf("read %d records, %d recorded", n, st.Recorded)
	}
}

const tapeHead = `{"hubd_tape":1,"created":"2026-01-02T03:04:05Z","redact":{"headers":["authorization"]}}`

// tapeRecordLine is a valid record line.
const tapeRecordLine = `{"time":"2026-01-02T03:04:05Z","hook":"event","envelope":{"v":1,"hook":"event","ns":"/","socket":{"id":"a","rooms":[]},"event":"x","args":[1]},"decision":{"action":"allow"}}`

// TestTapeReaderHostile: a tape that is not one, of another version,
// truncated or hostile is refused with an error that says where and what.
func TestTapeReaderHostile(t *testing.T) {
	for _, c := range []struct {
		name, tape, want string
	}{
		{"empty", "", "empty"},
		{"not a tape", `{"hello":1}`, "line 1 is no tape header"},
		{"not JSON", "\x00\x01", "line 1 is no tape header"},
		{"other version", `{"hubd_tape":2}`, "tape version 2: this hubd reads version 1"},
		{"bad header", `{"hubd_tape":1,"created":"yesterday"}`, "line 1: header"},
		{"bad header redact", `{"hubd_tape":1,"redact":{"args":["0.x"]}}`, "must start with"},
		{"truncated record", tapeHead + "\n" + tapeRecordLine[:80], "line 2: truncated or malformed record"},
		{"unknown hook", tapeHead + "\n" + `{"hook":"boot","envelope":{}}`, `line 2: unknown hook "boot"`},
		{"no envelope", tapeHead + "\n" + `{"hook":"event"}`, "line 2: no envelope"},
		{"hook mismatch", tapeHead + "\n" + `{"hook":"join","envelope":{"hook":"event"}}`, `the envelope's hook "event" is not the record's "join"`},
		{"args not an array", tapeHead + "\n" + `{"hook":"event","envelope":{"hook":"event","args":{"a":1}}}`, "args must be a JSON array"},
		{"bad decision", tapeHead + "\n" + `{"hook":"event","envelope":{"hook":"event"},"decision":{"action":"explode"}}`, `decision: host: invalid decision: unknown action "explode"`},
		{"deep decision", tapeHead + "\n" + `{"hook":"event","envelope":{"hook":"event"},"decision":{"args":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}}`, "nested deeper"},
		{"too many attachments", tapeHead + "\n" + `{"hook":"event","envelope":{"hook":"event"},"attachments":[` + strings.Repeat(`"",`, maxTapeAttachments) + `""]}`, "attachments: at most"},
		{"long line", tapeHead + "\n" + strings.Repeat(" ", MaxTapeRecordBytes+2), "line 2 is longer than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := readAll(strings.NewReader(c.tape))
			if !errors.Is(err, ErrTape) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an ErrTape saying %q", err, c.want)
			}
		})
	}
	if err := readAll(strings.NewReader(tapeHead + "\n" + tapeRecordLine + "\n" + tapeRecordLine)); err != nil {
		t.Fatalf("a good tape, its last newline missing: %v", err)
	}
}

// readAll reads a tape to its end.
func readAll(r io.Reader) error {
	tr, err := NewTapeReader(r)
	if err != nil {
		return err
	}
	for {
		_, env, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if env == nil {
			return errors.New("no envelope and no error")
		}
	}
}

// FuzzTapeReader: no input makes the reader panic or hang, and every
// error but the reader's own is an ErrTape.
func FuzzTapeReader(f *testing.F) {
	f.Add([]byte(tapeHead + "\n" + tapeRecordLine + "\n"))
	f.Add([]byte(tapeHead + "\n" + tapeRecordLine[:100]))
	f.Add([]byte(`{"hubd_tape":1}` + "\n" + `{"hook":"connect","envelope":{"hook":"connect","handshake":{"auth":{"a":[[[1]]]}}},"attachments":["AAE="],"decision":{"action":"deny","data":{"x":1}}}`))
	f.Add([]byte(`{"hubd_tape":1}` + "\n\n\n"))
	f.Add([]byte(`{"hubd_tape":99}`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := readAll(bytes.NewReader(b)); err != nil && !errors.Is(err, ErrTape) {
			t.Fatalf("%q: %v is no ErrTape", b, err)
		}
	})
}

// TestSetTapeSameOptions: setting the options in force again keeps the
// tape going (a reload that does not change them); other options start a
// new one; no file stops recording.
func TestSetTapeSameOptions(t *testing.T) {
	h := New(nil)
	defer h.Close()
	o := TapeOptions{File: filepath.Join(t.TempDir(), "t.tape"), Hooks: []Hook{HookEvent}}
	if err := h.SetTape(o); err != nil {
		t.Fatal(err)
	}
	first := h.tape.Load()
	if err := h.SetTape(TapeOptions{File: o.File, Hooks: []Hook{HookEvent}}); err != nil || h.tape.Load() != first {
		t.Fatalf("the same options again: %v, recorder replaced %v", err, h.tape.Load() != first)
	}
	o.Sample = 0.5
	if err := h.SetTape(o); err != nil || h.tape.Load() == first {
		t.Fatalf("other options: %v, recorder kept %v", err, h.tape.Load() == first)
	}
	if st, ok := h.TapeStats(); !ok || st.File != o.File {
		t.Fatalf("TapeStats %+v %v", st, ok)
	}
	if err := h.SetTape(TapeOptions{}); err != nil || h.tape.Load() != nil {
		t.Fatalf("no file: %v", err)
	}
	if _, ok := h.TapeStats(); ok {
		t.Fatal("TapeStats reports a tape after recording stopped")
	}
	if err := h.SetTape(TapeOptions{File: o.File, Sample: -1}); err == nil || h.tape.Load() != nil {
		t.Fatalf("invalid options: %v", err)
	}
}

// TestTapeSample: a sample of a share records about that share of calls,
// and only the hooks asked for.
func TestTapeSample(t *testing.T) {
	r := &tapeRecorder{sample: 0.25}
	r.hooks[slot(HookEvent)] = true
	n := 0
	for range 10000 {
		if _, ok := r.take(&Envelope{Hook: HookEvent}); ok {
			n++
		}
		if _, ok := r.take(&Envelope{Hook: HookJoin}); ok {
			t.Fatal("a join taken by a tape of events")
		}
	}
	if n < 2000 || n > 3000 {
		t.Fatalf("%d of 10000 calls taken at a sample of 0.25", n)
	}
}
