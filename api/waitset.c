/*
 * Waitset, the portable half: argument checks, the entries, queues (their
 * watcher slots and the doorbell's rings), signals (a standing claim in
 * api/signal.c), timers (on the xipc__now_ns clock; they shorten the OS
 * wait), the streams' read-ahead, the wake flag, fairness and the results.
 * The tree (posix/waitset.c, win32/waitset.c) owns the OS multiplexer.
 *
 * Level-triggered without scanning idle objects: an OS entry is reported
 * by the tree whenever it is ready; a queue is looked at only when it was
 * just added, was ready at the last look, or its doorbell rang (then it is
 * armed again); a stream's read-ahead only when the stream was ready at
 * the last look or a recv left bytes behind (xipc__waitset_stream_note).
 * So a wait costs the same with 10 or 1,000 idle objects (timers excepted:
 * they are scanned, and a set rarely has many).
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SIG_BIT(sig) (1u << (sig))
#define BELLS 256u      /* cookies taken from the doorbell per OS wait */
#define OS_READY 1024u  /* OS entries taken per OS wait, at most */
/* A guard against a ring that never comes: a producer killed between
 * publishing a message and ringing, or a watcher slot that another
 * process overwrote while the set slept (only our own arm stores it
 * again). Every QUEUE_GUARD_NS a wait looks whether a watched queue has
 * become ready without a ring (a check of its positions: no write, no
 * barrier, no system call), so such a message is reported late, never
 * missed for good. It does not reach the native handle's timer: another
 * event loop gets the guard whenever it calls xipc_waitset_wait. After
 * xipc__queue_arm said XIPC_EAGAIN (not armed reliably), every queue is
 * armed again QUEUE_RETRY_NS later. */
#define QUEUE_GUARD_NS UINT64_C(1000000000)
#define QUEUE_RETRY_NS UINT64_C(1000000)

typedef struct went {
  xipc__went pub; /* first: the tree's view */
  struct xipc_waitset *ws;
  bool checking;  /* in ws->check */
  int slot;       /* QUEUE: the watcher slot */
  uint64_t due;   /* TIMER: next expiry on the xipc__now_ns clock */
  uint64_t every; /* TIMER: interval in ns, 0 for one-shot */
  xipc__sig_watch claim; /* SIGNALS */
  uint64_t mark;  /* the collect round that made it a candidate */
  size_t cand;    /* its index in ws->cand then */
} went;

typedef struct {
  went *e;
  unsigned events;
  int sig;
} cand_t;

/* A growable array of entry pointers. */
typedef struct {
  went **v;
  size_t n, cap;
} wlist;

struct xipc_waitset {
  xipc__wos *os;
  uint32_t bell;
  wlist all;       /* every entry */
  wlist check;     /* queues and streams to look at in the next wait */
  wlist timers;
  went **by_cookie; /* cookie -> queue entry (NULL: free) */
  size_t ncookies;
  size_t nqueues;   /* queue entries */
  uint64_t requeue; /* when every queue is looked at again */
  bool rearm;       /* ... and armed again (after XIPC_EAGAIN) */
  went *signals;
  unsigned sig_pending; /* taken from the claim, not reported yet */
  cand_t *cand;
  size_t ncand, cand_cap;
  uint64_t round;
  size_t rot; /* where the next report starts, for fairness */
  xipc__wready *ready;
  size_t ready_cap;
  uint32_t bells[BELLS];
  _Atomic int woken;
  _Atomic bool waiting;
  _Atomic unsigned notes; /* xipc__waitset_stream_note calls */
  unsigned notes_seen;
  /* The native handle is kept up to date (pending, timer) only once the
   * caller asked for it: each costs system calls in every wait. */
  bool native_used;
  bool pend_on;      /* what the tree was last told */
  uint64_t timer_at; /* likewise (UINT64_MAX: disarmed) */
};

/* ---- small helpers --------------------------------------------------------- */

static int wl_push(wlist *l, went *e) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    went **v = realloc(l->v, cap * sizeof *v);
    if (v == NULL)
      return XIPC_ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = e;
  return 0;
}

static void wl_del(wlist *l, const went *e) {
  for (size_t i = 0; i < l->n; i++) {
    if (l->v[i] == e) {
      l->v[i] = l->v[--l->n];
      return;
    }
  }
}

