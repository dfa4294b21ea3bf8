#!/usr/bin/env bash
# Builds policy.wasm from policy.c (needs clang, wasm-ld, wasi-libc and the
# wasm32 compiler-rt builtins: scripts/wasm-toolchain.sh installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$here/policy.wasm}
clang --target=wasm32-wasi -O2 -mexec-model=reactor -I "$root/sdk/wasm/c" \
  -Wl,--strip-debug -o "$out" "$here/policy.c"
echo "built $out"
