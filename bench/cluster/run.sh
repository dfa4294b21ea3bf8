#!/usr/bin/env bash
# Cross-node fan-out: 1,000 receivers in one room spread over two nodes
# sharing Redis, the publisher on the first, next to the same run on one
# node, for hubd and for the Node socket.io 4.8 reference with
# @socket.io/redis-adapter 8.3 (bench/node with REDIS_URL). Setups
# alternate so that all see the same machine; one line per run.
#
#   bench/cluster/run.sh [runs] [extra hubbench flags...]   (default 2 runs)
#
# hubd-1          one hubd, no adapter               (bench/cluster/hubd.json)
# hubd-1+redis    one hubd with the Redis adapter    (bench/cluster/hubd-redis.json)
# hubd-2          two hubd nodes with the Redis adapter, receivers on both
# node-1          one Node server, no adapter
# node-2          two Node servers with the Redis adapter, receivers on both
# hubd-2s         two hubd nodes with the Redis Streams adapter and
#                 connection state recovery (bench/cluster/hubd-streams.json)
# node-2s         two Node servers with @socket.io/redis-streams-adapter
#                 0.3.1 and connectionStateRecovery
# recover-hubd-2s, recover-node-2s: the same two-node setups under
#                 `hubbench recover`: 200 receivers on the second node are
#                 cut, 100 events are published on the first, and the
#                 receivers reconnect to the first; the time from a
#                 receiver's CONNECT to its last missed event
#
# Three nodes, receivers spread over all three, the publisher on the first:
# hubd-3          three hubd nodes on one Redis (pub/sub)
# hubd-3c         three hubd nodes on a Redis Cluster of three primaries
#                 with a replica each, which the script starts itself from
#                 redis-server on ports 7100-7105 (REDIS_CLUSTER_PORT)
# node-3c         three Node servers with @socket.io/redis-adapter on that
#                 Redis Cluster (the redis client's createCluster)
# hubd-3n         three hubd nodes on NATS (NATS_URL, else
#                 nats://127.0.0.1:4222)
#
# SETUPS="hubd-2s node-2s" picks setups (default: the first five).
#
# hubd runs use `hubbench fanout -contract hubd` (hub:join, events relayed
# with echo on), Node runs the bench contract; all `-rate 0 -duration 10s`.
# Redis: REDIS_URL, else redis://127.0.0.1:6379. The load generator, the
# servers and Redis share the machine, so compare ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-2}
shift || true
redis=${REDIS_URL:-redis://127.0.0.1:6379}
nats=${NATS_URL:-nats://127.0.0.1:4222}
tmp=$(mktemp -d)
cluster_pids=()
trap 'kill $(jobs -p) "${cluster_pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT

go build -o "$tmp/hubd" ./cmd/hubd
go build -o "$tmp/hubbench" ./cmd/hubbench
[ -d bench/node/node_modules/@socket.io/redis-adapter ] || (cd bench/node && npm ci --no-audit --no-fund --loglevel=error)

wait_port() { # port
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# A Redis Cluster of the script's own, started when a setup needs it.
cport=${REDIS_CLUSTER_PORT:-7100}
rcluster=
start_redis_cluster() {
  [ -n "$rcluster" ] && return 0
  local addrs=() seeds=()
  for i in 0 1 2 3 4 5; do
    local p=$((cport + i)) d="$tmp/rc$i"
    mkdir -p "$d"
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "$d/nodes.conf" \
      --cluster-node-timeout 2000 --save "" --appendonly no --dir "$d" --daemonize yes --pidfile "$d/pid" >/dev/null
    addrs+=("127.0.0.1:$p")
  done
  for i in 0 1 2 3 4 5; do
    wait_port $((cport + i))
    cluster_pids+=("$(cat "$tmp/rc$i/pid")")
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >/dev/null
  for _ in $(seq 100); do
    redis-cli -p "$cport" cluster info | grep -q 'cluster_state:ok' && break
    sleep 0.2
  done
  rcluster="redis-cluster://${addrs[0]}?addr=${addrs[1]}&addr=${addrs[2]}"
  node_rcluster="redis://${addrs[0]},redis://${addrs[1]},redis://${addrs[2]}"
}

pids=()
start_hubd() { # port config [redis-url or nats-url flag and value]
  "$tmp/hubd" -config "$2" -listen "127.0.0.1:$1" "${@:3}" >>"$tmp/servers.log" 2>&1 &
  pids+=($!)
  wait_port "$1"
}
start_node() { # port [redis [streams|cluster]]
  local key=node-bench-cluster adapter= recovery= cluster=
  if [ "${3:-}" = streams ]; then key=node-bench-streams adapter=streams recovery=1; fi
  if [ "${3:-}" = cluster ]; then cluster=1; fi
  (cd bench/node && PORT=$1 REDIS_URL=${2:-} REDIS_KEY=$key ADAPTER=$adapter RECOVERY=$recovery REDIS_CLUSTER=$cluster exec node server.js >>"$tmp/servers.log" 2>&1) &
  pids+=($!)
  wait_port "$1"
}
stop_all() {
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  pids=()
}

run() { # setup -> one line
  local setup=$1 args
  shift
  case $setup in
    hubd-1) start_hubd 3440 bench/cluster/hubd.json -redis-url "$redis"
      args=(-url http://127.0.0.1:3440 -contract hubd) ;;
    hubd-1+redis) start_hubd 3440 bench/cluster/hubd-redis.json -redis-url "$redis"
      args=(-url http://127.0.0.1:3440 -contract hubd) ;;
    hubd-2) start_hubd 3440 bench/cluster/hubd-redis.json -redis-url "$redis"; start_hubd 3441 bench/cluster/hubd-redis.json -redis-url "$redis"
      args=(-url http://127.0.0.1:3440 -receivers-url http://127.0.0.1:3441 -contract hubd) ;;
    node-1) start_node 3442
      args=(-url http://127.0.0.1:3442) ;;
    node-2) start_node 3442 "$redis"; start_node 3443 "$redis"
      args=(-url http://127.0.0.1:3442 -receivers-url http://127.0.0.1:3443) ;;
    hubd-2s | recover-hubd-2s) start_hubd 3440 bench/cluster/hubd-streams.json -redis-url "$redis"; start_hubd 3441 bench/cluster/hubd-streams.json -redis-url "$redis"
      args=(-url http://127.0.0.1:3440 -receivers-url http://127.0.0.1:3441 -contract hubd) ;;
    node-2s | recover-node-2s) start_node 3442 "$redis" streams; start_node 3443 "$redis" streams
      args=(-url http://127.0.0.1:3442 -receivers-url http://127.0.0.1:3443) ;;
    hubd-3 | hubd-3c | hubd-3n)
      local flag=(-redis-url "$redis") config=bench/cluster/hubd-redis.json
      if [ "$setup" = hubd-3c ]; then start_redis_cluster; flag=(-redis-url "$rcluster"); fi
      if [ "$setup" = hubd-3n ]; then flag=(-nats-url "$nats") config=bench/cluster/hubd-nats.json; fi
      start_hubd 3440 "$config" "${flag[@]}"; start_hubd 3441 "$config" "${flag[@]}"; start_hubd 3444 "$config" "${flag[@]}"
      args=(-url http://127.0.0.1:3440 -receivers-url http://127.0.0.1:3441,http://127.0.0.1:3444 -contract hubd) ;;
    node-3c) start_redis_cluster
      start_node 3442 "$node_rcluster" cluster; start_node 3443 "$node_rcluster" cluster; start_node 3445 "$node_rcluster" cluster
      args=(-url http://127.0.0.1:3442 -receivers-url http://127.0.0.1:3443,http://127.0.0.1:3445) ;;
  esac
  local scenario=fanout flags=(-rate 0 -duration 10s "$@")
  if [[ $setup == recover-* ]]; then
    scenario=recover flags=(-n 200 -missed 100)
  fi
  local out
  if ! out=$("$tmp/hubbench" "$scenario" "${args[@]}" "${flags[@]}" -json); then
    echo "$setup failed; server logs:" >&2
    cat "$tmp/servers.log" >&2
    stop_all
    return 1
  fi
  stop_all
  node -e '
    const [setup, scenario, json] = process.argv.slice(1);
    const r = JSON.parse(json);
    const f = (x) => (x === undefined ? "-" : typeof x === "number" ? (Math.round(x * 100) / 100).toString() : x);
    let line;
    if (scenario === "recover") {
      const t = r.recovery_time || {};
      line = `recovered ${f(r.recovered)}/${f(r.receivers)} missing ${f(r.missing)} duplicates ${f(r.duplicates)} out-of-order ${f(r.out_of_order)} time p50 ${f(t.p50_ms)} ms p99 ${f(t.p99_ms)} ms max ${f(t.max_ms)} ms`;
    } else {
      line = `delivered/s ${f(r.delivered_per_sec)} receivers ${f(r.connected)}/${f(r.receivers)} published ${f(r.published)} lost ${f(r.lost)} p50 ${f(r.latency.p50_ms)} ms p99 ${f(r.latency.p99_ms)} ms`;
      if (r.publish_error) line += ` publish error: ${r.publish_error}`;
    }
    console.log(`${scenario.padEnd(7)} ${setup.padEnd(15)} ${line}`);
  ' "$setup" "$scenario" "$out"
}

for i in $(seq "$runs"); do
  for setup in ${SETUPS:-hubd-1 hubd-1+redis hubd-2 node-1 node-2}; do
    run "$setup" "$@"
  done
done
