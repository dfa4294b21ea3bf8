package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/sdk/wire"
)

// Grant revocation: a revocation names sockets of a namespace — by room,
// by id, or by a value in their data — and puts their grants back to the
// plugins: the join hook again for each of their rooms (they leave the
// rooms it now refuses), or the connect hook (they are disconnected when
// it now refuses). Every node of a cluster re-decides its own sockets and
// answers its counts.

// Bounds of a revocation's selectors, so that neither an API caller nor a
// plugin can make the host match against unbounded input.
const (
	// MaxRevokeRooms is the most rooms a revocation may name.
	MaxRevokeRooms = 256
	// MaxRevokeSockets is the most socket ids a revocation may name.
	MaxRevokeSockets = 1024
	// MaxRevokePathDepth is the most segments a data path may have.
	MaxRevokePathDepth = 16
	// MaxRevokePathBytes is the longest data path.
	MaxRevokePathBytes = 256
	// MaxRevokeValueBytes is the largest value a data selector compares.
	MaxRevokeValueBytes = 1024
	// maxRevokeNameBytes bounds one room name or socket id.
	maxRevokeNameBytes = 256
	// maxRevokeBytes bounds a revocation's JSON.
	maxRevokeBytes = 64 << 10
)

// Recheck names the hook a revocation puts the sockets' grants to.
type Recheck string

const (
	// RecheckJoin re-runs the join hook for each room of the socket (the
	// default); the socket leaves the rooms it refuses.
	RecheckJoin Recheck = "join"
	// RecheckConnect re-runs the connect hook; the socket is disconnected
	// when it refuses.
	RecheckConnect Recheck = "connect"
)

// EventRevoked is the event a socket is sent when a revocation takes
// rooms from it or disconnects it, before it leaves or is disconnected:
// {rooms: [...], reason} or {disconnected: true, reason}.
const EventRevoked = "hub:revoked"

// Revocation names the sockets whose grants to re-decide: those of
// Namespace that match every selector given — in any of Rooms, with any
// of the ids of Sockets, with Data's value at Data's path. At least one
// selector is required.
type Revocation struct {
	// Namespace is the sockets' namespace ("/" when empty).
	Namespace string `json:"namespace"`
	// Rooms selects the sockets in any of these rooms; a join recheck
	// then re-decides these rooms only, not the sockets' others.
	Rooms []string `json:"rooms,omitempty"`
	// Sockets selects the sockets with these ids.
	Sockets []string `json:"sockets,omitempty"`
	// Data selects the sockets whose data holds a value at a path.
	Data *DataSelector `json:"data,omitempty"`
	// Recheck is the hook to re-run: "join" (the default) or "connect".
	Recheck Recheck `json:"recheck,omitempty"`
}

// DataSelector matches sockets whose data (hub.Socket.Data, as JSON) holds
// Equals at Path.
type DataSelector struct {
	// Path is a dot-separated path in the socket's data, e.g. "user.sub";
	// a segment of digits indexes an array.
	Path string `json:"path"`
	// Equals is the JSON value to compare (objects compare key by key,
	// numbers by value).
	Equals json.RawMessage `json:"equals"`
}

// ErrBadRevocation is wrapped by the errors of a revocation that cannot
// be carried out as given.
var ErrBadRevocation = errors.New("bad revocation")

