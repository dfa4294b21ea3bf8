package hub

import (
	"encoding/json"
	"errors"

	"github.com/hubd/hubd/internal/jsonstr"
)

// Errors callers can test for.
var (
	// ErrTimeout reports an ack that did not come in time.
	ErrTimeout = errors.New("operation has timed out")
	// ErrDisconnected reports an ack that can no longer come: the socket
	// disconnected first.
	ErrDisconnected = errors.New("hub: socket disconnected")
	// ErrReserved reports an event name that Socket.IO reserves.
	ErrReserved = errors.New("hub: reserved event name")
	// ErrNoAck reports an Ack on an event the client did not ask an ack for.
	ErrNoAck = errors.New("hub: the client asked for no ack")
	// ErrAcked reports a second Ack on the same event.
	ErrAcked = errors.New("hub: event already acknowledged")
	// ErrUnavailable reports that a cluster adapter cannot reach the other
	// nodes (its broker is down): a broadcast went to this node's sockets
	// only, a request was not answered. Adapters wrap it in their own error.
	ErrUnavailable = errors.New("hub: the other nodes cannot be reached")
	// ErrDrop, returned by an event hook or a socket middleware, drops the
	// event silently: it reaches no listener and no error listener.
	ErrDrop = errors.New("hub: event dropped")
	// ErrInvalidUTF8 reports raw JSON that is not valid UTF-8 (RawArgs,
	// NewArgs with a json.RawMessage). Sent on, it would reach WebSocket
	// clients in text frames, which they drop the connection over.
	ErrInvalidUTF8 = errors.New("hub: invalid UTF-8")
)

// ConnectError refuses a connection from a middleware or a connect hook.
// The client's connect_error carries Message and, when not nil, Data.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// connectErrorPayload is the CONNECT_ERROR payload for err.
func connectErrorPayload(err error) []byte {
	var ce *ConnectError
	msg := err.Error()
	var data any
	if errors.As(err, &ce) {
		msg, data = ce.Message, ce.Data
	}
	b := jsonstr.Append([]byte(`{"message":`), msg)
	if data != nil {
		raw, merr := json.Marshal(data)
		if merr == nil {
			b = append(b, `,"data":`...)
			b = append(b, validUTF8JSON(raw)...)
		}
	}
	return append(b, '}')
}
