/* Local endpoints on Windows: named pipes \\.\pipe\xipc.<name>.
 *
 * The pipe. Each instance is created overlapped, duplex, of message type
 * and read in message mode (win32/stream.c says why: it is how a
 * connection's shutdown reaches the peer as end of stream), with
 * PIPE_REJECT_REMOTE_CLIENTS and an explicit security descriptor: owner the
 * creating user (TokenUser), DACL protected, granting that user and SYSTEM
 * all access, and with XIPC_LISTEN_ANY_USER also Everyone read, write-data
 * and write-attributes. Everyone does not get FILE_CREATE_PIPE_INSTANCE
 * (FILE_APPEND_DATA, part of GENERIC_WRITE), so other users cannot add
 * instances of their own to the name. The first instance is created with
 * FILE_FLAG_FIRST_PIPE_INSTANCE: a squatter that made the name first makes
 * xipc_listen fail with XIPC_EEXIST (under Wine, which ignores the flag,
 * only if the squatter's pipe is of byte type: Wine gives every instance
 * the type of the first, and listen checks it). The listener keeps up to
 * MAX_SLOTS instances in an overlapped ConnectNamedPipe at once and replaces
 * each as accept takes it, so concurrent connects find a free instance; a
 * client that finds them all busy waits with WaitNamedPipeW within its timeout.
 *
 * The lock. Wine 8 ignores FILE_FLAG_FIRST_PIPE_INSTANCE and does not
 * enforce pipe DACLs (ci/wine-probes/FINDINGS.md, items 2 and 4), so the
 * guarantees hang on a second object that Wine does enforce: a small named
 * section "<name>.xlsn" (session namespace, like xipc's other objects),
 * created exclusively (an existing one is XIPC_EEXIST) with an owner-only
 * DACL (Everyone may read it with XIPC_LISTEN_ANY_USER), holding a record
 * with the listener's pid. Only the listener holds it for long, so it dies
 * with the listener's process and the name is free at once; if a client
 * (or anyone who may read it) still holds it, a new listen of the same
 * user takes over a lock whose listener is closing or dead, exchanging
 * the pid atomically so that only one listen wins. A client reads
 * the record first (no record: XIPC_ENOENT; a record of another user:
 * XIPC_EACCES unless XIPC_CONNECT_ANY_USER), opens the pipe, and accepts
 * it only if GetNamedPipeServerProcessId is the recorded pid: an instance
 * that a squatter created under the name is closed at once, before
 * anything is sent, and the client tries again (XIPC_EACCES after
 * MAX_MISMATCH squatter instances). The client opens the pipe with
 * SECURITY_IDENTIFICATION, so a squatter's server cannot impersonate it.
 * The listener, for its part, drops a client whose process token is not
 * its own user (unless XIPC_LISTEN_ANY_USER), which Wine's unenforced
 * DACL would let in.
 *
 * Threads. accept may run in several threads at once and shutdown in any
 * thread: each slot's event is manual-reset, taking a connected instance
 * out of its slot (and re-arming the slot) happens under the listener's
 * critical section, and shutdown cancels and closes the instances under
 * the same section and sets the stop event that every accept waits on. */
#include "win32.h"

#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_SLOTS 16   /* instances waiting in ConnectNamedPipe */
#define MAX_MISMATCH 8 /* squatter instances a client skips */
#define PIPE_BUFFER 65536u
#define LOCK_MAGIC 0x4e534c58u /* "XLSN" */
#define LOCK_VERSION 1u
#define LOCK_WAIT_MS 200 /* how long listen waits for a lock to be filled */
#define CONNECT_POLL_MS 10

/* Everyone's rights with XIPC_LISTEN_ANY_USER: on the pipe FILE_GENERIC_READ
 * | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES (no FILE_CREATE_PIPE_INSTANCE);
 * on the lock SECTION_QUERY | SECTION_MAP_READ | READ_CONTROL. */
