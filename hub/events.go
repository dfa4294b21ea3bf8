package hub

import (
	"net/http"

	"github.com/hubd/hubd/hub/internal/engine"
)

// The Engine.IO error codes, as engine.io names them (Server.errors). A
// refused request is answered with {"code":N,"message":"..."} and reported
// to Options.OnConnectionError.
const (
	// CodeUnknownTransport: the transport query parameter names no
	// transport the server serves ("Transport unknown").
	CodeUnknownTransport = 0
	// CodeUnknownSID: the session id is not (or no longer) known ("Session
	// ID unknown").
	CodeUnknownSID = 1
	// CodeBadHandshakeMethod: a handshake that is not a GET ("Bad
	// handshake method").
	CodeBadHandshakeMethod = 2
	// CodeBadRequest: any other malformed request ("Bad request"); the
	// error's Context["name"] says which.
	CodeBadRequest = 3
	// CodeForbidden: a handshake refused by Options.AllowRequest, whose
	// error is in Context["message"] and in the answer's body (HTTP 403),
	// or during a shutdown (HTTP 503, Context["name"] is
	// "SERVER_SHUTTING_DOWN").
	CodeForbidden = 4
	// CodeUnsupportedProtocolVersion: an Engine.IO revision other than 4,
	// or 3 without Options.AllowEIO3 ("Unsupported protocol version").
	CodeUnsupportedProtocolVersion = 5
)

// ConnectionError is a request the server refused before it reached a
// connection, as Node's engine reports it with its connection_error event.
type ConnectionError struct {
	// Request is the refused request.
	Request *http.Request
	// Code is one of the Code constants.
	Code int
	// Message is the code's message ("Forbidden" for CodeForbidden, the
	// details being in Context).
	Message string
	// Context holds the details, with engine.io's keys: "transport",
	// "sid", "method", "protocol", "message", or "name" for a kind of
	// bad request ("TRANSPORT_MISMATCH", "TRANSPORT_HANDSHAKE_ERROR",
	// "PROTOCOL_MISMATCH", "WEBSOCKET_HANDSHAKE_ERROR", "INVALID_ORIGIN"
	// with "origin", "SERVER_SHUTTING_DOWN").
	Context map[string]any
}

// engineConnectionError adapts Options.OnConnectionError to the engine's
// hook (nil stays nil).
func engineConnectionError(fn func(ConnectionError)) func(engine.ConnectionError) {
	if fn == nil {
		return nil
	}
	return func(e engine.ConnectionError) {
		fn(ConnectionError{Request: e.Request, Code: e.Code, Message: e.Message, Context: e.Context})
	}
}
