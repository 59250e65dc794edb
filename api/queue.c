/*
 * Queue: a named multi-producer, multi-consumer message queue in shared
 * memory. This file is the whole algorithm; the trees only provide sleeping
 * and waking (xipc__qwait_*, posix/queue.c and win32/queue.c).
 *
 * Layout of the mapping, which has the queue's own name (a persistent
 * queue on Windows: a file, see xipc__qstore_*):
 *
 *   q_header (5 cache lines) | n x q_ring (2 lines) | n x q_taker (1 line)
 *   | n rings of `capacity` bytes
 *
 * where n is the queue's max_producers (a creation option, in the header).
 * A q_taker counts one consumer handle's unfinished tasks for join (see
 * "tasks" below).
 *
 * Each producer handle claims one ring at its first put and is the only
 * writer of that ring's `wr`, so a put is single-producer: write the record
 * after `wr`, then publish it with one store of `wr`. A half-written message
 * is never visible, and producers never wait for each other (a shared ring
 * with producer tickets stalls every consumer when a producer is preempted
 * between reserving and committing). A ring whose owner process died is
 * taken over by the next producer that needs one; a put that finds every
 * ring taken by a live owner waits (the "slot" channel) for a close.
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
#define Q_VERSION 3u
#define Q_LINE 64u
#define Q_DEFAULT_RINGS ((uint32_t)XIPC_QUEUE_MAX_PRODUCERS)
#define Q_MAX_RINGS ((uint32_t)XIPC_QUEUE_PRODUCERS_LIMIT)
#define Q_PERSISTENT 1u /* q_header.flags */
/* Owner of a consumer's task slot whose handle closed with unfinished
 * tasks: no process (id 0), so join reports them like a dead consumer's. */
#define Q_ABANDONED (UINT64_C(1) << 63)
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
/* Rounds of rings a waker makes while waitsets re-arm under it (each
 * round rings every watcher slot). */
#define Q_WAKE_TRIES 8
#define Q_STREAK 32u
/* Wait channels: 0 data, 1 + i space in ring i, then join and slot. */
#define Q_JOIN_CH(q) (1u + (q)->l.nrings)
#define Q_SLOT_CH(q) (2u + (q)->l.nrings)
#define Q_CHANNELS(q) (3u + (q)->l.nrings)

/* A waitset's watcher slot (see "waitset watchers" below). The slots lie
 * in what layout 3 left as padding, so older builds neither see nor touch
 * them. */
typedef struct {
  _Atomic uint64_t owner; /* the waitset's process (xipc__qwait_self_owner) */
  _Atomic uint64_t bell;  /* its doorbell id << 32 | the entry's cookie */
} q_watch;

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
  uint32_t flags;      /* Q_PERSISTENT */
  uint32_t taker_size; /* sizeof(q_taker) */
  /* Line 1: rarely written. */
  _Atomic uint32_t closed;
  _Atomic uint32_t used; /* rings [0, used) may hold messages */
  q_watch watch1[3];     /* watcher slots 0-2 */
  char pad1[Q_LINE - 8 - 3 * sizeof(q_watch)];
  /* Line 2: consumers sleeping until a message arrives. */
  _Atomic uint32_t data_seq;
  _Atomic uint32_t data_sleepers;
  _Atomic uint64_t data_woke; /* when the last waker woke them (a hint) */
  /* Watcher slots in use (a hint: 0 lets a waker skip them); on the line a
   * waker of consumers reads anyway. */
  _Atomic uint32_t watchers;
  char pad2[Q_LINE - 20];
  /* Line 3: joiners (xipc_queue_join) sleeping until the tasks are done. */
  _Atomic uint32_t join_seq;
  _Atomic uint32_t join_sleepers;
  _Atomic uint64_t join_woke;
  _Atomic uint64_t lost;  /* tasks of dead consumers, not reported yet */
  _Atomic uint64_t spare; /* tasks of handles without a q_taker slot */
  q_watch watch3[2];      /* watcher slots 3-4 */
  /* Line 4: producers waiting for a free ring (all taken). */
  _Atomic uint32_t slot_seq;
  _Atomic uint32_t slot_sleepers;
  _Atomic uint64_t slot_woke;
  q_watch watch4[3]; /* watcher slots 5-7 */
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

/* A consumer handle's unfinished tasks (messages it got and has not yet
 * marked done), for xipc_queue_join; written by that handle only, read by
 * joiners. */
typedef struct {
  _Atomic uint64_t owner; /* xipc__qwait_self_owner(); 0: free */
  _Atomic uint64_t pending;
  char pad[Q_LINE - 16];
} q_taker;

_Static_assert(sizeof(q_header) == 5 * Q_LINE, "q_header is 5 lines");
_Static_assert(sizeof(q_ring) == 2 * Q_LINE, "q_ring is 2 lines");
_Static_assert(sizeof(q_taker) == Q_LINE, "q_taker is a line");
_Static_assert(sizeof(q_header) == XIPC__QUEUE_HEADER_SIZE,
               "internal.h has the header's size");
_Static_assert(3 + 2 + 3 == XIPC_WAITSET_QUEUE_WATCHERS, "8 watcher slots");
_Static_assert(offsetof(q_header, watch1) == XIPC__QUEUE_WATCH_OFFSET_0 &&
                   offsetof(q_header, watch3) == XIPC__QUEUE_WATCH_OFFSET_3 &&
                   offsetof(q_header, watch4) == XIPC__QUEUE_WATCH_OFFSET_5 &&
                   offsetof(q_header, watchers) == XIPC__QUEUE_WATCHERS_OFFSET,
               "internal.h has the watcher slots' offsets");
