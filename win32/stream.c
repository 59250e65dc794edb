/* Pipes on Windows.
 *
 * An anonymous pipe is a named pipe pair, as libuv and CPython make them:
 * a server end from CreateNamedPipeW with a unique name
 * (\\.\pipe\xipc.anon.<pid>.<counter>.<random>), FILE_FLAG_FIRST_PIPE_INSTANCE
 * so that nobody can have created the name first (Wine ignores the flag, so
 * the pids of both ends are checked too), one instance, byte mode,
 * PIPE_REJECT_REMOTE_CLIENTS (accepted by Wine, which has no remote
 * clients), and a client end opened with CreateFileW. The
 * read end is the server (inbound), the write end the client. Neither
 * handle is inheritable (no SECURITY_ATTRIBUTES); the pipe has the default
 * DACL of the creator.
 *
 * The ends a process uses itself are opened FILE_FLAG_OVERLAPPED so that
 * every call can be bounded: the I/O is started, its event waited for
 * until the deadline, and a timed-out I/O is cancelled with CancelIoEx and
 * then waited for with GetOverlappedResult, so nothing stays pending. Bytes
 * that a cancelled read got in the meantime are returned, not lost. An end
 * marked XIPC__PIPE_CHILD_* is synchronous, as children expect of stdio; a
 * timed read on such an end polls PeekNamedPipe, and a timed write on it is
 * XIPC_ENOTSUP (a synchronous WriteFile cannot be bounded).
 *
 * There is no text mode anywhere: ReadFile/WriteFile move bytes as they are
 * (CR LF stays CR LF, 0x1A passes).
 *
 * A connection (XIPC__STREAM_CONN, made by win32/listen.c) is one end of a
 * duplex pipe instance, overlapped, with a second event so that one thread
 * may read while another writes. Named pipes have no half-close, so a
 * connection's pipe is of message type and read in message mode: every
 * WriteFile is one message, a read returns part of one message
 * (ERROR_MORE_DATA only says that the rest comes with the next read, so it
 * is treated as success), and xipc_stream_shutdown writes one zero-length
 * message, which the peer's read reports as end of stream. xipc never
 * writes zero bytes otherwise. On a byte-mode pipe Wine 8 drops zero-byte
 * writes (ci/wine-probes/p12.c), which is why the message type is used
 * (p13.c: a zero-length message arrives as a read of 0 bytes). libuv, by
 * contrast, ends a readable pipe's shutdown by closing the pipe after 50 ms
 * without incoming data (src/win/pipe.c, eof_timer), after which nothing
 * more can be read; xipc keeps the read side open. */
#include "win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIPE_BUFFER 65536u
#define IO_MAX (1u << 30) /* bytes per ReadFile/WriteFile */

struct xipc_stream {
  struct xipc__stream_base base; /* first: see XIPC__STREAM_BASE */
  HANDLE h;                      /* NULL once a write end is shut down */
  HANDLE ev;                     /* manual-reset event; NULL when sync */
  HANDLE wev;                    /* CONN: the writes' event (else ev) */
  bool sync;                     /* opened without FILE_FLAG_OVERLAPPED */
  bool peer_shut;                /* CONN: the peer's end-of-stream mark came */
  DWORD peer_pid;                /* CONN: the process at the other end */
  OVERLAPPED *shut_ov;           /* CONN: the end mark's write, if pending */
  SRWLOCK zlock;                 /* zov, zpending, peer_shut vs the waitset */
  OVERLAPPED zov;                /* the waitset's zero-byte read */
  bool zpending;                 /* zov is in flight */
  volatile LONG wseq;            /* writes started (for a waitset) */
  void (*wstop)(void *);         /* a waitset's drain of h: stop it */
  void *wstop_arg;
};

static volatile LONG pipe_counter;

static DWORD io_len(size_t n) { return n > IO_MAX ? IO_MAX : (DWORD)n; }

