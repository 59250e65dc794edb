/*
 * Queue: a named multi-producer, multi-consumer message queue in shared
 * memory. This file is the whole algorithm; the trees only provide sleeping
 * and waking (xipc__qwait_*, posix/queue.c and win32/queue.c).
 *
 * Layout of the mapping, which has the queue's own name:
 *
 *   q_header (3 cache lines) | Q_RINGS x q_ring (2 lines) | Q_RINGS rings
 *
 * Each producer handle claims one ring at its first put and is the only
 * writer of that ring's `wr`, so a put is single-producer: write the record
 * after `wr`, then publish it with one store of `wr`. A half-written message
 * is never visible, and producers never wait for each other (a shared ring
 * with producer tickets stalls every consumer when a producer is preempted
 * between reserving and committing). A ring whose owner process died is
 * taken over by the next producer that needs one.
 *
 * Consumers take a message with a compare-and-swap of the ring's `rd` after
 * copying it out, so a message is delivered at most once and a consumer that
 * dies before its CAS leaves the message queued for the others. A consumer
 * killed after its CAS but before get() returned loses that one message.
 *
 * Positions (`wr`, `rd`) are 64-bit byte counters that only grow; a record
 * is an 8-byte header {len, len ^ Q_REC_CHECK} followed by the payload
 * padded to 8 bytes, and may wrap around the end of the ring.
 *
 * Everything read from the mapping is validated before use. Another process
 * may change it at any moment, so a value is loaded once, checked, and only
 * the checked copy is used. An inconsistency while `rd` moved under us is a
 * race with another consumer (retry); with `rd` unchanged it is corruption.
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define Q_MAGIC UINT64_C(0x3145555143504958) /* "XIPCQUE1" little-endian */
#define Q_VERSION 2u
#define Q_LINE 64u
#define Q_RINGS ((uint32_t)XIPC_QUEUE_MAX_PRODUCERS)
#define Q_REC_HDR 8u
#define Q_REC_CHECK 0x5A17C3E5u
#define Q_MIN_CAPACITY 64u
#define Q_MAX_CAPACITY (UINT64_C(1) << 26)
#define Q_DEFAULT_CAPACITY (UINT64_C(1) << 18)
#define Q_DEFAULT_MAX_MESSAGE (UINT64_C(1) << 16)
/* Checks of the queue state before a waiter sleeps, each after
 * Q_SPIN_PAUSES pause instructions (tens of microseconds in all). Polling
 * less often than every pause matters: a consumer polling right behind its
 * producer takes the cache lines the producer is about to write, and both
 * settle into one line transfer per message; a few hundred nanoseconds
 * between polls let the producer run ahead, and the consumer then takes
 * whole batches. The measurements behind these constants and the others
 * below: bench/results/queue-tuning.md. */
#define Q_SPIN 48u
#define Q_SPIN_PAUSES 8
/* A wait spins only while recent waits were short. After Q_MISSES waits in
 * a row that lasted longer than a spin (Q_SPIN_NS), a handle sleeps at once,
 * like a pipe reader, until a wait is short again. A spinning waiter keeps
 * its CPU busy: a peer woken onto that CPU (the scheduler puts a wakee next
 * to its waker when the waker is about to sleep) waits for the spin to end,
 * and two busy CPUs make the scheduler spread the pair, so that every
 * wake-up must rouse an idle CPU (slow on a virtual machine).
 * How long a sleeping wait really was comes from the time its waker made
 * the wake-up call (stored next to the sequence word), not from the length
 * of the sleep: that also counts the wake-up latency, which says nothing
 * about whether a spin would have caught the data. A handle starts out
 * sleeping; its first short wait turns spinning on. */
#define Q_MISSES 4u
#define Q_SPIN_NS UINT64_C(20000)
/* Publishing a record: a producer that saw no sleeping consumer for Q_CALM
 * puts in a row publishes with a plain release store instead of an atomic
 * exchange, where the platform has a heavy barrier for the sleepers (Linux:
 * membarrier). The exchange is a full fence that waits until the cache
 * line of `wr` is back from the consumer who polled it: with the two vCPUs
 * far apart (a slow core-to-core round trip), that wait bounds the queue at
 * one message per line transfer. */
#define Q_CALM 64u
#define Q_NOFENCE_SLEEP_NS INT64_C(1000000)
/* A sleeper re-checks at least this often, so a lost wake-up (a waker
 * killed between clearing the armed bit and its wake-up call) delays the
 * sleepers, never wedges them. */
#define Q_MAX_SLEEP_NS INT64_C(250000000)
#define Q_RACE_TRIES 64
#define Q_STREAK 32u

typedef struct {
  /* Line 0: written by the creator before `magic`, read-only afterwards. */
  _Atomic uint64_t magic;
  uint32_t version;
  uint32_t header_size;
  uint32_t nrings;
  uint32_t ring_size;
  uint64_t capacity; /* bytes per ring, a power of two */
  uint64_t max_message;
  uint64_t data_offset;
  uint64_t total_size;
  char pad0[Q_LINE - 56];
  /* Line 1: rarely written. */
  _Atomic uint32_t closed;
  _Atomic uint32_t used; /* rings [0, used) may hold messages */
  char pad1[Q_LINE - 8];
  /* Line 2: consumers sleeping until a message arrives. */
  _Atomic uint32_t data_seq;
  _Atomic uint32_t data_sleepers;
  _Atomic uint64_t data_woke; /* when the last waker woke them (a hint) */
  char pad2[Q_LINE - 16];
} q_header;

typedef struct {
  /* Line 0: written by the owning producer. */
  _Atomic uint64_t wr;
  _Atomic uint64_t owner; /* producer's xipc__qwait_self_owner(), 0: free */
  _Atomic uint32_t relaxed; /* the producer publishes without a fence */
  char pad0[Q_LINE - 20];
  /* Line 1: written by consumers; the producer sleeps here when full. */
  _Atomic uint64_t rd;
  _Atomic uint32_t space_seq;
  _Atomic uint32_t space_sleepers;
  _Atomic uint64_t space_woke; /* as data_woke */
  /* Zero-copy get: a consumer process that peeks into this ring (0: none)
   * and, with bit 0 set, the position from which the producer must leave
   * the bytes alone until the peek is released. */
  _Atomic uint64_t holder;
  _Atomic uint64_t hold;
  char pad1[Q_LINE - 40];
} q_ring;

