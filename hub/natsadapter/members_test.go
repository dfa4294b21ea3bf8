package natsadapter_test

import (
	"testing"
	"time"

	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/natsadapter"
)

// A node that stops sending heartbeats without saying goodbye (it
// crashed, or was cut off) is counted until HeartbeatTimeout passes, then
// forgotten; a node that comes back is counted again.
func TestSilentNodeIsForgotten(t *testing.T) {
	cluster := adaptertest.ClusterName(t)
	f := flavour(natsURL, natsadapter.Options{HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: 200 * time.Millisecond})
	a := adaptertest.Start(t, f, cluster, nil)
	nc := rawConn(t, natsURL)
	subject := natsadapter.Subject(cluster, "/")
	// alive sends the quiet node's heartbeats until a counts it.
	alive := func() {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				_ = nc.Publish(subject, natsadapter.EncodeHeartbeat("quiet"))
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		adaptertest.WaitNodes(t, a.Server, "/", 2)
		close(stop)
		<-done
	}
	alive()
	adaptertest.WaitNodes(t, a.Server, "/", 1)
	alive()
}
