package redisadapter

import "encoding/json"

// SessionView is a stored session record as the tests read it.
type SessionView struct {
	SID, PID string
	Rooms    []string
	Data     json.RawMessage
	Owner    string
	Live     bool
	Start    string
	Nsp      string
}

// ReadSessionForTest decodes a session record as TakeSession does.
func ReadSessionForTest(val string) (SessionView, error) {
	r, err := decodeRecord(val)
	if err != nil {
		return SessionView{}, err
	}
	return SessionView{SID: r.sid, PID: r.pid, Rooms: r.rooms, Data: r.data, Owner: r.owner, Live: r.live, Start: r.start, Nsp: r.nsp}, nil
}

// WriteSessionForTest encodes a session record as a hub node writes it.
func WriteSessionForTest(v SessionView) (string, error) {
	r := &sessionRecord{sid: v.SID, pid: v.PID, rooms: v.Rooms, data: v.Data, owner: v.Owner, live: v.Live, start: v.Start, nsp: v.Nsp}
	return r.encode()
}
