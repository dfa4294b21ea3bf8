package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// confirmations are the subscriptions the Cluster waits for Redis to
// confirm, keyed by kind ("subscribe", "psubscribe", "ssubscribe") and
// channel.
type confirmations struct {
	mu      sync.Mutex
	waiting map[string][]chan struct{}
}

func confirmKey(kind, channel string) string { return kind + " " + channel }

// expect registers a wait for each channel's confirmation, before the
// subscribe is sent, so that no confirmation is missed.
func (w *confirmations) expect(kind string, channels []string) []chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting == nil {
		w.waiting = make(map[string][]chan struct{})
	}
	out := make([]chan struct{}, len(channels))
	for i, ch := range channels {
		done := make(chan struct{})
		k := confirmKey(kind, ch)
		w.waiting[k] = append(w.waiting[k], done)
		out[i] = done
	}
	return out
}

// confirm ends the waits for a subscription Redis confirmed.
func (w *confirmations) confirm(m *redis.Subscription) {
	k := confirmKey(m.Kind, m.Channel)
	w.mu.Lock()
	list := w.waiting[k]
	delete(w.waiting, k)
	w.mu.Unlock()
	for _, done := range list {
		close(done)
	}
}

// forget drops waits that will not be waited for any more.
func (w *confirmations) forget(kind string, channels []string, dones []chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, ch := range channels {
		k := confirmKey(kind, ch)
		list := w.waiting[k]
		for j, d := range list {
			if d == dones[i] {
				list = append(list[:j], list[j+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(w.waiting, k)
		} else {
			w.waiting[k] = list
		}
	}
}

// subscribeGroup is one call's subscriptions of one kind.
type subscribeGroup struct {
	kind     string
	channels []string
}

// subscribe sends the subscriptions of a namespace's adapter on the
// Cluster's subscriber connection and waits until Redis has confirmed
// every one, within Options.RequestsTimeout: until then the adapter would
// miss what the other nodes send it. An error leaves go-redis remembering
// the channels (it subscribes again on reconnect): the caller unsubscribes.
func (c *Cluster) subscribe(groups ...subscribeGroup) error {
	dones := make([][]chan struct{}, len(groups))
	for i, g := range groups {
		dones[i] = c.confirms.expect(g.kind, g.channels)
	}
	defer func() {
		for i, g := range groups {
			c.confirms.forget(g.kind, g.channels, dones[i])
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.RequestsTimeout)
	defer cancel()
	for _, g := range groups {
		var err error
		switch g.kind {
		case "psubscribe":
			err = c.ps.PSubscribe(ctx, g.channels...)
		case "ssubscribe":
			err = c.ps.SSubscribe(ctx, g.channels...)
		default:
			err = c.ps.Subscribe(ctx, g.channels...)
		}
		if c.startReceiver != nil {
			// go-redis knows a channel now: it connects where that
			// channel lives (see New).
			c.startReceiver()
		}
		if err != nil {
			return fmt.Errorf("redisadapter: subscribing: %w", err)
		}
	}
	for i, g := range groups {
		for j, done := range dones[i] {
			select {
			case <-done:
			case <-c.stop:
				return ErrClosed
			case <-ctx.Done():
				err := ctx.Err()
				if errors.Is(err, context.DeadlineExceeded) {
					err = fmt.Errorf("no confirmation within %v: %w", c.opts.RequestsTimeout, ErrUnavailable)
				}
				return fmt.Errorf("redisadapter: subscribing to %s: %w", g.channels[j], err)
			}
		}
	}
	return nil
}
