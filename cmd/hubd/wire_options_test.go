package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runNodeScript runs an ES module script with node in dir (where its
// imports resolve) and returns its last line of output as JSON.
func runNodeScript(t *testing.T, dir, script string, env ...string) map[string]any {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("%s has no node_modules: run `make test` (it runs npm ci there)", dir)
	}
	// A watchdog ends a script that waits for something that never comes.
	script = "setTimeout(() => { console.log(JSON.stringify({ error: 'timed out' })); process.exit(1); }, 60000).unref();\n" + script
	cmd := exec.Command("node", "--input-type=module", "-e", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var out map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		t.Fatalf("node printed no JSON: %v\n%s", err, stdout.String())
	}
	return out
}

// TestDaemonParserAndCompression: with socketio.parser "msgpack" and
// socketio.per_message_deflate on, hubd serves the real socket.io-client
// created with socket.io-msgpack-parser over a compressed WebSocket: a
// join, a relayed event with a Buffer, and /metrics counts the compressed
// messages. A client with the default parser gets no connection.
func TestDaemonParserAndCompression(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "hubd.json", `{"listen": "127.0.0.1:0",
		"namespaces": [{"name": "/", "route": "rooms"}],
		"socketio": {"per_message_deflate": {"threshold": 64}}}`)
	d := start(t, "-config", cfg, "-parser", "msgpack")
	script := `
import { io } from "socket.io-client";
import parser from "socket.io-msgpack-parser";
const url = process.env.URL;
const open = (p) => new Promise((ok, fail) => {
  const s = io(url, { transports: ["websocket"], parser: p, reconnection: false, timeout: 20000 });
  s.on("connect", () => ok(s));
  s.on("connect_error", (e) => fail(new Error("connect_error: " + e.message)));
});
const a = await open(parser), b = await open(parser);
const ack = (s, ...args) => new Promise((ok) => s.emit(...args, ok));
const ja = await ack(a, "hub:join", "r"), jb = await ack(b, "hub:join", "r");
const text = "x".repeat(4096);
const got = new Promise((ok) => b.on("chat", (t, buf) => ok({ len: t.length, buf: [...buf] })));
const sent = await ack(a, "chat", text, Buffer.from([1, 2, 3]));
const recv = await got;
// A client with the default parser never connects.
const plain = await new Promise((ok) => {
  const s = io(url, { transports: ["websocket"], reconnection: false, timeout: 5000 });
  s.on("connect", () => { s.close(); ok("connected"); });
  s.on("connect_error", (e) => { s.close(); ok("refused: " + e.message); });
  // hubd closes the connection on the first packet it cannot read.
  s.io.once("close", (reason) => ok("closed: " + reason));
});
a.close(); b.close();
console.log(JSON.stringify({ ja, jb, sent, recv, plain }));
`
	out := runNodeScript(t, "../../hub/testdata/client", script, "URL=http://"+d.addr)
	want := `{"ja":{"ok":true,"rooms":["r"]},"jb":{"ok":true,"rooms":["r"]},"plain":"closed: transport close","recv":{"buf":[1,2,3],"len":4096},"sent":{"ok":true}}`
	if got, _ := json.Marshal(out); string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	res, err := http.Get("http://" + d.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	// The 4 KiB event went out compressed to b, and came in compressed
	// from a (the ws client compresses from its own threshold, 1 KiB).
	for _, l := range []string{"sent", "received"} {
		if v, ok := metricValue(t, string(body), "hubd_websocket_compressed_messages_total", `direction="`+l+`"`); !ok || v < 1 {
			t.Errorf("hubd_websocket_compressed_messages_total{direction=%q} = %v (found %v), want >= 1", l, v, ok)
		}
	}
}