static void counter_add(unsigned *c, int d) {
  if (d > 0)
    __atomic_fetch_add(c, 1u, __ATOMIC_SEQ_CST);
  else
    __atomic_fetch_sub(c, 1u, __ATOMIC_SEQ_CST);
}

static unsigned *watchers_of(const went *e) {
  switch (e->pub.kind) {
  case XIPC__WE_QUEUE: return xipc__queue_watchers(e->pub.o.queue);
  case XIPC__WE_LISTENER: return xipc__listener_watchers(e->pub.o.listener);
  case XIPC__WE_PROC: return xipc__proc_watchers(e->pub.o.proc);
  default: return NULL;
  }
}

static bool same_object(const went *a, int kind, const void *obj,
                        intptr_t native) {
  if (a->pub.kind != kind)
    return false;
  if (kind == XIPC__WE_NATIVE)
    return a->pub.o.native == native;
  if (kind == XIPC__WE_TIMER || kind == XIPC__WE_SIGNALS)
    return kind == XIPC__WE_SIGNALS; /* one signals entry per set */
  return (const void *)a->pub.o.queue == obj;
}

static went *find_user(const xipc_waitset *w, const void *user) {
  for (size_t i = 0; i < w->all.n; i++)
    if (w->all.v[i]->pub.user == user)
      return w->all.v[i];
  return NULL;
}

/* XIPC_EEXIST if user or the object is in the set already. */
static int check_new(const xipc_waitset *w, int kind, const void *obj,
                     intptr_t native, const void *user) {
  if (find_user(w, user) != NULL)
    return XIPC_EEXIST;
  for (size_t i = 0; i < w->all.n; i++)
    if (same_object(w->all.v[i], kind, obj, native))
      return XIPC_EEXIST;
  return 0;
}

/* Room for every entry's candidate (signals: one per signal number). */
static int grow_cands(xipc_waitset *w) {
  size_t want = w->all.n + 1 + XIPC_SIGBREAK + 1;
  if (want > w->cand_cap) {
    cand_t *c = realloc(w->cand, want * 2 * sizeof *c);
    if (c == NULL)
      return XIPC_ENOMEM;
    w->cand = c;
    w->cand_cap = want * 2;
  }
  size_t rwant = w->all.n < OS_READY ? w->all.n + 1 : OS_READY;
  if (rwant > w->ready_cap) {
    xipc__wready *r = realloc(w->ready, rwant * 2 * sizeof *r);
    if (r == NULL)
      return XIPC_ENOMEM;
    w->ready = r;
    w->ready_cap = rwant * 2;
  }
  return 0;
}

static int take_cookie(xipc_waitset *w, went *e) {
  for (size_t i = 0; i < w->ncookies; i++) {
    if (w->by_cookie[i] == NULL) {
      w->by_cookie[i] = e;
      e->pub.cookie = (uint32_t)i;
      return 0;
    }
  }
  size_t cap = w->ncookies ? w->ncookies * 2 : 16;
  went **v = realloc(w->by_cookie, cap * sizeof *v);
  if (v == NULL)
    return XIPC_ENOMEM;
  memset(v + w->ncookies, 0, (cap - w->ncookies) * sizeof *v);
  w->by_cookie = v;
  w->by_cookie[w->ncookies] = e;
  e->pub.cookie = (uint32_t)w->ncookies;
  w->ncookies = cap;
  return 0;
}

static uint64_t next_due(const xipc_waitset *w) {
  uint64_t due = UINT64_MAX;
  for (size_t i = 0; i < w->timers.n; i++)
    if (w->timers.v[i]->due < due)
      due = w->timers.v[i]->due;
  return due;
}

static void set_pending(xipc_waitset *w, bool on) {
  if (w->native_used && on != w->pend_on) {
    xipc__wos_pending(w->os, on);
    w->pend_on = on;
  }
}

static void set_timer(xipc_waitset *w) {
  uint64_t due = next_due(w);
  if (w->native_used && due != w->timer_at &&
      xipc__wos_timer(w->os, due) == 0)
    w->timer_at = due;
}

/* ---- open, add, remove, close ----------------------------------------------- */

