/* xipc_proc_run's I/O on POSIX: one poll loop over the child's stdin,
 * stdout and stderr pipes, so no pipe can fill up while xipc waits on
 * another one. */
#include "posix.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>

/* At most this much per write: poll's POLLOUT promises room for PIPE_BUF
 * bytes, and a smaller write never blocks even on a blocking pipe. */
#define CHUNK PIPE_BUF

static int feed(xipc__pump_chan *c) {
  size_t n = c->cap - c->len < CHUNK ? c->cap - c->len : CHUNK, done = 0;
  int rc = xipc_stream_write(c->s, c->buf + c->len, n, &done, 0);
  c->len += done;
  if (rc == XIPC_EPIPE || (rc == 0 && c->len == c->cap)) {
    /* All written, or nobody reads: either way the child's input ends. */
    (void)xipc_stream_shutdown(c->s);
    c->s = NULL;
    return 0;
  }
  return rc == XIPC_EAGAIN ? 0 : rc;
}

static int drain(xipc__pump_chan *c) {
  size_t avail, n = 0;
  int rc = xipc__pump_room(c, &avail);
  if (rc == 0)
    rc = xipc_stream_read(c->s, c->buf + c->len, avail, &n, 0);
  if (rc == XIPC_EAGAIN)
    return 0;
  if (rc == 0 && n == 0)
    c->s = NULL; /* end of stream */
  return rc == 0 ? xipc__pump_got(c, n) : rc;
}

/* Fills pfd for the channels still in use; returns how many. */
static nfds_t watch(xipc__pump_chan ch[3], struct pollfd pfd[3], int idx[3]) {
  nfds_t n = 0;
  for (int i = 0; i < 3; i++) {
    if (ch[i].s == NULL)
      continue;
    pfd[n].fd = (int)xipc__stream_os_handle(ch[i].s);
    pfd[n].events = i == 0 ? POLLOUT : POLLIN;
    pfd[n].revents = 0;
    idx[n++] = i;
  }
  return n;
}

int xipc__stream_pump(xipc__pump_chan ch[3], uint64_t deadline) {
  struct pollfd pfd[3];
  int idx[3];
  if (ch[0].s != NULL && ch[0].len == ch[0].cap) {
    (void)xipc_stream_shutdown(ch[0].s); /* no input: end it at once */
    ch[0].s = NULL;
  }
  for (;;) {
    nfds_t n = watch(ch, pfd, idx);
    int rc, ready;
    if (n == 0)
      return 0;
    /* Checked on every round, so a child that writes without pause still
     * meets its deadline. */
    if (xipc__left_ns(deadline) == 0)
      return xipc__fail(XIPC_ETIMEDOUT);
    ready = poll(pfd, n, xipc__left_ms(deadline));
    if (ready < 0 && errno != EINTR)
      return xipc__fail_os();
    for (nfds_t k = 0; k < n && ready > 0; k++) {
      if (pfd[k].revents == 0)
        continue;
      /* POLLHUP/POLLERR: the read or write says what happened. */
      rc = idx[k] == 0 ? feed(&ch[0]) : drain(&ch[idx[k]]);
      if (rc != 0)
        return rc;
    }
  }
}
