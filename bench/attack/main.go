// Command attack measures what hostile clients do to legitimate ones on a
// running hubd (bench/attack/run.sh starts one with bench/attack/hubd.json
// and the plugins the attacks aim at).
//
// Each phase connects -legit clients over WebSocket, spread over -rooms
// rooms; each emits a "chat" event with an ack -rate times a second for
// -duration, which hubd relays to the rest of its room. Meanwhile
// -attackers hostile clients run one attack. A phase reports the legitimate
// clients' acks (answered, denied, p50/p99 round trip), deliveries lost and
// legitimate connections dropped, then checks that hubd still answers.
// Phases named "none" run no attack: they are the baseline each attack is
// compared with (the nearest "none" before it).
//
// Attacks:
//
//	ws-overflow  a non-final text frame, then a continuation frame announcing 2^63-1 bytes
//	deep-args    events nested 600 levels deep, 100/s each, into the legitimate rooms
//	utf8-api     POST /api/emit with invalid UTF-8 in args, into the legitimate rooms
//	utf8-client  text frames with invalid UTF-8 in args, into the legitimate rooms
//	big-header   60 connections each announcing a 999,000-byte frame and sending nothing
//	regex        strings that make the filter plugin's regular expression backtrack
//	js-memory    a padding width of 2^30, which the filter plugin hands to String.repeat
//	namespaces   polling sessions asking for 5,000 distinct dynamic namespaces per POST
//	slowloris    125 idle keep-alive connections and 25 API bodies sent a byte a second
//	no-connect   polling handshakes that never connect to a namespace, 50/s each
//
// Only loopback targets are accepted.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

type config struct {
	base      *url.URL
	apiKey    string
	legit     int
	rooms     int
	rate      float64
	duration  time.Duration
	attackers int
	pid       int
}