// ParseRevocation reads a revocation from JSON, rejecting unknown fields,
// and validates it.
func ParseRevocation(raw []byte) (Revocation, error) {
	var rev Revocation
	if len(raw) > maxRevokeBytes {
		return rev, fmt.Errorf("%w: %d bytes of JSON, at most %d", ErrBadRevocation, len(raw), maxRevokeBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rev); err != nil {
		return Revocation{}, fmt.Errorf("%w: %s", ErrBadRevocation, revokeJSONProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Revocation{}, fmt.Errorf("%w: more than one JSON value", ErrBadRevocation)
	}
	return rev, rev.Validate()
}

func revokeJSONProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return "a revocation is a JSON object such as {\"namespace\": \"/\", \"rooms\": [\"vip\"]}"
		}
		want := map[reflect.Kind]string{reflect.Slice: "array", reflect.Struct: "object", reflect.Ptr: "object", reflect.String: "string"}[te.Type.Kind()]
		if want == "" {
			want = "value"
		}
		return fmt.Sprintf("%s must be a JSON %s, not %s", te.Field, want, te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// Validate reports every problem of the revocation at once, joined in one
// error wrapping ErrBadRevocation.
func (r Revocation) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadRevocation}, args...)...))
	}
	if len(r.Namespace) > maxRevokeNameBytes {
		bad("namespace is %d bytes long, at most %d", len(r.Namespace), maxRevokeNameBytes)
	}
	if len(r.Rooms) == 0 && len(r.Sockets) == 0 && r.Data == nil {
		bad(`no selector: give "rooms", "sockets" or "data" (a revocation of a whole namespace must name it)`)
	}
	checkNames := func(field string, names []string, limit int) {
		if len(names) > limit {
			bad("%s has %d names, at most %d: split the revocation", field, len(names), limit)
			return
		}
		for i, n := range names {
			if n == "" || len(n) > maxRevokeNameBytes {
				bad("%s[%d] is %d bytes long: a name has 1 to %d bytes", field, i, len(n), maxRevokeNameBytes)
			}
		}
	}
	checkNames("rooms", r.Rooms, MaxRevokeRooms)
	checkNames("sockets", r.Sockets, MaxRevokeSockets)
	if d := r.Data; d != nil {
		if _, err := splitDataPath(d.Path); err != nil {
			bad("data.path: %v", err)
		}
		switch v := bytes.TrimSpace(d.Equals); {
		case len(v) == 0:
			bad(`data.equals is missing: give the JSON value to compare, e.g. "u123"`)
		case len(v) > MaxRevokeValueBytes:
			bad("data.equals is %d bytes of JSON, at most %d", len(v), MaxRevokeValueBytes)
		case !json.Valid(v):
			bad("data.equals is not a JSON value")
		}
	}
	switch r.Recheck {
	case "", RecheckJoin, RecheckConnect:
	default:
		bad("recheck %q: use \"join\" (the default) or \"connect\"", r.Recheck)
	}
	return errors.Join(errs...)
}

// splitDataPath splits a data path into its segments.
func splitDataPath(path string) ([]string, error) {
	switch {
	case path == "":
		return nil, errors.New(`empty: give a dot-separated path such as "user.sub"`)
	case len(path) > MaxRevokePathBytes:
		return nil, fmt.Errorf("%d bytes long, at most %d", len(path), MaxRevokePathBytes)
	}
	n := strings.Count(path, ".") + 1
	if n > MaxRevokePathDepth {
		return nil, fmt.Errorf("%d segments deep, at most %d", n, MaxRevokePathDepth)
	}
	segs := strings.Split(path, ".")
	for i, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("segment %d of %q is empty", i+1, path)
		}
	}
	return segs, nil
}

// NodeRevocation is what one node did for a revocation.
type NodeRevocation struct {
	// Node names the node (RevokeOptions.Node).
	Node string `json:"node"`
	// Matched is the number of its sockets the selectors matched.
	Matched int `json:"matched"`
	// Left is the number of memberships the join hook now refused: one
	// for each room a socket left.
	Left int `json:"left"`
	// Disconnected is the number of sockets the connect hook now refused.
	Disconnected int `json:"disconnected"`
	// Error says why the node could not carry the revocation out.
	Error string `json:"error,omitempty"`
}

// RevokeResult is a revocation's outcome across the cluster: the totals,
// each node's part, this one first, and the nodes that did not answer.
type RevokeResult struct {
	Matched      int              `json:"matched"`
	Left         int              `json:"left"`
	Disconnected int              `json:"disconnected"`
	Nodes        []NodeRevocation `json:"nodes"`
	// Errors name what went wrong: other nodes that did not answer by the
	// timeout, nodes that could not carry it out.
	Errors []string `json:"errors,omitempty"`
}

func (r *RevokeResult) add(n NodeRevocation) {
	r.Matched += n.Matched
	r.Left += n.Left
	r.Disconnected += n.Disconnected
	r.Nodes = append(r.Nodes, n)
	if n.Error != "" {
		r.Errors = append(r.Errors, "node "+n.Node+": "+n.Error)
	}
}

