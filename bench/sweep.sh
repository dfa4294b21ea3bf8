#!/usr/bin/env bash
# Sweeps unpaced fan-out over room sizes: for each size, each server in turn
# (alternating, a fresh process per run) gets
#   hubbench fanout -n SIZE -rate 0 -window WINDOW -size PAYLOAD -duration DURATION -json
# and one line is printed per run. At the end, a table gives per size the
# median deliveries/s of every server and the ratios hub/ceiling and
# hub/node (and hub/base with BASE), to show how each falls off as the room
# grows, against the yardstick that does the least the work allows.
#
#   bench/sweep.sh
#
# Environment:
#   SIZES="1000 3000 5000 10000 19000"  room sizes (receivers)
#   SERVERS="hub node ceiling"          any of hub, node, ceiling, bare, and
#                                       pool (bench/ceiling -writer pool: a
#                                       few writers for all connections)
#   RUNS=1                              runs per size and server; medians
#                                       in the table when more than one
#   DURATION=10s                        hubbench -duration
#   WINDOW=8                            publishes in flight (hubbench -window)
#   PAYLOAD=64                          payload padding in bytes (-size)
#   RECEIVERS_IO=goroutine              how hubbench reads its receivers
#                                       (-receivers-io): goroutine, or epoll
#                                       (Linux; far less CPU per delivery,
#                                       for big rooms)
#   BASE=<git revision>                 also run bench/hub built from that
#                                       revision, as server "base"
#
# Needs Go, and Node.js with `npm ci` in bench/node when node runs. Servers
# listen on loopback ports 3420-3424; hubbench raises its own RLIMIT_NOFILE,
# and this script raises the servers' to the hard limit (a 19000-member room
# needs more than 19000 descriptors on each side). The load generator shares
# the machine, so compare ratios, not absolute figures.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${SIZES:-1000 3000 5000 10000 19000}
servers=${SERVERS:-hub node ceiling}
runs=${RUNS:-1}
duration=${DURATION:-10s}
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$bin"' EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

go build -o "$bin/hubbench" ./cmd/hubbench
for server in $servers; do
  case $server in
    hub | ceiling | bare) go build -o "$bin/$server" "./bench/$server" ;;
    pool) go build -o "$bin/ceiling" ./bench/ceiling ;;
    node) [ -d bench/node/node_modules ] || (cd bench/node && npm ci --no-audit --no-fund --loglevel=error) ;;
    *) echo "sweep: unknown server $server" >&2 && exit 2 ;;
  esac
done
if [ -n "${BASE:-}" ]; then
  git worktree add --detach "$bin/src" "$BASE" >/dev/null 2>&1
  (cd "$bin/src" && go build -o "$bin/base" ./bench/hub)
  git worktree remove --force "$bin/src"
  servers="base $servers"
fi

port_of() {
  case $1 in hub) echo 3420 ;; node) echo 3421 ;; ceiling) echo 3422 ;; base) echo 3423 ;; bare) echo 3424 ;; pool) echo 3425 ;; esac
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() { # name port -> pid
  if listening "$2"; then
    echo "sweep: port $2 is already in use" >&2
    return 1
  fi
  case $1 in
    node) (cd bench/node && PORT=$2 exec node server.js >/dev/null 2>&1) & ;;
    pool) "$bin/ceiling" -writer pool -addr "127.0.0.1:$2" >/dev/null 2>&1 & ;;
    *) "$bin/$1" -addr "127.0.0.1:$2" >/dev/null 2>&1 & ;;
  esac
  local pid=$!
  for _ in $(seq 50); do
    listening "$2" && break
    sleep 0.1
  done
  echo "$pid"
}

# field <json> <key>: the number after "key": (the fanout keys are unique).
field() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" <<<"$1"; }

results=$bin/results
for size in $sizes; do
  for i in $(seq "$runs"); do
    for server in $servers; do
      port=$(port_of "$server")
      pid=$(start "$server" "$port")
      if out=$("$bin/hubbench" fanout -url "http://127.0.0.1:$port" -n "$size" -rate 0 -window "${WINDOW:-8}" -size "${PAYLOAD:-64}" -duration "$duration" -receivers-io "${RECEIVERS_IO:-goroutine}" -json); then
        rate=$(field "$out" delivered_per_sec)
        p50=$(field "$out" p50_ms)
        p99=$(field "$out" p99_ms)
        printf '%6s %-8s delivered/s %9.0f  p50 %8.2f ms  p99 %8.2f ms  lost %s  connected %s/%s  dropped %s\n' \
          "$size" "$server" "$rate" "$p50" "$p99" "$(field "$out" lost)" \
          "$(field "$out" connected)" "$size" "$(field "$out" dropped_connections)"
        echo "$size $server $rate" >>"$results"
      else
        printf '%6s %-8s hubbench failed\n' "$size" "$server"
      fi
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    done
  done
done

[ -s "$results" ] || exit 1
echo
awk -v sizes="$sizes" -v servers="$servers" '
  { v[$1, $2, ++n[$1, $2]] = $3 }
  function median(s, srv,   k, i, j, t, a) {
    k = n[s, srv]
    if (!k) return ""
    for (i = 1; i <= k; i++) a[i] = v[s, srv, i]
    for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  function ratio(a, b) { return a == "" || b == "" || b == 0 ? "-" : sprintf("%.3f", a / b) }
  END {
    ns = split(sizes, S, " "); nv = split(servers, V, " ")
    base = servers ~ /(^| )base( |$)/
    line = sprintf("%6s", "size")
    for (j = 1; j <= nv; j++) line = line sprintf(" %10s", V[j])
    line = line sprintf(" %11s %9s", "hub/ceiling", "hub/node")
    if (servers ~ /(^| )pool( |$)/) line = line sprintf(" %9s", "hub/pool")
    if (base) line = line sprintf(" %9s", "hub/base")
    print line
    for (i = 1; i <= ns; i++) {
      line = sprintf("%6s", S[i])
      for (j = 1; j <= nv; j++) { m[V[j]] = median(S[i], V[j]); line = line sprintf(" %10s", m[V[j]] == "" ? "-" : sprintf("%.0f", m[V[j]])) }
      line = line sprintf(" %11s %9s", ratio(m["hub"], m["ceiling"]), ratio(m["hub"], m["node"]))
      if (servers ~ /(^| )pool( |$)/) line = line sprintf(" %9s", ratio(m["hub"], m["pool"]))
      if (base) line = line sprintf(" %9s", ratio(m["hub"], m["base"]))
      print line
    }
  }' "$results"
