package process

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hubd/hubd/host"
	pb "github.com/hubd/hubd/sdk/proto/hubd/v1"
)

// plugin is a loaded process plugin: the process running now (cur), and
// the supervisor that starts it again when it exits.
type plugin struct {
	cfg     Runtime
	spec    host.Spec
	name    string
	log     *slog.Logger
	timeout time.Duration // when the caller's ctx has no deadline

	sem      chan struct{} // one token per call in flight
	callOpts []grpc.CallOption
	bufs     sync.Pool // *[]byte envelope buffers

	cur        atomic.Pointer[instance] // nil while restarting or closed
	mu         sync.Mutex               // guards closed against a restart
	closed     bool
	life       context.Context // canceled by Close
	end        context.CancelFunc
	supervisor sync.WaitGroup
	restarts   atomic.Uint64
	dropped    atomic.Uint64 // observed calls dropped
}

func newPlugin(cfg Runtime, spec host.Spec) *plugin {
	logger := spec.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	timeout := time.Duration(spec.Manifest.Timeout)
	if timeout <= 0 {
		timeout = host.DefaultProcessTimeout
	}
	p := &plugin{
		cfg:     cfg,
		spec:    spec,
		name:    spec.Manifest.Name,
		log:     logger,
		timeout: timeout,
		sem:     make(chan struct{}, cfg.MaxInFlight),
		// A little more than the cap, so that a decision just over it is
		// read and reported with its size.
		callOpts: []grpc.CallOption{grpc.MaxCallRecvMsgSize(cfg.MaxDecisionBytes + 1024)},
	}
	p.life, p.end = context.WithCancel(context.Background())
	p.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	return p
}

// instance is one run of the plugin's process.
type instance struct {
	client  *goplugin.Client
	rpc     pb.PluginClient
	runner  *procRunner
	started time.Time

	hooks   [len(hookNames)]bool // handled hooks
	events  []string             // event globs; nil: all
	observe [len(hookNames)]bool // hooks sent through Observe
	obs     *observer            // nil unless some hook is observed
	host    *hostServer          // nil unless the plugin may call hubd

	stopOnce sync.Once
}

var hookNames = [...]host.Hook{host.HookConnect, host.HookJoin, host.HookLeave, host.HookEvent, host.HookDisconnect}

func hookIndex(h host.Hook) int {
	for i, n := range hookNames {
		if n == h {
			return i
		}
	}
	return -1
}

// grpcPlugin is go-plugin's view of the service, host side.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (grpcPlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error {
	return errors.New("process: the host side serves nothing")
}

func (grpcPlugin) GRPCClient(_ context.Context, broker *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &dispensed{rpc: pb.NewPluginClient(c), broker: broker}, nil
}

// dispensed is a process's client, and the broker through which the
// host serves the process.
type dispensed struct {
	rpc    pb.PluginClient
	broker *goplugin.GRPCBroker
}

// start launches the process, connects and asks it what it handles, within
// StartTimeout or ctx's deadline, whichever comes first; ctx ending kills
// the process and ends the start.
func (p *plugin) start(ctx context.Context) (*instance, error) {
	timeout := p.cfg.StartTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	if err := ctx.Err(); err != nil || timeout <= 0 {
		// go-plugin would take a zero StartTimeout for its default.
		return nil, fmt.Errorf("starting process plugin %s: %w", p.spec.Entry, cmp.Or(err, context.DeadlineExceeded))
	}
	// A start that ctx ends kills the process (or refuses to launch it):
	// go-plugin's handshake takes no context, and Client.Kill waits for it.
	var (
		mu      sync.Mutex
		pr      *procRunner
		stopped bool
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		stopped = true
		r := pr
		mu.Unlock()
		if r != nil {
			_ = r.Kill(context.Background())
		}
	})
	defer stop()
	hl := &hclogger{l: p.log}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  pb.ProtocolVersion,
			MagicCookieKey:   pb.MagicCookieKey,
			MagicCookieValue: pb.MagicCookieValue,
		},
		Plugins: goplugin.PluginSet{pb.PluginName: grpcPlugin{}},
		RunnerFunc: func(_ hclog.Logger, base *exec.Cmd, _ string) (runner.Runner, error) {
			// base carries go-plugin's environment (cookie, socket
			// directory and, if granted, hubd's own).
			cmd := exec.Command(p.spec.Entry)
			cmd.Dir = filepath.Dir(p.spec.Entry)
			cmd.Env = append(base.Env, pb.EnvName+"="+p.name, pb.EnvConfig+"="+string(p.spec.Manifest.Config))
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return nil, errKilled
			}
			r, err := newRunner(p.spec.Entry, cmd)
			pr = r
			return r, err
		},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		// Not Managed: go-plugin never forgets a managed client, so every
		// restart would leak one. Close kills the process, and on Linux it
		// dies with hubd anyway (see setProcAttr).
		Managed:      false,
		StartTimeout: timeout,
		Logger:       hl,
		SkipHostEnv:  !granted(&p.spec.Manifest, CapabilityEnv),
		SyncStdout:   &lineLogger{l: p.log, level: slog.LevelInfo, attrs: []any{"stream", "stdout"}},
		SyncStderr:   &lineLogger{l: p.log, level: slog.LevelInfo, attrs: []any{"stream", "stderr"}},
	})
	inst, err := p.connect(ctx, client, timeout)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err() // killed just as it answered
	}
	if err != nil {
		if inst != nil {
			inst.stop() // its observer and host service too
		} else {
			client.Kill()
		}
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		return nil, fmt.Errorf("starting process plugin %s: %w", p.spec.Entry, err)
	}
	inst.runner = pr
	p.log.Debug("process plugin started", "pid", pr.pid, "hooks", inst.describeHooks())
	return inst, nil
}