func main() {
	var (
		rawURL  = flag.String("url", "http://127.0.0.1:3430", "hubd's address (loopback only)")
		phases  = flag.String("phases", "none,ws-overflow,none,deep-args", "comma-separated phases: none or an attack")
		cfg     config
		jsonOut = flag.Bool("json", false, "print one JSON object per phase")
	)
	flag.StringVar(&cfg.apiKey, "api-key", "attack-bench", "the HTTP API's bearer key")
	flag.IntVar(&cfg.legit, "legit", 200, "legitimate clients")
	flag.IntVar(&cfg.rooms, "rooms", 20, "rooms the legitimate clients are spread over")
	flag.Float64Var(&cfg.rate, "rate", 5, "events per second of each legitimate client")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of a phase")
	flag.IntVar(&cfg.attackers, "attackers", 8, "hostile clients")
	flag.IntVar(&cfg.pid, "pid", 0, "hubd's process id, to report its resident memory")
	flag.Parse()

	u, err := url.Parse(*rawURL)
	if err != nil {
		fail("bad -url: %v", err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fail("-url %s: only loopback targets are accepted", *rawURL)
	}
	cfg.base = u

	var baseline float64
	for _, name := range strings.Split(*phases, ",") {
		name = strings.TrimSpace(name)
		if name != "none" && attacks[name] == nil {
			fail("unknown phase %q (none, %s)", name, strings.Join(attackNames(), ", "))
		}
		r := runPhase(cfg, name)
		if name == "none" {
			baseline = r.P99ms
		} else if baseline > 0 {
			r.P99Ratio = r.P99ms / baseline
		}
		if *jsonOut {
			_ = json.NewEncoder(os.Stdout).Encode(r)
		} else {
			r.print(os.Stdout)
		}
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "attack: "+format+"\n", args...)
	os.Exit(2)
}

// result is one phase's outcome for the legitimate clients.
type result struct {
	Phase        string         `json:"phase"`
	Sent         int64          `json:"sent"`
	Acked        int64          `json:"acked"`
	Denied       int64          `json:"denied"`
	Unanswered   int64          `json:"unanswered"`
	Expected     int64          `json:"expected_deliveries"`
	Delivered    int64          `json:"delivered"`
	Lost         int64          `json:"lost"`
	Dropped      int64          `json:"legit_connections_dropped"`
	DenialsBy    map[string]int `json:"denials_by_answer,omitempty"`
	P50ms        float64        `json:"ack_p50_ms"`
	P99ms        float64        `json:"ack_p99_ms"`
	P99Ratio     float64        `json:"p99_vs_baseline,omitempty"`
	AttackOps    int64          `json:"attack_ops"`
	Alive        bool           `json:"hubd_alive"`
	RSSMB        float64        `json:"hubd_rss_mb,omitempty"`
	AttackerNote string         `json:"attack_note,omitempty"`
}

func (r result) print(w io.Writer) {
	ratio := "-"
	if r.P99Ratio > 0 {
		ratio = fmt.Sprintf("%.2fx", r.P99Ratio)
	}
	fmt.Fprintf(w, "%-12s sent %6d acked %6d denied %d unanswered %d delivered %d/%d lost %d dropped %d  ack p50 %.2f ms p99 %.2f ms (%s)  attack ops %d  alive %v",
		r.Phase, r.Sent, r.Acked, r.Denied, r.Unanswered, r.Delivered, r.Expected, r.Lost, r.Dropped, r.P50ms, r.P99ms, ratio, r.AttackOps, r.Alive)
	if r.RSSMB > 0 {
		fmt.Fprintf(w, "  rss %.0f MB", r.RSSMB)
	}
	if len(r.DenialsBy) > 0 {
		fmt.Fprintf(w, "  denials: %v", r.DenialsBy)
	}
	if r.AttackerNote != "" {
		fmt.Fprintf(w, "  (%s)", r.AttackerNote)
	}
	fmt.Fprintln(w)
}

// runPhase runs the legitimate clients for cfg.duration with attack name
// running beside them.
func runPhase(cfg config, name string) result {
	r := result{Phase: name}
	var clients []*legitClient
	for i := range cfg.legit {
		c, err := dialLegit(cfg, fmt.Sprintf("L%d", i), fmt.Sprintf("room-%d", i%cfg.rooms))
		if err != nil {
			fail("legitimate client %d: %v", i, err)
		}
		clients = append(clients, c)
	}
	roomSize := make(map[string]int64)
	for _, c := range clients {
		roomSize[c.room]++
	}

	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration)
	var ops atomic.Int64
	note := make(chan string, 1)
	var wg sync.WaitGroup
	if a := attacks[name]; a != nil {
		for i := range cfg.attackers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if s := a(ctx, cfg, i, &ops); s != "" {
					select {
					case note <- s:
					default:
					}
				}
			}()
		}
	}
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.send(ctx, cfg.rate)
		}()
	}
	<-ctx.Done()
	cancel()
	if cfg.pid > 0 {
		r.RSSMB = rssMB(cfg.pid)
	}
	wg.Wait()

	// Let acks and deliveries in flight arrive.
	settle := time.Now().Add(5 * time.Second)
	for time.Now().Before(settle) {
		if pending(clients) == 0 && delivered(clients) >= expected(clients, roomSize) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var lat []time.Duration
	for _, c := range clients {
		c.mu.Lock()
		r.Sent += c.sent
		r.Acked += c.acked
		r.Denied += c.denied
		r.Unanswered += int64(len(c.inflight))
		lat = append(lat, c.latencies...)
		for k, n := range c.reasons {
			if r.DenialsBy == nil {
				r.DenialsBy = make(map[string]int)
			}
			r.DenialsBy[k] += n
		}
		c.mu.Unlock()
		if c.dropped.Load() {
			r.Dropped++
		}
		c.close()
	}
	r.Expected = expected(clients, roomSize)
	r.Delivered = delivered(clients)
	r.Lost = max(r.Expected-r.Delivered, 0)
	slices.Sort(lat)
	r.P50ms, r.P99ms = quantile(lat, 0.50), quantile(lat, 0.99)
	r.AttackOps = ops.Load()
	r.Alive = alive(cfg)
	select {
	case r.AttackerNote = <-note:
	default:
	}
	return r
}

func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(q*float64(len(sorted)-1))]) / 1e6
}

func pending(cs []*legitClient) (n int) {
	for _, c := range cs {
		c.mu.Lock()
		n += len(c.inflight)
		c.mu.Unlock()
	}
	return n
}

func delivered(cs []*legitClient) (n int64) {
	for _, c := range cs {
		n += c.received.Load()
	}
	return n
}

// expected counts the deliveries the acked events owe: each reaches the
// rest of its sender's room.
func expected(cs []*legitClient, roomSize map[string]int64) (n int64) {
	for _, c := range cs {
		c.mu.Lock()
		n += c.acked * (roomSize[c.room] - 1)
		c.mu.Unlock()
	}
	return n
}