_Static_assert(offsetof(q_header, data_seq) == 2 * Q_LINE &&
                   offsetof(q_header, join_seq) == 3 * Q_LINE &&
                   offsetof(q_header, slot_seq) == 4 * Q_LINE,
               "the slots fill padding only: every older field stays put");

typedef struct {
  uint64_t capacity, max_message, data_offset, total_size;
  uint32_t nrings, flags;
} q_layout;

struct xipc_queue {
  xipc_map *map;
  q_header *h;
  q_ring *rings;
  q_taker *takers;
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
  uint64_t *wr_seen; /* consumer: last `wr` read, per ring */
  int taker;         /* consumer: q_taker slot; -1 none yet, -2 none free */
  _Atomic uint64_t *pend; /* consumer: its slot's `pending`, or NULL */
  uint64_t pending;  /* consumer: tasks got and not yet done */
  /* Zero-copy (reserve/commit, peek/release). */
  /* max_message bytes each, for data that wraps: one for a reservation,
   * one for a peek, which may be open at the same time. */
  unsigned char *bounce, *peek_bounce;
  bool reserved;         /* a reservation is open ... */
  bool res_bounced;      /* ... and its bytes are in `bounce` */
  size_t res_len;        /* its length */
  int peek_ring;         /* ring held by this handle's peek; -1: none */
  /* Adaptive spinning (see Q_MISSES and q_wait_round). */
  uint32_t spin_limit; /* spin rounds of the current wait */
  uint32_t misses;     /* waits in a row that outlasted a spin */
  uint64_t wait_start; /* when the current wait's first sleep began */
  unsigned watchers;   /* waitsets watching this handle (api/waitset.c) */
};

enum { Q_TOOK = 0, Q_EMPTY = 1, Q_RACE = 2 };

static void unhold(xipc_queue *q, uint32_t i);
static void release_ring(xipc_queue *q);
static void release_taker(xipc_queue *q);
static int refresh_rd(xipc_queue *q);

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
  l->data_offset = sizeof(q_header) + l->nrings * (sizeof(q_ring) + sizeof(q_taker));
  l->total_size = l->data_offset + l->nrings * l->capacity;
}

static int layout_from_options(q_layout *l, const xipc_queue_options *o,
                               unsigned flags) {
  uint64_t cap = o && o->capacity ? (uint64_t)o->capacity : Q_DEFAULT_CAPACITY;
  uint64_t rings = o && o->max_producers ? (uint64_t)o->max_producers : Q_DEFAULT_RINGS;
  if (cap > Q_MAX_CAPACITY || rings > Q_MAX_RINGS)
    return XIPC_ERANGE;
  l->nrings = (uint32_t)rings;
  l->flags = (flags & XIPC_QUEUE_PERSIST) ? Q_PERSISTENT : 0;
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
  if (l->total_size > (uint64_t)PTRDIFF_MAX)
    return XIPC_ERANGE;
  return 0;
}

static void header_init(q_header *h, const q_layout *l) {
  h->version = Q_VERSION;
  h->header_size = sizeof(q_header);
  h->nrings = l->nrings;
  h->ring_size = sizeof(q_ring);
  h->flags = l->flags;
  h->taker_size = sizeof(q_taker);
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
  l->nrings = h->nrings;
  l->flags = h->flags;
  if (h->version != Q_VERSION || h->header_size != sizeof(q_header) ||
      l->nrings == 0 || l->nrings > Q_MAX_RINGS ||
      h->ring_size != sizeof(q_ring) || h->taker_size != sizeof(q_taker) ||
      (l->flags & ~Q_PERSISTENT) != 0)
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
      h->nrings != q->l.nrings || h->ring_size != sizeof(q_ring) ||
      h->flags != q->l.flags || h->taker_size != sizeof(q_taker) ||
      h->capacity != q->l.capacity || h->max_message != q->l.max_message ||
      h->data_offset != q->l.data_offset || h->total_size != q->l.total_size)
    return XIPC_ECORRUPT;
  return 0;
}

static int used_rings(const xipc_queue *q, uint32_t *used) {
  *used = atomic_load_explicit(&q->h->used, memory_order_acquire);
  return *used > q->l.nrings ? XIPC_ECORRUPT : 0;
}

/* ---- open and close ------------------------------------------------------ */

/* Maps an existing queue, scratch (the named mapping) or persistent (its
 * store, where that is not the named mapping: Windows). */
static int map_existing(xipc_map **m, const char *name, unsigned owner) {
  int rc = xipc_map_named(m, name, 0, XIPC_ACCESS_WRITE, owner);
  if (rc == XIPC_ENOENT)
    rc = xipc__qstore_open(m, name);
  return rc;
}

/* Creates a new queue's mapping, or XIPC_EEXIST if the name is taken by a
 * queue of either kind. */
static int map_new(xipc_map **m, const char *name, const q_layout *l,
                   unsigned owner) {
  if (l->flags & Q_PERSISTENT)
    return xipc__qstore_create(m, name, (size_t)l->total_size, owner);
  int rc = xipc__qstore_open(m, name);
  if (rc == 0) {
    xipc_map_close(*m);
    *m = NULL;
    return xipc__fail(XIPC_EEXIST);
  }
  if (rc != XIPC_ENOENT)
    return rc;
  return xipc_map_named(m, name, (size_t)l->total_size, XIPC_ACCESS_WRITE,
                        XIPC_CREATE | XIPC_EXCL | owner);
}

