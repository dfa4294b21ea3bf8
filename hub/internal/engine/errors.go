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