// alive reports whether hubd still answers a new Socket.IO connection.
func alive(cfg config) bool {
	c, err := dialLegit(cfg, "probe", "probe")
	if err != nil {
		return false
	}
	c.close()
	return true
}

func rssMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// A legitimate client: one Socket.IO socket on "/" in one room.
type legitClient struct {
	id, room string
	ws       *websocket.Conn
	wmu      sync.Mutex
	mu       sync.Mutex
	nextAck  int
	inflight map[int]time.Time
	sent     int64
	acked    int64
	denied   int64
	reasons  map[string]int // denials by answer
	// latencies of answered acks
	latencies []time.Duration
	received  atomic.Int64
	dropped   atomic.Bool
	closing   atomic.Bool
	done      chan struct{}
}

func wsURL(cfg config) string {
	u := *cfg.base
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = "/socket.io/"
	u.RawQuery = "EIO=4&transport=websocket"
	return u.String()
}

// dialSocket opens a WebSocket session and connects it to "/".
func dialSocket(cfg config) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.Dial(wsURL(cfg), nil)
	if err != nil {
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, p, err := ws.ReadMessage(); err != nil || len(p) == 0 || p[0] != '0' {
		ws.Close()
		return nil, fmt.Errorf("no open packet: %v", err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		ws.Close()
		return nil, err
	}
	for {
		_, p, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return nil, fmt.Errorf("no connect answer: %w", err)
		}
		if bytes.HasPrefix(p, []byte("40")) {
			break
		}
		if bytes.HasPrefix(p, []byte("44")) {
			ws.Close()
			return nil, fmt.Errorf("connect refused: %s", p)
		}
	}
	_ = ws.SetReadDeadline(time.Time{})
	return ws, nil
}

// join makes the socket join room and waits for the ack.
func join(ws *websocket.Conn, room string) error {
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer ws.SetReadDeadline(time.Time{})
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`420["hub:join",`+strconv.Quote(room)+`]`)); err != nil {
		return err
	}
	for {
		_, p, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		if string(p) == "2" {
			_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		if bytes.HasPrefix(p, []byte("430")) {
			if !bytes.Contains(p, []byte(`"ok":true`)) {
				return fmt.Errorf("join refused: %s", p)
			}
			return nil
		}
	}
}

func dialLegit(cfg config, id, room string) (*legitClient, error) {
	ws, err := dialSocket(cfg)
	if err != nil {
		return nil, err
	}
	if err := join(ws, room); err != nil {
		ws.Close()
		return nil, err
	}
	c := &legitClient{id: id, room: room, ws: ws, inflight: make(map[int]time.Time), reasons: make(map[string]int), nextAck: 1, done: make(chan struct{})}
	go c.read()
	return c, nil
}

func (c *legitClient) write(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, p)
}

// send emits chat events with acks at rate per second until ctx ends.
func (c *legitClient) send(ctx context.Context, rate float64) {
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		id := c.nextAck
		c.nextAck++
		c.inflight[id] = time.Now()
		c.sent++
		c.mu.Unlock()
		msg := fmt.Sprintf(`42%d["chat",{"from":%q,"n":%d,"text":"hello from a legitimate client"}]`, id, c.id, n)
		if err := c.write([]byte(msg)); err != nil {
			return
		}
	}
}

func (c *legitClient) read() {
	defer close(c.done)
	for {
		_, p, err := c.ws.ReadMessage()
		if err != nil {
			if !c.closing.Load() {
				c.dropped.Store(true)
			}
			return
		}
		switch {
		case string(p) == "2":
			_ = c.write([]byte("3"))
		case bytes.HasPrefix(p, []byte("43")):
			c.onAck(p[2:])
		case bytes.HasPrefix(p, []byte(`42["chat",{"from":"L`)):
			c.received.Add(1)
		}
	}
}

