/*
 * Signals, the portable half: argument checks, names, dispositions, the
 * dispatcher loop, synchronous waiters and the alarm. The trees supply the
 * lock and condition, the dispatcher thread and the OS side of delivery
 * (posix/signal.c: sigaction + self-pipe; win32/signal.c: console control
 * handler + named per-process channels).
 *
 * A signal that reaches the process (from the OS, a channel, xipc_alarm or
 * xipc_signal_raise) is queued as one bit per signal, so signals of the same
 * number that arrive before the dispatcher takes the bit coalesce. The
 * dispatcher routes each taken signal: to a waiter if a thread waits for it,
 * else to its handler, else nowhere (ignored) or to the default action.
 */
#include "internal.h"

#include <string.h>

#define SIG_BIT(sig) (1u << (sig))
#define SIG_COUNT (XIPC_SIGBREAK + 1)

enum { DISP_DEFAULT = 0, DISP_IGNORE, DISP_HANDLE };

typedef struct {
  int kind; /* DISP_* */
  xipc_signal_cb cb;
  void *arg;
  unsigned waiters; /* threads in xipc_signal_wait for this signal */
  int os_mode;      /* XIPC__SIG_OS_* last applied */
  uint64_t taken;   /* times the dispatcher took it from the queue */
  uint64_t done;    /* times its dispatch finished */
} sig_slot;

/* Everything below is guarded by xipc__sig_lock(). */
static struct {
  bool started;
  sig_slot slot[SIG_COUNT];
  unsigned queued;      /* waiting for the dispatcher */
  unsigned for_waiters; /* handed to waiters, not yet taken by one */
  int running;          /* signal whose handler runs now; 0: none */
  bool alarm_set;
  uint64_t alarm_at; /* on the xipc__now_ns clock */
  xipc__sig_watch *claims; /* waitsets' standing claims (counted in waiters) */
} st;

static _Thread_local bool on_dispatcher;

static bool sig_valid(int sig) {
  return sig >= XIPC_SIGINT && sig <= XIPC_SIGBREAK;
}

static bool sig_catchable(int sig) {
  return sig_valid(sig) && sig != XIPC_SIGKILL;
}

const char *xipc_signal_name(int sig) {
  static const char *const names[SIG_COUNT] = {
      [XIPC_SIGINT] = "SIGINT",   [XIPC_SIGTERM] = "SIGTERM",
      [XIPC_SIGKILL] = "SIGKILL", [XIPC_SIGALRM] = "SIGALRM",
      [XIPC_SIGUSR1] = "SIGUSR1", [XIPC_SIGUSR2] = "SIGUSR2",
      [XIPC_SIGHUP] = "SIGHUP",   [XIPC_SIGBREAK] = "SIGBREAK"};
  return sig_valid(sig) ? names[sig] : "SIG?";
}

bool xipc__sig_on_dispatcher(void) { return on_dispatcher; }

/* ---- state helpers (lock held) ------------------------------------------ */

static int ensure_started(void) {
  if (st.started)
    return 0;
  int rc = xipc__sig_start();
  if (rc == 0)
    st.started = true;
  return rc;
}

static int wanted_mode(int sig) {
  const sig_slot *s = &st.slot[sig];
  if (s->kind == DISP_HANDLE || s->waiters > 0)
    return XIPC__SIG_OS_CATCH;
  return s->kind == DISP_IGNORE ? XIPC__SIG_OS_IGNORE : XIPC__SIG_OS_DEFAULT;
}

static int sync_os_mode(int sig) {
  int mode = wanted_mode(sig);
  int old = st.slot[sig].os_mode;
  if (mode == old)
    return 0;
  if (mode == XIPC__SIG_OS_CATCH) {
    int rc = ensure_started();
    if (rc != 0)
      return rc;
  }
  /* Recorded before the tree applies it: the tree may release the lock
   * while it waits (Windows, removing a channel), and a thread that changes
   * the same signal meanwhile must compare against the new mode. */
  st.slot[sig].os_mode = mode;
  int rc = xipc__sig_os_mode(sig, mode);
  if (rc != 0)
    st.slot[sig].os_mode = old;
  return rc;
}

