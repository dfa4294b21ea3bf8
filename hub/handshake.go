package hub

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Handshake is what a client sent when it connected. It is serialised to
// JSON as the reference server's socket.handshake (header names in lower
// case, one value per query parameter), as cluster requests carry it.
type Handshake struct {
	// Headers of the first HTTP request (without Host, as net/http keeps it).
	Headers http.Header
	// Host is the Host header of the first request.
	Host string
	// Time of the connection, in JavaScript's Date.toString form.
	Time string
	// Address is the client's IP address.
	Address string
	// XDomain is set when the request carried an Origin header.
	XDomain bool
	// Secure is set for TLS connections.
	Secure bool
	// Issued is the connection time in Unix milliseconds.
	Issued int64
	// URL is the request URI of the first request.
	URL string
	// RawQuery is the first request's query string; Query parses it.
	RawQuery string
	// Auth is the payload of the client's CONNECT ({} when it sent none).
	Auth json.RawMessage
}

// handshakeShape is the reference server's shape of a handshake; V is a
// header's or query parameter's value: a string as hub writes it, a string
// or a list of strings as Node may.
type handshakeShape[V any] struct {
	Headers map[string]V    `json:"headers"`
	Time    string          `json:"time"`
	Address string          `json:"address"`
	XDomain bool            `json:"xdomain"`
	Secure  bool            `json:"secure"`
	Issued  int64           `json:"issued"`
	URL     string          `json:"url"`
	Query   map[string]V    `json:"query"`
	Auth    json.RawMessage `json:"auth"`
}

// MarshalJSON writes the handshake in the reference server's shape.
func (h Handshake) MarshalJSON() ([]byte, error) {
	j := handshakeShape[string]{
		Headers: make(map[string]string, len(h.Headers)),
		Time:    h.Time, Address: h.Address, XDomain: h.XDomain, Secure: h.Secure,
		Issued: h.Issued, URL: h.URL,
		Query: make(map[string]string),
		Auth:  h.Auth,
	}
	for k, v := range h.Headers {
		j.Headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	if h.Host != "" {
		j.Headers["host"] = h.Host
	}
	for k, v := range h.Query() {
		if len(v) > 0 {
			j.Query[k] = v[0]
		}
	}
	if len(j.Auth) == 0 {
		j.Auth = json.RawMessage("{}")
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the reference server's shape, as other nodes send
// it. Node may write a header or query parameter as an array of strings
// (set-cookie, a repeated parameter); each value is kept.
func (h *Handshake) UnmarshalJSON(b []byte) error {
	var j handshakeShape[stringOrList]
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = Handshake{
		Headers: make(http.Header, len(j.Headers)),
		Time:    j.Time, Address: j.Address, XDomain: j.XDomain, Secure: j.Secure,
		Issued: j.Issued, URL: j.URL,
		Auth: j.Auth,
	}
	for k, v := range j.Headers {
		if k == "host" && len(v) > 0 {
			h.Host = v[0]
			continue
		}
		h.Headers[http.CanonicalHeaderKey(k)] = v
	}
	q := make(url.Values, len(j.Query))
	for k, v := range j.Query {
		q[k] = v
	}
	h.RawQuery = q.Encode()
	return nil
}

// stringOrList reads a JSON string or array of strings; other values
// (numbers, booleans) are kept as their JSON text.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = stringOrList{one}
		return nil
	}
	var many []string
	if json.Unmarshal(b, &many) == nil {
		*s = many
		return nil
	}
	*s = stringOrList{string(b)}
	return nil
}

// Query returns the first request's query parameters. (They are kept as
// the raw string: parsed maps would cost every idle connection memory.)
func (h Handshake) Query() url.Values {
	q, _ := url.ParseQuery(h.RawQuery)
	return q
}

func newHandshake(r *http.Request) Handshake {
	now := time.Now()
	h := Handshake{
		Headers:  r.Header,
		Host:     r.Host,
		Time:     now.Format("Mon Jan 02 2006 15:04:05 GMT-0700 (MST)"),
		XDomain:  r.Header.Get("Origin") != "",
		Secure:   r.TLS != nil,
		Issued:   now.UnixMilli(),
		URL:      r.URL.RequestURI(),
		RawQuery: r.URL.RawQuery,
		Address:  r.RemoteAddr,
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		h.Address = host
	}
	return h
}