_Static_assert(sizeof(q_header) == 3 * Q_LINE, "q_header is 3 lines");
_Static_assert(sizeof(q_ring) == 2 * Q_LINE, "q_ring is 2 lines");

typedef struct {
  uint64_t capacity, max_message, data_offset, total_size;
} q_layout;

struct xipc_queue {
  xipc_map *map;
  q_header *h;
  q_ring *rings;
  unsigned char *data;
  q_layout l;
  uint64_t mask;
  uint64_t self;
  xipc__qwait *w;
  int own;          /* ring this handle produces into; -1 before a put */
  uint64_t wr;      /* own ring: where the next record goes */
  uint64_t rd_seen; /* own ring: last `rd` read (space is at least this) */
  bool relaxed;     /* own ring: publishing without a fence (Q_CALM) */
  uint32_t calm;    /* own ring: puts in a row that found nobody asleep */
  uint32_t cursor;  /* consumer: ring to look at first */
  uint32_t streak;  /* consumer: messages taken from `cursor` in a row */
  uint64_t wr_seen[Q_RINGS]; /* consumer: last `wr` read, per ring */
  /* Zero-copy (reserve/commit, peek/release). */
  unsigned char *bounce; /* max_message bytes, for data that wraps */
  bool reserved;         /* a reservation is open ... */
  bool res_bounced;      /* ... and its bytes are in `bounce` */
  size_t res_len;        /* its length */
  int peek_ring;         /* ring held by this handle's peek; -1: none */
  /* Adaptive spinning (see Q_MISSES and q_wait_round). */
  uint32_t spin_limit; /* spin rounds of the current wait */
  uint32_t misses;     /* waits in a row that outlasted a spin */
  uint64_t wait_start; /* when the current wait's first sleep began */
};

enum { Q_TOOK = 0, Q_EMPTY = 1, Q_RACE = 2 };

static void unhold(xipc_queue *q, uint32_t i);

static inline void q_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static uint64_t rec_size(uint64_t len) { return Q_REC_HDR + ((len + 7) & ~UINT64_C(7)); }

/* ---- layout -------------------------------------------------------------- */

static uint64_t pow2_at_least(uint64_t v) {
  uint64_t p = Q_MIN_CAPACITY;
  while (p < v)
    p <<= 1;
  return p;
}

static void layout_finish(q_layout *l) {
  l->data_offset = sizeof(q_header) + Q_RINGS * sizeof(q_ring);
  l->total_size = l->data_offset + Q_RINGS * l->capacity;
}

static int layout_from_options(q_layout *l, const xipc_queue_options *o) {
  uint64_t cap = o && o->capacity ? (uint64_t)o->capacity : Q_DEFAULT_CAPACITY;
  if (cap > Q_MAX_CAPACITY)
    return XIPC_ERANGE;
  l->capacity = pow2_at_least(cap);
  if (o && o->max_message) {
    if (o->max_message > l->capacity - Q_REC_HDR)
      return XIPC_EINVAL;
    l->max_message = o->max_message;
  } else {
    l->max_message = l->capacity - Q_REC_HDR;
    if (l->max_message > Q_DEFAULT_MAX_MESSAGE)
      l->max_message = Q_DEFAULT_MAX_MESSAGE;
  }
  layout_finish(l);
  return 0;
}

static void header_init(q_header *h, const q_layout *l) {
  h->version = Q_VERSION;
  h->header_size = sizeof(q_header);
  h->nrings = Q_RINGS;
  h->ring_size = sizeof(q_ring);
  h->capacity = l->capacity;
  h->max_message = l->max_message;
  h->data_offset = l->data_offset;
  h->total_size = l->total_size;
  /* Release: an opener that sees the magic sees every field above. */
  atomic_store_explicit(&h->magic, Q_MAGIC, memory_order_release);
}

static int header_read(const q_header *h, size_t map_size, q_layout *l) {
  l->capacity = h->capacity;
  l->max_message = h->max_message;
  if (h->version != Q_VERSION || h->header_size != sizeof(q_header) ||
      h->nrings != Q_RINGS || h->ring_size != sizeof(q_ring))
    return XIPC_ECORRUPT;
  if (l->capacity < Q_MIN_CAPACITY || l->capacity > Q_MAX_CAPACITY ||
      (l->capacity & (l->capacity - 1)) != 0 ||
      l->max_message > l->capacity - Q_REC_HDR)
    return XIPC_ECORRUPT;
  layout_finish(l);
  if (h->data_offset != l->data_offset || h->total_size != l->total_size ||
      l->total_size > map_size)
    return XIPC_ECORRUPT;
  return 0;
}

/* Cheap check at every call: the read-only header line is unchanged (the
 * handle uses its own validated copy, so this is for detection only). */
static int header_ok(const xipc_queue *q) {
  const q_header *h = q->h;
  if (atomic_load_explicit(&h->magic, memory_order_relaxed) != Q_MAGIC ||
      h->version != Q_VERSION || h->header_size != sizeof(q_header) ||
      h->nrings != Q_RINGS || h->ring_size != sizeof(q_ring) ||
      h->capacity != q->l.capacity || h->max_message != q->l.max_message ||
      h->data_offset != q->l.data_offset || h->total_size != q->l.total_size)
    return XIPC_ECORRUPT;
  return 0;
}

static int used_rings(const xipc_queue *q, uint32_t *used) {
  *used = atomic_load_explicit(&q->h->used, memory_order_acquire);
  return *used > Q_RINGS ? XIPC_ECORRUPT : 0;
}

/* ---- open and close ------------------------------------------------------ */

