package engine

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAcceptedEncoding(t *testing.T) {
	for header, want := range map[string]string{
		"":                         "",
		"gzip":                     "gzip",
		"gzip, deflate, br":        "gzip",
		"deflate":                  "deflate",
		"br, deflate;q=0.5":        "deflate",
		"gzip;q=0, deflate":        "deflate",
		"gzip;q=0":                 "",
		"identity":                 "",
		"*":                        "gzip",
		" GZIP ; q=0.8 , identity": "gzip",
	} {
		if got := acceptedEncoding(header); got != want {
			t.Errorf("acceptedEncoding(%q) = %q, want %q", header, got, want)
		}
	}
}

// TestPollingCompression: a long-polling response of at least the
// threshold is compressed with what the client accepts, as the
// reference's httpCompression does; smaller ones, and any with the
// threshold negative, are not.
func TestPollingCompression(t *testing.T) {
	t.Parallel()
	big := "4" + strings.Repeat("compressible ", 200)
	for _, tc := range []struct {
		name, accept, want string
		threshold          int
		payload            string
	}{
		{"gzip", "gzip, deflate", "gzip", 0, big},
		{"deflate", "deflate", "deflate", 0, big},
		{"not accepted", "identity", "", 0, big},
		{"under the threshold", "gzip", "", 0, "4small"},
		{"turned off", "gzip", "", -1, big},
		{"lower threshold", "gzip", "gzip", 10, "4small but over ten"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{CompressThreshold: tc.threshold})
			sid, _ := e.openPolling()
			e.conn(sid).Send([]Frame{{Data: []byte(tc.payload)}}, false)
			req, _ := http.NewRequest("GET", e.base+"?EIO=4&transport=polling&sid="+sid, nil)
			req.Header.Set("Accept-Encoding", tc.accept) // set by hand: the client does not undo it
			r := e.do(req)
			if r.status != 200 {
				t.Fatalf("GET: %d %q", r.status, r.body)
			}
			if got := r.header.Get("Content-Encoding"); got != tc.want {
				t.Fatalf("Content-Encoding %q, want %q", got, tc.want)
			}
			body := []byte(r.body)
			switch tc.want {
			case "gzip":
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				body, _ = io.ReadAll(zr)
			case "deflate":
				zr, err := zlib.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				body, _ = io.ReadAll(zr)
			}
			if string(body) != tc.payload {
				t.Errorf("body %.40q (%d bytes), want the payload (%d bytes)", body, len(body), len(tc.payload))
			}
			if tc.want != "" && tc.payload == big && len(r.body) >= len(tc.payload)/4 {
				t.Errorf("compressed to %d bytes from %d", len(r.body), len(tc.payload))
			}
		})
	}
}
