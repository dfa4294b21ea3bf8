package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/httpapi"
	"github.com/hubd/hubd/hub/internal/sio"
)

// sent records the packets the API hands to the namespaces' adapters.
type sent struct {
	mu      sync.Mutex
	packets []*hub.Packet
}

func (s *sent) take() []*hub.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.packets
	s.packets = nil
	return p
}

type recordingAdapter struct {
	hub.Adapter
	sent *sent
}

func (a recordingAdapter) Broadcast(p *hub.Packet, opts hub.BroadcastOptions) error {
	a.sent.mu.Lock()
	a.sent.packets = append(a.sent.packets, p)
	a.sent.mu.Unlock()
	return a.Adapter.Broadcast(p, opts)
}

const (
	fuzzMaxBody = 4096
	// fuzzMaxAlloc bounds what one request may allocate: a multiple of
	// the body limit, whatever the body announces.
	fuzzMaxAlloc = 256 * fuzzMaxBody
)

// FuzzBody sends a body to each endpoint that reads one. Whatever the body,
// the API does not panic, answers JSON with a status it documents,
// allocates at most a bounded multiple of MaxBody, refuses a body over
// MaxBody, and emits only an accepted request: one packet, with a valid
// UTF-8 event name that Socket.IO does not reserve and arguments that are a
// valid UTF-8 JSON array.
func FuzzBody(f *testing.F) {
	for _, s := range []string{
		`{"event":"ev"}`,
		`{"event":"ev","args":[1,"two",{"three":[3]},null,true]}`,
		`{"namespace":"/chat","rooms":["r1","r2"],"except":"r3","event":"ev","args":[]}`,
		`{"event":"ev","args":null}`,
		`{"event":"ev","args":[{"_placeholder":true,"num":0}]}`,
		`{"event":"ev","args":["\ud800","\u00e9"]}`,
		"{\"event\":\"ev\",\"args\":[\"\xff\"]}",
		"{\"event\":\"ev\xe2\x82\"}",
		`{"event":"connect"}`,
		`{"event":"ev","args":{}}`,
		`{"event":"ev"} {"event":"again"}`,
		`{"event":"ev","unknown":1}`,
		`{"id":"abc","close":true}`,
		`{"namespace":"nope","event":"ev"}`,
		`{"event":"ev","args":[` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `]}`,
		`{"event":"ev","args":["` + strings.Repeat("a", fuzzMaxBody) + `"]}`,
		``, `null`, `[]`, `"x"`, `{`,
	} {
		f.Add([]byte(s))
	}
	var log sent
	srv := hub.New(hub.Options{Adapter: func(_ *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
		return recordingAdapter{Adapter: local, sent: &log}, nil
	}})
	defer srv.Close()
	srv.Of("/chat")
	api, err := httpapi.New(srv, httpapi.Config{Key: key, MaxBody: fuzzMaxBody})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		for _, endpoint := range []string{"emit", "disconnect"} {
			req := httptest.NewRequest(http.MethodPost, "/api/"+endpoint, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			rec := httptest.NewRecorder()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			api.ServeHTTP(rec, req)
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > fuzzMaxAlloc {
				t.Errorf("%s %q: allocated %d bytes", endpoint, body, n)
			}

			status := rec.Code
			switch status {
			case 200, 400, 404, 413:
			default:
				t.Fatalf("%s %q: status %d %s", endpoint, body, status, rec.Body)
			}
			var answer struct {
				OK    *bool  `json:"ok"`
				Error string `json:"error"`
			}
			if !utf8.Valid(rec.Body.Bytes()) || json.Unmarshal(rec.Body.Bytes(), &answer) != nil || answer.OK == nil ||
				*answer.OK != (status == 200) || (status != 200) != (answer.Error != "") {
				t.Fatalf("%s %q: answer %d %q", endpoint, body, status, rec.Body)
			}
			if len(body) > fuzzMaxBody && status != 413 {
				t.Fatalf("%s: a %d-byte body got %d, want 413", endpoint, len(body), status)
			}

			packets := log.take()
			if endpoint != "emit" || status != 200 {
				if len(packets) != 0 {
					t.Fatalf("%s %q: answered %d but sent %d packets", endpoint, body, status, len(packets))
				}
				continue
			}
			if len(packets) != 1 {
				t.Fatalf("emit %q: accepted, sent %d packets", body, len(packets))
			}
			p := packets[0]
			if p.Event == "" || !utf8.ValidString(p.Event) || sio.Reserved(p.Event) {
				t.Fatalf("emit %q: sent event name %q", body, p.Event)
			}
			args := p.Args.JSON()
			var list []json.RawMessage
			if !utf8.Valid(args) || json.Unmarshal(args, &list) != nil || len(p.Args.Attachments()) != 0 {
				t.Fatalf("emit %q: sent arguments %q", body, args)
			}
		}
	})
}