#define PIPE_ANY_USER_ACE L"(A;;0x12018b;;;WD)"
#define LOCK_ANY_USER_ACE L"(A;;0x20005;;;WD)"
#define CLIENT_ACCESS (GENERIC_READ | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES)

enum { LOCK_STARTING = 0, LOCK_LIVE = 1, LOCK_CLOSING = 2 };

/* The record in the lock section (only ever grows at the end). */
struct lock_rec {
  uint32_t magic, version, size;
  volatile LONG state; /* LOCK_* */
  volatile LONG pid;   /* the listener's process */
};

/* xipc__listen_os_foreign_for_testing */
static volatile LONG foreign_for_testing;

struct slot {
  HANDLE h;  /* the pending instance; NULL when empty */
  HANDLE ev; /* manual-reset, the ConnectNamedPipe's event */
  OVERLAPPED ov;
  bool connected; /* ConnectNamedPipe said ERROR_PIPE_CONNECTED */
};

struct xipc_listener {
  wchar_t *pipe;           /* \\.\pipe\xipc.<name> */
  wchar_t *lock_name;      /* <name>.xlsn */
  HANDLE lock;             /* the lock section */
  struct lock_rec *rec;    /* its view */
  PSECURITY_DESCRIPTOR sd; /* the pipe's */
  PSID user;               /* TokenUser (LocalAlloc'ed copy) */
  bool any_user;
  HANDLE stop;         /* manual-reset, set by shutdown */
  CRITICAL_SECTION cs; /* slots, closed */
  volatile LONG closed;
  volatile LONG inside; /* threads in accept */
  int nslots;
  struct slot slots[MAX_SLOTS];
  unsigned watchers; /* waitsets watching l (api/waitset.c) */
};

/* ---- names, identities, security descriptors ----------------------------- */

/* swprintf(fmt, wide name) into a new string; NULL with *err on failure. */
static wchar_t *derive(const char *name, const wchar_t *fmt, int *err) {
  wchar_t *w = xipc__utf8_to_wide(name, err);
  if (w == NULL)
    return NULL;
  size_t n = wcslen(w) + wcslen(fmt) + 1;
  wchar_t *out = malloc(n * sizeof *out);
  if (out == NULL)
    *err = xipc__fail(XIPC_ENOMEM);
  else
    swprintf(out, n, fmt, w);
  free(w);
  return out;
}

/* The user of process pid (LocalAlloc'ed), or NULL if it cannot be told. */
static PSID process_user(DWORD pid) {
  HANDLE p = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  HANDLE tok;
  PSID sid = NULL;
  if (p == NULL)
    return NULL;
  if (OpenProcessToken(p, TOKEN_QUERY, &tok)) {
    sid = xipc__token_user(tok);
    CloseHandle(tok);
  }
  CloseHandle(p);
  return sid;
}

/* An SD owned by user, protected DACL: SYSTEM and user all access, plus
 * the ACE `extra` (may be empty). */
static int make_sd(PSID user, const wchar_t *extra, PSECURITY_DESCRIPTOR *sd) {
  wchar_t *me = NULL, sddl[512];
  if (!ConvertSidToStringSidW(user, &me))
    return xipc__fail_os();
  swprintf(sddl, sizeof sddl / sizeof sddl[0],
           L"O:%lsD:P(A;;GA;;;SY)(A;;GA;;;%ls)%ls", me, me, extra);
  LocalFree(me);
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(
          sddl, SDDL_REVISION_1, sd, NULL))
    return xipc__fail_os();
  return 0;
}

/* ---- the lock ------------------------------------------------------------ */

static bool process_alive(DWORD pid) {
  HANDLE p = OpenProcess(SYNCHRONIZE, FALSE, pid);
  if (p == NULL) /* gone, or not ours to open (then it is alive) */
    return GetLastError() == ERROR_ACCESS_DENIED;
  bool alive = WaitForSingleObject(p, 0) == WAIT_TIMEOUT;
  CloseHandle(p);
  return alive;
}

