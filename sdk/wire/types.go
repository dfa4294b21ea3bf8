package wire

import "strconv"

// Envelope is one hook call as every runtime sees it. Its JSON form is the
// envelope schema, sdk/schema/envelope.schema.json: AppendJSON writes it,
// and encoding/json reads it through the json tags (encoding/json writes
// the same fields, but "v" only when V is set and null for a nil list).
type Envelope struct {
	// V is the schema version of an envelope read from JSON. AppendJSON
	// always writes Version.
	V         int    `json:"v,omitempty"`
	Hook      Hook   `json:"hook"`
	Namespace string `json:"ns"`
	Socket    Socket `json:"socket"`
	// Handshake is set on connect only.
	Handshake *Handshake `json:"handshake,omitempty"`
	// Recovered is set on connect only, when the socket is one its client
	// got back after a disconnection (connection state recovery): the
	// socket's id and data are the restored ones; its rooms come back once
	// the connect is allowed, and a deny fails the recovery. Like Ack, it
	// is sent only when true.
	Recovered bool `json:"recovered,omitempty"`
	// Event and Args are set on the event hook: the event name and the
	// client's JSON argument array, binary values as placeholders
	// {"_placeholder":true,"num":N} whose bytes are in Attachments.
	Event string `json:"event,omitempty"`
	Args  Raw    `json:"args,omitempty"`
	// Ack tells whether the client waits for an ack (event hook).
	Ack bool `json:"ack,omitempty"`
	// Rooms are the rooms acted on: those being joined or left, or the
	// event's target rooms.
	Rooms []string `json:"rooms,omitempty"`
	// Reason is the disconnect reason.
	Reason string `json:"reason,omitempty"`
	// Attachments are the binary values of Args, out of band.
	Attachments [][]byte `json:"-"`
}

// Socket is the socket a hook call is about.
type Socket struct {
	ID string `json:"id"`
	// Rooms the socket is in, without its own.
	Rooms []string `json:"rooms"`
	// Data is what a connect decision attached (Decision.SocketData).
	Data Raw `json:"data,omitempty"`
}

// Handshake is what the client sent when connecting.
type Handshake struct {
	// Auth is the client's auth payload, {} when it sent none.
	Auth    Raw               `json:"auth"`
	Query   map[string]string `json:"query"`
	Headers map[string]string `json:"headers"` // lower-case names
	Address string            `json:"address"`
}

// AppendJSON appends the envelope's JSON form to dst: the fields in the
// order of the struct, "v" always Version, the optional ones only when
// set, query and headers with sorted keys. Args, Socket.Data and
// Handshake.Auth are copied as they are; nothing is re-encoded.
func (e *Envelope) AppendJSON(dst []byte) []byte { return e.AppendJSONIndex(dst, nil) }

// Index is where AppendJSONIndex wrote each field of the envelope, as the
// envelope index gives it (see IndexMagic): Spans[id] are the first and
// the end offset of field id's value from where the JSON starts, strings
// with their quotes, (0, 0) for a field not written; bit id of Esc is set
// when string field id holds a backslash escape. The argument fields
// (FieldArg0 on) are left to the caller: they take a scan of Args.
type Index struct {
	Spans [NumFields][2]uint32
	Esc   uint32
}

// span records that field id's value is dst[at:], the JSON starting at
// dst[base]; x may be nil.
func (x *Index) span(id, base, at int, dst []byte) {
	if x != nil {
		x.Spans[id] = [2]uint32{uint32(at - base), uint32(len(dst) - base)}
	}
}

// str is span for string field id, written from s: AppendString escaped
// something exactly when it wrote more than s and its quotes.
func (x *Index) str(id, base, at int, dst []byte, s string) {
	if x != nil {
		x.span(id, base, at, dst)
		if len(dst)-at != len(s)+2 {
			x.Esc |= 1 << id
		}
	}
}

