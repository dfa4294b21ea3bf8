package process

import (
	"context"
	"errors"
	"fmt"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hubd/hubd/host"
	pb "github.com/hubd/hubd/sdk/proto/hubd/v1"
)

// Bounds of the Host service one process gets.
const (
	// maxHostMessage bounds a request's size: well over a revocation's
	// bound, so that a revocation just over it is refused by the host
	// with its size rather than by gRPC.
	maxHostMessage = 256 << 10
	// maxHostStreams bounds the process's calls in flight.
	maxHostStreams = 16
)

// hostService is the Host service a process calls: Revoke, for a plugin
// granted the "revoke" capability.
type hostService struct {
	pb.UnimplementedHostServer
	revoke func(revocation []byte) error // nil: not granted
}

// Revoke queues the revocation; the status code says why it was not.
func (s *hostService) Revoke(_ context.Context, in *pb.RevokeRequest) (*pb.RevokeReply, error) {
	if s.revoke == nil {
		return nil, status.Error(codes.PermissionDenied, `revoke needs the "revoke" capability: list it in the manifest's capabilities`)
	}
	switch err := s.revoke(in.RevocationJson); {
	case err == nil:
		return &pb.RevokeReply{}, nil
	case errors.Is(err, host.ErrBadRevocation):
		return nil, status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, host.ErrRevokeRefused):
		return nil, status.Error(codes.ResourceExhausted, err.Error())
	default:
		return nil, status.Error(codes.Internal, err.Error())
	}
}

// hostServer is the Host service served to one process over go-plugin's
// broker, until stop.
type hostServer struct {
	srv  *grpc.Server
	done chan struct{} // closed when Serve has returned
}

// newHostServer makes the gRPC server of the Host service, within its
// bounds.
func newHostServer(revoke func([]byte) error) *grpc.Server {
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(maxHostMessage), grpc.MaxConcurrentStreams(maxHostStreams))
	pb.RegisterHostServer(srv, &hostService{revoke: revoke})
	return srv
}

// serveHost serves the Host service through broker and returns its
// broker id.
func (p *plugin) serveHost(broker *goplugin.GRPCBroker) (*hostServer, uint32, error) {
	id := broker.NextId()
	ln, err := broker.Accept(id)
	if err != nil {
		return nil, 0, fmt.Errorf("serving the host service to the process: %w", err)
	}
	srv := newHostServer(p.spec.Revoke)
	h := &hostServer{srv: srv, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		_ = srv.Serve(ln)
	}()
	return h, id, nil
}

// stop ends the service: calls in flight are cancelled, and stop returns
// once every goroutine of the server has ended.
func (h *hostServer) stop() {
	h.srv.Stop()
	<-h.done
}

// bind tells the process where to reach the Host service, served first
// when the plugin may call it (the "revoke" capability). A process built
// with an SDK older than Bind answers Unimplemented and loads all the
// same, unable to call the host.
func (p *plugin) bind(ctx context.Context, inst *instance, broker *goplugin.GRPCBroker) error {
	ref := &pb.HostRef{}
	if p.spec.Revoke != nil {
		h, id, err := p.serveHost(broker)
		if err != nil {
			return err
		}
		inst.host, ref.BrokerId = h, id
	}
	_, err := inst.rpc.Bind(ctx, ref)
	if err == nil {
		return nil
	}
	if inst.host != nil {
		inst.host.stop()
		inst.host = nil
	}
	if status.Code(err) != codes.Unimplemented {
		return fmt.Errorf("bind: %w", err)
	}
	if ref.BrokerId != 0 {
		p.log.Warn(`process plugin granted "revoke" was built with an SDK that cannot call hubd: rebuild it with the current sdk/process`)
	}
	return nil
}