func (p *plugin) connect(ctx context.Context, client *goplugin.Client, timeout time.Duration) (*instance, error) {
	proto, err := client.Client()
	if err != nil {
		return nil, err
	}
	raw, err := proto.Dispense(pb.PluginName)
	if err != nil {
		return nil, err
	}
	d, ok := raw.(*dispensed)
	if !ok {
		return nil, fmt.Errorf("dispensed %T, not a plugin client", raw)
	}
	rpc := d.rpc
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	desc, err := rpc.Describe(dctx, &pb.Empty{})
	if err != nil {
		return nil, fmt.Errorf("describe: %w", err)
	}
	inst := &instance{client: client, rpc: rpc, started: time.Now()}
	if err := inst.apply(desc); err != nil {
		return nil, err
	}
	if err := p.bind(dctx, inst, d.broker); err != nil {
		return nil, err
	}
	if slices.Contains(inst.observe[:], true) {
		inst.obs = newObserver(p, rpc)
	}
	return inst, nil
}

// apply reads a plugin's description.
func (inst *instance) apply(d *pb.Description) error {
	if d.AbiVersion != pb.ABIVersion {
		return fmt.Errorf("the plugin speaks hubd ABI v%d, this hubd speaks v%d: rebuild it with a matching SDK", d.AbiVersion, pb.ABIVersion)
	}
	var errs []error
	if len(d.Hooks) == 0 {
		for i := range inst.hooks {
			inst.hooks[i] = true
		}
	}
	for _, h := range d.Hooks {
		if i := hookIndex(host.Hook(h)); i >= 0 {
			inst.hooks[i] = true
		} else {
			errs = append(errs, fmt.Errorf("unknown hook %q in its description", h))
		}
	}
	for _, g := range d.Events {
		if _, err := path.Match(g, ""); err != nil {
			errs = append(errs, fmt.Errorf("bad event glob %q in its description: %v", g, err))
		}
	}
	inst.events = d.Events
	for _, h := range d.Observe {
		i := hookIndex(host.Hook(h))
		if i < 0 {
			errs = append(errs, fmt.Errorf("unknown observed hook %q in its description", h))
			continue
		}
		inst.observe[i] = true
	}
	return errors.Join(errs...)
}

func (inst *instance) describeHooks() []string {
	var out []string
	for i, ok := range inst.hooks {
		if ok {
			out = append(out, string(hookNames[i]))
		}
	}
	return out
}

// handles reports whether the process handles hook (and event).
func (inst *instance) handles(i int, env *host.Envelope) bool {
	if !inst.hooks[i] {
		return false
	}
	if hookNames[i] != host.HookEvent || inst.events == nil {
		return true
	}
	for _, g := range inst.events {
		if ok, _ := path.Match(g, env.Event); ok {
			return true
		}
	}
	return false
}

// stop ends the instance: flushes what it observes, kills the process
// and stops serving it. Close and the supervisor may both stop an
// instance that exits as the plugin closes.
func (inst *instance) stop() {
	inst.stopOnce.Do(func() {
		if inst.obs != nil {
			inst.obs.stop()
		}
		inst.client.Kill()
		if inst.host != nil {
			inst.host.stop()
		}
	})
}

