#!/usr/bin/env bash
# The hostile-client load run: for each attack, a fresh hubd (config
# bench/attack/hubd.json, plugins: the shipped payload-limit, fail-closed,
# and bench/attack/plugins/filter, a fail-open content filter with two
# mistakes a client can reach), then two phases of the same length: 200
# legitimate clients alone ("none"), then the same clients with 8 attackers
# running the attack. Prints one line per phase; the attack's ack p99 is
# compared with the "none" phase just before it.
#
#   bench/attack/run.sh [attack ...]   (default: every attack)
#
# Extra flags for the load tool can be given in ATTACK_FLAGS, e.g.
# ATTACK_FLAGS="-duration 5s". Needs Go. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

attacks=("$@")
[ ${#attacks[@]} -gt 0 ] || attacks=(ws-overflow deep-args utf8-api utf8-client big-header regex js-memory namespaces slowloris no-connect)

go build -o "$tmp/hubd" ./cmd/hubd
go build -o "$tmp/attack" ./bench/attack
mkdir -p "$tmp/plugins"
cp -r plugins/payload-limit "$tmp/plugins/payload-limit"
rm -f "$tmp/plugins/payload-limit/"*_test.go
cp -r bench/attack/plugins/filter "$tmp/plugins/filter"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "hubd $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty'), ${ATTACK_FLAGS:-default flags}"
for a in "${attacks[@]}"; do
  "$tmp/hubd" -config bench/attack/hubd.json -plugins "$tmp/plugins" >"$tmp/hubd.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/3430) 2>/dev/null && break
    sleep 0.1
  done
  # shellcheck disable=SC2086
  "$tmp/attack" -pid "$pid" -phases "none,$a" ${ATTACK_FLAGS:-} || echo "$a: the load tool failed"
  # What the plugins answered, by outcome, over both phases.
  curl -s 127.0.0.1:3430/metrics 2>/dev/null | grep "^hubd_plugin_hook_calls_total" | grep -v ' 0$' | sed 's/^/    /' || true
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "$a: hubd DIED; the last lines of its log:"
    tail -5 "$tmp/hubd.log"
  else
    kill "$pid"
    wait "$pid" 2>/dev/null || true
  fi
done