int xipc_waitset_open(xipc_waitset **out) {
  if (out == NULL)
    return xipc__fail(XIPC_EINVAL);
  *out = NULL;
  xipc_waitset *w = calloc(1, sizeof *w);
  if (w == NULL)
    return xipc__fail(XIPC_ENOMEM);
  int rc = grow_cands(w);
  if (rc != 0) {
    free(w->cand);
    free(w->ready);
    free(w);
    return xipc__fail(rc);
  }
  rc = xipc__wos_open(&w->os, &w->bell);
  if (rc != 0) {
    free(w->cand);
    free(w->ready);
    free(w);
    return rc; /* recorded by the tree */
  }
  w->timer_at = UINT64_MAX;
  *out = w;
  return 0;
}

static void notify_signals(void *arg) { xipc__wos_kick(arg); }

static void want_check(xipc_waitset *w, went *e);

/* A queue entry: a cookie, a watcher slot, and a first look at the next
 * wait. */
static int attach_queue(xipc_waitset *w, went *e) {
  int rc = take_cookie(w, e);
  if (rc != 0)
    return rc;
  rc = xipc__queue_watch(e->pub.o.queue, w->bell, e->pub.cookie, &e->slot);
  if (rc != 0) {
    w->by_cookie[e->pub.cookie] = NULL;
    return rc;
  }
  w->nqueues++;
  want_check(w, e);
  return 0;
}

/* The kind-specific part of adding e (its public part is filled). */
static int attach(xipc_waitset *w, went *e) {
  int rc;
  switch (e->pub.kind) {
  case XIPC__WE_QUEUE:
    return attach_queue(w, e);
  case XIPC__WE_SIGNALS:
    e->claim.notify = notify_signals;
    e->claim.arg = w->os;
    return xipc__sig_watch_add(&e->claim);
  case XIPC__WE_TIMER:
    return wl_push(&w->timers, e);
  case XIPC__WE_STREAM:
    rc = xipc__wos_add(w->os, &e->pub);
    if (rc == 0)
      want_check(w, e); /* read-ahead from before the add */
    return rc;
  default:
    return xipc__wos_add(w->os, &e->pub);
  }
}

/* Undoes attach (and what add did around it). */
static void detach(xipc_waitset *w, went *e) {
  switch (e->pub.kind) {
  case XIPC__WE_QUEUE:
    xipc__queue_unwatch(e->pub.o.queue, e->slot, w->bell, e->pub.cookie);
    w->by_cookie[e->pub.cookie] = NULL;
    w->nqueues--;
    break;
  case XIPC__WE_SIGNALS:
    xipc__sig_watch_remove(&e->claim);
    w->signals = NULL;
    w->sig_pending = 0; /* taken but unreported: see xipc_waitset_remove */
    break;
  case XIPC__WE_TIMER:
    wl_del(&w->timers, e);
    break;
  default:
    xipc__wos_remove(w->os, &e->pub);
    break;
  }
  if (e->pub.kind == XIPC__WE_STREAM)
    XIPC__STREAM_BASE(e->pub.o.stream)->watch = NULL;
  unsigned *c = watchers_of(e);
  if (c != NULL)
    counter_add(c, -1);
  if (e->checking)
    wl_del(&w->check, e);
}

static int add_entry(xipc_waitset *w, went *e) {
  int rc = grow_cands(w);
  if (rc == 0)
    rc = wl_push(&w->all, e);
  if (rc != 0) {
    free(e);
    return xipc__fail(rc);
  }
  e->ws = w;
  rc = attach(w, e);
  if (rc != 0) {
    w->all.n--;
    if (e->checking)
      wl_del(&w->check, e);
    free(e);
    return rc == XIPC_ENOMEM ? xipc__fail(rc) : rc;
  }
  unsigned *c = watchers_of(e);
  if (c != NULL)
    counter_add(c, 1);
  if (e->pub.kind == XIPC__WE_STREAM)
    XIPC__STREAM_BASE(e->pub.o.stream)->watch = e;
  if (e->pub.kind == XIPC__WE_SIGNALS)
    w->signals = e;
  /* The native handle must show what the next wait would find. */
  set_pending(w, true);
  return 0;
}

