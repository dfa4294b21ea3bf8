package engine

import "net/http"

// The permessage-deflate extension (RFC 7692) as this server takes it up:
// it compresses every message on its own (server_no_context_takeover), so
// that one compressed frame of a broadcast serves every receiver, and asks
// clients to do the same (client_no_context_takeover), so that a session
// keeps no inflate state between messages (RATIONALE.md, "WebSocket
// compression").

// deflateResponse is the extension's answer to an accepted offer, and
// deflateResponse15 the answer to one that names server_max_window_bits,
// which must be answered with the window used (RFC 7692, 7.1.2.1).
const (
	deflateResponse   = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	deflateResponse15 = deflateResponse + "; server_max_window_bits=15"
)

// negotiateDeflate reads the Sec-WebSocket-Extensions offers of a
// handshake and returns the Sec-WebSocket-Extensions answer for the first
// permessage-deflate offer it accepts, or "" when it accepts none.
//
// As RFC 7692 (section 5) asks, an offer is declined when a parameter is
// unknown, repeated or has an invalid value, or when the server cannot do
// what it asks: a server_max_window_bits under 15, since the compressor
// always uses a 32 KiB window. A header that does not parse as the RFC
// 6455 extension list (section 9.1) declines every offer: the connection
// goes on uncompressed, as if nothing had been offered.
func negotiateDeflate(h http.Header) string {
	answer := ""
	for _, v := range h["Sec-Websocket-Extensions"] {
		a, ok := scanOffers(v)
		if !ok {
			return ""
		}
		if answer == "" {
			answer = a
		}
	}
	return answer
}

// scanOffers scans one header line of offers; ok is false when it does not
// parse. answer is the answer to its first acceptable permessage-deflate
// offer.
func scanOffers(s string) (answer string, ok bool) {
	for {
		s = skipSpace(s)
		if s == "" {
			return answer, true
		}
		if s[0] == ',' { // an empty element of the list
			s = s[1:]
			continue
		}
		var name string
		name, s = nextToken(s)
		if name == "" {
			return "", false
		}
		isDeflate := equalFoldASCII(name, "permessage-deflate")
		var o deflateOffer
		for {
			s = skipSpace(s)
			if s == "" || s[0] != ';' {
				break
			}
			var p param
			if p, s, ok = nextParam(skipSpace(s[1:])); !ok {
				return "", false
			}
			if isDeflate {
				o.add(p)
			}
		}
		if s != "" && s[0] != ',' {
			return "", false
		}
		if isDeflate && answer == "" {
			answer = o.answer()
		}
	}
}

// param is an extension parameter: a token, and its value when it has one.
// A value longer than maxParamValue is kept as invalid (none of
// permessage-deflate's values is that long).
type param struct {
	name     string
	value    [maxParamValue]byte
	n        int  // bytes of value
	hasValue bool // "=" was given
	long     bool // the value is longer than maxParamValue
}

const maxParamValue = 2

// nextParam parses one extension parameter, token [ "=" (token |
// quoted-string) ], at the start of s.
func nextParam(s string) (p param, rest string, ok bool) {
	if p.name, s = nextToken(s); p.name == "" {
		return p, s, false
	}
	s = skipSpace(s)
	if s == "" || s[0] != '=' {
		return p, s, true
	}
	p.hasValue = true
	s = skipSpace(s[1:])
	if s != "" && s[0] == '"' {
		// A quoted-string whose content must, unescaped, be a token
		// (RFC 6455, 9.1).
		for i := 1; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '"':
				return p, s[i+1:], p.n > 0 || p.long
			case c == '\\':
				i++
				if i == len(s) {
					return p, s, false
				}
				c = s[i]
			}
			if !isTokenByte(c) {
				return p, s, false
			}
			p.push(c)
		}
		return p, s, false // unterminated
	}
	var v string
	if v, s = nextToken(s); v == "" {
		return p, s, false
	}
	for i := 0; i < len(v); i++ {
		p.push(v[i])
	}
	return p, s, true
}

func (p *param) push(c byte) {
	if p.n == len(p.value) {
		p.long = true
		return
	}
	p.value[p.n] = c
	p.n++
}

// windowBits returns the value of a *_max_window_bits parameter: 8 to 15,
// without leading zeros (RFC 7692, 7.1.2.1); ok is false for anything else.
func (p *param) windowBits() (bits int, ok bool) {
	if p.long || p.n == 0 || p.value[0] == '0' {
		return 0, false
	}
	for _, c := range p.value[:p.n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		bits = bits*10 + int(c-'0')
	}
	return bits, 8 <= bits && bits <= 15
}

// deflateOffer gathers the parameters of one permessage-deflate offer.
type deflateOffer struct {
	seen     uint8 // one bit per parameter name
	declined bool
	window15 bool // server_max_window_bits=15 was offered
}

const (
	seenServerNoContext = 1 << iota
	seenClientNoContext
	seenServerWindow
	seenClientWindow
)

func (o *deflateOffer) add(p param) {
	var bit uint8
	valid := false
	switch p.name {
	case "server_no_context_takeover":
		bit, valid = seenServerNoContext, !p.hasValue
	case "client_no_context_takeover":
		bit, valid = seenClientNoContext, !p.hasValue
	case "server_max_window_bits":
		// The server compresses with a 32 KiB window: it cannot take
		// a smaller one.
		bits, ok := p.windowBits()
		bit, valid = seenServerWindow, p.hasValue && ok && bits == 15
		o.window15 = valid
	case "client_max_window_bits":
		// Any window: the inflater takes up to 32 KiB, and every
		// message is inflated on its own.
		_, ok := p.windowBits()
		bit, valid = seenClientWindow, !p.hasValue || ok
	}
	if !valid || o.seen&bit != 0 {
		o.declined = true
	}
	o.seen |= bit
}

// answer returns the answer to the offer, "" when it is declined.
func (o *deflateOffer) answer() string {
	switch {
	case o.declined:
		return ""
	case o.window15:
		return deflateResponse15
	}
	return deflateResponse
}
