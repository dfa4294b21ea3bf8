package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// rampAttempts is how often one connection is tried during a ramp-up before
// it is given up; a loaded 2-core machine occasionally drops a SYN or times
// out a handshake, and one such hiccup should not spoil a run.
const rampAttempts = 3

// ramp opens clients at a bounded pace.
type ramp struct {
	dialer      *Dialer
	others      []*Dialer // more servers: clients go round-robin over dialer and these
	next        atomic.Uint64
	concurrency int    // handshakes in flight at once
	room        string // joined with an ack by every client; "" for none
	// adopt, when set, takes each opened client instead of Start: the
	// caller reads it its own way (fanout's epoll receivers).
	adopt func(i int, c *Client)
}

// rampResult is what a ramp-up produced.
type rampResult struct {
	clients []*Client
	elapsed time.Duration
	errors  errorTally
}

// open connects n clients, each joining r.room when set, with at most
// r.concurrency handshakes in flight. Each client is then started with the
// handler returned by handler(i) for its index i among the connected
// clients, or handed to r.adopt with that index when it is set. Clients
// that fail rampAttempts times are left out; their errors are tallied.
func (r *ramp) open(ctx context.Context, n int, handler func(i int) Handler) *rampResult {
	res := &rampResult{}
	start := time.Now()
	var mu sync.Mutex
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range min(r.concurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				c := r.openOne(ctx, &res.errors)
				if c == nil {
					continue
				}
				mu.Lock()
				i := len(res.clients)
				res.clients = append(res.clients, c)
				mu.Unlock()
				if r.adopt != nil {
					r.adopt(i, c)
				} else {
					c.Start(handler(i))
				}
			}
		}()
	}
feed:
	for range n {
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// openOne dials one client and joins the room, retrying a few times.
func (r *ramp) openOne(ctx context.Context, errs *errorTally) *Client {
	for attempt := range rampAttempts {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			case <-ctx.Done():
				return nil
			}
		}
		c, err := r.pick().Dial(ctx)
		if err == nil && r.room != "" {
			if err = c.Join(r.room); err != nil {
				c.Close()
			}
		}
		if err == nil {
			return c
		}
		errs.Add(err)
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

// pick returns the dialer for the next client.
func (r *ramp) pick() *Dialer {
	if len(r.others) == 0 {
		return r.dialer
	}
	if k := int((r.next.Add(1) - 1) % uint64(len(r.others)+1)); k > 0 {
		return r.others[k-1]
	}
	return r.dialer
}

// closeAll closes every client concurrently (closing thousands one by one
// is slow) and returns how many had been dropped by the server before.
func closeAll(clients []*Client) (dropped int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	const workers = 64
	next := make(chan *Client)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				c.Close()
				if c.Dropped() {
					mu.Lock()
					dropped++
					mu.Unlock()
				}
			}
		}()
	}
	for _, c := range clients {
		next <- c
	}
	close(next)
	wg.Wait()
	return dropped
}
