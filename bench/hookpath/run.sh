#!/usr/bin/env bash
# The hook path's cost, end to end: hubbench's closed loop of acked events
# (50 clients, one echo in flight each, 100-byte padding) against the
# benchmark server (bench/hub) without hooks and with one event hook that
# reads the event name and the first argument and allows the event:
#   js      bench/hub/plugins/js (JavaScript),
#   wasm    bench/hub/plugins/wasmgo (a Go Wasm guest),
#   native  bench/hub/plugins/native (the same in Go, called in the process
#           with no sandbox: the hook path's own cost),
#   wasmc   bench/hub/plugins/wasmc (a C Wasm guest; built when clang is
#           installed, as scripts/wasm-toolchain.sh does).
# They alternate within each round, their order reversed every other
# round; each line gives acked events/s, p99, the server's CPU per ack
# (utime+stime from /proc), hubbench's CPU per ack (it shares the cores)
# and the ratio to the no-hook run of the same round; the medians over
# the rounds close the output.
#
#   bench/hookpath/run.sh [rounds] [seconds]        (default 4 rounds of 10 s)
#
# HOOKS="js wasm" runs only those hooks (and none, which the ratios need).
#
# BEFORE=<git revision> also builds the benchmark server and the Wasm guest
# at that revision and runs them in the same rounds, so that a change is
# measured against its base on the same machine at the same time.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-4}
secs=${2:-10}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; git worktree remove --force "$tmp/before-src" 2>/dev/null || true; rm -rf "$tmp"' EXIT

build() { # source-dir out-dir
  mkdir -p "$2/js" "$2/wasm"
  (cd "$1" && go build -o "$2/hub" ./bench/hub &&
    GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$2/wasm/hook.wasm" ./bench/hub/plugins/wasmgo)
  cp "$1"/bench/hub/plugins/js/hook.js "$2/js/"
  if [ -d "$1/bench/hub/plugins/native" ]; then cp -r "$1/bench/hub/plugins/native" "$2/"; fi
  if [ -f "$1/bench/hub/plugins/wasmc/hook.c" ] && command -v clang >/dev/null; then
    mkdir -p "$2/wasmc"
    clang --target=wasm32-wasi -O2 -mexec-model=reactor -I "$1/sdk/wasm/c" -Wl,--strip-debug \
      -o "$2/wasmc/hook.wasm" "$1/bench/hub/plugins/wasmc/hook.c"
  fi
}
go build -o "$tmp/hubbench" ./cmd/hubbench
build . "$tmp/now"
builds=(now)
if [ -n "${BEFORE:-}" ]; then
  git worktree add -q --detach "$tmp/before-src" "$BEFORE"
  build "$tmp/before-src" "$tmp/before"
  builds=(before now)
fi

run() { # build hooks -> "acked/s p99 server-cpu-us-per-ack client-cpu-us-per-ack"
  local dir=$tmp/$1 plugins=()
  if [ "$2" != none ] && [ ! -d "$dir/$2" ]; then
    echo "- - - -" # a build from before that hook, or no clang
    return
  fi
  [ "$2" != none ] && plugins=(-plugins "$dir/$2")
  "$dir/hub" -addr 127.0.0.1:3460 "${plugins[@]}" >"$tmp/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/3460) 2>/dev/null && break
    sleep 0.05
  done
  local t0 t1 out
  t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
  # hubbench's own CPU (its rusage), as the load generator shares the cores.
  out=$(python3 -c '
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], check=True, stdout=subprocess.PIPE).stdout.decode()
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime, out)' "$tmp/hubbench" ack -url http://127.0.0.1:3460 -duration "${secs}s" -json)
  t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  echo "$out" | python3 -c '
import json, sys
client, doc = sys.stdin.read().split(" ", 1)
d = json.loads(doc)
ticks, acked = float(sys.argv[1]), max(d["acked"], 1)
print(round(d["acked_per_sec"]), d["round_trip"].get("p99_ms", d["round_trip"].get("p99", "?")),
      round(ticks * 1e6 / 100 / acked, 1), round(float(client) * 1e6 / acked, 1))' "$((t1 - t0))"
}

printf '%-6s %-6s %-6s %10s %8s %12s %12s %8s\n' round build hooks acked/s p99 cpu-us/ack client-us/ack ratio
for r in $(seq "$rounds"); do
  read -ra order <<<"none ${HOOKS:-js wasm native wasmc}"
  if [ $((r % 2)) = 0 ]; then
    for ((i = 0, j = ${#order[@]} - 1; i < j; i++, j--)); do
      t=${order[i]} order[i]=${order[j]} order[j]=$t
    done
  fi
  for b in "${builds[@]}"; do
    declare -A res=()
    for h in "${order[@]}"; do res[$h]=$(run "$b" "$h"); done
    base=${res[none]%% *}
    for h in none js wasm native wasmc; do
      [ -n "${res[$h]:-}" ] || continue
      set -- ${res[$h]}
      [ "$1" = - ] && continue
      printf '%-6s %-6s %-6s %10s %8s %12s %12s %8s\n' "$r" "$b" "$h" "$1" "$2" "$3" "$4" \
        "$(python3 -c "print(f'{$1/$base:.2f}')")" | tee -a "$tmp/rows"
    done
  done
done

# Medians over the rounds: single rounds swing by ±10 % on a shared
# machine. "server-us over none" is the server's CPU per ack minus that of
# the same build's no-hook run in the same round.
python3 - "$tmp/rows" <<'PY'
import collections, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
none = {(r[0], r[1]): float(r[5]) for r in rows if r[2] == "none"}
by = collections.defaultdict(list)
for r in rows:
    by[r[1], r[2]].append(r)
print(f"\nmedians (rounds: {len({r[0] for r in rows})})")
print(f"{'build':<6} {'hooks':<6} {'acked/s':>10} {'ratio':>6} {'server-us over none':>20}")
med = statistics.median
for (b, h), rs in sorted(by.items()):
    print(f"{b:<6} {h:<6} {med(float(r[3]) for r in rs):>10.0f} {med(float(r[7]) for r in rs):>6.3f}"
          f" {med(float(r[5]) - none[r[0], r[1]] for r in rs):>20.2f}")
PY
