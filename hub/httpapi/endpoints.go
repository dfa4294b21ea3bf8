package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/sio"
	"github.com/hubd/hubd/hub/relay"
)

// emitRequest is the body of POST emit.
type emitRequest struct {
	Namespace string          `json:"namespace"`
	Rooms     json.RawMessage `json:"rooms"`
	Except    json.RawMessage `json:"except"`
	Event     *string         `json:"event"`
	Args      json.RawMessage `json:"args"`
}

type okBody struct {
	OK bool `json:"ok"`
}

var answerOK = okBody{OK: true}

// emit publishes an event to rooms of a namespace, or to all of it.
func (h *Handler) emit(w http.ResponseWriter, r *http.Request) {
	var req emitRequest
	if !h.decode(w, r, &req) {
		return
	}
	rooms, err := stringList("rooms", req.Rooms)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	except, err := stringList("except", req.Except)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Event == nil || *req.Event == "" {
		writeError(w, http.StatusBadRequest, `missing event: give the event's name in "event"`)
		return
	}
	event := *req.Event
	if sio.Reserved(event) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("event %q is reserved by Socket.IO", event))
		return
	}
	if strings.HasPrefix(event, relay.CommandPrefix) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("event %q is reserved: the %q prefix belongs to hubd's commands", event, relay.CommandPrefix))
		return
	}
	var args hub.Args
	if raw := trimJSON(req.Args); len(raw) > 0 && string(raw) != "null" {
		if args, err = hub.RawArgs(raw, nil); errors.Is(err, hub.ErrInvalidUTF8) {
			writeError(w, http.StatusBadRequest, "args are not valid UTF-8: encode text as UTF-8, and binary data as text (base64, say)")
			return
		} else if err != nil {
			writeError(w, http.StatusBadRequest, "args must be a JSON array (without binary placeholders)")
			return
		}
	}
	nsp := h.namespace(w, req.Namespace)
	if nsp == nil {
		return
	}
	if err := nsp.To(rooms...).Except(except...).EmitArgs(event, args); err != nil {
		if errors.Is(err, hub.ErrUnavailable) {
			writeError(w, http.StatusServiceUnavailable, "delivered to this node's clients only; the other nodes cannot be reached: "+err.Error())
			return
		}
		answerCluster(w, err)
		return
	}
	writeJSON(w, http.StatusOK, answerOK)
}

// stringList reads a field that takes a string or a list of strings;
// absent and null are an empty list.
func stringList(field string, raw json.RawMessage) ([]string, error) {
	raw = trimJSON(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	bad := fmt.Errorf("%s must be a string or a list of strings", field)
	var list []string
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, bad
		}
		list = []string{s}
	case '[':
		if json.Unmarshal(raw, &list) != nil {
			return nil, bad
		}
	default:
		return nil, bad
	}
	for i, s := range list {
		if s == "" {
			return nil, fmt.Errorf("%s[%d] is empty: room names and socket ids are never empty", field, i)
		}
	}
	return list, nil
}

func trimJSON(raw json.RawMessage) json.RawMessage {
	return json.RawMessage(strings.TrimSpace(string(raw)))
}

// rooms lists the rooms with at least one socket, sockets' own id rooms
// left out.
func (h *Handler) rooms(w http.ResponseWriter, r *http.Request) {
	nsp := h.namespace(w, r.URL.Query().Get("namespace"))
	if nsp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	sockets, err := nsp.FetchSockets(ctx)
	if err != nil {
		answerCluster(w, err)
		return
	}
	ids := make(map[string]bool, len(sockets))
	for _, s := range sockets {
		ids[s.ID] = true
	}
	set := make(map[string]bool)
	for _, s := range sockets {
		for _, room := range s.Rooms {
			if !ids[room] {
				set[room] = true
			}
		}
	}
	list := make([]string, 0, len(set))
	for room := range set {
		list = append(list, room)
	}
	slices.Sort(list)
	writeJSON(w, http.StatusOK, struct {
		OK        bool     `json:"ok"`
		Namespace string   `json:"namespace"`
		Rooms     []string `json:"rooms"`
	}{true, nsp.Name(), list})
}

// Socket is how the sockets endpoint describes a socket.
type Socket struct {
	// ID is the socket's id.
	ID string `json:"id"`
	// Rooms are the rooms it is in, without its own id room, sorted.
	Rooms []string `json:"rooms"`
	// Data is what the server attached to it (hub.Socket.SetData, or a
	// plugin's connect decision), null when nothing.
	Data json.RawMessage `json:"data"`
}

// sockets lists the sockets of a namespace, or of some of its rooms.
func (h *Handler) sockets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	nsp := h.namespace(w, q.Get("namespace"))
	if nsp == nil {
		return
	}
	rooms := q["room"]
	for _, room := range rooms {
		if room == "" {
			writeError(w, http.StatusBadRequest, "room is empty: give a room name or leave the parameter out")
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	found, err := nsp.In(rooms...).FetchSockets(ctx)
	if err != nil {
		answerCluster(w, err)
		return
	}
	list := make([]Socket, 0, len(found))
	for _, s := range found {
		own := slices.DeleteFunc(slices.Clone(s.Rooms), func(room string) bool { return room == s.ID })
		slices.Sort(own)
		data := s.Data
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		list = append(list, Socket{ID: s.ID, Rooms: own, Data: data})
	}
	slices.SortFunc(list, func(a, b Socket) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, struct {
		OK        bool     `json:"ok"`
		Namespace string   `json:"namespace"`
		Sockets   []Socket `json:"sockets"`
	}{true, nsp.Name(), list})
}

// disconnectRequest is the body of POST disconnect.
type disconnectRequest struct {
	Namespace string `json:"namespace"`
	ID        string `json:"id"`
	Close     bool   `json:"close"`
}

// disconnect disconnects one socket, on whichever node it is.
func (h *Handler) disconnect(w http.ResponseWriter, r *http.Request) {
	var req disconnectRequest
	if !h.decode(w, r, &req) {
		return
	}
	if req.ID == "" {
		writeError(w, http.StatusBadRequest, `missing id: give the socket's id in "id"`)
		return
	}
	nsp := h.namespace(w, req.Namespace)
	if nsp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	found, err := nsp.In(req.ID).FetchSockets(ctx)
	if err != nil {
		answerCluster(w, err)
		return
	}
	if !slices.ContainsFunc(found, func(s *hub.RemoteSocket) bool { return s.ID == req.ID }) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no socket %q in namespace %q", req.ID, nsp.Name()))
		return
	}
	if err := nsp.In(req.ID).DisconnectSockets(req.Close); err != nil {
		answerCluster(w, err)
		return
	}
	writeJSON(w, http.StatusOK, answerOK)
}

// traceID returns the socket id of a path sockets/{id}/trace (relative to
// the prefix).
func traceID(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "sockets/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/trace")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

// trace answers the decision trace of socket id, as Config.Trace gives it.
func (h *Handler) trace(w http.ResponseWriter, id string) {
	if h.cfg.Trace == nil {
		writeError(w, http.StatusNotFound, "decision traces are not served here: the server gives the API no trace provider (Config.Trace)")
		return
	}
	trace, ok := h.cfg.Trace(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no trace of socket %q: it is unknown, made no decision a plugin took part in, or closed too long ago", id))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		OK     bool   `json:"ok"`
		Socket string `json:"socket"`
		Trace  any    `json:"trace"`
	}{true, id, trace})
}
