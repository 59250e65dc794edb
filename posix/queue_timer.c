/* Timed queue sleeps without a kernel timer per sleep (Linux).
 *
 * A FUTEX_WAIT with a timeout arms and cancels a high-resolution timer,
 * which makes a round trip in which both sides sleep measurably slower
 * than one without timeouts, or a pipe's (the figures are in
 * bench/results/queue-tuning.md). Queue calls always sleep with a
 * deadline (at most 250 ms away, see api/queue.c), so this file keeps the
 * timers out of the common case:
 *
 * A process-wide watchdog thread promises, in `armed`, to look at the
 * table of sleepers no later than that time. A sleep whose deadline is not
 * before `armed` registers its futex word and deadline in a free slot and
 * waits with no timeout; the watchdog wakes the word once the deadline has
 * passed (FUTEX_WAKE wakes every sleeper on the word; the others re-check
 * and sleep again). Any other sleep (a deadline before `armed`, a full
 * table, no watchdog) uses a kernel timeout as before.
 *
 * Ordering: a sleeper stores its slot and then reads `armed`; the watchdog
 * stores `armed` and then reads the slots again (both sequentially
 * consistent). So either the watchdog's second look sees the slot and
 * keeps its promise at or before the slot's deadline, or the sleeper sees
 * the new promise and checks its deadline against it.
 *
 * The watchdog starts at the first timed sleep, blocks every signal, and
 * after WD_IDLE_SCANS looks at an empty table sleeps until a sleeper rings
 * it (that sleep uses a kernel timeout). A forked child starts without it
 * (pthread_atfork resets the table).
 */
#include "posix.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WD_SLOTS 64
#define WD_LEASE_NS UINT64_C(250000000)
#define WD_IDLE_SCANS 4

enum { WD_NONE, WD_STARTING, WD_RUNNING, WD_BROKEN };

static struct {
  _Atomic int state;
  _Atomic uint64_t armed; /* 0: no promise */
  _Atomic uint32_t bell;  /* the idle watchdog sleeps here */
  _Atomic uint64_t busy;  /* bit i: slot i is claimed */
  _Atomic uint64_t deadline[WD_SLOTS];
  _Atomic(void *) word[WD_SLOTS]; /* NULL: not (yet) sleeping */
} wd;

static pthread_once_t wd_once = PTHREAD_ONCE_INIT;

static long futex(void *word, int op, uint32_t val, const struct timespec *ts) {
  return syscall(SYS_futex, word, op, val, ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* The watchdog's own sleep: until `until` (CLOCK_MONOTONIC), or forever if
 * it is 0, or until rung. */
static void wd_doze(uint32_t bell, uint64_t until) {
  struct timespec ts = xipc__timespec(until);
  futex((void *)&wd.bell, FUTEX_WAIT_BITSET_PRIVATE, bell, until != 0 ? &ts : NULL);
}

static void wd_reset_in_child(void) {
  atomic_store(&wd.state, WD_NONE);
  atomic_store(&wd.armed, 0);
  atomic_store(&wd.busy, 0);
  for (int i = 0; i < WD_SLOTS; i++)
    atomic_store(&wd.word[i], NULL);
}

static void wd_register_fork(void) {
  (void)pthread_atfork(NULL, NULL, wd_reset_in_child);
}

/* Wakes the sleepers whose deadline has passed; returns the earliest
 * deadline still to come (or `next` if it is earlier) and counts the
 * sleepers in *active. */
static uint64_t wd_scan(uint64_t now, uint64_t next, int *active) {
  uint64_t busy = atomic_load(&wd.busy);
  *active = 0;
  for (int i = 0; i < WD_SLOTS; i++) {
    if ((busy & (UINT64_C(1) << i)) == 0)
      continue;
    void *word = atomic_load(&wd.word[i]);
    uint64_t d = atomic_load(&wd.deadline[i]);
    if (word == NULL)
      continue;
    ++*active;
    if (d <= now)
      futex(word, FUTEX_WAKE, INT_MAX, NULL);
    else if (d < next)
      next = d;
  }
  return next;
}

static void *wd_main(void *arg) {
  int idle = 0;
  (void)arg;
  (void)pthread_setname_np(pthread_self(), "xipc-qtimer");
  for (;;) {
    uint32_t bell = atomic_load(&wd.bell);
    uint64_t now = xipc__now_ns();
    int active;
    uint64_t next = wd_scan(now, now + WD_LEASE_NS, &active);
    idle = active != 0 ? 0 : idle + 1;
    if (idle >= WD_IDLE_SCANS) {
      /* Withdraw the promise, then look once more: a sleeper that saw the
       * old promise registered before this store. */
      atomic_store(&wd.armed, 0);
      next = wd_scan(now, next, &active);
      if (active == 0) {
        wd_doze(bell, 0);
        idle = 0;
        continue;
      }
    }
    /* Promise, then look again for sleepers that read the old promise. */
    for (uint64_t seen = 0; seen != next;) {
      seen = next;
      atomic_store(&wd.armed, next);
      next = wd_scan(now, next, &active);
    }
    wd_doze(bell, next);
  }
  return NULL;
}

static void wd_start(void) {
  int expected = WD_NONE;
  if (!atomic_compare_exchange_strong(&wd.state, &expected, WD_STARTING))
    return;
  pthread_once(&wd_once, wd_register_fork);
  sigset_t all;
  sigfillset(&all);
  bool ok = xipc__thread_start(wd_main, NULL, &all) == 0;
  atomic_store(&wd.state, ok ? WD_RUNNING : WD_BROKEN);
}

/* No promise covers `deadline`: start or ring the watchdog for later
 * sleeps. */
static void wd_kick(uint64_t armed) {
  int state = atomic_load(&wd.state);
  if (state == WD_NONE)
    wd_start();
  else if (state == WD_RUNNING && armed == 0) {
    atomic_fetch_add(&wd.bell, 1);
    futex((void *)&wd.bell, FUTEX_WAKE_PRIVATE, 1, NULL);
  }
}

static int wd_claim(void) {
  uint64_t busy = atomic_load(&wd.busy);
  while (~busy != 0) {
    int i = __builtin_ctzll(~busy);
    if (atomic_compare_exchange_weak(&wd.busy, &busy, busy | (UINT64_C(1) << i)))
      return i;
  }
  return -1;
}

static void wd_release(int i) {
  atomic_store(&wd.word[i], NULL);
  atomic_fetch_and(&wd.busy, ~(UINT64_C(1) << i));
}

static bool covered(uint64_t armed, uint64_t deadline) {
  return armed != 0 && deadline >= armed;
}

bool xipc__qtimer_sleep(void *word, uint32_t seen, int64_t timeout_ns, int *rc) {
  uint64_t deadline = xipc__now_ns() + (uint64_t)timeout_ns;
  uint64_t armed = atomic_load(&wd.armed);
  if (!covered(armed, deadline)) {
    wd_kick(armed);
    return false;
  }
  int i = wd_claim();
  if (i < 0)
    return false;
  atomic_store(&wd.deadline[i], deadline);
  atomic_store(&wd.word[i], word);
  if (!covered(atomic_load(&wd.armed), deadline)) {
    wd_release(i);
    return false;
  }
  *rc = 0;
  if (futex(word, FUTEX_WAIT, seen, NULL) != 0 && errno != EAGAIN && errno != EINTR)
    *rc = xipc__fail_os();
  wd_release(i);
  return true;
}
