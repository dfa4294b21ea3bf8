package process

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/hubd/hubd/sdk/proto/hubd/v1"
)

// fakeHost is the Host service as a test sets it: it keeps what it is
// sent and answers err.
type fakeHost struct {
	got [][]byte
	err error
}

func (f *fakeHost) Revoke(ctx context.Context, in *pb.RevokeRequest, _ ...grpc.CallOption) (*pb.RevokeReply, error) {
	if _, ok := ctx.Deadline(); !ok {
		return nil, status.Error(codes.Internal, "the call has no deadline")
	}
	f.got = append(f.got, in.RevocationJson)
	if f.err != nil {
		return nil, f.err
	}
	return &pb.RevokeReply{}, nil
}

// bindTo puts b in force for the test.
func bindTo(t *testing.T, b *binding) {
	t.Helper()
	old := bound.Swap(b)
	t.Cleanup(func() { bound.Store(old) })
}

func TestRevokeMarshal(t *testing.T) {
	f := &fakeHost{}
	bindTo(t, &binding{host: f})
	for _, c := range []struct {
		name string
		rev  any
		want string
	}{
		{"struct", Revocation{Data: &DataSelector{Path: "user.sub", Equals: "u1"}, Recheck: RecheckConnect},
			`{"data":{"path":"user.sub","equals":"u1"},"recheck":"connect"}`},
		{"rooms", Revocation{Namespace: "/chat", Rooms: []string{"vip"}}, `{"namespace":"/chat","rooms":["vip"]}`},
		{"map", map[string]any{"sockets": []string{"a"}}, `{"sockets":["a"]}`},
		{"bytes as JSON", []byte(`{ "rooms": ["x"] }`), `{ "rooms": ["x"] }`},
		{"raw message", json.RawMessage(`{"rooms":["y"]}`), `{"rooms":["y"]}`},
	} {
		f.got = nil
		if err := Revoke(context.Background(), c.rev); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(f.got) != 1 || string(f.got[0]) != c.want {
			t.Errorf("%s: sent %q, want %s", c.name, f.got, c.want)
		}
	}
}

func TestRevokeErrorKinds(t *testing.T) {
	ctx := context.Background()
	if err := Revoke(ctx, Revocation{Rooms: []string{"vip"}}); !errors.Is(err, ErrNotBound) {
		t.Fatalf("before Bind: %v, want ErrNotBound", err)
	}
	bindTo(t, &binding{})
	if err := Revoke(ctx, Revocation{Rooms: []string{"vip"}}); !errors.Is(err, ErrRevokeNotGranted) {
		t.Fatalf("bound to nothing: %v, want ErrRevokeNotGranted", err)
	}
	f := &fakeHost{}
	bindTo(t, &binding{host: f})
	for _, c := range []struct {
		err  error
		kind error
		text string
	}{
		{status.Error(codes.PermissionDenied, `revoke needs the "revoke" capability`), ErrRevokeNotGranted, `needs the "revoke" capability`},
		{status.Error(codes.InvalidArgument, `bad revocation: recheck "all"`), ErrRevokeBad, `hubd: bad revocation: recheck "all"`},
		{status.Error(codes.ResourceExhausted, "revocation refused: 64 revocations are waiting already"), ErrRevokeRefused,
			"hubd: revocation refused: 64 revocations are waiting already"},
		{status.Error(codes.Unavailable, "connection refused"), nil, "hubd: revoke: Unavailable: connection refused"},
	} {
		f.err = c.err
		err := Revoke(ctx, Revocation{Rooms: []string{"vip"}})
		for _, kind := range []error{ErrRevokeNotGranted, ErrRevokeBad, ErrRevokeRefused, ErrNotBound} {
			if errors.Is(err, kind) != (kind == c.kind) {
				t.Errorf("%v: got %v, of kind %v: %v", c.err, err, kind, errors.Is(err, kind))
			}
		}
		if err == nil || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%v: got %v, want %q", c.err, err, c.text)
		}
	}
}

// TestRevokeLocalChecks: what cannot be a revocation is refused before
// hubd is asked.
func TestRevokeLocalChecks(t *testing.T) {
	f := &fakeHost{}
	bindTo(t, &binding{host: f})
	if err := Revoke(context.Background(), map[string]any{"rooms": make(chan int)}); !errors.Is(err, ErrRevokeBad) {
		t.Errorf("unmarshallable: %v, want ErrRevokeBad", err)
	}
	big := Revocation{Sockets: []string{strings.Repeat("s", MaxRevocationBytes)}}
	if err := Revoke(context.Background(), big); !errors.Is(err, ErrRevokeBad) || !strings.Contains(err.Error(), "at most 65536") {
		t.Errorf("too large: %v, want ErrRevokeBad naming the bound", err)
	}
	if len(f.got) != 0 {
		t.Errorf("sent to hubd: %q", f.got)
	}
}

// TestRevokeContext: a ctx that has ended ends the call with its error.
func TestRevokeContext(t *testing.T) {
	bindTo(t, &binding{host: &fakeHost{err: status.Error(codes.Canceled, "context canceled")}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Revoke(ctx, Revocation{Rooms: []string{"vip"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
