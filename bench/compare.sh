#!/usr/bin/env bash
# Runs the hubbench scenarios against hubd's hub (bench/hub) and the Node
# socket.io 4.8 reference (bench/node), alternating servers so that both
# see the same machine, and prints one line per run.
#
#   bench/compare.sh [runs]        (default 2 runs of each scenario per server)
#
# Environment:
#   BASE=<git revision>   also run bench/hub built from that revision, as
#                         server "base", in the same alternation: the way
#                         to say a change costs no more than before it
#   SCENARIOS="ack fanout"  the scenarios to run (default: all four)
#   RECOVERY=1            also run bench/hub with connection state recovery
#                         on (-recovery 2m), as server "rec"
#
# Needs Go, Node.js and `npm ci` in bench/node. Servers listen on loopback
# ports 3410 (hub) and 3411 (node); the load generator shares the machine,
# so compare ratios, not absolute figures.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-2}
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$bin"' EXIT

go build -o "$bin/hubbench" ./cmd/hubbench
go build -o "$bin/hub" ./bench/hub
servers="hub node"
if [ -n "${BASE:-}" ]; then
  git worktree add --detach "$bin/src" "$BASE" >/dev/null 2>&1
  (cd "$bin/src" && go build -o "$bin/base" ./bench/hub)
  git worktree remove --force "$bin/src"
  servers="base hub node"
fi
if [ -n "${RECOVERY:-}" ]; then
  servers="$servers rec"
fi
[ -d bench/node/node_modules ] || (cd bench/node && npm ci --no-audit --no-fund --loglevel=error)

start() { # name port -> pid
  case $1 in
    hub | base) "$bin/$1" -addr "127.0.0.1:$2" >/dev/null 2>&1 & ;;
    rec) "$bin/hub" -addr "127.0.0.1:$2" -recovery 2m >/dev/null 2>&1 & ;;
    node) (cd bench/node && PORT=$2 exec node server.js >/dev/null 2>&1) & ;;
  esac
  local pid=$!
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && break
    sleep 0.1
  done
  echo "$pid"
}

run() { # scenario server port pid args...
  local scenario=$1 server=$2 port=$3 pid=$4
  shift 4
  local out
  out=$("$bin/hubbench" "$scenario" -url "http://127.0.0.1:$port" -json "$@")
  node -e '
    const [server, scenario] = process.argv.slice(1, 3);
    const r = JSON.parse(process.argv[3]);
    const f = (x) => (x === undefined ? "-" : typeof x === "number" ? (Math.round(x * 100) / 100).toString() : x);
    let line;
    switch (scenario) {
      case "fanout": line = `delivered/s ${f(r.delivered_per_sec)} lost ${f(r.lost)} p50 ${f(r.latency.p50_ms)} ms p99 ${f(r.latency.p99_ms)} ms`; break;
      case "ack": line = `acked/s ${f(r.acked_per_sec)} p50 ${f(r.round_trip.p50_ms)} ms p99 ${f(r.round_trip.p99_ms)} ms`; break;
      case "connect": line = `connections/s ${f(r.connections_per_sec)} p50 ${f(r.connect_time.p50_ms)} ms p99 ${f(r.connect_time.p99_ms)} ms`; break;
      case "idle": line = `RSS KB/conn ${f(r.rss_per_conn_kb)} (${f(r.connected)} connections)`; break;
    }
    console.log(`${scenario.padEnd(8)} ${server.padEnd(5)} ${line}`);
  ' "$server" "$scenario" "$out"
}

for scenario in ${SCENARIOS:-fanout ack connect idle}; do
  for i in $(seq "$runs"); do
    for server in $servers; do
      case $server in hub) port=3410 ;; node) port=3411 ;; base) port=3412 ;; rec) port=3413 ;; esac
      pid=$(start "$server" "$port")
      case $scenario in
        fanout) run fanout "$server" "$port" "$pid" -rate 0 -duration 10s ;;
        ack) run ack "$server" "$port" "$pid" -duration 10s ;;
        connect) run connect "$server" "$port" "$pid" -duration 10s ;;
        idle) run idle "$server" "$port" "$pid" -n 5000 -hold 30s -pid "$pid" ;;
      esac
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    done
  done
done
