package jsonstr

import "testing"

// BenchmarkAppend writes the strings of a typical packet: an event name,
// an ASCII argument and one with characters to escape.
func BenchmarkAppend(b *testing.B) {
	inputs := []string{"chat message", "hello, everyone in the room", "line\nwith \"quotes\" and é"}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for _, s := range inputs {
			buf = Append(buf, s)
		}
	}
}
