/* Semaphores and robust mutexes on POSIX (Linux).
 *
 * The state of each object lives in a private named mapping opened through
 * xipc_map_named(), "<name>.xsem" or "<name>.xmtx", which gives it xipc's
 * lifetime rule (alive while any handle is open, a dead process counts as
 * closed) and owner-only permissions. A semaphore is a process-shared sem_t;
 * a mutex is a process-shared, robust, error-checking pthread mutex, so the
 * kernel's robust-futex list reports a dead owner. Timed waits use
 * sem_clockwait / pthread_mutex_clocklock on CLOCK_MONOTONIC (glibc 2.30).
 *
 * Shared memory is writable by every process that opened the object, so
 * the header is validated before use. The creator fills the object in and
 * then publishes it with a release store of `ready`; openers wait for that
 * (a fresh object is all zero) and check magic, version and size. */
#include "posix.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SYNC_VERSION 1u
#define SYNC_READY 0x52454459u     /* "REDY" */
#define SEM_MAGIC 0x7873656du      /* "xsem" */
#define MUTEX_MAGIC 0x786d7478u    /* "xmtx" */

typedef struct {
  _Atomic uint32_t ready; /* 0 while the creator initialises, then READY */
  uint32_t magic, version, size;
} sync_hdr;

typedef struct {
  sync_hdr h;
  sem_t sem;
} sem_shared;

typedef struct {
  sync_hdr h;
  _Atomic pid_t owner; /* thread id of the holder; 0 when unlocked */
  pthread_mutex_t mtx;
} mutex_shared;

struct xipc_sem {
  xipc_map *map;
  sem_shared *sh;
};

struct xipc_mutex {
  xipc_map *map;
  mutex_shared *sh;
  atomic_bool held; /* locked through this handle */
};

/* ---- what the object listing sees (posix/objects.c) --------------------- */

bool xipc__sync_probe(const void *p, size_t n, uint64_t size, bool mutex) {
  sync_hdr h;
  uint32_t want = mutex ? MUTEX_MAGIC : SEM_MAGIC;
  uint32_t want_size = mutex ? sizeof(mutex_shared) : sizeof(sem_shared);
  if (n < sizeof h || size < want_size)
    return false;
  memcpy(&h, p, sizeof h);
  uint32_t ready;
  memcpy(&ready, &h, sizeof ready);
  /* A creator between its link and its publish: all zero so far. */
  if (ready == 0 && h.magic == 0 && h.version == 0 && h.size == 0)
    return true;
  return ready == SYNC_READY && h.magic == want && h.version == SYNC_VERSION &&
         h.size == want_size;
}

/* ---- shared objects ------------------------------------------------------ */

typedef struct {
  const char *suffix;
  uint32_t magic;
  uint32_t size;
  int (*init)(void *shared, unsigned arg); /* 0 or an errno value */
  unsigned arg;
} sync_kind;

static bool is_ready(const void *h) {
  return atomic_load_explicit(&((const sync_hdr *)h)->ready, memory_order_acquire) != 0;
}

/* Waits until the creator has published the object, then validates it. */
static int await_ready(sync_hdr *h, const sync_kind *k) {
  (void)xipc__wait_published(is_ready, h);
  uint32_t r = atomic_load_explicit(&h->ready, memory_order_acquire);
  if (r != SYNC_READY || h->magic != k->magic || h->version != SYNC_VERSION ||
      h->size != k->size)
    return xipc__fail(XIPC_ECORRUPT);
  return 0;
}

static int publish(sync_hdr *h, const sync_kind *k) {
  int sys = k->init(h, k->arg);
  if (sys != 0)
    return xipc__fail_sys(sys);
  h->magic = k->magic;
  h->version = SYNC_VERSION;
  h->size = k->size;
  atomic_store_explicit(&h->ready, SYNC_READY, memory_order_release);
  return 0;
}