/* Creates the mapping (created = true) or opens an existing one. */
static int map_queue(xipc_map **m, bool *created, const char *name,
                     const q_layout *l, unsigned flags) {
  unsigned owner = flags & XIPC_ANY_OWNER;
  for (int tries = 0; tries < 100; tries++) {
    int rc;
    if (flags & XIPC_CREATE) {
      rc = xipc_map_named(m, name, (size_t)l->total_size, XIPC_ACCESS_WRITE,
                          XIPC_CREATE | XIPC_EXCL | owner);
      if (rc == 0)
        *created = true;
      if (rc != XIPC_EEXIST || (flags & XIPC_EXCL))
        return rc;
    }
    rc = xipc_map_named(m, name, 0, XIPC_ACCESS_WRITE, owner);
    /* ENOENT with CREATE: the last holder closed it since; create again. */
    if (rc != XIPC_ENOENT || !(flags & XIPC_CREATE))
      return rc;
  }
  return xipc__fail(XIPC_EBUSY);
}

static bool magic_stored(const void *h) {
  return atomic_load_explicit(&((const q_header *)h)->magic,
                              memory_order_acquire) != 0;
}

/* An opener may find the mapping before its creator stored the magic. */
static int wait_initialized(xipc_queue *q) {
  size_t size = xipc_map_size(q->map);
  if (size < sizeof(q_header))
    return XIPC_ECORRUPT;
  (void)xipc__wait_published(magic_stored, q->h);
  uint64_t magic = atomic_load_explicit(&q->h->magic, memory_order_acquire);
  if (magic != Q_MAGIC)
    return XIPC_ECORRUPT;
  return header_read(q->h, size, &q->l);
}

static int open_args_ok(xipc_queue **out, const char *name, unsigned flags) {
  const unsigned known = XIPC_CREATE | XIPC_EXCL | XIPC_ANY_OWNER;
  if (out == NULL || (flags & ~known) != 0)
    return XIPC_EINVAL;
  if ((flags & XIPC_EXCL) && !(flags & XIPC_CREATE))
    return XIPC_EINVAL;
  return xipc__check_name(name);
}

static void handle_free(xipc_queue *q) {
  free(q->bounce);
  if (q->w != NULL)
    xipc__qwait_close(q->w);
  if (q->map != NULL)
    xipc_map_close(q->map);
  free(q);
}

int xipc_queue_open(xipc_queue **out, const char *name,
                    const xipc_queue_options *opts, unsigned flags) {
  q_layout want;
  bool created = false;
  if (out != NULL)
    *out = NULL;
  int rc = open_args_ok(out, name, flags);
  if (rc == 0)
    rc = layout_from_options(&want, opts);
  if (rc != 0)
    return xipc__fail(rc);
  *out = NULL;
  xipc_queue *q = calloc(1, sizeof *q);
  if (q == NULL)
    return xipc__fail(XIPC_ENOMEM);
  q->own = -1;
  q->peek_ring = -1;
  q->misses = Q_MISSES;
  q->self = xipc__qwait_self_owner();
  rc = map_queue(&q->map, &created, name, &want, flags);
  if (rc != 0)
    goto fail_sys;
  q->h = xipc_map_data(q->map);
  if (created)
    header_init(q->h, &want);
  rc = wait_initialized(q);
  if (rc != 0) {
    handle_free(q);
    return xipc__fail(rc);
  }
  q->rings = (q_ring *)((unsigned char *)q->h + sizeof(q_header));
  q->data = (unsigned char *)q->h + q->l.data_offset;
  q->mask = q->l.capacity - 1;
  rc = xipc__qwait_open(&q->w, name, 1 + Q_RINGS);
  if (rc != 0)
    goto fail_sys;
  *out = q;
  return 0;
fail_sys: /* rc comes from the map or wait layer, which recorded it */
  handle_free(q);
  return rc;
}

int xipc_queue_close(xipc_queue *q) {
  if (q == NULL)
    return xipc__fail(XIPC_EINVAL);
  if (q->peek_ring >= 0)
    unhold(q, (uint32_t)q->peek_ring);
  if (q->own >= 0) {
    uint64_t me = q->self;
    if (q->relaxed)
      atomic_store(&q->rings[q->own].relaxed, 0);
    atomic_compare_exchange_strong(&q->rings[q->own].owner, &me, 0);
  }
  xipc__qwait_close(q->w);
  int rc = xipc_map_close(q->map);
  free(q->bounce);
  free(q);
  return rc;
}

int xipc_queue_unlink(const char *name) {
  int rc = xipc__check_name(name);
  if (rc != 0)
    return xipc__fail(rc);
  return xipc_map_unlink(name);
}

/* ---- sleeping -------------------------------------------------------------
 * Sleepers protocol, per channel: a 32-bit `seq` word whose low bit means
 * "someone sleeps on this value", and a count of sleepers (Windows needs it
 * to release its semaphore that many times).
 *
 * A waiter registers, sets the bit (an atomic RMW, so seq_cst), re-checks
 * its condition and only then sleeps while `seq` still has that value. A
 * waker publishes its change with a seq_cst store, then loads `seq`: only
 * if the bit is set does it clear it (advancing `seq`) and make the wake-up
 * system call, for every sleeper. Of the waiter's RMW and the waker's load
 * one sees the other, so no wake-up is lost; no system call is made while
 * nobody sleeps, and only the first waker after a waiter armed makes one
 * (a sleeper that is slow to get the CPU back costs one call, not one per
 * message put meanwhile). */

typedef bool (*q_ready_fn)(xipc_queue *q, uint64_t arg);

/* The deadline is computed at the first sleep, not at the call: reading
 * the clock costs more than a whole put, and a call that sleeps has spun
 * only microseconds, so it still waits at least timeout_ms. */
typedef struct {
  int timeout_ms;
  uint64_t deadline; /* 0 until the first sleep */
} q_timer;

