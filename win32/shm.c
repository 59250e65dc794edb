/* Named shared memory on Windows: pagefile-backed sections named by a
 * tagname. Windows keeps a section while any handle to it is open and
 * closes the handles of a process that dies, so the lifetime rule is the
 * kernel's own.
 *
 * Windows reports a section's size rounded up to the page. xipc keeps the
 * creator's exact size in a second, one-page section "<name>.xmsz" that
 * every xipc handle holds open too. The creator makes the record section
 * before the data section, so an opener that finds the data section but
 * no record section is looking at an object another program made, and
 * uses the rounded size.
 *
 * Unless the caller passes XIPC_ANY_OWNER, an existing section (and its
 * record) must be owned by the caller's token user (or default owner):
 * another user may have planted it at the name (XIPC_EACCES). */
#include "map.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define META_SUFFIX L".xmsz"
#define META_BYTES 4096
/* The record's states. */
#define REC_EMPTY 0 /* made, the size is not written yet */
#define REC_EXACT 1 /* size holds the creator's length */
#define REC_FOREIGN 2 /* the data section came from another program */

/* creator and created_ms are for `xipc ls` only (win32/objects.c): the
 * creator's pid and its wall clock (ms since 1970) when it published the
 * size; 0 from an xipc that did not record them. */
typedef struct {
  volatile LONG state;
  volatile LONG creator;
  volatile LONG64 size;
  volatile LONG64 created_ms;
} size_record;

/* "[Global\]<name>[.xmsz]" in UTF-16; NULL with *err set on failure. */
static wchar_t *object_name(const char *name, int ns, bool meta, int *err) {
  wchar_t *w = xipc__utf8_to_wide(name, err);
  if (w == NULL)
    return NULL;
  size_t n = wcslen(w) + 16;
  wchar_t *full = malloc(n * sizeof *full);
  if (full == NULL) {
    free(w);
    *err = xipc__fail(XIPC_ENOMEM);
    return NULL;
  }
  swprintf(full, n, L"%ls%ls%ls", ns == XIPC_MAP_NS_GLOBAL ? L"Global\\" : L"",
           w, meta ? META_SUFFIX : L"");
  free(w);
  return full;
}

/* CreateFileMappingW of `bytes` pagefile bytes; *existed tells whether the
 * name was taken already (then the handle is to that object). */
static HANDLE create_section(const wchar_t *wname, uint64_t bytes,
                             bool *existed) {
  HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                (DWORD)(bytes >> 32), (DWORD)bytes, wname);
  *existed = h != NULL && GetLastError() == ERROR_ALREADY_EXISTS;
  return h;
}

/* READ_CONTROL: to read the owner. */
static DWORD open_rights(int access) {
  return (access == XIPC_ACCESS_WRITE ? FILE_MAP_READ | FILE_MAP_WRITE
                                      : FILE_MAP_READ) | READ_CONTROL;
}

/* ---- the size record ------------------------------------------------ */

/* Opens (or, for a creator, creates) the record section and maps it. */
static int open_meta(struct xipc__map_os *os, const wchar_t *wmeta,
                     bool create, bool *made, unsigned flags) {
  bool existed = true;
  if (create)
    os->meta = create_section(wmeta, META_BYTES, &existed);
  else
    os->meta = OpenFileMappingW(FILE_MAP_READ | READ_CONTROL, FALSE, wmeta);
  *made = create && !existed;
  if (os->meta == NULL)
    return xipc__fail_os();
  int rc = existed ? xipc__check_owner(os->meta, flags) : 0;
  if (rc != 0)
    return rc;
  os->meta_view = MapViewOfFile(os->meta, create ? FILE_MAP_WRITE : FILE_MAP_READ,
                                0, 0, sizeof(size_record));
  if (os->meta_view == NULL)
    return xipc__fail_os();
  return 0;
}

static void publish_size(struct xipc__map_os *os, size_t length) {
  size_record *r = os->meta_view;
  FILETIME now;
  GetSystemTimeAsFileTime(&now);
  uint64_t t = (uint64_t)now.dwHighDateTime << 32 | now.dwLowDateTime;
  r->creator = (LONG)GetCurrentProcessId();
  r->created_ms = (LONG64)(t / 10000) - INT64_C(11644473600000);
  r->size = (LONG64)length;
  InterlockedExchange(&r->state, REC_EXACT); /* a full barrier */
}

/* A plain load: the view is read-only, so no interlocked operation. */
static bool size_published(const void *r) {
  return ((const size_record *)r)->state != REC_EMPTY;
}

/* The exact size from the record, or `rounded` when there is none.
 * A creator that is between making the data section and publishing its
 * size is waited for (xipc__wait_published). */
