/* The Win32 tree's clock: the performance counter. */
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

void xipc__sleep_ms(unsigned ms) { Sleep(ms); }
