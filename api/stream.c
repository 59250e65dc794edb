/* Streams: the portable half (argument checks, the read-ahead buffer,
 * message framing, export tokens and the import registry). The OS object
 * lives in posix/stream.c and win32/stream.c. */
#include "internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool valid_timeout(int timeout_ms) { return timeout_ms >= -1; }

/* XIPC_ETIMEDOUT from a tree is XIPC_EAGAIN for a call that may not wait. */
static int timeout_code(int rc, int timeout_ms) {
  return rc == XIPC_ETIMEDOUT && timeout_ms == 0 ? XIPC_EAGAIN : rc;
}

int xipc_pipe_ex(xipc_stream **read_end, xipc_stream **write_end,
                 unsigned flags) {
  if (read_end != NULL)
    *read_end = NULL;
  if (write_end != NULL)
    *write_end = NULL;
  if (read_end == NULL || write_end == NULL || read_end == write_end ||
      (flags & ~(unsigned)(XIPC_PIPE_CHILD_READ | XIPC_PIPE_CHILD_WRITE)) != 0)
    return xipc__fail(XIPC_EINVAL);
  return xipc__pipe_open(read_end, write_end, flags);
}

int xipc_pipe(xipc_stream **read_end, xipc_stream **write_end) {
  return xipc_pipe_ex(read_end, write_end, 0);
}

/* ---- bytes --------------------------------------------------------------- */

/* Copies pending read-ahead bytes (left by recv) to buf. */
static size_t take_buffered(struct xipc__stream_base *b, void *buf,
                            size_t cap) {
  size_t n = b->rend - b->rpos;
  if (n > cap)
    n = cap;
  if (n == 0)
    return 0;
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
  if (b->watch != NULL)
    return xipc__fail(XIPC_EBUSY); /* in a waitset: remove it first */
  free(b->rb);
  free(b->tb);
  return xipc__stream_os_close(s);
}

/* ---- framing (Python multiprocessing.connection) ------------------------- */

#define RB_SIZE 65536u   /* read-ahead buffer for recv */
#define SMALL_SEND 4096u /* header and body go in one write up to this */
#define LONG_FORM 0x7fffffffu

static void put_be(unsigned char *p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; i--, v >>= 8)
    p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++)
    v = v << 8 | p[i];
  return v;
}

/* API.md: 2^31 - 1 bytes or more take the long form. (CPython switches only
 * above 2^31 - 1; its reader takes both forms, as ours does.) */
size_t xipc__frame_header_encode(unsigned char hdr[12], uint64_t len) {
  if (len < LONG_FORM) {
    put_be(hdr, len, 4);
    return 4;
  }
  put_be(hdr, 0xffffffffu, 4);
  put_be(hdr + 4, len, 8);
  return 12;
}

int xipc__frame_header_decode(const unsigned char *p, size_t n, size_t *hlen,
                              uint64_t *len) {
  if (n < 4)
    return XIPC_EAGAIN;
  uint32_t v = (uint32_t)get_be(p, 4);
  if (v <= LONG_FORM) {
    *hlen = 4;
    *len = v;
    return 0;
  }
  if (v != 0xffffffffu)
    return XIPC_ECORRUPT; /* a negative length other than -1 */
  if (n < 12)
    return XIPC_EAGAIN;
  *len = get_be(p + 4, 8);
  *hlen = 12;
  return *len > (uint64_t)INT64_MAX ? XIPC_ECORRUPT : 0;
}

/* Makes room for need bytes from rpos on (compacting, growing). */
static int rb_reserve(struct xipc__stream_base *b, size_t need) {
  if (b->rpos > 0) {
    memmove(b->rb, b->rb + b->rpos, b->rend - b->rpos);
    b->rend -= b->rpos;
    b->rpos = 0;
  }
  if (need < RB_SIZE)
    need = RB_SIZE;
  if (b->rcap >= need)
    return 0;
  unsigned char *nb = realloc(b->rb, need);
  if (nb == NULL)
    return xipc__fail(XIPC_ENOMEM);
  b->rb = nb;
  b->rcap = need;
  return 0;
}

/* Reads more bytes into the read-ahead buffer. XIPC_ECLOSED at end of
 * stream (which recv remembers). */
static int rb_fill(xipc_stream *s, size_t need, uint64_t deadline) {
  struct xipc__stream_base *b = XIPC__STREAM_BASE(s);
  size_t got = 0;
  int rc = rb_reserve(b, need);
  if (rc == 0)
    rc = xipc__stream_os_read(s, b->rb + b->rend, b->rcap - b->rend, &got,
                              deadline);
  if (rc != 0)
    return rc;
  if (got == 0) {
    b->eof = true;
    return xipc__fail(XIPC_ECLOSED);
  }
  b->rend += got;
  return 0;
}

/* Puts hdr and the first got body bytes back into the read-ahead buffer
 * after a large recv that read into the caller's buffer was stopped. */
