/* The Win32 tree's clock: the performance counter. Sleeps and timed waits
 * are measured on it too, because Windows may end a relative wait up to a
 * timer tick early. */
#include "win32.h"

uint64_t xipc__now_ns(void) {
  static LARGE_INTEGER freq; /* constant after boot; racing writers agree */
  LARGE_INTEGER c;
  if (freq.QuadPart == 0)
    QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&c);
  return (uint64_t)(c.QuadPart / freq.QuadPart) * UINT64_C(1000000000) +
         (uint64_t)(c.QuadPart % freq.QuadPart) * UINT64_C(1000000000) /
             (uint64_t)freq.QuadPart;
}

void xipc__sleep_ms(unsigned ms) {
  uint64_t deadline = xipc__now_ns() + (uint64_t)ms * UINT64_C(1000000);
  int left;
  while ((left = xipc__left_ms(deadline)) > 0)
    Sleep((DWORD)left);
}

DWORD xipc__wait_one(HANDLE h, int timeout_ms) {
  if (timeout_ms <= 0)
    return WaitForSingleObject(h, timeout_ms < 0 ? INFINITE : 0);
  uint64_t deadline = xipc__deadline_ns(timeout_ms);
  DWORD r;
  do
    r = WaitForSingleObject(h, (DWORD)xipc__left_ms(deadline));
  while (r == WAIT_TIMEOUT && xipc__left_ns(deadline) > 0);
  return r;
}

int xipc__wait_failed(DWORD r, int timeout_ms) {
  if (r == WAIT_TIMEOUT)
    return xipc__fail(timeout_ms == 0 ? XIPC_EAGAIN : XIPC_ETIMEDOUT);
  return xipc__fail_os();
}
