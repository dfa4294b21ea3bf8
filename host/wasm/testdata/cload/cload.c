/* cload.c — a C test guest for host/wasm that never finishes loading.
 * Built twice by the tests: with -DLOOP_IN_HOOKS its hubd_hooks export
 * spins forever; with -DLOOP_IN_INIT a constructor, run by _initialize,
 * does. Its handler allows every call. */
static volatile unsigned long spin;

#ifdef LOOP_IN_HOOKS
static unsigned hooks_forever(void) {
  for (;;) spin++;
  return 0;
}
#define HUBD_HOOKS hooks_forever()
#endif

#define HUBD_IMPLEMENTATION
#include "hubd.h"

#ifdef LOOP_IN_INIT
__attribute__((constructor)) static void init_forever(void) {
  for (;;) spin++;
}
#endif

int hubd_on_call(int hook, hubd_str env, hubd_buf *out) {
  (void)hook;
  (void)env;
  (void)out;
  return 0;
}