static went *new_entry(int kind, unsigned events, void *user) {
  went *e = calloc(1, sizeof *e);
  if (e != NULL) {
    e->pub.kind = kind;
    e->pub.events = events;
    e->pub.user = user;
    e->slot = -1;
  }
  return e;
}

/* A new entry of kind for obj / native and user, after the checks every
 * add makes (XIPC_EEXIST); the caller stores the object and adds it. */
static int new_checked(xipc_waitset *w, int kind, unsigned events,
                       const void *obj, intptr_t native, void *user,
                       went **out) {
  int rc = check_new(w, kind, obj, native, user);
  if (rc != 0)
    return xipc__fail(rc);
  *out = new_entry(kind, events, user);
  return *out == NULL ? xipc__fail(XIPC_ENOMEM) : 0;
}

static bool rw_events(unsigned ev) {
  return ev != 0 && (ev & ~(unsigned)(XIPC_WAIT_READABLE | XIPC_WAIT_WRITABLE)) == 0;
}

int xipc_waitset_add_queue(xipc_waitset *w, xipc_queue *q, unsigned events,
                           void *user) {
  if (w == NULL || q == NULL || !rw_events(events))
    return xipc__fail(XIPC_EINVAL);
  went *e = NULL;
  int rc = new_checked(w, XIPC__WE_QUEUE, events, q, 0, user, &e);
  if (rc != 0)
    return rc;
  e->pub.o.queue = q;
  return add_entry(w, e);
}

int xipc_waitset_add_stream(xipc_waitset *w, xipc_stream *s, unsigned events,
                            void *user) {
  if (w == NULL || s == NULL || !rw_events(events))
    return xipc__fail(XIPC_EINVAL);
  const struct xipc__stream_base *b = XIPC__STREAM_BASE(s);
  if ((b->kind == XIPC__STREAM_PIPE_WRITE && (events & XIPC_WAIT_READABLE)) ||
      (b->kind == XIPC__STREAM_PIPE_READ && (events & XIPC_WAIT_WRITABLE)) ||
      (b->shut && (events & XIPC_WAIT_WRITABLE)))
    return xipc__fail(XIPC_EINVAL);
  went *e = NULL;
  int rc = new_checked(w, XIPC__WE_STREAM, events, s, 0, user, &e);
  if (rc != 0)
    return rc;
  if (b->watch != NULL) { /* in another set */
    free(e);
    return xipc__fail(XIPC_EBUSY);
  }
  e->pub.o.stream = s;
  return add_entry(w, e);
}

int xipc_waitset_add_listener(xipc_waitset *w, xipc_listener *l, void *user) {
  if (w == NULL || l == NULL)
    return xipc__fail(XIPC_EINVAL);
  went *e = NULL;
  int rc = new_checked(w, XIPC__WE_LISTENER, XIPC_WAIT_READABLE, l, 0, user, &e);
  if (rc != 0)
    return rc;
  e->pub.o.listener = l;
  return add_entry(w, e);
}

int xipc_waitset_add_proc(xipc_waitset *w, xipc_proc *p, void *user) {
  if (w == NULL || p == NULL)
    return xipc__fail(XIPC_EINVAL);
  went *e = NULL;
  int rc = new_checked(w, XIPC__WE_PROC, XIPC_WAIT_READABLE, p, 0, user, &e);
  if (rc != 0)
    return rc;
  e->pub.o.proc = p;
  return add_entry(w, e);
}

int xipc_waitset_add_signals(xipc_waitset *w, const int *sigs, size_t n,
                             void *user) {
  unsigned set = 0;
  if (w == NULL || sigs == NULL || n == 0)
    return xipc__fail(XIPC_EINVAL);
  for (size_t i = 0; i < n; i++) {
    if (sigs[i] < XIPC_SIGINT || sigs[i] > XIPC_SIGBREAK ||
        sigs[i] == XIPC_SIGKILL)
      return xipc__fail(XIPC_EINVAL);
    set |= SIG_BIT(sigs[i]);
  }
  went *e = NULL;
  int rc = new_checked(w, XIPC__WE_SIGNALS, XIPC_WAIT_READABLE, NULL, 0, user, &e);
  if (rc != 0)
    return rc;
  e->claim.set = set;
  return add_entry(w, e);
}

