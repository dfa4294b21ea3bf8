/*
 * hook.c — bench/hub/plugins/js/hook.js as a C Wasm guest: an event hook
 * that reads the event name and the first argument and allows the event
 * unchanged. Beside the Go guest (bench/hub/plugins/wasmgo) it shows what
 * a guest's own runtime adds to a call. Build it into a plugin directory
 * of its own (scripts/wasm-toolchain.sh installs the tools):
 *
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -I sdk/wasm/c \
 *     -Wl,--strip-debug -o DIR/hook.wasm bench/hub/plugins/wasmc/hook.c
 */
#define HUBD_IMPLEMENTATION
#define HUBD_HOOKS HUBD_BIT(HUBD_EVENT)
#include "hubd.h"

static hubd_str last;

int hubd_on_call(int hook, hubd_str env, hubd_buf *out) {
  if (hook != HUBD_EVENT) return 0;
  if (hubd_json_string_eq(hubd_field(env, HUBD_F_EVENT), "never")) {
    hubd_buf_cstr(out, "{\"action\":\"deny\",\"reason\":\"never\"}");
    return 0;
  }
  last = hubd_json_index(hubd_field(env, HUBD_F_ARGS), 0);
  return 0;
}