// Handle sends one hook call to the process.
func (p *plugin) Handle(ctx context.Context, env *host.Envelope) (*host.Decision, error) {
	inst := p.cur.Load()
	if inst == nil {
		return nil, p.unavailable()
	}
	i := hookIndex(env.Hook)
	if i < 0 {
		return nil, fmt.Errorf("process plugin %q: unknown hook %q", p.name, env.Hook)
	}
	if !inst.handles(i, env) {
		return nil, nil // the plugin said it does not care: allow unchanged
	}
	if inst.observe[i] {
		inst.obs.enqueue(env)
		return nil, nil
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(p.timeout)
	}
	select {
	case p.sem <- struct{}{}:
	default:
		if err := p.waitSlot(ctx, deadline); err != nil {
			return nil, err
		}
	}
	defer func() { <-p.sem }()

	bp := p.bufs.Get().(*[]byte)
	*bp = env.AppendJSON((*bp)[:0])
	req := &pb.Envelope{EnvelopeJson: *bp, Attachments: env.Attachments, Hook: string(env.Hook)}
	cctx, cancel := context.WithDeadline(ctx, deadline)
	out, err := inst.rpc.Handle(cctx, req, p.callOpts...)
	cancel()
	if cap(*bp) <= 64<<10 {
		p.bufs.Put(bp)
	}
	if err != nil {
		return nil, p.callError(ctx, deadline, err)
	}
	if n := len(out.DecisionJson); n > p.cfg.MaxDecisionBytes {
		return nil, fmt.Errorf("process plugin %q: %w: decision of %d bytes, more than %d", p.name, host.ErrGarbage, n, p.cfg.MaxDecisionBytes)
	}
	d, err := host.ParseDecision(out.DecisionJson)
	if err != nil {
		return nil, fmt.Errorf("process plugin %q: %w", p.name, err)
	}
	return d, nil
}

// waitSlot waits for a call slot until the deadline.
func (p *plugin) waitSlot(ctx context.Context, deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case p.sem <- struct{}{}:
		return nil
	case <-t.C:
		return fmt.Errorf("process plugin %q: %d calls in flight: %w", p.name, p.cfg.MaxInFlight, host.ErrTimeout)
	case <-ctx.Done(): // nil Done: never
		return ctx.Err()
	}
}

func (p *plugin) unavailable() error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return fmt.Errorf("process plugin %q: %w: closed", p.name, ErrUnavailable)
	}
	return fmt.Errorf("process plugin %q: %w: its process exited and is being started again", p.name, ErrUnavailable)
}

// callError turns a failed call into the error the chain sees.
func (p *plugin) callError(ctx context.Context, deadline time.Time, err error) error {
	st := status.Convert(err)
	switch code := st.Code(); {
	case code == codes.DeadlineExceeded || !time.Now().Before(deadline):
		return fmt.Errorf("process plugin %q: %w", p.name, host.ErrTimeout)
	case code == codes.Canceled && ctx.Err() != nil:
		return fmt.Errorf("process plugin %q: %w", p.name, ctx.Err())
	case code == codes.ResourceExhausted:
		return fmt.Errorf("process plugin %q: %w: %s", p.name, host.ErrGarbage, st.Message())
	case code == codes.Unavailable || code == codes.Canceled:
		// The connection broke (the process died) or was closed (the
		// process is being replaced).
		return fmt.Errorf("process plugin %q: %w: %s", p.name, ErrUnavailable, st.Message())
	default:
		return fmt.Errorf("process plugin %q failed: %s", p.name, st.Message())
	}
}

// supervise starts the process again whenever it exits, until Close.
func (p *plugin) supervise(inst *instance) {
	defer p.supervisor.Done()
	delay := p.cfg.RestartMin
	for {
		select {
		case <-inst.runner.exited:
		case <-p.life.Done():
			return
		}
		p.cur.CompareAndSwap(inst, nil)
		inst.stop()
		if time.Since(inst.started) >= stableAfter {
			delay = p.cfg.RestartMin
		}
		p.log.Warn("process plugin exited; starting it again", "pid", inst.runner.pid,
			"exit", inst.runner.cmd.ProcessState.String(), "delay", delay)
		for {
			select {
			case <-time.After(delay):
			case <-p.life.Done():
				return
			}
			delay = min(2*delay, p.cfg.RestartMax)
			next, err := p.start(p.life)
			if err != nil {
				p.log.Error("process plugin did not start", "err", err, "retry_in", delay)
				continue
			}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				next.stop()
				return
			}
			p.cur.Store(next)
			p.mu.Unlock()
			p.restarts.Add(1)
			p.log.Info("process plugin started again", "pid", next.runner.pid)
			inst = next
			break
		}
	}
}

// Close lets the calls in flight finish (up to the plugin's timeout), then
// stops the process.
func (p *plugin) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.end()
	inst := p.cur.Swap(nil)
	p.mu.Unlock()
	p.drain(time.Now().Add(p.timeout))
	p.supervisor.Wait()
	if inst != nil {
		inst.stop()
	}
	return nil
}

// drain waits until no call is in flight, or the deadline.
func (p *plugin) drain(deadline time.Time) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	held := 0
	defer func() {
		for range held {
			<-p.sem
		}
	}()
	for held < cap(p.sem) {
		select {
		case p.sem <- struct{}{}:
			held++
		case <-t.C:
			return
		}
	}
}
