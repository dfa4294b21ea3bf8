package natsadapter

import "unicode/utf8"

// Subject is the subject of namespace nsp under prefix.
func Subject(prefix, nsp string) string {
	return (&Cluster{opts: Options{SubjectPrefix: prefix}}).subject(nsp)
}

// EncodeBroadcast is the message of a broadcast from node uid to rooms:
// event with the arguments array, taken as it is, and attachments.
func EncodeBroadcast(uid string, rooms []string, event, array string, atts ...[]byte) []byte {
	w := newMessage(msgBroadcast, uid)
	w.strs(rooms)
	w.strs(nil)
	w.b = append(w.b, 0)
	w.str(event)
	w.str(array)
	w.uint(uint64(len(atts)))
	for _, b := range atts {
		w.bytes(b)
	}
	return w.b
}

// EncodeJoin is the message of node uid making the sockets of rooms join
// join.
func EncodeJoin(uid string, rooms []string, join string) []byte {
	w := newMessage(msgJoin, uid)
	w.strs(rooms)
	w.strs(nil)
	w.b = append(w.b, 0)
	w.strs([]string{join})
	return w.b
}

// EncodeHeartbeat is a heartbeat of node uid.
func EncodeHeartbeat(uid string) []byte { return newMessage(msgHeartbeat, uid).b }

// validString reports whether s is valid UTF-8 (for the fuzz test).
func validString(s string) bool { return utf8.ValidString(s) }
