/* File-backed and anonymous mappings, and the parts every mapping shares:
 * views at any offset, flush, resize, release. */
#include "map.h"

#include <stdlib.h>
#include <string.h>

size_t xipc__map_granularity(void) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwAllocationGranularity;
}

struct xipc__map_os *xipc__map_os_new(void) {
  struct xipc__map_os *os = calloc(1, sizeof *os);
  if (os != NULL)
    os->file = INVALID_HANDLE_VALUE;
  return os;
}

DWORD xipc__map_view_access(int access) {
  switch (access) {
  case XIPC_ACCESS_READ:
    return FILE_MAP_READ;
  case XIPC_ACCESS_COPY:
    return FILE_MAP_COPY;
  default:
    return FILE_MAP_READ | FILE_MAP_WRITE;
  }
}

int xipc__map_view(xipc_map *m, size_t length, uint64_t offset) {
  struct xipc__map_os *os = m->os;
  int rc = xipc__map_align(offset, length, &os->offset, &os->delta);
  if (rc != 0)
    return rc;
  size_t want = length ? os->delta + length : 0;
  void *p = MapViewOfFile(os->section, xipc__map_view_access(m->access),
                          (DWORD)(os->offset >> 32), (DWORD)os->offset, want);
  if (p == NULL)
    return xipc__fail_os();
  MEMORY_BASIC_INFORMATION mbi;
  os->len = want;
  if (want == 0 && VirtualQuery(p, &mbi, sizeof mbi) != 0)
    os->len = mbi.RegionSize; /* the whole section, rounded to the page */
  os->base = p;
  m->data = (unsigned char *)p + os->delta;
  m->size = os->len - os->delta;
  return 0;
}

static void unmap_view(struct xipc__map_os *os) {
  if (os->base != NULL)
    UnmapViewOfFile(os->base);
  if (os->section != NULL)
    CloseHandle(os->section);
  os->base = NULL;
  os->section = NULL;
}

/* ---- files --------------------------------------------------------------- */

static DWORD disposition(unsigned flags) {
  if ((flags & XIPC_CREATE) && (flags & XIPC_EXCL))
    return CREATE_NEW;
  return (flags & XIPC_CREATE) ? OPEN_ALWAYS : OPEN_EXISTING;
}

static int open_file(HANDLE *out, const char *path, int access,
                     unsigned flags) {
  int err = 0;
  wchar_t *wpath = xipc__utf8_to_wide(path, &err);
  if (wpath == NULL)
    return err;
  DWORD rights = GENERIC_READ | (access == XIPC_ACCESS_WRITE ? GENERIC_WRITE : 0);
  HANDLE h = CreateFileW(wpath, rights,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                         NULL, disposition(flags), FILE_ATTRIBUTE_NORMAL, NULL);
  free(wpath);
  if (h == INVALID_HANDLE_VALUE)
    return xipc__fail_os();
  *out = h;
  return 0;
}

static int set_file_size(HANDLE file, uint64_t size) {
  LARGE_INTEGER li;
  if (size > (uint64_t)INT64_MAX)
    return xipc__fail(XIPC_ERANGE);
  li.QuadPart = (LONGLONG)size;
  if (!SetFilePointerEx(file, li, NULL, FILE_BEGIN) || !SetEndOfFile(file))
    return xipc__fail_os();
  return 0;
}

static DWORD section_protect(int access) {
  switch (access) {
  case XIPC_ACCESS_READ:
    return PAGE_READONLY;
  case XIPC_ACCESS_COPY:
    return PAGE_WRITECOPY;
  default:
    return PAGE_READWRITE;
  }
}

static int map_file_view(xipc_map *m, size_t length, uint64_t offset) {
  struct xipc__map_os *os = m->os;
  os->section = CreateFileMappingW(os->file, NULL, section_protect(m->access),
                                   0, 0, NULL);
  if (os->section == NULL)
    return xipc__fail_os();
  int rc = xipc__map_view(m, length, offset);
  if (rc != 0)
    unmap_view(os);
  return rc;
}

static int map_open_file(xipc_map *m, size_t length, uint64_t offset,
                         unsigned flags) {
  LARGE_INTEGER li;
  if (!GetFileSizeEx(m->os->file, &li))
    return xipc__fail_os();
  uint64_t fsize = (uint64_t)li.QuadPart, want;
  int rc = xipc__map_file_fit(fsize, &length, offset, flags, &want);
  if (rc == 0 && want != fsize)
    rc = set_file_size(m->os->file, want);
  if (rc == 0)
    rc = map_file_view(m, length, offset);
  return rc;
}