/* Fills a new lock record with our pid (state LOCK_STARTING). */
static void lock_fill(struct lock_rec *r) {
  r->magic = LOCK_MAGIC;
  r->version = LOCK_VERSION;
  r->size = sizeof(struct lock_rec);
  InterlockedExchange(&r->pid, (LONG)GetCurrentProcessId());
}

/* The lock section m existed already. If it is ours and its listener is
 * closing or has died (a client was reading it at that moment, or holds
 * it still), takes it over: 0 with l->lock and l->rec set, 1 to look again
 * (its creator is still filling it), or XIPC_EEXIST (a live listener, or
 * not a listener's lock). Only one of several listens that find the same
 * dead lock wins the exchange of the pid. */
static int adopt_lock(xipc_listener *l, HANDLE m, PSECURITY_DESCRIPTOR sd) {
  if (xipc__check_owner(m, 0) != 0)
    return xipc__fail(XIPC_EEXIST);
  struct lock_rec *v = MapViewOfFile(m, FILE_MAP_WRITE, 0, 0, 0);
  if (v == NULL)
    return xipc__fail_os_as(XIPC_EEXIST);
  struct lock_rec r = *v;
  int rc = xipc__fail(XIPC_EEXIST);
  if (r.magic == 0)
    rc = 1;
  else if (r.magic == LOCK_MAGIC && r.size >= sizeof r &&
           (r.state == LOCK_CLOSING || !process_alive((DWORD)r.pid)) &&
           InterlockedCompareExchange(&v->pid, (LONG)GetCurrentProcessId(),
                                      r.pid) == r.pid) {
    InterlockedExchange(&v->state, LOCK_STARTING);
    /* Our DACL, not the dead listener's (XIPC_LISTEN_ANY_USER may differ). */
    SetKernelObjectSecurity(m, DACL_SECURITY_INFORMATION, sd);
    l->lock = m;
    l->rec = v;
    return 0;
  }
  UnmapViewOfFile(v);
  return rc;
}

/* Creates the lock section exclusively and publishes our pid in it, or
 * takes over the lock of a dead listener (adopt_lock). */
static int take_lock(xipc_listener *l) {
  PSECURITY_DESCRIPTOR sd = NULL;
  int rc = make_sd(l->user, l->any_user ? LOCK_ANY_USER_ACE : L"", &sd);
  if (rc != 0)
    return rc;
  SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
  uint64_t deadline = xipc__deadline_ns(LOCK_WAIT_MS);
  for (;;) {
    HANDLE m = CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, 0,
                                  sizeof(struct lock_rec), l->lock_name);
    if (m == NULL) {
      /* Access denied: another user's object has the name. */
      rc = GetLastError() == ERROR_ACCESS_DENIED ? xipc__fail_os_as(XIPC_EEXIST)
                                                 : xipc__fail_os();
      break;
    }
    if (GetLastError() != ERROR_ALREADY_EXISTS) {
      l->lock = m;
      if ((l->rec = MapViewOfFile(m, FILE_MAP_WRITE, 0, 0, 0)) == NULL)
        rc = xipc__fail_os();
      else
        lock_fill(l->rec);
      break;
    }
    rc = adopt_lock(l, m, sd);
    if (rc != 0)
      CloseHandle(m);
    if (rc != 1 || xipc__left_ns(deadline) == 0) {
      rc = rc == 1 ? xipc__fail(XIPC_EEXIST) : rc;
      break;
    }
    xipc__sleep_ms(1); /* its creator is a few instructions from filling it */
  }
  LocalFree(sd);
  return rc;
}

/* The pid in the live lock of lock_name: 0, XIPC_ENOENT (no live
 * listener), XIPC_EACCES (another user's, unless any_user). */