/* A thread that changes a disposition waits for a running handler of that
 * signal to return, so that the old callback and its argument are unused
 * once the change returns. A handler changing its own signal cannot wait
 * for itself. */
static void wait_handler_idle(int sig) {
  while (st.running == sig && !on_dispatcher)
    (void)xipc__sig_cond_wait(-1);
}

static int set_disposition(int sig, int kind, xipc_signal_cb cb, void *arg) {
  xipc__sig_lock();
  wait_handler_idle(sig);
  sig_slot *s = &st.slot[sig];
  sig_slot old = *s;
  s->kind = kind;
  s->cb = cb;
  s->arg = arg;
  int rc = sync_os_mode(sig);
  if (rc != 0) {
    s->kind = old.kind;
    s->cb = old.cb;
    s->arg = old.arg;
  }
  xipc__sig_unlock();
  return rc;
}

/* ---- dispositions ------------------------------------------------------- */

int xipc_signal_handle(int sig, xipc_signal_cb cb, void *arg) {
  if (!sig_catchable(sig) || cb == NULL)
    return xipc__fail(XIPC_EINVAL);
  return set_disposition(sig, DISP_HANDLE, cb, arg);
}

int xipc_signal_ignore(int sig) {
  if (!sig_catchable(sig))
    return xipc__fail(XIPC_EINVAL);
  return set_disposition(sig, DISP_IGNORE, NULL, NULL);
}

int xipc_signal_default(int sig) {
  if (!sig_valid(sig))
    return xipc__fail(XIPC_EINVAL);
  if (sig == XIPC_SIGKILL)
    return 0; /* SIGKILL always has its default action */
  return set_disposition(sig, DISP_DEFAULT, NULL, NULL);
}

/* ---- the dispatcher ----------------------------------------------------- */

static int alarm_timeout_ms(void) {
  xipc__sig_lock();
  bool set = st.alarm_set;
  uint64_t at = st.alarm_at;
  xipc__sig_unlock();
  /* Rounded up: an alarm never fires early. */
  return set ? xipc__left_ms(at) : -1;
}

static unsigned take_batch(unsigned arrived) {
  xipc__sig_lock();
  st.queued |= arrived;
  if (st.alarm_set && xipc__now_ns() >= st.alarm_at) {
    st.alarm_set = false;
    st.queued |= SIG_BIT(XIPC_SIGALRM);
  }
  unsigned batch = st.queued;
  st.queued = 0;
  for (int sig = XIPC_SIGINT; sig <= XIPC_SIGBREAK; sig++)
    if (batch & SIG_BIT(sig))
      st.slot[sig].taken++;
  xipc__sig_unlock();
  return batch;
}

/* Lock held: tells the waitsets that claim a signal of `bits` that it is
 * ready to be taken. */
static void notify_claims(unsigned bits) {
  for (xipc__sig_watch *w = st.claims; w != NULL; w = w->next)
    if (w->set & bits)
      w->notify(w->arg);
}

/* Routes one taken signal: waiter, handler, ignore or default action. */
static void dispatch_one(int sig) {
  xipc__sig_lock();
  sig_slot *s = &st.slot[sig];
  if (s->waiters > 0) {
    st.for_waiters |= SIG_BIT(sig);
    notify_claims(SIG_BIT(sig));
  } else if (s->kind == DISP_HANDLE) {
    xipc_signal_cb cb = s->cb;
    void *arg = s->arg;
    st.running = sig;
    xipc__sig_unlock();
    cb(sig, arg);
    xipc__sig_lock();
    st.running = 0;
  } else if (s->kind == DISP_DEFAULT) {
    xipc__sig_unlock();
    xipc__sig_terminate(sig); /* does not return */
    xipc__sig_lock();
  }
  s->done++;
  xipc__sig_broadcast();
  xipc__sig_unlock();
}

