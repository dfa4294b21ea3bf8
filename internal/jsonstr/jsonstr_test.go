package jsonstr

import (
	"encoding/json"
	"testing"
)

func TestAppend(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"<&>", `"<&>"`},
		{"\n\r\t\b\f\x01", `"\n\r\t\b\f\u0001"`},
		{"é€😀", `"é€😀"`},
		{"bad\xffbyte", `"bad\ufffdbyte"`},
	}
	for _, c := range cases {
		got := string(Append(nil, c.in))
		if got != c.want {
			t.Errorf("Append(%q) = %s, want %s", c.in, got, c.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("Append(%q) is not JSON: %v", c.in, err)
		}
	}
}