/* Creates the mapping (created = true) or opens an existing one. */
static int map_queue(xipc_map **m, bool *created, const char *name,
                     const q_layout *l, unsigned flags) {
  unsigned owner = flags & XIPC_ANY_OWNER;
  for (int tries = 0; tries < 100; tries++) {
    int rc;
    if (flags & XIPC_CREATE) {
      rc = map_new(m, name, l, owner);
      if (rc == 0)
        *created = true;
      /* ERANGE -> EEXIST: an existing object smaller than our layout (some
       * POSIX map layers say so); existence wins, the queue keeps its own. */
      if (rc == XIPC_ERANGE)
        rc = xipc__fail(XIPC_EEXIST);
      if (rc != XIPC_EEXIST || (flags & XIPC_EXCL))
        return rc;
    }
    rc = map_existing(m, name, owner);
    /* ENOENT with CREATE: the last holder closed it since; create again.
     * EAGAIN: the map layer saw the name replaced under it; so do we. */
    if ((rc != XIPC_ENOENT && rc != XIPC_EAGAIN) || !(flags & XIPC_CREATE))
      return rc;
  }
  return xipc__fail(XIPC_EAGAIN);
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

int xipc__queue_probe(const void *p, size_t n, uint64_t object_size,
                      int *persistent) {
  q_header h;
  uint64_t magic;
  q_layout l;
  if (p == NULL || n < sizeof h || object_size > (uint64_t)PTRDIFF_MAX)
    return 0;
  memcpy(&h, p, sizeof h);
  memcpy(&magic, &h, sizeof magic);
  if (magic != Q_MAGIC || header_read(&h, (size_t)object_size, &l) != 0)
    return 0;
  if (persistent != NULL)
    *persistent = (l.flags & Q_PERSISTENT) != 0;
  return 1;
}

static int open_args_ok(xipc_queue **out, const char *name, unsigned flags) {
  const unsigned known = XIPC_CREATE | XIPC_EXCL | XIPC_ANY_OWNER | XIPC_QUEUE_PERSIST;
  if (out == NULL || (flags & ~known) != 0)
    return XIPC_EINVAL;
  if ((flags & (XIPC_EXCL | XIPC_QUEUE_PERSIST)) && !(flags & XIPC_CREATE))
    return XIPC_EINVAL;
  return xipc__check_name(name);
}

static void handle_free(xipc_queue *q) {
  free(q->bounce);
  free(q->peek_bounce);
  free(q->wr_seen);
  if (q->w != NULL)
    xipc__qwait_close(q->w);
  if (q->map != NULL)
    xipc_map_close(q->map);
  free(q);
}

/* Maps the queue and waits until its header is valid. A persistent store
 * is a file on Windows, visible for a moment before the creator gave it
 * its size: an empty or short one is mapped again until the deadline. */
static int map_initialized(xipc_queue *q, bool *created, const char *name,
                           const q_layout *want, unsigned flags) {
  uint64_t deadline = xipc__deadline_ns(XIPC__PUBLISH_WAIT_MS);
  for (;;) {
    int rc = map_queue(&q->map, created, name, want, flags);
    if (rc != 0 && (rc != XIPC_EINVAL || xipc__left_ns(deadline) == 0))
      return rc; /* EINVAL here: an empty store ("cannot mmap an empty file") */
    if (rc == 0) {
      q->h = xipc_map_data(q->map);
      if (*created)
        header_init(q->h, want);
      rc = wait_initialized(q);
      if (rc != XIPC_ECORRUPT || xipc_map_size(q->map) >= sizeof(q_header) ||
          xipc__left_ns(deadline) == 0)
        return rc == 0 ? 0 : xipc__fail(rc);
      xipc_map_close(q->map);
      q->map = NULL;
    }
    xipc__sleep_ms(1);
  }
}

int xipc_queue_open(xipc_queue **out, const char *name,
                    const xipc_queue_options *opts, unsigned flags) {
  q_layout want;
  bool created = false;
  if (out != NULL)
    *out = NULL;
  int rc = open_args_ok(out, name, flags);
  if (rc == 0)
    rc = layout_from_options(&want, opts, flags);
  if (rc != 0)
    return xipc__fail(rc);
  *out = NULL;
  xipc_queue *q = calloc(1, sizeof *q);
  if (q == NULL)
    return xipc__fail(XIPC_ENOMEM);
  q->own = -1;
  q->peek_ring = -1;
  q->taker = -1;
  q->misses = Q_MISSES;
  q->self = xipc__qwait_self_owner();
  rc = map_initialized(q, &created, name, &want, flags);
  if (rc != 0)
    goto fail_sys;
  q->rings = (q_ring *)((unsigned char *)q->h + sizeof(q_header));
  q->takers = (q_taker *)(q->rings + q->l.nrings);
  q->data = (unsigned char *)q->h + q->l.data_offset;
  q->mask = q->l.capacity - 1;
  q->wr_seen = calloc(q->l.nrings, sizeof *q->wr_seen);
  if (q->wr_seen == NULL) {
    handle_free(q);
    return xipc__fail(XIPC_ENOMEM);
  }
  rc = xipc__qwait_open(&q->w, name, Q_CHANNELS(q));
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
  /* A waitset holds the handle: remove it there first. */
  if (__atomic_load_n(&q->watchers, __ATOMIC_SEQ_CST) != 0)
    return xipc__fail(XIPC_EBUSY);
  if (q->peek_ring >= 0)
    unhold(q, (uint32_t)q->peek_ring);
  release_ring(q);
  release_taker(q);
  xipc_map *m = q->map;
  q->map = NULL;
  handle_free(q);
  return xipc_map_close(m);
}

int xipc_queue_unlink(const char *name) {
  int rc = xipc__check_name(name);
  if (rc != 0)
    return xipc__fail(rc);
  rc = xipc__qstore_unlink(name);
  return rc == XIPC_ENOENT ? xipc_map_unlink(name) : rc;
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

static q_chan join_chan(xipc_queue *q) {
  q_header *h = q->h;
  q_chan c = {Q_JOIN_CH(q), &h->join_seq, &h->join_sleepers, &h->join_woke, false, NULL, 0};
  return c;
}

static q_chan slot_chan(xipc_queue *q) {
  q_header *h = q->h;
  q_chan c = {Q_SLOT_CH(q), &h->slot_seq, &h->slot_sleepers, &h->slot_woke, false, NULL, 0};
  return c;
}

/* True if a producer publishes without a fence: then a consumer that armed
 * `data_seq` runs the heavy barrier before it looks for messages, which
 * orders every running producer's store of `wr` before its load of
 * `data_seq` (asymmetric Dekker: the producer's side is only a compiler
 * barrier). */
static bool any_relaxed(const xipc_queue *q) {
  uint32_t used = atomic_load(&q->h->used);
  for (uint32_t i = 0; i < used && i < q->l.nrings; i++)
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

static void ring_watchers(xipc_queue *q);

/* Waitsets arm the channels but data, space and slot too (not join); they
 * are rung before the bit is cleared (see "waitset watchers"). A waitset
 * that arms meanwhile moves seq to another odd value, so that our CAS
 * fails: we ring again (it may have armed after we rang). A failed CAS
 * that finds the bit clear means another waker cleared it and wakes the
 * sleepers. A waitset (or a forger) that keeps re-arming cannot hold us
 * for long: after Q_WAKE_TRIES the bit stays set for the next waker. */
static void q_wake(xipc_queue *q, const q_chan *c) {
  uint32_t v = atomic_load(c->seq);
  for (int t = 0;; t++) {
    if ((v & 1) == 0 || t == Q_WAKE_TRIES)
      return;
    if (c->ch != Q_JOIN_CH(q))
      ring_watchers(q);
    if (atomic_compare_exchange_strong(c->seq, &v, v + 1))
      break;
  }
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

static void wake_chan(xipc_queue *q, q_chan c) {
  if ((atomic_load(c.seq) & 1) != 0)
    q_wake(q, &c);
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
  /* A peeker's hold binds whoever owns the ring, not just the producer it
   * peeked from: the room ends at the hold (refresh_rd), not at rd. */
  if (refresh_rd(q) != 0) {
    q->own = -1;
    atomic_store(&r->owner, 0);
    return XIPC_ECORRUPT;
  }
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
static bool claimable(const xipc_queue *q, int pass, uint32_t i, uint64_t o) {
  return o == 0 ||
         (pass != 0 && o != q->self && (pass != 1 || ring_empty(&q->rings[i])) &&
          !xipc__qwait_owner_alive(o));
}

static int claim_ring(xipc_queue *q) {
  for (int pass = 0; pass < 3; pass++)
    for (uint32_t i = 0; i < q->l.nrings; i++) {
      uint64_t o = atomic_load(&q->rings[i].owner);
      if (!claimable(q, pass, i, o))
        continue;
      int rc = claim_at(q, i, o);
      if (rc != XIPC_EBUSY)
        return rc;
    }
  return XIPC_ENOSPC;
}

static bool slot_ready(xipc_queue *q, uint64_t unused) {
  (void)unused;
  for (uint32_t i = 0; i < q->l.nrings; i++)
    if (atomic_load(&q->rings[i].owner) == 0)
      return true;
  return is_closed(q);
}

/* Every ring is taken: waits for one to free up. A close wakes us; a dead
 * owner is found by claim_ring at the next check (at least every 250 ms).
 * No spinning: a ring frees up when a handle closes, which is rare. */
static int wait_slot(xipc_queue *q, q_timer *timer) {
  q_chan c = slot_chan(q);
  c.ready = slot_ready;
  for (;;) {
    if (is_closed(q))
      return xipc__fail(XIPC_ECLOSED);
    int rc = q_sleep(q, &c, timer);
    if (rc != 0)
      return rc;
    rc = claim_ring(q);
    if (rc != XIPC_ENOSPC)
      return rc == 0 ? 0 : xipc__fail(rc);
  }
}

/* Gives this handle's ring back (its queued messages stay). */
static void release_ring(xipc_queue *q) {
  if (q->own < 0)
    return;
  uint64_t me = q->self;
  if (q->relaxed)
    atomic_store(&q->rings[q->own].relaxed, 0);
  if (atomic_compare_exchange_strong(&q->rings[q->own].owner, &me, 0))
    wake_chan(q, slot_chan(q));
  q->own = -1;
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

static int wait_space(xipc_queue *q, uint64_t need, q_timer *timer) {
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
    rc = q_wait_round(q, is_closed(q), round, &c, timer);
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
  if (n == 0)
    return; /* src may be NULL (a put of NULL, 0): memcpy must not see it */
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
  q_timer timer = {timeout_ms, 0};
  int rc = header_ok(q);
  if (rc == 0 && is_closed(q))
    rc = XIPC_ECLOSED;
  if (rc == 0 && q->own < 0) {
    rc = claim_ring(q);
    if (rc == XIPC_ENOSPC && timeout_ms != 0 && (rc = wait_slot(q, &timer)) != 0)
      return rc; /* recorded */
  }
  if (rc == 0)
    rc = own_ring_ok(q);
  if (rc != 0)
    return xipc__fail(rc);
  uint64_t need = rec_size(len);
  if (!has_space(q, need))
    return wait_space(q, need, &timer);
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

static int need_bounce(xipc_queue *q, unsigned char **buf) {
  if (*buf == NULL)
    *buf = malloc(q->l.max_message > 0 ? (size_t)q->l.max_message : 1);
  return *buf != NULL ? 0 : XIPC_ENOMEM;
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
  if (at == NULL && (rc = need_bounce(q, &q->bounce)) != 0)
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

/* ---- tasks (xipc_queue_task_done, xipc_queue_join) ------------------------
 * A consumer handle counts the messages it took and has not marked done in
 * its own q_taker slot (claimed at its first get; a handle that finds none
 * free counts in the header's `spare`). The count goes up before the CAS
 * of `rd` that takes a message, so a joiner that sees the ring empty (an
 * acquire load that reads the CAS) also sees the count: "every ring empty
 * and every count zero" means every message put so far is done. */

static void set_pending(xipc_queue *q, uint64_t n, memory_order mo) {
  if (q->pend != NULL)
    atomic_store_explicit(q->pend, n, mo);
  else if (n > q->pending)
    atomic_fetch_add(&q->h->spare, n - q->pending);
  else
    atomic_fetch_sub(&q->h->spare, q->pending - n);
}

/* Takes the record at rd of ring r (CAS to next), counted as a task. The
 * common case, a handle with a slot of its own, is one plain store to a
 * line nobody else writes (this runs at every get). */
static inline bool take_record(xipc_queue *q, q_ring *r, uint64_t rd,
                               uint64_t next) {
  uint64_t n = q->pending;
  if (q->pend != NULL)
    atomic_store_explicit(q->pend, n + 1, memory_order_relaxed);
  else
    set_pending(q, n + 1, memory_order_relaxed);
  if (atomic_compare_exchange_strong(&r->rd, &rd, next)) {
    q->pending = n + 1;
    return true;
  }
  set_pending(q, n, memory_order_relaxed);
  return false;
}

/* Moves the tasks of a slot whose owner is gone (dead, or a handle closed
 * with tasks unfinished) to `lost`; the slot is free afterwards. Counted
 * in `lost` before the slot is cleared: a reaper killed between the two
 * steps makes join report them twice, never not at all. */
static void reap_taker(xipc_queue *q, uint32_t i) {
  q_taker *t = &q->takers[i];
  uint64_t o = atomic_load(&t->owner);
  if (o == 0 || o == q->self || (o != Q_ABANDONED && xipc__qwait_owner_alive(o)))
    return;
  if (!atomic_compare_exchange_strong(&t->owner, &o, q->self))
    return;
  uint64_t n = atomic_load(&t->pending);
  if (n != 0)
    atomic_fetch_add(&q->h->lost, n);
  atomic_store(&t->pending, 0);
  atomic_store(&t->owner, 0);
}

/* At a handle's first get or peek: a free slot, else one whose owner is
 * gone; else none (-2: the handle counts in `spare`). */
static void claim_taker(xipc_queue *q) {
  for (int pass = 0; pass < 2; pass++)
    for (uint32_t i = 0; i < q->l.nrings; i++) {
      q_taker *t = &q->takers[i];
      uint64_t free_slot = 0;
      if (pass == 1)
        reap_taker(q, i);
      if (atomic_load(&t->owner) == 0 &&
          atomic_compare_exchange_strong(&t->owner, &free_slot, q->self)) {
        atomic_store(&t->pending, 0);
        q->taker = (int)i;
        q->pend = &t->pending;
        return;
      }
    }
  q->taker = -2;
}

static void wake_join(xipc_queue *q) { wake_chan(q, join_chan(q)); }

/* At close: tasks still unfinished stay for join to report (the slot is
 * marked abandoned; a handle without a slot moves them to `lost`). */
static void release_taker(xipc_queue *q) {
  if (q->taker == -2 && q->pending != 0) {
    atomic_fetch_add(&q->h->lost, q->pending);
    atomic_fetch_sub(&q->h->spare, q->pending);
  } else if (q->taker >= 0) {
    uint64_t me = q->self;
    atomic_compare_exchange_strong(&q->takers[q->taker].owner, &me,
                                   q->pending != 0 ? Q_ABANDONED : 0);
  }
  if (q->pending != 0)
    wake_join(q);
  q->taker = -1;
  q->pend = NULL;
}

int xipc_queue_task_done(xipc_queue *q) {
  if (q == NULL)
    return xipc__fail(XIPC_EINVAL);
  if (q->pending == 0)
    return xipc__fail(XIPC_ERANGE);
  int rc = header_ok(q);
  if (rc != 0)
    return xipc__fail(rc);
  /* seq_cst: ordered before the load of join_seq (sleepers protocol). */
  set_pending(q, q->pending - 1, memory_order_seq_cst);
  q->pending--;
  if (q->pending == 0)
    wake_join(q);
  return 0;
}

/* 0 when every message put so far is got and done, 1 while some are not,
 * XIPC_EOWNERDEAD if tasks of dead consumers were lost (reported once:
 * with take_lost the count is reset), XIPC_ECORRUPT. Rings are read before
 * the counts (see take_record). */
static int join_state(xipc_queue *q, bool take_lost) {
  uint32_t used;
  if (used_rings(q, &used) != 0)
    return XIPC_ECORRUPT;
  if (atomic_load(&q->h->lost) != 0 &&
      (!take_lost || atomic_exchange(&q->h->lost, 0) != 0))
    return XIPC_EOWNERDEAD;
  for (uint32_t i = 0; i < used; i++)
    if (atomic_load(&q->rings[i].wr) != atomic_load(&q->rings[i].rd))
      return 1;
  if (atomic_load(&q->h->spare) != 0)
    return 1;
  for (uint32_t i = 0; i < q->l.nrings; i++)
    if (atomic_load(&q->takers[i].pending) != 0)
      return 1;
  return 0;
}

static bool join_ready(xipc_queue *q, uint64_t unused) {
  (void)unused;
  return join_state(q, false) != 1;
}

int xipc_queue_join(xipc_queue *q, int timeout_ms) {
  if (q == NULL || timeout_ms < -1)
    return xipc__fail(XIPC_EINVAL);
  q_timer timer = {timeout_ms, 0};
  q_chan c = join_chan(q);
  c.ready = join_ready;
  for (;;) {
    int rc = header_ok(q);
    for (uint32_t i = 0; rc == 0 && i < q->l.nrings; i++)
      if (atomic_load(&q->takers[i].pending) != 0)
        reap_taker(q, i);
    if (rc == 0)
      rc = join_state(q, true);
    if (rc <= 0)
      return rc == 0 ? 0 : xipc__fail(rc);
    if (timeout_ms == 0)
      return xipc__fail(XIPC_EAGAIN);
    if ((rc = q_sleep(q, &c, &timer)) != 0)
      return rc;
  }
}

static void ring_read(const xipc_queue *q, uint32_t i, uint64_t pos, void *dst,
                      size_t n) {
  const unsigned char *ring = q->data + (uint64_t)i * q->l.capacity;
  uint64_t off = pos & q->mask;
  size_t first = n;
  if (n == 0)
    return; /* dst may be NULL (a get with cap 0) */
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
  if (!take_record(q, r, rd, rd + rec_size(n)))
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
  if (q->taker == -1)
    claim_taker(q);
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
    if (!take_record(q, r, rd, rd + rec_size(n)))
      continue; /* a get took it: hold the next one */
    const unsigned char *at = ring_span(q, i, rd + Q_REC_HDR, (size_t)n);
    if (at == NULL) {
      ring_read(q, i, rd + Q_REC_HDR, q->peek_bounce, (size_t)n);
      at = q->peek_bounce;
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
  if (q->taker == -1)
    claim_taker(q);
  int rc = need_bounce(q, &q->peek_bounce);
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
      for (uint32_t i = 0; i < used && i < q->l.nrings; i++)
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

/* Messages and payload bytes queued in ring i between rd and wr. */
static int walk_ring(const xipc_queue *q, uint32_t i, uint64_t rd, uint64_t wr,
                     uint64_t *count, uint64_t *bytes) {
  uint64_t n = 0, b = 0, len;
  while (rd != wr) {
    if (record_at(q, i, rd, wr, &len) != 0)
      return XIPC_ECORRUPT;
    rd += rec_size(len);
    n++;
    b += len;
  }
  *count = n;
  *bytes = b;
  return 0;
}

static int count_ring(const xipc_queue *q, uint32_t i, uint64_t *count,
                      uint64_t *bytes) {
  const q_ring *r = &q->rings[i];
  for (int t = 0; t < Q_RACE_TRIES; t++) {
    uint64_t rd = atomic_load(&r->rd), wr = atomic_load(&r->wr);
    if (walk_ring(q, i, rd, wr, count, bytes) == 0)
      return 0;
    if (race_or_corrupt(r, rd) != Q_RACE)
      return XIPC_ECORRUPT;
  }
  return XIPC_EAGAIN;
}

/* Messages and bytes queued in all rings; 0 or an error (not recorded). */
static int count_all(const xipc_queue *q, uint64_t *count, uint64_t *bytes) {
  uint32_t used;
  uint64_t n = 0, b = 0;
  *count = *bytes = 0;
  int rc = header_ok(q);
  if (rc == 0)
    rc = used_rings(q, &used);
  for (uint32_t i = 0; rc == 0 && i < used; i++) {
    rc = count_ring(q, i, &n, &b);
    *count += n;
    *bytes += b;
  }
  return rc;
}

int xipc_queue_count(xipc_queue *q, size_t *count) {
  uint64_t n, bytes;
  if (q == NULL || count == NULL)
    return xipc__fail(XIPC_EINVAL);
  int rc = count_all(q, &n, &bytes);
  if (rc != 0)
    return xipc__fail(rc);
  *count = (size_t)n;
  return 0;
}

/* Rings owned by a live producer handle now. */
static size_t producers_attached(const xipc_queue *q) {
  size_t n = 0;
  for (uint32_t i = 0; i < q->l.nrings; i++) {
    uint64_t o = atomic_load(&q->rings[i].owner);
    if (o != 0 && (o == q->self || xipc__qwait_owner_alive(o)))
      n++;
  }
  return n;
}

/* Tasks got and not yet marked done, by every consumer. */
static uint64_t tasks_pending(const xipc_queue *q) {
  uint64_t n = atomic_load(&q->h->spare);
  for (uint32_t i = 0; i < q->l.nrings; i++)
    n += atomic_load(&q->takers[i].pending);
  return n;
}

int xipc_queue_info(xipc_queue *q, struct xipc_queue_info *info) {
  uint64_t count, bytes;
  if (q == NULL || info == NULL)
    return xipc__fail(XIPC_EINVAL);
  int rc = count_all(q, &count, &bytes);
  if (rc != 0)
    return xipc__fail(rc);
  memset(info, 0, sizeof *info);
  info->capacity = (size_t)q->l.capacity;
  info->max_message = (size_t)q->l.max_message;
  info->max_producers = q->l.nrings;
  info->producers = producers_attached(q);
  info->count = (size_t)count;
  info->bytes = (size_t)bytes;
  info->unfinished = (size_t)(count + tasks_pending(q));
  info->closed = is_closed(q);
  info->persistent = (q->l.flags & Q_PERSISTENT) != 0;
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
  for (uint32_t i = 0; i < q->l.nrings; i++)
    wake_space(q, i);
  wake_chan(q, slot_chan(q)); /* puts waiting for a ring, and waitsets */
  return 0;
}

/* ---- waitset watchers -----------------------------------------------------
 * A waitset that watches the queue holds one of the header's watcher slots
 * {owner, bell} and, instead of sleeping on a channel, sets the channel's
 * armed bit as q_sleep does (without counting itself a sleeper) and sleeps
 * on its doorbell. A waker that finds the bit set rings the doorbell of
 * every slot in use before it clears the bit: a waker killed in between
 * leaves the bit set for the next one. While no waitset is armed, nothing
 * changes for a put (the bit is clear: one load).
 *
 * Anyone who can write the mapping can write the slots: a waker loads each
 * word once and uses only its copies, and the tree builds the doorbell's
 * name from the numbers, so a forged slot can only ring some xipc doorbell
 * (a spurious check for that waitset), and one whose doorbell does not
 * exist is cleared. A slot is cleared bell first and taken owner first, so
 * a waker never pairs a new owner with a bell it cleared. */

static q_watch *watch_slot(q_header *h, unsigned i) {
  if (i < 3)
    return &h->watch1[i];
  return i < 5 ? &h->watch3[i - 3] : &h->watch4[i - 5];
}

static uint64_t bell_word(uint32_t bell, uint32_t cookie) {
  return (uint64_t)bell << 32 | cookie;
}

/* The hint never goes below 0; a forged value only makes wakers look. */
static void watchers_down(q_header *h) {
  uint32_t n = atomic_load(&h->watchers);
  while (n != 0 && !atomic_compare_exchange_weak(&h->watchers, &n, n - 1)) {
  }
}

/* Frees slot s if it holds exactly {owner, bell}. */
static void slot_clear(q_header *h, q_watch *s, uint64_t owner, uint64_t bell) {
  if (atomic_load(&s->owner) != owner ||
      !atomic_compare_exchange_strong(&s->bell, &bell, 0))
    return;
  if (atomic_compare_exchange_strong(&s->owner, &owner, 0))
    watchers_down(h);
}

static void ring_watchers(xipc_queue *q) {
  if (atomic_load(&q->h->watchers) == 0)
    return;
  for (unsigned i = 0; i < XIPC_WAITSET_QUEUE_WATCHERS; i++) {
    q_watch *s = watch_slot(q->h, i);
    uint64_t owner = atomic_load(&s->owner), bell = atomic_load(&s->bell);
    uint32_t id = (uint32_t)(bell >> 32);
    if ((owner & 0xffffffffu) == 0 || id == 0)
      continue;
    if (xipc__qwait_ring(q->w, i, owner, id, (uint32_t)bell) == XIPC_ENOENT)
      slot_clear(q->h, s, owner, bell); /* a waitset that is gone */
  }
}

/* Takes slot i from `from` (0: free, or a dead owner). */
static bool slot_take(xipc_queue *q, unsigned i, uint64_t from, uint64_t bell) {
  q_watch *s = watch_slot(q->h, i);
  if (!atomic_compare_exchange_strong(&s->owner, &from, q->self))
    return false;
  atomic_store(&s->bell, bell);
  if (from == 0)
    atomic_fetch_add(&q->h->watchers, 1);
  return true;
}

int xipc__queue_watch(xipc_queue *q, uint32_t bell, uint32_t cookie,
                      int *slot) {
  int rc = header_ok(q);
  if (rc != 0)
    return xipc__fail(rc);
  /* Free slots first; then those of owners that are gone. */
  for (int pass = 0; pass < 2; pass++)
    for (unsigned i = 0; i < XIPC_WAITSET_QUEUE_WATCHERS; i++) {
      uint64_t o = atomic_load(&watch_slot(q->h, i)->owner);
      if ((o == 0) != (pass == 0) ||
          (o != 0 && (o == q->self || xipc__qwait_owner_alive(o))))
        continue;
      if (slot_take(q, i, o, bell_word(bell, cookie))) {
        *slot = (int)i;
        return 0;
      }
    }
  return xipc__fail(XIPC_EBUSY);
}

void xipc__queue_unwatch(xipc_queue *q, int slot, uint32_t bell,
                         uint32_t cookie) {
  if (slot >= 0 && slot < XIPC_WAITSET_QUEUE_WATCHERS)
    slot_clear(q->h, watch_slot(q->h, (unsigned)slot), q->self,
               bell_word(bell, cookie));
}

unsigned *xipc__queue_watchers(xipc_queue *q) { return &q->watchers; }

/* Stores the slot again if another process overwrote it (and the hint, if
 * it was zeroed: then wakers would not look). A waker that read the old
 * words read them before this store, so its change is seen by the check
 * that follows. */
static void slot_restore(xipc_queue *q, unsigned slot, uint64_t bell) {
  q_watch *s = watch_slot(q->h, slot);
  if (atomic_load(&s->owner) != q->self)
    atomic_store(&s->owner, q->self);
  if (atomic_load(&s->bell) != bell)
    atomic_store(&s->bell, bell);
  uint32_t none = 0;
  if (atomic_load(&q->h->watchers) == 0)
    atomic_compare_exchange_strong(&q->h->watchers, &none, 1);
}

static bool slot_holds(xipc_queue *q, unsigned slot, uint64_t bell) {
  q_watch *s = watch_slot(q->h, slot);
  return atomic_load(&s->owner) == q->self && atomic_load(&s->bell) == bell &&
         atomic_load(&q->h->watchers) != 0;
}

static bool ring_has_room(const xipc_queue *q, uint32_t i, uint64_t need) {
  uint64_t wr = atomic_load(&q->rings[i].wr), rd = atomic_load(&q->rings[i].rd);
  return wr - rd > q->l.capacity || q->l.capacity - (wr - rd) >= need;
}

/* The ring a put of a handle without one would claim now (its first
 * choice, as claim_ring makes it), or -1 if every ring is taken. */
static int claim_candidate(const xipc_queue *q) {
  for (int pass = 0; pass < 3; pass++)
    for (uint32_t i = 0; i < q->l.nrings; i++)
      if (claimable(q, pass, i, atomic_load(&q->rings[i].owner)))
        return (int)i;
  return -1;
}

/* Whether a put of max_message would not block now (*ring: the ring whose
 * space it would wait for, -1: a free ring). An error that put would
 * report at once counts as ready. */
static int put_readiness(xipc_queue *q, bool *ready, int *ring) {
  uint64_t need = rec_size(q->l.max_message);
  *ring = q->own;
  if (q->reserved) {
    *ready = true; /* put fails at once (XIPC_EBUSY) */
    return 0;
  }
  if (q->own < 0) {
    *ring = claim_candidate(q);
    *ready = *ring >= 0 && ring_has_room(q, (uint32_t)*ring, need);
    return 0;
  }
  int rc = own_ring_ok(q);
  if (rc == 0)
    rc = refresh_rd(q);
  *ready = rc == 0 && has_space(q, need);
  return rc;
}

/* What q is ready for among events, with *ring as put_readiness sets it. */
static int readiness(xipc_queue *q, unsigned events, unsigned *ready, int *ring) {
  uint32_t used;
  bool put_ok = false;
  *ready = 0;
  *ring = -1;
  int rc = header_ok(q);
  if (rc == 0)
    rc = used_rings(q, &used);
  if (rc == 0 && is_closed(q)) {
    *ready = events | XIPC_WAIT_HANGUP;
    return 0;
  }
  if (rc == 0 && (events & XIPC_WAIT_READABLE) && has_message(q, true))
    *ready |= XIPC_WAIT_READABLE;
  if (rc == 0 && (events & XIPC_WAIT_WRITABLE) &&
      (rc = put_readiness(q, &put_ok, ring)) == 0 && put_ok)
    *ready |= XIPC_WAIT_WRITABLE;
  if (rc != 0)
    *ready = events | XIPC_WAIT_HANGUP;
  return rc;
}

/* Sets c's armed bit as q_sleep does, but counts no sleeper: the waitset
 * sleeps on its doorbell, and no futex compares seq for it. So it always
 * stores a new value, odd (armed), also when the bit is set already: a
 * waker that read the old value and rang before our slot was there then
 * fails its CAS and rings again (q_wake), instead of clearing the bit we
 * count on. *armed: the value stored. False if seq moved meanwhile. */
static bool arm_chan(const q_chan *c, uint32_t *armed) {
  uint32_t v = atomic_load(c->seq);
  uint32_t want = (v & 1) != 0 ? v + 2 : v | 1;
  if (!atomic_compare_exchange_strong(c->seq, &v, want))
    return false;
  *armed = want;
  return true;
}

/* The channels a waitset arms for events: data, and the space of the ring
 * a put would wait for, or the slot channel. */
static int watched_chans(xipc_queue *q, unsigned events, int ring, q_chan c[2]) {
  int n = 0;
  if (events & XIPC_WAIT_READABLE)
    c[n++] = data_chan(q);
  if (events & XIPC_WAIT_WRITABLE)
    c[n++] = ring >= 0 ? space_chan(q, (uint32_t)ring) : slot_chan(q);
  return n;
}

/* One try: arm, look again, and check that no waker came in between (the
 * bits are still ours and so is the slot). 0 armed, 1 look again,
 * XIPC_EAGAIN if the heavy barrier failed. */
static int arm_once(xipc_queue *q, unsigned events, unsigned slot,
                    uint64_t bell, unsigned *ready, int *ring) {
  q_chan c[2];
  uint32_t armed[2];
  int n = watched_chans(q, events, *ring, c);
  slot_restore(q, slot, bell);
  for (int i = 0; i < n; i++)
    if (!arm_chan(&c[i], &armed[i]))
      return 1;
  bool fenced = !(events & XIPC_WAIT_READABLE) || !any_relaxed(q) ||
                xipc__qwait_heavy_barrier(); /* see any_relaxed */
  int wanted = *ring, rc = readiness(q, events, ready, ring);
  if (rc != 0 || *ready != 0)
    return rc;
  if (!fenced)
    return XIPC_EAGAIN;
  for (int i = 0; i < n; i++)
    if (atomic_load(c[i].seq) != armed[i])
      return 1;
  return *ring == wanted && slot_holds(q, slot, bell) ? 0 : 1;
}

int xipc__queue_arm(xipc_queue *q, unsigned events, int slot, uint32_t bell,
                    uint32_t cookie, bool arm, unsigned *ready) {
  int ring;
  int rc = readiness(q, events, ready, &ring);
  if (rc != 0 || *ready != 0 || !arm)
    return rc == 0 ? 0 : xipc__fail(rc);
  if (slot < 0 || slot >= XIPC_WAITSET_QUEUE_WATCHERS)
    return xipc__fail(XIPC_EINVAL);
  /* Another process may keep changing seq (or the slot): after a few
   * tries the caller looks again soon instead. */
  for (int t = 0; t < Q_RACE_TRIES; t++) {
    rc = arm_once(q, events, (unsigned)slot, bell_word(bell, cookie), ready,
                  &ring);
    if (rc != 1)
      return rc == 0 ? 0 : xipc__fail(rc);
  }
  return xipc__fail(XIPC_EAGAIN);
}
