package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/hubd/hubd/sdk/proto/hubd/v1"
)

// Handler answers one hook call. ctx carries the call's deadline: hubd
// has given up on the call once it passes. A nil Decision allows the call
// unchanged; an error fails it, and the plugin's failure policy (the
// manifest's on_error) decides.
type Handler func(ctx context.Context, e *Envelope) (*Decision, error)

// RawHandler answers one hook call from the envelope's JSON as hubd sent
// it and returns the decision's JSON (nil allows unchanged). It is for
// plugins that parse the envelope themselves. attachments are the binary
// values of the event's arguments.
type RawHandler func(ctx context.Context, hook Hook, envelope []byte, attachments [][]byte) ([]byte, error)

// Plugin is a process plugin: one handler per hook it handles. hubd calls
// only the hooks (and, when OnEvent is nil, only the events listed in
// Events) that have a handler. Handlers run concurrently.
//
// A panic in a handler ends the process: hubd fails the calls in flight
// (the manifest's on_error applies) and starts the plugin again.
type Plugin struct {
	// Name is the plugin's name in logs (hubd names it by its manifest).
	Name string

	OnConnect Handler
	OnJoin    Handler
	OnLeave   Handler
	// Events handles the event hook by event name; OnEvent handles the
	// events Events does not list. With OnEvent nil, hubd does not call
	// the plugin for the events Events does not list.
	Events       map[string]Handler
	OnEvent      Handler
	OnDisconnect Handler

	// Observe lists hooks whose outcome the plugin does not decide (audit,
	// leave, disconnect): hubd hands them over without waiting, in
	// batches, and ignores the handlers' decisions.
	Observe []Hook

	// Raw, when set, handles every call instead of the handlers above;
	// Hooks and EventNames then say what it handles (default: every hook,
	// every event).
	Raw        RawHandler
	Hooks      []Hook
	EventNames []string
}

// Serve runs the plugin; it returns when hubd stops the process. Started by
// hand rather than by hubd, it prints that it is a plugin and exits.
func Serve(p *Plugin) {
	s, err := newService(p)
	if err != nil {
		fmt.Fprintln(stderr, "hubd plugin:", err)
		os.Exit(1)
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: HandshakeConfig,
		Plugins:         goplugin.PluginSet{pb.PluginName: &grpcPlugin{service: s}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(maxEnvelope))...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "go-plugin",
			Level:      hclog.Info,
			Output:     stderr,
			JSONFormat: true,
		}),
	})
}

// HandshakeConfig is the go-plugin handshake hubd expects.
var HandshakeConfig = goplugin.HandshakeConfig{
	ProtocolVersion:  pb.ProtocolVersion,
	MagicCookieKey:   pb.MagicCookieKey,
	MagicCookieValue: pb.MagicCookieValue,
}

// maxEnvelope bounds a received message. hubd's envelopes are bounded by
// the hub's packet size; this only keeps the default 4 MiB from refusing
// a large binary event.
const maxEnvelope = 256 << 20

type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	service *service
}

func (g *grpcPlugin) GRPCServer(broker *goplugin.GRPCBroker, s *grpc.Server) error {
	g.service.broker = broker
	pb.RegisterPluginServer(s, g.service)
	return nil
}

func (g *grpcPlugin) GRPCClient(context.Context, *goplugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("process: the SDK is the plugin side")
}

// service implements the gRPC service over a Plugin.
type service struct {
	pb.UnimplementedPluginServer
	desc   *pb.Description
	handle RawHandler
	broker *goplugin.GRPCBroker // dials the Host service (Bind)
}

