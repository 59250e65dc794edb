/* Local endpoints on POSIX (Linux): AF_UNIX SOCK_STREAM sockets in the
 * abstract namespace, "\0xipc.<name>". An abstract name has no file, so
 * nothing goes stale after a crash and the name is free the moment the
 * listening socket is closed (also by the kernel when its process dies).
 *
 * It has no permissions either, so both sides check the peer's credentials
 * (SO_PEERCRED, recorded by the kernel at connect() and listen()): a server
 * closes a connection from another effective uid and goes on accepting; a
 * client refuses a listener of another uid with XIPC_EACCES. The options
 * XIPC_LISTEN_ANY_USER / XIPC_CONNECT_ANY_USER turn the checks off.
 *
 * The listening socket is O_NONBLOCK (it never leaves this process: it is
 * SOCK_CLOEXEC and cannot be exported), accept polls on EAGAIN. Connection
 * sockets stay blocking, as pipe ends do (see posix/stream.c).
 *
 * Shutdown and close while other threads are in accept: shutdown(2) on the
 * listening socket wakes every poll and accept on it (the kernel marks it
 * RCV_SHUTDOWN; accept then fails with EINVAL, which we turn into
 * XIPC_ECLOSED). The descriptor itself is closed only when no thread is
 * inside accept any more, so a woken thread never touches a descriptor
 * number that may already belong to another file; close waits for those
 * threads to leave before it frees the listener. */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PREFIX "xipc."

/* Test hook: every peer counts as another user's while set. */
static atomic_bool foreign_for_testing;

bool xipc__listen_os_foreign_for_testing(bool on) {
  atomic_store(&foreign_for_testing, on);
  return true;
}

/* True if a peer with effective uid `uid` belongs to this user. */
static bool same_user(uid_t uid) {
  return uid == geteuid() && !atomic_load_explicit(&foreign_for_testing,
                                                   memory_order_relaxed);
}

struct xipc_listener {
  int fd;           /* -1 once closed */
  unsigned flags;   /* XIPC_LISTEN_* */
  bool shut;        /* shut down: accept returns XIPC_ECLOSED */
  unsigned inside;  /* threads in accept */
  pthread_mutex_t mu;
  pthread_cond_t left; /* inside dropped to 0 */
  unsigned watchers;   /* waitsets watching l (api/waitset.c, atomic) */
};

/* The abstract address of name (checked, at most XIPC_LISTEN_NAME_MAX). */
static socklen_t make_addr(struct sockaddr_un *a, const char *name) {
  size_t n = strlen(name);
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  memcpy(a->sun_path + 1, PREFIX, sizeof PREFIX - 1);
  memcpy(a->sun_path + sizeof PREFIX, name, n);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof PREFIX +
                     n);
}

static int peer_cred(int fd, struct ucred *c) {
  socklen_t len = sizeof *c;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, c, &len) != 0)
    return xipc__fail_os();
  return 0;
}

int xipc__conn_check(int fd, pid_t *peer) {
  int type = 0, domain = 0;
  socklen_t len = sizeof type;
  struct ucred c;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
    return XIPC_EINVAL;
  len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0)
    return XIPC_EINVAL;
  if (type != SOCK_STREAM || domain != AF_UNIX || peer_cred(fd, &c) != 0 ||
      c.pid <= 0)
    return XIPC_EINVAL; /* also: a socket that is not connected */
  *peer = c.pid;
  return 0;
}

/* A stream for the connected socket fd (closed on failure). */
static int conn_stream(xipc_stream **out, int fd, pid_t peer) {
  *out = xipc__stream_os_new(fd, XIPC__STREAM_CONN);
  if (*out == NULL) {
    close(fd);
    return xipc__fail(XIPC_ENOMEM);
  }
  xipc__stream_os_set_peer(*out, peer);
  return 0;
}

/* ---- listener --------------------------------------------------------- */

int xipc__listen_os(xipc_listener **out, const char *name,
                    const xipc_listen_options *opts) {
  struct sockaddr_un a;
  socklen_t alen = make_addr(&a, name);
  xipc_listener *l = calloc(1, sizeof *l);
  if (l == NULL)
    return xipc__fail(XIPC_ENOMEM);
  int rc = 0;
  l->flags = opts->flags;
  l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (l->fd < 0) {
    rc = xipc__fail_os();
  } else if (bind(l->fd, (struct sockaddr *)&a, alen) != 0) {
    /* EADDRINUSE -> EEXIST: a live listener has the name */
    rc = errno == EADDRINUSE ? xipc__fail_os_as(XIPC_EEXIST) : xipc__fail_os();
  } else if (listen(l->fd, (int)opts->backlog) != 0) {
    rc = xipc__fail_os();
  }
  if (rc != 0) {
    if (l->fd >= 0)
      close(l->fd);
    free(l);
    return rc;
  }
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->left, NULL);
  *out = l;
  return 0;
}

