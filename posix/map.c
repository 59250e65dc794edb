/* File-backed and anonymous mappings, and the parts every mapping shares:
 * mmap with any offset, flush, resize, release. */
#include "map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

size_t xipc__map_granularity(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static int prot_of(int access) {
  return access == XIPC_ACCESS_READ ? PROT_READ : PROT_READ | PROT_WRITE;
}

static int share_of(int access) {
  return access == XIPC_ACCESS_COPY ? MAP_PRIVATE : MAP_SHARED;
}

int xipc__map_fd(xipc_map *m, int fd, size_t length, uint64_t offset) {
  struct xipc__map_os *os = m->os;
  int rc = xipc__map_align(offset, length, &os->offset, &os->delta);
  if (rc != 0)
    return rc;
  if (os->offset > (uint64_t)INT64_MAX)
    return xipc__fail(XIPC_ERANGE);
  os->len = os->delta + length;
  void *p = mmap(NULL, os->len, prot_of(m->access), share_of(m->access), fd,
                 (off_t)os->offset);
  if (p == MAP_FAILED)
    return xipc__fail_os();
  os->base = p;
  m->data = (unsigned char *)p + os->delta;
  m->size = length;
  return 0;
}

void xipc__map_unmap(xipc_map *m) {
  if (m->os->base != NULL)
    munmap(m->os->base, m->os->len);
  m->os->base = NULL;
}

static struct xipc__map_os *new_os(void) {
  struct xipc__map_os *os = calloc(1, sizeof *os);
  if (os != NULL)
    os->fd = -1;
  return os;
}

/* ---- files --------------------------------------------------------------- */

static int open_file(const char *path, int access, unsigned flags,
                     const xipc_map_options *o) {
  int oflags = O_CLOEXEC | (access == XIPC_ACCESS_WRITE ? O_RDWR : O_RDONLY);
  if (flags & XIPC_CREATE)
    oflags |= O_CREAT;
  if (flags & XIPC_EXCL)
    oflags |= O_EXCL;
  int fd;
  do
    fd = open(path, oflags, o->mode ? (mode_t)o->mode : 0600);
  while (fd < 0 && errno == EINTR);
  return fd < 0 ? xipc__fail_os() : fd;
}

static int map_open_file(xipc_map *m, int fd, size_t length, uint64_t offset,
                         unsigned flags) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return xipc__fail_os();
  /* EACCES to match Windows, where CreateFile refuses a directory. */
  if (S_ISDIR(st.st_mode))
    return xipc__fail(XIPC_EACCES);
  uint64_t fsize = (uint64_t)st.st_size, want;
  int rc = xipc__map_file_fit(fsize, &length, offset, flags, &want);
  if (rc == 0 && want != fsize && ftruncate(fd, (off_t)want) != 0)
    rc = xipc__fail_os();
  if (rc == 0)
    rc = xipc__map_fd(m, fd, length, offset);
  return rc;
}

int xipc__map_file_open(xipc_map *m, const char *path, size_t length,
                        uint64_t offset, unsigned flags,
                        const xipc_map_options *opts) {
  m->os = new_os();
  if (m->os == NULL)
    return xipc__fail(XIPC_ENOMEM);
  int fd = open_file(path, m->access, flags, opts);
  int rc = fd < 0 ? fd : map_open_file(m, fd, length, offset, flags);
  if (rc != 0) {
    if (fd >= 0)
      close(fd);
    free(m->os);
    m->os = NULL;
    return rc;
  }
  m->os->fd = fd;
  return 0;
}

/* ---- anonymous memory ---------------------------------------------------- */

int xipc__map_anon_open(xipc_map *m, size_t length) {
  m->os = new_os();
  if (m->os == NULL)
    return xipc__fail(XIPC_ENOMEM);
  void *p = mmap(NULL, length, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    int rc = xipc__fail_os();
    free(m->os);
    m->os = NULL;
    return rc;
  }
  m->os->base = p;
  m->os->len = length;
  m->data = p;
  m->size = length;
  return 0;
}

/* ---- operations on every kind --------------------------------------------- */

int xipc__map_flush(xipc_map *m, size_t offset, size_t size) {
  struct xipc__map_os *os = m->os;
  size_t page = xipc__map_granularity();
  size_t from = os->delta + offset;
  size_t start = from - from % page;
  if (msync((unsigned char *)os->base + start, from - start + size,
            MS_SYNC) != 0)
    return xipc__fail_os();
  return 0;
}

int xipc__map_resize(xipc_map *m, size_t new_size) {
  struct xipc__map_os *os = m->os;
  if (new_size > SIZE_MAX - os->delta)
    return xipc__fail(XIPC_ERANGE);
  if (os->fd >= 0 &&
      ftruncate(os->fd, (off_t)(os->offset + os->delta + new_size)) != 0)
    return xipc__fail_os();
  size_t len = os->delta + new_size;
  void *p = mremap(os->base, os->len, len, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) {
    /* EINVAL -> ENOMEM: a length the address space cannot hold
     * (PTRDIFF_MAX) is out of memory, as on Windows. */
    return errno == EINVAL ? xipc__fail_os_as(XIPC_ENOMEM) : xipc__fail_os();
  }
  os->base = p;
  os->len = len;
  m->data = (unsigned char *)p + os->delta;
  m->size = new_size;
  return 0;
}

int xipc__map_release(xipc_map *m) {
  struct xipc__map_os *os = m->os;
  if (os == NULL)
    return 0;
  if (m->kind == XIPC__MAP_NAMED)
    xipc__shm_release(m); /* unmaps, then applies the lifetime rule */
  else
    xipc__map_unmap(m);
  if (os->fd >= 0)
    close(os->fd);
  free(os->name);
  free(os);
  m->os = NULL;
  return 0;
}