void xipc__sig_dispatcher_main(void) {
  on_dispatcher = true;
  for (;;) {
    unsigned batch = take_batch(xipc__sig_os_wait(alarm_timeout_ms()));
    for (int sig = XIPC_SIGINT; sig <= XIPC_SIGBREAK; sig++)
      if (batch & SIG_BIT(sig))
        dispatch_one(sig);
  }
}

int xipc__sig_deliver(int sig, int timeout_ms) {
  int rc = 0;
  uint64_t deadline = xipc__deadline_ns(timeout_ms);
  xipc__sig_lock();
  /* The next time the dispatcher takes sig, the take includes this one. */
  uint64_t target = st.slot[sig].taken + 1;
  st.queued |= SIG_BIT(sig);
  xipc__sig_wake();
  while (!on_dispatcher && st.slot[sig].done < target && rc == 0)
    rc = xipc__sig_cond_wait(deadline);
  xipc__sig_unlock();
  return rc == 0 ? 0 : xipc__fail(rc);
}

int xipc_signal_raise(int sig) {
  if (!sig_valid(sig))
    return xipc__fail(XIPC_EINVAL);
  xipc__sig_lock();
  int mode = sig == XIPC_SIGKILL ? XIPC__SIG_OS_DEFAULT : wanted_mode(sig);
  xipc__sig_unlock();
  if (mode == XIPC__SIG_OS_DEFAULT)
    xipc__sig_terminate(sig); /* does not return */
  if (mode == XIPC__SIG_OS_IGNORE)
    return 0;
  return xipc__sig_deliver(sig, -1);
}

int xipc_signal_send(xipc_pid pid, int sig) {
  if (pid <= 0 || !sig_valid(sig))
    return xipc__fail(XIPC_EINVAL);
  return xipc__sig_send(pid, sig);
}

/* ---- synchronous wait --------------------------------------------------- */

static int signal_set(const int *sigs, size_t n, unsigned *set) {
  *set = 0;
  if (sigs == NULL || n == 0)
    return XIPC_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (!sig_catchable(sigs[i]))
      return XIPC_EINVAL;
    *set |= SIG_BIT(sigs[i]);
  }
  return 0;
}

/* Lock held. Registers the calling thread as a waiter for set; on failure
 * the caller still calls remove_waiter(set). */
static int add_waiter(unsigned set) {
  int rc = 0;
  for (int sig = XIPC_SIGINT; sig <= XIPC_SIGBREAK; sig++)
    if (set & SIG_BIT(sig))
      st.slot[sig].waiters++;
  for (int sig = XIPC_SIGINT; sig <= XIPC_SIGBREAK && rc == 0; sig++)
    if (set & SIG_BIT(sig))
      rc = sync_os_mode(sig);
  return rc;
}

/* Lock held. Undoes add_waiter. A signal handed to waiters that no waiter
 * took is queued again, so that its disposition applies: it is never
 * lost. */
static void remove_waiter(unsigned set) {
  for (int sig = XIPC_SIGINT; sig <= XIPC_SIGBREAK; sig++) {
    if (!(set & SIG_BIT(sig)))
      continue;
    if (--st.slot[sig].waiters == 0 && (st.for_waiters & SIG_BIT(sig))) {
      st.for_waiters &= ~SIG_BIT(sig);
      st.queued |= SIG_BIT(sig);
      xipc__sig_wake();
    }
    (void)sync_os_mode(sig);
  }
}

static int take_for_waiter(unsigned set, int *got) {
  unsigned ready = st.for_waiters & set;
  for (int sig = XIPC_SIGINT; sig <= XIPC_SIGBREAK; sig++) {
    if (ready & SIG_BIT(sig)) {
      st.for_waiters &= ~SIG_BIT(sig);
      if (got != NULL)
        *got = sig;
      return 1;
    }
  }
  return 0;
}

