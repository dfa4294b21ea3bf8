/*
 * hubd.h — a single-header C SDK for hubd Wasm plugins (ABI hubd_v1, see
 * sdk/wasm/ABI.md).
 *
 * In exactly one .c file:
 *
 *     #define HUBD_IMPLEMENTATION
 *     #define HUBD_HOOKS (HUBD_BIT(HUBD_CONNECT) | HUBD_BIT(HUBD_EVENT))  // optional
 *     #include "hubd.h"
 *
 *     int hubd_on_call(int hook, hubd_str env, hubd_buf *out) {
 *         ... read env with hubd_json_*, write the decision JSON to out ...
 *         return 0;
 *     }
 *
 * and build a WASI reactor:
 *
 *     clang --target=wasm32-wasi -O2 -mexec-model=reactor -I sdk/wasm/c \
 *           -o plugin.wasm plugin.c
 *
 * (Debian: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32.)
 *
 * The implementation provides the exports hubd_abi_v1, hubd_buffer,
 * hubd_handle and hubd_hooks; hubd_handle calls hubd_on_call and sends
 * what it wrote to out (nothing written: allow unchanged).
 */
#ifndef HUBD_H
#define HUBD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Hook ids (hubd_handle's first argument). */
enum { HUBD_CONNECT = 1, HUBD_JOIN = 2, HUBD_LEAVE = 3, HUBD_EVENT = 4, HUBD_DISCONNECT = 5 };
#define HUBD_BIT(hook) (1u << (hook))

/* Log levels of hubd_log. */
enum { HUBD_DEBUG = 0, HUBD_INFO = 1, HUBD_WARN = 2, HUBD_ERROR = 3 };

/* The host's imports. */
#define HUBD_IMPORT(name) __attribute__((import_module("hubd"), import_name(name)))
HUBD_IMPORT("output") void hubd_output(const void *ptr, uint32_t len);
HUBD_IMPORT("log") void hubd_log(int32_t level, const void *ptr, uint32_t len);
HUBD_IMPORT("config") int32_t hubd_config(void *buf, uint32_t limit);
HUBD_IMPORT("now_ns") int64_t hubd_now_ns(void);
HUBD_IMPORT("attachment") int32_t hubd_attachment(uint32_t index, void *buf, uint32_t limit);
/* Queues a revocation, JSON such as {"namespace":"/","rooms":["vip"]}, for a
 * plugin granted the "revoke" capability; returns one of HUBD_REVOKE_*. */
HUBD_IMPORT("revoke") int32_t hubd_revoke(const void *ptr, uint32_t len);

/* What hubd_revoke returns. */
enum {
  HUBD_REVOKE_QUEUED = 0,       /* queued: carried out later, off this call */
  HUBD_REVOKE_NOT_GRANTED = -1, /* no "revoke" capability, or not in a handler */
  HUBD_REVOKE_BAD = -2,         /* not valid, or over a bound (the host logs why) */
  HUBD_REVOKE_REFUSED = -3,     /* the plugin's rate, or a full queue */
  HUBD_REVOKE_UNREADABLE = -4   /* outside the guest's memory, or over 64 KiB */
};

/* A JSON value: bytes [p, p+n). n == 0 is "absent". */
typedef struct {
  const char *p;
  size_t n;
} hubd_str;

/* A growable output buffer. */
typedef struct {
  char *b;
  size_t n, cap;
} hubd_buf;

/* The plugin's entry point: answer one call. A non-zero return is a
 * failure; out then holds its message. */
int hubd_on_call(int hook, hubd_str env, hubd_buf *out);

/* Fields of the envelope, through the index the host writes after the JSON
 * (ABI.md, "Envelope index"); without an index they are looked up in the
 * JSON. An absent field has n == 0. HUBD_F_ACK and HUBD_F_RECOVERED are the
 * JSON true when set, absent otherwise (hubd_json_is_true). */
