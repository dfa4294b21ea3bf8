package hub_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

func TestNamespaces(t *testing.T) {
	srv := hub.New(hub.Options{})
	defer srv.Close()
	main := srv.Of("/")
	if srv.Of("") != main || main.Name() != "/" || main.Server() != srv {
		t.Errorf("main namespace: %q", main.Name())
	}
	chat := srv.Of("chat")
	if chat.Name() != "/chat" || srv.Of("/chat") != chat {
		t.Errorf("Of(chat) = %q, not the same as Of(/chat)", chat.Name())
	}
	srv.Of("/b")
	srv.Of("/a")
	var names []string
	for _, n := range srv.Namespaces() {
		names = append(names, n.Name())
	}
	if !slices.Equal(names, []string{"/", "/a", "/b", "/chat"}) {
		t.Errorf("Namespaces() = %q", names)
	}
	if _, ok := chat.Adapter().(*hub.MemoryAdapter); !ok {
		t.Error("default adapter is not the local one")
	}
	if chat.Len() != 0 || len(chat.Sockets()) != 0 || chat.Socket("x") != nil {
		t.Error("empty namespace reports sockets")
	}
	o := srv.Options()
	if o.Path != "/socket.io/" || o.ConnectTimeout != 45*time.Second || o.MaxAttachments != 10 {
		t.Errorf("defaults: %+v", o)
	}
}

// Socket, Sockets and Len follow connections and disconnections.
func TestNamespaceSockets(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	nsp := srv.Of("/")
	c1, c2 := hubDial(t, url), hubDial(t, url)
	id1 := hubConnect(t, c1, "/", nil)
	id2 := hubConnect(t, c2, "/", nil)
	waitUntil(t, func() bool { return nsp.Len() == 2 }, "two sockets")
	var ids []string
	for _, s := range nsp.Sockets() {
		ids = append(ids, s.ID())
	}
	slices.Sort(ids)
	want := []string{id1, id2}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("Sockets() = %q, want %q", ids, want)
	}
	if nsp.Socket(id1).ID() != id1 {
		t.Error("Socket(id1)")
	}
	_ = c1.Disconnect("/")
	waitUntil(t, func() bool { return nsp.Len() == 1 && nsp.Socket(id1) == nil }, "one socket")
	if srv.Connections() != 2 {
		t.Errorf("Connections() = %d", srv.Connections())
	}
}

// The server answers under Options.Path only.
func TestServerPath(t *testing.T) {
	srv := hub.New(hub.Options{Path: "/rt/"})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); ts.Close() })
	c, err := testclient.Dial(ts.URL, "/rt/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hubConnect(t, c, "/", nil)
	resp, err := http.Get(ts.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("other path: HTTP %d, want 404", resp.StatusCode)
	}
}

// Options.MaxAttachments bounds the attachments of a packet.
func TestMaxAttachments(t *testing.T) {
	srv, url := hubServer(t, hub.Options{MaxAttachments: 2})
	got := make(chan int, 1)
	srv.OnConnection(func(s *hub.Socket) {
		s.On("up", func(ev *hub.Event) { got <- len(ev.Args.Attachments()) })
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	_ = c.Emit("/", "up", []byte{1}, []byte{2})
	if n := <-got; n != 2 {
		t.Errorf("attachments = %d", n)
	}
	_ = c.Emit("/", "up", []byte{1}, []byte{2}, []byte{3})
	if err := c.WaitClosed(testWait); err != nil {
		t.Error(err)
	}
}
