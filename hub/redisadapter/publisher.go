package redisadapter

import (
	"context"
	"time"
)

// publishBatches is the loop of a publisher goroutine (the Cluster's
// PUBLISHes, the Streams' XADDs): it hands what queue receives to write,
// in order, in batches of at most size, each batch what had queued up
// when the last one was written. When stop closes, it hands what is still
// queued (maybe nothing) to flush and returns.
func publishBatches[T any](queue <-chan T, stop <-chan struct{}, size int, write, flush func([]T)) {
	batch := make([]T, 0, size)
	for {
		select {
		case m := <-queue:
			batch = append(batch[:0], m)
		case <-stop:
			flush(appendQueued(batch[:0], queue, -1))
			return
		}
		batch = appendQueued(batch, queue, cap(batch))
		write(batch)
		clear(batch) // let the messages go
	}
}

// appendQueued appends to batch what queue holds, without waiting, until
// batch has max messages (no bound when max is negative).
func appendQueued[T any](batch []T, queue <-chan T, max int) []T {
	for max < 0 || len(batch) < max {
		select {
		case m := <-queue:
			batch = append(batch, m)
		default:
			return batch
		}
	}
	return batch
}

// awaitRedis calls ping every 250ms until it succeeds (true) or stop
// closes (false); what queue receives meanwhile goes to drop.
func awaitRedis[T any](ctx context.Context, ping func(context.Context) error, queue <-chan T, stop <-chan struct{}, drop func(T)) bool {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return false
		case m := <-queue:
			drop(m)
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			err := ping(pctx)
			cancel()
			if err == nil {
				return true
			}
		}
	}
}
