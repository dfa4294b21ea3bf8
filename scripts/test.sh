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