// Defaults of RevokeOptions.
const (
	DefaultRevokeConcurrency = 32
	DefaultRevokeTimeout     = 5 * time.Second
	DefaultRevokeQueue       = 64
	DefaultRevokeRate        = 1.0
	DefaultRevokeBurst       = 10
)

// RevokeOptions configure revocations (Host.ServeRevocations). The zero
// value is the default.
type RevokeOptions struct {
	// Node names this node in revocation results (default: the host name
	// and a random suffix).
	Node string
	// Concurrency is the most sockets this node re-decides at once, per
	// revocation (default 32); the plugins' pools bound the calls further.
	Concurrency int
	// Timeout bounds the wait for the other nodes' answers (default 5s).
	Timeout time.Duration
	// Queue is how many revocations plugins may have waiting (default
	// 64); past it, hubd.revoke fails.
	Queue int
	// Rate is how many revocations per second one plugin may ask for, on
	// average (default 1), Burst how many at once (default 10).
	Rate  float64
	Burst int
	// Left, when set, is called after a revocation made s leave rooms, on
	// the node of s: where the relay announces leaves (presence), give the
	// rooms' other members the same notice here, since the relay sees only
	// its clients' hub:leave.
	Left func(s *hub.Socket, rooms []string)
}

// Validate reports every problem of the options at once.
func (o RevokeOptions) Validate() error {
	var errs []error
	if o.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("revoke concurrency is %d: give a positive number of sockets (0 for %d)", o.Concurrency, DefaultRevokeConcurrency))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("revoke timeout is %v: give a positive duration (0 for %v)", o.Timeout, DefaultRevokeTimeout))
	}
	if o.Queue < 0 || o.Burst < 0 || o.Rate < 0 || math.IsNaN(o.Rate) {
		errs = append(errs, fmt.Errorf("revoke queue, rate and burst must be positive (0 for %d, %v and %d)", DefaultRevokeQueue, DefaultRevokeRate, DefaultRevokeBurst))
	}
	return errors.Join(errs...)
}

func (o RevokeOptions) withDefaults() RevokeOptions {
	if o.Node == "" {
		name, _ := os.Hostname()
		if name == "" {
			name = "node"
		}
		o.Node = name + "-" + strconv.FormatUint(uint64(time.Now().UnixNano())&0xffffff, 36)
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultRevokeConcurrency
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultRevokeTimeout
	}
	if o.Queue == 0 {
		o.Queue = DefaultRevokeQueue
	}
	if o.Rate == 0 {
		o.Rate = DefaultRevokeRate
	}
	if o.Burst == 0 {
		o.Burst = DefaultRevokeBurst
	}
	return o
}

// maxRunningRevocations bounds the revocations a node carries out at once;
// the others wait their turn, within their timeout.
const maxRunningRevocations = 4

// revokeEvent is the server-side event that carries a revocation to the
// other nodes, on the main namespace, which every node has.
const revokeEvent = "hubd:revoke"

// Revoker carries out revocations on a hub.Server's sockets with a host's
// plugins. Make it with Host.ServeRevocations.
type Revoker struct {
	h    *Host
	srv  *hub.Server
	opts RevokeOptions

	queue chan queuedRevocation
	// running admits maxRunningRevocations local runs at once, whoever
	// asked (the API, a plugin, another node).
	running chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}

	mu      sync.Mutex
	buckets map[string]*bucket // by plugin
}

type queuedRevocation struct {
	plugin string
	rev    Revocation
}

// ServeRevocations makes the revoker of srv's sockets, which every node of
// a cluster must have: it answers the revocations of the other nodes, and
// serves hubd.revoke to the host's plugins with the "revoke" capability.
// Close it before srv.
func (h *Host) ServeRevocations(srv *hub.Server, o RevokeOptions) (*Revoker, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	r := &Revoker{h: h, srv: srv, opts: o.withDefaults(), buckets: make(map[string]*bucket), done: make(chan struct{})}
	r.queue = make(chan queuedRevocation, r.opts.Queue)
	r.running = make(chan struct{}, maxRunningRevocations)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	srv.Of("/").OnServerSideEmit(revokeEvent, r.onRemote)
	h.revoker.Store(r)
	go r.drain()
	return r, nil
}