/* With l->mu held: close the descriptor once shut down and unused. */
static void close_if_idle(xipc_listener *l) {
  if (l->shut && l->inside == 0 && l->fd >= 0) {
    close(l->fd);
    l->fd = -1;
  }
}

/* One accepted connection that passes the uid check, or an error; -1 with
 * errno as accept4 left it when there is nothing to take. */
static int take_one(xipc_listener *l, int fd, xipc_stream **out) {
  for (;;) {
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
      return -1;
    struct ucred cr;
    if (peer_cred(c, &cr) != 0) {
      close(c);
      continue; /* a peer already gone: take the next one */
    }
    if ((l->flags & XIPC_LISTEN_ANY_USER) == 0 && !same_user(cr.uid)) {
      close(c); /* another user's client: drop it and keep accepting */
      continue;
    }
    return conn_stream(out, c, cr.pid);
  }
}

static int accept_loop(xipc_listener *l, int fd, xipc_stream **out,
                       uint64_t deadline, bool zero_timeout) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  for (;;) {
    int rc = take_one(l, fd, out);
    if (rc != -1)
      return rc;
    if (errno == EINVAL && __atomic_load_n(&l->shut, __ATOMIC_ACQUIRE))
      return xipc__fail(XIPC_ECLOSED);
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
        errno != ECONNABORTED)
      return xipc__fail_os();
    int r = poll(&p, 1, xipc__left_ms(deadline));
    if (__atomic_load_n(&l->shut, __ATOMIC_ACQUIRE))
      return xipc__fail(XIPC_ECLOSED);
    if (r < 0 && errno != EINTR)
      return xipc__fail_os();
    if (r == 0 && xipc__left_ns(deadline) == 0)
      return xipc__fail(zero_timeout ? XIPC_EAGAIN : XIPC_ETIMEDOUT);
  }
}

int xipc__accept_os(xipc_listener *l, xipc_stream **out, uint64_t deadline,
                    bool zero_timeout) {
  pthread_mutex_lock(&l->mu);
  if (l->shut) {
    pthread_mutex_unlock(&l->mu);
    return xipc__fail(XIPC_ECLOSED);
  }
  l->inside++;
  int fd = l->fd;
  pthread_mutex_unlock(&l->mu);
  int rc = accept_loop(l, fd, out, deadline, zero_timeout);
  pthread_mutex_lock(&l->mu);
  if (--l->inside == 0)
    pthread_cond_broadcast(&l->left);
  close_if_idle(l);
  pthread_mutex_unlock(&l->mu);
  return rc;
}

int xipc__listener_os_shutdown(xipc_listener *l) {
  pthread_mutex_lock(&l->mu);
  if (!l->shut) {
    __atomic_store_n(&l->shut, true, __ATOMIC_RELEASE);
    shutdown(l->fd, SHUT_RDWR); /* wakes threads in poll/accept on it */
  }
  close_if_idle(l);
  pthread_mutex_unlock(&l->mu);
  return 0;
}

unsigned *xipc__listener_watchers(xipc_listener *l) { return &l->watchers; }

/* A waitset watches a duplicate, not l->fd itself: the descriptor is closed
 * by shutdown (close_if_idle), which would drop an epoll registration
 * without a word, and its number may then be reused by another file. The
 * duplicate keeps the shut-down socket, and so its name, until the
 * waitset sees the hang-up and swaps it for a stand-in (posix/waitset.c).
 * Once l->fd is closed, the stand-in is watched from the start. */
int xipc__listener_os_watch_fd(xipc_listener *l) {
  pthread_mutex_lock(&l->mu);
  int fd = l->fd >= 0 ? fcntl(l->fd, F_DUPFD_CLOEXEC, 0) : -2;
  pthread_mutex_unlock(&l->mu);
  return fd != -2 ? fd : xipc__listener_os_standin();
}

/* An unconnected socket shut down both ways: it polls as a shut-down
 * listener does (EPOLLIN | EPOLLHUP) and holds no name. */
int xipc__listener_os_standin(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0)
    (void)shutdown(fd, SHUT_RDWR);
  return fd;
}

