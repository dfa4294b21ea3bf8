#!/usr/bin/env bash
# Runs the connect scenario against the hub (bench/hub) and the Node
# reference (bench/node), alternating, and prints for each run the
# connections per second and the CPU time per connection of the server and
# of the load generator (from /proc/<pid>/stat), and the CPU-seconds used by
# every other process on the machine meanwhile ("others"). On a shared
# machine the CPU per connection is the steadier figure; a run with large
# "others" took cores the hub (which uses both) needed more than Node (one).
#
#   bench/connect-cpu.sh [rounds] [duration]     (default 3 rounds of 8s)
#
# Servers listen on loopback ports 3412 (hub) and 3413 (node).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
duration=${2:-8s}
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$bin"' EXIT

go build -o "$bin/hubbench" ./cmd/hubbench
go build -o "$bin/hub" ./bench/hub
[ -d bench/node/node_modules ] || (cd bench/node && npm ci --no-audit --no-fund --loglevel=error)
tck=$(getconf CLK_TCK)

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }      # utime + stime, ticks
busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

run() { # server port
  local pid
  case $1 in
    hub) "$bin/hub" -addr "127.0.0.1:$2" >/dev/null 2>&1 & pid=$! ;;
    node) (cd bench/node && PORT=$2 exec node server.js >/dev/null 2>&1) & pid=$! ;;
  esac
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && break
    sleep 0.1
  done
  sleep 0.3
  local s0 b0 g0 g1 s1 b1 out
  s0=$(cpu "$pid")
  b0=$(busy)
  "$bin/hubbench" connect -url "http://127.0.0.1:$2" -duration "$duration" -json >"$bin/out.json" &
  local gpid=$!
  g0=$(cpu "$gpid" 2>/dev/null || echo 0)
  g1=$g0
  while kill -0 "$gpid" 2>/dev/null; do # the generator's last reading before it exits
    g1=$(cpu "$gpid" 2>/dev/null || echo "$g1")
    sleep 0.1
  done
  wait "$gpid"
  s1=$(cpu "$pid")
  b1=$(busy)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  node -e '
    const [server, s0, s1, g0, g1, b0, b1, tck] = process.argv.slice(1, 9);
    const r = JSON.parse(require("fs").readFileSync(process.argv[9], "utf8"));
    const n = r.connections, t = Number(tck);
    const srv = (s1 - s0) / t, gen = (g1 - g0) / t, all = (b1 - b0) / t;
    const us = (x) => (x / n * 1e6).toFixed(0);
    console.log(`${server.padEnd(5)} connections/s ${r.connections_per_sec.toFixed(0).padStart(6)}  failed ${r.failures}  ` +
      `server ${us(srv)} us/conn  generator ${us(gen)} us/conn  others ${(all - srv - gen).toFixed(1)} cpu-s`);
  ' "$1" "$s0" "$s1" "$g0" "$g1" "$b0" "$b1" "$tck" "$bin/out.json"
}

for _ in $(seq "$rounds"); do
  run hub 3412
  run node 3413
done