int xipc_waitset_add_timer(xipc_waitset *w, int after_ms, int interval_ms,
                           void *user) {
  if (w == NULL || after_ms < 0 || interval_ms < 0)
    return xipc__fail(XIPC_EINVAL);
  went *e = NULL;
  int rc = new_checked(w, XIPC__WE_TIMER, XIPC_WAIT_READABLE, NULL, 0, user, &e);
  if (rc != 0)
    return rc;
  e->due = xipc__now_ns() + (uint64_t)after_ms * UINT64_C(1000000);
  e->every = (uint64_t)interval_ms * UINT64_C(1000000);
  rc = add_entry(w, e);
  if (rc == 0)
    set_timer(w);
  return rc;
}

int xipc_waitset_add_native(xipc_waitset *w, intptr_t fd_or_handle,
                            unsigned events, void *user) {
  if (w == NULL || !rw_events(events))
    return xipc__fail(XIPC_EINVAL);
  went *e = NULL;
  int rc = new_checked(w, XIPC__WE_NATIVE, events, NULL, fd_or_handle, user, &e);
  if (rc != 0)
    return rc;
  e->pub.o.native = fd_or_handle;
  return add_entry(w, e);
}

static void remove_entry(xipc_waitset *w, went *e) {
  /* Signals taken from the claim but not reported go back to the
   * dispatcher's rules by way of a fresh delivery: none is lost. */
  unsigned lost = e->pub.kind == XIPC__WE_SIGNALS ? w->sig_pending : 0;
  detach(w, e);
  wl_del(&w->all, e);
  if (e->pub.kind == XIPC__WE_TIMER)
    set_timer(w);
  free(e);
  for (int sig = XIPC_SIGINT; sig <= XIPC_SIGBREAK; sig++)
    if (lost & SIG_BIT(sig))
      (void)xipc_signal_raise(sig);
}

int xipc_waitset_remove(xipc_waitset *w, void *user) {
  if (w == NULL)
    return xipc__fail(XIPC_EINVAL);
  went *e = find_user(w, user);
  if (e == NULL)
    return xipc__fail(XIPC_ENOENT);
  remove_entry(w, e);
  return 0;
}

int xipc_waitset_close(xipc_waitset *w) {
  if (w == NULL)
    return xipc__fail(XIPC_EINVAL);
  while (w->all.n > 0)
    remove_entry(w, w->all.v[w->all.n - 1]);
  xipc__wos_close(w->os);
  free(w->all.v);
  free(w->check.v);
  free(w->timers.v);
  free(w->by_cookie);
  free(w->cand);
  free(w->ready);
  free(w);
  return 0;
}

int xipc_waitset_wake(xipc_waitset *w) {
  if (w == NULL)
    return XIPC_EINVAL; /* no xipc__fail: async-signal-safe */
  atomic_store(&w->woken, 1);
  xipc__wos_kick(w->os);
  return 0;
}

int xipc_waitset_native_handle(xipc_waitset *w, intptr_t *fd_or_handle) {
  if (w == NULL || fd_or_handle == NULL)
    return xipc__fail(XIPC_EINVAL);
  *fd_or_handle = xipc__wos_native(w->os);
  if (!w->native_used) {
    w->native_used = true;
    set_pending(w, true); /* what the next wait finds is not known yet */
    set_timer(w);
  }
  return 0;
}

void xipc__waitset_stream_note(void *watch) {
  went *e = watch;
  xipc_waitset *w = e->ws;
  atomic_fetch_add(&w->notes, 1u);
  if (atomic_load(&w->waiting))
    xipc__wos_kick(w->os);
}

/* ---- collecting candidates --------------------------------------------------- */

static void add_cand(xipc_waitset *w, went *e, unsigned events, int sig) {
  if (events == 0)
    return;
  if (sig == 0 && e->mark == w->round) {
    w->cand[e->cand].events |= events;
    return;
  }
  e->mark = w->round;
  e->cand = w->ncand;
  cand_t c = {e, events, sig};
  w->cand[w->ncand++] = c;
}

/* A stream's read-ahead: bytes xipc read that the OS no longer shows. */
static unsigned stream_ready(const went *e) {
  const struct xipc__stream_base *b = XIPC__STREAM_BASE(e->pub.o.stream);
  if ((e->pub.events & XIPC_WAIT_READABLE) && (b->rend > b->rpos || b->eof))
    return XIPC_WAIT_READABLE;
  return 0;
}

