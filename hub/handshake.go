package hub

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"
)

// Handshake is what a client sent when it connected, shaped as the
// reference server's socket.handshake (and serialised the same way in
// cluster requests).
type Handshake struct {
	// Headers of the first HTTP request, keys in lower case.
	Headers map[string]string `json:"headers"`
	// Time of the connection, in JavaScript's Date.toString form.
	Time string `json:"time"`
	// Address is the client's IP address.
	Address string `json:"address"`
	// XDomain is set when the request carried an Origin header.
	XDomain bool `json:"xdomain"`
	// Secure is set for TLS connections.
	Secure bool `json:"secure"`
	// Issued is the connection time in Unix milliseconds.
	Issued int64 `json:"issued"`
	// URL is the request URI of the first request.
	URL string `json:"url"`
	// Query holds the first request's query parameters.
	Query map[string]string `json:"query"`
	// Auth is the payload of the client's CONNECT ({} when it sent none).
	Auth json.RawMessage `json:"auth"`
}

func newHandshake(r *http.Request) Handshake {
	now := time.Now()
	h := Handshake{
		Headers: make(map[string]string, len(r.Header)+1),
		Time:    now.Format("Mon Jan 02 2006 15:04:05 GMT-0700 (MST)"),
		XDomain: r.Header.Get("Origin") != "",
		Secure:  r.TLS != nil,
		Issued:  now.UnixMilli(),
		URL:     r.URL.RequestURI(),
		Query:   make(map[string]string),
	}
	for k, v := range r.Header {
		h.Headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	if r.Host != "" {
		h.Headers["host"] = r.Host
	}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			h.Query[k] = v[0]
		}
	}
	h.Address = r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		h.Address = host
	}
	return h
}
