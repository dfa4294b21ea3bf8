package redisadapter

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
)

// streamID is a Redis stream entry id, <milliseconds>-<sequence>: the
// offset a broadcast of the streams flavour carries to its clients.
type streamID struct{ ms, seq uint64 }

// parseStreamID reads an entry id as Node checks an offset
// (/^[0-9]+-[0-9]+$/), refusing numbers past 64 bits.
func parseStreamID(s string) (streamID, bool) {
	msPart, seqPart, ok := strings.Cut(s, "-")
	if !ok || !allDigits(msPart) || !allDigits(seqPart) {
		return streamID{}, false
	}
	ms, err1 := strconv.ParseUint(msPart, 10, 64)
	seq, err2 := strconv.ParseUint(seqPart, 10, 64)
	if err1 != nil || err2 != nil {
		return streamID{}, false
	}
	return streamID{ms, seq}, true
}

func allDigits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (id streamID) String() string {
	b := strconv.AppendUint(make([]byte, 0, 32), id.ms, 10)
	b = append(b, '-')
	return string(strconv.AppendUint(b, id.seq, 10))
}

// next is the smallest id after id, the start of an exclusive range (as
// Node's nextOffset, which also serves Redis before 6.2).
func (id streamID) next() streamID {
	if id.seq == math.MaxUint64 {
		return streamID{id.ms + 1, 0}
	}
	return streamID{id.ms, id.seq + 1}
}

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || id.ms == o.ms && id.seq < o.seq
}

// javaHash is the Node adapter's hashCode: Java's String.hashCode over
// the UTF-16 code units of s, in 32-bit arithmetic.
func javaHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r1, r2 := utf16.EncodeRune(r); r1 != '\uFFFD' || r2 != '\uFFFD' {
			h = h*31 + r1
			h = h*31 + r2
			continue
		}
		h = h*31 + r
	}
	return h
}

// streamOf names the stream of namespace nsp, as Node's computeStreamName:
// with several streams, <name>-<hash % count>, where the remainder keeps
// the hash's sign (a namespace whose hash is negative gets a stream such
// as socket.io--2, which Node's readers never read; it is still where
// Node writes, so hub nodes use it too).
func streamOf(name string, count int, nsp string) string {
	if count <= 1 {
		return name
	}
	return name + "-" + strconv.Itoa(int(javaHash(nsp)%int32(count)))
}
