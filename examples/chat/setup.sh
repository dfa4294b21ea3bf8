#!/usr/bin/env bash
# Prepares the machine for examples/chat's browser test (go test ./examples/chat/):
# installs Debian's chromium when missing (as root), then installs the npm
# packages from package-lock.json (socket.io-client, whose browser bundle
# hubd serves at /socket.io/socket.io.min.js, and playwright-core).
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q chromium
  else
    echo "setup.sh: /usr/bin/chromium is missing; as root run: apt-get install -y chromium" >&2
    exit 1
  fi
fi

command -v node >/dev/null || { echo "setup.sh: node and npm are needed" >&2; exit 1; }
npm ci --no-audit --no-fund
