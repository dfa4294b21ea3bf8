package redisadapter_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/redisadapter"
)

// TestCrossNode runs the cross-node table every cluster adapter passes
// (hub/internal/adaptertest) against each flavour.
func TestCrossNode(t *testing.T) {
	allFlavours(t, func(t *testing.T, o redisadapter.Options) { adaptertest.Run(t, flavour(o)) })
}

func TestMalformedMessagesAreIgnored(t *testing.T) { bothFlavours(t, testMalformedMessagesAreIgnored) }

func testMalformedMessagesAreIgnored(t *testing.T, o redisadapter.Options) {
	a, b := twoNodes(t, o)
	key := a.key
	c, id := dial(t, a, "/")
	joinRooms(t, a, "/", id, "r")

	opt, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	for _, ch := range []string{key + "#/#", key + "#/#r#", key + "-request#/#", key + "-response#/#"} {
		for _, payload := range []string{"", "\xc1", "{", `{"type":5}`, `{"type":"x","requestId":1}`, "\x93\xa1x\xc0\xc0",
			"\x93\xa1x\x82\xa4type\x02\xa4data\x91\x01\xc0", `{"uid":"x","type":6,"data":"not-a-list"}`, `{"uid":"x","type":4,"opts":7}`,
			"\x93\xa1x\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x91\xa4gone\xc0"} { // an event with no opts
			if err := rdb.Publish(ctx, ch, payload).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The nodes still work.
	if err := b.srv.To("r").Emit("still-fine"); err != nil {
		t.Fatal(err)
	}
	// "gone" (a broadcast without opts) must not have reached anyone.
	expectNone(t, c, "/", "gone", "still-fine")
	if a.srv.Of("/").Socket(id) == nil {
		t.Fatal("a malformed request disconnected the socket")
	}
}

func TestInvalidUTF8MessagesAreDropped(t *testing.T) {
	bothFlavours(t, testInvalidUTF8MessagesAreDropped)
}

// A broadcast from Redis whose strings are not UTF-8 (a hostile Redis
// user, a broken peer) is dropped whole: sent on, it would reach WebSocket
// clients in text frames, which they drop the connection over. The same
// messages with valid strings are delivered, so what is dropped is dropped
// for its bytes alone.
func testInvalidUTF8MessagesAreDropped(t *testing.T, o redisadapter.Options) {
	a := newNode(t, o, redisURL, testKey(t), nil)
	c, id := dial(t, a, "/")

	// Each message broadcasts the event EV with the argument ARG to every
	// socket of "/".
	messages := []string{
		// A Node peer's classic broadcast [uid, packet, opts].
		"\x93\xa1x\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa2EV\xa3ARG\x80",
		// The same, the string as a map key.
		"\x93\xa1x\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa2EV\x81\xa3ARG\x01\x80",
	}
	if o.Sharded {
		messages = []string{
			// {uid, nsp, type: broadcast, data: {packet, opts}}, in JSON and in msgpack.
			`{"uid":"x","nsp":"/","type":3,"data":{"packet":{"type":2,"nsp":"/","data":["EV","ARG"]},"opts":{"rooms":[],"except":[],"flags":{}}}}`,
			"\x84\xa3uid\xa1x\xa3nsp\xa1/\xa4type\x03\xa4data\x82\xa6packet\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa2EV\xa3ARG\xa4opts\x80",
		}
	}
	rdb := redis.NewClient(func() *redis.Options { opt, _ := redis.ParseURL(redisURL); return opt }())
	defer rdb.Close()
	publish := func(msg string) {
		t.Helper()
		ctx := context.Background()
		var err error
		if o.Sharded {
			err = rdb.SPublish(ctx, a.key+"#/#", msg).Err()
		} else {
			err = rdb.Publish(ctx, a.key+"#/#", msg).Err()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range messages {
		publish(strings.NewReplacer("EV", "ok", "ARG", "abc").Replace(m))
		if p := expectEvent(t, c, "/", "ok"); p.Str(0) != "abc" && p.Text != `42["ok",{"abc":1}]` {
			t.Fatalf("control message delivered as %s", p.Text)
		}
		// Bad strings of the same length as the good ones, so that the
		// msgpack lengths still hold.
		for _, bad := range []string{"\xff\xff\xff", "a\xe2\x82", "\xed\xa0\x80"} {
			publish(strings.NewReplacer("EV", "ev", "ARG", bad).Replace(m))
		}
		publish(strings.NewReplacer("EV", "\xc0\xaf", "ARG", "abc").Replace(m))
		// Messages are handled in order: what did not come before this
		// one will not come.
		publish(strings.NewReplacer("EV", "zz", "ARG", "abc").Replace(m))
		for {
			p, err := c.NextEvent("/", wait)
			if err != nil {
				t.Fatalf("waiting for the last message: %v", err)
			}
			if p.Event == "zz" {
				break
			}
			t.Errorf("a message with invalid UTF-8 was delivered as %q", p.Text)
		}
	}
	select {
	case <-c.Done():
		t.Fatalf("the client was disconnected: %v", c.Err())
	default:
	}
	if a.srv.Of("/").Socket(id) == nil {
		t.Fatal("the socket is gone")
	}
}

func TestShardedRoomChannelsFollowMembership(t *testing.T) {
	o := redisadapter.Options{Sharded: true}
	key := testKey(t)
	a := newNode(t, o, redisURL, key, nil)
	_, id := dial(t, a, "/")
	joinRooms(t, a, "/", id, "room-a")
	waitRoomChannels(t, o, redisURL, key, 1, "room-a")

	opt, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	count := func(ch string) int64 {
		n, _ := rdb.PubSubShardNumSub(context.Background(), ch).Result()
		return n[ch]
	}
	// A socket's own room has no channel in the dynamic mode: Node sends
	// one-socket broadcasts on the main channel.
	if n := count(key + "#/#" + id + "#"); n != 0 {
		t.Errorf("%d subscribers on the socket id's channel, want 0", n)
	}
	if err := a.srv.Of("/").Socket(id).Leave("room-a"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return count(key+"#/#room-a#") == 0 }, "the empty room's channel to be unsubscribed")
}
