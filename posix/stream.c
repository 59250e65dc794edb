/* Pipes on POSIX (Linux).
 *
 * Every end is a BLOCKING descriptor made by pipe2(O_CLOEXEC). O_NONBLOCK
 * belongs to the open file description, which a child shares when an end
 * is handed to it as stdio or passed, so setting it would make the child's
 * own blocking reads fail with EAGAIN. Instead each timed call is
 * non-blocking on its own: preadv2/pwritev2 with RWF_NOWAIT (Linux pipes
 * accept it), and only when that says EAGAIN does the call poll() for the
 * time left and try again. A call without a timeout is a plain read() or
 * write(), so the hot path costs no extra system call. Where the kernel
 * refuses RWF_NOWAIT the call polls first and then reads, or writes at most
 * PIPE_BUF bytes, which POSIX guarantees not to block after POLLOUT.
 *
 * A write to a pipe without a reader makes the kernel send SIGPIPE to the
 * writing thread. Writes block SIGPIPE for the calling thread around the
 * write and, after EPIPE, take the signal back with sigtimedwait unless it
 * was already pending before the call (then it belongs to someone else and
 * stays). The process's disposition of SIGPIPE is never touched. */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct xipc_stream {
  struct xipc__stream_base base; /* first: see XIPC__STREAM_BASE */
  int fd;                        /* -1 once a write end is shut down */
  bool poll_first;               /* the last timed read had to wait */
};

/* Set once the kernel refused RWF_NOWAIT; then timed calls poll first. */
static atomic_bool nowait_refused;

bool xipc__stream_os_poll_fallback_for_testing(bool on) {
  atomic_store(&nowait_refused, on);
  return true;
}

static bool refuses_nowait(int err) {
  return err == EOPNOTSUPP || err == ENOSYS || err == EINVAL;
}

/* Waits until fd is ready for ev or the deadline passes (XIPC_ETIMEDOUT);
 * it looks at least once, also when the deadline has passed. */
static int wait_fd(int fd, short ev, uint64_t deadline) {
  struct pollfd p = {.fd = fd, .events = ev};
  for (;;) {
    int r = poll(&p, 1, xipc__left_ms(deadline));
    if (r > 0)
      return 0;
    if (r < 0 && errno != EINTR)
      return xipc__fail_os();
    if (r == 0 && xipc__left_ns(deadline) == 0)
      return xipc__fail(XIPC_ETIMEDOUT);
  }
}

/* True if poll says fd is ready for ev right now; errno EAGAIN if not. */
static bool ready_now(int fd, short ev) {
  struct pollfd p = {.fd = fd, .events = ev};
  if (poll(&p, 1, 0) > 0)
    return true;
  errno = EAGAIN;
  return false;
}

/* One read that does not block: -1 with errno EAGAIN if nothing is there. */
static ssize_t read_nowait(int fd, void *buf, size_t cap) {
  if (!atomic_load_explicit(&nowait_refused, memory_order_relaxed)) {
    struct iovec v = {.iov_base = buf, .iov_len = cap};
    ssize_t r = preadv2(fd, &v, 1, -1, RWF_NOWAIT);
    if (r >= 0 || !refuses_nowait(errno))
      return r;
    atomic_store(&nowait_refused, true);
  }
  return ready_now(fd, POLLIN) ? read(fd, buf, cap) : -1;
}

static ssize_t write_nowait(int fd, const void *buf, size_t n) {
  if (!atomic_load_explicit(&nowait_refused, memory_order_relaxed)) {
    struct iovec v = {.iov_base = (void *)buf, .iov_len = n};
    ssize_t r = pwritev2(fd, &v, 1, -1, RWF_NOWAIT);
    if (r >= 0 || !refuses_nowait(errno))
      return r;
    atomic_store(&nowait_refused, true);
  }
  return ready_now(fd, POLLOUT) ? write(fd, buf, n < PIPE_BUF ? n : PIPE_BUF)
                                : -1;
}

/* A timed read tries first and polls only if nothing was there, unless
 * the last timed read had to wait: then the pipe is likely empty again (a
 * ping-pong), and polling first saves the failed attempt. */
int xipc__stream_os_read(xipc_stream *s, void *buf, size_t cap, size_t *nread,
                         uint64_t deadline) {
  bool timed = deadline != UINT64_MAX, waited = false;
  if (timed && s->poll_first) {
    int rc = wait_fd(s->fd, POLLIN, deadline);
    if (rc != 0)
      return rc;
    waited = true;
  }
  for (;;) {
    ssize_t r = timed ? read_nowait(s->fd, buf, cap) : read(s->fd, buf, cap);
    if (r >= 0) {
      s->poll_first = waited;
      *nread = (size_t)r;
      return 0;
    }
    if (errno == EINTR)
      continue;
    /* EAGAIN also in the untimed case: an imported end may be O_NONBLOCK. */
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return xipc__fail_os();
    int rc = wait_fd(s->fd, POLLIN, deadline);
    if (rc != 0)
      return rc;
    waited = true;
  }
}

