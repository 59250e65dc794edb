/* The waitset's OS multiplexer on Windows (see api/internal.h "waitset").
 *
 * One manual-reset event, `ready`, is the native handle and the only thing
 * xipc__wos_wait sleeps on. Every waitable source has a registered wait
 * (RegisterWaitForSingleObject, WT_EXECUTEONLYONCE, INFINITE,
 * WT_EXECUTEINWAITTHREAD: the callback only marks its entry fired and sets
 * `ready`, so it runs in the wait thread, which makes a firing visible
 * sooner); the doorbell and the timer have standing registered waits
 * (auto-reset objects) that set a flag and `ready`; a kick sets a flag and
 * `ready`. So any number of entries can be watched (the thread pool
 * spreads the waits over its wait threads, 63 a thread), nothing polls,
 * and an idle set costs no CPU. Registered waits were chosen over own
 * WaitForMultipleObjects threads because Wine 8 runs them correctly, also
 * 250 at once (ci/wine-probes/FINDINGS.md items 11 and 15); a finite
 * timeout is never used (item 11: it goes dead under Wine). A wait is
 * unregistered with UnregisterWaitEx(INVALID_HANDLE_VALUE), which returns
 * only when no callback runs any more. Entries are found by a scan of the
 * fired flags (O(entries) interlocked reads per wait, no system call for
 * an entry that did not fire).
 *
 * Level-triggered: a fired entry is checked (WaitForSingleObject(h, 0),
 * PeekNamedPipe, select()) and, while it is ready, it is reported and
 * checked again by every wait without a registered wait; once it is not
 * ready any more its source is armed again. `ready` is set again at the
 * end of a wait while an entry is ready, so the native handle stays
 * signaled while anything is ready. A firing reaches the set through the
 * thread pool, a little after the object was signaled.
 *
 * Sources: a process (its handle); a caller's HANDLE (see handle_look); a
 * SOCKET (WSAEventSelect on an own event, select() with timeout 0 as the
 * level); a stream's readability (a zero-byte overlapped read,
 * win32/stream.c, which stays pending between waits: the native handle
 * sees data while nobody waits); a stream's writability (the write quota
 * where Windows reports it; otherwise, and always under Wine, which reports
 * 0, a drain thread in FlushFileBuffers, which returns once the reader has
 * taken every byte: WRITABLE then means "the pipe is empty, or nothing was
 * written since it was", later than "there is room" but never wrong and
 * never a poll); a listener (its stop event and its slots'
 * ConnectNamedPipe events, win32/listen.c). Synchronous stream ends (child
 * stdio) take no overlapped I/O and a flush on them would block their
 * writes: add refuses them with XIPC_ENOTSUP. */
#include <winsock2.h>

#include "win32.h"

#include <ntsecapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SRC_HANDLE, SRC_SOCKET, SRC_PROC, SRC_STREAM, SRC_LISTENER };

/* The most registered waits of one entry: a listener's events. */
#define SRC_MAX XIPC__LISTENER_EVENTS
enum { RD = 0, WR = 1 }; /* a stream's sources */
#define DRAIN_PEEK_MS 5
/* The first drain of an entry (nothing known about the pipe yet) may wait
 * longer: its thread may still be starting (seen under a loaded Wine). */
#define DRAIN_FIRST_PEEK_MS 100

struct ent {
  xipc__wos *o;
  xipc__went *e;
  size_t idx; /* in o->ents */
  int src;
  int nobj;
  HANDLE obj[SRC_MAX];  /* what the waits watch */
  HANDLE wait[SRC_MAX]; /* registered waits; NULL when not armed */
  volatile LONG fired;  /* a callback ran since the last look */
  bool ready;           /* reported by the last look: look again */
  bool hup;             /* SOCKET: FD_CLOSE came */
  SOCKET sock;
  HANDLE rev;          /* STREAM: the zero-byte read's event */
  HANDLE drainer;      /* STREAM WRITABLE: the drain thread, or NULL */
  HANDLE go;           /* auto-reset: start one drain (obj[WR]: done) */
  volatile bool quit;  /* the drain thread is to end */
  bool draining;       /* a drain was started and not looked at */
  DWORD flush_err;     /* its FlushFileBuffers error (0: drained) */
  LONG drain_seq;      /* the stream's write count when it started */
  LONG empty_seq;      /* the write count at which the pipe was empty */
  bool empty_known;    /* empty_seq is valid */
};

