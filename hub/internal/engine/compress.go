package engine

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"strconv"
	"strings"
	"sync"
)

// acceptedEncoding picks gzip, else deflate, from an Accept-Encoding
// header ("" when the client takes neither). A q of 0 refuses a coding.
func acceptedEncoding(header string) string {
	gz, deflate := false, false
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
				continue
			}
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "gzip", "*":
			gz = true
		case "deflate":
			deflate = true
		}
	}
	switch {
	case gz:
		return "gzip"
	case deflate:
		return "deflate"
	}
	return ""
}

var (
	gzipWriters = sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
		return w
	}}
	zlibWriters = sync.Pool{New: func() any {
		w, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed)
		return w
	}}
)

// compress returns body compressed with enc ("gzip" or "deflate", which in
// HTTP is the zlib format).
func compress(enc string, body []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(body)/2 + 64)
	if enc == "gzip" {
		w := gzipWriters.Get().(*gzip.Writer)
		w.Reset(&out)
		_, _ = w.Write(body)
		_ = w.Close()
		gzipWriters.Put(w)
	} else {
		w := zlibWriters.Get().(*zlib.Writer)
		w.Reset(&out)
		_, _ = w.Write(body)
		_ = w.Close()
		zlibWriters.Put(w)
	}
	return out.Bytes()
}