static int timer_left(q_timer *t, int64_t *left) {
  uint64_t now = xipc__now_ns();
  *left = Q_MAX_SLEEP_NS;
  if (t->timeout_ms < 0)
    return 0;
  if (t->deadline == 0)
    t->deadline = now + (uint64_t)t->timeout_ms * 1000000u;
  if (now >= t->deadline)
    return xipc__fail(XIPC_ETIMEDOUT);
  if ((int64_t)(t->deadline - now) < *left)
    *left = (int64_t)(t->deadline - now);
  return 0;
}

/* A channel: where waiters sleep, and the condition that ends a wait. */
typedef struct {
  uint32_t ch;
  _Atomic uint32_t *seq, *sleepers;
  _Atomic uint64_t *woke;
  bool fence; /* producers may publish without a fence (Q_CALM) */
  q_ready_fn ready;
  uint64_t arg;
} q_chan;

static q_chan data_chan(xipc_queue *q) {
  q_chan c = {0, &q->h->data_seq, &q->h->data_sleepers, &q->h->data_woke, true, NULL, 0};
  return c;
}

static q_chan space_chan(xipc_queue *q, uint32_t i) {
  q_ring *r = &q->rings[i];
  q_chan c = {1 + i, &r->space_seq, &r->space_sleepers, &r->space_woke, false, NULL, 0};
  return c;
}

/* True if a producer publishes without a fence: then a consumer that armed
 * `data_seq` runs the heavy barrier before it looks for messages, which
 * orders every running producer's store of `wr` before its load of
 * `data_seq` (asymmetric Dekker: the producer's side is only a compiler
 * barrier). */
static bool any_relaxed(const xipc_queue *q) {
  uint32_t used = atomic_load(&q->h->used);
  for (uint32_t i = 0; i < used && i < Q_RINGS; i++)
    if (atomic_load(&q->rings[i].relaxed) != 0)
      return true;
  return false;
}

static int q_sleep(xipc_queue *q, const q_chan *c, q_timer *timer) {
  int64_t left;
  int rc = timer_left(timer, &left);
  if (rc != 0)
    return rc;
  atomic_fetch_add(c->sleepers, 1);
  uint32_t v = atomic_load(c->seq);
  /* A failed CAS means a waker advanced `seq` just now: re-check instead. */
  if ((v & 1) != 0 || atomic_compare_exchange_strong(c->seq, &v, v | 1)) {
    /* Without the barrier a wake-up may be lost: re-check soon instead. */
    if (c->fence && any_relaxed(q) && !xipc__qwait_heavy_barrier() &&
        left > Q_NOFENCE_SLEEP_NS)
      left = Q_NOFENCE_SLEEP_NS;
    if (!c->ready(q, c->arg))
      rc = xipc__qwait_sleep(q->w, c->ch, (void *)c->seq, v | 1, left);
  }
  atomic_fetch_sub(c->sleepers, 1);
  return rc;
}

static void note_wait(xipc_queue *q, bool short_wait) {
  if (short_wait)
    q->misses = 0;
  else if (q->misses < Q_MISSES)
    q->misses++;
}

/* After an attempt that found nothing to do: XIPC_ECLOSED, XIPC_EAGAIN
 * (timeout 0), a sleep error or timeout, or 0 to try again after a short
 * spin (the first spin_limit rounds) or a sleep. A wait that ends within
 * its spin is noted by the caller (q_waited). */
static int q_wait_round(xipc_queue *q, bool closed, uint32_t round,
                        const q_chan *c, q_timer *timer) {
  if (closed)
    return xipc__fail(XIPC_ECLOSED);
  if (timer->timeout_ms == 0)
    return xipc__fail(XIPC_EAGAIN);
  if (round == 0)
    q->spin_limit = q->misses >= Q_MISSES ? 0 : Q_SPIN;
  if (round < q->spin_limit) {
    for (int k = 0; k < Q_SPIN_PAUSES; k++)
      q_relax();
    return 0;
  }
  if (round == q->spin_limit) {
    if (q->spin_limit != 0)
      note_wait(q, false); /* the whole spin went by */
    q->wait_start = xipc__now_ns();
  }
  int rc = q_sleep(q, c, timer);
  if (q->spin_limit == 0) {
    /* The hint may be stale or forged: it only steers spinning. */
    uint64_t woke = atomic_load_explicit(c->woke, memory_order_relaxed);
    note_wait(q, woke >= q->wait_start && woke - q->wait_start < Q_SPIN_NS);
  }
  return rc;
}

/* A wait that ended after `round` rounds without a sleep was short. */
static void q_waited(xipc_queue *q, uint32_t round) {
  if (round != 0 && round <= q->spin_limit)
    q->misses = 0;
}

static void q_wake(xipc_queue *q, const q_chan *c) {
  uint32_t v = atomic_load(c->seq);
  /* A failed CAS means another waker cleared the bit and wakes them. */
  if ((v & 1) == 0 || !atomic_compare_exchange_strong(c->seq, &v, v + 1))
    return;
  /* Nobody registered: whoever registers later sees the cleared bit and
   * re-checks after our change. */
  uint32_t n = atomic_load(c->sleepers);
  if (n != 0) {
    atomic_store_explicit(c->woke, xipc__now_ns(), memory_order_relaxed);
    xipc__qwait_wake(q->w, c->ch, (void *)c->seq, n);
  }
}

/* The common case, nobody armed, costs one load (every put makes it). */
static inline void wake_data(xipc_queue *q) {
  if ((atomic_load(&q->h->data_seq) & 1) != 0) {
    q_chan c = data_chan(q);
    q_wake(q, &c);
  }
}

static inline void wake_space(xipc_queue *q, uint32_t i) {
  if ((atomic_load(&q->rings[i].space_seq) & 1) != 0) {
    q_chan c = space_chan(q, i);
    q_wake(q, &c);
  }
}

static bool is_closed(const xipc_queue *q) {
  return atomic_load(&q->h->closed) != 0;
}

/* ---- put ----------------------------------------------------------------- */

