/* xipc_proc_run's I/O on Windows: one overlapped read or write in flight
 * on each of the parent's pipe ends (opened FILE_FLAG_OVERLAPPED by the
 * stream layer) and one WaitForMultipleObjects over their events, so no
 * pipe can fill up while xipc waits on another one. At the deadline the
 * I/O in flight is cancelled and waited for, so none is left behind. */
#include "win32.h"

#include <string.h>

/* Bytes per write: big enough to be cheap, small enough that a timed-out
 * write is cancelled soon. */
#define CHUNK (64 * 1024)

typedef struct {
  OVERLAPPED ov;
  HANDLE h;
  bool pending;
} io;

/* Closes a channel: the input is shut down so that the child reads end of
 * stream. */
static void finish(xipc__pump_chan *c, int i) {
  if (i == 0)
    (void)xipc_stream_shutdown(c->s);
  c->s = NULL;
}

static bool pipe_gone(DWORD e) {
  return e == ERROR_BROKEN_PIPE || e == ERROR_NO_DATA || e == ERROR_PIPE_NOT_CONNECTED;
}

/* Starts the channel's next read or write. */
static int start(xipc__pump_chan *c, int i, io *x) {
  DWORD n;
  BOOL ok;
  if (i == 0) {
    size_t left = c->cap - c->len;
    n = (DWORD)(left < CHUNK ? left : CHUNK);
    ok = WriteFile(x->h, c->buf + c->len, n, NULL, &x->ov);
  } else {
    size_t avail;
    int rc = xipc__pump_room(c, &avail);
    if (rc != 0)
      return rc;
    n = (DWORD)(avail < MAXDWORD ? avail : MAXDWORD);
    ok = ReadFile(x->h, c->buf + c->len, n, NULL, &x->ov);
  }
  /* Done at once or pending: either way the event is set on completion. */
  if (ok || GetLastError() == ERROR_IO_PENDING) {
    x->pending = true;
    return 0;
  }
  if (pipe_gone(GetLastError())) {
    finish(c, i); /* end of stream, or a reader that has gone */
    return 0;
  }
  return xipc__fail_os();
}

/* Takes the result of the channel's completed I/O. */
static int complete(xipc__pump_chan *c, int i, io *x, BOOL wait) {
  DWORD n = 0;
  BOOL ok = GetOverlappedResult(x->h, &x->ov, &n, wait);
  DWORD e = ok ? 0 : GetLastError();
  x->pending = false;
  if (!ok && e == ERROR_OPERATION_ABORTED)
    return 0; /* cancelled at the deadline */
  if (!ok && pipe_gone(e)) {
    finish(c, i);
    return 0;
  }
  if (!ok)
    return xipc__fail_os();
  if (i > 0)
    return xipc__pump_got(c, n);
  c->len += n;
  if (c->len == c->cap)
    finish(c, i);
  return 0;
}

/* Cancels what is in flight and waits for it, keeping what got through. */
static void cancel_all(xipc__pump_chan ch[3], io x[3]) {
  for (int i = 0; i < 3; i++) {
    if (!x[i].pending)
      continue;
    CancelIoEx(x[i].h, &x[i].ov);
    (void)complete(&ch[i], i, &x[i], TRUE);
  }
}

static int pump(xipc__pump_chan ch[3], io x[3], uint64_t deadline) {
  for (;;) {
    HANDLE ev[3];
    int idx[3], rc;
    DWORD n = 0, r;
    for (int i = 0; i < 3; i++) {
      if (ch[i].s != NULL && !x[i].pending && (rc = start(&ch[i], i, &x[i])) != 0)
        return rc;
      if (x[i].pending) {
        ev[n] = x[i].ov.hEvent;
        idx[n++] = i;
      }
    }
    if (n == 0)
      return 0;
    /* Checked on every round, so a child that writes without pause still
     * meets its deadline. */
    if (xipc__left_ns(deadline) == 0)
      return xipc__fail(XIPC_ETIMEDOUT);
    r = WaitForMultipleObjects(n, ev, FALSE, (DWORD)xipc__left_ms(deadline));
    if (r == WAIT_TIMEOUT)
      continue;
    if (r >= WAIT_OBJECT_0 + n)
      return xipc__fail_os();
    rc = complete(&ch[idx[r - WAIT_OBJECT_0]], idx[r - WAIT_OBJECT_0],
                  &x[idx[r - WAIT_OBJECT_0]], FALSE);
    if (rc != 0)
      return rc;
  }
}

int xipc__stream_pump(xipc__pump_chan ch[3], uint64_t deadline) {
  io x[3];
  int rc = 0;
  memset(x, 0, sizeof x);
  for (int i = 0; i < 3 && rc == 0; i++) {
    if (ch[i].s == NULL)
      continue;
    x[i].h = (HANDLE)xipc__stream_os_handle(ch[i].s);
    /* Manual reset, as GetOverlappedResult expects. */
    x[i].ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (x[i].ov.hEvent == NULL)
      rc = xipc__fail_os();
  }
  if (rc == 0 && ch[0].s != NULL && ch[0].len == ch[0].cap)
    finish(&ch[0], 0); /* no input: end it at once */
  if (rc == 0)
    rc = pump(ch, x, deadline);
  cancel_all(ch, x);
  for (int i = 0; i < 3; i++)
    if (x[i].ov.hEvent != NULL)
      CloseHandle(x[i].ov.hEvent);
  return rc;
}