static bool is_pipe_end(DWORD e) {
  return e == ERROR_BROKEN_PIPE || e == ERROR_NO_DATA ||
         e == ERROR_PIPE_NOT_CONNECTED;
}

static bool is_conn(const xipc_stream *s) {
  return s->base.kind == XIPC__STREAM_CONN;
}

/* GetOverlappedResult, with a message read's ERROR_MORE_DATA (the rest of
 * the message comes with the next read) counted as success. */
static bool io_result(xipc_stream *s, OVERLAPPED *ov, DWORD *got, BOOL wait) {
  return GetOverlappedResult(s->h, ov, got, wait) ||
         GetLastError() == ERROR_MORE_DATA;
}

/* Finishes the overlapped I/O in *ov (its event ov->hEvent): waits for it
 * until the deadline, else cancels it and waits for the cancellation. *got
 * is what moved; the result is 0, XIPC_ETIMEDOUT or the I/O's error
 * (GetLastError set). */
static int finish_io(xipc_stream *s, OVERLAPPED *ov, DWORD *got,
                     uint64_t deadline) {
  if (xipc__wait_one(ov->hEvent, xipc__left_ms(deadline)) != WAIT_OBJECT_0) {
    CancelIoEx(s->h, ov);
    if (io_result(s, ov, got, TRUE))
      return 0; /* it completed before the cancellation took */
    if (GetLastError() == ERROR_OPERATION_ABORTED)
      return xipc__fail(XIPC_ETIMEDOUT);
    return XIPC_EIO;
  }
  return io_result(s, ov, got, FALSE) ? 0 : XIPC_EIO;
}

/* ---- read ---------------------------------------------------------------- */

/* Bytes waiting in the pipe: 1 if some, 0 if none, -1 at end of stream,
 * or a negative XIPC_E* below -1. */
static int peek(xipc_stream *s, DWORD *avail) {
  *avail = 0;
  if (PeekNamedPipe(s->h, NULL, 0, NULL, avail, NULL))
    return *avail > 0;
  if (is_pipe_end(GetLastError()))
    return -1;
  return xipc__fail_os();
}

static int read_sync(xipc_stream *s, void *buf, size_t cap, size_t *nread,
                     uint64_t deadline) {
  DWORD got = 0, avail = 0;
  while (deadline != UINT64_MAX) {
    int p = peek(s, &avail);
    if (p == -1)
      return 0; /* end of stream */
    if (p < -1)
      return p;
    if (p == 1)
      break;
    if (xipc__left_ns(deadline) == 0)
      return xipc__fail(XIPC_ETIMEDOUT);
    xipc__sleep_ms(1);
  }
  DWORD want = avail > 0 && avail < io_len(cap) ? avail : io_len(cap);
  if (ReadFile(s->h, buf, want, &got, NULL)) {
    *nread = got;
    return 0;
  }
  return is_pipe_end(GetLastError()) ? 0 : xipc__fail_os();
}

/* One overlapped ReadFile; 1 if it moved nothing and must be repeated (a
 * writer may send zero bytes, which is not the end of the stream, except
 * on a connection, where it is the peer's shutdown). */
static int read_once(xipc_stream *s, void *buf, size_t cap, size_t *nread,
                     uint64_t deadline) {
  OVERLAPPED ov = {0};
  DWORD got = 0;
  ov.hEvent = s->ev;
  int rc = 0;
  if (!ReadFile(s->h, buf, io_len(cap), NULL, &ov)) {
    DWORD e = GetLastError();
    if (is_pipe_end(e))
      return 0;
    if (e == ERROR_MORE_DATA)
      rc = io_result(s, &ov, &got, FALSE) ? 0 : XIPC_EIO;
    else if (e != ERROR_IO_PENDING)
      return xipc__fail_os();
    else
      rc = finish_io(s, &ov, &got, deadline);
  } else if (!GetOverlappedResult(s->h, &ov, &got, FALSE)) {
    rc = XIPC_EIO;
  }
  if (rc == XIPC_EIO)
    return is_pipe_end(GetLastError()) ? 0 : xipc__fail_os();
  if (rc != 0)
    return rc;
  *nread = got;
  if (got == 0 && is_conn(s))
    s->peer_shut = true;
  return got == 0 && !is_conn(s) ? 1 : 0;
}

