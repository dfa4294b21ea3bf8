package engine

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hubd/hubd/hub/internal/eio"
)

// serveGet answers a long-polling GET with everything queued, waiting for
// something to be queued if there is nothing yet.
func (c *Conn) serveGet(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.state == stateOpen && c.heartbeatExpiredLocked() {
		c.mu.Unlock()
		c.closeNow(ReasonPingTimeout, nil)
		c.mu.Lock()
	}
	switch {
	case c.state == stateClosed && c.lingerNoop:
		c.lingerNoop = false
		c.mu.Unlock()
		c.srv.remove(c)
		c.writePayload(w, r, []Frame{noopFrame})
		return
	case c.state == stateClosed:
		c.mu.Unlock()
		c.srv.refuse(w, r, codeUnknownSID, "", map[string]any{"sid": c.id})
		return
	case c.poll != nil:
		// Only one GET at a time: refuse this one and end the session,
		// which answers the first with a close packet.
		c.mu.Unlock()
		writeError(w, codeBadRequest, "")
		c.closeNow(ReasonTransportError, nil)
		return
	case c.state == stateClosing && len(c.queue) > 0:
		// Flush first; the close goes in the next GET, as the reference
		// waits for the drain. A client handles a close at once but the
		// packets before it a tick later, so sharing a payload would
		// reorder them.
		frames := c.takeLocked()
		c.mu.Unlock()
		c.writePayload(w, r, frames)
		return
	case c.state == stateClosing:
		c.mu.Unlock()
		c.writePayload(w, r, []Frame{{Data: []byte("1")}})
		c.closeNow(ReasonForcedClose, nil)
		return
	case len(c.queue) > 0:
		frames := c.takeLocked()
		c.mu.Unlock()
		c.writePayload(w, r, frames)
		return
	}
	p := &pollWait{ready: make(chan struct{}, 1)}
	c.poll = p
	if c.upgrading && c.probed {
		// As the reference does, answer a poll parked during an upgrade
		// with a noop a little later, unless the upgrade completes first.
		c.armNoopLocked()
	}
	c.mu.Unlock()

	select {
	case <-p.ready:
	case <-r.Context().Done():
		c.mu.Lock()
		abandoned := c.poll == p
		if abandoned {
			c.poll = nil
		}
		c.mu.Unlock()
		if abandoned {
			// The client gave up its GET: the session is lost.
			c.closeNow(ReasonTransportError, nil)
			return
		}
		<-p.ready
	}
	if p.refused {
		writeError(w, codeBadRequest, "")
		return
	}
	if hook := c.srv.cfg.testPollWoken; hook != nil {
		hook(c)
	}
	c.mu.Lock()
	if c.state == stateClosed && !p.done {
		// Released to carry what was queued, this GET lost the race with
		// the session's end (a ping timeout, say): closing dropped the
		// queue. The reference writes a released poll at once, so it
		// never sees this; it answers a poll that was waiting when the
		// session closed with the close packet (transports/polling.ts,
		// doClose), and so does this one, never with an empty body. A
		// session its client closed still gets its noop (lingerNoop).
		reply := []Frame{{Data: []byte("1")}}
		if c.lingerNoop {
			c.lingerNoop = false
			reply = []Frame{noopFrame}
		}
		c.mu.Unlock()
		c.srv.remove(c)
		c.writePayload(w, r, reply)
		return
	}
	frames := c.takeLocked()
	c.mu.Unlock()
	frames = append(frames, p.reply...)
	c.writePayload(w, r, frames)
	if p.done {
		c.closeNow(ReasonForcedClose, nil)
	}
}

// writePayload answers a GET with frames, compressed when the body is at
// least the configured threshold and the client accepts gzip or deflate,
// as the reference's httpCompression does.
func (c *Conn) writePayload(w http.ResponseWriter, r *http.Request, frames []Frame) {
	n := 0
	for i := range frames {
		n += len(frames[i].Data)*4/3 + 4
	}
	var body []byte
	contentType := "text/plain; charset=UTF-8"
	if c.v3 != nil {
		body, contentType = c.v3.appendPayload(make([]byte, 0, n+8*len(frames)), frames)
	} else {
		body = appendPayload(make([]byte, 0, n), frames)
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	if t := c.srv.cfg.CompressThreshold; t >= 0 && len(body) >= t {
		if enc := acceptedEncoding(r.Header.Get("Accept-Encoding")); enc != "" {
			body = compress(enc, body)
			h.Set("Content-Encoding", enc)
			h.Add("Vary", "Accept-Encoding")
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if c.srv.cfg.Headers != nil {
		c.srv.cfg.Headers(h, r)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// servePost reads a payload, hands every packet to the handler and only
// then answers "ok", so replies are queued before the client polls again.
func (c *Conn) servePost(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.state == stateOpen && c.heartbeatExpiredLocked() {
		c.mu.Unlock()
		c.closeNow(ReasonPingTimeout, nil)
		c.mu.Lock()
	}
	if c.state == stateClosed {
		c.mu.Unlock()
		c.srv.refuse(w, r, codeUnknownSID, "", map[string]any{"sid": c.id})
		return
	}
	if c.posting {
		c.mu.Unlock()
		writeError(w, codeBadRequest, "")
		c.closeNow(ReasonTransportError, nil)
		return
	}
	c.posting = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.posting = false
		c.mu.Unlock()
	}()

	binary := r.Header.Get("Content-Type") == "application/octet-stream"
	if binary && c.v3 == nil {
		// Version 4 polling bodies are always text.
		writeError(w, codeBadRequest, "")
		c.closeNow(ReasonTransportError, nil)
		return
	}
	limit := c.srv.cfg.MaxPayload
	if r.ContentLength > limit {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		c.closeNow(ReasonTransportError, nil)
		return
	}
	if int64(len(body)) > limit {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	c.mu.Lock()
	closed := c.state == stateClosed
	c.mu.Unlock()
	if closed {
		// The session ended while the body was on its way (an overlapping
		// POST, a ping timeout): none of it is delivered.
		writeError(w, codeUnknownSID, "")
		return
	}
	deliver := func(p eio.Packet) error {
		if !c.onPacket(p) {
			return errStop
		}
		return nil
	}
	if c.v3 != nil {
		err = c.v3.decodePayload(body, binary, deliver)
	} else {
		err = eio.DecodePayload(body, deliver)
	}
	if err != nil && err != errStop {
		writeError(w, codeBadRequest, "")
		c.closeNow(ReasonParseError, nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", "2")
	h.Set("Cache-Control", "no-store")
	if c.srv.cfg.Headers != nil {
		c.srv.cfg.Headers(h, r)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
}

// noopDelay is how long a poll parked during an upgrade waits for a noop.
const noopDelay = 100 * time.Millisecond

func (c *Conn) armNoopLocked() {
	if c.noopTimer != nil {
		c.noopTimer.Reset(noopDelay)
		return
	}
	c.noopTimer = time.AfterFunc(noopDelay, func() {
		defer c.recoverPanic()
		c.mu.Lock()
		if c.poll != nil && c.upgrading && len(c.queue) == 0 {
			c.releasePollLocked([]Frame{noopFrame}, false)
		}
		c.mu.Unlock()
	})
}
