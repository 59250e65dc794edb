/* Private state of a mapping in the Win32 tree (win32/map.c, win32/shm.c). */
#ifndef XIPC_WIN32_MAP_H
#define XIPC_WIN32_MAP_H

#include "win32.h"

struct xipc__map_os {
  void *base;      /* what MapViewOfFile returned; data = base + delta */
  size_t len;      /* bytes mapped from base */
  size_t delta;    /* offset of the user's first byte from base */
  uint64_t offset; /* file offset of base (a multiple of the granularity) */
  HANDLE file;     /* the mapped file, or INVALID_HANDLE_VALUE */
  HANDLE section;  /* the file mapping object */
  HANDLE meta;     /* named: the section holding the exact size, or NULL */
  void *meta_view; /* named: its view, or NULL */
};

/* A zeroed state with no handles. NULL when out of memory. */
struct xipc__map_os *xipc__map_os_new(void);

/* FILE_MAP_* access for MapViewOfFile with m->access. */
DWORD xipc__map_view_access(int access);

/* Maps `length` bytes (0: the whole section) of m->os->section from
 * `offset` (any offset) and fills m->data, m->size and the view fields. */
int xipc__map_view(xipc_map *m, size_t length, uint64_t offset);

/* Named mappings (win32/shm.c): releases the size record. */
void xipc__shm_release(xipc_map *m);

#endif
