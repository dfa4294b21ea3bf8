package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/hubd/hubd/sdk/proto/hubd/v1"
)

func TestDecisionJSON(t *testing.T) {
	for _, c := range []struct {
		name string
		d    *Decision
		want string
	}{
		{"nil", nil, ``},
		{"allow", Allow(), `{"action":"allow"}`},
		{"deny", Deny("no").WithData(map[string]bool{"temporary": true}), `{"action":"deny","reason":"no","data":{"temporary":true}}`},
		{"drop", Drop(), `{"action":"drop"}`},
		{"disconnect", Disconnect(), `{"action":"disconnect"}`},
		{"reply", Reply("pong", 1), `{"action":"reply","reply":["pong",1]}`},
		{"reply nothing", Reply(), `{"action":"reply","reply":[]}`},
		{"transform", Allow().WithEvent("b").WithArgs("X", json.RawMessage(`{"a":1}`)), `{"action":"allow","event":"b","args":["X",{"a":1}]}`},
		{"route", Allow().WithRooms("r1").WithExcept("r2").WithToSender(false), `{"action":"allow","rooms":["r1"],"except":["r2"],"to_sender":false}`},
		{"connect", Allow().WithSocketData(map[string]string{"user": "u"}).WithJoin("a").WithJoin("b"), `{"action":"allow","socket_data":{"user":"u"},"join":["a","b"]}`},
		{"ack and go on", Allow().WithReply(true), `{"action":"allow","reply":[true]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.d.marshal()
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != c.want {
				t.Errorf("got  %s\nwant %s", b, c.want)
			}
		})
	}
}

func TestDecisionError(t *testing.T) {
	d := Allow().WithArgs(math.Inf(1)).WithEvent("x")
	if d.Err() == nil {
		t.Fatal("no error for an argument JSON cannot hold")
	}
	if _, err := d.marshal(); err == nil {
		t.Fatal("marshalled a broken decision")
	}
}

func TestEnvelopeHelpers(t *testing.T) {
	raw := []byte(`{"v":1,"hook":"connect","ns":"/","socket":{"id":"s","rooms":[],"data":{"user":"u"}},` +
		`"handshake":{"auth":{"token":"t"},"query":{},"headers":{"origin":"o"},"address":"1.2.3.4"},"args":["a",2]}`)
	var e Envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	var auth struct{ Token string }
	if err := e.AuthInto(&auth); err != nil || auth.Token != "t" {
		t.Errorf("auth %+v, %v", auth, err)
	}
	var data struct{ User string }
	if err := e.DataInto(&data); err != nil || data.User != "u" {
		t.Errorf("data %+v, %v", data, err)
	}
	var n int
	if err := e.Arg(1, &n); err != nil || n != 2 {
		t.Errorf("arg 1: %d, %v", n, err)
	}
	if err := e.Arg(2, &n); !errors.Is(err, ErrNoArg) {
		t.Errorf("arg 2: %v", err)
	}
	if e.Handshake.Headers["origin"] != "o" || e.Handshake.Address != "1.2.3.4" {
		t.Errorf("handshake %+v", e.Handshake)
	}
}

func TestDescription(t *testing.T) {
	h := func(context.Context, *Envelope) (*Decision, error) { return nil, nil }
	for _, c := range []struct {
		name         string
		p            *Plugin
		hooks        []string
		events       []string
		observe      []string
		wantNewError bool
	}{
		{"connect only", &Plugin{OnConnect: h}, []string{"connect"}, nil, nil, false},
		{"events by name", &Plugin{OnJoin: h, Events: map[string]Handler{"b": h, "a*": h}}, []string{"join", "event"}, []string{`a\*`, "b"}, nil, false},
		{"events and the rest", &Plugin{OnEvent: h, Events: map[string]Handler{"b": h}}, []string{"event"}, nil, nil, false},
		{"observe", &Plugin{OnDisconnect: h, Observe: []Hook{HookDisconnect}}, []string{"disconnect"}, nil, []string{"disconnect"}, false},
		{"raw", &Plugin{Raw: func(context.Context, Hook, []byte, [][]byte) ([]byte, error) { return nil, nil }}, nil, nil, nil, false},
		{"nothing", &Plugin{}, nil, nil, nil, true},
		{"observe without handler", &Plugin{OnConnect: h, Observe: []Hook{HookLeave}}, nil, nil, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := newService(c.p)
			if c.wantNewError {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d, _ := s.Describe(context.Background(), &pb.Empty{})
			if d.AbiVersion != 1 || !slices.Equal(d.Hooks, c.hooks) || !slices.Equal(d.Events, c.events) || !slices.Equal(d.Observe, c.observe) {
				t.Errorf("description %v", d)
			}
		})
	}
}

func TestHandleRouting(t *testing.T) {
	named := func(name string) Handler {
		return func(_ context.Context, e *Envelope) (*Decision, error) {
			return Allow().WithEvent(name + ":" + e.Event), nil
		}
	}
	s, err := newService(&Plugin{
		Events:  map[string]Handler{"a": named("A")},
		OnEvent: named("rest"),
		OnJoin: func(context.Context, *Envelope) (*Decision, error) {
			return nil, errors.New("no joins")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	handle := func(env string) (string, error) {
		out, err := s.Handle(context.Background(), &pb.Envelope{EnvelopeJson: []byte(env)})
		if err != nil {
			return "", err
		}
		return string(out.DecisionJson), nil
	}
	if got, _ := handle(`{"v":1,"hook":"event","event":"a"}`); got != `{"action":"allow","event":"A:a"}` {
		t.Errorf("event a: %s", got)
	}
	if got, _ := handle(`{"v":1,"hook":"event","event":"b"}`); got != `{"action":"allow","event":"rest:b"}` {
		t.Errorf("event b: %s", got)
	}
	if got, err := handle(`{"v":1,"hook":"connect"}`); got != "" || err != nil {
		t.Errorf("connect: %q, %v", got, err)
	}
	if _, err := handle(`{"v":1,"hook":"join"}`); status.Code(err) != codes.Unknown || status.Convert(err).Message() != "no joins" {
		t.Errorf("join: %v", err)
	}
	if _, err := handle(`{`); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad envelope: %v", err)
	}
}

// TestLogFormat: Log writes what go-plugin parses as an hclog line.
func TestLogFormat(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 4, ReplaceAttr: hclogAttr}))
	l.Warn("careful", "n", 1, slog.Group("g", "k", "v"))
	l.Log(context.Background(), slog.LevelDebug-4, "fine")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	var first map[string]any
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	if first["@level"] != "warn" || first["@message"] != "careful" || first["n"] != 1.0 {
		t.Errorf("line %s", lines[0])
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", first["@timestamp"].(string)); err != nil {
		t.Errorf("timestamp: %v", err)
	}
	if !bytes.Contains(lines[1], []byte(`"@level":"trace"`)) {
		t.Errorf("line %s", lines[1])
	}
}
