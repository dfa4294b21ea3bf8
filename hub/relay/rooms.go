package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/hubd/hubd/hub"
)

// idCheckTimeout bounds the cluster request that tells whether a room name
// is another node's socket id.
const idCheckTimeout = 5 * time.Second

// join runs hub:join: every room or none.
func (r *namespaceRelay) join(ev *hub.Event) {
	s := ev.Socket()
	req, msg := r.parseRooms(ev.Args, "join")
	if msg != "" {
		Fail(ev, msg)
		return
	}
	rooms := req.names
	n := len(joined(s))
	var added []string
	for _, room := range rooms {
		if !s.In(room) {
			n++
			added = append(added, room)
		}
	}
	if n > r.limits.perSocket {
		Fail(ev, fmt.Sprintf("too many rooms: a socket may be in at most %d", r.limits.perSocket))
		return
	}
	if i, err := socketIDIndex(s, rooms); err != nil {
		r.log.Error("socket id check failed", "namespace", s.Namespace().Name(), "socket", s.ID(), "err", err)
		Fail(ev, req.label(i)+"could not check the room name, try again")
		return
	} else if i >= 0 {
		Fail(ev, req.label(i)+"a socket id cannot be joined")
		return
	}
	if len(rooms) > 0 {
		// One call: the join hook sees every room and refuses them together.
		if err := s.Join(rooms...); err != nil {
			Fail(ev, err.Error())
			return
		}
	}
	r.announce(s, EventJoined, slices.DeleteFunc(added, func(room string) bool { return !s.In(room) }))
	answerRooms(ev)
}

// leave runs hub:leave; leaving a room the socket is not in succeeds.
func (r *namespaceRelay) leave(ev *hub.Event) {
	s := ev.Socket()
	req, msg := r.parseRooms(ev.Args, "leave")
	if msg != "" {
		Fail(ev, msg)
		return
	}
	rooms := req.names
	for i, room := range rooms {
		if room == s.ID() {
			Fail(ev, req.label(i)+"a socket cannot leave its own id room")
			return
		}
	}
	var left []string
	for _, room := range rooms {
		if s.In(room) {
			left = append(left, room)
		}
	}
	if len(rooms) > 0 {
		_ = s.Leave(rooms...)
	}
	r.announce(s, EventLeft, slices.DeleteFunc(left, s.In))
	answerRooms(ev)
}

// answerRooms acks {ok: true, rooms: [...]}.
func answerRooms(ev *hub.Event) {
	if ev.WantsAck() && !ev.Acked() {
		_ = ev.Ack(membership{OK: true, Rooms: joined(ev.Socket())})
	}
}

// roomRequest is the rooms a command names, without duplicates.
type roomRequest struct {
	names []string
	// index is the position of each name in the client's list; nil when
	// the client gave one name.
	index []int
}

// label prefixes a message about names[i] with its place in the client's
// list.
func (q roomRequest) label(i int) string {
	if q.index == nil {
		return ""
	}
	return fmt.Sprintf("rooms[%d]: ", q.index[i])
}

// parseRooms reads the first argument of a command: a room name or a list
// of them. It returns the rooms, or a message for the client.
func (r *namespaceRelay) parseRooms(args hub.Args, verb string) (roomRequest, string) {
	raw := args.At(0)
	if raw == nil {
		return roomRequest{}, fmt.Sprintf("hub:%s needs a room name or a list of room names", verb)
	}
	switch raw[0] {
	case '"':
		var room string
		if err := json.Unmarshal(raw, &room); err != nil {
			return roomRequest{}, "room name is not a valid string"
		}
		if msg := r.checkName(room); msg != "" {
			return roomRequest{}, msg
		}
		return roomRequest{names: []string{room}}, ""
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return roomRequest{}, "room list is not a valid array"
		}
		if len(list) > r.limits.perCall {
			return roomRequest{}, fmt.Sprintf("too many rooms: at most %d in one call", r.limits.perCall)
		}
		q := roomRequest{names: make([]string, 0, len(list)), index: make([]int, 0, len(list))}
		seen := make(map[string]bool, len(list))
		for i, e := range list {
			var room string
			if len(e) == 0 || e[0] != '"' || json.Unmarshal(e, &room) != nil {
				return roomRequest{}, fmt.Sprintf("rooms[%d]: room name must be a string", i)
			}
			if msg := r.checkName(room); msg != "" {
				return roomRequest{}, fmt.Sprintf("rooms[%d]: %s", i, msg)
			}
			if !seen[room] {
				seen[room] = true
				q.names = append(q.names, room)
				q.index = append(q.index, i)
			}
		}
		return q, ""
	}
	return roomRequest{}, "room must be a string or a list of strings"
}

// checkName returns why room is not an acceptable name, or "".
func (r *namespaceRelay) checkName(room string) string {
	switch {
	case room == "":
		return "room name must not be empty"
	case len(room) > r.limits.room:
		return fmt.Sprintf("room name is longer than %d bytes", r.limits.room)
	}
	return ""
}

// socketIDIndex returns the index of the first of rooms that is the id of
// a socket of s's namespace (s itself or another socket on this node;
// else, with a cluster adapter, a socket on another node), or -1. The
// names only another node could know (those shaped like an id) are checked
// with one cluster request for all of them, however many there are. On
// error, the index is that of the first name the request was for.
func socketIDIndex(s *hub.Socket, rooms []string) (int, error) {
	nsp := s.Namespace()
	for i, room := range rooms {
		if room == s.ID() || nsp.Socket(room) != nil {
			return i, nil
		}
	}
	if _, single := nsp.Adapter().(*hub.MemoryAdapter); single {
		return -1, nil
	}
	var ask []string
	first := -1
	for i, room := range rooms {
		if idShaped(room) {
			if first < 0 {
				first = i
			}
			ask = append(ask, room)
		}
	}
	if len(ask) == 0 {
		return -1, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), idCheckTimeout)
	defer cancel()
	found, err := nsp.In(ask...).FetchSockets(ctx)
	if err != nil {
		return first, err
	}
	ids := make(map[string]bool, len(found))
	for _, rs := range found {
		ids[rs.ID] = true
	}
	for i, room := range rooms {
		if ids[room] {
			return i, nil
		}
	}
	return -1, nil
}

// idShaped reports whether name could be a socket id: 20 characters of
// URL-safe base64.
func idShaped(name string) bool {
	if len(name) != 20 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