func newService(p *Plugin) (*service, error) {
	s := &service{desc: &pb.Description{AbiVersion: pb.ABIVersion, Name: p.Name}}
	for _, h := range p.Observe {
		s.desc.Observe = append(s.desc.Observe, string(h))
	}
	if p.Raw != nil {
		for _, h := range p.Hooks {
			s.desc.Hooks = append(s.desc.Hooks, string(h))
		}
		s.desc.Events = append(s.desc.Events, p.EventNames...)
		s.handle = p.Raw
		return s, nil
	}
	handlers := map[Hook]Handler{
		HookConnect:    p.OnConnect,
		HookJoin:       p.OnJoin,
		HookLeave:      p.OnLeave,
		HookEvent:      p.OnEvent,
		HookDisconnect: p.OnDisconnect,
	}
	if p.OnEvent == nil && len(p.Events) > 0 {
		handlers[HookEvent] = func(ctx context.Context, e *Envelope) (*Decision, error) {
			return nil, nil // not reached: hubd calls only the events listed
		}
		for name := range p.Events {
			s.desc.Events = append(s.desc.Events, escapeGlob(name))
		}
		sort.Strings(s.desc.Events)
	}
	for _, h := range []Hook{HookConnect, HookJoin, HookLeave, HookEvent, HookDisconnect} {
		if handlers[h] != nil {
			s.desc.Hooks = append(s.desc.Hooks, string(h))
		}
	}
	if len(s.desc.Hooks) == 0 {
		return nil, errors.New("the plugin has no handler")
	}
	for _, h := range p.Observe {
		if !slices.Contains(s.desc.Hooks, string(h)) {
			return nil, fmt.Errorf("Observe lists %q, which has no handler", h)
		}
	}
	events := p.Events
	s.handle = func(ctx context.Context, hook Hook, raw []byte, attachments [][]byte) ([]byte, error) {
		e := &Envelope{}
		if err := json.Unmarshal(raw, e); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "decoding the envelope: %v", err)
		}
		e.Attachments = attachments
		h := handlers[e.Hook]
		if e.Hook == HookEvent {
			if eh := events[e.Event]; eh != nil {
				h = eh
			}
		}
		if h == nil {
			return nil, nil
		}
		d, err := h(ctx, e)
		if err != nil {
			return nil, err
		}
		return d.marshal()
	}
	return s, nil
}

// escapeGlob quotes the characters path.Match treats specially.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (s *service) Describe(context.Context, *pb.Empty) (*pb.Description, error) {
	return s.desc, nil
}

func (s *service) Handle(ctx context.Context, in *pb.Envelope) (*pb.Decision, error) {
	out, err := s.handle(ctx, Hook(in.Hook), in.EnvelopeJson, in.Attachments)
	if err != nil {
		if _, ok := status.FromError(err); !ok {
			err = status.Error(codes.Unknown, err.Error())
		}
		return nil, err
	}
	return &pb.Decision{DecisionJson: out}, nil
}

// Bind dials the Host service hubd serves this process, for Revoke.
func (s *service) Bind(_ context.Context, ref *pb.HostRef) (*pb.Empty, error) {
	if ref.BrokerId == 0 {
		bind(&binding{})
		return &pb.Empty{}, nil
	}
	if s.broker == nil {
		return nil, status.Error(codes.FailedPrecondition, "the plugin has no go-plugin broker to reach hubd through")
	}
	conn, err := s.broker.Dial(ref.BrokerId)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "dialing hubd's host service (broker id %d): %v", ref.BrokerId, err)
	}
	bind(&binding{host: pb.NewHostClient(conn), conn: conn})
	return &pb.Empty{}, nil
}

func (s *service) Observe(stream grpc.ClientStreamingServer[pb.Batch, pb.Empty]) error {
	ctx := stream.Context()
	for {
		batch, err := stream.Recv()
		if err != nil {
			// io.EOF: hubd closed the stream; anything else: it went away.
			return stream.SendAndClose(&pb.Empty{})
		}
		for _, in := range batch.Envelopes {
			if _, err := s.handle(ctx, Hook(in.Hook), in.EnvelopeJson, in.Attachments); err != nil {
				Log.Warn("observing a hook call", "hook", in.Hook, "err", err)
			}
		}
	}
}
