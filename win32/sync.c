/* Semaphores and robust mutexes on Win32 kernel objects.
 *
 * A semaphore is a named semaphore object "<name>.xsem". A mutex is a named
 * mutex object "<name>.xmtx" plus a small named mapping "<name>.xmst" that
 * holds what Windows does not track: the owner (to refuse recursion, which
 * Windows mutexes allow) and the robust state (owner died / not
 * recoverable), shared by every process. Kernel objects live while a handle
 * is open and a dead process's handles are closed, which is exactly xipc's
 * lifetime contract. Every existing object that is opened (semaphore,
 * mutex, state mapping) must be owned by the caller unless XIPC_ANY_OWNER
 * (xipc__check_owner), so another user cannot plant one at the name. */
#include "win32.h"

#include <stdlib.h>

struct xipc_sem {
  HANDLE sem;
};

/* The mutex state shared by all processes. It is written only by the
 * holder of the mutex (the creator holds a new mutex while it fills the
 * header in), so plain volatile accesses suffice; a non-holder only reads
 * the owner to find that it is not the owner. Any process that opened the
 * mutex can write here, so the header and state are checked on each lock. */
enum { MTX_CONSISTENT = 0, MTX_OWNER_DIED = 1, MTX_NOT_RECOVERABLE = 2 };
#define MTX_MAGIC 0x786d7374u /* "xmst" */
#define MTX_VERSION 1u
typedef struct {
  uint32_t magic, version, size;
  uint32_t state;
  uint32_t owner_pid, owner_tid; /* 0 when unlocked */
} mtx_state;

struct xipc_mutex {
  HANDLE mutex;
  HANDLE section;
  volatile mtx_state *st;
  volatile LONG held; /* locked through this handle */
};

/* ---- shared helpers ---------------------------------------------------- */

/* The derived name in UTF-16 (names are ASCII after the name check). */
static wchar_t *derived_name(const char *name, const char *suffix, int *err) {
  char buf[XIPC_NAME_MAX + 1];
  xipc__sync_name(buf, name, suffix);
  return xipc__utf8_to_wide(buf, err);
}

/* ERROR_INVALID_HANDLE from a Create/Open of a named object means the name
 * belongs to an object of another type; POSIX sees such a name as a mapping
 * with an invalid header, so both report XIPC_ECORRUPT. */
static int fail_named(void) {
  if (GetLastError() == ERROR_INVALID_HANDLE)
    return xipc__fail_os_as(XIPC_ECORRUPT);
  return xipc__fail_os();
}

/* Windows cannot remove the name of a kernel object: it goes away with the
 * last handle. Unlink reports XIPC_ENOTSUP for an existing object and
 * XIPC_ENOENT for a missing one, as xipc_map_unlink does. open_fn is
 * OpenSemaphoreW or OpenMutexW. */
static int unlink_named(const char *name, const char *suffix,
                        HANDLE(WINAPI *open_fn)(DWORD, BOOL, LPCWSTR)) {
  int err = 0;
  wchar_t *wname = derived_name(name, suffix, &err);
  if (wname == NULL)
    return err;
  HANDLE h = open_fn(SYNCHRONIZE, FALSE, wname);
  free(wname);
  if (h == NULL)
    return fail_named();
  CloseHandle(h);
  return xipc__fail(XIPC_ENOTSUP);
}

/* ---- semaphores -------------------------------------------------------- */

/* Closes h and returns NULL with *err set when h is another user's. */
static HANDLE owned_or_null(HANDLE h, unsigned flags, int *err) {
  *err = xipc__check_owner(h, flags);
  if (*err == 0)
    return h;
  CloseHandle(h);
  return NULL;
}

static HANDLE sem_handle(const wchar_t *wname, unsigned initial,
                         unsigned flags, int *err) {
  HANDLE h;
  if (!(flags & XIPC_CREATE)) {
    h = OpenSemaphoreW(SYNCHRONIZE | SEMAPHORE_MODIFY_STATE | READ_CONTROL,
                       FALSE, wname);
    if (h == NULL)
      *err = fail_named();
    return h ? owned_or_null(h, flags, err) : NULL;
  }
  h = CreateSemaphoreW(NULL, (LONG)initial, (LONG)XIPC_SEM_VALUE_MAX, wname);
  if (h == NULL) {
    *err = fail_named();
  } else if (GetLastError() == ERROR_ALREADY_EXISTS) {
    if (!(flags & XIPC_EXCL))
      return owned_or_null(h, flags, err);
    CloseHandle(h);
    h = NULL;
    *err = xipc__fail_sys(ERROR_ALREADY_EXISTS);
  }
  return h;
}

