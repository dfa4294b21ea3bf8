package natsadapter_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/natsadapter"
	"github.com/hubd/hubd/internal/testnats"
)

// natsURL is the NATS server the tests use (see testnats.Find).
var natsURL string

func TestMain(m *testing.M) {
	url, stop, err := testnats.Find()
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsadapter tests:", err)
		os.Exit(2)
	}
	natsURL = url
	code := m.Run()
	stop()
	os.Exit(code)
}

// requestsTimeout is the nodes' Options.RequestsTimeout: no test waits it
// out, so it is long enough for a loaded machine's nodes to answer.
const requestsTimeout = 10 * time.Second

// connect links a node to the NATS server at url under the subject
// prefix of cluster; the link closes when the test ends.
func connect(t testing.TB, url, cluster string, o natsadapter.Options) *natsadapter.Cluster {
	t.Helper()
	o.URLs = []string{url}
	o.SubjectPrefix = cluster
	if o.RequestsTimeout == 0 {
		o.RequestsTimeout = requestsTimeout
	}
	o.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Wait)
	defer cancel()
	c, err := natsadapter.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// flavour is the adapter on the NATS server at url, as a flavour of the
// cross-node table.
func flavour(url string, o natsadapter.Options) adaptertest.Flavour {
	return adaptertest.Flavour{
		Join: func(t testing.TB, cluster string) adaptertest.Link {
			c := connect(t, url, cluster, o)
			return adaptertest.Link{Adapter: c.Adapter, Close: c.Close}
		},
		ErrClosed: natsadapter.ErrClosed,
	}
}

// rawConn is a plain NATS connection of the test's own, playing a hostile
// or broken peer.
func rawConn(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
