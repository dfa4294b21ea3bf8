package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/hubd/hubd/hub/internal/sio"
	"github.com/hubd/hubd/internal/jsonstr"
)

// Args is a list of Socket.IO arguments as they travel: JSON values, with
// each binary value replaced by a placeholder that points at one of the
// attachments. An Args received from a client can be sent on unchanged, byte
// for byte. The zero Args is an empty list.
type Args struct {
	list        []byte // comma-separated JSON values, no brackets
	attachments [][]byte
	array       []byte // list in brackets, when a received packet had it (see JSON)
}

// NewArgs encodes Go values as arguments. []byte values become binary
// attachments, at the top level and inside []any and map[string]any;
// json.RawMessage is used as it is; anything else is marshalled with
// encoding/json (without HTML escaping). Strings that are not valid UTF-8
// have each bad byte replaced by U+FFFD, as encoding/json does; raw JSON
// that is not valid UTF-8 is refused (ErrInvalidUTF8).
func NewArgs(values ...any) (Args, error) {
	if len(values) == 1 {
		if a, ok := values[0].(Args); ok {
			return a, nil
		}
	}
	var a Args
	var err error
	for i, v := range values {
		if i > 0 {
			a.list = append(a.list, ',')
		}
		a.list, err = appendValue(a.list, v, &a.attachments)
		if err != nil {
			return Args{}, err
		}
	}
	return a, nil
}

// RawArgs makes Args from a JSON array whose binary values are placeholders
// ({"_placeholder":true,"num":i}) for the given attachments. It is the
// check for JSON that comes from outside (an HTTP caller, a plugin, another
// node): an array that is not valid UTF-8 is refused with an error wrapping
// ErrInvalidUTF8.
func RawArgs(array json.RawMessage, attachments [][]byte) (Args, error) {
	array = bytes.TrimSpace(array)
	if len(array) < 2 || array[0] != '[' || !json.Valid(array) {
		return Args{}, fmt.Errorf("hub: arguments must be a JSON array")
	}
	if !utf8.Valid(array) {
		return Args{}, errArgsUTF8
	}
	if _, err := sio.Decode(append([]byte("6"+strconv.Itoa(len(attachments))+"-0"), array...), 0); err != nil {
		return Args{}, fmt.Errorf("hub: %w", err)
	}
	return Args{list: bytes.TrimSpace(array[1 : len(array)-1]), attachments: attachments}, nil
}

// Len returns the number of arguments.
func (a Args) Len() int {
	if len(a.list) == 0 {
		return 0
	}
	return len(sio.SplitArgs(a.list))
}

// JSON returns the arguments as a JSON array, binary values as placeholders.
// It must not be modified: the arguments of a client's event share it with
// the packet they came in.
func (a Args) JSON() json.RawMessage {
	if a.array != nil {
		return a.array
	}
	b := make([]byte, 0, len(a.list)+2)
	b = append(b, '[')
	b = append(b, a.list...)
	return append(b, ']')
}

// At returns argument i as raw JSON, or nil when there is no such argument.
func (a Args) At(i int) json.RawMessage {
	if len(a.list) == 0 || i < 0 {
		return nil
	}
	all := sio.SplitArgs(a.list)
	if i >= len(all) {
		return nil
	}
	return all[i]
}

// From returns the arguments from index i on, e.g. the payload after a
// leading room name. Attachments are kept whole, so placeholders still
// point at them.
func (a Args) From(i int) Args {
	if i <= 0 || len(a.list) == 0 {
		return a
	}
	all := sio.SplitArgs(a.list)
	if i >= len(all) {
		return Args{}
	}
	// all[i] is a sub-slice of a.list: its offset is the difference of
	// their capacities.
	start := cap(a.list) - cap(all[i])
	return Args{list: a.list[start:], attachments: a.attachments}
}

// Attachments returns the binary attachments, in placeholder order.
func (a Args) Attachments() [][]byte { return a.attachments }