int xipc__sem_open(xipc_sem **out, const char *name, unsigned initial,
                   unsigned flags) {
  int err = 0;
  wchar_t *wname = derived_name(name, XIPC__SEM_SUFFIX, &err);
  if (wname == NULL)
    return err;
  xipc_sem *s = calloc(1, sizeof *s);
  if (s == NULL) {
    free(wname);
    return xipc__fail(XIPC_ENOMEM);
  }
  s->sem = sem_handle(wname, initial, flags, &err);
  free(wname);
  if (s->sem == NULL) {
    free(s);
    return err;
  }
  *out = s;
  return 0;
}

int xipc__sem_wait(xipc_sem *s, int timeout_ms) {
  DWORD r = xipc__wait_one(s->sem, timeout_ms);
  return r == WAIT_OBJECT_0 ? 0 : xipc__wait_failed(r, timeout_ms);
}

int xipc__sem_post(xipc_sem *s) {
  if (ReleaseSemaphore(s->sem, 1, NULL))
    return 0;
  /* ERROR_TOO_MANY_POSTS -> XIPC_ERANGE, as POSIX EOVERFLOW. */
  if (GetLastError() == ERROR_TOO_MANY_POSTS)
    return xipc__fail_os_as(XIPC_ERANGE);
  return xipc__fail_os();
}

int xipc__sem_close(xipc_sem *s) {
  CloseHandle(s->sem);
  free(s);
  return 0;
}

int xipc__sem_unlink(const char *name) {
  return unlink_named(name, XIPC__SEM_SUFFIX, OpenSemaphoreW);
}

/* ---- mutexes: opening -------------------------------------------------- */

/* Opens (or with XIPC_CREATE creates) the state mapping and maps it. A
 * fresh mapping is all zero, which reads as a new, consistent mutex. */
static int open_state(xipc_mutex *m, const char *name, unsigned flags) {
  int err = 0;
  wchar_t *wname = derived_name(name, XIPC__MUTEX_STATE_SUFFIX, &err);
  if (wname == NULL)
    return err;
  if (flags & XIPC_CREATE)
    m->section = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                    0, sizeof(mtx_state), wname);
  else
    m->section = OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE | READ_CONTROL,
                                  FALSE, wname);
  bool existed = !(flags & XIPC_CREATE) || GetLastError() == ERROR_ALREADY_EXISTS;
  free(wname);
  if (m->section == NULL)
    return fail_named();
  if (existed && (m->section = owned_or_null(m->section, flags, &err)) == NULL)
    return err;
  m->st = MapViewOfFile(m->section, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0,
                        sizeof(mtx_state));
  if (m->st == NULL) /* a foreign mapping smaller than the state */
    return xipc__fail_os_as(XIPC_ECORRUPT);
  return 0;
}

/* Fills in the header of a zero state; called with the mutex held. */
static void init_state(volatile mtx_state *st) {
  st->state = MTX_CONSISTENT;
  st->owner_pid = 0;
  st->owner_tid = 0;
  st->size = sizeof(mtx_state);
  st->version = MTX_VERSION;
  st->magic = MTX_MAGIC;
}

static int open_mutex_object(xipc_mutex *m, const char *name, unsigned flags) {
  int err = 0;
  wchar_t *wname = derived_name(name, XIPC__MUTEX_SUFFIX, &err);
  if (wname == NULL)
    return err;
  if (flags & XIPC_CREATE)
    m->mutex = CreateMutexW(NULL, TRUE, wname);
  else
    m->mutex = OpenMutexW(SYNCHRONIZE | MUTEX_MODIFY_STATE | READ_CONTROL,
                          FALSE, wname);
  DWORD why = GetLastError();
  free(wname);
  if (m->mutex == NULL)
    return fail_named();
  bool existed = !(flags & XIPC_CREATE) || why == ERROR_ALREADY_EXISTS;
  if (existed && (m->mutex = owned_or_null(m->mutex, flags, &err)) == NULL)
    return err;
  if (!(flags & XIPC_CREATE))
    return 0;
  if (why == ERROR_ALREADY_EXISTS)
    return (flags & XIPC_EXCL) ? xipc__fail_sys(ERROR_ALREADY_EXISTS) : 0;
  /* A new mutex object starts owned by its creator, so the state can be
   * reset before anyone locks it: a state mapping that outlived the
   * previous mutex of this name (an opener held it across the last close)
   * must not carry that mutex's owner-died or not-recoverable mark. */
  init_state(m->st);
  ReleaseMutex(m->mutex);
  return 0;
}

static void mutex_free(xipc_mutex *m) {
  if (m->mutex != NULL)
    CloseHandle(m->mutex);
  if (m->st != NULL)
    UnmapViewOfFile((const void *)m->st);
  if (m->section != NULL)
    CloseHandle(m->section);
  free(m);
}

