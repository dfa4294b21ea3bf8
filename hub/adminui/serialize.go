package adminui

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/hubd/hubd/hub"
)

// socketJSON is a socket as the UI lists it (the Node package's
// SerializedSocket).
type socketJSON struct {
	ID        string          `json:"id"`
	ClientID  string          `json:"clientId,omitempty"`
	Transport string          `json:"transport,omitempty"`
	Nsp       string          `json:"nsp"`
	Data      json.RawMessage `json:"data"`
	Handshake json.RawMessage `json:"handshake"`
	Rooms     []string        `json:"rooms"`
}

// clientIDLength is how much of a connection's id the UI is shown, as in
// Node: enough to tell connections apart, not enough to act as one.
const clientIDLength = 12

func (a *Admin) serializeLocal(s *hub.Socket) socketJSON {
	cid := s.ClientID()
	if len(cid) > clientIDLength {
		cid = cid[:clientIDLength]
	}
	data, err := json.Marshal(s.Data())
	if err != nil || bytes.Equal(data, []byte("null")) {
		data = []byte("{}")
	}
	return socketJSON{
		ID:        s.ID(),
		ClientID:  cid,
		Transport: s.Transport(),
		Nsp:       s.Namespace().Name(),
		Data:      data,
		Handshake: handshakeJSON(s.Handshake()),
		Rooms:     s.Rooms(),
	}
}

// serializeRemote describes a socket FetchSockets found. A Node server's
// socket carries the connection's id and transport in its data's _admin,
// which the UI is given apart, as Node's instrument does.
func (a *Admin) serializeRemote(nsp *hub.Namespace, r *hub.RemoteSocket) socketJSON {
	if s := nsp.Socket(r.ID); s != nil {
		return a.serializeLocal(s)
	}
	out := socketJSON{ID: r.ID, Nsp: nsp.Name(), Data: r.Data, Handshake: handshakeJSON(r.Handshake), Rooms: r.Rooms}
	if out.Rooms == nil {
		out.Rooms = []string{}
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(r.Data, &fields) != nil || fields == nil {
		if len(out.Data) == 0 {
			out.Data = json.RawMessage("{}")
		}
		return out
	}
	if raw, ok := fields["_admin"]; ok {
		var admin struct {
			ClientID  string `json:"clientId"`
			Transport string `json:"transport"`
		}
		_ = json.Unmarshal(raw, &admin)
		out.ClientID, out.Transport = admin.ClientID, admin.Transport
		delete(fields, "_admin")
		out.Data, _ = json.Marshal(fields)
	}
	if out.ClientID == "" {
		// Another hub node's socket: its connection's id does not
		// travel. Shown as a client of its own.
		out.ClientID = r.ID[:min(len(r.ID), clientIDLength)]
	}
	return out
}

// adminData adds to a socket's data, as other nodes fetch it, the
// "_admin" field Node's instrument() keeps in socket.data: the
// connection's id (its first 12 characters) and transport, which a UI on
// another node, hub or Node, shows.
func adminData(s *hub.Socket, data json.RawMessage) json.RawMessage {
	cid := s.ClientID()
	return withAdmin(data, cid[:min(len(cid), clientIDLength)], s.Transport())
}

// withAdmin returns the JSON object data with "_admin" added last (so
// that it wins over a field of the application's of that name, for a
// reader that keeps the last); data that is not an object is returned as
// it is.
func withAdmin(data json.RawMessage, clientID, transport string) json.RawMessage {
	body := bytes.TrimSpace(data)
	if len(body) < 2 || body[0] != '{' || body[len(body)-1] != '}' {
		return data // not an object: nowhere to put it
	}
	admin, err := json.Marshal(map[string]string{"clientId": clientID, "transport": transport})
	if err != nil {
		return data
	}
	members := bytes.TrimSpace(body[1 : len(body)-1])
	out := make([]byte, 0, len(body)+len(admin)+12)
	out = append(out, '{')
	if len(members) > 0 {
		out = append(out, members...)
		out = append(out, ',')
	}
	out = append(out, `"_admin":`...)
	out = append(out, admin...)
	return append(out, '}')
}

// handshakeJSON is the handshake as the UI shows it: the reference's
// shape, the address as a proxy reports it, and without the auth payload
// (which holds the UIs' own passwords).
func handshakeJSON(h hub.Handshake) json.RawMessage {
	b, err := json.Marshal(h)
	if err != nil {
		return json.RawMessage("{}")
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(b, &fields) != nil {
		return json.RawMessage("{}")
	}
	delete(fields, "auth")
	addr := h.Address
	if v := h.Headers.Get("Cf-Connecting-Ip"); v != "" {
		addr = v
	} else if v := h.Headers.Get("X-Forwarded-For"); v != "" {
		addr = v
	}
	fields["address"], _ = json.Marshal(addr)
	out, _ := json.Marshal(fields)
	return out
}

// allSockets lists the sockets of every namespace this node has, on every
// node, as the Node package's fetchAllSockets.
func (a *Admin) allSockets(ctx context.Context) []socketJSON {
	out := []socketJSON{}
	for _, n := range a.srv.Namespaces() {
		remote, err := n.FetchSockets(ctx)
		if err != nil {
			a.srv.Options().Logger.Warn("adminui: the sockets of some nodes could not be listed", "namespace", n.Name(), "err", err)
		}
		for _, r := range remote {
			out = append(out, a.serializeRemote(n, r))
		}
	}
	return out
}

// now is a timestamp as the UI takes it: a JavaScript Date in JSON.
func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// emit sends an event to every UI, on every node.
func (a *Admin) emit(event string, args ...any) {
	if err := a.nsp.Emit(event, args...); err != nil {
		a.srv.Options().Logger.Debug("adminui: an update could not be sent", "event", event, "err", err)
	}
}

// emitEvent reports an event a socket received or was sent: the
// arguments (binary ones included) go on as they are, after the name,
// without being decoded.
func (a *Admin) emitEvent(kind, nsp, id, name string, args hub.Args) {
	raw, err := hub.RawArgs(eventJSON(nsp, id, name, args.JSON(), now()), args.Attachments())
	if err != nil {
		return
	}
	if err := a.nsp.Except().EmitArgs(kind, raw); err != nil {
		a.srv.Options().Logger.Debug("adminui: an update could not be sent", "event", kind, "err", err)
	}
}

// eventJSON is [nsp, id, [name, ...args], date], args being a JSON array.
func eventJSON(nsp, id, name string, args json.RawMessage, date string) []byte {
	var b bytes.Buffer
	b.Grow(len(nsp) + len(id) + len(name) + len(args) + len(date) + 16)
	b.WriteByte('[')
	writeString(&b, nsp)
	b.WriteByte(',')
	writeString(&b, id)
	b.WriteString(",[")
	writeString(&b, name)
	if inner := bytes.TrimSpace(args); len(inner) > 2 {
		if rest := bytes.TrimSpace(inner[1 : len(inner)-1]); len(rest) > 0 {
			b.WriteByte(',')
			b.Write(rest)
		}
	}
	b.WriteString("],")
	writeString(&b, date)
	b.WriteByte(']')
	return b.Bytes()
}

func writeString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s)
	b.Write(q)
}
