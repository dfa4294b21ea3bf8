#!/usr/bin/env bash
# Runs every test of the project: go vet, the Go tests with the race
# detector (the fuzz seed corpora included) and the client-compatibility
# tests, which drive the real socket.io-client from npm against hubd.
#
# It installs what the tests need from the lockfiles (npm ci) and says what
# is missing when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v go >/dev/null || missing+=("go (Go 1.26 or newer: https://go.dev/dl/)")
command -v node >/dev/null || missing+=("node (Node.js 20 or newer, e.g. apt-get install nodejs)")
command -v npm >/dev/null || missing+=("npm (e.g. apt-get install npm)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: missing tools:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 2
fi

# npm packages for the JavaScript side of the tests, exactly as locked.
for dir in $(git ls-files '*package-lock.json' | xargs -r -n1 dirname); do
  stamp="$dir/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
    echo "== npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

# clang, lld and wasi-libc for the C WebAssembly guests the tests compile.
echo "== wasm toolchain"
bash scripts/wasm-toolchain.sh

# Debian's chromium for the chat example's browser test.
echo "== chromium"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test.sh: /usr/bin/chromium is missing; as root run: apt-get install -y chromium" >&2
    exit 2
  fi
fi
/usr/bin/chromium --version 2>/dev/null || true

# A Redis for the Redis adapter's tests: REDIS_URL, else the one on
# 127.0.0.1:6379, else a redis-server of our own on a free port.
echo "== redis"
redis_answers() { # host port
  exec 3<>"/dev/tcp/$1/$2" 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  local reply
  read -r -t 2 reply <&3 || true
  exec 3>&-
  [[ "$reply" == +PONG* ]]
}
if [ -n "${REDIS_URL:-}" ]; then
  echo "using REDIS_URL=$REDIS_URL"
elif redis_answers 127.0.0.1 6379; then
  export REDIS_URL=redis://127.0.0.1:6379
  echo "using the Redis on 127.0.0.1:6379"
elif command -v redis-server >/dev/null; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 16379)
  redis_dir=$(mktemp -d)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" --daemonize yes \
    --pidfile "$redis_dir/redis.pid" >/dev/null
  trap 'kill "$(cat "$redis_dir/redis.pid" 2>/dev/null)" 2>/dev/null; rm -rf "$redis_dir"' EXIT
  for _ in $(seq 50); do redis_answers 127.0.0.1 "$port" && break; sleep 0.1; done
  export REDIS_URL="redis://127.0.0.1:$port"
  echo "started redis-server on 127.0.0.1:$port"
else
  echo "test.sh: the Redis adapter's tests need Redis: none answers on 127.0.0.1:6379 and redis-server is" >&2
  echo "  not installed. Install it (apt-get install -y redis-server) or set REDIS_URL=redis://host:port." >&2
  exit 2
fi

# The NATS adapter's tests start nats-server on free ports (or use NATS_URL).
echo "== nats"
if [ -z "${NATS_URL:-}" ] && ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
  echo "test.sh: the NATS adapter's tests need nats-server: install it (apt-get install -y nats-server)" >&2
  echo "  or set NATS_URL=nats://host:port (a server with max_payload of 8MB or more)." >&2
  exit 2
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi

echo "== go vet"
go vet ./...
# The Wasm guests and their SDK build for wasip1 only in part.
GOOS=wasip1 GOARCH=wasm go vet ./sdk/wasm/... ./examples/wasm/... ./host/wasm/testdata/faults ./plugins/jwt/...

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...
