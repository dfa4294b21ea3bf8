package natsadapter_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/natsadapter"
)

// Options are checked at New, every problem reported at once.
func TestOptionsAreValidated(t *testing.T) {
	_, err := natsadapter.New(context.Background(), natsadapter.Options{
		URLs:              []string{" "},
		SubjectPrefix:     "a.*.b",
		HeartbeatInterval: time.Second,
		HeartbeatTimeout:  time.Second,
	})
	if err == nil {
		t.Fatal("New accepted bad options")
	}
	for _, want := range []string{"empty URL", "subject prefix", "heartbeat timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	for _, p := range []string{"socket.io", "hubd", "a-b_c.d"} {
		if err := (natsadapter.Options{SubjectPrefix: p}).Validate(); err != nil {
			t.Errorf("prefix %q: %v", p, err)
		}
	}
	for _, p := range []string{".a", "a.", "a..b", "a b", ">", "a.>"} {
		if err := (natsadapter.Options{SubjectPrefix: p}).Validate(); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
}

// New fails, with the server it tried, when no NATS server answers.
func TestNewFailsWithoutServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Wait)
	defer cancel()
	_, err := natsadapter.New(ctx, natsadapter.Options{URLs: []string{"nats://127.0.0.1:1"}})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v, want one naming the server", err)
	}
}