static int read_lock(const wchar_t *lock_name, bool any_user, DWORD *pid) {
  HANDLE m = OpenFileMappingW(FILE_MAP_READ | READ_CONTROL, FALSE, lock_name);
  if (m == NULL) {
    DWORD e = GetLastError();
    if (e == ERROR_ACCESS_DENIED) /* another user's owner-only lock */
      return xipc__fail_os_as(XIPC_EACCES);
    return xipc__fail_os_as(XIPC_ENOENT);
  }
  int rc = xipc__check_owner(m, any_user ? XIPC_ANY_OWNER : 0);
  if (rc == 0 && !any_user && foreign_for_testing)
    rc = xipc__fail(XIPC_EACCES);
  const struct lock_rec *v =
      rc == 0 ? MapViewOfFile(m, FILE_MAP_READ, 0, 0, 0) : NULL;
  if (rc == 0 && v == NULL)
    rc = xipc__fail_os();
  if (v != NULL) {
    struct lock_rec r = *v; /* read once, then check the copy */
    UnmapViewOfFile(v);
    if (r.magic != LOCK_MAGIC || r.version < 1 ||
        r.size < sizeof(struct lock_rec) || r.state != LOCK_LIVE || r.pid == 0)
      rc = xipc__fail(XIPC_ENOENT);
    *pid = (DWORD)r.pid;
  }
  CloseHandle(m);
  return rc;
}

/* ---- instances ----------------------------------------------------------- */

/* Creates slot i's instance and starts its ConnectNamedPipe. Under l->cs
 * (or before l is shared). */
