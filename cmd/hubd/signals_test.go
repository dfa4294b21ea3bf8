package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// pingPluginJS answers the event "ping" with {v: V}.
func pingPluginJS(v int) string {
	return fmt.Sprintf(`hubd.on("event", (env) => {
  if (env.event === "ping") return { action: "reply", reply: [{ v: %d }] };
});
`, v)
}

// signalsClient runs testdata/signals.cjs in mode against base; the test
// reads its JSON lines with next and writes lines to it with say.
type signalsClient struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan contractObs
	stderr *syncBuffer
	done   chan error
}

func startSignalsClient(t *testing.T, mode, base string, clients int) *signalsClient {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not installed: install Node.js 20 or newer, then run `make test`")
	}
	modules, err := filepath.Abs("../../hub/testdata/client/node_modules")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(modules, "socket.io-client", "package.json")); err != nil {
		t.Fatalf("socket.io-client is not installed in %s: run `make test`, which runs npm ci there", modules)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	c := &signalsClient{t: t, stderr: &syncBuffer{}, lines: make(chan contractObs, 16), done: make(chan error, 1)}
	c.cmd = exec.CommandContext(ctx, "node", "testdata/signals.cjs", mode, base, fmt.Sprint(clients))
	c.cmd.Env = append(cleanEnv(), "NODE_PATH="+modules)
	c.cmd.Stderr = c.stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		cancel()
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			var o contractObs
			if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
				o = contractObs{Kind: "bad line", Value: sc.Text()}
			}
			c.lines <- o
		}
		close(c.lines)
		c.done <- c.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = c.stdin.Close()
		cancel()
		for range c.lines {
		}
		<-c.done
	})
	return c
}

// next is the client's next observation, which must be of kind.
func (c *signalsClient) next(kind string, d *daemon) map[string]any {
	c.t.Helper()
	select {
	case o, ok := <-c.lines:
		if !ok {
			c.t.Fatalf("client exited before %q:\n%s\nhubd:\n%s", kind, c.stderr, d.stderr)
		}
		v, isMap := o.Value.(map[string]any)
		if o.Kind != kind || !isMap {
			c.t.Fatalf("client said %s %s, want %q:\n%s", o.Kind, jsonText(o.Value), kind, c.stderr)
		}
		return v
	case <-time.After(40 * time.Second):
		c.t.Fatalf("client did not say %q:\n%s\nhubd:\n%s", kind, c.stderr, d.stderr)
		return nil
	}
}

func (c *signalsClient) say(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.t.Fatalf("writing to the client: %v", err)
	}
}

// expect fails unless got[key] is the number want.
func expect(t *testing.T, what string, got map[string]any, key string, want float64) {
	t.Helper()
	if n, _ := got[key].(float64); n != want {
		t.Errorf("%s: %s = %v, want %v (all: %s)", what, key, got[key], want, jsonText(got))
	}
}

// TestSIGHUPReloadKeepsClients: 200 WebSocket clients of the real
// socket.io-client stay connected while SIGHUP reloads a changed plugin,
// and their next acks come from the new plugin.
func TestSIGHUPReloadKeepsClients(t *testing.T) {
	const clients = 200
	plugins := t.TempDir()
	writeJSPlugin(t, plugins, "ping", pingPluginJS(1))
	cfg, err := json.Marshal(map[string]any{
		"listen":     "127.0.0.1:0",
		"namespaces": []map[string]any{{"name": "/", "route": "rooms"}},
		"plugins":    map[string]any{"dir": plugins},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := start(t, "-config", writeFile(t, t.TempDir(), "hubd.json", string(cfg)))
	c := startSignalsClient(t, "sighup", "http://"+d.addr, clients)

	ready := c.next("ready", d)
	expect(t, "before the reload", ready, "connected", clients)
	expect(t, "before the reload", ready, "joined", clients)
	expect(t, "before the reload", ready, "v1", clients)
	if t.Failed() {
		t.FailNow()
	}

	// The plugin changes, SIGHUP reloads it. (The directory watcher may
	// reload it too; the SIGHUP reload is what is waited for.)
	writeJSPlugin(t, plugins, "ping", pingPluginJS(2))
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, "SIGHUP: plugins reloaded")
	c.say("reloaded")

	after := c.next("after", d)
	expect(t, "after the reload", after, "disconnects", 0)
	expect(t, "after the reload", after, "v2", clients)

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, d.stderr)
	}
}

// freePort is a TCP address on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestSIGTERMClientsReconnectToNextDaemon: SIGTERM stops hubd A with exit
// code 0 and closes its clients' transports (so that socket.io-client
// reconnects, which an "io server disconnect" would prevent); the clients
// then reconnect by themselves to hubd B on the same address, with new ids,
// and relay through it.
func TestSIGTERMClientsReconnectToNextDaemon(t *testing.T) {
	const clients = 20
	addr := freePort(t)
	cfg, err := json.Marshal(map[string]any{
		"listen":     addr,
		"namespaces": []map[string]any{{"name": "/", "route": "rooms"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := writeFile(t, t.TempDir(), "hubd.json", string(cfg))
	a := start(t, "-config", cfgFile)
	if a.addr != addr {
		t.Fatalf("hubd A listens on %s, want %s", a.addr, addr)
	}
	c := startSignalsClient(t, "sigterm", "http://"+addr, clients)
	ready := c.next("ready", a)
	expect(t, "on A", ready, "connected", clients)
	expect(t, "on A", ready, "websocket", clients)
	if t.Failed() {
		t.FailNow()
	}

	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(t); code != 0 {
		t.Fatalf("hubd A: exit code %d after SIGTERM:\n%s", code, a.stderr)
	}
	c.say("terminated")
	gone := c.next("disconnected", a)
	expect(t, "A stopped", gone, "count", clients)
	expect(t, "A stopped", gone, "active", clients) // still reconnecting
	if reasons := jsonText(gone["reasons"]); reasons != `["transport close"]` {
		t.Errorf("disconnect reasons %s, want only \"transport close\": %s", reasons, jsonText(gone["details"]))
	}

	b := start(t, "-config", cfgFile)
	c.say("started")
	back := c.next("reconnected", b)
	expect(t, "on B", back, "count", clients)
	expect(t, "on B", back, "connected", clients)
	expect(t, "on B", back, "new_ids", clients)
	expect(t, "on B", back, "joined", clients)
	expect(t, "on B", back, "received", clients-1)
	if ms, _ := back["ms"].(float64); ms > 5000 {
		t.Errorf("reconnecting took %v ms", ms)
	}
	t.Logf("clients back on B %v ms after it listened", back["ms"])

	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := b.wait(t); code != 0 {
		t.Fatalf("hubd B: exit code %d after SIGTERM:\n%s", code, b.stderr)
	}
}