// Close stops serving revocations: queued ones are dropped, running ones
// end early.
func (r *Revoker) Close() error {
	r.h.revoker.CompareAndSwap(r, nil)
	r.srv.Of("/").OnServerSideEmit(revokeEvent, nil)
	r.cancel()
	<-r.done
	return nil
}

// Node is the name of this node in results.
func (r *Revoker) Node() string { return r.opts.Node }

// Revoke carries out rev on every node and returns what each did. The
// error is rev's problem, if any; a node that fails or does not answer by
// the timeout is named in the result's Errors.
func (r *Revoker) Revoke(ctx context.Context, rev Revocation) (RevokeResult, error) {
	if err := rev.Validate(); err != nil {
		return RevokeResult{}, err
	}
	rev.normalize()
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	type remote struct {
		answers []hub.Args
		err     error
	}
	others := make(chan remote, 1)
	go func() {
		a, err := r.srv.Of("/").ServerSideEmitWithAck(ctx, revokeEvent, rev)
		others <- remote{a, err}
	}()
	var res RevokeResult
	res.add(r.local(ctx, rev))
	o := <-others
	for _, a := range o.answers {
		var n NodeRevocation
		if err := json.Unmarshal(a.At(0), &n); err != nil {
			res.Errors = append(res.Errors, "a node answered garbage: "+err.Error())
			continue
		}
		res.add(n)
	}
	if o.err != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("%d other node(s) answered; the others did not within %v: %v", len(o.answers), r.opts.Timeout, o.err))
	}
	return res, nil
}

func (rev *Revocation) normalize() {
	switch {
	case rev.Namespace == "":
		rev.Namespace = "/"
	case !strings.HasPrefix(rev.Namespace, "/"):
		rev.Namespace = "/" + rev.Namespace
	}
	if rev.Recheck == "" {
		rev.Recheck = RecheckJoin
	}
}

// onRemote carries out another node's revocation and answers its counts.
func (r *Revoker) onRemote(e *hub.ServerEvent) {
	var rev Revocation
	err := json.Unmarshal(e.Args.At(0), &rev)
	if err == nil {
		err = rev.Validate()
	}
	go func() {
		var n NodeRevocation
		if err != nil {
			n = NodeRevocation{Node: r.opts.Node, Error: "cannot read the revocation: " + err.Error()}
		} else {
			rev.normalize()
			ctx, cancel := context.WithTimeout(r.ctx, r.opts.Timeout)
			n = r.local(ctx, rev)
			cancel()
		}
		if e.WantsAck() {
			_ = e.Ack(n)
		}
	}()
}

// local re-decides this node's sockets that rev selects, Concurrency at
// a time.
func (r *Revoker) local(ctx context.Context, rev Revocation) NodeRevocation {
	out := NodeRevocation{Node: r.opts.Node}
	nsp := r.srv.Namespace(rev.Namespace)
	if nsp == nil {
		return out // no socket of it here
	}
	m, err := newMatcher(rev)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	select {
	case r.running <- struct{}{}:
		defer func() { <-r.running }()
	case <-ctx.Done():
		out.Error = "too many revocations at once: this one waited past its timeout"
		return out
	}
	var sockets []*hub.Socket
	if len(rev.Sockets) > 0 {
		seen := make(map[string]bool, len(rev.Sockets))
		for _, id := range rev.Sockets {
			if seen[id] {
				continue
			}
			seen[id] = true
			if s := nsp.Socket(id); s != nil && m.match(s) {
				sockets = append(sockets, s)
			}
		}
	} else {
		for _, s := range nsp.Sockets() {
			if m.match(s) {
				sockets = append(sockets, s)
			}
		}
	}
	out.Matched = len(sockets)
	if len(sockets) == 0 {
		return out
	}
	t := r.h.current.Load()
	hook := HookJoin
	if rev.Recheck == RecheckConnect {
		hook = HookConnect
	}
	if !t.subscribed(hook, rev.Namespace, "") {
		return out // no plugin decides it: nothing can be refused now
	}
	var (
		wg          sync.WaitGroup
		mu          sync.Mutex
		next        int
		left, gone  int
		workers     = min(r.opts.Concurrency, len(sockets))
		interrupted bool
	)
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				if next == len(sockets) || ctx.Err() != nil {
					interrupted = interrupted || next < len(sockets)
					mu.Unlock()
					return
				}
				s := sockets[next]
				next++
				mu.Unlock()
				var l, g int
				if hook == HookConnect {
					g = r.recheckConnect(t, s)
				} else {
					l = r.recheckJoin(t, s, rev.Rooms)
				}
				mu.Lock()
				left += l
				gone += g
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	out.Left, out.Disconnected = left, gone
	if interrupted {
		out.Error = "stopped before every socket was re-decided: " + context.Cause(ctx).Error()
	}
	return out
}