static int await_signal(unsigned set, int timeout_ms, int *got) {
  uint64_t deadline = xipc__deadline_ns(timeout_ms);
  for (;;) {
    if (take_for_waiter(set, got))
      return 0;
    if (timeout_ms == 0)
      return XIPC_EAGAIN;
    if (xipc__left_ns(deadline) == 0)
      return XIPC_ETIMEDOUT;
    (void)xipc__sig_cond_wait(deadline);
  }
}

int xipc_signal_wait(const int *sigs, size_t n, int timeout_ms, int *got) {
  unsigned set;
  if (timeout_ms < -1 || signal_set(sigs, n, &set) != 0)
    return xipc__fail(XIPC_EINVAL);
  /* The dispatcher cannot wait for a signal only it can deliver. */
  if (on_dispatcher)
    return xipc__fail(XIPC_EBUSY);
  xipc__sig_lock();
  int rc = add_waiter(set);
  if (rc == 0)
    rc = await_signal(set, timeout_ms, got);
  remove_waiter(set);
  xipc__sig_unlock();
  if (rc == XIPC_EAGAIN || rc == XIPC_ETIMEDOUT)
    return xipc__fail(rc);
  return rc;
}

/* ---- waitsets' standing claims -------------------------------------------
 * A claim is a waiter that stays: counted in the slots' `waiters` (so the
 * dispatcher hands its signals to waiters, not to handlers) from add to
 * remove, and told by notify when one is ready, instead of waiting on the
 * condition. Threads in xipc_signal_wait and claims share the signals
 * handed to waiters: whoever takes one first has it. */

int xipc__sig_watch_add(xipc__sig_watch *w) {
  unsigned catchable = 0;
  for (int sig = XIPC_SIGINT; sig <= XIPC_SIGBREAK; sig++)
    if (sig_catchable(sig))
      catchable |= SIG_BIT(sig);
  if (w == NULL || w->notify == NULL || w->set == 0 || (w->set & ~catchable) != 0)
    return xipc__fail(XIPC_EINVAL);
  xipc__sig_lock();
  int rc = add_waiter(w->set);
  if (rc != 0) {
    remove_waiter(w->set);
  } else {
    w->next = st.claims;
    st.claims = w;
    if (st.for_waiters & w->set) /* left by a thread that stopped waiting */
      w->notify(w->arg);
  }
  xipc__sig_unlock();
  return rc;
}

/* Only a claim in the list is undone: after fork() the child forgot them
 * (xipc__sig_reset_after_fork), and removing one there does nothing. */
void xipc__sig_watch_remove(xipc__sig_watch *w) {
  xipc__sig_lock();
  for (xipc__sig_watch **p = &st.claims; *p != NULL; p = &(*p)->next) {
    if (*p == w) {
      *p = w->next;
      w->next = NULL;
      remove_waiter(w->set);
      break;
    }
  }
  xipc__sig_unlock();
}

unsigned xipc__sig_watch_take(xipc__sig_watch *w) {
  xipc__sig_lock();
  unsigned got = st.for_waiters & w->set;
  st.for_waiters &= ~got;
  xipc__sig_unlock();
  return got;
}

/* The child keeps no claims: the waitsets' memory is copied into it, but
 * no thread of the child waits on them, and the signals sent to the child
 * must reach its own dispositions. */
void xipc__sig_reset_after_fork(void) {
  st.claims = NULL;
  st.for_waiters = 0;
  st.running = 0;
  st.alarm_set = false;
  for (int sig = XIPC_SIGINT; sig <= XIPC_SIGBREAK; sig++) {
    st.slot[sig].waiters = 0;
    (void)sync_os_mode(sig);
  }
}

/* ---- alarm -------------------------------------------------------------- */

int xipc_alarm(unsigned ms) {
  int rc = 0;
  xipc__sig_lock();
  if (ms > 0)
    rc = ensure_started();
  if (rc == 0 && st.started) {
    st.alarm_set = ms > 0;
    st.alarm_at = xipc__now_ns() + (uint64_t)ms * UINT64_C(1000000);
    xipc__sig_wake();
  }
  xipc__sig_unlock();
  return rc;
}