// Bind decodes the arguments into dst, in order, with encoding/json; a
// *[]byte target receives the binary value of a placeholder argument. Extra
// targets are left alone; extra arguments are ignored.
func (a Args) Bind(dst ...any) error {
	if len(a.list) == 0 {
		return nil
	}
	for i, raw := range sio.SplitArgs(a.list) {
		if i >= len(dst) {
			break
		}
		if dst[i] == nil {
			continue
		}
		if p, ok := dst[i].(*[]byte); ok {
			if b, ok := a.binaryAt(raw); ok {
				*p = b
				continue
			}
		}
		if err := json.Unmarshal(raw, dst[i]); err != nil {
			return fmt.Errorf("hub: argument %d: %w", i, err)
		}
	}
	return nil
}

// Values decodes the arguments into Go values (as encoding/json does into
// any), with binary placeholders replaced by their []byte.
func (a Args) Values() ([]any, error) {
	var out []any
	if err := json.Unmarshal(a.JSON(), &out); err != nil {
		return nil, err
	}
	for i := range out {
		out[i] = a.resolve(out[i])
	}
	return out, nil
}

func (a Args) resolve(v any) any {
	switch x := v.(type) {
	case []any:
		for i := range x {
			x[i] = a.resolve(x[i])
		}
	case map[string]any:
		if ph, _ := x["_placeholder"].(bool); ph {
			if n, ok := x["num"].(float64); ok && n >= 0 && int(n) < len(a.attachments) {
				return a.attachments[int(n)]
			}
		}
		for k := range x {
			x[k] = a.resolve(x[k])
		}
	}
	return v
}

func (a Args) binaryAt(raw []byte) ([]byte, bool) {
	if len(raw) == 0 || raw[0] != '{' || !bytes.Contains(raw, []byte(`"_placeholder"`)) {
		return nil, false
	}
	var ph struct {
		Placeholder bool `json:"_placeholder"`
		Num         *int `json:"num"`
	}
	if json.Unmarshal(raw, &ph) != nil || !ph.Placeholder || ph.Num == nil || *ph.Num < 0 || *ph.Num >= len(a.attachments) {
		return nil, false
	}
	return a.attachments[*ph.Num], true
}

// first returns the list holding only the first argument.
func (a Args) first() Args {
	if len(a.list) == 0 {
		return a
	}
	return Args{list: sio.SplitArgs(a.list)[0], attachments: a.attachments}
}

func appendValue(dst []byte, v any, atts *[][]byte) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case []byte:
		return appendPlaceholder(dst, x, atts), nil
	case json.RawMessage:
		if !json.Valid(x) {
			return dst, fmt.Errorf("hub: invalid json.RawMessage argument")
		}
		if !utf8.Valid(x) {
			return dst, errArgsUTF8
		}
		return append(dst, x...), nil
	case string:
		return jsonstr.Append(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		return jsonstr.AppendNumber(dst, x), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValue(dst, e, atts); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonstr.Append(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendValue(dst, x[k], atts); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, fmt.Errorf("hub: argument: %w", err)
	}
	// A json.Marshaler (or a json.RawMessage field) is copied unchecked.
	if !utf8.Valid(buf.Bytes()) {
		return dst, errArgsUTF8
	}
	return append(dst, bytes.TrimRight(buf.Bytes(), "\n")...), nil
}

var errArgsUTF8 = fmt.Errorf("%w in arguments: encode text as UTF-8 and send bytes as binary", ErrInvalidUTF8)

// validUTF8JSON returns raw, valid JSON, with every byte that is not
// UTF-8 replaced by U+FFFD. In valid JSON such bytes can only be inside
// strings, so the result is still valid JSON.
func validUTF8JSON(raw []byte) []byte {
	if utf8.Valid(raw) {
		return raw
	}
	return bytes.ToValidUTF8(raw, []byte("\uFFFD"))
}

func appendPlaceholder(dst, b []byte, atts *[][]byte) []byte {
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(len(*atts)), 10)
	*atts = append(*atts, b)
	return append(dst, '}')
}