int xipc__stream_os_read(xipc_stream *s, void *buf, size_t cap, size_t *nread,
                         uint64_t deadline) {
  *nread = 0;
  if (s->sync)
    return read_sync(s, buf, cap, nread, deadline);
  /* A waitset's zero-byte read would take the peer's end mark (a
   * zero-length message) from under this read: it goes first. */
  if (is_conn(s))
    xipc__stream_zread_cancel(s);
  if (s->peer_shut)
    return 0;
  for (;;) {
    /* With no time left, look before starting an I/O to cancel. Not on a
     * connection: PeekNamedPipe cannot see a zero-length message (the
     * peer's shutdown), so a read is started there and cancelled. */
    if (xipc__left_ns(deadline) == 0 && !is_conn(s)) {
      DWORD avail;
      int p = peek(s, &avail);
      if (p == -1)
        return 0;
      if (p < -1)
        return p;
      if (p == 0)
        return xipc__fail(XIPC_ETIMEDOUT);
    }
    int rc = read_once(s, buf, cap, nread, deadline);
    if (rc != 1)
      return rc;
  }
}

/* ---- a waitset's zero-byte read ------------------------------------------
 * win32/waitset.c learns that a stream has become readable from a
 * zero-byte overlapped read (as CPython's multiprocessing.connection.wait
 * does), which completes when data, the end mark or a hang-up comes and
 * consumes no data: byte pipes report success, message pipes
 * ERROR_MORE_DATA (ci/wine-probes/FINDINGS.md item 15). It may stay pending
 * between waits, so that the waitset's native handle is signaled while
 * nobody waits; a pending one does not disturb the stream's own reads on
 * a byte pipe (they are served after it, every byte in order, and a timed
 * read's cancellation leaves it pending). On a connection it would take a
 * zero-length message, the peer's end mark, so its completion sets
 * peer_shut, and a read cancels it first. */

static unsigned zread_result(xipc_stream *s) {
  DWORD got;
  if (GetOverlappedResult(s->h, &s->zov, &got, FALSE)) {
    if (is_conn(s))
      s->peer_shut = true; /* it took the end mark */
    return XIPC_WAIT_READABLE;
  }
  DWORD e = GetLastError();
  if (e == ERROR_MORE_DATA)
    return XIPC_WAIT_READABLE;
  if (e == ERROR_OPERATION_ABORTED)
    return 0;
  return XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP; /* a read fails at once */
}

static unsigned read_level(xipc_stream *s) {
  DWORD avail = 0;
  if (s->peer_shut)
    return XIPC_WAIT_READABLE;
  if (PeekNamedPipe(s->h, NULL, 0, NULL, &avail, NULL))
    return avail > 0 ? XIPC_WAIT_READABLE : 0;
  return XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP;
}

static int zread_start(xipc_stream *s, HANDLE ev, unsigned *ready) {
  memset(&s->zov, 0, sizeof s->zov);
  s->zov.hEvent = ev;
  if (ReadFile(s->h, NULL, 0, NULL, &s->zov) ||
      GetLastError() == ERROR_IO_PENDING || GetLastError() == ERROR_MORE_DATA) {
    s->zpending = true; /* ev is set when it is done, even at once */
    return 0;
  }
  if (is_pipe_end(GetLastError())) {
    *ready = XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP;
    return 0;
  }
  return xipc__fail_os();
}

int xipc__stream_zread(xipc_stream *s, HANDLE ev, bool start, unsigned *ready) {
  int rc = 0;
  AcquireSRWLockExclusive(&s->zlock);
  if (s->zpending) {
    *ready = 0;
    if (HasOverlappedIoCompleted(&s->zov)) {
      s->zpending = false;
      *ready = zread_result(s);
    }
  } else {
    *ready = read_level(s);
    if (*ready == 0 && start)
      rc = zread_start(s, ev, ready);
  }
  ReleaseSRWLockExclusive(&s->zlock);
  return rc;
}