static unsigned queue_ready(went *e) {
  unsigned ready = 0;
  xipc_waitset *w = e->ws;
  int rc = xipc__queue_arm(e->pub.o.queue, e->pub.events, e->slot, w->bell,
                           e->pub.cookie, true, &ready);
  if (rc == XIPC_EAGAIN) { /* not armed: look again soon */
    uint64_t soon = xipc__now_ns() + QUEUE_RETRY_NS;
    if (soon < w->requeue)
      w->requeue = soon;
    w->rearm = true;
  }
  return ready;
}

/* Looks at the check list; what is ready stays on it (level-triggered). */
static void collect_checks(xipc_waitset *w) {
  size_t keep = 0;
  for (size_t i = 0; i < w->check.n; i++) {
    went *e = w->check.v[i];
    unsigned r = e->pub.kind == XIPC__WE_QUEUE ? queue_ready(e) : stream_ready(e);
    add_cand(w, e, r, 0);
    if (r != 0)
      w->check.v[keep++] = e;
    else
      e->checking = false;
  }
  w->check.n = keep;
}

static void want_check(xipc_waitset *w, went *e) {
  if (!e->checking && wl_push(&w->check, e) == 0)
    e->checking = true;
}

/* After a recv left bytes in a read-ahead somewhere: look at every stream. */
static void collect_notes(xipc_waitset *w) {
  unsigned notes = atomic_load(&w->notes);
  if (notes == w->notes_seen)
    return;
  w->notes_seen = notes;
  for (size_t i = 0; i < w->all.n; i++)
    if (w->all.v[i]->pub.kind == XIPC__WE_STREAM)
      want_check(w, w->all.v[i]);
}

static void collect_timers(xipc_waitset *w, uint64_t now) {
  for (size_t i = 0; i < w->timers.n; i++)
    if (w->timers.v[i]->due <= now)
      add_cand(w, w->timers.v[i], XIPC_WAIT_READABLE, 0);
}

static void collect_signals(xipc_waitset *w) {
  if (w->signals == NULL)
    return;
  w->sig_pending |= xipc__sig_watch_take(&w->signals->claim);
  for (int sig = XIPC_SIGINT; sig <= XIPC_SIGBREAK; sig++)
    if (w->sig_pending & SIG_BIT(sig))
      add_cand(w, w->signals, XIPC_WAIT_READABLE, sig);
}

/* The guard (see QUEUE_GUARD_NS). */
static void collect_requeue(xipc_waitset *w, uint64_t now) {
  if (w->nqueues == 0 || now < w->requeue)
    return;
  bool rearm = w->rearm;
  w->rearm = false;
  w->requeue = now + QUEUE_GUARD_NS;
  for (size_t i = 0; i < w->all.n; i++) {
    went *e = w->all.v[i];
    unsigned ready = 0;
    if (e->pub.kind != XIPC__WE_QUEUE)
      continue;
    if (!rearm)
      (void)xipc__queue_arm(e->pub.o.queue, e->pub.events, e->slot, w->bell,
                            e->pub.cookie, false, &ready);
    if (rearm || ready != 0)
      want_check(w, e);
  }
}

static void collect_portable(xipc_waitset *w) {
  w->round++;
  w->ncand = 0;
  collect_notes(w);
  collect_requeue(w, xipc__now_ns());
  collect_checks(w);
  collect_timers(w, xipc__now_ns());
  collect_signals(w);
}

/* Queues whose doorbell rang: look at them now (and keep them on the
 * check list if ready). nb SIZE_MAX: the tree cannot say which. */
static void collect_bells(xipc_waitset *w, size_t nb) {
  if (nb == SIZE_MAX) {
    for (size_t i = 0; i < w->all.n; i++)
      if (w->all.v[i]->pub.kind == XIPC__WE_QUEUE)
        want_check(w, w->all.v[i]);
  } else {
    for (size_t i = 0; i < nb; i++) {
      uint32_t c = w->bells[i];
      if (c < w->ncookies && w->by_cookie[c] != NULL)
        want_check(w, w->by_cookie[c]);
    }
  }
}