// revokedNotice is the payload of EventRevoked.
type revokedNotice struct {
	Rooms        []string `json:"rooms,omitempty"`
	Disconnected bool     `json:"disconnected,omitempty"`
	Reason       string   `json:"reason,omitempty"`
}

// recheckJoin puts each of s's rooms (those of only, when given) to the
// join hook again, one room per call, and makes s leave those it refuses;
// it returns how many it left.
func (r *Revoker) recheckJoin(t *table, s *hub.Socket, only []string) int {
	rooms := slices.Clone(s.JoinedRooms()) // the socket's list is shared
	if len(only) > 0 {
		rooms = slices.DeleteFunc(rooms, func(room string) bool { return !slices.Contains(only, room) })
	}
	var refused []string
	reason := ""
	for _, room := range rooms {
		env := socketEnvelope(HookJoin, s)
		env.Rooms = []string{room}
		d := r.h.decideRevocation(s.Context(), t, &env)
		switch {
		case d.Action == Deny || d.Action == Drop || d.Action == Disconnect || d.Action == Reply:
			reason = reasonOr(d.Reason, "join refused")
		case d.Rooms != nil && !slices.Contains(d.Rooms, room):
			reason = "join refused"
		default:
			continue
		}
		refused = append(refused, room)
	}
	if len(refused) == 0 || !s.Connected() {
		return 0
	}
	_ = s.Emit(EventRevoked, revokedNotice{Rooms: refused, Reason: reason})
	_ = s.Leave(refused...)
	if r.opts.Left != nil {
		r.opts.Left(s, refused)
	}
	return len(refused)
}

// recheckConnect puts s to the connect hook again and disconnects it when
// the hook refuses; it returns 1 when it did.
func (r *Revoker) recheckConnect(t *table, s *hub.Socket) int {
	env := socketEnvelope(HookConnect, s)
	hs := s.Handshake()
	env.Handshake = &Handshake{Auth: wire.Raw(hs.Auth), Query: firstValues(hs.Query()), Headers: lowerHeaders(hs.Headers), Address: hs.Address}
	d := r.h.decideRevocation(s.Context(), t, &env)
	switch d.Action {
	case Deny, Drop, Disconnect, Reply:
	default:
		return 0
	}
	if !s.Connected() {
		return 0
	}
	_ = s.Emit(EventRevoked, revokedNotice{Disconnected: true, Reason: reasonOr(d.Reason, "connect refused")})
	s.Disconnect(false)
	return 1
}

// decideRevocation runs t's chain for env on behalf of a revocation, and
// records the decision, marked as a revocation's, in the socket's trace.
func (h *Host) decideRevocation(ctx context.Context, t *table, env *Envelope) Decision {
	c := h.tracer.on()
	if c == nil {
		return t.run(ctx, env.Hook, env, nil)
	}
	tb := traceBuf{revocation: true}
	d := t.run(ctx, env.Hook, env, &tb)
	h.tracer.record(c, env.Socket.ID, env.Namespace, ctx, slot(env.Hook), "", &tb, &d, nil)
	return d
}

// matcher tests sockets against a revocation's rooms and data selectors
// (socket ids are looked up, not matched).
type matcher struct {
	rooms  []string
	path   []string
	equals any
}

