package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/internal/logtest"
)

// The tests below build the hubd binary once and run it as a process.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func hubdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "hubd-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "hubd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building hubd: %v", buildErr)
	}
	return binPath
}

// syncBuffer is a bytes.Buffer safe for the process's writer and the test.
type syncBuffer = logtest.Buffer

type daemon struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	addr   string
	done   chan struct{}
	code   int
}

// start runs hubd with args and waits until it logs where it listens.
func start(t *testing.T, args ...string) *daemon {
	t.Helper()
	d := &daemon{stderr: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(hubdBinary(t), append([]string{"-log-format", "json"}, args...)...)
	d.cmd.Env = cleanEnv()
	pr, pw := io.Pipe()
	d.cmd.Stderr = io.MultiWriter(d.stderr, pw)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = d.cmd.Wait()
		d.code = d.cmd.ProcessState.ExitCode()
		_ = pw.Close()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case d.addr = <-addr:
	case <-d.done:
		t.Fatalf("hubd exited with %d before listening:\n%s", d.code, d.stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("hubd did not listen:\n%s", d.stderr)
	}
	return d
}

// runToExit runs hubd expecting it to exit by itself.
func runToExit(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(hubdBinary(t), args...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("hubd did not exit:\n%s", stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// cleanEnv is the test's environment without HUBD_ variables.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HUBD_") {
			out = append(out, kv)
		}
	}
	return out
}

// waitLog waits until hubd's stderr holds text: its log lines reach the
// test through a pipe, after whatever they report has happened.
func (d *daemon) waitLog(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(d.stderr.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged:\n%s", text, d.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (d *daemon) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-d.done:
		return d.code
	case <-time.After(20 * time.Second):
		t.Fatalf("hubd did not exit:\n%s", d.stderr)
		return -1
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// sioConnect opens a WebSocket Engine.IO connection, reads the open packet
// and sends a Socket.IO CONNECT to "/" with auth; it returns the answer.
func sioConnect(t *testing.T, addr, auth string) (*websocket.Conn, string) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, open, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(open), `0{`) || !strings.Contains(string(open), `"sid"`) {
		t.Fatalf("open packet: %s", open)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("40"+auth)); err != nil {
		t.Fatal(err)
	}
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if string(msg) == "2" { // ping
			_ = c.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		return c, string(msg)
	}
}

const policyJS = `hubd.on("connect", (env) =>
  env.handshake.auth && env.handshake.auth.token
    ? { socket_data: { user: env.handshake.auth.token } }
    : { action: "deny", reason: "token required" });
`

func TestDaemon(t *testing.T) {
	plugins := t.TempDir()
	writeJSPlugin(t, plugins, "policy", policyJS)
	static := t.TempDir()
	writeFile(t, static, "index.html", "<h1>chat</h1>")
	cfgFile := writeFile(t, t.TempDir(), "hubd.json", `{
		"listen": "127.0.0.1:0",
		"namespaces": [{"name": "/", "route": "rooms"}],
		"plugins": {"dir": "`+plugins+`"},
		"api": {"key": "secret"},
		"static": {"dir": "`+static+`"}
	}`)
	d := start(t, "-config", cfgFile)
	base := "http://" + d.addr

	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz: %d %q", code, body)
	}
	if code, body := get(t, base+"/index.html"); code != 200 || !strings.Contains(body, "chat") {
		t.Fatalf("static: %d %q", code, body)
	}

	// Without a token the plugin denies the connection.
	_, ans := sioConnect(t, d.addr, "")
	if !strings.HasPrefix(ans, `44{"message":"token required"`) {
		t.Fatalf("connect without token: %s", ans)
	}
	// With one, it is accepted.
	conn, ans := sioConnect(t, d.addr, `{"token":"x"}`)
	if !strings.HasPrefix(ans, `40{"sid"`) {
		t.Fatalf("connect with token: %s", ans)
	}

	// The API: with the key it publishes to the connected client.
	post := func(key string) int {
		req, _ := http.NewRequest("POST", base+"/api/emit", strings.NewReader(`{"event":"news","args":["hello"]}`))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	if code := post(""); code != 401 {
		t.Fatalf("emit without key: %d", code)
	}
	if code := post("wrong"); code != 401 {
		t.Fatalf("emit with a wrong key: %d", code)
	}
	if code := post("secret"); code != 200 {
		t.Fatalf("emit with key: %d", code)
	}
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if string(msg) == "2" {
			continue
		}
		if string(msg) != `42["news","hello"]` {
			t.Fatalf("published event: %s", msg)
		}
		break
	}

	// SIGHUP reloads the plugins without dropping the connection.
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, "SIGHUP: plugins reloaded")
	if code := post("secret"); code != 200 {
		t.Fatalf("emit after reload: %d", code)
	}
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("connection dropped by the reload: %v", err)
		}
		if string(msg) == `42["news","hello"]` {
			break
		}
	}

	// SIGTERM: the client is told, the process exits 0.
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var told []string
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection not closed at shutdown (got %q)", told)
			}
			// A Socket.IO DISCONNECT (41) would keep socket.io-client from
			// reconnecting; a closed transport makes it reconnect.
			for _, m := range told {
				if strings.HasPrefix(m, "41") {
					t.Fatalf("client told not to reconnect: %q", told)
				}
			}
			break
		}
		told = append(told, string(msg))
	}
	if code := d.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, d.stderr)
	}
	if !strings.Contains(d.stderr.String(), `"msg":"plugin stats","plugin":"policy","runtime":"js","hook":"connect"`) {
		t.Fatalf("no plugin stats logged:\n%s", d.stderr)
	}
	if !strings.Contains(d.stderr.String(), `"msg":"stopped"`) {
		t.Fatalf("no stop logged:\n%s", d.stderr)
	}
}

