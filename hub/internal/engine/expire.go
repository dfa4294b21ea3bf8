package engine

// Expire ends a session its peer gave up on (the hub's connect timeout).
// A WebSocket session closes as with Close. A polling session ends at
// once: Close would wait up to 30 seconds for a poll to carry the close
// packet, and a peer that never polls keeps the session, and its POSTs
// answered, all that time. A pending poll gets the close packet; a later
// request on the session id is refused as unknown.
func (c *Conn) Expire() {
	c.mu.Lock()
	ws := c.ws != nil
	c.mu.Unlock()
	if ws {
		c.Close()
		return
	}
	c.closeNow(ReasonForcedClose, nil)
}