struct xipc__wos {
  HANDLE ready; /* manual-reset: the native handle */
  HANDLE bell, bell_wait;
  HANDLE timer, timer_wait;
  volatile LONG kicked, rang, timed;
  struct ent **ents;
  size_t n, cap, rot, nready;
};

/* ---- registered waits ---------------------------------------------------- */

static void CALLBACK on_fire(void *arg, BOOLEAN timed_out) {
  struct ent *x = arg;
  (void)timed_out;
  InterlockedExchange(&x->fired, 1);
  SetEvent(x->o->ready);
}

/* The doorbell and the timer (auto-reset, standing waits): a flag each. */
static void CALLBACK bell_fire(void *arg, BOOLEAN timed_out) {
  xipc__wos *o = arg;
  (void)timed_out;
  InterlockedExchange(&o->rang, 1);
  SetEvent(o->ready);
}

static void CALLBACK timer_fire(void *arg, BOOLEAN timed_out) {
  xipc__wos *o = arg;
  (void)timed_out;
  InterlockedExchange(&o->timed, 1);
  SetEvent(o->ready);
}

static int arm(struct ent *x, int i) {
  if (x->wait[i] != NULL)
    return 0;
  if (!RegisterWaitForSingleObject(&x->wait[i], x->obj[i], on_fire, x,
                                   INFINITE,
                                   WT_EXECUTEONLYONCE | WT_EXECUTEINWAITTHREAD)) {
    x->wait[i] = NULL;
    return xipc__fail_os();
  }
  return 0;
}

static void disarm(struct ent *x, int i) {
  if (x->wait[i] != NULL)
    UnregisterWaitEx(x->wait[i], INVALID_HANDLE_VALUE);
  x->wait[i] = NULL;
}

static bool signaled(HANDLE h) { return WaitForSingleObject(h, 0) == WAIT_OBJECT_0; }

/* Disarms source i if its object is signaled (its callback has run or is
 * about to; the object stays signaled: not for a caller's handle). */
static bool take_signaled(struct ent *x, int i) {
  if (!signaled(x->obj[i]))
    return false;
  disarm(x, i);
  return true;
}

/* ---- streams ------------------------------------------------------------- */

/* The drain thread of a WRITABLE stream entry: each `go` runs one
 * FlushFileBuffers (it returns once the reader has taken every byte, or
 * fails when the reader is gone or it is cancelled) and sets `done`, which
 * the entry's registered wait watches. One thread per entry, made when the
 * entry first needs it, so a set that checks a writable pipe at every wait
 * does not make a thread each time. */
static DWORD WINAPI drain_main(void *arg) {
  struct ent *x = arg;
  HANDLE h = (HANDLE)xipc__stream_os_handle(x->e->o.stream);
  while (WaitForSingleObject(x->go, INFINITE) == WAIT_OBJECT_0 && !x->quit) {
    x->flush_err = FlushFileBuffers(h) ? 0 : GetLastError();
    SetEvent(x->obj[WR]);
  }
  return 0;
}

/* Ends the drain thread (cancelling a flush that still runs). */
static void drain_end(struct ent *x) {
  disarm(x, WR);
  x->draining = false;
  if (x->drainer == NULL)
    return;
  x->quit = true;
  SetEvent(x->go);
  /* It may not be in FlushFileBuffers yet: cancel until it has ended. */
  while (WaitForSingleObject(x->drainer, 1) == WAIT_TIMEOUT)
    CancelSynchronousIo(x->drainer);
  CloseHandle(x->drainer);
  x->drainer = NULL;
  x->quit = false;
}

/* xipc_stream_shutdown is about to close the write end's handle. */
static void drain_halt(void *arg) { drain_end(arg); }

static void drain_stop(struct ent *x) {
  xipc__stream_set_wstop(x->e->o.stream, NULL, NULL);
  drain_end(x);
  if (x->go != NULL)
    CloseHandle(x->go);
  if (x->obj[WR] != NULL)
    CloseHandle(x->obj[WR]);
}

