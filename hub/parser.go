package hub

import (
	"fmt"

	"github.com/hubd/hubd/hub/internal/engine"
	"github.com/hubd/hubd/hub/internal/sio"
)

// Parser is how a server's packets are written on the wire (Node's parser
// option); every client of the server must use the same one.
type Parser uint8

const (
	// ParserJSON is Socket.IO's default parser (socket.io-parser): text
	// packets with JSON data, binary values in attachments that follow.
	ParserJSON Parser = iota
	// ParserMsgpack is socket.io-msgpack-parser's: each packet one binary
	// message in MessagePack, binary values in place. A client must be
	// created with parser: require("socket.io-msgpack-parser"); a client
	// with the default parser sends text, and its connection is closed
	// as after any malformed packet.
	ParserMsgpack
)

// ParseParser returns the parser of a name: "json" (or "") or "msgpack".
func ParseParser(name string) (Parser, error) {
	switch name {
	case "", "json":
		return ParserJSON, nil
	case "msgpack":
		return ParserMsgpack, nil
	}
	return ParserJSON, fmt.Errorf("hub: unknown parser %q: use json or msgpack", name)
}

// String returns the parser's name, as ParseParser takes it.
func (p Parser) String() string {
	switch p {
	case ParserJSON:
		return "json"
	case ParserMsgpack:
		return "msgpack"
	}
	return fmt.Sprintf("Parser(%d)", uint8(p))
}

// decodeMsgpack handles one message of a msgpack client: a whole packet,
// in a binary message.
func (c *client) decodeMsgpack(data []byte, binary bool) {
	if !binary {
		c.fail()
		return
	}
	p, atts, err := sio.DecodeMsgpack(data, c.srv.opts.MaxAttachments)
	if err != nil {
		c.fail()
		return
	}
	c.dispatch(&p, atts, len(data))
}

// msgpackFrame is a msgpack packet's one binary message.
func msgpackFrame(b []byte) []engine.Frame { return []engine.Frame{{Data: b, Binary: true}} }