/* Creators open the state before the mutex object, and everyone closes the
 * mutex object first, so a mutex created by xipc always has its state.
 * Plain openers open the mutex object first so that a name squatted by
 * another kind of object is reported as XIPC_ECORRUPT, as on POSIX. */
int xipc__mutex_open(xipc_mutex **out, const char *name, unsigned flags) {
  xipc_mutex *m = calloc(1, sizeof *m);
  if (m == NULL)
    return xipc__fail(XIPC_ENOMEM);
  int rc;
  if (flags & XIPC_CREATE) {
    rc = open_state(m, name, flags);
    if (rc == 0)
      rc = open_mutex_object(m, name, flags);
  } else {
    rc = open_mutex_object(m, name, flags);
    if (rc == 0)
      rc = open_state(m, name, flags);
  }
  if (rc != 0) {
    mutex_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

/* ---- mutexes: locking -------------------------------------------------- */

/* Called with the mutex held. A zero state belongs to a mapping created by
 * an opener that raced with the mutex's last close; it is a new mutex. */
static bool state_valid(volatile mtx_state *st) {
  if (st->magic == 0 && st->version == 0 && st->size == 0 && st->state == 0)
    init_state(st);
  return st->magic == MTX_MAGIC && st->version == MTX_VERSION &&
         st->size == sizeof(mtx_state) && st->state <= MTX_NOT_RECOVERABLE;
}

static bool owned_by_me(volatile const mtx_state *st) {
  return st->owner_tid == GetCurrentThreadId() &&
         st->owner_pid == GetCurrentProcessId();
}

/* Gives back a lock that was only taken to look at the state. */
static int release_with(xipc_mutex *m, int err) {
  ReleaseMutex(m->mutex);
  return xipc__fail(err);
}

/* Called with the mutex object acquired; abandoned: WAIT_ABANDONED. */
static int after_acquire(xipc_mutex *m, bool abandoned) {
  volatile mtx_state *st = m->st;
  if (!state_valid(st))
    return release_with(m, XIPC_ECORRUPT);
  /* Windows mutexes are recursive: a second acquisition by the owner
   * succeeds at once. Undo it and refuse, as EDEADLK does on POSIX. */
  if (!abandoned && owned_by_me(st))
    return release_with(m, XIPC_EBUSY);
  if (st->state == MTX_NOT_RECOVERABLE)
    return release_with(m, XIPC_ENOTRECOVERABLE);
  /* An owner that got EOWNERDEAD and died before repairing leaves the
   * mutex abandoned again, so the next owner is told again. */
  if (abandoned)
    st->state = MTX_OWNER_DIED;
  st->owner_pid = GetCurrentProcessId();
  st->owner_tid = GetCurrentThreadId();
  InterlockedExchange(&m->held, 1);
  return st->state == MTX_OWNER_DIED ? xipc__fail(XIPC_EOWNERDEAD) : 0;
}

int xipc__mutex_lock(xipc_mutex *m, int timeout_ms) {
  DWORD r = xipc__wait_one(m->mutex, timeout_ms);
  if (r == WAIT_OBJECT_0 || r == WAIT_ABANDONED)
    return after_acquire(m, r == WAIT_ABANDONED);
  return xipc__wait_failed(r, timeout_ms);
}

static bool held_by_caller(xipc_mutex *m) {
  return InterlockedCompareExchange(&m->held, 0, 0) != 0 &&
         owned_by_me(m->st);
}

int xipc__mutex_consistent(xipc_mutex *m) {
  if (!held_by_caller(m))
    return xipc__fail(XIPC_EPERM);
  if (m->st->state != MTX_OWNER_DIED)
    return xipc__fail(XIPC_EINVAL);
  m->st->state = MTX_CONSISTENT;
  return 0;
}

int xipc__mutex_unlock(xipc_mutex *m) {
  if (!held_by_caller(m))
    return xipc__fail(XIPC_EPERM);
  /* Unlocking without xipc_mutex_consistent: unusable for everyone. */
  if (m->st->state == MTX_OWNER_DIED)
    m->st->state = MTX_NOT_RECOVERABLE;
  m->st->owner_pid = 0;
  m->st->owner_tid = 0;
  InterlockedExchange(&m->held, 0);
  if (!ReleaseMutex(m->mutex))
    return xipc__fail_os(); /* ERROR_NOT_OWNER -> XIPC_EPERM */
  return 0;
}

int xipc__mutex_close(xipc_mutex *m) {
  if (InterlockedCompareExchange(&m->held, 0, 0) != 0)
    return xipc__fail(XIPC_EBUSY);
  mutex_free(m);
  return 0;
}

int xipc__mutex_unlink(const char *name) {
  return unlink_named(name, XIPC__MUTEX_SUFFIX, OpenMutexW);
}
