/* Queue wait/wake on Windows: one named semaphore per channel, created on
 * first use as "<queue name>.xq<channel>" in the session namespace.
 * WaitOnAddress only works inside one process, so the futex word is not
 * used here; the portable layer keeps sleeper counts in the mapping and
 * releases a semaphore only when someone sleeps. A release that races with a
 * sleeper that found work and left leaves a token behind: the next sleep
 * returns at once, which the caller treats as a spurious wake-up. */
#include "win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* A waitset's doorbell event, opened for one watcher slot's contents. */
typedef struct {
  uint64_t owner;
  uint32_t bell;
  HANDLE event; /* NULL: nothing cached */
} q_bell;

struct xipc__qwait {
  char *name;
  uint32_t channels;
  q_bell bells[XIPC_WAITSET_QUEUE_WATCHERS];
  HANDLE sem[];
};

int xipc__qwait_open(xipc__qwait **out, const char *name, uint32_t channels) {
  xipc__qwait *w = calloc(1, sizeof *w + channels * sizeof(HANDLE));
  if (w == NULL)
    return xipc__fail(XIPC_ENOMEM);
  w->name = _strdup(name);
  if (w->name == NULL) {
    free(w);
    return xipc__fail(XIPC_ENOMEM);
  }
  w->channels = channels;
  *out = w;
  return 0;
}

void xipc__qwait_close(xipc__qwait *w) {
  if (w == NULL)
    return;
  for (uint32_t i = 0; i < w->channels; i++)
    if (w->sem[i] != NULL)
      CloseHandle(w->sem[i]);
  for (unsigned i = 0; i < XIPC_WAITSET_QUEUE_WATCHERS; i++)
    if (w->bells[i].event != NULL)
      CloseHandle(w->bells[i].event);
  free(w->name);
  free(w);
}

/* The channel's semaphore, opened or created on first use. */
static int channel(xipc__qwait *w, uint32_t ch, HANDLE *out) {
  char buf[XIPC_NAME_MAX + 32];
  int err = 0;
  if (ch >= w->channels)
    return xipc__fail(XIPC_EINVAL);
  if (w->sem[ch] == NULL) {
    snprintf(buf, sizeof buf, "%s.xq%u", w->name, (unsigned)ch);
    wchar_t *wide = xipc__utf8_to_wide(buf, &err);
    if (wide == NULL)
      return xipc__fail(err);
    /* NULL attributes: the creator's default DACL, not inheritable. */
    w->sem[ch] = CreateSemaphoreW(NULL, 0, LONG_MAX, wide);
    free(wide);
    if (w->sem[ch] == NULL)
      return xipc__fail_os();
  }
  *out = w->sem[ch];
  return 0;
}

int xipc__qwait_sleep(xipc__qwait *w, uint32_t ch, void *word, uint32_t seen,
                      int64_t timeout_ns) {
  HANDLE h;
  DWORD ms = INFINITE;
  (void)word;
  (void)seen;
  int rc = channel(w, ch, &h);
  if (rc != 0)
    return rc;
  if (timeout_ns >= 0) {
    int64_t m = (timeout_ns + 999999) / 1000000;
    ms = m >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)m;
  }
  if (WaitForSingleObject(h, ms) == WAIT_FAILED)
    return xipc__fail_os();
  return 0;
}

void xipc__qwait_wake(xipc__qwait *w, uint32_t ch, void *word, uint32_t n) {
  HANDLE h;
  (void)word;
  if (channel(w, ch, &h) != 0)
    return;
  /* A corrupted sleeper count must not overflow the semaphore. */
  ReleaseSemaphore(h, n > 65536u ? 65536 : (LONG)n, NULL);
}

/* Opens the doorbell event "xipc.bell.<pid>.<id>" (session namespace),
 * only to set it; NULL with the OS error. */
static HANDLE open_bell(uint32_t pid, uint32_t id) {
  wchar_t name[64];
  _snwprintf(name, sizeof name / sizeof name[0], L"xipc.bell.%x.%x",
             (unsigned)pid, (unsigned)id);
  return OpenEventW(EVENT_MODIFY_STATE, FALSE, name);
}

/* The event stays open while the slot holds the same numbers, so a ring
 * costs one SetEvent. Errors are returned, not recorded: the put that
 * rings succeeds anyway. */
int xipc__qwait_ring(xipc__qwait *w, unsigned slot, uint64_t owner,
                     uint32_t bell, uint32_t cookie) {
  (void)cookie; /* an event carries no data */
  if (slot >= XIPC_WAITSET_QUEUE_WATCHERS)
    return XIPC_EINVAL;
  q_bell *b = &w->bells[slot];
  if (b->event != NULL && (b->owner != owner || b->bell != bell)) {
    CloseHandle(b->event);
    b->event = NULL;
  }
  if (b->event == NULL) {
    b->event = open_bell((uint32_t)owner, bell);
    if (b->event == NULL) {
      DWORD err = GetLastError();
      return err == ERROR_FILE_NOT_FOUND ? XIPC_ENOENT
                                         : xipc__translate_error((int)err);
    }
    b->owner = owner;
    b->bell = bell;
  }
  return SetEvent(b->event) ? 0 : xipc__translate_error((int)GetLastError());
}

/* No barrier reaches the threads of other processes (FlushProcessWriteBuffers
 * covers only the caller's own), so producers always publish with a fence. */
bool xipc__qwait_fast_publish(void) { return false; }

bool xipc__qwait_heavy_barrier(void) {
  MemoryBarrier();
  return true;
}

