/* The event hook of TestBinaryReply (host/binreply_test.go) as a Wasm
 * guest in C; binreply.js says what it does. */
#define HUBD_IMPLEMENTATION
#define HUBD_HOOKS HUBD_BIT(HUBD_EVENT)
#include "hubd.h"
#include <stdio.h>

int hubd_on_call(int hook, hubd_str env, hubd_buf *out) {
  if (hook != HUBD_EVENT || !hubd_json_string_eq(hubd_field(env, HUBD_F_EVENT), "echo")) return 0;
  hubd_str args = hubd_field(env, HUBD_F_ARGS);
  hubd_str first = hubd_json_index(args, 0);
  size_t it = 0, n = 0;
  hubd_str elem;
  while (hubd_json_next(args, &it, &elem)) n++;
  char count[24];
  snprintf(count, sizeof count, "%zu", n);
  hubd_buf_cstr(out, "{\"action\":\"reply\",\"reply\":[{\"echo\":");
  if (first.n > 0) hubd_buf_raw(out, first.p, first.n);
  else hubd_buf_cstr(out, "null");
  hubd_buf_cstr(out, ",\"n\":");
  hubd_buf_cstr(out, count);
  hubd_buf_cstr(out, "}]}");
  return 0;
}
