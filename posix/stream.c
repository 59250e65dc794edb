/* Pipes and connections on POSIX (Linux).
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
 * stays). The process's disposition of SIGPIPE is never touched.
 *
 * A connection (posix/listen.c) is a blocking AF_UNIX SOCK_STREAM socket
 * and follows the same rules with the socket calls: untimed calls are one
 * plain recv/send, timed ones pass MSG_DONTWAIT and poll on EAGAIN. Its
 * writes pass MSG_NOSIGNAL, so sockets never take the SIGPIPE guard (the
 * two sigprocmask calls per write are most of a small write's cost). A
 * framed message goes out in one sendmsg of header and body. */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct xipc_stream {
  struct xipc__stream_base base; /* first: see XIPC__STREAM_BASE */
  int fd;                        /* -1 once a write end is shut down */
  bool poll_first;               /* the last timed read had to wait */
  bool sock;                     /* a connection (AF_UNIX SOCK_STREAM) */
  pid_t peer;                    /* connection: SO_PEERCRED pid */
  int watch_ep; /* epoll fd of the waitset watching fd, or -1 (not 0: a
                   zeroed stream must not name descriptor 0) */
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

/* One read: a socket's recv (MSG_DONTWAIT when timed), a pipe's read. A
 * socket whose peer closed while our data to it was unread says
 * ECONNRESET; that is the peer's end of stream, as on a pipe. */
static ssize_t read_once(const xipc_stream *s, void *buf, size_t cap,
                         bool timed) {
  if (!s->sock)
    return timed ? read_nowait(s->fd, buf, cap) : read(s->fd, buf, cap);
  ssize_t r = recv(s->fd, buf, cap, timed ? MSG_DONTWAIT : 0);
  return r < 0 && errno == ECONNRESET ? 0 : r;
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
    ssize_t r = read_once(s, buf, cap, timed);
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

/* One pipe write of the iovecs that does not block (-1 with EAGAIN when
 * the pipe is full); the fallback writes at most PIPE_BUF of the first. */
static ssize_t pipe_write_nowait(int fd, const struct iovec *v, int nv) {
  if (!atomic_load_explicit(&nowait_refused, memory_order_relaxed)) {
    ssize_t r = pwritev2(fd, v, nv, -1, RWF_NOWAIT);
    if (r >= 0 || !refuses_nowait(errno))
      return r;
    atomic_store(&nowait_refused, true);
  }
  size_t n = v[0].iov_len < PIPE_BUF ? v[0].iov_len : PIPE_BUF;
  return ready_now(fd, POLLOUT) ? write(fd, v[0].iov_base, n) : -1;
}

/* One write of the iovecs: a socket gets one send/sendmsg with
 * MSG_NOSIGNAL (and MSG_DONTWAIT when timed), a pipe one write/writev. */
static ssize_t write_once(const xipc_stream *s, const struct iovec *v, int nv,
                          bool timed) {
  if (s->sock) {
    int fl = MSG_NOSIGNAL | (timed ? MSG_DONTWAIT : 0);
    if (nv == 1)
      return send(s->fd, v[0].iov_base, v[0].iov_len, fl);
    struct msghdr m = {.msg_iov = (struct iovec *)v, .msg_iovlen = (size_t)nv};
    return sendmsg(s->fd, &m, fl);
  }
  if (timed)
    return pipe_write_nowait(s->fd, v, nv);
  return nv == 1 ? write(s->fd, v[0].iov_base, v[0].iov_len)
                 : writev(s->fd, v, nv);
}

/* Drops the first r bytes from the iovecs (and the emptied entries). */
static void advance(struct iovec **v, int *nv, size_t r) {
  while (*nv > 0 && r >= (*v)->iov_len) {
    r -= (*v)->iov_len;
    (*v)++;
    (*nv)--;
  }
  if (*nv > 0) {
    (*v)->iov_base = (char *)(*v)->iov_base + r;
    (*v)->iov_len -= r;
  }
}

static int write_all(const xipc_stream *s, struct iovec *v, int nv,
                     size_t *done, uint64_t deadline) {
  bool timed = deadline != UINT64_MAX;
  advance(&v, &nv, 0);
  while (nv > 0) {
    ssize_t r = write_once(s, v, nv, timed);
    if (r >= 0) {
      *done += (size_t)r;
      advance(&v, &nv, (size_t)r);
      continue;
    }
    if (errno == EINTR)
      continue;
    /* EPIPE -> XIPC_EPIPE: the table's ECLOSED is for xipc's own shut-down
     * objects. ECONNRESET (a socket whose peer closed with our data unread)
     * means the same: the reader is gone. */
    if (errno == EPIPE || (s->sock && errno == ECONNRESET))
      return xipc__fail_os_as(XIPC_EPIPE);
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return xipc__fail_os();
    int rc = wait_fd(s->fd, POLLOUT, deadline);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* Pipes block SIGPIPE around the write; sockets need no guard, since
 * MSG_NOSIGNAL keeps the signal from being raised at all. */
static int write_iov(xipc_stream *s, struct iovec *v, int nv, size_t *nwritten,
                     uint64_t deadline) {
  pipe_guard g;
  *nwritten = 0;
  if (s->sock)
    return write_all(s, v, nv, nwritten, deadline);
  guard_begin(&g);
  int rc = write_all(s, v, nv, nwritten, deadline);
  guard_end(&g, rc == XIPC_EPIPE);
  return rc;
}

/* The hot path of a connection: an untimed write of one buffer is one
 * send(), and only a short or failed send goes on to the general loop
 * (with the rest; after a failure it tries again and reports the error). */
int xipc__stream_os_write(xipc_stream *s, const void *buf, size_t n,
                          size_t *nwritten, uint64_t deadline) {
  size_t done = 0;
  if (s->sock && deadline == UINT64_MAX) {
    ssize_t r = send(s->fd, buf, n, MSG_NOSIGNAL);
    if (r >= 0 && (size_t)r == n) {
      *nwritten = n;
      return 0;
    }
    if (r > 0)
      done = (size_t)r;
  }
  struct iovec v = {.iov_base = (char *)buf + done, .iov_len = n - done};
  int rc = write_iov(s, &v, 1, nwritten, deadline);
  *nwritten += done;
  return rc;
}

int xipc__stream_os_writev(xipc_stream *s, const void *head, size_t hn,
                           const void *body, size_t bn, size_t *nwritten,
                           uint64_t deadline) {
  if (bn == 0) /* a small message comes as one buffer: one send() */
    return xipc__stream_os_write(s, head, hn, nwritten, deadline);
  struct iovec v[2] = {{.iov_base = (void *)head, .iov_len = hn},
                       {.iov_base = (void *)body, .iov_len = bn}};
  return write_iov(s, v, 2, nwritten, deadline);
}

xipc_stream *xipc__stream_os_new(int fd, int kind) {
  xipc_stream *s = calloc(1, sizeof *s);
  if (s != NULL) {
    s->base.kind = kind;
    s->fd = fd;
    s->sock = kind == XIPC__STREAM_CONN;
    s->watch_ep = -1;
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
  xipc_stream *r = xipc__stream_os_new(fds[0], XIPC__STREAM_PIPE_READ);
  xipc_stream *w = xipc__stream_os_new(fds[1], XIPC__STREAM_PIPE_WRITE);
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
  if (s->sock) /* a connection keeps reading: end only our direction */
    return shutdown(s->fd, SHUT_WR) == 0 ? 0 : xipc__fail_os();
  if (s->fd >= 0) {
    /* The fd leaves a watching waitset's epoll set first: a closed
     * descriptor drops out of epoll silently, and its number could be
     * reused before the waitset removes the entry (posix/waitset.c). */
    if (s->watch_ep >= 0)
      (void)epoll_ctl(s->watch_ep, EPOLL_CTL_DEL, s->fd, NULL);
    s->watch_ep = -1; /* tells the waitset it is out already */
    close(s->fd); /* Linux frees the descriptor even on EINTR */
  }
  s->fd = -1;
  return 0;
}

int xipc__stream_os_watch(xipc_stream *s, int epfd) {
  int was = s->watch_ep;
  s->watch_ep = epfd;
  return was;
}

void xipc__stream_os_detach(xipc_stream *s) { s->fd = -1; }

int xipc__stream_os_close(xipc_stream *s) {
  if (s->fd >= 0)
    close(s->fd); /* Linux frees the descriptor even on EINTR */
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
  pid_t peer = 0;
  if (kind == XIPC__STREAM_CONN) {
    if (!S_ISSOCK(st.st_mode) || xipc__conn_check(fd, &peer) != 0)
      return xipc__fail(XIPC_EINVAL);
  } else {
    int want = kind == XIPC__STREAM_PIPE_READ ? O_RDONLY : O_WRONLY;
    if (!S_ISFIFO(st.st_mode) || (fl & O_ACCMODE) != want)
      return xipc__fail(XIPC_EINVAL);
  }
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
    return xipc__fail_os();
  *out = xipc__stream_os_new(fd, kind);
  if (*out == NULL)
    return xipc__fail(XIPC_ENOMEM);
  (*out)->peer = peer;
  return 0;
}

void xipc__stream_os_set_peer(xipc_stream *s, pid_t pid) { s->peer = pid; }

int xipc__stream_os_peer_pid(const xipc_stream *s, xipc_pid *pid) {
  *pid = s->peer;
  return 0;
}
