#!/usr/bin/env bash
# Fanout benchmark of the hubd daemon, without and with plugins, against
# the Node socket.io reference (bench/node). Servers alternate so that all
# see the same machine; one line per run with delivered msgs/s.
#
#   bench/hubd/run.sh [runs] [extra hubbench flags...]   (default 2 runs each)
#
# hubd:          bench/hubd/hubd.json          (namespace "/", rooms, echo on)
# hubd+plugins:  bench/hubd/hubd-plugins.json  (same, plus bench/hubd/plugins:
#                the jwt Wasm plugin on connect, HS256, and bench.js on every
#                event), run from a temporary copy holding the built jwt.wasm
# node:          bench/node/server.js          (bench contract)
#
# hubd is driven with `hubbench fanout -contract hubd -auth {"token":…}`
# (the same token for both hubd runs), node with the bench contract. All
# with -rate 0 -duration 10s; the load generator shares the machine, so
# compare ratios, not absolute figures. Needs Go, Node.js and npm.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-2}
shift || true
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

go build -o "$tmp/hubd" ./cmd/hubd
go build -o "$tmp/hubbench" ./cmd/hubbench
cp -r bench/hubd/plugins "$tmp/plugins"
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$tmp/plugins/jwt/jwt.wasm" ./plugins/jwt
token=$(go run ./bench/hubd/token -manifest bench/hubd/plugins/jwt/plugin.json)
auth="{\"token\":\"$token\"}"
[ -d bench/node/node_modules ] || (cd bench/node && npm ci --no-audit --no-fund --loglevel=error)

port() { # server -> port
  case $1 in hubd) echo 3420 ;; hubd+plugins) echo 3421 ;; node) echo 3422 ;; esac
}

start() { # server -> pid of the server, once it accepts connections
  local p
  p=$(port "$1")
  case $1 in
    hubd) "$tmp/hubd" -config bench/hubd/hubd.json >"$tmp/$1.log" 2>&1 & ;;
    hubd+plugins) "$tmp/hubd" -config bench/hubd/hubd-plugins.json -plugins "$tmp/plugins" >"$tmp/$1.log" 2>&1 & ;;
    node) (cd bench/node && PORT=$p exec node server.js >"$tmp/$1.log" 2>&1) & ;;
  esac
  local pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break
    sleep 0.1
  done
  echo "$pid"
}

run() { # server
  local server=$1 p out
  shift
  p=$(port "$server")
  local args=(fanout -url "http://127.0.0.1:$p" -rate 0 -duration 10s -json)
  case $server in
    hubd*) args+=(-contract hubd -auth "$auth") ;;
  esac
  out=$("$tmp/hubbench" "${args[@]}" "$@")
  node -e '
    const server = process.argv[1];
    const r = JSON.parse(process.argv[2]);
    const f = (x) => (x === undefined ? "-" : typeof x === "number" ? (Math.round(x * 100) / 100).toString() : x);
    let line = `delivered/s ${f(r.delivered_per_sec)} receivers ${f(r.connected)}/${f(r.receivers)} published ${f(r.published)} lost ${f(r.lost)} p50 ${f(r.latency.p50_ms)} ms p99 ${f(r.latency.p99_ms)} ms`;
    if (r.publish_error) line += ` publish error: ${r.publish_error}`;
    if (r.connect_errors) line += ` connect errors: ${JSON.stringify(r.connect_errors)}`;
    console.log(`fanout ${server.padEnd(12)} ${line}`);
  ' "$server" "$out"
}

for i in $(seq "$runs"); do
  for server in hubd hubd+plugins node; do
    pid=$(start "$server")
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$server did not start:" >&2
      cat "$tmp/$server.log" >&2
      exit 1
    fi
    run "$server" "$@" || { echo "$server run $i failed; server log:" >&2; cat "$tmp/$server.log" >&2; }
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
done