enum {
  HUBD_F_V, HUBD_F_HOOK, HUBD_F_NS, HUBD_F_SOCKET, HUBD_F_SOCKET_ID, HUBD_F_SOCKET_ROOMS,
  HUBD_F_SOCKET_DATA, HUBD_F_HANDSHAKE, HUBD_F_AUTH, HUBD_F_QUERY, HUBD_F_HEADERS, HUBD_F_ADDRESS,
  HUBD_F_EVENT, HUBD_F_ARGS, HUBD_F_ACK, HUBD_F_ROOMS, HUBD_F_REASON, HUBD_F_RECOVERED, HUBD_F_COUNT
};
hubd_str hubd_field(hubd_str env, int field);

/* Reading JSON (the host sends valid JSON; these check structure only). */
hubd_str hubd_json_get(hubd_str object, const char *key); /* member */
hubd_str hubd_json_index(hubd_str array, size_t i);       /* element */
int hubd_json_is_string(hubd_str v);
int hubd_json_is_true(hubd_str v); /* the literal true */
/* hubd_json_next iterates an array: start with *it = 0; returns 0 at the end. */
int hubd_json_next(hubd_str array, size_t *it, hubd_str *elem);
/* Decodes a JSON string into buf (NUL-terminated if it fits); returns the
 * decoded length, or -1 if v is not a string. */
long hubd_json_string(hubd_str v, char *buf, size_t cap);
/* Compares a JSON string value with s (after decoding). */
int hubd_json_string_eq(hubd_str v, const char *s);

/* Writing JSON. */
void hubd_buf_reset(hubd_buf *b);
void hubd_buf_raw(hubd_buf *b, const char *p, size_t n);
void hubd_buf_cstr(hubd_buf *b, const char *s); /* raw text */
void hubd_buf_string(hubd_buf *b, const char *p, size_t n); /* as a JSON string */

/* Logging and config. */
void hubd_log_cstr(int level, const char *msg);
/* The manifest's config JSON, read once (n == 0 if none). */
hubd_str hubd_get_config(void);

#ifdef __cplusplus
}
#endif

#ifdef HUBD_IMPLEMENTATION

#include <stdlib.h>
#include <string.h>

#ifndef HUBD_HOOKS
#define HUBD_HOOKS 0 /* unknown: the host calls every hook of the manifest */
#endif

#define HUBD_EXPORT(name) __attribute__((export_name(name), visibility("default")))

static char *hubd__in;
static size_t hubd__in_cap;
static hubd_buf hubd__out;

HUBD_EXPORT("hubd_abi_v1") void hubd_abi_v1(void) {}

HUBD_EXPORT("hubd_buffer") char *hubd_buffer(uint32_t size) {
  if (size == 0) size = 1;
  if (size > hubd__in_cap) {
    size_t cap = hubd__in_cap * 2 > size ? hubd__in_cap * 2 : size;
    char *p = (char *)realloc(hubd__in, cap);
    if (!p) return 0;
    hubd__in = p;
    hubd__in_cap = cap;
  }
  return hubd__in;
}

HUBD_EXPORT("hubd_hooks") uint32_t hubd_hooks(void) { return HUBD_HOOKS; }

HUBD_EXPORT("hubd_handle") uint32_t hubd_handle(uint32_t hook, uint32_t len) {
  if (len > hubd__in_cap) {
    static const char msg[] = "hubd: input longer than the buffer";
    hubd_output(msg, sizeof msg - 1);
    return 2;
  }
  hubd_buf_reset(&hubd__out);
  hubd_str env = {hubd__in, len};
  int status = hubd_on_call((int)hook, env, &hubd__out);
  if (status != 0 || hubd__out.n > 0) hubd_output(hubd__out.b, (uint32_t)hubd__out.n);
  return (uint32_t)status;
}

static const char *const hubd__paths[HUBD_F_COUNT][2] = {
    {"v", 0}, {"hook", 0}, {"ns", 0}, {"socket", 0}, {"socket", "id"}, {"socket", "rooms"},
    {"socket", "data"}, {"handshake", 0}, {"handshake", "auth"}, {"handshake", "query"},
    {"handshake", "headers"}, {"handshake", "address"}, {"event", 0}, {"args", 0}, {"ack", 0},
    {"rooms", 0}, {"reason", 0}, {"recovered", 0}};