// onAck takes "<id>[...]".
func (c *legitClient) onAck(p []byte) {
	i := bytes.IndexByte(p, '[')
	if i < 1 {
		return
	}
	id, err := strconv.Atoi(string(p[:i]))
	if err != nil {
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	start, ok := c.inflight[id]
	if !ok {
		return
	}
	delete(c.inflight, id)
	c.latencies = append(c.latencies, now.Sub(start))
	if bytes.Contains(p, []byte(`"ok":true`)) {
		c.acked++
	} else {
		c.denied++
		if len(c.reasons) < 8 {
			c.reasons[string(p[i:])]++
		}
	}
}

func (c *legitClient) close() {
	c.closing.Store(true)
	_ = c.ws.Close()
	<-c.done
}

// --- attacks ---------------------------------------------------------------

// An attack runs until ctx ends, counting its operations in ops; it may
// return a note for the report.
type attack func(ctx context.Context, cfg config, i int, ops *atomic.Int64) string

var attacks = map[string]attack{
	"ws-overflow": wsOverflow,
	"deep-args":   everyTick(100, socketSender(deepArgs)),
	"utf8-api":    everyTick(100, apiUTF8),
	"utf8-client": everyTick(100, socketSender(badUTF8)),
	"big-header":  bigHeader,
	"regex":       everyTick(20, socketSender(backtrack)),
	"js-memory":   everyTick(20, socketSender(hugeIndent)),
	"namespaces":  everyTick(2, namespaceFlood),
	"slowloris":   slowloris,
	"no-connect":  everyTick(50, noConnect),
}

func attackNames() []string {
	var names []string
	for n := range attacks {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// everyTick runs op perSecond times a second. op gets the state made by
// its first call's setup (see socketSender).
func everyTick(perSecond int, op func(ctx context.Context, cfg config, i int) error) attack {
	return func(ctx context.Context, cfg config, i int, ops *atomic.Int64) string {
		t := time.NewTicker(time.Second / time.Duration(perSecond))
		defer t.Stop()
		var lastErr error
		for {
			select {
			case <-ctx.Done():
				if lastErr != nil {
					return lastErr.Error()
				}
				return ""
			case <-t.C:
			}
			if err := op(ctx, cfg, i); err != nil {
				lastErr = err
				continue
			}
			ops.Add(1)
		}
	}
}

var (
	deepArgs   = []byte(`42["chat",` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `]`)
	badUTF8    = []byte("42[\"chat\",{\"from\":\"attacker\",\"text\":\"\xff\xfe\xfd\"}]")
	backtrack  = []byte(`42["chat",{"from":"attacker","text":"aaaaaaaaaaaaaaaaaaaaaaaaa!"}]`)
	hugeIndent = []byte(`42["chat",{"from":"attacker","text":"x","indent":1073741824}]`)
)

// socketSender sends msg on the attacker's socket, which has joined the
// legitimate room of the same number; the socket is opened again if hubd
// closed it.
func socketSender(msg []byte) func(ctx context.Context, cfg config, i int) error {
	var mu sync.Mutex
	socks := map[int]*websocket.Conn{}
	return func(ctx context.Context, cfg config, i int) error {
		mu.Lock()
		ws := socks[i]
		mu.Unlock()
		if ws == nil {
			var err error
			if ws, err = dialSocket(cfg); err != nil {
				return err
			}
			if err := join(ws, fmt.Sprintf("room-%d", i%cfg.rooms)); err != nil {
				ws.Close()
				return err
			}
			go func() { // drain, answer pings; forget the socket once closed
				for {
					_, p, err := ws.ReadMessage()
					if err != nil {
						mu.Lock()
						delete(socks, i)
						mu.Unlock()
						return
					}
					if string(p) == "2" {
						_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
					}
				}
			}()
			context.AfterFunc(ctx, func() { ws.Close() })
			mu.Lock()
			socks[i] = ws
			mu.Unlock()
		}
		return ws.WriteMessage(websocket.TextMessage, msg)
	}
}

// rawUpgrade opens a TCP connection and completes a WebSocket handshake by
// hand, so that the frames after it can be anything.
func rawUpgrade(cfg config) (net.Conn, error) {
	nc, err := net.DialTimeout("tcp", cfg.base.Host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + cfg.base.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, "101") {
		nc.Close()
		return nil, fmt.Errorf("upgrade refused: %q %v", status, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			nc.Close()
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	_ = nc.SetReadDeadline(time.Time{})
	return nc, nil
}

// frameHeader is a masked client frame header announcing n payload bytes.
func frameHeader(b0 byte, n uint64) []byte {
	h := []byte{b0}
	switch {
	case n < 126:
		h = append(h, 0x80|byte(n))
	case n < 1<<16:
		h = append(h, 0x80|126, byte(n>>8), byte(n))
	default:
		h = append(h, 0x80|127)
		for s := 56; s >= 0; s -= 8 {
			h = append(h, byte(n>>s))
		}
	}
	return append(h, 0, 0, 0, 0) // a zero mask key
}

// wsOverflow sends the two frames that crashed hubd, ten times a second.
func wsOverflow(ctx context.Context, cfg config, i int, ops *atomic.Int64) string {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-t.C:
		}
		nc, err := rawUpgrade(cfg)
		if err != nil {
			return "upgrade failed: " + err.Error()
		}
		frames := append(frameHeader(0x01, 1), 'x')            // text, not final, 1 byte
		frames = append(frames, frameHeader(0x80, 1<<63-1)...) // continuation, final, 2^63-1
		_, _ = nc.Write(frames)
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(io.Discard, nc) // until hubd closes it
		nc.Close()
		ops.Add(1)
	}
}

// bigHeader holds 60 connections that each announced 999,000 bytes.
func bigHeader(ctx context.Context, cfg config, i int, ops *atomic.Int64) string {
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 60 {
		nc, err := rawUpgrade(cfg)
		if err != nil {
			return err.Error()
		}
		if _, err := nc.Write(frameHeader(0x82, 999_000)); err != nil {
			nc.Close()
			return err.Error()
		}
		conns = append(conns, nc)
		ops.Add(1)
	}
	<-ctx.Done()
	return ""
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func apiUTF8(ctx context.Context, cfg config, i int) error {
	body := fmt.Sprintf("{\"rooms\":\"room-%d\",\"event\":\"chat\",\"args\":[{\"from\":\"api\",\"text\":\"\xff\xfe\"}]}", i%cfg.rooms)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cfg.base.JoinPath("/api/emit").String(), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+cfg.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

// pollingHandshake opens a long-polling session and returns its sid.
func pollingHandshake(ctx context.Context, cfg config) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.base.JoinPath("/socket.io/").String()+"?EIO=4&transport=polling", nil)
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var open struct {
		SID string `json:"sid"`
	}
	if len(b) < 2 || json.Unmarshal(b[1:], &open) != nil || open.SID == "" {
		return "", fmt.Errorf("handshake answered %d %q", resp.StatusCode, b)
	}
	return open.SID, nil
}

// floodBodies are the four POST bodies of a namespace flood, each with
// 5,000 CONNECTs to distinct namespaces, built once so that the load tool
// spends its CPU on sending, not on formatting.
var floodBodies = sync.OnceValue(func() []string {
	var bodies []string
	for k := range 4 {
		var b strings.Builder
		for i := range 5000 {
			if i > 0 {
				b.WriteByte(0x1e)
			}
			fmt.Fprintf(&b, "40/team-%d,", k*5000+i)
		}
		bodies = append(bodies, b.String())
	}
	return bodies
})

// namespaceFlood asks one polling session for 4×5,000 distinct dynamic
// namespaces.
func namespaceFlood(ctx context.Context, cfg config, i int) error {
	sid, err := pollingHandshake(ctx, cfg)
	if err != nil {
		return err
	}
	for _, body := range floodBodies() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
			cfg.base.JoinPath("/socket.io/").String()+"?EIO=4&transport=polling&sid="+sid, strings.NewReader(body))
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil // refused: that is the server defending itself
		}
	}
	return nil
}

func noConnect(ctx context.Context, cfg config, i int) error {
	_, err := pollingHandshake(ctx, cfg)
	return err
}

// slowloris holds idle keep-alive connections and API bodies that trickle.
func slowloris(ctx context.Context, cfg config, i int, ops *atomic.Int64) string {
	var wg sync.WaitGroup
	hold := func(body bool) {
		defer wg.Done()
		for ctx.Err() == nil {
			nc, err := net.DialTimeout("tcp", cfg.base.Host, 5*time.Second)
			if err != nil {
				return
			}
			context.AfterFunc(ctx, func() { nc.Close() })
			ops.Add(1)
			if body {
				_, err = io.WriteString(nc, "POST /api/emit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+cfg.apiKey+
					"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
				for err == nil && ctx.Err() == nil {
					time.Sleep(time.Second)
					_, err = nc.Write([]byte(" "))
				}
			} else {
				_, err = io.WriteString(nc, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
				if err == nil {
					_, _ = io.Copy(io.Discard, nc) // idle until hubd closes it
				}
			}
			nc.Close()
		}
	}
	for range 125 {
		wg.Add(1)
		go hold(false)
	}
	for range 25 {
		wg.Add(1)
		go hold(true)
	}
	wg.Wait()
	return ""
}
