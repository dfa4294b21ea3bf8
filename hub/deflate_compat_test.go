package hub_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// deflateText and deflateBytes are the text and bytes of
// testdata/client/deflate.mjs's text and bytes.
func deflateText(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"user":"user%d","text":"hello there, message %d"},`, i, i%7, i)
	}
	return b.String()[:n]
}

func deflateBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		if i%251 < 200 {
			b[i] = byte(i % 13)
		} else {
			b[i] = byte(i)
		}
	}
	return b
}

// deflateNews is a big JSON object as JSON.stringify writes it.
func deflateNews() json.RawMessage {
	var b strings.Builder
	b.WriteString(`{"room":"general","items":[`)
	for i := range 60 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"user":"user%d","text":"the news number %d, for everyone in the room"}`, i, i%5, i)
	}
	b.WriteString(`]}`)
	return json.RawMessage(b.String())
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestDeflateCompat: the real socket.io-client under Node (its WebSocket is
// the ws package, which offers permessage-deflate) against a server with
// PerMessageDeflate and one without. With it, the extension is negotiated,
// big messages travel compressed both ways (acks with a big string or a
// binary value, and two broadcasts), small ones do not, and each broadcast
// is compressed once for all its receivers. Without it, nothing is
// negotiated and nothing compressed. The clients get the same data either
// way.
func TestDeflateCompat(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("on=%v", on), func(t *testing.T) {
			t.Parallel()
			compatRequireClient(t)
			const clients = 3
			opts := hub.Options{}
			if on {
				opts.PerMessageDeflate = &hub.PerMessageDeflate{}
			}
			srv := hub.New(opts)
			ready := make(chan struct{}, clients)
			srv.OnConnection(func(s *hub.Socket) {
				s.On("echo", func(e *hub.Event) {
					v, err := e.Args.Values()
					if err != nil {
						t.Error(err)
						return
					}
					_ = e.Ack(v...)
				})
				s.On("ready", func(*hub.Event) { ready <- struct{}{} })
			})
			url := serveCompat(t, srv)

			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", "deflate.mjs", url, fmt.Sprint(clients))
			cmd.Dir = compatClientDir
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			for range clients {
				select {
				case <-ready:
				case err := <-exited:
					t.Fatalf("the client script exited early: %v\nstderr:\n%s", err, stderr.String())
				case <-time.After(30 * time.Second):
					t.Fatalf("the clients were not ready within 30 s\nstderr:\n%s", stderr.String())
				}
			}
			before := srv.Stats()
			news, blob := deflateNews(), deflateBytes(9000)
			if err := srv.Emit("news", news); err != nil {
				t.Fatal(err)
			}
			if err := srv.Emit("blob", blob); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("client script: %v\nstderr:\n%s", err, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("the client script did not exit\nstderr:\n%s", stderr.String())
			}

			run := &compatRunOutput{raw: stdout.String()}
			reports := run.lines(t, "client")
			if len(reports) != clients || !strings.Contains(run.raw, `"ev":"end"`) {
				t.Fatalf("%d client reports, want %d; stdout:\n%s", len(reports), clients, run.raw)
			}
			wantExt := "null"
			if on {
				wantExt = `["client_no_context_takeover","server_no_context_takeover"]`
			}
			for _, r := range reports {
				if ext, _ := json.Marshal(r["extensions"]); string(ext) != wantExt {
					t.Errorf("client %v negotiated %s, want %s", r["i"], ext, wantExt)
				}
				for _, ok := range []string{"bigOK", "smallOK", "binOK"} {
					if r[ok] != true {
						t.Errorf("client %v: %s is %v", r["i"], ok, r[ok])
					}
				}
				if r["news"] != sha256Hex(news) || r["blob"] != sha256Hex(blob) {
					t.Errorf("client %v got broadcasts hashed %v and %v", r["i"], r["news"], r["blob"])
				}
			}

			st := srv.Stats()
			if !on {
				if st.Compressions != 0 || st.CompressedSent != 0 || st.CompressedReceived != 0 {
					t.Fatalf("compression off, yet stats %+v", st)
				}
				return
			}
			// Per client: the big string's ack and the binary ack's
			// attachment compressed by the server; the big string and
			// the binary attachment compressed by the client.
			if st.CompressedReceived != 2*clients {
				t.Errorf("%d compressed messages received, want %d", st.CompressedReceived, 2*clients)
			}
			if n := before.Compressions; n != 2*clients {
				t.Errorf("%d compressions for the acks, want %d", n, 2*clients)
			}
			// Each broadcast's big frame compressed once, written
			// compressed to every client.
			if n := st.Compressions - before.Compressions; n != 2 {
				t.Errorf("%d compressions for 2 broadcasts to %d clients, want 2", n, clients)
			}
			if n := st.CompressedSent - before.CompressedSent; n != 2*clients {
				t.Errorf("%d compressed broadcast frames sent, want %d", n, 2*clients)
			}
		})
	}
}

// compatRunOutput is the JSON lines a client script printed.
type compatRunOutput struct{ raw string }

func (r *compatRunOutput) lines(t *testing.T, ev string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.raw), "\n") {
		var o map[string]any
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("a line that is not JSON: %q", line)
		}
		if o["ev"] == ev {
			out = append(out, o)
		}
	}
	return out
}
