#!/usr/bin/env bash
# Installs what the C Wasm guests (examples/wasm/c, host/wasm's tests) need
# to build: clang, wasm-ld (lld), wasi-libc and the wasm32 compiler-rt
# builtins, from Debian packages. Does nothing when a test compile works.
set -euo pipefail

packages=(clang lld wasi-libc libclang-rt-14-dev-wasm32)

can_build() {
  command -v clang >/dev/null 2>&1 || return 1
  local dir
  dir=$(mktemp -d)
  printf '#include <string.h>\n__attribute__((export_name("f"))) int f(const char *s) { return (int)strlen(s); }\n' >"$dir/t.c"
  clang --target=wasm32-wasi -O2 -mexec-model=reactor -o "$dir/t.wasm" "$dir/t.c" >/dev/null 2>&1
  local rc=$?
  rm -rf "$dir"
  return $rc
}

if can_build; then
  echo "wasm toolchain: clang can build wasm32-wasi reactors"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "wasm toolchain missing; as root run: apt-get update && apt-get install -y ${packages[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${packages[@]}" >/dev/null

if ! can_build; then
  echo "wasm toolchain: installed ${packages[*]} but clang still cannot build a wasm32-wasi reactor" >&2
  exit 1
fi
echo "wasm toolchain: installed ${packages[*]}"
