/* Streams: the portable half (argument checks, the read-ahead buffer,
 * message framing, export tokens and the import registry). The OS object
 * lives in posix/stream.c and win32/stream.c. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static bool valid_timeout(int timeout_ms) { return timeout_ms >= -1; }

/* XIPC_ETIMEDOUT from a tree is XIPC_EAGAIN for a call that may not wait. */
static int timeout_code(int rc, int timeout_ms) {
  return rc == XIPC_ETIMEDOUT && timeout_ms == 0 ? XIPC_EAGAIN : rc;
}

int xipc_pipe(xipc_stream **read_end, xipc_stream **write_end) {
  if (read_end != NULL)
    *read_end = NULL;
  if (write_end != NULL)
    *write_end = NULL;
  if (read_end == NULL || write_end == NULL || read_end == write_end)
    return xipc__fail(XIPC_EINVAL);
  return xipc__pipe_open(read_end, write_end, 0);
}

/* ---- bytes --------------------------------------------------------------- */

/* Copies pending read-ahead bytes (left by recv) to buf. */
static size_t take_buffered(struct xipc__stream_base *b, void *buf,
                            size_t cap) {
  size_t n = b->rend - b->rpos;
  if (n > cap)
    n = cap;
  memcpy(buf, b->rb + b->rpos, n);
  b->rpos += n;
  if (b->rpos == b->rend)
    b->rpos = b->rend = 0;
  return n;
}

int xipc_stream_read(xipc_stream *s, void *buf, size_t cap, size_t *nread,
                     int timeout_ms) {
  if (nread != NULL)
    *nread = 0;
  if (s == NULL || buf == NULL || cap == 0 || nread == NULL ||
      !valid_timeout(timeout_ms))
    return xipc__fail(XIPC_EINVAL);
  struct xipc__stream_base *b = XIPC__STREAM_BASE(s);
  if (b->kind == XIPC__STREAM_PIPE_WRITE)
    return xipc__fail(XIPC_EINVAL);
  if (b->rend > b->rpos) {
    *nread = take_buffered(b, buf, cap);
    return 0;
  }
  int rc = xipc__stream_os_read(s, buf, cap, nread,
                                xipc__deadline_ns(timeout_ms));
  return timeout_code(rc, timeout_ms);
}

/* Sends the unsent rest of a message whose send timed out, first. */
static int flush_pending(xipc_stream *s, uint64_t deadline) {
  struct xipc__stream_base *b = XIPC__STREAM_BASE(s);
  if (b->tpos == b->tlen)
    return 0;
  size_t n = 0;
  int rc = xipc__stream_os_write(s, b->tb + b->tpos, b->tlen - b->tpos, &n,
                                 deadline);
  b->tpos += n;
  if (b->tpos == b->tlen) {
    free(b->tb);
    b->tb = NULL;
    b->tpos = b->tlen = 0;
  }
  return rc;
}

/* 0 if s may be written to. */
static int check_writable(xipc_stream *s) {
  struct xipc__stream_base *b = XIPC__STREAM_BASE(s);
  if (b->kind == XIPC__STREAM_PIPE_READ)
    return xipc__fail(XIPC_EINVAL);
  if (b->shut)
    return xipc__fail(XIPC_ECLOSED);
  return 0;
}

int xipc_stream_write(xipc_stream *s, const void *buf, size_t n,
                      size_t *nwritten, int timeout_ms) {
  size_t done = 0;
  if (nwritten != NULL)
    *nwritten = 0;
  if (s == NULL || (buf == NULL && n > 0) || !valid_timeout(timeout_ms))
    return xipc__fail(XIPC_EINVAL);
  int rc = check_writable(s);
  if (rc != 0)
    return rc;
  uint64_t deadline = xipc__deadline_ns(timeout_ms);
  rc = flush_pending(s, deadline);
  if (rc == 0 && n > 0)
    rc = xipc__stream_os_write(s, buf, n, &done, deadline);
  if (nwritten != NULL)
    *nwritten = done;
  return timeout_code(rc, timeout_ms);
}

int xipc_stream_shutdown(xipc_stream *s) {
  if (s == NULL)
    return xipc__fail(XIPC_EINVAL);
  int rc = check_writable(s);
  if (rc != 0)
    return rc;
  XIPC__STREAM_BASE(s)->shut = true;
  return xipc__stream_os_shutdown(s);
}

int xipc_stream_close(xipc_stream *s) {
  if (s == NULL)
    return xipc__fail(XIPC_EINVAL);
  struct xipc__stream_base *b = XIPC__STREAM_BASE(s);
  free(b->rb);
  free(b->tb);
  return xipc__stream_os_close(s);
}
