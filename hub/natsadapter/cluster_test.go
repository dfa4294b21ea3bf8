package natsadapter_test

import (
	"testing"

	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/natsadapter"
)

// TestCrossNode runs the cross-node table every cluster adapter passes.
func TestCrossNode(t *testing.T) {
	adaptertest.Run(t, flavour(natsURL, natsadapter.Options{}))
}