static int drain_thread(struct ent *x) {
  if (x->drainer == NULL &&
      (x->drainer = CreateThread(NULL, 64 * 1024, drain_main, x,
                                 STACK_SIZE_PARAM_IS_A_RESERVATION, NULL)) ==
          NULL)
    return xipc__fail_os();
  return 0;
}

static int drain_start(struct ent *x) {
  if (xipc__stream_os_handle(x->e->o.stream) == -1)
    return 0; /* shut down: xipc__stream_wlevel says HANGUP */
  int rc = drain_thread(x);
  if (rc != 0)
    return rc;
  ResetEvent(x->obj[WR]);
  x->drain_seq = xipc__stream_wseq(x->e->o.stream);
  x->draining = true;
  SetEvent(x->go);
  return arm(x, WR);
}

static int stream_read_look(struct ent *x, unsigned *ev) {
  unsigned r = 0;
  if (x->wait[RD] != NULL)
    take_signaled(x, RD);
  int rc = xipc__stream_zread(x->e->o.stream, x->rev, true, &r);
  if (rc == 0 && r == 0)
    rc = arm(x, RD); /* pending: its completion sets rev */
  else if (rc == 0)
    disarm(x, RD);
  *ev |= r;
  return rc;
}

/* WRITABLE: the write quota's room (Windows), else "the pipe was empty and
 * nothing was written since": a drain that started at write count
 * drain_seq and ended without error. */
static int stream_write_look(struct ent *x, unsigned *ev) {
  xipc_stream *s = x->e->o.stream;
  unsigned w = 0;
  if (x->draining) {
    if (!take_signaled(x, WR))
      return 0; /* still draining */
    x->draining = false;
    if (x->flush_err == 0) {
      x->empty_seq = x->drain_seq;
      x->empty_known = true;
    } else if (x->flush_err != ERROR_OPERATION_ABORTED) {
      w = XIPC_WAIT_WRITABLE | XIPC_WAIT_HANGUP; /* a write fails at once */
    }
  }
  if (w == 0)
    w = xipc__stream_wlevel(s);
  if (w == 0 && x->empty_known && xipc__stream_wseq(s) == x->empty_seq)
    w = XIPC_WAIT_WRITABLE;
  if (w == 0 && !x->draining) {
    int rc = drain_start(x);
    if (rc != 0)
      return rc;
    /* An empty pipe drains at once: give the thread DRAIN_PEEK_MS, so that
     * a look with timeout 0 at an empty pipe says WRITABLE. A full pipe
     * costs that once per drain, not per wait. */
    DWORD peek = x->empty_known ? DRAIN_PEEK_MS : DRAIN_FIRST_PEEK_MS;
    if (x->draining && WaitForSingleObject(x->obj[WR], peek) == WAIT_OBJECT_0)
      return stream_write_look(x, ev);
  }
  *ev |= w;
  return 0;
}

static int stream_look(struct ent *x, unsigned *ev) {
  int rc = 0;
  if (x->e->events & XIPC_WAIT_READABLE)
    rc = stream_read_look(x, ev);
  if (rc == 0 && (x->e->events & XIPC_WAIT_WRITABLE))
    rc = stream_write_look(x, ev);
  return rc;
}

