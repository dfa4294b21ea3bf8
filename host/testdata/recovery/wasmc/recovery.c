/* The connect hook of TestConnectHookSeesRecovery (host/recovery_test.go)
 * as a Wasm guest in C; recovery.js says what it does. */
#define HUBD_IMPLEMENTATION
#define HUBD_HOOKS HUBD_BIT(HUBD_CONNECT)
#include "hubd.h"

int hubd_on_call(int hook, hubd_str env, hubd_buf *out) {
  if (hook != HUBD_CONNECT) return 0;
  int recovered = hubd_json_is_true(hubd_field(env, HUBD_F_RECOVERED));
  if (recovered && hubd_json_is_true(hubd_json_get(hubd_field(env, HUBD_F_AUTH), "refuse"))) {
    hubd_buf_cstr(out, "{\"action\":\"deny\",\"reason\":\"recovery refused\"}");
    return 0;
  }
  hubd_str prev = hubd_field(env, HUBD_F_SOCKET_DATA);
  hubd_buf_cstr(out, recovered ? "{\"socket_data\":{\"recovered\":true,\"prev\":"
                               : "{\"socket_data\":{\"recovered\":false,\"fresh\":true,\"prev\":");
  if (prev.n > 0) hubd_buf_raw(out, prev.p, prev.n);
  else hubd_buf_cstr(out, "null");
  hubd_buf_cstr(out, "}}");
  return 0;
}