void xipc__stream_zread_cancel(xipc_stream *s) {
  DWORD got;
  AcquireSRWLockExclusive(&s->zlock);
  if (s->zpending) {
    CancelIoEx(s->h, &s->zov);
    if (GetOverlappedResult(s->h, &s->zov, &got, TRUE) && is_conn(s))
      s->peer_shut = true;
    s->zpending = false;
  }
  ReleaseSRWLockExclusive(&s->zlock);
}

void xipc__stream_set_wstop(xipc_stream *s, void (*fn)(void *), void *arg) {
  s->wstop = fn;
  s->wstop_arg = arg;
}

LONG xipc__stream_wseq(xipc_stream *s) {
  return InterlockedCompareExchange(&s->wseq, 0, 0);
}

/* FilePipeLocalInformation (ntddk.h), NtQueryInformationFile class 24. */
typedef struct {
  ULONG type, config, max_instances, cur_instances, in_quota, read_avail,
      out_quota, write_quota_avail, state, end;
} pipe_local_info;
typedef struct {
  LONG_PTR status;
  ULONG_PTR info;
} io_status;
typedef LONG(NTAPI *query_file_fn)(HANDLE, io_status *, void *, ULONG, int);
#define PIPE_LOCAL_INFO_CLASS 24
#define PIPE_CONNECTED_STATE 3

/* Wine 8 reports a write quota of 0 whatever the room (FINDINGS item 15),
 * so there WRITABLE comes only from win32/waitset.c's drain wait. */
unsigned xipc__stream_wlevel(xipc_stream *s) {
  static query_file_fn query; /* racing writers store the same value */
  pipe_local_info pl;
  io_status io;
  if (s->h == NULL)
    return XIPC_WAIT_WRITABLE | XIPC_WAIT_HANGUP;
  if (query == NULL)
    query = (query_file_fn)(void (*)(void))GetProcAddress(
        GetModuleHandleW(L"ntdll.dll"), "NtQueryInformationFile");
  if (query == NULL ||
      query(s->h, &io, &pl, sizeof pl, PIPE_LOCAL_INFO_CLASS) < 0)
    return 0;
  if (pl.state != PIPE_CONNECTED_STATE)
    return XIPC_WAIT_WRITABLE | XIPC_WAIT_HANGUP;
  return pl.write_quota_avail > 0 ? XIPC_WAIT_WRITABLE : 0;
}

/* ---- write --------------------------------------------------------------- */

static int write_error(void) {
  if (is_pipe_end(GetLastError())) /* ERROR_NO_DATA -> EPIPE, as POSIX */
    return xipc__fail_os_as(XIPC_EPIPE);
  return xipc__fail_os();
}

static int write_once(xipc_stream *s, const unsigned char *p, size_t n,
                      size_t *done, uint64_t deadline) {
  OVERLAPPED ov = {0};
  DWORD got = 0;
  ov.hEvent = s->wev != NULL ? s->wev : s->ev;
  int rc = 0;
  if (!WriteFile(s->h, p, io_len(n), NULL, &ov)) {
    if (GetLastError() != ERROR_IO_PENDING)
      return write_error();
    rc = finish_io(s, &ov, &got, deadline);
  } else if (!GetOverlappedResult(s->h, &ov, &got, FALSE)) {
    rc = XIPC_EIO;
  }
  *done += got; /* a cancelled write may have moved part of its bytes */
  return rc == XIPC_EIO ? write_error() : rc;
}