func newMatcher(rev Revocation) (*matcher, error) {
	m := &matcher{rooms: rev.Rooms}
	if d := rev.Data; d != nil {
		var err error
		if m.path, err = splitDataPath(d.Path); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(d.Equals, &m.equals); err != nil {
			return nil, fmt.Errorf("data.equals: %w", err)
		}
	}
	return m, nil
}

func (m *matcher) match(s *hub.Socket) bool {
	if len(m.rooms) > 0 && !slices.ContainsFunc(m.rooms, s.In) {
		return false
	}
	return m.path == nil || m.matchData(socketData(s))
}

// matchData reports whether the socket data raw holds m's value at m's
// path.
func (m *matcher) matchData(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	for _, seg := range m.path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return false
			}
			v = x[i]
		default:
			return false
		}
	}
	return reflect.DeepEqual(v, m.equals)
}

// Revocations asked for by plugins (hubd.revoke) are queued and carried
// out one at a time, off the hook that asked, each plugin within its rate.

// ErrRevokeRefused is wrapped by the errors of a plugin's revocation that
// was not queued.
var ErrRevokeRefused = errors.New("revocation refused")

// request validates a plugin's revocation and queues it.
func (r *Revoker) request(plugin string, raw []byte) error {
	rev, err := ParseRevocation(raw)
	if err != nil {
		return err
	}
	if !r.allow(plugin) {
		return fmt.Errorf("%w: plugin %s asks for more than %v revocations per second (burst %d)", ErrRevokeRefused, plugin, r.opts.Rate, r.opts.Burst)
	}
	select {
	case r.queue <- queuedRevocation{plugin: plugin, rev: rev}:
		return nil
	default:
		return fmt.Errorf("%w: %d revocations are waiting already", ErrRevokeRefused, r.opts.Queue)
	}
}

// drain carries out the queued revocations until the revoker closes.
func (r *Revoker) drain() {
	defer close(r.done)
	for {
		select {
		case <-r.ctx.Done():
			return
		case q := <-r.queue:
			res, err := r.Revoke(r.ctx, q.rev)
			if err != nil || len(res.Errors) > 0 {
				r.h.logger.Warn("plugin revocation", "plugin", q.plugin, "namespace", q.rev.Namespace, "err", err, "errors", res.Errors)
				continue
			}
			r.h.logger.Info("plugin revocation", "plugin", q.plugin, "namespace", q.rev.Namespace,
				"matched", res.Matched, "left", res.Left, "disconnected", res.Disconnected)
		}
	}
}

// bucket is a plugin's token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

// allow takes a token from plugin's bucket.
func (r *Revoker) allow(plugin string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	b := r.buckets[plugin]
	if b == nil {
		if len(r.buckets) >= maxRevokeBuckets {
			clear(r.buckets) // plugins come and go with reloads; start afresh
		}
		b = &bucket{tokens: float64(r.opts.Burst), last: now}
		r.buckets[plugin] = b
	}
	b.tokens = min(float64(r.opts.Burst), b.tokens+now.Sub(b.last).Seconds()*r.opts.Rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// maxRevokeBuckets bounds the plugins whose rates are remembered.
const maxRevokeBuckets = 1024

// requestRevocation is what a plugin's hubd.revoke calls.
func (h *Host) requestRevocation(plugin string, raw []byte) error {
	r := h.revoker.Load()
	if r == nil {
		return fmt.Errorf("%w: this server does not serve revocations", ErrRevokeRefused)
	}
	return r.request(plugin, raw)
}

// RevokeJSON reads a revocation from JSON and carries it out: the
// provider of the HTTP API's POST revoke (httpapi.Config.Revoke). Its
// error is the request's problem.
func (r *Revoker) RevokeJSON(ctx context.Context, request json.RawMessage) (any, error) {
	rev, err := ParseRevocation(request)
	if err != nil {
		return nil, err
	}
	return r.Revoke(ctx, rev)
}

// CapabilityRevoke is the manifest capability that lets a plugin ask for
// revocations (hubd.revoke).
const CapabilityRevoke = "revoke"

func hasCapability(m Manifest, c string) bool { return slices.Contains(m.Capabilities, c) }