/* Opens or creates the named state of kind k; *out gets the mapping. */
static int sync_attach(xipc_map **out, const char *name, const sync_kind *k,
                       unsigned flags) {
  char dname[XIPC_NAME_MAX + 1];
  xipc__sync_name(dname, name, k->suffix);
  int rc = xipc_map_named(out, dname, k->size, XIPC_ACCESS_WRITE, flags);
  if (rc == XIPC_ERANGE) /* an existing object too small to be ours */
    return xipc__fail(XIPC_ECORRUPT);
  if (rc != 0)
    return rc;
  sync_hdr *h = xipc_map_data(*out);
  /* CREATE opens an existing object at its own size, which may be small. */
  if (xipc_map_size(*out) < k->size)
    rc = xipc__fail(XIPC_ECORRUPT);
  else
    rc = xipc_map_created(*out) ? publish(h, k) : await_ready(h, k);
  if (rc != 0) {
    xipc_map_close(*out);
    *out = NULL;
  }
  return rc;
}

static int sync_unlink(const char *name, const char *suffix) {
  char dname[XIPC_NAME_MAX + 1];
  xipc__sync_name(dname, name, suffix);
  return xipc_map_unlink(dname);
}

/* CLOCK_MONOTONIC now + ms (>= 0), for the clockwait/clocklock functions. */
static struct timespec deadline_after(int ms) {
  return xipc__timespec(xipc__deadline_ns(ms));
}

/* ---- semaphores ---------------------------------------------------------- */

static int sem_init_shared(void *shared, unsigned initial) {
  sem_shared *s = shared;
  return sem_init(&s->sem, 1, initial) == 0 ? 0 : errno;
}

int xipc__sem_open(xipc_sem **out, const char *name, unsigned initial,
                   unsigned flags) {
  sync_kind k = {XIPC__SEM_SUFFIX, SEM_MAGIC, sizeof(sem_shared),
                 sem_init_shared, initial};
  xipc_sem *s = calloc(1, sizeof *s);
  if (s == NULL)
    return xipc__fail(XIPC_ENOMEM);
  int rc = sync_attach(&s->map, name, &k, flags);
  if (rc != 0) {
    free(s);
    return rc;
  }
  s->sh = xipc_map_data(s->map);
  *out = s;
  return 0;
}

/* Signals do not end a wait: EINTR restarts it (with the same deadline). */
int xipc__sem_wait(xipc_sem *s, int timeout_ms) {
  struct timespec ts = deadline_after(timeout_ms > 0 ? timeout_ms : 0);
  int r;
  do {
    if (timeout_ms == 0)
      r = sem_trywait(&s->sh->sem);
    else if (timeout_ms < 0)
      r = sem_wait(&s->sh->sem);
    else
      r = sem_clockwait(&s->sh->sem, CLOCK_MONOTONIC, &ts);
  } while (r != 0 && errno == EINTR);
  return r == 0 ? 0 : xipc__fail_os(); /* EAGAIN, ETIMEDOUT */
}

int xipc__sem_post(xipc_sem *s) {
  /* EOVERFLOW at SEM_VALUE_MAX -> XIPC_ERANGE, as Windows. */
  return sem_post(&s->sh->sem) == 0 ? 0 : xipc__fail_os();
}

int xipc__sem_close(xipc_sem *s) {
  int rc = xipc_map_close(s->map);
  free(s);
  return rc;
}

int xipc__sem_unlink(const char *name) {
  return sync_unlink(name, XIPC__SEM_SUFFIX);
}

/* ---- mutexes ------------------------------------------------------------- */

/* The calling thread's id, cached: gettid() is a system call and every lock
 * and unlock needs it. A forked child's only thread is the forking one,
 * whose cache the atfork handler clears. */
static _Thread_local pid_t tid_cache;
static pthread_once_t tid_once = PTHREAD_ONCE_INIT;

static void forget_tid(void) { tid_cache = 0; }
static void watch_fork(void) { pthread_atfork(NULL, NULL, forget_tid); }

static pid_t my_tid(void) {
  if (tid_cache == 0) {
    pthread_once(&tid_once, watch_fork);
    tid_cache = gettid();
  }
  return tid_cache;
}

