/* The OS side of a waitset on Linux: one epoll set (the native handle)
 * holding the entries' descriptors and four of its own, told apart by
 * epoll_data.ptr (an entry's address, or the address of one of the static
 * tags below, which no entry can have):
 *   - the doorbell, an abstract AF_UNIX datagram socket
 *     "\0xipc.bell.<pid>.<id>" that queues ring with their cookie;
 *   - the kick, an eventfd that xipc__wos_kick writes (any thread, signal
 *     handlers too);
 *   - "pending", an eventfd that keeps the epoll fd readable while the
 *     portable layer has events of its own (never reported by a wait);
 *   - a timerfd for the set's next timer, so that another event loop that
 *     polls the epoll fd sees timers fall due.
 * Everything is level-triggered, as the waitset is.
 *
 * Which descriptor an entry registers: a stream its own fd, since a
 * duplicate would keep a shut-down pipe write end open and its reader
 * would never see end of stream (the shutdown takes the fd out of the set
 * before closing it, see posix/stream.c); a process its pidfd, open until
 * the process is closed; a listener and a caller's descriptor a duplicate,
 * so that the caller may put one descriptor into several entries or sets
 * and a registration never outlives or aliases the number it was made
 * with (epoll keys registrations by file and number; see posix/listen.c
 * for the listener). Each entry keeps its registered fd in e->os, stored
 * as (fd + 1) << 1 | standin so that NULL means none; `standin` marks a
 * listener's stand-in (see listener_hung_up). */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

struct xipc__wos {
  int ep;      /* the epoll set: the native handle */
  int bell;    /* doorbell socket */
  int kick;    /* eventfd */
  int pending; /* eventfd */
  int timer;   /* timerfd */
  bool pending_on;
  size_t lost_at; /* a drain of this many rings may have lost some */
  size_t nent;    /* entries in the set */
  struct epoll_event *evs;
  size_t evcap;
};

static char tag_bell, tag_kick, tag_pending, tag_timer;
enum { INTERNAL_FDS = 4 };

/* ---- the doorbell --------------------------------------------------------
 * A ring is one 4-byte datagram sent without blocking. When the socket's
 * receive queue is full the sender gets EAGAIN and the ring is LOST, with
 * its cookie. Linux refuses a datagram once the queue holds more than
 * net.unix.max_dgram_qlen of them (the value when the socket was made), so
 * the queue held qlen + 1 rings at the moment one was lost; the drain that
 * empties the queue after that moment reads all of them. A drain that reads
 * at least qlen - 1 rings (a margin for the exact kernel comparison) may
 * therefore have missed one, and so may one that read more than the caller
 * has room for: both say "check every queue" (*nb = SIZE_MAX). A sender's
 * own send buffer can refuse too; it holds some hundreds of small
 * datagrams, hence the cap on qlen below. */

#define QLEN_DEFAULT 10
#define QLEN_CAP 128

static size_t read_dgram_qlen(void) {
  long v = QLEN_DEFAULT;
  FILE *f = fopen("/proc/sys/net/unix/max_dgram_qlen", "re");
  if (f != NULL) {
    if (fscanf(f, "%ld", &v) != 1)
      v = QLEN_DEFAULT;
    fclose(f);
  }
  if (v < 2)
    v = 2;
  return (size_t)(v > QLEN_CAP ? QLEN_CAP : v);
}

/* A random non-zero id; the clock and a counter where getrandom fails. */
static uint32_t new_bell_id(void) {
  static unsigned counter;
  uint32_t id = 0;
  if (getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t)sizeof id) {
    uint64_t t = xipc__now_ns();
    id = (uint32_t)(t ^ (t >> 32)) ^
         (__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9e3779b9u);
  }
  return id != 0 ? id : 1;
}

/* The abstract address "\0xipc.bell.<pid>.<id>", without a trailing NUL. */
static socklen_t bell_addr(struct sockaddr_un *a, uint32_t id) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "xipc.bell.%x.%x",
                   (unsigned)getpid(), (unsigned)id);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* Binds the doorbell under a fresh id (another on EADDRINUSE). */