static int claim_at(xipc_queue *q, uint32_t i, uint64_t owner) {
  q_ring *r = &q->rings[i];
  if (!atomic_compare_exchange_strong(&r->owner, &owner, q->self))
    return XIPC_EBUSY;
  uint64_t wr = atomic_load(&r->wr), rd = atomic_load(&r->rd);
  if (((wr | rd) & 7) != 0 || wr - rd > q->l.capacity) {
    atomic_store(&r->owner, 0);
    return XIPC_ECORRUPT;
  }
  q->own = (int)i;
  q->wr = wr;
  q->rd_seen = rd;
  q->relaxed = false;
  q->calm = 0;
  atomic_store(&r->relaxed, 0); /* a dead owner may have left it set */
  uint32_t used = atomic_load(&q->h->used);
  while (used < i + 1 && !atomic_compare_exchange_weak(&q->h->used, &used, i + 1)) {
  }
  return 0;
}

static bool ring_empty(const q_ring *r) {
  return atomic_load(&r->wr) == atomic_load(&r->rd);
}

/* Takes the first free ring; failing that, an empty ring whose owner process
 * is gone; failing that, any ring whose owner is gone (after the messages it
 * left). An owner is a process id and a tag of its start time, so a reused
 * process id does not keep a dead producer's ring. */
static int claim_ring(xipc_queue *q) {
  for (int pass = 0; pass < 3; pass++)
    for (uint32_t i = 0; i < Q_RINGS; i++) {
      const q_ring *r = &q->rings[i];
      uint64_t o = atomic_load(&r->owner);
      if (o != 0 && (pass == 0 || o == q->self || (pass == 1 && !ring_empty(r)) ||
                     xipc__qwait_owner_alive(o)))
        continue;
      int rc = claim_at(q, i, o);
      if (rc != XIPC_EBUSY)
        return rc;
    }
  return XIPC_ENOSPC;
}

/* The producer's free space ends at `rd`, or at a peeked message's
 * position if a consumer holds one before it (read after `rd`: a peeker
 * stores the hold before it moves `rd`). A hold may be newer than our `rd`
 * or, while a peeker's try is failing, older than the ring's window (its
 * compare-and-swap of `rd` will fail): a hold that took effect always lies
 * in the window, so others are ignored. */
static int refresh_rd(xipc_queue *q) {
  q_ring *r = &q->rings[q->own];
  uint64_t rd = atomic_load(&r->rd);
  if ((rd & 7) != 0 || q->wr - rd > q->l.capacity)
    return XIPC_ECORRUPT;
  if (atomic_load(&r->holder) != 0) {
    uint64_t hold = atomic_load(&r->hold);
    uint64_t at = hold & ~UINT64_C(7);
    if ((hold & 1) != 0 && at < rd && q->wr - at <= q->l.capacity)
      rd = at;
  }
  q->rd_seen = rd;
  return 0;
}

/* Drops the hold of a peeker whose process is gone (it lost its message). */
static void reclaim_dead_hold(xipc_queue *q, uint32_t i) {
  q_ring *r = &q->rings[i];
  uint64_t holder = atomic_load(&r->holder);
  if (holder == 0 || holder == q->self || xipc__qwait_owner_alive(holder))
    return;
  if (atomic_compare_exchange_strong(&r->holder, &holder, q->self)) {
    atomic_store(&r->hold, 0);
    atomic_store(&r->holder, 0);
  }
}

static bool has_space(const xipc_queue *q, uint64_t need) {
  return q->l.capacity - (q->wr - q->rd_seen) >= need;
}

/* Consumers wake a sleeping producer only once its ring is at least half
 * empty (see take_from), so it sleeps until then unless there is room. */
static bool space_ready(xipc_queue *q, uint64_t need) {
  return refresh_rd(q) != 0 || has_space(q, need) || is_closed(q);
}

static int wait_space(xipc_queue *q, uint64_t need, int timeout_ms) {
  q_timer timer = {timeout_ms, 0};
  q_chan c = space_chan(q, (uint32_t)q->own);
  c.ready = space_ready;
  c.arg = need;
  uint64_t plenty = need > q->l.capacity / 4 ? need : q->l.capacity / 4;
  for (uint32_t round = 0;; round++) {
    int rc = refresh_rd(q);
    if (rc != 0)
      return xipc__fail(rc);
    /* While spinning, wait for a quarter of the ring rather than for one
     * record: a producer that restarts at every freed record burns the CPU
     * its consumer may need, one record at a time. After the spin any room
     * will do. */
    bool spinning = round != 0 && round < q->spin_limit;
    if (has_space(q, spinning ? plenty : need)) {
      /* A spin that ends with room has paid, even without a quarter. */
      q_waited(q, round != 0 && round == q->spin_limit ? 1 : round);
      return 0;
    }
    if (round > q->spin_limit)
      reclaim_dead_hold(q, (uint32_t)q->own);
    rc = q_wait_round(q, is_closed(q), round, &c, &timer);
    if (rc != 0)
      return rc;
  }
}

static void set_relaxed(xipc_queue *q, q_ring *r, bool on) {
  atomic_store(&r->relaxed, on ? 1u : 0u);
  q->relaxed = on;
  q->calm = 0;
}

/* Makes the record before q->wr visible and wakes sleeping consumers. */
static void publish(xipc_queue *q, q_ring *r) {
  if (q->relaxed) {
    atomic_store_explicit(&r->wr, q->wr, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst); /* see any_relaxed */
    if ((atomic_load_explicit(&q->h->data_seq, memory_order_relaxed) & 1) != 0) {
      set_relaxed(q, r, false); /* consumers sleep: spare them the barrier */
      wake_data(q);
    }
    return;
  }
  /* One seq_cst store publishes the record (release) and orders it before
   * the load of data_seq (the sleepers protocol above). */
  atomic_exchange(&r->wr, q->wr);
  if ((atomic_load(&q->h->data_seq) & 1) != 0) {
    q->calm = 0;
    wake_data(q);
  } else if (++q->calm >= Q_CALM && xipc__qwait_fast_publish()) {
    set_relaxed(q, r, true);
  }
}