static int stream_add(struct ent *x) {
  xipc_stream *s = x->e->o.stream;
  if (xipc__stream_os_sync(s))
    return xipc__fail(XIPC_ENOTSUP);
  if (xipc__stream_os_handle(s) == -1)
    return xipc__fail(XIPC_EINVAL);
  x->src = SRC_STREAM;
  x->nobj = 2;
  if ((x->e->events & XIPC_WAIT_READABLE) &&
      (x->rev = x->obj[RD] = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL)
    return xipc__fail_os();
  if ((x->e->events & XIPC_WAIT_WRITABLE) &&
      ((x->obj[WR] = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL ||
       (x->go = CreateEventW(NULL, FALSE, FALSE, NULL)) == NULL))
    return xipc__fail_os();
  if (!(x->e->events & XIPC_WAIT_WRITABLE))
    return 0;
  xipc__stream_set_wstop(s, drain_halt, x);
  return drain_thread(x); /* now, so that the first drain starts at once */
}

/* ---- sockets ------------------------------------------------------------- */

static bool is_socket(intptr_t h) {
  int type = 0, len = sizeof type;
  return getsockopt((SOCKET)h, SOL_SOCKET, SO_TYPE, (char *)&type, &len) == 0;
}

static int socket_add(struct ent *x) {
  long mask = 0;
  x->src = SRC_SOCKET;
  x->sock = (SOCKET)x->e->o.native;
  x->nobj = 1;
  if (x->e->events & XIPC_WAIT_READABLE)
    mask |= FD_READ | FD_ACCEPT | FD_CLOSE;
  if (x->e->events & XIPC_WAIT_WRITABLE)
    mask |= FD_WRITE | FD_CONNECT | FD_CLOSE;
  if ((x->obj[0] = WSACreateEvent()) == WSA_INVALID_EVENT) {
    x->obj[0] = NULL;
    return xipc__fail_os();
  }
  if (WSAEventSelect(x->sock, x->obj[0], mask) != 0)
    return xipc__fail_os();
  return 0;
}

static int socket_look(struct ent *x, unsigned *ev) {
  WSANETWORKEVENTS ne;
  fd_set rd, wr, ex;
  struct timeval zero = {0, 0};
  take_signaled(x, 0);
  if (WSAEnumNetworkEvents(x->sock, x->obj[0], &ne) == 0 &&
      (ne.lNetworkEvents & FD_CLOSE))
    x->hup = true;
  FD_ZERO(&rd);
  FD_ZERO(&wr);
  FD_ZERO(&ex);
  FD_SET(x->sock, &rd);
  FD_SET(x->sock, &wr);
  FD_SET(x->sock, &ex);
  if (select(0, &rd, &wr, &ex, &zero) == SOCKET_ERROR)
    return xipc__fail_os();
  unsigned e = 0;
  if (FD_ISSET(x->sock, &rd))
    e |= XIPC_WAIT_READABLE;
  if (FD_ISSET(x->sock, &wr))
    e |= XIPC_WAIT_WRITABLE;
  e &= x->e->events;
  if (x->hup || FD_ISSET(x->sock, &ex)) /* closed, or a connect failed */
    e |= XIPC_WAIT_HANGUP;
  *ev |= e;
  return e == 0 ? arm(x, 0) : 0;
}

/* ---- native handles, processes, listeners -------------------------------- */

static int native_add(struct ent *x) {
  DWORD info;
  if (x->e->o.native == 0 || x->e->o.native == -1)
    return xipc__fail(XIPC_EINVAL);
  if (is_socket(x->e->o.native))
    return socket_add(x);
  if (x->e->events != XIPC_WAIT_READABLE)
    return xipc__fail(XIPC_EINVAL);
  if (!GetHandleInformation((HANDLE)x->e->o.native, &info))
    return xipc__fail_os_as(XIPC_EINVAL);
  x->src = SRC_HANDLE;
  x->nobj = 1;
  x->obj[0] = (HANDLE)x->e->o.native;
  return 0;
}

/* A caller's handle: its registered wait reset an auto-reset object, so
 * a firing is reported as it is; while it is reported, each look asks
 * WaitForSingleObject(h, 0), which sees a manual-reset object that stays
 * signaled (level) and takes a new signal of an auto-reset one (which is
 * then reported, as any wait would take it); otherwise it is armed. */
static int handle_look(struct ent *x, bool fired, unsigned *ev) {
  if (fired || (x->wait[0] == NULL && signaled(x->obj[0]))) {
    disarm(x, 0);
    *ev |= XIPC_WAIT_READABLE;
    return 0;
  }
  return arm(x, 0);
}

static int any_look(struct ent *x, unsigned *ev, unsigned what) {
  bool any = false;
  for (int i = 0; i < x->nobj; i++)
    any |= x->wait[i] == NULL ? signaled(x->obj[i]) : take_signaled(x, i);
  if (!any) {
    for (int i = 0; i < x->nobj; i++) {
      int rc = arm(x, i);
      if (rc != 0)
        return rc;
    }
    return 0;
  }
  *ev |= what;
  return 0;
}

static int listener_look(struct ent *x, unsigned *ev) {
  if (signaled(x->obj[0])) { /* shut down */
    *ev |= XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP;
    for (int i = 0; i < x->nobj; i++)
      disarm(x, i);
    return 0;
  }
  return any_look(x, ev, XIPC_WAIT_READABLE);
}

/* What entry x is ready for now (0: nothing; its sources are armed). */
static int look(struct ent *x, bool fired, unsigned *ev) {
  *ev = 0;
  switch (x->src) {
  case SRC_HANDLE:
    return handle_look(x, fired, ev);
  case SRC_SOCKET:
    return socket_look(x, ev);
  case SRC_STREAM:
    return stream_look(x, ev);
  case SRC_LISTENER:
    return listener_look(x, ev);
  default:
    return any_look(x, ev, XIPC_WAIT_READABLE);
  }
}

/* ---- open, close --------------------------------------------------------- */

static int bell_create(xipc__wos *o, uint32_t *bell) {
  wchar_t name[64];
  for (int tries = 0; tries < 64; tries++) {
    uint32_t id = 0;
    if (!RtlGenRandom(&id, sizeof id))
      return xipc__fail_os();
    if (id == 0)
      continue;
    swprintf(name, sizeof name / sizeof name[0], L"xipc.bell.%lx.%lx",
             (unsigned long)GetCurrentProcessId(), (unsigned long)id);
    HANDLE h = CreateEventW(NULL, TRUE, FALSE, name); /* see bell_take */
    if (h == NULL && GetLastError() == ERROR_ACCESS_DENIED)
      continue; /* another user's object has the name: another id */
    if (h == NULL)
      return xipc__fail_os();
    if (GetLastError() != ERROR_ALREADY_EXISTS) {
      o->bell = h;
      *bell = id;
      return 0;
    }
    CloseHandle(h); /* another waitset's, or a squatter's: another id */
  }
  return xipc__fail(XIPC_EIO);
}

static int bell_arm(xipc__wos *o) {
  if (!RegisterWaitForSingleObject(&o->bell_wait, o->bell, bell_fire, o,
                                   INFINITE,
                                   WT_EXECUTEONLYONCE | WT_EXECUTEINWAITTHREAD)) {
    o->bell_wait = NULL;
    return xipc__fail_os();
  }
  return 0;
}

/* Whether the doorbell rang; arms its wait again. The bell is a
 * manual-reset event (api/internal.h says auto-reset; a producer only
 * sets it either way): a wait of the thread pool on an auto-reset event
 * takes the signal the moment SetEvent runs, so a look with timeout 0 just
 * after a put in the same thread could miss it until the pool thread has
 * run its callback. This looks at the event itself and resets it before
 * api/ checks the queues (a ring after the reset sets it again). */
static int bell_take(xipc__wos *o, bool *rang) {
  bool fired = InterlockedExchange(&o->rang, 0) != 0;
  *rang = fired || signaled(o->bell);
  if (*rang)
    ResetEvent(o->bell);
  if (!fired)
    return 0;
  UnregisterWaitEx(o->bell_wait, INVALID_HANDLE_VALUE);
  o->bell_wait = NULL;
  return bell_arm(o);
}

static int wos_setup(xipc__wos *o, uint32_t *bell) {
  if ((o->ready = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL ||
      (o->timer = CreateWaitableTimerW(NULL, FALSE, NULL)) == NULL)
    return xipc__fail_os();
  int rc = bell_create(o, bell);
  if (rc != 0)
    return rc;
  if ((rc = bell_arm(o)) != 0)
    return rc;
  if (!RegisterWaitForSingleObject(&o->timer_wait, o->timer, timer_fire, o,
                                   INFINITE, WT_EXECUTEINWAITTHREAD)) {
    o->timer_wait = NULL;
    return xipc__fail_os();
  }
  return 0;
}

int xipc__wos_open(xipc__wos **out, uint32_t *bell) {
  xipc__wos *o = calloc(1, sizeof *o);
  if (o == NULL)
    return xipc__fail(XIPC_ENOMEM);
  int rc = wos_setup(o, bell);
  if (rc != 0) {
    xipc__wos_close(o);
    return rc;
  }
  *out = o;
  return 0;
}

void xipc__wos_close(xipc__wos *o) {
  if (o->bell_wait != NULL)
    UnregisterWaitEx(o->bell_wait, INVALID_HANDLE_VALUE);
  if (o->timer_wait != NULL)
    UnregisterWaitEx(o->timer_wait, INVALID_HANDLE_VALUE);
  if (o->bell != NULL)
    CloseHandle(o->bell);
  if (o->timer != NULL)
    CloseHandle(o->timer);
  if (o->ready != NULL)
    CloseHandle(o->ready);
  free(o->ents);
  free(o);
}

/* ---- add, remove --------------------------------------------------------- */

static int ent_setup(struct ent *x) {
  xipc__went *e = x->e;
  switch (e->kind) {
  case XIPC__WE_PROC:
    x->src = SRC_PROC;
    x->nobj = 1;
    x->obj[0] = xipc__proc_os_process(e->o.proc);
    return 0;
  case XIPC__WE_LISTENER:
    x->src = SRC_LISTENER;
    x->nobj = xipc__listener_os_events(e->o.listener, x->obj);
    return 0;
  case XIPC__WE_STREAM:
    return stream_add(x);
  case XIPC__WE_NATIVE:
    return native_add(x);
  default:
    return xipc__fail(XIPC_EINVAL);
  }
}

static void ent_free(struct ent *x) {
  for (int i = 0; i < x->nobj; i++)
    disarm(x, i);
  if (x->src == SRC_STREAM) {
    xipc__stream_zread_cancel(x->e->o.stream);
    drain_stop(x);
    if (x->rev != NULL)
      CloseHandle(x->rev);
  }
  if (x->src == SRC_SOCKET && x->obj[0] != NULL) {
    WSAEventSelect(x->sock, NULL, 0);
    WSACloseEvent(x->obj[0]);
  }
  free(x);
}

static int ent_push(xipc__wos *o, struct ent *x) {
  if (o->n == o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 16;
    struct ent **p = realloc(o->ents, cap * sizeof *p);
    if (p == NULL)
      return xipc__fail(XIPC_ENOMEM);
    o->ents = p;
    o->cap = cap;
  }
  x->idx = o->n;
  o->ents[o->n++] = x;
  return 0;
}

int xipc__wos_add(xipc__wos *o, xipc__went *e) {
  struct ent *x = calloc(1, sizeof *x);
  if (x == NULL)
    return xipc__fail(XIPC_ENOMEM);
  x->o = o;
  x->e = e;
  int rc = ent_setup(x);
  /* A caller's handle is armed now (looking at it would reset an
   * auto-reset object); the others are looked at by the next wait, which
   * arms what is not ready. */
  if (rc == 0 && x->src == SRC_HANDLE)
    rc = arm(x, 0);
  else
    x->fired = 1;
  if (rc == 0)
    rc = ent_push(o, x);
  if (rc != 0) {
    ent_free(x);
    return rc;
  }
  e->os = x;
  SetEvent(o->ready);
  return 0;
}

void xipc__wos_remove(xipc__wos *o, xipc__went *e) {
  struct ent *x = e->os;
  if (x == NULL)
    return;
  if (x->ready)
    o->nready--;
  o->ents[x->idx] = o->ents[--o->n];
  o->ents[x->idx]->idx = x->idx;
  if (o->rot >= o->n)
    o->rot = 0;
  e->os = NULL;
  ent_free(x);
}

/* ---- wait ---------------------------------------------------------------- */

static void set_ready(xipc__wos *o, struct ent *x, bool ready) {
  if (x->ready != ready)
    o->nready += ready ? 1 : (size_t)-1;
  x->ready = ready;
}

/* Looks at the entries that fired or were ready, from o->rot on, storing
 * up to cap results; *more when it stopped at cap. */
/* For a look with timeout 0: whether an armed entry's object is signaled
 * although its callback has not run yet (the thread pool delivers a
 * firing a little later). Only objects that a look does not reset: not a
 * caller's handle. */
static bool fired_unseen(struct ent *x) {
  /* A caller's handle: asking consumes an auto-reset object's signal, so
   * collect reports what this saw as a firing (documented: the wait that
   * sees an auto-reset object resets it). */
  if (x->src == SRC_HANDLE)
    return x->wait[0] != NULL && signaled(x->obj[0]);
  for (int i = 0; i < x->nobj; i++)
    if (x->wait[i] != NULL && signaled(x->obj[i]))
      return true;
  return false;
}

/* Whether a look will report something anyway (no system call). */
static bool any_fired(const xipc__wos *o) {
  for (size_t i = 0; i < o->n; i++)
    if (o->ents[i]->ready || o->ents[i]->fired != 0)
      return true;
  return false;
}

/* A look that returns (timeout 0, or something fired or is ready) also
 * sweeps the armed entries (fired_unseen), so that it reports every entry
 * that is ready now, not only those whose callbacks have run: O(entries)
 * WaitForSingleObject(h, 0) calls per returning wait, none while idle. */
static int collect(xipc__wos *o, xipc__wready *out, size_t cap, size_t *n,
                   bool sweep, bool *more) {
  size_t last = o->rot, total = o->n;
  sweep = sweep || any_fired(o);
  for (size_t k = 0; k < total; k++) {
    struct ent *x = o->ents[(o->rot + k) % total];
    bool idle = !x->ready && x->fired == 0;
    if (idle && (!sweep || (x->src != SRC_HANDLE && !fired_unseen(x))))
      continue;
    if (*n == cap) {
      *more = true;
      break;
    }
    /* Asked only now, when it can be reported: see fired_unseen. */
    bool seen_handle = idle && x->src == SRC_HANDLE;
    if (seen_handle && !fired_unseen(x))
      continue;
    bool fired = InterlockedExchange(&x->fired, 0) != 0 || seen_handle;
    unsigned ev = 0;
    int rc = look(x, fired, &ev);
    if (rc != 0)
      return rc;
    set_ready(o, x, ev != 0);
    if (ev != 0) {
      out[*n].e = x->e;
      out[(*n)++].events = ev;
      last = x->idx;
    }
  }
  if (*n > 0 && total > 0)
    o->rot = (last + 1) % total;
  return 0;
}

int xipc__wos_wait(xipc__wos *o, uint64_t deadline, xipc__wready *out,
                   size_t cap, size_t *n, uint32_t *bells, size_t bcap,
                   size_t *nb, bool *kicked) {
  (void)bells;
  (void)bcap; /* the event carries no cookies */
  *n = 0;
  *nb = 0;
  *kicked = false;
  for (;;) {
    bool more = false;
    ResetEvent(o->ready);
    /* A look whose deadline has come (timeout 0 arrives as "now") sweeps. */
    int rc = collect(o, out, cap, n, xipc__left_ns(deadline) == 0, &more);
    if (rc != 0)
      return rc;
    *kicked = InterlockedExchange(&o->kicked, 0) != 0;
    bool rang = false;
    if ((rc = bell_take(o, &rang)) != 0)
      return rc;
    if (rang)
      *nb = SIZE_MAX;
    bool timed = InterlockedExchange(&o->timed, 0) != 0;
    if (more || o->nready > 0)
      SetEvent(o->ready); /* the native handle: something is ready */
    if (*n > 0 || *kicked || *nb > 0 || timed || xipc__left_ns(deadline) == 0)
      return 0;
    int left = xipc__left_ms(deadline);
    DWORD r = WaitForSingleObject(o->ready, left < 0 ? INFINITE : (DWORD)left);
    if (r == WAIT_FAILED)
      return xipc__fail_os();
  }
}

void xipc__wos_kick(xipc__wos *o) {
  InterlockedExchange(&o->kicked, 1);
  SetEvent(o->ready);
}

/* On: `ready` is set; off needs nothing, since every wait resets `ready`
 * and sets it again only while something is ready. */
void xipc__wos_pending(xipc__wos *o, bool on) {
  if (on)
    SetEvent(o->ready);
}

intptr_t xipc__wos_native(xipc__wos *o) { return (intptr_t)o->ready; }

int xipc__wos_timer(xipc__wos *o, uint64_t deadline) {
  if (deadline == UINT64_MAX)
    return CancelWaitableTimer(o->timer) ? 0 : xipc__fail_os();
  uint64_t now = xipc__now_ns();
  LARGE_INTEGER due; /* relative, in 100 ns units; QPC is not the timer's clock */
  due.QuadPart = deadline > now ? -(LONGLONG)((deadline - now + 99) / 100) : -1;
  InterlockedExchange(&o->timed, 0);
  return SetWaitableTimer(o->timer, &due, 0, NULL, NULL, FALSE) ? 0
                                                                 : xipc__fail_os();
}
