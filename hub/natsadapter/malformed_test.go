package natsadapter_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/natsadapter"
)

// Messages that do not parse, in any part, are dropped whole: every
// truncation of a valid broadcast, trailing bytes, lengths and counts far
// beyond the message, strings that are not UTF-8, arguments that are not a
// JSON array or point at attachments that are not there, reserved event
// names, unknown types and versions. A well-formed broadcast sent after
// them, by the same peer, is delivered: the node still works, and the
// messages before it were read and dropped.
func TestMalformedMessagesAreIgnored(t *testing.T) {
	f := flavour(natsURL, natsadapter.Options{})
	cluster := adaptertest.ClusterName(t)
	a := adaptertest.Start(t, f, cluster, nil)
	c, id := adaptertest.Dial(t, a.URL, "/")
	adaptertest.JoinRooms(t, a.Server, "/", id, "r")

	valid := natsadapter.EncodeBroadcast("peer", []string{"r"}, "gone", `["abc",{"_placeholder":true,"num":0}]`, []byte{1, 2})
	var bad [][]byte
	for i := range len(valid) {
		bad = append(bad, valid[:i])
	}
	bad = append(bad,
		append(slices.Clone(valid), 0),
		[]byte{2, 4, 4, 'p', 'e', 'e', 'r'},                                      // another version
		[]byte{1, 99, 4, 'p', 'e', 'e', 'r'},                                     // an unknown type
		[]byte{1, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // a length of 2^64-1
		[]byte{1, 4, 4, 'p', 'e', 'e', 'r', 0xff, 0xff, 0xff, 0xff, 0x0f},        // a count of rooms of 2^32-1
		natsadapter.EncodeBroadcast("\xff\xfe", nil, "gone", `["abc"]`),
		natsadapter.EncodeBroadcast("", nil, "gone", `["abc"]`),
		natsadapter.EncodeBroadcast("peer", []string{"r\xff"}, "gone", `["abc"]`),
		natsadapter.EncodeBroadcast("peer", nil, "gone\xc0\xaf", `["abc"]`),
		natsadapter.EncodeBroadcast("peer", nil, "gone", `["\xed\xa0\x80"]`),
		natsadapter.EncodeBroadcast("peer", nil, "gone", `{"not":"an array"}`),
		natsadapter.EncodeBroadcast("peer", nil, "gone", `["unterminated`),
		natsadapter.EncodeBroadcast("peer", nil, "gone", `[{"_placeholder":true,"num":3}]`),
		natsadapter.EncodeBroadcast("peer", nil, "gone", strings.Repeat("[", 100000)+strings.Repeat("]", 100000)),
		natsadapter.EncodeBroadcast("peer", nil, "connect", `["abc"]`),
		natsadapter.EncodeBroadcast("peer", nil, "disconnect", `["abc"]`),
		natsadapter.EncodeJoin("peer", nil, "joined\xff"),
	)
	nc := rawConn(t, natsURL)
	subject := natsadapter.Subject(cluster, "/")
	for _, b := range bad {
		if err := nc.Publish(subject, b); err != nil {
			t.Fatal(err)
		}
	}
	// A malformed request with a reply inbox gets no answer either.
	inbox := nats.NewInbox()
	answers, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		if err := nc.PublishRequest(subject, inbox, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Publish(subject, natsadapter.EncodeBroadcast("peer", []string{"r"}, "still-fine", `[1]`)); err != nil {
		t.Fatal(err)
	}
	adaptertest.ExpectNone(t, c, "/", "gone", "still-fine")
	if n, _, _ := answers.Pending(); n != 0 {
		t.Errorf("%d answers to malformed requests", n)
	}
	if rooms := a.Server.Of("/").Socket(id).Rooms(); slices.ContainsFunc(rooms, func(r string) bool { return strings.HasPrefix(r, "joined") }) {
		t.Errorf("a malformed join was applied: rooms %v", rooms)
	}
	select {
	case <-c.Done():
		t.Fatalf("the client was disconnected: %v", c.Err())
	default:
	}
}