hubd_str hubd_field(hubd_str env, int f) {
  hubd_str none = {0, 0};
  if (f < 0 || f >= HUBD_F_COUNT) return none;
  if (env.p >= hubd__in && env.p + env.n <= hubd__in + hubd__in_cap) {
    size_t off = (size_t)(env.p - hubd__in) + ((env.n + 3) & ~(size_t)3);
    uint32_t head[3];
    if (off + 12 + 8u * HUBD_F_COUNT <= hubd__in_cap) {
      memcpy(head, hubd__in + off, sizeof head);
      if (head[0] == 0x58444968u && head[1] >= HUBD_F_COUNT) {
        uint32_t span[2], hook[2];
        memcpy(hook, hubd__in + off + 12 + 8 * HUBD_F_HOOK, sizeof hook);
        if (hook[1] != 0) {
          memcpy(span, hubd__in + off + 12 + 8 * (size_t)f, sizeof span);
          if (span[0] < span[1] && span[1] <= env.n) {
            hubd_str v = {env.p + span[0], span[1] - span[0]};
            return v;
          }
          return none;
        }
      }
    }
  }
  hubd_str v = hubd_json_get(env, hubd__paths[f][0]);
  if (hubd__paths[f][1]) v = hubd_json_get(v, hubd__paths[f][1]);
  return v;
}

static const char *hubd__ws(const char *p, const char *e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* hubd__skip returns the end of the value at p, or NULL. */
static const char *hubd__skip(const char *p, const char *e) {
  if (p >= e) return 0;
  if (*p == '"') {
    for (p++; p < e; p++) {
      if (*p == '\\') p++;
      else if (*p == '"') return p + 1;
    }
    return 0;
  }
  if (*p == '{' || *p == '[') {
    int depth = 0;
    for (; p < e; p++) {
      char c = *p;
      if (c == '"') {
        const char *q = hubd__skip(p, e);
        if (!q) return 0;
        p = q - 1;
      } else if (c == '{' || c == '[') {
        depth++;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return p + 1;
      }
    }
    return 0;
  }
  const char *s = p;
  while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
  return p == s ? 0 : p;
}

int hubd_json_is_string(hubd_str v) { return v.n >= 2 && v.p[0] == '"'; }

int hubd_json_is_true(hubd_str v) { return v.n == 4 && memcmp(v.p, "true", 4) == 0; }

hubd_str hubd_json_get(hubd_str o, const char *key) {
  hubd_str none = {0, 0};
  const char *p = o.p, *e = o.p + o.n;
  p = hubd__ws(p, e);
  if (p >= e || *p != '{') return none;
  p = hubd__ws(p + 1, e);
  while (p < e && *p == '"') {
    const char *ke = hubd__skip(p, e);
    if (!ke) return none;
    hubd_str k = {p, (size_t)(ke - p)};
    p = hubd__ws(ke, e);
    if (p >= e || *p != ':') return none;
    const char *vs = hubd__ws(p + 1, e);
    const char *ve = hubd__skip(vs, e);
    if (!ve) return none;
    if (hubd_json_string_eq(k, key)) {
      hubd_str v = {vs, (size_t)(ve - vs)};
      return v;
    }
    p = hubd__ws(ve, e);
    if (p >= e || *p != ',') break;
    p = hubd__ws(p + 1, e);
  }
  return none;
}

int hubd_json_next(hubd_str a, size_t *it, hubd_str *elem) {
  const char *e = a.p + a.n, *p;
  if (*it == 0) {
    p = hubd__ws(a.p, e);
    if (p >= e || *p != '[') return 0;
    p = hubd__ws(p + 1, e);
    if (p < e && *p == ']') return 0;
  } else {
    p = hubd__ws(a.p + *it, e);
    if (p >= e || *p != ',') return 0;
    p = hubd__ws(p + 1, e);
  }
  const char *ve = hubd__skip(p, e);
  if (!ve) return 0;
  elem->p = p;
  elem->n = (size_t)(ve - p);
  *it = (size_t)(ve - a.p);
  return 1;
}

hubd_str hubd_json_index(hubd_str a, size_t i) {
  hubd_str v = {0, 0};
  size_t it = 0;
  for (size_t k = 0; hubd_json_next(a, &it, &v); k++)
    if (k == i) return v;
  hubd_str none = {0, 0};
  return none;
}

static int hubd__hex4(const char *p, const char *e, uint32_t *r) {
  if (e - p < 4) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
    else return 0;
  }
  *r = v;
  return 1;
}