// TestDaemonAllowEIO3: with socketio.allow_eio3, socket.io-client 2.x
// connects to hubd, joins a room and gets an event relayed from another
// 2.x client; without it, it is refused.
func TestDaemonAllowEIO3(t *testing.T) {
	dir := t.TempDir()
	on := start(t, "-config", writeFile(t, dir, "on.json", `{"listen": "127.0.0.1:0", "socketio": {"allow_eio3": true}}`))
	off := start(t, "-config", writeFile(t, dir, "off.json", `{"listen": "127.0.0.1:0"}`))
	script := `
import { createRequire } from "node:module";
const io = createRequire(process.cwd() + "/")("socket.io-client");
const open = (url) => new Promise((ok) => {
  const s = io(url, { reconnection: false, timeout: 20000, forceNew: true });
  s.on("connect", () => ok(s));
  s.on("connect_error", (e) => { s.close(); ok("refused: " + (e.description || e.message)); });
});
const a = await open(process.env.ON), b = await open(process.env.ON);
const ack = (s, ...args) => new Promise((ok) => s.emit(...args, ok));
const ja = await ack(a, "hub:join", "r"), jb = await ack(b, "hub:join", "r");
const got = new Promise((ok) => b.on("chat", (t) => ok(t)));
const sent = await ack(a, "chat", "hello");
const recv = await got;
a.close(); b.close();
const refused = await open(process.env.OFF);
console.log(JSON.stringify({ ja, jb, sent, recv, refused: typeof refused === "string" ? refused : "connected" }));
`
	out := runNodeScript(t, "../../hub/testdata/client2", script, "ON=http://"+on.addr, "OFF=http://"+off.addr)
	got, _ := json.Marshal(out)
	if !strings.HasPrefix(string(got), `{"ja":{"ok":true,"rooms":["r"]},"jb":{"ok":true,"rooms":["r"]},"recv":"hello","refused":"refused: `) ||
		!strings.HasSuffix(string(got), `,"sent":{"ok":true}}`) {
		t.Errorf("got %s", got)
	}
}

// TestDaemonAdminUI: with -admin-ui and an admin_ui block, hubd serves the
// admin UI's page from the installed package and its namespace to the
// real socket.io-client as the UI connects: a wrong password is refused,
// the right one gets the UI's config and the list of sockets, this client
// among them.
func TestDaemonAdminUI(t *testing.T) {
	pkg, err := filepath.Abs("../../hub/adminui/testdata/node_modules/@socket.io/admin-ui")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// bcrypt of "s3cret", cost 4 (bcryptjs writes $2a$ or $2b$; both are read).
	const hash = "$2a$04$cUGdPRSTpKB50IroAufTp.uy4Ds6K4u8RT.JZKpFm/ZKfReiiLCMO"
	cfg := writeFile(t, dir, "hubd.json", `{"listen": "127.0.0.1:0",
		"admin_ui": {"auth": {"username": "ops", "password_hash": "`+hash+`"}, "server_id": "node-a", "ui_dir": "`+pkg+`"}}`)
	d := start(t, "-config", cfg, "-admin-ui")

	code, page := get(t, "http://"+d.addr+"/admin/")
	if code != 200 || !strings.Contains(page, "<title>") {
		t.Fatalf("GET /admin/: %d %.200s", code, page)
	}

	script := `
import { io } from "socket.io-client";
const url = process.env.URL;
const admin = (password) => new Promise((ok) => {
  const s = io(url + "/admin", { auth: { username: "ops", password }, transports: ["websocket"], reconnection: false });
  const got = {};
  s.on("connect_error", (e) => { s.close(); ok({ refused: e.message }); });
  s.on("config", (c) => { got.config = c; });
  s.on("all_sockets", (list) => { got.sockets = list.map((x) => x.nsp + " " + x.id); s.close(); ok(got); });
});
const user = io(url, { transports: ["websocket"], reconnection: false });
await new Promise((ok) => user.on("connect", ok));
const wrong = await admin("nope");
const right = await admin("s3cret");
const id = user.id;
user.close();
console.log(JSON.stringify({ wrong, right, user: "/ " + id }));
`
	out := runNodeScript(t, "../../hub/adminui/testdata", script, "URL=http://"+d.addr)
	if wrong, _ := out["wrong"].(map[string]any); wrong["refused"] != "invalid credentials" {
		t.Errorf("wrong password: %v", out["wrong"])
	}
	right, _ := out["right"].(map[string]any)
	cfgSeen, _ := right["config"].(map[string]any)
	if cfgSeen == nil {
		t.Errorf("no config event: %v", out["right"])
	}
	sockets, _ := json.Marshal(right["sockets"])
	if !strings.Contains(string(sockets), `"`+out["user"].(string)+`"`) {
		t.Errorf("all_sockets %s does not list the user %v", sockets, out["user"])
	}
}
