package jsonstr

import (
	"strings"
	"testing"
)

func BenchmarkSkipString(b *testing.B) {
	for _, tc := range []struct{ name, s string }{
		{"key", `"t"`},
		{"100B", `"` + strings.Repeat("x", 100) + `"`},
		{"64KiB", `"` + strings.Repeat("x", 64<<10) + `"`},
		{"escaped-1KiB", `"` + strings.Repeat(`x\"`, 340) + `"`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := []byte(tc.s)
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				if e, _ := SkipString(s, 0); e != len(s) {
					b.Fatal(e)
				}
			}
		})
	}
}
