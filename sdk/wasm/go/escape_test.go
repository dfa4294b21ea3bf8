package hubd

import (
	"strings"
	"testing"
	"unicode"

	"github.com/hubd/hubd/internal/jsonstr"
)

// TestStringsEscapedAsTheHost: the guest writes JSON strings byte for byte
// as the host writes its envelopes, mapped strings included (as the host
// would write the mapped string).
func TestStringsEscapedAsTheHost(t *testing.T) {
	inputs := []string{
		"", "plain", "quote \" backslash \\", "\b\f\n\r\t\x00\x1f\x7f",
		"invalid \xff\xfe utf-8", "truncated \xe2\x82", "é ü 日本 🎉", "\u2028\u2029", "\ufffd",
	}
	for _, s := range inputs {
		want := string(jsonstr.Append(nil, s))
		if got := string(String(s)); got != want {
			t.Errorf("String(%q) = %s, the host writes %s", s, got, want)
		}
		for _, upper := range []bool{false, true} {
			mapping := unicode.ToLower
			if upper {
				mapping = unicode.ToUpper
			}
			want := string(jsonstr.Append(nil, strings.Map(mapping, s)))
			if got := string(appendMapped(nil, s, upper, mapping)); got != want {
				t.Errorf("appendMapped(%q, upper %v) = %s, the host writes %s", s, upper, got, want)
			}
		}
	}
}