static int mutex_init_shared(void *shared, unsigned unused) {
  mutex_shared *m = shared;
  pthread_mutexattr_t a;
  (void)unused;
  int r = pthread_mutexattr_init(&a);
  if (r != 0)
    return r;
  r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  if (r == 0)
    r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  if (r == 0)
    r = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  if (r == 0)
    r = pthread_mutex_init(&m->mtx, &a);
  pthread_mutexattr_destroy(&a);
  return r;
}

int xipc__mutex_open(xipc_mutex **out, const char *name, unsigned flags) {
  sync_kind k = {XIPC__MUTEX_SUFFIX, MUTEX_MAGIC, sizeof(mutex_shared),
                 mutex_init_shared, 0};
  xipc_mutex *m = calloc(1, sizeof *m);
  if (m == NULL)
    return xipc__fail(XIPC_ENOMEM);
  int rc = sync_attach(&m->map, name, &k, flags);
  if (rc != 0) {
    free(m);
    return rc;
  }
  m->sh = xipc_map_data(m->map);
  *out = m;
  return 0;
}

/* One locking attempt; returns 0 or an errno value. Timeout 0 is a timed
 * lock with a deadline of now, not pthread_mutex_trylock: glibc's trylock
 * (2.36) leaves a not-recoverable robust mutex locked by the caller after
 * returning ENOTRECOVERABLE, so every later lock would fail. */
static int acquire(pthread_mutex_t *mtx, int timeout_ms) {
  if (timeout_ms < 0)
    return pthread_mutex_lock(mtx);
  struct timespec ts = deadline_after(timeout_ms);
  int r = pthread_mutex_clocklock(mtx, CLOCK_MONOTONIC, &ts);
  return r == ETIMEDOUT && timeout_ms == 0 ? EAGAIN : r;
}

int xipc__mutex_lock(xipc_mutex *m, int timeout_ms) {
  pid_t me = my_tid();
  int r = acquire(&m->sh->mtx, timeout_ms);
  if (r == 0 || r == EOWNERDEAD) {
    atomic_store(&m->sh->owner, me);
    atomic_store(&m->held, true);
    return r == 0 ? 0 : xipc__fail_sys(r);
  }
  /* Relocking by the owner is EDEADLK; Windows mutexes would recurse. Both
   * report XIPC_EBUSY. */
  if (r == EDEADLK)
    return xipc__fail_sys_as(r, XIPC_EBUSY);
  return xipc__fail_sys(r); /* EAGAIN, ETIMEDOUT, ENOTRECOVERABLE */
}

static bool held_by_caller(xipc_mutex *m) {
  return atomic_load(&m->held) && atomic_load(&m->sh->owner) == my_tid();
}

int xipc__mutex_consistent(xipc_mutex *m) {
  /* glibc would let any thread make the mutex consistent (and take over
   * its ownership), so the owner is checked here. */
  if (!held_by_caller(m))
    return xipc__fail(XIPC_EPERM);
  int r = pthread_mutex_consistent(&m->sh->mtx);
  return r == 0 ? 0 : xipc__fail_sys(r); /* EINVAL: not owner-died */
}

/* Unlocking an owner-died mutex that was not made consistent makes glibc
 * mark it not recoverable, for every process. */
int xipc__mutex_unlock(xipc_mutex *m) {
  if (!held_by_caller(m))
    return xipc__fail(XIPC_EPERM);
  pid_t me = atomic_exchange(&m->sh->owner, 0);
  atomic_store(&m->held, false);
  int r = pthread_mutex_unlock(&m->sh->mtx);
  if (r != 0) {
    atomic_store(&m->sh->owner, me);
    atomic_store(&m->held, true);
    return xipc__fail_sys(r);
  }
  return 0;
}

/* Unmapping a robust mutex this thread holds would leave a dangling entry
 * in its robust list, which the kernel and glibc write through. */
int xipc__mutex_close(xipc_mutex *m) {
  if (atomic_load(&m->held))
    return xipc__fail(XIPC_EBUSY);
  int rc = xipc_map_close(m->map);
  free(m);
  return rc;
}

int xipc__mutex_unlink(const char *name) {
  return sync_unlink(name, XIPC__MUTEX_SUFFIX);
}
