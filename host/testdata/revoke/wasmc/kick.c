/* The "kick" event of grants.js (host/revoke_e2e_test.go) as a Wasm guest
 * in C: it asks the host to revoke (hubd_revoke) the connect grant of the
 * user its argument names, or the revocation its argument is when it is an
 * object, and answers {ok} or {ok, error}. */
#define HUBD_IMPLEMENTATION
#define HUBD_HOOKS HUBD_BIT(HUBD_EVENT)
#include "hubd.h"
#include <stdlib.h>
#include <string.h>

static const char *revoke_error(int32_t code) {
  switch (code) {
  case HUBD_REVOKE_NOT_GRANTED: return "revoke needs the \"revoke\" capability";
  case HUBD_REVOKE_BAD: return "bad revocation";
  case HUBD_REVOKE_REFUSED: return "revocation refused (rate or queue)";
  }
  return "revocation unreadable";
}

int hubd_on_call(int hook, hubd_str env, hubd_buf *out) {
  if (hook != HUBD_EVENT || !hubd_json_string_eq(hubd_field(env, HUBD_F_EVENT), "kick")) return 0;
  hubd_str arg = hubd_json_index(hubd_field(env, HUBD_F_ARGS), 0);
  hubd_buf rev = {0};
  if (hubd_json_is_string(arg)) {
    hubd_buf_cstr(&rev, "{\"data\":{\"path\":\"user.sub\",\"equals\":");
    hubd_buf_raw(&rev, arg.p, arg.n);
    hubd_buf_cstr(&rev, "},\"recheck\":\"connect\"}");
  } else {
    hubd_buf_raw(&rev, arg.p, arg.n);
  }
  int32_t code = hubd_revoke(rev.b, (uint32_t)rev.n);
  free(rev.b);
  if (code == HUBD_REVOKE_QUEUED) {
    hubd_buf_cstr(out, "{\"action\":\"reply\",\"reply\":[{\"ok\":true}]}");
    return 0;
  }
  const char *msg = revoke_error(code);
  hubd_buf_cstr(out, "{\"action\":\"reply\",\"reply\":[{\"ok\":false,\"error\":");
  hubd_buf_string(out, msg, strlen(msg));
  hubd_buf_cstr(out, "}]}");
  return 0;
}
