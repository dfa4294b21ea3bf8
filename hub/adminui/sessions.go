package adminui

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// SessionStore keeps the session ids given to UIs that logged in. A UI
// keeps its id and presents it when it reconnects, instead of the
// password it does not keep.
type SessionStore interface {
	// Exists reports whether id was saved and has not expired.
	Exists(ctx context.Context, id string) (bool, error)
	// Save keeps id.
	Save(ctx context.Context, id string) error
}

// newSessionID returns 16 random hex digits, as the Node package's.
func newSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sessionTTL is how long a session id stays good: a day, as the Node
// package's RedisStore.
const sessionTTL = 24 * time.Hour

// maxMemorySessions bounds the ids MemorySessions keeps; past it the
// oldest go first. Only a UI that logged in makes one.
const maxMemorySessions = 10_000

// MemorySessions keeps session ids in this process, for a day; the zero
// value is ready. It is the default store, and serves one node (or a
// cluster whose load balancer sends a UI back to the same node).
type MemorySessions struct {
	mu    sync.Mutex
	until map[string]time.Time
	order []string // ids in the order saved
}

// Exists implements SessionStore.
func (m *MemorySessions) Exists(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.until[id]
	return ok && time.Now().Before(t), nil
}

// Save implements SessionStore.
func (m *MemorySessions) Save(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.until == nil {
		m.until = make(map[string]time.Time)
	}
	now := time.Now()
	for len(m.order) > 0 && (len(m.order) >= maxMemorySessions || !now.Before(m.until[m.order[0]])) {
		delete(m.until, m.order[0])
		m.order = m.order[1:]
	}
	m.until[id] = now.Add(sessionTTL)
	m.order = append(m.order, id)
	return nil
}

// RedisSessions keeps session ids in Redis as the Node package's
// RedisStore does (the key "socket.io-admin#<id>", kept for a day), so
// that the hub's nodes and Node servers of one cluster share the UI's
// sessions.
type RedisSessions struct {
	Client redis.UniversalClient
	// Prefix of the keys ("socket.io-admin").
	Prefix string
	// TTL of a session (a day).
	TTL time.Duration
}

func (r *RedisSessions) key(id string) string {
	p := r.Prefix
	if p == "" {
		p = "socket.io-admin"
	}
	return p + "#" + id
}

// Exists implements SessionStore.
func (r *RedisSessions) Exists(ctx context.Context, id string) (bool, error) {
	n, err := r.Client.Exists(ctx, r.key(id)).Result()
	return n == 1, err
}

// Save implements SessionStore.
func (r *RedisSessions) Save(ctx context.Context, id string) error {
	ttl := r.TTL
	if ttl <= 0 {
		ttl = sessionTTL
	}
	return r.Client.Set(ctx, r.key(id), "true", ttl).Err()
}