static void collect_os(xipc_waitset *w, size_t n) {
  for (size_t i = 0; i < n; i++)
    add_cand(w, (went *)(void *)w->ready[i].e, w->ready[i].events, 0);
}

/* ---- reporting --------------------------------------------------------------- */

static void consume(xipc_waitset *w, const cand_t *c, uint64_t now,
                    wlist *expired) {
  went *e = c->e;
  if (c->sig != 0) {
    w->sig_pending &= ~SIG_BIT(c->sig);
  } else if (e->pub.kind == XIPC__WE_TIMER) {
    if (e->every == 0) {
      (void)wl_push(expired, e);
    } else {
      uint64_t late = now - e->due;
      e->due += (late / e->every + 1) * e->every;
    }
  }
}

/* Reports up to cap candidates, starting at a rotating position so that
 * an object that is always ready does not keep the others out. */
static size_t report(xipc_waitset *w, xipc_wait_event *ev, size_t cap) {
  wlist expired = {0};
  uint64_t now = xipc__now_ns();
  size_t n = w->ncand < cap ? w->ncand : cap;
  size_t start = w->rot % w->ncand;
  for (size_t i = 0; i < n; i++) {
    const cand_t *c = &w->cand[(start + i) % w->ncand];
    ev[i].user = c->e->pub.user;
    ev[i].events = c->events;
    ev[i].sig = c->sig;
    consume(w, c, now, &expired);
  }
  w->rot = start + n;
  for (size_t i = 0; i < expired.n; i++)
    remove_entry(w, expired.v[i]);
  free(expired.v);
  return n;
}

/* ---- waiting ------------------------------------------------------------------ */

static uint64_t os_deadline(const xipc_waitset *w, uint64_t deadline) {
  if (w->ncand > 0 || w->check.n > 0)
    return 0;
  uint64_t due = next_due(w);
  if (w->nqueues != 0 && w->requeue < due)
    due = w->requeue;
  return due < deadline ? due : deadline;
}

/* One OS wait and what it found; *kicked when something asked us to look
 * again (a wake, a signal, a note). */
static int os_round(xipc_waitset *w, uint64_t deadline, bool *kicked) {
  size_t n = 0, nb = 0;
  size_t cap = w->ready_cap;
  atomic_store(&w->waiting, true);
  int rc = xipc__wos_wait(w->os, os_deadline(w, deadline), w->ready, cap, &n,
                          w->bells, BELLS, &nb, kicked);
  atomic_store(&w->waiting, false);
  if (rc != 0)
    return rc;
  collect_os(w, n);
  if (nb != 0) {
    collect_bells(w, nb);
    collect_checks(w);
  }
  return 0;
}

static void finish(xipc_waitset *w, bool events) {
  set_pending(w, events);
  set_timer(w);
}

int xipc_waitset_wait(xipc_waitset *w, xipc_wait_event *ev, size_t cap,
                      size_t *n, int timeout_ms) {
  if (n != NULL)
    *n = 0;
  if (w == NULL || ev == NULL || cap == 0 || n == NULL || timeout_ms < -1)
    return xipc__fail(XIPC_EINVAL);
  uint64_t deadline = xipc__deadline_ns(timeout_ms);
  set_pending(w, false);
  for (;;) {
    if (atomic_exchange(&w->woken, 0)) {
      finish(w, false);
      return xipc__fail(XIPC_EINTR);
    }
    collect_portable(w);
    bool kicked = false;
    int rc = os_round(w, deadline, &kicked);
    if (rc != 0) {
      finish(w, false);
      return rc;
    }
    if (w->ncand > 0 && !atomic_load(&w->woken)) {
      *n = report(w, ev, cap);
      finish(w, true);
      return 0;
    }
    if (kicked || atomic_load(&w->woken))
      continue;
    if (timeout_ms == 0 || xipc__left_ns(deadline) == 0) {
      /* Timers that fell due during the OS wait are reported, not lost. */
      collect_portable(w);
      if (w->ncand > 0) {
        *n = report(w, ev, cap);
        finish(w, true);
        return 0;
      }
      finish(w, false);
      return xipc__fail(timeout_ms == 0 ? XIPC_EAGAIN : XIPC_ETIMEDOUT);
    }
  }
}
