package redisadapter

import (
	"errors"

	"github.com/hubd/hubd/hub/internal/msgpack"
)

// The Node adapter encodes broadcasts with notepack.io. The codec that
// writes and reads the same msgpack is hub/internal/msgpack, shared with
// the hub's msgpack parser; the names below keep this package's callers
// short.

const maxDepth = msgpack.MaxDepth

// errNotUTF8JSON drops a JSON message that is not UTF-8, as the codec
// drops a msgpack message with a string that is not (msgpack.ErrInvalidUTF8).
var errNotUTF8JSON = errors.New("redisadapter: a JSON message is not valid UTF-8")

// rawMsgpack is a value already in msgpack, written as it is.
type rawMsgpack = msgpack.Raw

// decoder reads msgpack values one after the other.
type decoder = msgpack.Decoder

func appendValue(b []byte, v any) ([]byte, error) { return msgpack.AppendValue(b, v) }

func decodeMsgpack(b []byte) (any, error) { return msgpack.Decode(b) }

func appendString[S string | []byte](b []byte, s S) []byte { return msgpack.AppendString(b, s) }

func appendArrayHeader(b []byte, n int) []byte { return msgpack.AppendArrayHeader(b, n) }