int xipc__stream_os_write(xipc_stream *s, const void *buf, size_t n,
                          size_t *nwritten, uint64_t deadline) {
  const unsigned char *p = buf;
  *nwritten = 0;
  InterlockedIncrement(&s->wseq);
  if (s->sync && deadline != UINT64_MAX)
    return xipc__fail(XIPC_ENOTSUP);
  while (*nwritten < n) {
    if (s->sync) {
      DWORD got = 0;
      if (!WriteFile(s->h, p + *nwritten, io_len(n - *nwritten), &got, NULL))
        return write_error();
      *nwritten += got;
      continue;
    }
    int rc = write_once(s, p + *nwritten, n - *nwritten, nwritten, deadline);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* A framed message as one WriteFile (one pipe message on a connection)
 * when it is small enough to copy, else head and then body. */
#define GATHER_MAX 16384u

int xipc__stream_os_writev(xipc_stream *s, const void *head, size_t hn,
                           const void *body, size_t bn, size_t *nwritten,
                           uint64_t deadline) {
  *nwritten = 0;
  if (hn + bn <= GATHER_MAX) {
    unsigned char buf[GATHER_MAX];
    if (hn > 0)
      memcpy(buf, head, hn);
    if (bn > 0)
      memcpy(buf + hn, body, bn);
    return xipc__stream_os_write(s, buf, hn + bn, nwritten, deadline);
  }
  size_t more = 0;
  int rc = hn > 0 ? xipc__stream_os_write(s, head, hn, nwritten, deadline) : 0;
  if (rc == 0 && bn > 0)
    rc = xipc__stream_os_write(s, body, bn, &more, deadline);
  *nwritten += more;
  return rc;
}

/* ---- open, close, import ------------------------------------------------- */

static xipc_stream *stream_new(HANDLE h, int kind, bool sync, int *err) {
  xipc_stream *s = calloc(1, sizeof *s);
  if (s == NULL) {
    *err = xipc__fail(XIPC_ENOMEM);
    return NULL;
  }
  s->base.kind = kind;
  s->h = h;
  s->sync = sync;
  if (!sync && (s->ev = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL) {
    *err = xipc__fail_os();
    free(s);
    return NULL;
  }
  return s;
}

static void random_name(wchar_t *name, size_t cap) {
  LARGE_INTEGER t;
  QueryPerformanceCounter(&t);
  unsigned r = (unsigned)(t.QuadPart ^ (t.QuadPart >> 32)) ^
               (unsigned)(uintptr_t)name ^ GetTickCount();
  swprintf(name, cap, L"\\\\.\\pipe\\xipc.anon.%lu.%ld.%08x",
           (unsigned long)GetCurrentProcessId(),
           (long)InterlockedIncrement(&pipe_counter), r);
}

/* The server (read) end under a fresh unique name. */
static HANDLE create_server(wchar_t *name, size_t cap, bool sync) {
  DWORD open_mode = PIPE_ACCESS_INBOUND | FILE_FLAG_FIRST_PIPE_INSTANCE |
                    (sync ? 0 : FILE_FLAG_OVERLAPPED);
  DWORD pipe_mode = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                    PIPE_REJECT_REMOTE_CLIENTS;
  for (int tries = 0; tries < 16; tries++) {
    random_name(name, cap);
    HANDLE h = CreateNamedPipeW(name, open_mode, pipe_mode, 1, PIPE_BUFFER,
                                PIPE_BUFFER, 0, NULL);
    if (h != INVALID_HANDLE_VALUE)
      return h;
    DWORD e = GetLastError();
    if (e != ERROR_ACCESS_DENIED && e != ERROR_PIPE_BUSY)
      break; /* only a taken name is worth another try */
  }
  return INVALID_HANDLE_VALUE;
}

/* Connects the server end, whose client is open already. */
static bool connect_server(HANDLE srv, bool sync) {
  OVERLAPPED ov = {0};
  DWORD got;
  if (sync)
    return ConnectNamedPipe(srv, NULL) || GetLastError() == ERROR_PIPE_CONNECTED;
  if ((ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL)
    return false;
  bool ok = ConnectNamedPipe(srv, &ov) != 0;
  if (!ok && GetLastError() == ERROR_IO_PENDING)
    ok = GetOverlappedResult(srv, &ov, &got, TRUE) != 0;
  else if (!ok)
    ok = GetLastError() == ERROR_PIPE_CONNECTED;
  DWORD e = GetLastError();
  CloseHandle(ov.hEvent);
  SetLastError(e);
  return ok;
}

/* Wine ignores FILE_FLAG_FIRST_PIPE_INSTANCE (ci/wine-probes/FINDINGS.md,
 * item 2), so the pair checks that both ends are this process's: an end of
 * an instance someone else created under the name shows their pid. */
static bool both_ends_ours(HANDLE srv, HANDLE cli) {
  ULONG client = 0, server = 0, self = GetCurrentProcessId();
  return GetNamedPipeClientProcessId(srv, &client) &&
         GetNamedPipeServerProcessId(cli, &server) && client == self &&
         server == self;
}

int xipc__pipe_open(xipc_stream **read_end, xipc_stream **write_end,
                    unsigned flags) {
  wchar_t name[96];
  bool rsync = (flags & XIPC__PIPE_CHILD_READ) != 0;
  bool wsync = (flags & XIPC__PIPE_CHILD_WRITE) != 0;
  HANDLE cli = INVALID_HANDLE_VALUE;
  int rc = 0;
  *read_end = *write_end = NULL;
  HANDLE srv = create_server(name, sizeof name / sizeof name[0], rsync);
  if (srv == INVALID_HANDLE_VALUE)
    return xipc__fail_os();
  cli = CreateFileW(name, GENERIC_WRITE | FILE_READ_ATTRIBUTES, 0, NULL,
                    OPEN_EXISTING, wsync ? 0 : FILE_FLAG_OVERLAPPED, NULL);
  if (cli == INVALID_HANDLE_VALUE || !connect_server(srv, rsync)) {
    rc = xipc__fail_os();
    goto fail;
  }
  if (!both_ends_ours(srv, cli)) {
    rc = xipc__fail(XIPC_EACCES);
    goto fail;
  }
  if ((*read_end = stream_new(srv, XIPC__STREAM_PIPE_READ, rsync, &rc)) == NULL)
    goto fail;
  if ((*write_end = stream_new(cli, XIPC__STREAM_PIPE_WRITE, wsync, &rc)) ==
      NULL) {
    CloseHandle((*read_end)->ev);
    free(*read_end);
    *read_end = NULL;
    goto fail;
  }
  return 0;
fail:
  if (cli != INVALID_HANDLE_VALUE)
    CloseHandle(cli);
  CloseHandle(srv);
  return rc;
}

intptr_t xipc__stream_os_handle(const xipc_stream *s) {
  return s->h != NULL ? (intptr_t)s->h : -1;
}

bool xipc__stream_os_sync(const xipc_stream *s) { return s->sync; }

/* A connection's shutdown: one zero-length message, the peer's end of
 * stream. It needs no room in the pipe's buffer and completes at once; if
 * it does not, it stays pending (like data in a socket's send buffer) and
 * close cancels it. */
static int conn_shutdown(xipc_stream *s) {
  OVERLAPPED *ov = calloc(1, sizeof *ov);
  DWORD got;
  InterlockedIncrement(&s->wseq);
  if (ov == NULL)
    return xipc__fail(XIPC_ENOMEM);
  ov->hEvent = s->wev;
  if (!WriteFile(s->h, "", 0, NULL, ov) && GetLastError() != ERROR_IO_PENDING) {
    free(ov);
    /* The peer has gone: it reads end of stream anyway. */
    return is_pipe_end(GetLastError()) ? 0 : xipc__fail_os();
  }
  if (GetOverlappedResult(s->h, ov, &got, FALSE) ||
      GetLastError() != ERROR_IO_INCOMPLETE) {
    free(ov);
    return 0;
  }
  s->shut_ov = ov;
  return 0;
}

int xipc__stream_os_shutdown(xipc_stream *s) {
  if (is_conn(s))
    return s->h != NULL ? conn_shutdown(s) : 0;
  if (s->wstop != NULL)
    s->wstop(s->wstop_arg); /* no flush may use h once it is closed */
  if (s->h != NULL)
    CloseHandle(s->h);
  s->h = NULL;
  return 0;
}

bool xipc__stream_os_poll_fallback_for_testing(bool on) {
  (void)on;
  return false;
}

void xipc__stream_os_detach(xipc_stream *s) { s->h = NULL; }

int xipc__stream_os_close(xipc_stream *s) {
  if (!s->sync && s->h != NULL)
    xipc__stream_zread_cancel(s);
  if (s->shut_ov != NULL && s->h != NULL) {
    DWORD got;
    CancelIoEx(s->h, s->shut_ov);
    GetOverlappedResult(s->h, s->shut_ov, &got, TRUE);
  }
  free(s->shut_ov);
  if (s->h != NULL)
    CloseHandle(s->h);
  if (s->ev != NULL)
    CloseHandle(s->ev);
  if (s->wev != NULL)
    CloseHandle(s->wev);
  free(s);
  return 0;
}

int xipc__conn_new(xipc_stream **out, HANDLE h, DWORD peer_pid) {
  int rc = 0;
  xipc_stream *s = stream_new(h, XIPC__STREAM_CONN, false, &rc);
  if (s == NULL)
    return rc;
  if ((s->wev = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL) {
    rc = xipc__fail_os();
    CloseHandle(s->ev);
    free(s);
    return rc;
  }
  s->peer_pid = peer_pid;
  *out = s;
  return 0;
}

int xipc__stream_os_peer_pid(const xipc_stream *s, xipc_pid *pid) {
  if (!is_conn(s))
    return xipc__fail(XIPC_ENOTSUP);
  *pid = (xipc_pid)s->peer_pid;
  return 0;
}

/* A passed connection: either end of a message-type pipe, overlapped, as
 * win32/listen.c makes them; its peer is the process at the other end. */
static int import_conn(xipc_stream **out, HANDLE h, DWORD pipe_flags,
                       bool sync) {
  ULONG peer = 0;
  bool server = (pipe_flags & PIPE_SERVER_END) != 0;
  if (sync || !(pipe_flags & PIPE_TYPE_MESSAGE))
    return xipc__fail(XIPC_EINVAL);
  if (!(server ? GetNamedPipeClientProcessId(h, &peer)
               : GetNamedPipeServerProcessId(h, &peer)))
    return xipc__fail_os();
  if (!SetHandleInformation(h, HANDLE_FLAG_INHERIT, 0))
    return xipc__fail_os();
  return xipc__conn_new(out, h, peer);
}

int xipc__stream_os_import(xipc_stream **out, intptr_t h, int kind, bool sync) {
  HANDLE hh = (HANDLE)h;
  DWORD info;
  int rc = 0;
  if (h <= 0)
    return xipc__fail(XIPC_EINVAL);
  if (!GetHandleInformation(hh, &info)) /* INVALID_HANDLE -> ENOENT */
    return xipc__fail_os_as(XIPC_ENOENT);
  DWORD pipe_flags = 0;
  if (GetFileType(hh) != FILE_TYPE_PIPE ||
      !GetNamedPipeInfo(hh, &pipe_flags, NULL, NULL, NULL))
    return xipc__fail(XIPC_EINVAL);
  if (kind == XIPC__STREAM_CONN)
    return import_conn(out, hh, pipe_flags, sync);
  /* xipc's read ends are server ends, its write ends client ends, both of
   * byte type (a message-type pipe is a connection's). */
  if (((pipe_flags & PIPE_SERVER_END) != 0) !=
          (kind == XIPC__STREAM_PIPE_READ) ||
      (pipe_flags & PIPE_TYPE_MESSAGE))
    return xipc__fail(XIPC_EINVAL);
  if (!SetHandleInformation(hh, HANDLE_FLAG_INHERIT, 0))
    return xipc__fail_os();
  *out = stream_new(hh, kind, sync, &rc);
  return rc;
}
