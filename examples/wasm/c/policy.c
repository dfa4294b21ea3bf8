/*
 * policy.c — the example hubd Wasm plugin in C: the same policy as
 * examples/wasm/go (see examples/wasm/README.md), through the same
 * hubd_v1 ABI, to show that the ABI is language-neutral.
 *
 * Build: bash examples/wasm/c/build.sh (clang --target=wasm32-wasi).
 */
#define HUBD_IMPLEMENTATION
#define HUBD_HOOKS (HUBD_BIT(HUBD_CONNECT) | HUBD_BIT(HUBD_JOIN) | HUBD_BIT(HUBD_EVENT))
#include "hubd.h"

#include <stdlib.h>
#include <string.h>
#include <wctype.h>

/* decode_string decodes a JSON string value into a malloc'd buffer. */
static char *decode_string(hubd_str v, size_t *len) {
  char small[1];
  long n = hubd_json_string(v, small, 0);
  if (n < 0) return NULL;
  char *s = malloc((size_t)n + 1);
  if (!s) return NULL;
  hubd_json_string(v, s, (size_t)n + 1);
  *len = (size_t)n;
  return s;
}

/* utf8_decode reads one code point; invalid input is U+FFFD of width 1. */
static uint32_t utf8_decode(const unsigned char *p, size_t n, size_t *w) {
  *w = 1;
  unsigned char c = p[0];
  if (c < 0x80) return c;
  uint32_t r;
  size_t need;
  uint32_t min;
  if (c >= 0xc2 && c <= 0xdf) { r = c & 0x1f; need = 1; min = 0x80; }
  else if (c >= 0xe0 && c <= 0xef) { r = c & 0x0f; need = 2; min = 0x800; }
  else if (c >= 0xf0 && c <= 0xf4) { r = c & 0x07; need = 3; min = 0x10000; }
  else return 0xfffd;
  if (n < need + 1) return 0xfffd;
  for (size_t i = 1; i <= need; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0xfffd;
    r = r << 6 | (p[i] & 0x3f);
  }
  if (r < min || r > 0x10ffff || (r >= 0xd800 && r < 0xe000)) return 0xfffd;
  *w = need + 1;
  return r;
}

static size_t utf8_encode(uint32_t r, char *o) {
  if (r < 0x80) { o[0] = (char)r; return 1; }
  if (r < 0x800) { o[0] = (char)(0xc0 | r >> 6); o[1] = (char)(0x80 | (r & 0x3f)); return 2; }
  if (r < 0x10000) {
    o[0] = (char)(0xe0 | r >> 12); o[1] = (char)(0x80 | ((r >> 6) & 0x3f)); o[2] = (char)(0x80 | (r & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | r >> 18); o[1] = (char)(0x80 | ((r >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((r >> 6) & 0x3f)); o[3] = (char)(0x80 | (r & 0x3f));
  return 4;
}

/* upper upper-cases UTF-8 text code point by code point (towupper). */
static char *upper(const char *s, size_t n, size_t *outlen) {
  char *o = malloc(n * 3 + 1); /* a code point grows at most 3x (1 invalid byte -> U+FFFD) */
  if (!o) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n;) {
    size_t w;
    uint32_t r = utf8_decode((const unsigned char *)s + i, n - i, &w);
    i += w;
    k += utf8_encode((uint32_t)towupper((wint_t)r), o + k);
  }
  *outlen = k;
  return o;
}

static int connect_hook(hubd_str env, hubd_buf *out) {
  hubd_str auth = hubd_field(env, HUBD_F_AUTH);
  hubd_str tok = hubd_json_get(auth, "token");
  size_t n = 0;
  char *token = hubd_json_is_string(tok) ? decode_string(tok, &n) : NULL;
  if (!token || n == 0) {
    free(token);
    hubd_buf_cstr(out, "{\"action\":\"deny\",\"reason\":\"token required\"}");
    return 0;
  }
  hubd_buf_cstr(out, "{\"socket_data\":{\"user\":");
  hubd_buf_string(out, token, n);
  hubd_buf_cstr(out, "}}");
  free(token);
  return 0;
}

static int join_hook(hubd_str env, hubd_buf *out) {
  hubd_str rooms = hubd_field(env, HUBD_F_ROOMS), room;
  size_t it = 0;
  while (hubd_json_next(rooms, &it, &room)) {
    size_t n;
    char *name = decode_string(room, &n);
    int private_room = name && n >= 8 && memcmp(name, "private:", 8) == 0;
    free(name);
    if (private_room) {
      hubd_buf_cstr(out, "{\"action\":\"deny\",\"reason\":\"private room\"}");
      return 0;
    }
  }
  return 0;
}

static int event_hook(hubd_str env, hubd_buf *out) {
  hubd_str ev = hubd_field(env, HUBD_F_EVENT);
  if (hubd_json_string_eq(ev, "shout")) {
    hubd_str args = hubd_field(env, HUBD_F_ARGS);
    hubd_str first = hubd_json_index(args, 0);
    if (!hubd_json_is_string(first)) return 0;
    size_t n, un;
    char *s = decode_string(first, &n);
    char *u = s ? upper(s, n, &un) : NULL;
    free(s);
    if (!u) return 1;
    /* The new first argument, then the rest of the array as it is. */
    hubd_buf_cstr(out, "{\"args\":[");
    hubd_buf_string(out, u, un);
    const char *rest = first.p + first.n;
    hubd_buf_raw(out, rest, (size_t)(args.p + args.n - rest));
    hubd_buf_cstr(out, "}");
    free(u);
  } else if (hubd_json_string_eq(ev, "ping")) {
    hubd_buf_cstr(out, "{\"action\":\"reply\",\"reply\":[\"pong\"]}");
  } else if (hubd_json_string_eq(ev, "spam")) {
    hubd_buf_cstr(out, "{\"action\":\"drop\"}");
  } else if (hubd_json_string_eq(ev, "alert")) {
    hubd_buf_cstr(out, "{\"rooms\":[\"alerts\"]}");
  }
  return 0;
}

int hubd_on_call(int hook, hubd_str env, hubd_buf *out) {
  switch (hook) {
    case HUBD_CONNECT: return connect_hook(env, out);
    case HUBD_JOIN: return join_hook(env, out);
    case HUBD_EVENT: return event_hook(env, out);
  }
  return 0;
}