// AppendJSONIndex is AppendJSON that, with x set, also records in x where
// it wrote each field (all of x is overwritten), so that the envelope
// index takes no scan of the JSON. The offsets are uint32: a caller that
// writes JSON of 4 GiB or more must not use them.
func (e *Envelope) AppendJSONIndex(dst []byte, x *Index) []byte {
	base := len(dst)
	if x != nil {
		*x = Index{}
	}
	dst = append(dst, `{"v":`...)
	at := len(dst)
	dst = appendInt(dst, Version)
	x.span(FieldV, base, at, dst)
	dst = append(dst, `,"hook":`...)
	at = len(dst)
	dst = AppendString(dst, string(e.Hook))
	x.str(FieldHook, base, at, dst, string(e.Hook))
	dst = append(dst, `,"ns":`...)
	at = len(dst)
	dst = AppendString(dst, e.Namespace)
	x.str(FieldNs, base, at, dst, e.Namespace)
	dst = append(dst, `,"socket":`...)
	sock := len(dst)
	dst = append(dst, `{"id":`...)
	at = len(dst)
	dst = AppendString(dst, e.Socket.ID)
	x.str(FieldSocketID, base, at, dst, e.Socket.ID)
	dst = append(dst, `,"rooms":`...)
	at = len(dst)
	dst = AppendStrings(dst, e.Socket.Rooms)
	x.span(FieldSocketRooms, base, at, dst)
	if len(e.Socket.Data) > 0 {
		dst = append(dst, `,"data":`...)
		at = len(dst)
		dst = append(dst, e.Socket.Data...)
		x.span(FieldSocketData, base, at, dst)
	}
	dst = append(dst, '}')
	x.span(FieldSocket, base, sock, dst)
	if h := e.Handshake; h != nil {
		dst = append(dst, `,"handshake":`...)
		hs := len(dst)
		dst = append(dst, `{"auth":`...)
		at = len(dst)
		if len(h.Auth) > 0 {
			dst = append(dst, h.Auth...)
		} else {
			dst = append(dst, "{}"...)
		}
		x.span(FieldAuth, base, at, dst)
		dst = append(dst, `,"query":`...)
		at = len(dst)
		dst = appendMap(dst, h.Query)
		x.span(FieldQuery, base, at, dst)
		dst = append(dst, `,"headers":`...)
		at = len(dst)
		dst = appendMap(dst, h.Headers)
		x.span(FieldHeaders, base, at, dst)
		dst = append(dst, `,"address":`...)
		at = len(dst)
		dst = AppendString(dst, h.Address)
		x.str(FieldAddress, base, at, dst, h.Address)
		dst = append(dst, '}')
		x.span(FieldHandshake, base, hs, dst)
	}
	if e.Recovered {
		dst = append(dst, `,"recovered":`...)
		at = len(dst)
		dst = append(dst, "true"...)
		x.span(FieldRecovered, base, at, dst)
	}
	if e.Event != "" {
		dst = append(dst, `,"event":`...)
		at = len(dst)
		dst = AppendString(dst, e.Event)
		x.str(FieldEvent, base, at, dst, e.Event)
	}
	if len(e.Args) > 0 {
		dst = append(dst, `,"args":`...)
		at = len(dst)
		dst = append(dst, e.Args...)
		x.span(FieldArgs, base, at, dst)
	}
	if e.Ack {
		dst = append(dst, `,"ack":`...)
		at = len(dst)
		dst = append(dst, "true"...)
		x.span(FieldAck, base, at, dst)
	}
	if e.Rooms != nil {
		dst = append(dst, `,"rooms":`...)
		at = len(dst)
		dst = AppendStrings(dst, e.Rooms)
		x.span(FieldRooms, base, at, dst)
	}
	if e.Reason != "" {
		dst = append(dst, `,"reason":`...)
		at = len(dst)
		dst = AppendString(dst, e.Reason)
		x.str(FieldReason, base, at, dst, e.Reason)
	}
	return append(dst, '}')
}