static int arm(xipc_listener *l, int i, bool first) {
  struct slot *s = &l->slots[i];
  SECURITY_ATTRIBUTES sa = {sizeof sa, l->sd, FALSE};
  DWORD open_mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED |
                    (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
  DWORD pipe_mode = PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT |
                    PIPE_REJECT_REMOTE_CLIENTS;
  HANDLE h =
      CreateNamedPipeW(l->pipe, open_mode, pipe_mode, PIPE_UNLIMITED_INSTANCES,
                       PIPE_BUFFER, PIPE_BUFFER, 0, &sa);
  if (h == INVALID_HANDLE_VALUE) {
    /* The first instance refused: someone else made the name first. */
    if (first && GetLastError() == ERROR_ACCESS_DENIED)
      return xipc__fail_os_as(XIPC_EEXIST);
    return xipc__fail_os();
  }
  /* Wine gives a new instance the type of the pipe's first one: a byte
   * pipe here means that someone else made the name first. */
  DWORD info = 0;
  if (first && (!GetNamedPipeInfo(h, &info, NULL, NULL, NULL) ||
                !(info & PIPE_TYPE_MESSAGE))) {
    CloseHandle(h);
    return xipc__fail(XIPC_EEXIST);
  }
  memset(&s->ov, 0, sizeof s->ov);
  s->ov.hEvent = s->ev;
  s->connected = false;
  if (ConnectNamedPipe(h, &s->ov) || GetLastError() == ERROR_PIPE_CONNECTED) {
    s->connected = true; /* a client came between create and connect */
    SetEvent(s->ev);
  } else if (GetLastError() != ERROR_IO_PENDING) {
    int rc = xipc__fail_os();
    CloseHandle(h);
    return rc;
  }
  s->h = h;
  return 0;
}

/* Cancels and closes slot i's instance. Under l->cs. */
static void disarm(xipc_listener *l, int i) {
  struct slot *s = &l->slots[i];
  DWORD n;
  if (s->h == NULL)
    return;
  if (!s->connected && CancelIoEx(s->h, &s->ov))
    GetOverlappedResult(s->h, &s->ov, &n, TRUE);
  CloseHandle(s->h);
  s->h = NULL;
  ResetEvent(s->ev);
}

/* ---- listen -------------------------------------------------------------- */

static void listener_free(xipc_listener *l) {
  for (int i = 0; i < MAX_SLOTS; i++)
    if (l->slots[i].ev != NULL)
      CloseHandle(l->slots[i].ev);
  if (l->stop != NULL) {
    CloseHandle(l->stop);
    DeleteCriticalSection(&l->cs);
  }
  if (l->sd != NULL)
    LocalFree(l->sd);
  if (l->user != NULL)
    LocalFree(l->user);
  free(l->pipe);
  free(l->lock_name);
  free(l);
}

/* Everything but the instances and the lock. */
static int listener_new(xipc_listener **out, const char *name,
                        const xipc_listen_options *opts) {
  int rc = 0;
  HANDLE tok;
  xipc_listener *l = calloc(1, sizeof *l);
  if (l == NULL)
    return xipc__fail(XIPC_ENOMEM);
  unsigned backlog = opts->backlog == 0 ? 64 : opts->backlog;
  l->nslots = backlog < MAX_SLOTS ? (int)backlog : MAX_SLOTS;
  l->any_user = (opts->flags & XIPC_LISTEN_ANY_USER) != 0;
  if ((l->pipe = derive(name, L"\\\\.\\pipe\\xipc.%ls", &rc)) == NULL ||
      (l->lock_name = derive(name, L"%ls" XIPC__LISTENER_SUFFIX, &rc)) == NULL)
    goto fail;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
    rc = xipc__fail_os();
    goto fail;
  }
  l->user = xipc__token_user(tok);
  CloseHandle(tok);
  if (l->user == NULL) {
    rc = xipc__fail_os();
    goto fail;
  }
  if ((rc = make_sd(l->user, l->any_user ? PIPE_ANY_USER_ACE : L"", &l->sd)))
    goto fail;
  for (int i = 0; i < l->nslots; i++)
    if ((l->slots[i].ev = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL) {
      rc = xipc__fail_os();
      goto fail;
    }
  if ((l->stop = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL) {
    rc = xipc__fail_os();
    goto fail;
  }
  InitializeCriticalSection(&l->cs);
  *out = l;
  return 0;
fail:
  listener_free(l);
  return rc;
}

int xipc__listen_os(xipc_listener **out, const char *name,
                    const xipc_listen_options *opts) {
  xipc_listener *l = NULL;
  int rc = listener_new(&l, name, opts);
  if (rc != 0)
    return rc;
  if ((rc = take_lock(l)) != 0)
    goto fail;
  for (int i = 0; i < l->nslots; i++)
    if ((rc = arm(l, i, i == 0)) != 0)
      goto fail;
  InterlockedExchange(&l->rec->state, LOCK_LIVE);
  *out = l;
  return 0;
fail:
  xipc__listener_os_close(l);
  return rc;
}

/* ---- accept -------------------------------------------------------------- */

/* Takes slot i's instance if a client has connected to it: 0 with *h, 1
 * if there is nothing to take (another thread took it, or the client left
 * at once), XIPC_ECLOSED. */
static int take(xipc_listener *l, int i, HANDLE *h) {
  struct slot *s = &l->slots[i];
  DWORD n;
  int rc = 1;
  EnterCriticalSection(&l->cs);
  if (l->closed) {
    rc = XIPC_ECLOSED;
  } else if (s->h != NULL &&
             (s->connected || HasOverlappedIoCompleted(&s->ov))) {
    bool ok = s->connected || GetOverlappedResult(s->h, &s->ov, &n, FALSE);
    *h = s->h;
    s->h = NULL;
    ResetEvent(s->ev);
    if (ok)
      rc = 0;
    else
      CloseHandle(*h);
    arm(l, i, false); /* an empty slot is tried again by the next accept */
  }
  LeaveCriticalSection(&l->cs);
  return rc;
}

/* Re-arms slots whose replacement failed earlier (out of resources). */
static void rearm_empty(xipc_listener *l) {
  EnterCriticalSection(&l->cs);
  for (int i = 0; i < l->nslots && !l->closed; i++)
    if (l->slots[i].h == NULL)
      arm(l, i, false);
  LeaveCriticalSection(&l->cs);
}

/* Whether the client at the server end h may stay: same user as us, or
 * XIPC_LISTEN_ANY_USER. Wine does not enforce the pipe's DACL, so this is
 * what keeps other users out there. */
static bool client_allowed(xipc_listener *l, HANDLE h, ULONG *pid) {
  if (!GetNamedPipeClientProcessId(h, pid))
    return false;
  if (l->any_user)
    return true;
  PSID sid = process_user(*pid);
  bool same = sid != NULL && EqualSid(sid, l->user) && !foreign_for_testing;
  if (sid != NULL)
    LocalFree(sid);
  return same;
}

/* One round: wait for a slot or the stop event. 0 with *out, 1 to go
 * again, or an error. */
static int accept_round(xipc_listener *l, xipc_stream **out, uint64_t deadline,
                        bool zero_timeout) {
  HANDLE hs[1 + MAX_SLOTS];
  HANDLE h;
  ULONG pid = 0;
  hs[0] = l->stop;
  for (int i = 0; i < l->nslots; i++)
    hs[1 + i] = l->slots[i].ev;
  DWORD r = WaitForMultipleObjects((DWORD)(1 + l->nslots), hs, FALSE,
                                   (DWORD)xipc__left_ms(deadline));
  if (r == WAIT_TIMEOUT) {
    if (xipc__left_ns(deadline) > 0)
      return 1; /* Windows ended the wait early */
    return xipc__fail(zero_timeout ? XIPC_EAGAIN : XIPC_ETIMEDOUT);
  }
  if (r == WAIT_OBJECT_0)
    return xipc__fail(XIPC_ECLOSED);
  if (r <= WAIT_OBJECT_0 || r > WAIT_OBJECT_0 + (DWORD)l->nslots)
    return xipc__fail_os();
  int rc = take(l, (int)(r - WAIT_OBJECT_0 - 1), &h);
  if (rc != 0)
    return rc == XIPC_ECLOSED ? xipc__fail(rc) : rc;
  if (!client_allowed(l, h, &pid)) {
    DisconnectNamedPipe(h); /* dropped; keep accepting */
    CloseHandle(h);
    return 1;
  }
  if ((rc = xipc__conn_new(out, h, pid)) != 0)
    CloseHandle(h);
  return rc;
}

int xipc__accept_os(xipc_listener *l, xipc_stream **out, uint64_t deadline,
                    bool zero_timeout) {
  int rc;
  InterlockedIncrement(&l->inside);
  do {
    if (l->closed) {
      rc = xipc__fail(XIPC_ECLOSED);
      break;
    }
    rearm_empty(l);
    rc = accept_round(l, out, deadline, zero_timeout);
  } while (rc == 1);
  InterlockedDecrement(&l->inside);
  return rc;
}

/* ---- shutdown, close ----------------------------------------------------- */

int xipc__listener_os_shutdown(xipc_listener *l) {
  if (InterlockedExchange(&l->closed, 1) != 0)
    return 0;
  SetEvent(l->stop);
  EnterCriticalSection(&l->cs);
  for (int i = 0; i < l->nslots; i++)
    disarm(l, i);
  if (l->rec != NULL) {
    InterlockedExchange(&l->rec->state, LOCK_CLOSING);
    UnmapViewOfFile(l->rec);
    l->rec = NULL;
  }
  if (l->lock != NULL)
    CloseHandle(l->lock);
  l->lock = NULL;
  LeaveCriticalSection(&l->cs);
  return 0;
}

int xipc__listener_os_close(xipc_listener *l) {
  xipc__listener_os_shutdown(l);
  /* The stop event is set: threads in accept leave without blocking. */
  while (InterlockedCompareExchange(&l->inside, 0, 0) != 0)
    Sleep(1);
  listener_free(l);
  return 0;
}

/* ---- waitsets ------------------------------------------------------------ */

unsigned *xipc__listener_watchers(xipc_listener *l) { return &l->watchers; }

/* The stop event and every slot's event. They live as long as l: a slot
 * keeps its event when accept replaces its instance, so the waitset may
 * hold on to them. */
int xipc__listener_os_events(xipc_listener *l, HANDLE *out) {
  out[0] = l->stop;
  for (int i = 0; i < l->nslots; i++)
    out[1 + i] = l->slots[i].ev;
  return 1 + l->nslots;
}

/* ---- connect ------------------------------------------------------------- */

/* The client end of an instance of pipe; NULL with GetLastError set. */
static HANDLE open_client(const wchar_t *pipe) {
  HANDLE h = CreateFileW(pipe, CLIENT_ACCESS, 0, NULL, OPEN_EXISTING,
                         FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT |
                             SECURITY_IDENTIFICATION,
                         NULL);
  return h == INVALID_HANDLE_VALUE ? NULL : h;
}

/* After "no listener" (rc): 1 to try again (XIPC_CONNECT_WAIT with time
 * left, after a short sleep), else rc. */
static int no_listener(int rc, unsigned flags, uint64_t deadline) {
  if (!(flags & XIPC_CONNECT_WAIT) || xipc__left_ns(deadline) == 0)
    return rc;
  int left = xipc__left_ms(deadline);
  xipc__sleep_ms(left < 0 || left > CONNECT_POLL_MS ? CONNECT_POLL_MS
                                                    : (unsigned)left);
  return 1;
}

/* One attempt: 0 with *out, 1 to go again, or an error. */
static int connect_once(xipc_stream **out, const wchar_t *pipe,
                        const wchar_t *lock_name, unsigned flags,
                        uint64_t deadline, bool zero_timeout, int *mismatch) {
  DWORD pid = 0;
  ULONG server = 0;
  int rc = read_lock(lock_name, (flags & XIPC_CONNECT_ANY_USER) != 0, &pid);
  if (rc == XIPC_ENOENT)
    return no_listener(rc, flags, deadline);
  if (rc != 0)
    return rc;
  HANDLE h = open_client(pipe);
  if (h == NULL) {
    DWORD e = GetLastError();
    if (e == ERROR_FILE_NOT_FOUND) /* the listener is starting or closing */
      return no_listener(xipc__fail_os_as(XIPC_ENOENT), flags, deadline);
    if (e != ERROR_PIPE_BUSY)
      return xipc__fail_os();
    if (xipc__left_ns(deadline) == 0)
      return xipc__fail_os_as(zero_timeout ? XIPC_EAGAIN : XIPC_ETIMEDOUT);
    /* Every instance is taken: wait for one (WaitNamedPipeW(0) would mean
     * the pipe's default timeout, hence at least 1 ms). */
    int left = xipc__left_ms(deadline);
    WaitNamedPipeW(pipe, left < 1 || left > 100 ? 100 : (DWORD)left);
    return 1;
  }
  if (!GetNamedPipeServerProcessId(h, &server) || server != pid) {
    CloseHandle(h); /* a squatter's instance: send it nothing */
    return ++*mismatch < MAX_MISMATCH ? 1 : xipc__fail(XIPC_EACCES);
  }
  DWORD mode = PIPE_READMODE_MESSAGE;
  if (!SetNamedPipeHandleState(h, &mode, NULL, NULL))
    rc = xipc__fail_os();
  else
    rc = xipc__conn_new(out, h, server);
  if (rc != 0)
    CloseHandle(h);
  return rc;
}

int xipc__connect_os(xipc_stream **out, const char *name, unsigned flags,
                     uint64_t deadline, bool zero_timeout) {
  int rc = 0, mismatch = 0;
  wchar_t *pipe = derive(name, L"\\\\.\\pipe\\xipc.%ls", &rc);
  wchar_t *lock_name =
      pipe != NULL ? derive(name, L"%ls" XIPC__LISTENER_SUFFIX, &rc) : NULL;
  if (lock_name != NULL)
    do
      rc = connect_once(out, pipe, lock_name, flags, deadline, zero_timeout,
                        &mismatch);
    while (rc == 1);
  free(pipe);
  free(lock_name);
  return rc;
}

bool xipc__listen_os_foreign_for_testing(bool on) {
  InterlockedExchange(&foreign_for_testing, on ? 1 : 0);
  return true;
}
