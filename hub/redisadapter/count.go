package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// numSub is the number of clients subscribed to channel (PUBSUB NUMSUB),
// which is how nodes are counted. On a Redis Cluster a client subscribes
// on any one node, and each node counts its own clients only, so the
// counts of every node (primaries and replicas) are summed; a node that
// does not answer is left out, since a client subscribed on it has lost
// its subscription with it. Node's adapter sums over the primaries, where
// its node-redis subscriber and this Cluster's both subscribe.
func (c *Cluster) numSub(ctx context.Context, channel string) (int, error) {
	if c.cc == nil {
		res, err := c.rdb.PubSubNumSub(ctx, channel).Result()
		if err != nil {
			return 0, fmt.Errorf("redisadapter: counting nodes: %w", err)
		}
		return int(res[channel]), nil
	}
	var (
		mu       sync.Mutex
		total    int64
		answered int
		errs     []error
	)
	err := c.cc.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
		res, err := node.PubSubNumSub(ctx, channel).Result()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", node.Options().Addr, err))
			return nil
		}
		total += res[channel]
		answered++
		return nil
	})
	if err == nil && answered == 0 {
		err = errors.Join(errs...)
	}
	if err != nil {
		return 0, fmt.Errorf("redisadapter: counting nodes on the Redis Cluster: %w", err)
	}
	return int(total), nil
}

// shardNumSub is the number of clients subscribed to the shard channel
// (PUBSUB SHARDNUMSUB): on a Redis Cluster, those of the primary that owns
// the channel's slot, where they subscribe (as Node's adapter counts them).
func (c *Cluster) shardNumSub(ctx context.Context, channel string) (int, error) {
	var rdb redis.UniversalClient = c.rdb
	if c.cc != nil {
		node, err := c.cc.MasterForKey(ctx, channel)
		if err != nil {
			return 0, fmt.Errorf("redisadapter: counting nodes on the Redis Cluster: %w", err)
		}
		rdb = node
	}
	res, err := rdb.PubSubShardNumSub(ctx, channel).Result()
	if err != nil {
		return 0, fmt.Errorf("redisadapter: counting nodes: %w", err)
	}
	return int(res[channel]), nil
}