int xipc__listener_os_close(xipc_listener *l) {
  xipc__listener_os_shutdown(l);
  pthread_mutex_lock(&l->mu);
  while (l->inside > 0)
    pthread_cond_wait(&l->left, &l->mu);
  close_if_idle(l);
  pthread_mutex_unlock(&l->mu);
  pthread_cond_destroy(&l->left);
  pthread_mutex_destroy(&l->mu);
  free(l);
  return 0;
}

/* ---- client ------------------------------------------------------------ */

/* How long a client waits between looks for a listener that is not there
 * yet (XIPC_CONNECT_WAIT): the kernel has no way to wait for a name. */
#define LOOK_MS_MAX 10u

/* Connects the blocking socket fd; a timed connect that meets a full
 * backlog waits in the kernel for room, bounded by SO_SNDTIMEO (which is
 * what AF_UNIX connect obeys), and the timeout is set back to none after.
 * A zero timeout connects O_NONBLOCK instead. -1 with errno on failure. */
static int connect_once(int fd, const struct sockaddr_un *a, socklen_t alen,
                        uint64_t deadline, bool zero_timeout) {
  struct timeval tv = {0, 0};
  if (zero_timeout) {
    if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
      return -1;
    int r = connect(fd, (const struct sockaddr *)a, alen);
    int e = errno;
    if (fcntl(fd, F_SETFL, 0) != 0)
      return -1;
    errno = e;
    return r;
  }
  if (deadline != UINT64_MAX) {
    int64_t left = xipc__left_ns(deadline);
    if (left <= 0)
      left = 1000; /* time is up, but look once: SO_SNDTIMEO 0 is forever */
    int64_t us = (left + 999) / 1000; /* rounded up: never early */
    tv.tv_sec = (time_t)(us / 1000000);
    tv.tv_usec = (suseconds_t)(us % 1000000);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
      return -1;
  }
  int r = connect(fd, (const struct sockaddr *)a, alen);
  if (deadline != UINT64_MAX) {
    int e = errno;
    struct timeval none = {0, 0};
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none) != 0 &&
        r == 0)
      return -1;
    errno = e;
  }
  return r;
}

/* The client's check of the listener: its uid must be ours unless allowed. */
static int check_server(int fd, unsigned flags, pid_t *peer) {
  struct ucred c;
  int rc = peer_cred(fd, &c);
  if (rc != 0)
    return rc;
  if ((flags & XIPC_CONNECT_ANY_USER) == 0 && !same_user(c.uid))
    return xipc__fail(XIPC_EACCES); /* a listener of another user */
  *peer = c.pid;
  return 0;
}

/* One attempt: 0 and a connected fd; 1 when there is no listener; an
 * XIPC_E* code otherwise. */
static int try_connect(int *out, const struct sockaddr_un *a, socklen_t alen,
                       unsigned flags, uint64_t deadline, bool zero_timeout,
                       pid_t *peer) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return xipc__fail_os();
  int rc = 0;
  for (;;) {
    if (connect_once(fd, a, alen, deadline, zero_timeout) == 0) {
      rc = check_server(fd, flags, peer);
      break;
    }
    if (errno == EINTR) {
      close(fd); /* start over on a fresh socket */
      return try_connect(out, a, alen, flags, deadline, zero_timeout, peer);
    }
    if (errno == ECONNREFUSED || errno == ENOENT) {
      rc = 1; /* nobody listens on the name (or it was shut down) */
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      /* The backlog is full: wait for room until the deadline. */
      if (!zero_timeout && xipc__left_ns(deadline) > 0)
        continue;
      rc = xipc__fail_os_as(zero_timeout ? XIPC_EAGAIN : XIPC_ETIMEDOUT);
    } else {
      rc = xipc__fail_os();
    }
    break;
  }
  if (rc != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return rc;
  }
  *out = fd;
  return 0;
}

int xipc__connect_os(xipc_stream **out, const char *name, unsigned flags,
                     uint64_t deadline, bool zero_timeout) {
  struct sockaddr_un a;
  socklen_t alen = make_addr(&a, name);
  unsigned look = 1;
  pid_t peer = 0;
  for (;;) {
    int fd = -1;
    int rc = try_connect(&fd, &a, alen, flags, deadline, zero_timeout, &peer);
    if (rc == 0)
      return conn_stream(out, fd, peer);
    if (rc != 1)
      return rc;
    int left = xipc__left_ms(deadline);
    if ((flags & XIPC_CONNECT_WAIT) == 0 || left == 0)
      return xipc__fail_os_as(XIPC_ENOENT); /* ECONNREFUSED: no listener */
    xipc__sleep_ms(left > 0 && (unsigned)left < look ? (unsigned)left : look);
    if (look < LOOK_MS_MAX)
      look *= 2;
  }
}
