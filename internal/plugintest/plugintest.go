// Package plugintest loads a ready-made plugin for its tests, as hubd
// would: its plugin.json read by the host's reader, its entry by the
// plugin host.
package plugintest

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/sdk/wire"
)

// Manifest reads plugin.json in the current folder, with cfg as its config
// when not nil. A timeout other than zero replaces the shipped call limit:
// the shipped one is for production, and under the race detector on a busy
// machine a call can take longer, which most tests are not about.
func Manifest(t testing.TB, cfg any, timeout time.Duration) host.Manifest {
	t.Helper()
	m, err := host.ReadManifest(host.ManifestFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		if m.Config, err = json.Marshal(cfg); err != nil {
			t.Fatal(err)
		}
	}
	if timeout != 0 {
		m.Timeout = host.Duration(timeout)
	}
	return m
}

// LoadJS loads the JavaScript plugin m, whose entry is in the current
// folder, into a new host closed when the test ends.
func LoadJS(t testing.TB, m host.Manifest) (*host.Host, error) {
	t.Helper()
	h := host.New(nil)
	h.Register("js", js.Runtime{})
	t.Cleanup(func() { _ = h.Close() })
	return h, h.Load(context.Background(), []host.Spec{{Manifest: m, Entry: filepath.Join(".", m.Entry)}})
}

// Canonical writes a decision as JSON with its raw parts re-encoded, so
// that spacing and key order of what a plugin wrote do not count.
func Canonical(t testing.TB, d host.Decision) string {
	t.Helper()
	norm := func(raw wire.Raw) wire.Raw {
		if raw == nil {
			return nil
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("invalid JSON %s: %v", raw, err)
		}
		b, _ := json.Marshal(v)
		return b
	}
	d.Args, d.Reply, d.SocketData, d.Data = norm(d.Args), norm(d.Reply), norm(d.SocketData), norm(d.Data)
	if d.Action == host.Allow {
		d.Action = ""
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(d)
	return string(bytes.TrimSpace(buf.Bytes()))
}