static uint64_t start_tag(HANDLE process) {
  FILETIME created, exited, kernel, user;
  uint64_t t = 0;
  if (GetProcessTimes(process, &created, &exited, &kernel, &user))
    t = ((uint64_t)created.dwHighDateTime << 32 | created.dwLowDateTime) / 10000;
  return (uint64_t)(((uint32_t)t & 0x7fffffffu) | 0x80000000u) << 32;
}

uint64_t xipc__qwait_self_owner(void) {
  return (uint64_t)GetCurrentProcessId() | start_tag(GetCurrentProcess());
}

bool xipc__qwait_owner_alive(uint64_t owner) {
  DWORD pid = (DWORD)(owner & 0xffffffffu);
  if (pid == 0)
    return false;
  HANDLE h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (h == NULL) /* access denied: it exists, but is not ours */
    return GetLastError() == ERROR_ACCESS_DENIED;
  /* Process ids are reused quickly on Windows: the start time tells. */
  bool alive = WaitForSingleObject(h, 0) == WAIT_TIMEOUT &&
               (owner & ~UINT64_C(0xffffffff)) == start_tag(h);
  CloseHandle(h);
  return alive;
}

/* ---- persistent queues ----------------------------------------------------
 * Kernel objects die with their last handle, so a persistent queue is a
 * file, %LOCALAPPDATA%\xipc\queues\<name>, that every handle maps. The
 * per-user profile directory gives it an owner-only DACL. The path has the
 * \\?\ prefix, so that a portable name is the file's exact name (no
 * device names such as CON, no trailing dots stripped). */

/* The store's path as newly allocated UTF-16 (free()); with make_dirs the
 * directories are created as needed. name "" gives the directory itself,
 * with a trailing backslash (win32/objects.c lists it). */
int xipc__qstore_path(const char *name, bool make_dirs, wchar_t **out) {
  wchar_t base[MAX_PATH];
  int err = 0;
  DWORD n = GetEnvironmentVariableW(L"LOCALAPPDATA", base, MAX_PATH);
  if (n == 0 || n >= MAX_PATH)
    n = GetTempPathW(MAX_PATH, base); /* no profile: the user's temp dir */
  if (n == 0 || n >= MAX_PATH)
    return xipc__fail(XIPC_ENOENT);
  while (n > 0 && (base[n - 1] == L'\\' || base[n - 1] == L'/'))
    base[--n] = L'\0';
  wchar_t *wname = xipc__utf8_to_wide(name, &err);
  if (wname == NULL)
    return xipc__fail(err);
  size_t cap = n + wcslen(wname) + 32;
  wchar_t *path = malloc(cap * sizeof *path);
  if (path == NULL) {
    free(wname);
    return xipc__fail(XIPC_ENOMEM);
  }
  bool unc = base[0] == L'\\' && base[1] == L'\\';
  _snwprintf(path, cap, L"%ls%ls\\xipc", unc ? L"" : L"\\\\?\\", base);
  if (make_dirs)
    CreateDirectoryW(path, NULL); /* exists already, or the next step fails */
  wcscat(path, L"\\queues");
  if (make_dirs)
    CreateDirectoryW(path, NULL);
  wcscat(path, L"\\");
  wcscat(path, wname);
  free(wname);
  *out = path;
  return 0;
}

static int map_store(xipc_map **out, const char *name, size_t size,
                     unsigned flags) {
  wchar_t *wpath = NULL;
  int err = 0;
  int rc = xipc__qstore_path(name, (flags & XIPC_CREATE) != 0, &wpath);
  if (rc != 0)
    return rc;
  char *path = xipc__wide_to_utf8(wpath, &err);
  free(wpath);
  if (path == NULL)
    return xipc__fail(err);
  rc = xipc_map_file_ex(out, path, size, 0, XIPC_ACCESS_WRITE, flags, NULL);
  free(path);
  return rc;
}

int xipc__qstore_create(xipc_map **out, const char *name, size_t size,
                        unsigned owner) {
  xipc_map *scratch = NULL;
  /* A scratch queue of that name exists: existence wins. */
  if (xipc_map_named(&scratch, name, 0, XIPC_ACCESS_READ, owner) == 0) {
    xipc_map_close(scratch);
    return xipc__fail(XIPC_EEXIST);
  }
  return map_store(out, name, size, XIPC_CREATE | XIPC_EXCL | XIPC_MAP_EXTEND);
}

int xipc__qstore_open(xipc_map **out, const char *name) {
  return map_store(out, name, 0, 0);
}

/* Renamed away first: a deleted file that is still mapped keeps its name
 * until its last handle closes, and the name must be free at once. */
int xipc__qstore_unlink(const char *name) {
  wchar_t *wpath = NULL;
  int rc = xipc__qstore_path(name, false, &wpath);
  if (rc != 0)
    return rc;
  size_t cap = wcslen(wpath) + 64;
  wchar_t *gone = malloc(cap * sizeof *gone);
  if (gone == NULL) {
    free(wpath);
    return xipc__fail(XIPC_ENOMEM);
  }
  _snwprintf(gone, cap, L"%ls.deleted.%lu.%llu", wpath,
             (unsigned long)GetCurrentProcessId(),
             (unsigned long long)xipc__now_ns());
  rc = 0;
  if (!MoveFileExW(wpath, gone, 0))
    rc = xipc__fail_os();
  else
    DeleteFileW(gone); /* mapped elsewhere: gone with its last handle */
  free(gone);
  free(wpath);
  return rc;
}
