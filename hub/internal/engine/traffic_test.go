package engine

import "testing"

func TestTraffic(t *testing.T) {
	e := newEnv(t, Config{})
	e.openPolling()
	ws, _, h := e.openWS()
	writeText(t, ws, "4hello")
	h.nextMsg(t)
	readText(t, ws, "4hello")

	tr := e.srv.Traffic()
	if tr.Opened != 2 || tr.Open != 2 || tr.Polling != 1 {
		t.Fatalf("opened %d, open %d, polling %d; want 2, 2, 1", tr.Opened, tr.Open, tr.Polling)
	}
	if tr.PacketsIn != 1 || tr.BytesIn != 5 || tr.PacketsOut != 1 || tr.BytesOut != 6 {
		t.Fatalf("in %d packets %d bytes, out %d packets %d bytes; want 1, 5, 1, 6",
			tr.PacketsIn, tr.BytesIn, tr.PacketsOut, tr.BytesOut)
	}

	// A session that ends leaves its counts to the server's totals.
	writeText(t, ws, "1")
	h.expectClose(t, ReasonTransportClose)
	waitFor(t, "the session to leave the table", func() bool { return e.srv.Len() == 1 })
	tr = e.srv.Traffic()
	if tr.Closed[ReasonTransportClose] != 1 || tr.Open != 1 {
		t.Fatalf("closed %v, open %d; want one transport close, 1 open", tr.Closed, tr.Open)
	}
	if tr.PacketsIn != 1 || tr.BytesIn != 5 || tr.PacketsOut != 1 || tr.BytesOut != 6 {
		t.Fatalf("after the close: in %d packets %d bytes, out %d packets %d bytes; want 1, 5, 1, 6",
			tr.PacketsIn, tr.BytesIn, tr.PacketsOut, tr.BytesOut)
	}
}