static int rb_stash(struct xipc__stream_base *b, const unsigned char *hdr,
                    size_t hlen, const void *body, size_t got) {
  int rc = rb_reserve(b, hlen + got);
  if (rc != 0)
    return rc;
  memcpy(b->rb, hdr, hlen);
  memcpy(b->rb + hlen, body, got);
  b->rend = hlen + got;
  return 0;
}

/* The body of a message too big for the read-ahead buffer goes straight
 * into buf; what came before an error is kept for the next call. */
static int recv_large(xipc_stream *s, unsigned char *buf, size_t hlen,
                      size_t mlen, uint64_t deadline) {
  struct xipc__stream_base *b = XIPC__STREAM_BASE(s);
  unsigned char hdr[12];
  memcpy(hdr, b->rb + b->rpos, hlen);
  b->rpos += hlen;
  size_t got = take_buffered(b, buf, mlen);
  while (got < mlen) {
    size_t n = 0;
    int rc = xipc__stream_os_read(s, buf + got, mlen - got, &n, deadline);
    if (rc == 0 && n == 0) {
      b->eof = true;
      return xipc__fail(XIPC_ECLOSED); /* never a partial message */
    }
    if (rc != 0) {
      int keep = rb_stash(b, hdr, hlen, buf, got);
      return keep != 0 ? keep : rc;
    }
    got += n;
  }
  return 0;
}

static int decode_pending(const struct xipc__stream_base *b, size_t *hlen,
                          uint64_t *len) {
  if (b->rb == NULL)
    return XIPC_EAGAIN;
  return xipc__frame_header_decode(b->rb + b->rpos, b->rend - b->rpos, hlen,
                                   len);
}

int xipc_stream_recv(xipc_stream *s, void *buf, size_t cap, size_t *len,
                     int timeout_ms) {
  size_t hlen;
  uint64_t mlen;
  int rc;
  if (len != NULL)
    *len = 0;
  if (s == NULL || len == NULL || (buf == NULL && cap > 0) ||
      !valid_timeout(timeout_ms))
    return xipc__fail(XIPC_EINVAL);
  struct xipc__stream_base *b = XIPC__STREAM_BASE(s);
  if (b->kind == XIPC__STREAM_PIPE_WRITE)
    return xipc__fail(XIPC_EINVAL);
  uint64_t deadline = xipc__deadline_ns(timeout_ms);
  while ((rc = decode_pending(b, &hlen, &mlen)) == XIPC_EAGAIN) {
    if (b->eof)
      return xipc__fail(XIPC_ECLOSED);
    if ((rc = rb_fill(s, 12, deadline)) != 0)
      return timeout_code(rc, timeout_ms);
  }
  if (rc != 0)
    return xipc__fail(rc);
  if (mlen > cap) {
    *len = mlen > SIZE_MAX ? SIZE_MAX : (size_t)mlen;
    return xipc__fail(XIPC_EMSGSIZE);
  }
  if (hlen + mlen > RB_SIZE) {
    rc = recv_large(s, buf, hlen, (size_t)mlen, deadline);
  } else {
    while (rc == 0 && b->rend - b->rpos < hlen + mlen)
      rc = b->eof ? xipc__fail(XIPC_ECLOSED)
                  : rb_fill(s, hlen + (size_t)mlen, deadline);
    if (rc == 0) {
      b->rpos += hlen;
      take_buffered(b, buf, (size_t)mlen);
    }
  }
  if (rc == 0)
    *len = (size_t)mlen;
  /* The OS no longer shows bytes that wait in the read-ahead. */
  if (b->watch != NULL && (b->rend > b->rpos || b->eof))
    xipc__waitset_stream_note(b->watch);
  return timeout_code(rc, timeout_ms);
}

/* Keeps the unsent rest (head, then body) of a message for flush_pending. */
static int keep_rest(struct xipc__stream_base *b, const unsigned char *head,
                     size_t hn, const unsigned char *body, size_t bn) {
  b->tb = malloc(hn + bn);
  if (b->tb == NULL)
    return xipc__fail(XIPC_ENOMEM);
  if (hn > 0)
    memcpy(b->tb, head, hn);
  if (bn > 0)
    memcpy(b->tb + hn, body, bn);
  b->tpos = 0;
  b->tlen = hn + bn;
  return 0;
}

/* Writes head then body in one gather write; if the deadline stops it
 * after some bytes went, the rest is kept and the message counts as sent. */
static int send_parts(xipc_stream *s, const unsigned char *head, size_t hn,
                      const unsigned char *body, size_t bn,
                      uint64_t deadline) {
  size_t done = 0;
  int rc = xipc__stream_os_writev(s, head, hn, body, bn, &done, deadline);
  if (rc != XIPC_ETIMEDOUT || done == 0)
    return rc;
  if (done < hn)
    return keep_rest(XIPC__STREAM_BASE(s), head + done, hn - done, body, bn);
  return keep_rest(XIPC__STREAM_BASE(s), NULL, 0, body + (done - hn),
                   bn - (done - hn));
}