static int bell_open(int *fd, uint32_t *bell) {
  *fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (*fd < 0)
    return xipc__fail_os();
  for (int tries = 0;; tries++) {
    struct sockaddr_un a;
    uint32_t id = new_bell_id();
    socklen_t len = bell_addr(&a, id);
    if (bind(*fd, (struct sockaddr *)&a, len) == 0) {
      *bell = id;
      return 0;
    }
    if (errno != EADDRINUSE || tries == 64)
      return xipc__fail_os();
  }
}

/* Reads every ring into bells (see the comment above). */
static void bell_drain(xipc__wos *o, uint32_t *bells, size_t bcap,
                       size_t *nb) {
  size_t got = 0, kept = *nb;
  for (;;) {
    uint32_t cookie;
    ssize_t r = recv(o->bell, &cookie, sizeof cookie, MSG_TRUNC);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      break; /* EAGAIN: empty */
    got++; /* anything queued could have crowded a ring out */
    if (r != (ssize_t)sizeof cookie)
      continue; /* not a ring */
    if (kept < bcap)
      bells[kept++] = cookie;
    else
      kept = SIZE_MAX;
  }
  *nb = (got >= o->lost_at - 1 || kept == SIZE_MAX) ? SIZE_MAX : kept;
}

/* ---- open and close ------------------------------------------------------ */

