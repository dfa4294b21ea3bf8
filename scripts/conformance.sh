#!/usr/bin/env bash
# Runs the official Engine.IO v4 and Socket.IO v5 protocol test suites
# against hubd's conformance server and, alternating with it, against the
# Node reference (bench/node/conformance.mjs), and prints one line per run.
#
#   scripts/conformance.sh <socket.io checkout> [runs] [servers]
#
#   runs      how many runs of each suite per server (default 10)
#   servers   "hubd", "node" or "hubd node" (the default): with both, each
#             run takes hubd then Node, so both see the same machine
#   LOAD=n    keeps n busy loops running meanwhile (default 0)
#   PORT=p    the port the servers listen on (default 3000, which the
#             suites name; another one is written into their copies)
#
# The suites are copied out of the checkout's docs/ (git archive when it is
# a git repository) into a temporary directory and installed with their own
# lockfiles. Needs Go, Node.js and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:?usage: scripts/conformance.sh <socket.io checkout> [runs] [servers]}
runs=${2:-10}
servers=${3:-hubd node}
port=${PORT:-3000}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  kill $(jobs -p) 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

suites="docs/engine.io-protocol/v4-test-suite docs/socket.io-protocol/v5-test-suite"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  git -C "$src" archive HEAD $suites 2>/dev/null | tar -x -C "$work"
else
  for s in $suites; do mkdir -p "$work/$(dirname "$s")" && cp -r "$src/$s" "$work/$s"; done
fi
mv "$work/docs/engine.io-protocol/v4-test-suite" "$work/eio"
mv "$work/docs/socket.io-protocol/v5-test-suite" "$work/sio"
for s in eio sio; do
  sed -i "s|^const URL = \"http://localhost:[0-9]*\";|const URL = \"http://localhost:$port\";|" "$work/$s/test-suite.js"
  (cd "$work/$s" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
done
go build -o "$work/conformance" ./hub/internal/conformance
[ -d bench/node/node_modules ] || (cd bench/node && npm ci --no-audit --no-fund --loglevel=error)

for _ in $(seq "${LOAD:-0}"); do
  (while :; do :; done) &
  pids+=($!)
done

start() { # server -> pid, once it listens
  case $1 in
    hubd) "$work/conformance" -addr "localhost:$port" >/dev/null 2>&1 & ;;
    node) (cd bench/node && PORT=$port exec node conformance.mjs >/dev/null 2>&1) & ;;
  esac
  local pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "the $1 server did not start (port $port taken?)" >&2
    exit 1
  fi
  echo "$pid"
}

stop() { # pid: kills it and waits until the port is free again (the
  # server is not this shell's child: wait would not wait for it)
  kill "$1" 2>/dev/null || true
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || return 0
    sleep 0.1
  done
  echo "the server on port $port did not stop" >&2
  exit 1
}

suite() { # dir -> "passing/total (failing: titles)"
  local out pass fail
  out=$(cd "$work/$1" && npx mocha --exit --reporter json test-suite.js 2>/dev/null || true)
  node -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const s = r.stats;
    const failed = r.failures.map((f) => f.fullTitle).join("; ");
    console.log(`${s.passes}/${s.tests}` + (failed ? ` (failing: ${failed})` : ""));
  ' <<<"$out"
}

for i in $(seq "$runs"); do
  for server in $servers; do
    pid=$(start "$server")
    [ -n "$pid" ] || exit 1
    echo "run $i $server: Engine.IO $(suite eio), Socket.IO $(suite sio)"
    stop "$pid"
  done
done