static int read_size(const struct xipc__map_os *os, size_t rounded,
                     size_t *size) {
  const size_record *r = os->meta_view;
  *size = rounded;
  if (r == NULL)
    return 0;
  (void)xipc__wait_published(size_published, r);
  if (r->state != REC_EXACT)
    return 0;
  MemoryBarrier(); /* read the size only after seeing REC_EXACT */
  LONG64 exact = r->size;
  /* Any process that can open the record can write it. */
  if (exact <= 0 || (uint64_t)exact > rounded ||
      rounded - (uint64_t)exact >= 65536)
    return xipc__fail(XIPC_ECORRUPT);
  *size = (size_t)exact;
  return 0;
}

/* ---- opening and creating --------------------------------------------- */

/* Maps the section already in os->section: the whole of it, then checks
 * the requested length against its exact size. */
static int map_section(xipc_map *m, size_t length) {
  int rc = xipc__map_view(m, 0, 0);
  size_t size = 0;
  if (rc == 0)
    rc = read_size(m->os, m->size, &size);
  if (rc == 0)
    rc = xipc__map_fit(size, &length, 0);
  if (rc == 0)
    m->size = length;
  return rc;
}

static int create_named(xipc_map *m, const wchar_t *wname,
                        const wchar_t *wmeta, size_t length, unsigned flags) {
  struct xipc__map_os *os = m->os;
  bool made_meta = false, existed = false;
  int rc = open_meta(os, wmeta, true, &made_meta, flags);
  if (rc != 0)
    return rc;
  os->section = create_section(wname, length, &existed);
  if (os->section == NULL)
    return xipc__fail_os();
  if (existed && (flags & XIPC_EXCL))
    return xipc__fail(XIPC_EEXIST);
  rc = existed ? xipc__check_owner(os->section, flags) : 0;
  if (rc != 0)
    return rc;
  if (!existed) {
    publish_size(os, length);
    m->created = true;
    return xipc__map_view(m, length, 0);
  }
  if (made_meta) /* we made the record, someone else the data: foreign */
    InterlockedCompareExchange(&((size_record *)os->meta_view)->state,
                               REC_FOREIGN, REC_EMPTY);
  /* Existence wins over size: an existing object is mapped at its own
   * size, as on POSIX. */
  return map_section(m, 0);
}

/* The record first: holding it before the data section means a creator
 * that closes everything right now cannot take the record away from an
 * object we hold. */
static int open_named(xipc_map *m, const wchar_t *wname,
                      const wchar_t *wmeta, size_t length, unsigned flags) {
  struct xipc__map_os *os = m->os;
  bool made = false;
  int rc = open_meta(os, wmeta, false, &made, flags);
  if (rc != 0 && os->meta != NULL)
    return rc; /* a record we may not use (another user's) */
  if (rc != 0)
    xipc__shm_release(m); /* no record: another program's object */
  /* FILE_MAP_READ suffices for a COPY view. */
  os->section = OpenFileMappingW(open_rights(m->access), FALSE, wname);
  if (os->section == NULL)
    return xipc__fail_os();
  rc = xipc__check_owner(os->section, flags);
  return rc == 0 ? map_section(m, length) : rc;
}

static int open_or_create(xipc_map *m, const char *name, size_t length,
                          unsigned flags, int ns) {
  int rc = 0;
  wchar_t *wname = object_name(name, ns, false, &rc);
  wchar_t *wmeta = wname ? object_name(name, ns, true, &rc) : NULL;
  if (wmeta != NULL)
    rc = (flags & XIPC_CREATE) ? create_named(m, wname, wmeta, length, flags)
                               : open_named(m, wname, wmeta, length, flags);
  free(wname);
  free(wmeta);
  return rc;
}

int xipc__map_named_open(xipc_map *m, const char *name, size_t length,
                         unsigned flags, const xipc_map_options *opts) {
  /* Windows has no persistent kernel objects. */
  if (flags & XIPC_MAP_PERSIST)
    return xipc__fail(XIPC_ENOTSUP);
  m->os = xipc__map_os_new();
  if (m->os == NULL)
    return xipc__fail(XIPC_ENOMEM);
  int rc = open_or_create(m, name, length, flags, opts->ns);
  if (rc != 0)
    xipc__map_release(m);
  return rc;
}

void xipc__shm_release(xipc_map *m) {
  struct xipc__map_os *os = m->os;
  if (os->meta_view != NULL)
    UnmapViewOfFile(os->meta_view);
  if (os->meta != NULL)
    CloseHandle(os->meta);
  os->meta_view = NULL;
  os->meta = NULL;
}

/* Windows cannot take the name away from a live kernel object: the name
 * goes with the last handle. Report whether there is anything to unlink. */
int xipc__map_named_unlink(const char *name) {
  int rc = 0;
  wchar_t *wname = object_name(name, XIPC_MAP_NS_LOCAL, false, &rc);
  if (wname == NULL)
    return rc;
  HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, wname);
  free(wname);
  if (h == NULL && GetLastError() != ERROR_ACCESS_DENIED)
    return xipc__fail_os();
  if (h != NULL)
    CloseHandle(h);
  return xipc__fail(XIPC_ENOTSUP);
}

/* The kernel removes a section with its last handle, crashed or not. */
int xipc__map_sweep(size_t *removed) {
  *removed = 0;
  return 0;
}