int xipc_stream_send(xipc_stream *s, const void *msg, size_t len,
                     int timeout_ms) {
  unsigned char small[SMALL_SEND];
  if (s == NULL || (msg == NULL && len > 0) || !valid_timeout(timeout_ms))
    return xipc__fail(XIPC_EINVAL);
  int rc = check_writable(s);
  if (rc != 0)
    return rc;
  uint64_t deadline = xipc__deadline_ns(timeout_ms);
  if ((rc = flush_pending(s, deadline)) != 0)
    return timeout_code(rc, timeout_ms);
  size_t hn = xipc__frame_header_encode(small, len);
  if (len <= SMALL_SEND - hn) {
    if (len > 0)
      memcpy(small + hn, msg, len);
    rc = send_parts(s, small, hn + len, NULL, 0, deadline);
  } else {
    rc = send_parts(s, small, hn, msg, len, deadline);
  }
  return timeout_code(rc, timeout_ms);
}

/* ---- export and import --------------------------------------------------- */

#define TOKEN_PREFIX "xipc-stream:1:"
#define MAX_IMPORTS 64

/* OS objects imported in this process: a token works once. */
static intptr_t imported[MAX_IMPORTS];
static size_t nimported;
static atomic_flag import_lock = ATOMIC_FLAG_INIT;

/* The token's letter for a kind: r(ead end), w(rite end), c(onnection). */
static char kind_letter(int kind) {
  return kind == XIPC__STREAM_PIPE_READ   ? 'r'
         : kind == XIPC__STREAM_PIPE_WRITE ? 'w'
                                           : 'c';
}

int xipc_stream_export(const xipc_stream *s, char *token, size_t cap) {
  if (token != NULL && cap > 0)
    token[0] = '\0';
  if (s == NULL || token == NULL)
    return xipc__fail(XIPC_EINVAL);
  const struct xipc__stream_base *b = XIPC__STREAM_BASE(s);
  intptr_t h = xipc__stream_os_handle(s);
  if (h < 0)
    return xipc__fail(XIPC_ECLOSED);
  int n = snprintf(token, cap, TOKEN_PREFIX "%lld:%c:%c", (long long)h,
                   kind_letter(b->kind),
                   xipc__stream_os_sync(s) ? 's' : 'o');
  if (n < 0 || (size_t)n >= cap) {
    if (cap > 0)
      token[0] = '\0';
    return xipc__fail(XIPC_ERANGE);
  }
  return 0;
}

/* Parses "xipc-stream:1:<h>:<r|w|c>:<s|o>" strictly. */
static bool parse_token(const char *t, intptr_t *h, int *kind, bool *sync) {
  size_t plen = strlen(TOKEN_PREFIX);
  if (strncmp(t, TOKEN_PREFIX, plen) != 0)
    return false;
  t += plen;
  uint64_t v = 0;
  int digits = 0;
  for (; *t >= '0' && *t <= '9'; t++, digits++) {
    if (digits == 18)
      return false; /* more than any descriptor or handle value */
    v = v * 10 + (uint64_t)(*t - '0');
  }
  if (digits == 0 || v > (uint64_t)INTPTR_MAX || t[0] != ':' ||
      (t[1] != 'r' && t[1] != 'w' && t[1] != 'c') || t[2] != ':' ||
      (t[3] != 's' && t[3] != 'o') || t[4] != '\0')
    return false;
  *h = (intptr_t)v;
  *kind = t[1] == 'r'   ? XIPC__STREAM_PIPE_READ
          : t[1] == 'w' ? XIPC__STREAM_PIPE_WRITE
                        : XIPC__STREAM_CONN;
  *sync = t[3] == 's';
  return true;
}

static bool was_imported(intptr_t h) {
  for (size_t i = 0; i < nimported; i++)
    if (imported[i] == h)
      return true;
  return false;
}

int xipc_stream_import(xipc_stream **out, const char *token) {
  intptr_t h;
  int kind;
  bool sync;
  if (out != NULL)
    *out = NULL;
  if (out == NULL || token == NULL || !parse_token(token, &h, &kind, &sync))
    return xipc__fail(XIPC_EINVAL);
  while (atomic_flag_test_and_set_explicit(&import_lock, memory_order_acquire))
    xipc__sleep_ms(0);
  int rc = 0;
  if (was_imported(h))
    rc = xipc__fail(XIPC_EBUSY);
  else if (nimported == MAX_IMPORTS)
    rc = xipc__fail(XIPC_ENOSPC);
  else if ((rc = xipc__stream_os_import(out, h, kind, sync)) == 0)
    imported[nimported++] = h;
  atomic_flag_clear_explicit(&import_lock, memory_order_release);
  return rc;
}
