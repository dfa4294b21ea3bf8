package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/hubd/hubd/sdk/proto/hubd/v1"
)

// Errors of Revoke. The errors Revoke returns wrap one of them and, where
// hubd gave one, carry hubd's reason: test them with errors.Is.
var (
	// ErrRevokeNotGranted: the plugin's manifest does not list the
	// "revoke" capability.
	ErrRevokeNotGranted = errors.New(`hubd: revoke needs the "revoke" capability: list it in the manifest's capabilities`)
	// ErrRevokeBad: the revocation is not a valid revocation, or breaks
	// one of its bounds; the error says which.
	ErrRevokeBad = errors.New("hubd: bad revocation")
	// ErrRevokeRefused: hubd refused a valid revocation: the plugin asks
	// faster than its rate, hubd's queue of revocations is full, or the
	// server does not serve revocations. Asking again later may succeed.
	ErrRevokeRefused = errors.New("hubd: revocation refused")
	// ErrNotBound: hubd has not told the plugin where to reach it yet. It
	// does so as the process starts, before the first hook call, so a
	// handler never sees this error; a goroutine the plugin starts itself
	// can, in its first moments. A hubd older than this SDK never binds.
	ErrNotBound = errors.New("hubd: the plugin is not bound to hubd yet (it binds as the process starts, before the first hook call; a hubd too old to serve process plugins never binds)")
)

// MaxRevocationBytes bounds a revocation's JSON.
const MaxRevocationBytes = 64 << 10

// revokeTimeout bounds a Revoke whose ctx has no deadline. hubd only
// queues the revocation, so the call is short.
const revokeTimeout = 10 * time.Second

// Revocation names the sockets of a namespace whose grants hubd puts
// back to the plugins: those in any of Rooms, with any of the ids of
// Sockets, and with Data's value at Data's path — every selector given
// must match, and at least one is required.
type Revocation struct {
	// Namespace is the sockets' namespace ("/" when empty).
	Namespace string `json:"namespace,omitempty"`
	// Rooms selects the sockets in any of these rooms; a join recheck
	// then re-decides these rooms only.
	Rooms []string `json:"rooms,omitempty"`
	// Sockets selects the sockets with these ids.
	Sockets []string `json:"sockets,omitempty"`
	// Data selects the sockets whose data holds a value at a path.
	Data *DataSelector `json:"data,omitempty"`
	// Recheck is the hook hubd runs again: RecheckJoin (the default) or
	// RecheckConnect.
	Recheck Recheck `json:"recheck,omitempty"`
}

// DataSelector matches the sockets whose data holds Equals at Path.
type DataSelector struct {
	// Path is a dot-separated path in the socket's data, e.g. "user.sub";
	// a segment of digits indexes an array.
	Path string `json:"path"`
	// Equals is the value to compare, as encoding/json writes it.
	Equals any `json:"equals"`
}

// Recheck names the hook a revocation puts the sockets' grants to.
type Recheck string

const (
	// RecheckJoin runs the join hook again for each room of the socket
	// (for the rooms the revocation names, if it names some); the socket
	// leaves the rooms it now refuses.
	RecheckJoin Recheck = "join"
	// RecheckConnect runs the connect hook again; the socket is
	// disconnected when it now refuses.
	RecheckConnect Recheck = "connect"
)

// Revoke asks hubd to put back to the plugins the grants of the sockets
// revocation names: a Revocation, or any value encoding/json writes as
// such an object (a []byte or json.RawMessage is taken as the JSON
// itself), e.g.
//
//	process.Revoke(ctx, process.Revocation{
//		Data:    &process.DataSelector{Path: "user.sub", Equals: "u123"},
//		Recheck: process.RecheckConnect,
//	})
//
// hubd queues the revocation and answers at once: the sockets are
// re-decided later, on every node, by the hooks of all plugins. The
// plugin needs the "revoke" capability in its manifest.
//
// Revoke may be called from a handler or from any goroutine of the
// plugin. ctx bounds the call (10 s when it has no deadline). The error
// wraps ErrRevokeNotGranted, ErrRevokeBad, ErrRevokeRefused or
// ErrNotBound, or, when hubd could not be reached, says why.
func Revoke(ctx context.Context, revocation any) error {
	var raw []byte
	switch r := revocation.(type) {
	case []byte:
		raw = r
	case json.RawMessage:
		raw = r
	default:
		var err error
		if raw, err = json.Marshal(revocation); err != nil {
			return fmt.Errorf("%w: %v", ErrRevokeBad, err)
		}
	}
	if len(raw) > MaxRevocationBytes {
		return fmt.Errorf("%w: %d bytes of JSON, at most %d", ErrRevokeBad, len(raw), MaxRevocationBytes)
	}
	b := bound.Load()
	switch {
	case b == nil:
		return ErrNotBound
	case b.host == nil:
		return ErrRevokeNotGranted
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, revokeTimeout)
		defer cancel()
	}
	_, err := b.host.Revoke(ctx, &pb.RevokeRequest{RevocationJson: raw})
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("hubd: revoke: %w", cerr)
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.PermissionDenied:
		return ErrRevokeNotGranted
	case codes.InvalidArgument:
		return &hostError{kind: ErrRevokeBad, msg: st.Message()}
	case codes.ResourceExhausted:
		return &hostError{kind: ErrRevokeRefused, msg: st.Message()}
	}
	return fmt.Errorf("hubd: revoke: %s: %s", st.Code(), st.Message())
}

// hostError is an error of one of Revoke's kinds in hubd's words.
type hostError struct {
	kind error
	msg  string
}

func (e *hostError) Error() string { return "hubd: " + e.msg }
func (e *hostError) Unwrap() error { return e.kind }

// binding is what Bind told the plugin: the Host service's client, nil
// when hubd serves the plugin nothing.
type binding struct {
	host pb.HostClient
	conn *grpc.ClientConn
}

// bound is the binding in force: nil until hubd calls Bind.
var bound atomic.Pointer[binding]

// bind puts b in force and closes the connection of the one it replaces.
func bind(b *binding) {
	if old := bound.Swap(b); old != nil && old.conn != nil {
		_ = old.conn.Close()
	}
}
