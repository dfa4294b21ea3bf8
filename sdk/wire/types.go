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
func (e *Envelope) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"v":`...)
	dst = appendInt(dst, Version)
	dst = append(dst, `,"hook":`...)
	dst = AppendString(dst, string(e.Hook))
	dst = append(dst, `,"ns":`...)
	dst = AppendString(dst, e.Namespace)
	dst = append(dst, `,"socket":{"id":`...)
	dst = AppendString(dst, e.Socket.ID)
	dst = append(dst, `,"rooms":`...)
	dst = AppendStrings(dst, e.Socket.Rooms)
	if len(e.Socket.Data) > 0 {
		dst = append(dst, `,"data":`...)
		dst = append(dst, e.Socket.Data...)
	}
	dst = append(dst, '}')
	if h := e.Handshake; h != nil {
		dst = append(dst, `,"handshake":{"auth":`...)
		if len(h.Auth) > 0 {
			dst = append(dst, h.Auth...)
		} else {
			dst = append(dst, "{}"...)
		}
		dst = append(dst, `,"query":`...)
		dst = appendMap(dst, h.Query)
		dst = append(dst, `,"headers":`...)
		dst = appendMap(dst, h.Headers)
		dst = append(dst, `,"address":`...)
		dst = AppendString(dst, h.Address)
		dst = append(dst, '}')
	}
	if e.Recovered {
		dst = append(dst, `,"recovered":true`...)
	}
	if e.Event != "" {
		dst = append(dst, `,"event":`...)
		dst = AppendString(dst, e.Event)
	}
	if len(e.Args) > 0 {
		dst = append(dst, `,"args":`...)
		dst = append(dst, e.Args...)
	}
	if e.Ack {
		dst = append(dst, `,"ack":true`...)
	}
	if e.Rooms != nil {
		dst = append(dst, `,"rooms":`...)
		dst = AppendStrings(dst, e.Rooms)
	}
	if e.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = AppendString(dst, e.Reason)
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
