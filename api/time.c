/* Deadlines on the tree's monotonic clock (xipc__now_ns), and the one wait
 * for a creator to publish a shared object. */
#include "internal.h"

#include <limits.h>

uint64_t xipc__deadline_ns(int timeout_ms) {
  if (timeout_ms < 0)
    return UINT64_MAX;
  return xipc__now_ns() + (uint64_t)timeout_ms * UINT64_C(1000000);
}

int64_t xipc__left_ns(uint64_t deadline) {
  uint64_t now;
  if (deadline == UINT64_MAX)
    return INT64_MAX;
  now = xipc__now_ns();
  if (now >= deadline)
    return 0;
  return deadline - now > (uint64_t)INT64_MAX ? INT64_MAX
                                              : (int64_t)(deadline - now);
}

int xipc__left_ms(uint64_t deadline) {
  int64_t ns;
  uint64_t ms;
  if (deadline == UINT64_MAX)
    return -1;
  ns = xipc__left_ns(deadline);
  ms = ((uint64_t)ns + 999999u) / 1000000u; /* round up: never early */
  return ms > (uint64_t)INT_MAX ? INT_MAX : (int)ms;
}

bool xipc__wait_published(bool (*published)(const void *arg), const void *arg) {
  uint64_t deadline = xipc__deadline_ns(XIPC__PUBLISH_WAIT_MS);
  for (;;) {
    if (published(arg))
      return true;
    if (xipc__left_ns(deadline) == 0)
      return false;
    xipc__sleep_ms(1);
  }
}