static size_t hubd__utf8(uint32_t r, char *o) {
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

long hubd_json_string(hubd_str v, char *buf, size_t cap) {
  if (!hubd_json_is_string(v)) return -1;
  const char *p = v.p + 1, *e = v.p + v.n - 1;
  size_t n = 0;
  char tmp[4];
  while (p < e) {
    const char *src = p;
    size_t len = 1;
    if (*p != '\\') {
      p++;
    } else {
      p++;
      if (p >= e) return -1;
      char c = *p++;
      switch (c) {
        case 'b': tmp[0] = '\b'; break;
        case 'f': tmp[0] = '\f'; break;
        case 'n': tmp[0] = '\n'; break;
        case 'r': tmp[0] = '\r'; break;
        case 't': tmp[0] = '\t'; break;
        case 'u': {
          uint32_t r;
          if (!hubd__hex4(p, e, &r)) return -1;
          p += 4;
          if (r >= 0xd800 && r < 0xdc00) {
            uint32_t r2;
            if (e - p >= 6 && p[0] == '\\' && p[1] == 'u' && hubd__hex4(p + 2, e, &r2) && r2 >= 0xdc00 && r2 < 0xe000) {
              r = 0x10000 + ((r - 0xd800) << 10) + (r2 - 0xdc00);
              p += 6;
            } else {
              r = 0xfffd;
            }
          } else if (r >= 0xdc00 && r < 0xe000) {
            r = 0xfffd;
          }
          len = hubd__utf8(r, tmp);
          break;
        }
        default: tmp[0] = c;
      }
      src = tmp;
    }
    if (n + len < cap) memcpy(buf + n, src, len);
    n += len;
  }
  if (n < cap) buf[n] = 0;
  return (long)n;
}

int hubd_json_string_eq(hubd_str v, const char *s) {
  if (!hubd_json_is_string(v)) return 0;
  size_t sl = strlen(s);
  if (v.n == sl + 2 && memcmp(v.p + 1, s, sl) == 0) return 1;
  if (!memchr(v.p, '\\', v.n)) return 0;
  char small[256];
  long n = hubd_json_string(v, small, sizeof small);
  return n >= 0 && (size_t)n == sl && (size_t)n < sizeof small && memcmp(small, s, sl) == 0;
}

void hubd_buf_reset(hubd_buf *b) { b->n = 0; }

void hubd_buf_raw(hubd_buf *b, const char *p, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->n + n) cap *= 2;
    char *q = (char *)realloc(b->b, cap);
    if (!q) abort();
    b->b = q;
    b->cap = cap;
  }
  memcpy(b->b + b->n, p, n);
  b->n += n;
}

void hubd_buf_cstr(hubd_buf *b, const char *s) { hubd_buf_raw(b, s, strlen(s)); }

/* Escapes exactly what the host and the Go SDK escape. */
void hubd_buf_string(hubd_buf *b, const char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  hubd_buf_raw(b, "\"", 1);
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    hubd_buf_raw(b, p + start, i - start);
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t el = 2;
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default:
        esc[1] = 'u'; esc[2] = '0'; esc[3] = '0'; esc[4] = hex[c >> 4]; esc[5] = hex[c & 0xf];
        el = 6;
    }
    hubd_buf_raw(b, esc, el);
    start = i + 1;
  }
  hubd_buf_raw(b, p + start, n - start);
  hubd_buf_raw(b, "\"", 1);
}

void hubd_log_cstr(int level, const char *msg) { hubd_log(level, msg, (uint32_t)strlen(msg)); }

hubd_str hubd_get_config(void) {
  static hubd_str cfg;
  static int loaded;
  if (!loaded) {
    loaded = 1;
    int32_t n = hubd_config(0, 0);
    if (n > 0) {
      char *p = (char *)malloc((size_t)n);
      if (p && hubd_config(p, (uint32_t)n) == n) {
        cfg.p = p;
        cfg.n = (size_t)n;
      }
    }
  }
  return cfg;
}

#endif /* HUBD_IMPLEMENTATION */
#endif /* HUBD_H */
