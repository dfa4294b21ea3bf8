package testredis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of the tests' own: redis-server processes in
// cluster mode on free ports of 127.0.0.1, keeping nothing on disk but
// their node tables, created with redis-cli --cluster create. Its node
// timeout is short, so that a replica takes over a killed primary within
// seconds.
type Cluster struct {
	// Addrs are the nodes' host:port, in the order they were started.
	Addrs []string
	dir   string

	mu    sync.Mutex
	procs map[string]*exec.Cmd // by address, the processes still running
}

// ClusterNodeTimeout is the cluster-node-timeout of StartCluster's nodes:
// a primary unreachable that long is failed over to its replica.
const ClusterNodeTimeout = 2 * time.Second

// StartCluster starts primaries redis-server processes with replicas
// replicas each, creates the cluster and waits until every node reports
// cluster_state:ok and knows every other (within a generous deadline).
func StartCluster(primaries, replicas int) (*Cluster, error) {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is needed for the Redis Cluster tests (apt-get install redis-server): %w", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("redis-cli is needed to create the test Redis Cluster (apt-get install redis-tools): %w", err)
	}
	dir, err := os.MkdirTemp("", "hubd-redis-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, procs: make(map[string]*exec.Cmd)}
	n := primaries * (1 + replicas)
	ports, err := clusterPorts(n)
	if err != nil {
		c.Stop()
		return nil, err
	}
	for _, port := range ports {
		if err := c.startNode(server, port); err != nil {
			c.Stop()
			return nil, err
		}
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.WaitHealthy(ctx, primaries); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// clusterPorts finds n free ports whose cluster bus ports (port + 10000)
// are free too.
func clusterPorts(n int) ([]int, error) {
	var ports []int
	seen := make(map[int]bool)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("no free ports for the Redis Cluster")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port+10000 > 65535 || seen[port] || seen[port+10000] || seen[port-10000] {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		bus.Close()
		seen[port], seen[port+10000] = true, true
		ports = append(ports, port)
	}
	return ports, nil
}

// startNode runs one redis-server in cluster mode on port and waits until
// it answers.
func (c *Cluster) startNode(server string, port int) error {
	p := strconv.Itoa(port)
	dir := filepath.Join(c.dir, p)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	cmd := exec.Command(server,
		"--port", p, "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no",
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.Itoa(int(ClusterNodeTimeout/time.Millisecond)),
		// A replica always takes over, however long it was cut off.
		"--cluster-replica-validity-factor", "0")
	// The node dies with the test binary, even one that crashed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	addr := "127.0.0.1:" + p
	c.mu.Lock()
	c.Addrs = append(c.Addrs, addr)
	c.procs[addr] = cmd
	c.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for Ping("redis://"+addr) != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on port %d did not answer", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// URL is the cluster as a go-redis cluster URL (redis.ParseClusterURL):
// the first node, and the others as addr parameters.
func (c *Cluster) URL() string {
	u := "redis://" + c.Addrs[0]
	for i, a := range c.Addrs[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + a
	}
	return u
}

// Client returns a cluster client for the nodes; the caller closes it.
func (c *Cluster) Client() *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
}

// Alive returns the addresses of the nodes not killed.
func (c *Cluster) Alive() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, a := range c.Addrs {
		if c.procs[a] != nil {
			out = append(out, a)
		}
	}
	return out
}

// ClusterNode is a node as CLUSTER NODES describes it.
type ClusterNode struct {
	ID, Addr string
	Primary  bool
	Failed   bool   // flagged fail (or fail?)
	Of       string // a replica's primary's id
	Slots    []string
}

// Nodes returns CLUSTER NODES as the node at addr sees it.
func Nodes(ctx context.Context, addr string) ([]ClusterNode, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	text, err := rdb.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []ClusterNode
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			continue
		}
		n := ClusterNode{ID: f[0], Addr: f[1], Slots: f[8:]}
		if i := strings.IndexByte(n.Addr, '@'); i >= 0 {
			n.Addr = n.Addr[:i]
		}
		for _, flag := range strings.Split(f[2], ",") {
			switch flag {
			case "master":
				n.Primary = true
			case "fail", "fail?":
				n.Failed = true
			}
		}
		if f[3] != "-" {
			n.Of = f[3]
		}
		out = append(out, n)
	}
	return out, nil
}

// PrimaryOf returns the address of the primary that serves key's slot.
func (c *Cluster) PrimaryOf(ctx context.Context, key string) (string, error) {
	rdb := c.Client()
	defer rdb.Close()
	node, err := rdb.MasterForKey(ctx, key)
	if err != nil {
		return "", err
	}
	return node.Options().Addr, nil
}

// Kill ends the node at addr with SIGKILL.
func (c *Cluster) Kill(addr string) error {
	c.mu.Lock()
	cmd := c.procs[addr]
	delete(c.procs, addr)
	c.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("no running node at %s", addr)
	}
	_ = cmd.Process.Kill()
	_, _ = cmd.Process.Wait()
	return nil
}