int xipc__map_file_open(xipc_map *m, const char *path, size_t length,
                        uint64_t offset, unsigned flags,
                        const xipc_map_options *opts) {
  (void)opts; /* the mode is POSIX only; files get the default DACL */
  m->os = xipc__map_os_new();
  if (m->os == NULL)
    return xipc__fail(XIPC_ENOMEM);
  int rc = open_file(&m->os->file, path, m->access, flags);
  if (rc == 0)
    rc = map_open_file(m, length, offset, flags);
  if (rc != 0) {
    if (m->os->file != INVALID_HANDLE_VALUE)
      CloseHandle(m->os->file);
    free(m->os);
    m->os = NULL;
  }
  return rc;
}

/* ---- anonymous memory ---------------------------------------------------- */

static HANDLE new_anon_section(size_t length) {
  uint64_t n = length;
  return CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                            (DWORD)(n >> 32), (DWORD)n, NULL);
}

int xipc__map_anon_open(xipc_map *m, size_t length) {
  m->os = xipc__map_os_new();
  if (m->os == NULL)
    return xipc__fail(XIPC_ENOMEM);
  m->os->section = new_anon_section(length);
  int rc = m->os->section ? xipc__map_view(m, length, 0) : xipc__fail_os();
  if (rc != 0) {
    unmap_view(m->os);
    free(m->os);
    m->os = NULL;
  }
  return rc;
}

/* ---- operations on every kind --------------------------------------------- */

int xipc__map_flush(xipc_map *m, size_t offset, size_t size) {
  struct xipc__map_os *os = m->os;
  if (!FlushViewOfFile(m->data + offset, size))
    return xipc__fail_os();
  if (os->file != INVALID_HANDLE_VALUE && !FlushFileBuffers(os->file))
    return xipc__fail_os();
  return 0;
}

/* A view of the same file at the new size: the old view and section must
 * go first, since Windows refuses to shrink a file that is mapped. */
static int resize_file(xipc_map *m, size_t new_size) {
  struct xipc__map_os *os = m->os;
  uint64_t start = os->offset + os->delta;
  size_t old_size = m->size;
  unmap_view(os);
  int rc = set_file_size(os->file, start + new_size);
  if (rc == 0)
    rc = map_file_view(m, new_size, start);
  if (rc != 0 && map_file_view(m, old_size, start) != 0) {
    m->data = NULL; /* the file stays; the mapping is lost */
    m->size = 0;
  }
  return rc;
}

/* Anonymous memory is private, so a new section with the old bytes copied
 * in is the same memory to every observer. */
static int resize_anon(xipc_map *m, size_t new_size) {
  struct xipc__map_os old = *m->os;
  unsigned char *old_data = m->data;
  size_t old_size = m->size;
  m->os->section = new_anon_section(new_size);
  int rc = m->os->section ? xipc__map_view(m, new_size, 0) : xipc__fail_os();
  /* api/map.c checked the arguments: ERROR_INVALID_PARAMETER here is a
   * size no section or view can have (PTRDIFF_MAX), out of memory as on
   * POSIX. */
  if (rc == XIPC_EINVAL)
    rc = XIPC_ENOMEM;
  if (rc != 0) {
    if (m->os->section != NULL)
      CloseHandle(m->os->section);
    *m->os = old;
    m->data = old_data;
    m->size = old_size;
    return rc;
  }
  memcpy(m->data, old_data, old_size < new_size ? old_size : new_size);
  unmap_view(&old);
  return 0;
}

int xipc__map_resize(xipc_map *m, size_t new_size) {
  return m->kind == XIPC__MAP_FILE ? resize_file(m, new_size)
                                   : resize_anon(m, new_size);
}

int xipc__map_release(xipc_map *m) {
  struct xipc__map_os *os = m->os;
  if (os == NULL)
    return 0;
  unmap_view(os);
  if (m->kind == XIPC__MAP_NAMED)
    xipc__shm_release(m);
  if (os->file != INVALID_HANDLE_VALUE)
    CloseHandle(os->file);
  free(os);
  m->os = NULL;
  return 0;
}