// Decision is a plugin's answer to one hook call. Every field is optional:
// the zero Decision allows the call unchanged. Its JSON form is the
// decision schema, sdk/schema/decision.schema.json, written alike by
// AppendJSON and encoding/json (but for an empty, non-nil list or Raw:
// see AppendJSON); a decision beyond the bounds of this package
// (MaxReason, MaxRooms, MaxJSONDepth) is the plugin's failure.
type Decision struct {
	Action Action `json:"action,omitempty"`
	// Reason and Data explain a deny: a refused connect reaches the client
	// as connect_error {message: Reason, data: Data}. Reason is at most
	// MaxReason bytes.
	Reason string `json:"reason,omitempty"`
	Data   Raw    `json:"data,omitempty"`
	// Event and Args replace the event's name and its arguments (a JSON
	// array; event hook).
	Event string `json:"event,omitempty"`
	Args  Raw    `json:"args,omitempty"`
	// Rooms replaces the rooms being joined (join hook) or routes the event
	// to these rooms (event hook).
	Rooms []string `json:"rooms,omitempty"`
	// Except and ToSender complete an event's route: the rooms whose
	// sockets it skips, and whether it also reaches its sender.
	Except   []string `json:"except,omitempty"`
	ToSender *bool    `json:"to_sender,omitempty"`
	// Reply answers the client's ack with these arguments (a JSON array).
	// With the reply action the event then stops; with allow it goes on.
	Reply Raw `json:"reply,omitempty"`
	// SocketData is attached to the socket (connect hook) and seen by every
	// later hook call for that socket as Envelope.Socket.Data.
	SocketData Raw `json:"socket_data,omitempty"`
	// Join lists rooms the socket joins on connect.
	Join []string `json:"join,omitempty"`
}

// IsZero reports whether d allows the call unchanged: no action but allow
// and no field set.
func (d *Decision) IsZero() bool {
	return (d.Action == "" || d.Action == ActionAllow) && d.Reason == "" && d.Data == nil &&
		d.Event == "" && d.Args == nil && d.Rooms == nil && d.Except == nil && d.ToSender == nil &&
		d.Reply == nil && d.SocketData == nil && d.Join == nil
}

// AppendJSON appends the decision's JSON form to dst, compact: the fields
// in the order of the struct, a string only when not empty, a Raw or a
// list only when not nil (an empty but non-nil Raw as null), so {} for the
// zero Decision.
func (d *Decision) AppendJSON(dst []byte) []byte {
	w := members{dst: dst}
	if d.Action != "" {
		w.dst = AppendString(w.key(`"action":`), string(d.Action))
	}
	if d.Reason != "" {
		w.dst = AppendString(w.key(`"reason":`), d.Reason)
	}
	if d.Data != nil {
		w.dst = appendValue(w.key(`"data":`), d.Data)
	}
	if d.Event != "" {
		w.dst = AppendString(w.key(`"event":`), d.Event)
	}
	if d.Args != nil {
		w.dst = appendValue(w.key(`"args":`), d.Args)
	}
	if d.Rooms != nil {
		w.dst = AppendStrings(w.key(`"rooms":`), d.Rooms)
	}
	if d.Except != nil {
		w.dst = AppendStrings(w.key(`"except":`), d.Except)
	}
	if d.ToSender != nil {
		w.dst = strconv.AppendBool(w.key(`"to_sender":`), *d.ToSender)
	}
	if d.Reply != nil {
		w.dst = appendValue(w.key(`"reply":`), d.Reply)
	}
	if d.SocketData != nil {
		w.dst = appendValue(w.key(`"socket_data":`), d.SocketData)
	}
	if d.Join != nil {
		w.dst = AppendStrings(w.key(`"join":`), d.Join)
	}
	return w.end()
}

// members writes a JSON object's members one after the other.
type members struct {
	dst  []byte
	some bool // a member was written
}

// key appends the separator and key (its quotes and colon included) and
// returns the buffer, for the value to be appended to.
func (w *members) key(key string) []byte {
	if w.some {
		w.dst = append(w.dst, ',')
	} else {
		w.dst = append(w.dst, '{')
		w.some = true
	}
	return append(w.dst, key...)
}

// end closes the object ({} when no member was written).
func (w *members) end() []byte {
	if !w.some {
		return append(w.dst, '{', '}')
	}
	return append(w.dst, '}')
}