static void ring_write(xipc_queue *q, uint64_t pos, const void *src, size_t n) {
  unsigned char *ring = q->data + (uint64_t)q->own * q->l.capacity;
  uint64_t off = pos & q->mask;
  size_t first = n;
  if (off + n > q->l.capacity)
    first = (size_t)(q->l.capacity - off);
  memcpy(ring + off, src, first);
  if (first < n)
    memcpy(ring, (const unsigned char *)src + first, n - first);
}

/* This handle's ring, checked: still ours, `wr` where we left it. */
static int own_ring_ok(const xipc_queue *q) {
  const q_ring *r = &q->rings[q->own];
  if (atomic_load_explicit(&r->wr, memory_order_relaxed) != q->wr ||
      atomic_load_explicit(&r->owner, memory_order_relaxed) != q->self)
    return XIPC_ECORRUPT;
  return 0;
}

/* Everything a put does before it writes: checks, a ring, room for len
 * bytes. 0 or an error, already recorded. */
static int put_prepare(xipc_queue *q, size_t len, int timeout_ms) {
  if (len > q->l.max_message)
    return xipc__fail(XIPC_EMSGSIZE);
  if (q->reserved)
    return xipc__fail(XIPC_EBUSY);
  int rc = header_ok(q);
  if (rc == 0 && is_closed(q))
    rc = XIPC_ECLOSED;
  if (rc == 0 && q->own < 0)
    rc = claim_ring(q);
  if (rc == 0)
    rc = own_ring_ok(q);
  if (rc != 0)
    return xipc__fail(rc);
  uint64_t need = rec_size(len);
  if (!has_space(q, need))
    return wait_space(q, need, timeout_ms);
  return 0;
}

/* Writes the record header for len bytes at q->wr, then publishes. */
static void put_finish(xipc_queue *q, size_t len) {
  uint32_t hdr[2] = {(uint32_t)len, (uint32_t)len ^ Q_REC_CHECK};
  ring_write(q, q->wr, hdr, sizeof hdr);
  q->wr += rec_size(len);
  publish(q, &q->rings[q->own]);
}

int xipc_queue_put(xipc_queue *q, const void *msg, size_t len, int timeout_ms) {
  if (q == NULL || (msg == NULL && len != 0) || timeout_ms < -1)
    return xipc__fail(XIPC_EINVAL);
  int rc = put_prepare(q, len, timeout_ms);
  if (rc != 0)
    return rc;
  ring_write(q, q->wr + Q_REC_HDR, msg, len);
  put_finish(q, len);
  return 0;
}

static int need_bounce(xipc_queue *q) {
  if (q->bounce == NULL)
    q->bounce = malloc(q->l.max_message > 0 ? (size_t)q->l.max_message : 1);
  return q->bounce != NULL ? 0 : XIPC_ENOMEM;
}

/* Where `len` bytes at ring position pos lie, if they do not wrap. */
static unsigned char *ring_span(const xipc_queue *q, uint32_t i, uint64_t pos,
                                size_t len) {
  uint64_t off = pos & q->mask;
  if (off + len > q->l.capacity)
    return NULL;
  return q->data + (uint64_t)i * q->l.capacity + off;
}

int xipc_queue_reserve(xipc_queue *q, size_t len, void **buf, int timeout_ms) {
  if (q == NULL || buf == NULL || timeout_ms < -1)
    return xipc__fail(XIPC_EINVAL);
  int rc = put_prepare(q, len, timeout_ms);
  if (rc != 0)
    return rc;
  unsigned char *at = ring_span(q, (uint32_t)q->own, q->wr + Q_REC_HDR, len);
  if (at == NULL && (rc = need_bounce(q)) != 0)
    return xipc__fail(rc);
  q->reserved = true;
  q->res_bounced = at == NULL;
  q->res_len = len;
  *buf = at != NULL ? at : q->bounce;
  return 0;
}

int xipc_queue_commit(xipc_queue *q, size_t len) {
  if (q == NULL || !q->reserved || (len > q->res_len && len != XIPC_QUEUE_DISCARD))
    return xipc__fail(XIPC_EINVAL);
  q->reserved = false;
  if (len == XIPC_QUEUE_DISCARD)
    return 0;
  int rc = header_ok(q);
  if (rc == 0 && is_closed(q))
    rc = XIPC_ECLOSED;
  if (rc == 0)
    rc = own_ring_ok(q);
  if (rc != 0)
    return xipc__fail(rc);
  if (q->res_bounced)
    ring_write(q, q->wr + Q_REC_HDR, q->bounce, len);
  put_finish(q, len);
  return 0;
}

/* ---- get ----------------------------------------------------------------- */

static void ring_read(const xipc_queue *q, uint32_t i, uint64_t pos, void *dst,
                      size_t n) {
  const unsigned char *ring = q->data + (uint64_t)i * q->l.capacity;
  uint64_t off = pos & q->mask;
  size_t first = n;
  if (off + n > q->l.capacity)
    first = (size_t)(q->l.capacity - off);
  memcpy(dst, ring + off, first);
  if (first < n)
    memcpy((unsigned char *)dst + first, ring, n - first);
}

/* The record at rd, whose ring ends at wr: its length, or an error. */
static int record_at(const xipc_queue *q, uint32_t i, uint64_t rd, uint64_t wr,
                     uint64_t *len) {
  uint32_t hdr[2];
  if (((wr | rd) & 7) != 0 || wr - rd > q->l.capacity)
    return XIPC_ECORRUPT;
  ring_read(q, i, rd, hdr, sizeof hdr);
  if ((hdr[0] ^ Q_REC_CHECK) != hdr[1] || hdr[0] > q->l.max_message ||
      rec_size(hdr[0]) > wr - rd)
    return XIPC_ECORRUPT;
  *len = hdr[0];
  return 0;
}

/* Inconsistent data is a race if rd moved meanwhile, else corruption. */
static int race_or_corrupt(const q_ring *r, uint64_t rd) {
  return atomic_load(&r->rd) != rd ? Q_RACE : XIPC_ECORRUPT;
}

