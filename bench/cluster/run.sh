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
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

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

pids=()
start_hubd() { # port config
  "$tmp/hubd" -config "$2" -listen "127.0.0.1:$1" -redis-url "$redis" >>"$tmp/servers.log" 2>&1 &
  pids+=($!)
  wait_port "$1"
}
start_node() { # port [redis [streams]]
  local key=node-bench-cluster adapter= recovery=
  if [ -n "${3:-}" ]; then key=node-bench-streams adapter=streams recovery=1; fi
  (cd bench/node && PORT=$1 REDIS_URL=${2:-} REDIS_KEY=$key ADAPTER=$adapter RECOVERY=$recovery exec node server.js >>"$tmp/servers.log" 2>&1) &
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
    hubd-1) start_hubd 3440 bench/cluster/hubd.json
      args=(-url http://127.0.0.1:3440 -contract hubd) ;;
    hubd-1+redis) start_hubd 3440 bench/cluster/hubd-redis.json
      args=(-url http://127.0.0.1:3440 -contract hubd) ;;
    hubd-2) start_hubd 3440 bench/cluster/hubd-redis.json; start_hubd 3441 bench/cluster/hubd-redis.json
      args=(-url http://127.0.0.1:3440 -receivers-url http://127.0.0.1:3441 -contract hubd) ;;
    node-1) start_node 3442
      args=(-url http://127.0.0.1:3442) ;;
    node-2) start_node 3442 "$redis"; start_node 3443 "$redis"
      args=(-url http://127.0.0.1:3442 -receivers-url http://127.0.0.1:3443) ;;
    hubd-2s | recover-hubd-2s) start_hubd 3440 bench/cluster/hubd-streams.json; start_hubd 3441 bench/cluster/hubd-streams.json
      args=(-url http://127.0.0.1:3440 -receivers-url http://127.0.0.1:3441 -contract hubd) ;;
    node-2s | recover-node-2s) start_node 3442 "$redis" streams; start_node 3443 "$redis" streams
      args=(-url http://127.0.0.1:3442 -receivers-url http://127.0.0.1:3443) ;;
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