/* SIGPIPE blocked for this thread during a write (see the file comment). */
typedef struct {
  sigset_t pipe;
  bool was_blocked, was_pending;
} pipe_guard;

static void guard_begin(pipe_guard *g) {
  sigset_t old, pending;
  sigemptyset(&g->pipe);
  sigaddset(&g->pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &g->pipe, &old);
  g->was_blocked = sigismember(&old, SIGPIPE);
  /* An unblocked SIGPIPE would have been delivered already: only a blocked
   * one can be pending. */
  g->was_pending = g->was_blocked && sigpending(&pending) == 0 &&
                   sigismember(&pending, SIGPIPE);
}

static void guard_end(pipe_guard *g, bool epipe) {
  const struct timespec zero = {0, 0};
  if (epipe && !g->was_pending)
    while (sigtimedwait(&g->pipe, NULL, &zero) < 0 && errno == EINTR) {
    }
  if (!g->was_blocked)
    pthread_sigmask(SIG_UNBLOCK, &g->pipe, NULL);
}

static int write_all(int fd, const unsigned char *p, size_t n, size_t *done,
                     uint64_t deadline) {
  while (*done < n) {
    ssize_t r = deadline == UINT64_MAX ? write(fd, p + *done, n - *done)
                                       : write_nowait(fd, p + *done, n - *done);
    if (r >= 0) {
      *done += (size_t)r;
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno == EPIPE) /* EPIPE -> XIPC_EPIPE: the table's ECLOSED is
                           for xipc's own shut-down objects */
      return xipc__fail_os_as(XIPC_EPIPE);
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return xipc__fail_os();
    int rc = wait_fd(fd, POLLOUT, deadline);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int xipc__stream_os_write(xipc_stream *s, const void *buf, size_t n,
                          size_t *nwritten, uint64_t deadline) {
  pipe_guard g;
  *nwritten = 0;
  guard_begin(&g);
  int rc = write_all(s->fd, buf, n, nwritten, deadline);
  guard_end(&g, rc == XIPC_EPIPE);
  return rc;
}

static xipc_stream *stream_new(int fd, int kind) {
  xipc_stream *s = calloc(1, sizeof *s);
  if (s != NULL) {
    s->base.kind = kind;
    s->fd = fd;
  }
  return s;
}

int xipc__pipe_open(xipc_stream **read_end, xipc_stream **write_end,
                    unsigned flags) {
  int fds[2];
  (void)flags; /* every POSIX end is blocking already, fit for a child */
  *read_end = *write_end = NULL;
  if (pipe2(fds, O_CLOEXEC) != 0)
    return xipc__fail_os();
  xipc_stream *r = stream_new(fds[0], XIPC__STREAM_PIPE_READ);
  xipc_stream *w = stream_new(fds[1], XIPC__STREAM_PIPE_WRITE);
  if (r == NULL || w == NULL) {
    free(r);
    free(w);
    close(fds[0]);
    close(fds[1]);
    return xipc__fail(XIPC_ENOMEM);
  }
  *read_end = r;
  *write_end = w;
  return 0;
}

intptr_t xipc__stream_os_handle(const xipc_stream *s) { return s->fd; }

bool xipc__stream_os_sync(const xipc_stream *s) {
  (void)s;
  return true;
}

int xipc__stream_os_shutdown(xipc_stream *s) {
  if (s->fd >= 0)
    close(s->fd); /* Linux frees the descriptor even on EINTR */
  s->fd = -1;
  return 0;
}

void xipc__stream_os_detach(xipc_stream *s) { s->fd = -1; }

int xipc__stream_os_close(xipc_stream *s) {
  xipc__stream_os_shutdown(s);
  free(s);
  return 0;
}

int xipc__stream_os_import(xipc_stream **out, intptr_t h, int kind, bool sync) {
  struct stat st;
  (void)sync;
  if (h < 0 || h > INT_MAX)
    return xipc__fail(XIPC_EINVAL);
  int fd = (int)h;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 && errno == EBADF) /* EBADF -> ENOENT: no such descriptor */
    return xipc__fail_os_as(XIPC_ENOENT);
  if (fl < 0 || fstat(fd, &st) != 0)
    return xipc__fail_os();
  int want = kind == XIPC__STREAM_PIPE_READ ? O_RDONLY : O_WRONLY;
  if (!S_ISFIFO(st.st_mode) || (fl & O_ACCMODE) != want)
    return xipc__fail(XIPC_EINVAL);
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
    return xipc__fail_os();
  *out = stream_new(fd, kind);
  return *out != NULL ? 0 : xipc__fail(XIPC_ENOMEM);
}
