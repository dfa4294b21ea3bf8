package engine

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error codes of the reference server, sent as {"code":N,"message":"..."}.
const (
	codeUnknownTransport   = 0
	codeUnknownSID         = 1
	codeBadHandshakeMethod = 2
	codeBadRequest         = 3
	codeForbidden          = 4
	codeUnsupportedVersion = 5
)

var errorMessages = [...]string{
	codeUnknownTransport:   "Transport unknown",
	codeUnknownSID:         "Session ID unknown",
	codeBadHandshakeMethod: "Bad handshake method",
	codeBadRequest:         "Bad request",
	codeForbidden:          "Forbidden",
	codeUnsupportedVersion: "Unsupported protocol version",
}

// ConnectionError is a request the engine refused before it reached a
// session, as the reference's connection_error event reports it.
type ConnectionError struct {
	// Request is the refused request.
	Request *http.Request
	// Code is the reference's error code, 0 to 5 (see the code constants).
	Code int
	// Message is the reference's message for Code ("Forbidden" for a
	// refusal by AllowRequest, whose error is in Context["message"]).
	Message string
	// Context holds details, with the reference's keys: "transport",
	// "sid", "method", "protocol", "message", or "name" for a kind of bad
	// request (TRANSPORT_MISMATCH, TRANSPORT_HANDSHAKE_ERROR, ...).
	Context map[string]any
}

// refuse answers a refused request with the reference's error and reports
// it to Config.OnConnectionError. message, when set, replaces the code's
// message in the body (AllowRequest's error).
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, message string, context map[string]any) {
	s.reportRefusal(r, code, context)
	writeError(w, code, message)
}

// reportRefusal tells Config.OnConnectionError of a refused request.
func (s *Server) reportRefusal(r *http.Request, code int, context map[string]any) {
	if fn := s.cfg.OnConnectionError; fn != nil {
		fn(ConnectionError{Request: r, Code: code, Message: errorMessages[code], Context: context})
	}
}

// transportMismatch is the context of a request whose transport is not
// its session's.
func transportMismatch(transport string, c *Conn) map[string]any {
	return map[string]any{"name": "TRANSPORT_MISMATCH", "transport": transport, "previousTransport": c.Transport()}
}

// writeError answers a request the way the reference server does: a JSON
// body with the code and message, 403 for code 4 and 400 otherwise.
func writeError(w http.ResponseWriter, code int, message string) {
	status := http.StatusBadRequest
	if code == codeForbidden {
		status = http.StatusForbidden
	}
	writeErrorStatus(w, status, code, message)
}

// writeErrorStatus is writeError with another HTTP status.
func writeErrorStatus(w http.ResponseWriter, status, code int, message string) {
	if message == "" {
		message = errorMessages[code]
	}
	body := `{"code":` + strconv.Itoa(code) + `,"message":` + quoteJSON(message) + `}`
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
