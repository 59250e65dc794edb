/* Private state of a mapping in the POSIX tree (posix/map.c, posix/shm.c). */
#ifndef XIPC_POSIX_MAP_H
#define XIPC_POSIX_MAP_H

#include "posix.h"

#include <sys/types.h>

struct xipc__map_os {
  void *base;       /* what mmap returned; data = base + delta */
  size_t len;       /* bytes mapped from base */
  size_t delta;     /* offset of the user's first byte from base */
  uint64_t offset;  /* file offset of base (a multiple of the page size) */
  int fd;           /* file or shm descriptor; -1 for anonymous memory */
  bool managed;     /* named: xipc's lifetime rule applies (flock held) */
  bool own;         /* named: owned by the calling user (only those are removed) */
  dev_t dev;        /* named: identity of the object behind the name */
  ino_t ino;
  char *name;       /* named: the portable name */
};

/* Maps `length` bytes of fd from `offset` (any offset) with m->access and
 * fills m->data, m->size and m->os's base/len/delta/offset. m->os must be
 * allocated. */
int xipc__map_fd(xipc_map *m, int fd, size_t length, uint64_t offset);

/* Unmaps m->os's view (if any). */
void xipc__map_unmap(xipc_map *m);

/* Named mappings (posix/shm.c): unmaps and applies the lifetime rule on
 * close; a close begun before exit() is finished before the process ends. */
void xipc__shm_release(xipc_map *m);

/* For posix/objects.c (posix/shm.c): whether the object open in fd (its
 * fstat in st) carries xipc's managed mark; whether a process the caller
 * can inspect maps the object dev/ino; and the creator and creation time
 * xipc recorded on it (both 0 when absent or not valid for that inode). */
struct stat;
bool xipc__shm_has_mark(int fd, const struct stat *st);
bool xipc__shm_mapped(dev_t dev, ino_t ino);
/* One line of /proc/<pid>/maps: true for a file-backed area, with the
 * file's device and inode. */
bool xipc__maps_entry(const char *line, dev_t *dev, uint64_t *ino);
void xipc__shm_origin(int fd, ino_t ino, xipc_pid *pid, int64_t *ms);

#endif
