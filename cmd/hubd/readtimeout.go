package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// bodyTimeout bounds the time a client takes to send a request's body, on
// every path, with a read deadline set per request (http.ResponseController)
// rather than http.Server's ReadTimeout: that one would also end WebSocket
// connections and long-polling requests, which wait longer than any body
// should take, and which have no body. The deadline is set when the
// headers have been read and cleared once the body is read to its end.
//
// A body still coming at the deadline is answered 408, whatever the
// handler makes of the read error, and the connection is closed.
func bodyTimeout(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(d)); err != nil {
			next.ServeHTTP(w, r) // a writer without deadlines: a test's
			return
		}
		tw := &timeoutWriter{ResponseWriter: w, limit: d}
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, w: tw}
		next.ServeHTTP(tw, r)
	})
}

// deadlineBody clears the read deadline once the body is read, so that
// the deadline bounds the body only, and tells its writer when it expired.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	w    *timeoutWriter
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !b.done {
		b.done = true
		if errors.Is(err, os.ErrDeadlineExceeded) {
			b.w.timedOut.Store(true)
		} else {
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

// timeoutWriter answers 408 in place of what the handler answers, once the
// body's deadline has expired.
type timeoutWriter struct {
	http.ResponseWriter
	limit    time.Duration
	timedOut atomic.Bool
	wrote    bool // the header is sent
	replaced bool // and it is the 408
}

func (w *timeoutWriter) WriteHeader(code int) {
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational, e.g. 103
		return
	}
	if w.wrote {
		return
	}
	w.wrote = true
	if !w.timedOut.Load() {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.replaced = true
	msg := "request body not received within " + w.limit.String() + ": send it faster, or raise http.read_timeout\n"
	h := w.ResponseWriter.Header()
	for k := range h {
		delete(h, k)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	h.Set("Connection", "close")
	w.ResponseWriter.WriteHeader(http.StatusRequestTimeout)
	_, _ = io.WriteString(w.ResponseWriter, msg)
}

func (w *timeoutWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *timeoutWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