// WaitHealthy waits until every node still running reports
// cluster_state:ok and sees primaries primaries serving slots, all of them
// running, and every other running node as a replica of one of them: after
// a primary is killed, that is once its replica has taken over and every
// node knows.
func (c *Cluster) WaitHealthy(ctx context.Context, primaries int) error {
	var last error
	for {
		if last = c.healthy(ctx, primaries); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the Redis Cluster is not healthy: %w", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) healthy(ctx context.Context, primaries int) error {
	alive := c.Alive()
	running := make(map[string]bool, len(alive))
	for _, a := range alive {
		running[a] = true
	}
	for _, a := range alive {
		rdb := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		info, err := rdb.ClusterInfo(ctx).Result()
		rdb.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster_state is not ok", a)
		}
		nodes, err := Nodes(ctx, a)
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
		serving := make(map[string]bool)
		for _, n := range nodes {
			if !n.Primary || len(n.Slots) == 0 {
				continue
			}
			if !running[n.Addr] || n.Failed {
				return fmt.Errorf("%s still sees %s, not running, as a primary", a, n.Addr)
			}
			serving[n.ID] = true
		}
		if len(serving) != primaries {
			return fmt.Errorf("%s sees %d primaries serving slots, want %d", a, len(serving), primaries)
		}
		// Every other running node is a replica of one of them.
		for _, n := range nodes {
			if running[n.Addr] && !serving[n.ID] && !serving[n.Of] {
				return fmt.Errorf("%s sees %s neither serving slots nor a replica of a primary that does", a, n.Addr)
			}
		}
		if len(nodes) < len(alive) {
			return fmt.Errorf("%s knows %d nodes, want at least %d", a, len(nodes), len(alive))
		}
	}
	return nil
}

// Stop kills every node and removes their directories.
func (c *Cluster) Stop() {
	c.mu.Lock()
	procs := c.procs
	c.procs = map[string]*exec.Cmd{}
	c.mu.Unlock()
	for _, cmd := range procs {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	}
	os.RemoveAll(c.dir)
}

// MoveSlot hands slot, which must hold no keys, to the primary at to, as
// a resharding does (IMPORTING, MIGRATING, then NODE on every primary),
// and waits until every running node sees to as its owner.
func (c *Cluster) MoveSlot(ctx context.Context, slot int, to string) error {
	nodes, err := Nodes(ctx, to)
	if err != nil {
		return err
	}
	var source, target ClusterNode
	var primaries []ClusterNode
	for _, n := range nodes {
		if n.Primary && !n.Failed && len(n.Slots) > 0 {
			primaries = append(primaries, n)
			if ownsSlot(n.Slots, slot) {
				source = n
			}
		}
		if n.Addr == to {
			target = n
		}
	}
	if source.ID == "" || target.ID == "" || !target.Primary {
		return fmt.Errorf("slot %d: no owner, or %s is not a primary", slot, to)
	}
	if source.ID == target.ID {
		return nil
	}
	run := func(addr string, args ...any) error {
		rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer rdb.Close()
		if err := rdb.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("%s: %v: %w", addr, args, err)
		}
		return nil
	}
	src := redis.NewClient(&redis.Options{Addr: source.Addr, MaxRetries: -1})
	keys, err := src.ClusterCountKeysInSlot(ctx, slot).Result()
	src.Close()
	if err != nil {
		return err
	}
	if keys > 0 {
		return fmt.Errorf("slot %d holds %d keys", slot, keys)
	}
	steps := []func() error{
		func() error { return run(target.Addr, "cluster", "setslot", slot, "importing", source.ID) },
		func() error { return run(source.Addr, "cluster", "setslot", slot, "migrating", target.ID) },
		func() error { return run(target.Addr, "cluster", "setslot", slot, "node", target.ID) },
		func() error { return run(source.Addr, "cluster", "setslot", slot, "node", target.ID) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	for _, p := range primaries {
		if p.ID != source.ID && p.ID != target.ID {
			if err := run(p.Addr, "cluster", "setslot", slot, "node", target.ID); err != nil {
				return err
			}
		}
	}
	for {
		agreed := true
		for _, a := range c.Alive() {
			nodes, err := Nodes(ctx, a)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				if ownsSlot(n.Slots, slot) && n.ID != target.ID {
					agreed = false
				}
			}
		}
		if agreed {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("slot %d: the nodes do not all see %s as its owner: %w", slot, to, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ownsSlot reports whether slot is in the slots of a CLUSTER NODES line
// ("0-5460", "5461", "[5462->-id]" for one migrating).
func ownsSlot(slots []string, slot int) bool {
	for _, s := range slots {
		if strings.HasPrefix(s, "[") {
			continue
		}
		lo, hi, found := strings.Cut(s, "-")
		if !found {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil && l <= slot && slot <= h {
			return true
		}
	}
	return false
}
