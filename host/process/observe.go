package process

import (
	"context"
	"time"

	"github.com/hubd/hubd/host"
	pb "github.com/hubd/hubd/sdk/proto/hubd/v1"
)

// observer sends the calls of observed hooks over one Observe stream, in
// batches of what has queued up while the previous batch was sent.
type observer struct {
	p     *plugin
	rpc   pb.PluginClient
	queue chan *pb.Envelope
	ctx   context.Context // canceled when stop gives up waiting
	end   context.CancelFunc
	quit  chan struct{}
	done  chan struct{}
}

// maxBatch bounds the envelopes of one stream message.
const maxBatch = 64

func newObserver(p *plugin, rpc pb.PluginClient) *observer {
	o := &observer{
		p:     p,
		rpc:   rpc,
		queue: make(chan *pb.Envelope, p.cfg.ObserveQueue),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	o.ctx, o.end = context.WithCancel(context.Background())
	go o.run()
	return o
}

// enqueue copies env for sending; it never waits.
func (o *observer) enqueue(env *host.Envelope) {
	in := &pb.Envelope{EnvelopeJson: env.AppendJSON(nil), Attachments: env.Attachments, Hook: string(env.Hook)}
	select {
	case o.queue <- in:
	default:
		if n := o.p.dropped.Add(1); n&(n-1) == 0 { // log at 1, 2, 4, 8...
			o.p.log.Warn("process plugin observes too slowly; calls dropped", "dropped", n)
		}
	}
}

func (o *observer) run() {
	defer close(o.done)
	var stream interface {
		Send(*pb.Batch) error
		CloseAndRecv() (*pb.Empty, error)
	}
	batch := &pb.Batch{}
	send := func() {
		if len(batch.Envelopes) == 0 {
			return
		}
		var err error
		if stream == nil {
			stream, err = o.rpc.Observe(o.ctx)
		}
		if err == nil {
			err = stream.Send(batch)
		}
		if err != nil {
			stream = nil
			n := o.p.dropped.Add(uint64(len(batch.Envelopes)))
			o.p.log.Warn("process plugin: observed calls lost", "err", err, "dropped", n)
		}
		batch = &pb.Batch{}
	}
	for {
		select {
		case in := <-o.queue:
			batch.Envelopes = append(batch.Envelopes, in)
		drain:
			for len(batch.Envelopes) < maxBatch {
				select {
				case in := <-o.queue:
					batch.Envelopes = append(batch.Envelopes, in)
				default:
					break drain
				}
			}
			send()
		case <-o.quit:
		rest:
			for {
				select {
				case in := <-o.queue:
					batch.Envelopes = append(batch.Envelopes, in)
					if len(batch.Envelopes) == maxBatch {
						send()
					}
				default:
					break rest
				}
			}
			send()
			if stream != nil {
				_, _ = stream.CloseAndRecv()
			}
			return
		}
	}
}

// stop sends what is queued and closes the stream, waiting at most a
// second for the process to take it.
func (o *observer) stop() {
	close(o.quit)
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-o.done:
	case <-t.C:
	}
	o.end()
	<-o.done
}