static int take_from(xipc_queue *q, uint32_t i, void *buf, size_t cap,
                     size_t *len) {
  q_ring *r = &q->rings[i];
  uint64_t rd = atomic_load_explicit(&r->rd, memory_order_acquire);
  uint64_t wr = q->wr_seen[i], n;
  if (rd >= wr) {
    wr = atomic_load_explicit(&r->wr, memory_order_acquire);
    if (wr == rd)
      return Q_EMPTY;
    q->wr_seen[i] = wr;
  }
  if (record_at(q, i, rd, wr, &n) != 0)
    return race_or_corrupt(r, rd);
  *len = (size_t)n;
  if (n > cap)
    return XIPC_EMSGSIZE;
  ring_read(q, i, rd + Q_REC_HDR, buf, (size_t)n);
  /* The CAS succeeds only if nobody took the record meanwhile, and then the
   * producer cannot have reused its bytes: the copy is consistent. */
  if (!atomic_compare_exchange_strong(&r->rd, &rd, rd + rec_size(n)))
    return Q_RACE;
  /* A full producer is woken once its ring is half empty, not at every
   * get: one system call per half ring instead of one per message. */
  if (q->l.capacity - (wr - rd - rec_size(n)) >= q->l.capacity / 2)
    wake_space(q, i);
  /* Emptied a ring of a shut-down queue: a peek waiting behind another
   * peeker's hold on it may now be done (drained). */
  if (wr == rd + rec_size(n) && is_closed(q))
    wake_data(q);
  return Q_TOOK;
}

static int take_retrying(xipc_queue *q, uint32_t i, void *buf, size_t cap,
                         size_t *len) {
  int rc = Q_RACE;
  for (int t = 0; t < Q_RACE_TRIES && rc == Q_RACE; t++)
    rc = take_from(q, i, buf, cap, len);
  return rc == Q_RACE ? Q_EMPTY : rc;
}

/* Drains the ring at the cursor for up to Q_STREAK messages in a row (cache
 * friendly), then moves on so that no producer is starved. */
static int try_get(xipc_queue *q, void *buf, size_t cap, size_t *len) {
  uint32_t used;
  int rc = used_rings(q, &used);
  if (rc != 0)
    return rc;
  if (q->cursor >= used)
    q->cursor = 0;
  for (uint32_t k = 0; k < used; k++) {
    uint32_t i = (q->cursor + k) % used;
    rc = take_retrying(q, i, buf, cap, len);
    if (rc == Q_EMPTY)
      continue;
    if (rc == Q_TOOK) {
      q->streak = k == 0 ? q->streak + 1 : 0;
      q->cursor = q->streak >= Q_STREAK ? i + 1 : i;
      if (q->streak >= Q_STREAK)
        q->streak = 0;
    }
    return rc;
  }
  return Q_EMPTY;
}

/* Whether some ring (any = true), or some ring nobody holds, has a message;
 * true on corruption, so that the caller looks and finds it. */
static bool has_message(const xipc_queue *q, bool any) {
  uint32_t used;
  if (used_rings(q, &used) != 0)
    return true;
  for (uint32_t i = 0; i < used; i++)
    if (atomic_load(&q->rings[i].wr) != atomic_load(&q->rings[i].rd) &&
        (any || atomic_load(&q->rings[i].holder) == 0))
      return true;
  return false;
}

static bool data_ready(xipc_queue *q, uint64_t unused) {
  (void)unused;
  return is_closed(q) || has_message(q, true);
}

/* One attempt: Q_TOOK (0), Q_EMPTY, or an error. `closed` is read before
 * looking: closed and then empty means drained. */
static int get_once(xipc_queue *q, void *buf, size_t cap, size_t *len,
                    bool *closed) {
  int rc = header_ok(q);
  if (rc != 0)
    return rc;
  *closed = is_closed(q);
  return try_get(q, buf, cap, len);
}

static int get_waiting(xipc_queue *q, void *buf, size_t cap, size_t *len,
                       int timeout_ms, bool closed) {
  q_timer timer = {timeout_ms, 0};
  q_chan c = data_chan(q);
  c.ready = data_ready;
  for (uint32_t round = 0;; round++) {
    int rc = q_wait_round(q, closed, round, &c, &timer);
    if (rc != 0)
      return rc;
    rc = get_once(q, buf, cap, len, &closed);
    if (rc == Q_TOOK)
      q_waited(q, round + 1);
    if (rc <= 0)
      return rc == Q_TOOK ? 0 : xipc__fail(rc);
  }
}

int xipc_queue_get(xipc_queue *q, void *buf, size_t cap, size_t *len,
                   int timeout_ms) {
  bool closed = false;
  if (q == NULL || len == NULL || (buf == NULL && cap != 0) || timeout_ms < -1)
    return xipc__fail(XIPC_EINVAL);
  int rc = get_once(q, buf, cap, len, &closed);
  if (rc == Q_EMPTY)
    return get_waiting(q, buf, cap, len, timeout_ms, closed);
  return rc == Q_TOOK ? 0 : xipc__fail(rc);
}

/* ---- zero-copy get: peek and release -------------------------------------- */

static void unhold(xipc_queue *q, uint32_t i) {
  q_ring *r = &q->rings[i];
  uint64_t me = q->self;
  atomic_store(&r->hold, 0);
  atomic_compare_exchange_strong(&r->holder, &me, 0);
}

/* With ring i held: takes its first record like take_from, but leaves the
 * bytes in place, protected by the hold (stored before `rd` moves). */