static int watch_internal(xipc__wos *o, int fd, char *tag) {
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
  return epoll_ctl(o->ep, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : xipc__fail_os();
}

static int open_fds(xipc__wos *o, uint32_t *bell) {
  o->ep = epoll_create1(EPOLL_CLOEXEC);
  if (o->ep < 0)
    return xipc__fail_os();
  int rc = bell_open(&o->bell, bell);
  if (rc != 0)
    return rc;
  o->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (o->kick < 0)
    return xipc__fail_os();
  o->pending = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (o->pending < 0)
    return xipc__fail_os();
  o->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (o->timer < 0)
    return xipc__fail_os();
  if ((rc = watch_internal(o, o->bell, &tag_bell)) != 0 ||
      (rc = watch_internal(o, o->kick, &tag_kick)) != 0 ||
      (rc = watch_internal(o, o->pending, &tag_pending)) != 0)
    return rc;
  return watch_internal(o, o->timer, &tag_timer);
}

static void close_fd(int fd) {
  if (fd >= 0)
    close(fd);
}

void xipc__wos_close(xipc__wos *o) {
  close_fd(o->ep);
  close_fd(o->bell);
  close_fd(o->kick);
  close_fd(o->pending);
  close_fd(o->timer);
  free(o->evs);
  free(o);
}

int xipc__wos_open(xipc__wos **out, uint32_t *bell) {
  xipc__wos *o = calloc(1, sizeof *o);
  if (o == NULL)
    return xipc__fail(XIPC_ENOMEM);
  o->ep = o->bell = o->kick = o->pending = o->timer = -1;
  o->lost_at = read_dgram_qlen();
  int rc = open_fds(o, bell);
  if (rc != 0) {
    xipc__wos_close(o);
    return rc;
  }
  *out = o;
  return 0;
}

/* ---- entries ------------------------------------------------------------- */

static int went_fd(const xipc__went *e) {
  return (int)((intptr_t)e->os >> 1) - 1;
}

static void went_set(xipc__went *e, int fd, bool standin) {
  e->os = (void *)(((intptr_t)fd + 1) << 1 | (intptr_t)standin);
}

static uint32_t epoll_mask(const xipc__went *e) {
  uint32_t m = 0;
  if (e->events & XIPC_WAIT_READABLE)
    m |= EPOLLIN;
  if (e->events & XIPC_WAIT_WRITABLE)
    m |= EPOLLOUT;
  /* Sockets: the peer's shutdown ends reading (pipes never set it). Not
   * for a writer only: it could not clear that level and would spin. */
  if ((e->kind == XIPC__WE_STREAM || e->kind == XIPC__WE_LISTENER) &&
      (e->events & XIPC_WAIT_READABLE))
    m |= EPOLLRDHUP;
  return m;
}

/* The descriptor to register for e: *dup true if it is a new one of ours. */
static int entry_fd(const xipc__went *e, int *fd, bool *dup) {
  *dup = true;
  switch (e->kind) {
  case XIPC__WE_STREAM:
    *dup = false;
    *fd = (int)xipc__stream_os_handle(e->o.stream);
    return *fd >= 0 ? 0 : xipc__fail(XIPC_EINVAL); /* shut-down write end */
  case XIPC__WE_PROC:
    *dup = false;
    *fd = xipc__proc_os_pidfd(e->o.proc);
    return *fd >= 0 ? 0 : xipc__fail(XIPC_ENOTSUP); /* no pidfd_open */
  case XIPC__WE_LISTENER:
    *fd = xipc__listener_os_watch_fd(e->o.listener);
    return *fd >= 0 ? 0 : xipc__fail_os();
  case XIPC__WE_NATIVE:
    if (e->o.native < 0 || e->o.native > INT_MAX ||
        fcntl((int)e->o.native, F_GETFD) < 0)
      return xipc__fail(XIPC_EINVAL); /* not an open descriptor */
    *fd = fcntl((int)e->o.native, F_DUPFD_CLOEXEC, 0);
    return *fd >= 0 ? 0 : xipc__fail_os();
  default:
    return xipc__fail(XIPC_EINVAL);
  }
}

int xipc__wos_add(xipc__wos *o, xipc__went *e) {
  int fd = -1;
  bool dup = false;
  int rc = entry_fd(e, &fd, &dup);
  if (rc != 0)
    return rc;
  struct epoll_event ev = {.events = epoll_mask(e), .data.ptr = e};
  if (epoll_ctl(o->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    rc = xipc__fail_os(); /* a regular file: EPERM -> XIPC_EPERM */
    if (dup)
      close(fd);
    return rc;
  }
  if (e->kind == XIPC__WE_STREAM)
    (void)xipc__stream_os_watch(e->o.stream, o->ep);
  went_set(e, fd, false);
  o->nent++;
  return 0;
}

void xipc__wos_remove(xipc__wos *o, xipc__went *e) {
  int fd = went_fd(e);
  /* A shut-down pipe write end left the set when it closed its fd. */
  if (e->kind == XIPC__WE_STREAM && xipc__stream_os_watch(e->o.stream, -1) < 0)
    fd = -1;
  if (fd >= 0)
    (void)epoll_ctl(o->ep, EPOLL_CTL_DEL, fd, NULL);
  if (e->kind == XIPC__WE_LISTENER || e->kind == XIPC__WE_NATIVE)
    close_fd(went_fd(e));
  e->os = NULL;
  o->nent--;
}

/* ---- waiting ------------------------------------------------------------- */

/* What epoll's bits r mean for e. A hang-up or error makes the asked-for
 * directions "ready" too: a read then returns end of stream and a write
 * fails at once, so neither blocks. A peer's shutdown (EPOLLRDHUP) only
 * ends reading. A process is just readable once it has exited. */
static unsigned ready_events(const xipc__went *e, uint32_t r) {
  unsigned asked = e->events, ev = 0;
  if (e->kind == XIPC__WE_PROC)
    return (r & (EPOLLIN | EPOLLHUP | EPOLLERR)) ? XIPC_WAIT_READABLE : 0;
  if (r & EPOLLIN)
    ev |= XIPC_WAIT_READABLE;
  if (r & EPOLLOUT)
    ev |= XIPC_WAIT_WRITABLE;
  if (r & (EPOLLHUP | EPOLLERR))
    ev |= XIPC_WAIT_HANGUP | asked;
  if (r & EPOLLRDHUP)
    ev |= XIPC_WAIT_HANGUP | (asked & XIPC_WAIT_READABLE);
  return ev & (asked | XIPC_WAIT_HANGUP);
}

/* A watched listener was shut down: our duplicate keeps its socket, and
 * so its name, bound. Swap it for a stand-in that polls the same, so that
 * the name is free for a new listen from this wait on (the thread that
 * waits is woken by the shutdown itself). On failure the duplicate stays:
 * the name is then free once the entry is removed. */
static void listener_hung_up(xipc__wos *o, xipc__went *e) {
  if ((intptr_t)e->os & 1)
    return; /* a stand-in already */
  int fd = xipc__listener_os_standin();
  struct epoll_event ev = {.events = epoll_mask(e), .data.ptr = e};
  if (fd < 0 || epoll_ctl(o->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    close_fd(fd);
    return;
  }
  (void)epoll_ctl(o->ep, EPOLL_CTL_DEL, went_fd(e), NULL);
  close(went_fd(e));
  went_set(e, fd, true);
}

static void drain_fd(int fd) {
  uint64_t v;
  while (read(fd, &v, sizeof v) < 0 && errno == EINTR) {
  }
}

/* Room for every entry and the internal fds, so that the internal ones
 * never crowd out entries (cap bounds the entries reported). */
static int room(xipc__wos *o, size_t cap, int *max) {
  size_t want = (cap < o->nent ? cap : o->nent) + INTERNAL_FDS;
  if (want > (size_t)INT32_MAX)
    want = (size_t)INT32_MAX;
  if (want > o->evcap) {
    struct epoll_event *p = realloc(o->evs, want * sizeof *p);
    if (p == NULL)
      return xipc__fail(XIPC_ENOMEM);
    o->evs = p;
    o->evcap = want;
  }
  *max = (int)want;
  return 0;
}

int xipc__wos_wait(xipc__wos *o, uint64_t deadline, xipc__wready *out,
                   size_t cap, size_t *n, uint32_t *bells, size_t bcap,
                   size_t *nb, bool *kicked) {
  int max = 0;
  *n = *nb = 0;
  *kicked = false;
  int rc = room(o, cap, &max);
  if (rc != 0)
    return rc;
  int got = epoll_wait(o->ep, o->evs, max, xipc__left_ms(deadline));
  if (got < 0)
    return errno == EINTR ? 0 : xipc__fail_os(); /* EINTR: a spurious return */
  /* With more entries ready than cap, epoll returns cap of them; a
   * level-triggered entry it reported goes to the back of its ready list,
   * so the next wait reports the others first: the rotation is epoll's. */
  for (int i = 0; i < got; i++) {
    void *tag = o->evs[i].data.ptr;
    if (tag == &tag_bell)
      bell_drain(o, bells, bcap, nb);
    else if (tag == &tag_kick) {
      drain_fd(o->kick);
      *kicked = true;
    } else if (tag == &tag_timer)
      drain_fd(o->timer); /* the portable layer reports timers */
    else if (tag != &tag_pending && *n < cap) {
      xipc__went *e = tag;
      unsigned ev = ready_events(e, o->evs[i].events);
      if (e->kind == XIPC__WE_LISTENER && (o->evs[i].events & EPOLLHUP))
        listener_hung_up(o, e);
      if (ev != 0)
        out[(*n)++] = (xipc__wready){e, ev};
    }
  }
  return 0;
}

/* ---- kick, pending, timer, native handle -------------------------------- */

void xipc__wos_kick(xipc__wos *o) {
  int saved = errno; /* async-signal-safe: a handler must not change errno */
  uint64_t one = 1;
  while (write(o->kick, &one, sizeof one) < 0 && errno == EINTR) {
  }
  errno = saved;
}

void xipc__wos_pending(xipc__wos *o, bool on) {
  if (on == o->pending_on)
    return;
  uint64_t one = 1;
  if (on)
    (void)!write(o->pending, &one, sizeof one);
  else
    drain_fd(o->pending);
  o->pending_on = on;
}

intptr_t xipc__wos_native(xipc__wos *o) { return o->ep; }

int xipc__wos_timer(xipc__wos *o, uint64_t deadline) {
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  if (deadline != UINT64_MAX) /* 0 would disarm: a past deadline fires */
    its.it_value = xipc__timespec(deadline > 0 ? deadline : 1);
  if (timerfd_settime(o->timer, TFD_TIMER_ABSTIME, &its, NULL) != 0)
    return xipc__fail_os();
  return 0;
}
