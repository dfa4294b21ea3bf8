/* The policy of TestDecisionTraces (host/trace_e2e_test.go) as a Wasm
 * guest in C; trace.js says what it does. */
#define HUBD_IMPLEMENTATION
#define HUBD_HOOKS (HUBD_BIT(HUBD_CONNECT) | HUBD_BIT(HUBD_JOIN) | HUBD_BIT(HUBD_EVENT))
#include "hubd.h"
#include <string.h>

static int starts_private(hubd_str room) {
  return room.n >= 10 && room.p[0] == '"' && memcmp(room.p + 1, "private:", 8) == 0;
}

int hubd_on_call(int hook, hubd_str env, hubd_buf *out) {
  if (hook == HUBD_CONNECT) {
    hubd_str token = hubd_json_get(hubd_field(env, HUBD_F_AUTH), "token");
    if (!hubd_json_is_string(token)) {
      hubd_buf_cstr(out, "{\"action\":\"deny\",\"reason\":\"token required\",\"data\":{\"code\":401}}");
      return 0;
    }
    hubd_buf_cstr(out, "{\"socket_data\":{\"user\":");
    hubd_buf_raw(out, token.p, token.n);
    hubd_buf_cstr(out, "}}");
    return 0;
  }
  if (hook == HUBD_JOIN) {
    hubd_str rooms = hubd_field(env, HUBD_F_ROOMS), room;
    size_t it = 0;
    while (hubd_json_next(rooms, &it, &room)) {
      if (starts_private(room)) {
        hubd_buf_cstr(out, "{\"action\":\"deny\",\"reason\":\"private room\"}");
        return 0;
      }
    }
    return 0;
  }
  if (hook == HUBD_EVENT) {
    hubd_str event = hubd_field(env, HUBD_F_EVENT);
    if (hubd_json_string_eq(event, "shout")) {
      hubd_str first = hubd_json_index(hubd_field(env, HUBD_F_ARGS), 0);
      hubd_buf_cstr(out, "{\"args\":[{\"shout\":");
      if (first.n > 0) hubd_buf_raw(out, first.p, first.n);
      else hubd_buf_cstr(out, "null");
      hubd_buf_cstr(out, "}],\"rooms\":[\"lobby\"]}");
      return 0;
    }
    if (hubd_json_string_eq(event, "secret")) {
      hubd_buf_cstr(out, "{\"action\":\"deny\",\"reason\":\"no secrets\"}");
    }
  }
  return 0;
}