func TestDaemonAPIOffWithoutKey(t *testing.T) {
	d := start(t, "-listen", "127.0.0.1:0")
	res, err := http.Post("http://"+d.addr+"/api/emit", "application/json", strings.NewReader(`{"event":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("API without a key: %d, want 404", res.StatusCode)
	}
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGINT", code)
	}
}

func TestDaemonMissingPluginDir(t *testing.T) {
	code, stderr := runToExit(t, "-listen", "127.0.0.1:0", "-plugins", "/does/not/exist")
	if code != 2 || !strings.Contains(stderr, "plugin directory /does/not/exist does not exist") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestDaemonBadConfig(t *testing.T) {
	f := writeFile(t, t.TempDir(), "hubd.json", `{"listen": ":3000", "namespaces": [{"name": "x", "route": "all"}], "log": {"format": "xml"}}`)
	code, stderr := runToExit(t, "-config", f)
	if code != 2 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for _, w := range []string{"invalid configuration", `name "x" must start with /`, `route "all"`, `log.format "xml"`} {
		if !strings.Contains(stderr, w) {
			t.Errorf("missing %q in stderr:\n%s", w, stderr)
		}
	}
}

func TestDaemonBadPlugin(t *testing.T) {
	plugins := t.TempDir()
	writeFile(t, plugins, "broken.js", "hubd.on(\"connect\", (env) => {")
	code, stderr := runToExit(t, "-listen", "127.0.0.1:0", "-plugins", plugins)
	if code != 1 || !strings.Contains(stderr, "loading plugins from "+plugins) || !strings.Contains(stderr, "broken") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestDaemonPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	code, stderr := runToExit(t, "-listen", addr)
	if code != 1 || !strings.Contains(stderr, "listen "+addr+": address already in use") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hubd test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	return certFile, keyFile
}

func TestDaemonTLSAndOrigins(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	cfgFile := writeFile(t, dir, "hubd.json", `{"listen": "127.0.0.1:0",
		"tls": {"cert_file": "`+cert+`", "key_file": "`+key+`"},
		"socketio": {"cors_origins": ["https://app.example"]}}`)
	d := start(t, "-config", cfgFile)

	tlsConf := &tls.Config{InsecureSkipVerify: true}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}}
	res, err := client.Get("https://" + d.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("https /healthz: %d", res.StatusCode)
	}

	dialer := websocket.Dialer{TLSClientConfig: tlsConf, HandshakeTimeout: 5 * time.Second}
	url := "wss://" + d.addr + "/socket.io/?EIO=4&transport=websocket"
	for _, c := range []struct {
		origin string
		ok     bool
	}{{"", true}, {"https://app.example", true}, {"https://evil.example", false}} {
		h := http.Header{}
		if c.origin != "" {
			h.Set("Origin", c.origin)
		}
		conn, res, err := dialer.Dial(url, h)
		if (err == nil) != c.ok {
			t.Errorf("origin %q: err %v, want ok=%v", c.origin, err, c.ok)
		}
		if !c.ok && (res == nil || res.StatusCode != http.StatusForbidden) {
			t.Errorf("origin %q: refused with %v, want 403", c.origin, res)
		}
		if err == nil {
			_, open, err := conn.ReadMessage()
			if err != nil || !strings.HasPrefix(string(open), "0{") {
				t.Errorf("origin %q: open packet %q, %v", c.origin, open, err)
			}
			_ = conn.Close()
		}
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, d.stderr)
	}
}

func TestDaemonReloadKeepsWorkingPlugins(t *testing.T) {
	plugins := t.TempDir()
	writeJSPlugin(t, plugins, "policy", policyJS)
	d := start(t, "-listen", "127.0.0.1:0", "-plugins", plugins)
	conn, ans := sioConnect(t, d.addr, `{"token":"x"}`)
	if !strings.HasPrefix(ans, `40{"sid"`) {
		t.Fatalf("connect: %s", ans)
	}
	// A broken plugin appears: the reload reports it, the connection and
	// the policy stay.
	writeFile(t, plugins, "broken.js", "hubd.on(")
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, "SIGHUP: plugin reload failed")
	if _, ans := sioConnect(t, d.addr, ""); !strings.HasPrefix(ans, `44{"message":"token required"`) {
		t.Fatalf("policy lost by the failed reload: %s", ans)
	}
	// The first connection is still up: a hub:join is answered on it.
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`421["hub:join","lobby"]`)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("connection dropped by the reload: %v", err)
		}
		if string(msg) == "2" {
			continue
		}
		if string(msg) != `431[{"ok":true,"rooms":["lobby"]}]` {
			t.Fatalf("hub:join answer: %s", msg)
		}
		break
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, d.stderr)
	}
}

func TestDaemonBadTLSPair(t *testing.T) {
	dir := t.TempDir()
	cert, _ := selfSigned(t, dir)
	code, stderr := runToExit(t, "-listen", "127.0.0.1:0", "-tls-cert", cert, "-tls-key", cert)
	if code != 1 || !strings.Contains(stderr, "hubd: tls: ") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

// TestDaemonServeClient: with socketio.serve_client, hubd serves the
// browser bundle of the installed socket.io-client package, with its
// version as ETag; a folder that is not the package is a config problem.
func TestDaemonServeClient(t *testing.T) {
	pkg, err := filepath.Abs("../../hub/testdata/client/node_modules/socket.io-client")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(pkg, "package.json")); err != nil {
		t.Fatalf("socket.io-client is not installed in %s: run npm ci in hub/testdata/client (scripts/test.sh does)", pkg)
	}
	dir := t.TempDir()
	cfgFile := writeFile(t, dir, "hubd.json", `{"listen": "127.0.0.1:0", "socketio": {"serve_client": "`+pkg+`"}}`)
	d := start(t, "-config", cfgFile)
	res, err := http.Get("http://" + d.addr + "/socket.io/socket.io.min.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	want, err := os.ReadFile(filepath.Join(pkg, "dist/socket.io.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !bytes.Equal(body, want) || res.Header.Get("ETag") != `"4.8.4"` {
		t.Fatalf("GET socket.io.min.js: %d, %d bytes (want %d), ETag %q", res.StatusCode, len(body), len(want), res.Header.Get("ETag"))
	}

	bad := Defaults()
	bad.SocketIO.ServeClient = dir
	wantProblems(t, "serve_client", bad.Validate(), []string{"socketio.serve_client"})
}
