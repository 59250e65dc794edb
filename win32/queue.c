/* Queue wait/wake on Windows: one named semaphore per channel, created on
 * first use as "<queue name>.xq<channel>" in the session namespace.
 * WaitOnAddress only works inside one process, so the futex word is not
 * used here; the portable layer keeps sleeper counts in the mapping and
 * releases a semaphore only when someone sleeps. A release that races with a
 * sleeper that found work and left leaves a token behind: the next sleep
 * returns at once, which the caller treats as a spurious wake-up. */
#include "win32.h"

#include <stdio.h>
#include <stdlib.h>

struct xipc__qwait {
  char *name;
  uint32_t channels;
  HANDLE sem[];
};

int xipc__qwait_open(xipc__qwait **out, const char *name, uint32_t channels) {
  xipc__qwait *w = calloc(1, sizeof *w + channels * sizeof(HANDLE));
  if (w == NULL)
    return xipc__fail(XIPC_ENOMEM);
  w->name = _strdup(name);
  if (w->name == NULL) {
    free(w);
    return xipc__fail(XIPC_ENOMEM);
  }
  w->channels = channels;
  *out = w;
  return 0;
}

void xipc__qwait_close(xipc__qwait *w) {
  if (w == NULL)
    return;
  for (uint32_t i = 0; i < w->channels; i++)
    if (w->sem[i] != NULL)
      CloseHandle(w->sem[i]);
  free(w->name);
  free(w);
}

/* The channel's semaphore, opened or created on first use. */
static int channel(xipc__qwait *w, uint32_t ch, HANDLE *out) {
  char buf[XIPC_NAME_MAX + 32];
  int err = 0;
  if (ch >= w->channels)
    return xipc__fail(XIPC_EINVAL);
  if (w->sem[ch] == NULL) {
    snprintf(buf, sizeof buf, "%s.xq%u", w->name, (unsigned)ch);
    wchar_t *wide = xipc__utf8_to_wide(buf, &err);
    if (wide == NULL)
      return xipc__fail(err);
    /* NULL attributes: the creator's default DACL, not inheritable. */
    w->sem[ch] = CreateSemaphoreW(NULL, 0, LONG_MAX, wide);
    free(wide);
    if (w->sem[ch] == NULL)
      return xipc__fail_os();
  }
  *out = w->sem[ch];
  return 0;
}

int xipc__qwait_sleep(xipc__qwait *w, uint32_t ch, void *word, uint32_t seen,
                      int64_t timeout_ns) {
  HANDLE h;
  DWORD ms = INFINITE;
  (void)word;
  (void)seen;
  int rc = channel(w, ch, &h);
  if (rc != 0)
    return rc;
  if (timeout_ns >= 0) {
    int64_t m = (timeout_ns + 999999) / 1000000;
    ms = m >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)m;
  }
  if (WaitForSingleObject(h, ms) == WAIT_FAILED)
    return xipc__fail_os();
  return 0;
}

void xipc__qwait_wake(xipc__qwait *w, uint32_t ch, void *word, uint32_t n) {
  HANDLE h;
  (void)word;
  if (channel(w, ch, &h) != 0)
    return;
  /* A corrupted sleeper count must not overflow the semaphore. */
  ReleaseSemaphore(h, n > 65536u ? 65536 : (LONG)n, NULL);
}

/* No barrier reaches the threads of other processes (FlushProcessWriteBuffers
 * covers only the caller's own), so producers always publish with a fence. */
bool xipc__qwait_fast_publish(void) { return false; }

bool xipc__qwait_heavy_barrier(void) {
  MemoryBarrier();
  return true;
}

static uint64_t start_tag(HANDLE process) {
  FILETIME created, exited, kernel, user;
  uint64_t t = 0;
  if (GetProcessTimes(process, &created, &exited, &kernel, &user))
    t = ((uint64_t)created.dwHighDateTime << 32 | created.dwLowDateTime) / 10000;
  return (uint64_t)(((uint32_t)t & 0x7fffffffu) | 0x80000000u) << 32;
}

uint64_t xipc__qwait_self_owner(void) {
  return (uint64_t)GetCurrentProcessId() | start_tag(GetCurrentProcess());
}

bool xipc__qwait_owner_alive(uint64_t owner) {
  DWORD pid = (DWORD)(owner & 0xffffffffu);
  if (pid == 0)
    return false;
  HANDLE h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (h == NULL) /* access denied: it exists, but is not ours */
    return GetLastError() == ERROR_ACCESS_DENIED;
  /* Process ids are reused quickly on Windows: the start time tells. */
  bool alive = WaitForSingleObject(h, 0) == WAIT_TIMEOUT &&
               (owner & ~UINT64_C(0xffffffff)) == start_tag(h);
  CloseHandle(h);
  return alive;
}
