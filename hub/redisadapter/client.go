package redisadapter

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// NewClient returns a go-redis client for the Redis at rawURL, to pass to
// New or NewStreams; the caller closes it. It makes a Redis Cluster client
// (*redis.ClusterClient) when the URL names a cluster:
//
//   - redis://[user:password@]host:port[/db][?option=value...]: one
//     server (or a primary with replicas behind one address), as
//     redis.ParseURL reads it;
//   - redis://host1:port1?addr=host2:port2&addr=host3:port3: a Redis
//     Cluster whose seed nodes are the host and every addr, as
//     redis.ParseClusterURL reads it (user and password apply to every
//     node);
//   - redis-cluster://host:port[?addr=host2:port2...]: a Redis Cluster,
//     even with one seed node.
//
// rediss:// and rediss-cluster:// are the same over TLS. Errors never
// quote the URL, which may hold a password. The options are
// go-redis's (dial_timeout, read_timeout, max_retries...). A Redis Cluster
// needs no more than one live seed node: the client learns the others
// from it.
func NewClient(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // without the URL, which may hold a password
		}
		return nil, fmt.Errorf("redisadapter: malformed Redis URL: %w", err)
	}
	cluster := len(u.Query()["addr"]) > 0
	switch u.Scheme {
	case "redis", "rediss":
	case "redis-cluster", "rediss-cluster":
		cluster = true
		u.Scheme = strings.TrimSuffix(u.Scheme, "-cluster")
	default:
		return nil, fmt.Errorf("redisadapter: Redis URL scheme %q: it must be redis, rediss, redis-cluster or rediss-cluster", u.Scheme)
	}
	if !cluster {
		opt, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redisadapter: Redis URL: %w", err)
		}
		return redis.NewClient(opt), nil
	}
	opt, err := redis.ParseClusterURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("redisadapter: Redis Cluster URL: %w", err)
	}
	return redis.NewClusterClient(opt), nil
}