static int hold_take(xipc_queue *q, uint32_t i, const void **msg, size_t *len) {
  q_ring *r = &q->rings[i];
  for (int t = 0; t < Q_RACE_TRIES; t++) {
    uint64_t rd = atomic_load(&r->rd), wr = atomic_load(&r->wr), n;
    if (rd == wr)
      return Q_EMPTY;
    atomic_store(&r->hold, rd | 1);
    if (record_at(q, i, rd, wr, &n) != 0) {
      int rc = race_or_corrupt(r, rd);
      if (rc == Q_RACE)
        continue;
      return rc;
    }
    if (!atomic_compare_exchange_strong(&r->rd, &rd, rd + rec_size(n)))
      continue; /* a get took it: hold the next one */
    const unsigned char *at = ring_span(q, i, rd + Q_REC_HDR, (size_t)n);
    if (at == NULL) {
      ring_read(q, i, rd + Q_REC_HDR, q->bounce, (size_t)n);
      at = q->bounce;
    }
    *msg = at;
    *len = (size_t)n;
    return Q_TOOK;
  }
  return Q_EMPTY;
}

/* Peeks into the first ring with a message that nobody else holds. */
static int try_peek(xipc_queue *q, const void **msg, size_t *len) {
  uint32_t used;
  int rc = used_rings(q, &used);
  if (rc != 0)
    return rc;
  for (uint32_t k = 0; k < used; k++) {
    uint32_t i = (q->cursor + k) % used;
    q_ring *r = &q->rings[i];
    uint64_t free_ring = 0;
    if (atomic_load(&r->wr) == atomic_load(&r->rd) ||
        !atomic_compare_exchange_strong(&r->holder, &free_ring, q->self))
      continue;
    rc = hold_take(q, i, msg, len);
    if (rc == Q_TOOK) {
      q->peek_ring = (int)i;
      q->cursor = i + 1; /* take turns between producers */
      return Q_TOOK;
    }
    unhold(q, i);
    if (rc < 0)
      return rc;
  }
  return Q_EMPTY;
}

/* A peek can go ahead: a message in a ring nobody holds, or the queue is
 * shut down and drained (messages behind another peeker's hold still
 * count: they are not drained yet). */
static bool peek_ready(xipc_queue *q, uint64_t unused) {
  (void)unused;
  return has_message(q, false) || (is_closed(q) && !has_message(q, true));
}

static int peek_once(xipc_queue *q, const void **msg, size_t *len, bool *closed) {
  int rc = header_ok(q);
  if (rc != 0)
    return rc;
  *closed = is_closed(q);
  return try_peek(q, msg, len);
}

int xipc_queue_peek(xipc_queue *q, const void **msg, size_t *len, int timeout_ms) {
  bool closed = false;
  if (q == NULL || msg == NULL || len == NULL || timeout_ms < -1)
    return xipc__fail(XIPC_EINVAL);
  if (q->peek_ring >= 0)
    return xipc__fail(XIPC_EBUSY);
  int rc = need_bounce(q);
  if (rc != 0)
    return xipc__fail(rc);
  q_timer timer = {timeout_ms, 0};
  q_chan c = data_chan(q);
  c.ready = peek_ready;
  for (uint32_t round = 0;; round++) {
    rc = peek_once(q, msg, len, &closed);
    if (rc == Q_TOOK)
      q_waited(q, round);
    if (rc <= 0)
      return rc == Q_TOOK ? 0 : xipc__fail(rc);
    if (round > q->spin_limit) { /* only held rings have messages? */
      uint32_t used = atomic_load(&q->h->used);
      for (uint32_t i = 0; i < used && i < Q_RINGS; i++)
        reclaim_dead_hold(q, i);
    }
    rc = q_wait_round(q, closed && !has_message(q, true), round, &c, &timer);
    if (rc != 0)
      return rc;
  }
}

int xipc_queue_release(xipc_queue *q) {
  if (q == NULL || q->peek_ring < 0)
    return xipc__fail(XIPC_EINVAL);
  uint32_t i = (uint32_t)q->peek_ring;
  q->peek_ring = -1;
  unhold(q, i);
  int rc = header_ok(q);
  if (rc != 0)
    return xipc__fail(rc);
  /* The hold may have been what kept the producer (woken once its ring is
   * half empty, as by a get) or other peekers out. */
  uint64_t wr = atomic_load(&q->rings[i].wr), rd = atomic_load(&q->rings[i].rd);
  if (wr - rd <= q->l.capacity / 2)
    wake_space(q, i);
  if (wr != rd)
    wake_data(q);
  return 0;
}

/* ---- count and shutdown -------------------------------------------------- */

static int walk_ring(const xipc_queue *q, uint32_t i, uint64_t rd, uint64_t wr,
                     uint64_t *count) {
  uint64_t n = 0, len;
  while (rd != wr) {
    if (record_at(q, i, rd, wr, &len) != 0)
      return XIPC_ECORRUPT;
    rd += rec_size(len);
    n++;
  }
  *count = n;
  return 0;
}

static int count_ring(const xipc_queue *q, uint32_t i, uint64_t *count) {
  const q_ring *r = &q->rings[i];
  for (int t = 0; t < Q_RACE_TRIES; t++) {
    uint64_t rd = atomic_load(&r->rd), wr = atomic_load(&r->wr);
    if (walk_ring(q, i, rd, wr, count) == 0)
      return 0;
    if (race_or_corrupt(r, rd) != Q_RACE)
      return XIPC_ECORRUPT;
  }
  return XIPC_EAGAIN;
}

int xipc_queue_count(xipc_queue *q, size_t *count) {
  uint32_t used;
  uint64_t total = 0, n = 0;
  if (q == NULL || count == NULL)
    return xipc__fail(XIPC_EINVAL);
  int rc = header_ok(q);
  if (rc == 0)
    rc = used_rings(q, &used);
  for (uint32_t i = 0; rc == 0 && i < used; i++) {
    rc = count_ring(q, i, &n);
    total += n;
  }
  if (rc != 0)
    return xipc__fail(rc);
  *count = (size_t)total;
  return 0;
}

int xipc_queue_shutdown(xipc_queue *q) {
  if (q == NULL)
    return xipc__fail(XIPC_EINVAL);
  int rc = header_ok(q);
  if (rc != 0)
    return xipc__fail(rc);
  atomic_store(&q->h->closed, 1);
  wake_data(q);
  for (uint32_t i = 0; i < Q_RINGS; i++)
    wake_space(q, i);
  return 0;
}
