/* cfaults.c — a C test guest for host/wasm: each event name makes it
 * misbehave in one way, or report what the sandbox lets it see. */
#define HUBD_IMPLEMENTATION
#define HUBD_HOOKS HUBD_BIT(HUBD_EVENT)
#include "hubd.h"

#include <stdio.h>
#include <stdlib.h>

static volatile unsigned long spin;
static void *keep;

int hubd_on_call(int hook, hubd_str env, hubd_buf *out) {
  hubd_str ev = hubd_field(env, HUBD_F_EVENT);
  if (hubd_json_string_eq(ev, "trap")) {
    __builtin_trap();
  } else if (hubd_json_string_eq(ev, "loop")) {
    for (;;) spin++;
  } else if (hubd_json_string_eq(ev, "logloop")) {
    /* A loop the host's log tells has begun. */
    hubd_log_cstr(HUBD_INFO, "looping");
    for (;;) spin++;
  } else if (hubd_json_string_eq(ev, "bomb")) {
    for (;;) {
      void **p = malloc(1 << 20);
      if (!p) abort(); /* at the page limit */
      *p = keep;
      keep = p;
    }
  } else if (hubd_json_string_eq(ev, "fail")) {
    hubd_buf_cstr(out, "something went wrong");
    return 7;
  } else if (hubd_json_string_eq(ev, "sandbox")) {
    FILE *f = fopen("/etc/passwd", "r");
    hubd_buf_cstr(out, "{\"action\":\"reply\",\"reply\":[");
    hubd_buf_cstr(out, f ? "\"opened\"" : "null");
    hubd_buf_cstr(out, ",");
    hubd_buf_cstr(out, getenv("HOME") ? "\"home\"" : "null");
    hubd_buf_cstr(out, "]}");
    if (f) fclose(f);
  }
  return 0;
}
