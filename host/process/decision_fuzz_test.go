package process

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/internal/decisiontest"
	pb "github.com/hubd/hubd/sdk/proto/hubd/v1"
	"github.com/hubd/hubd/sdk/wire"
	"google.golang.org/grpc"
)

// answerRPC is a process that answers every call with out.
type answerRPC struct {
	pb.PluginClient // calls other than Handle panic
	out             []byte
}

func (a answerRPC) Handle(context.Context, *pb.Envelope, ...grpc.CallOption) (*pb.Decision, error) {
	return &pb.Decision{DecisionJson: a.out}, nil
}

// FuzzProcessDecision: whatever bytes a process answers, the plugin's
// Handle (its size cap, then host.ParseDecision) never panics, refuses
// with host.ErrGarbage, and a decision it accepts passes
// host.CheckDecision with JSON values that are valid and UTF-8.
func FuzzProcessDecision(f *testing.F) {
	for _, s := range []string{
		``, `null`, `{}`, `{"action":"deny","reason":"no","data":{"code":1}}`,
		`{"action":"reply","reply":[1,"x"]}`, `{"action":"reply"}`,
		`{"args":["a",{"b":null}],"event":"e","rooms":["r"],"except":["x"],"to_sender":false}`,
		`{"socket_data":{"user":"ann"},"join":["a","b"]}`, `{"action":"explode"}`, `{"args":{}}`, `{"Action":"DENY"}`,
		"{\"args\":[\"\xe2\x82\"]}", "{\"data\":\"\xff\"}", "{\"reason\":\"\xff\"}", `{"args":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
		`{"args":["\ud800"]}`, `{"rooms":[""]}`, `{"args":[1],"args":{}}`, `{"reply":"x"}`,
	} {
		f.Add([]byte(s))
	}
	cfg := (&Runtime{MaxDecisionBytes: 4096}).withDefaults()
	p := newPlugin(cfg, host.Spec{Manifest: host.Manifest{Name: "fuzz", Runtime: "process", Timeout: host.Duration(10 * time.Second)}})
	f.Cleanup(p.end)
	f.Fuzz(func(t *testing.T, out []byte) {
		inst := &instance{rpc: answerRPC{out: out}}
		for i := range inst.hooks {
			inst.hooks[i] = true
		}
		p.cur.Store(inst)
		env := &host.Envelope{Hook: host.HookEvent, Namespace: "/", Socket: host.Socket{ID: "s", Rooms: []string{}}, Event: "e", Args: wire.Raw(`["x"]`)}
		d, err := p.Handle(context.Background(), env)
		if err != nil {
			if !errors.Is(err, host.ErrGarbage) {
				t.Fatalf("error %v does not wrap host.ErrGarbage", err)
			}
			if len(out) > cfg.MaxDecisionBytes && !strings.Contains(err.Error(), "more than") {
				t.Fatalf("a decision over the cap refused for another reason: %v", err)
			}
			return
		}
		if len(out) > cfg.MaxDecisionBytes {
			t.Fatalf("accepted a decision of %d bytes over the %d-byte cap", len(out), cfg.MaxDecisionBytes)
		}
		decisiontest.Check(t, d, out)
	})
}
