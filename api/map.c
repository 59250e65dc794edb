/* Mappings: argument checks and the cursor API with CPython mmap semantics.
 * The trees only create, resize, flush and release the memory. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define MAP_MAX_LENGTH ((size_t)PTRDIFF_MAX)

static bool access_ok(int access) {
  return access == XIPC_ACCESS_READ || access == XIPC_ACCESS_WRITE ||
         access == XIPC_ACCESS_COPY;
}

static bool writable(const xipc_map *m) {
  return m->access != XIPC_ACCESS_READ;
}

static const xipc_map_options *options_or_default(const xipc_map_options *o) {
  static const xipc_map_options defaults = {0, XIPC_MAP_NS_LOCAL};
  return o ? o : &defaults;
}

static int check_options(const xipc_map_options *o) {
  if ((o->mode & ~0777u) != 0)
    return XIPC_EINVAL;
  if (o->ns != XIPC_MAP_NS_LOCAL && o->ns != XIPC_MAP_NS_GLOBAL)
    return XIPC_EINVAL;
  return 0;
}

static int check_named(xipc_map **out, const char *name, size_t length,
                       int access, unsigned flags) {
  const unsigned known =
      XIPC_CREATE | XIPC_EXCL | XIPC_ANY_OWNER | XIPC_MAP_PERSIST;
  if (out == NULL || !access_ok(access) || (flags & ~known) != 0)
    return XIPC_EINVAL;
  if ((flags & XIPC_EXCL) && !(flags & XIPC_CREATE))
    return XIPC_EINVAL;
  if ((flags & XIPC_MAP_PERSIST) && !(flags & XIPC_CREATE))
    return XIPC_EINVAL;
  if (length > MAP_MAX_LENGTH || ((flags & XIPC_CREATE) && length == 0))
    return XIPC_EINVAL;
  return xipc__check_name(name);
}

static int check_file(xipc_map **out, const char *path, size_t length,
                      int access, unsigned flags) {
  const unsigned known = XIPC_CREATE | XIPC_EXCL | XIPC_MAP_EXTEND;
  if (out == NULL || path == NULL || path[0] == '\0' || !access_ok(access))
    return XIPC_EINVAL;
  if ((flags & ~known) != 0 || length > MAP_MAX_LENGTH)
    return XIPC_EINVAL;
  if ((flags & XIPC_EXCL) && !(flags & XIPC_CREATE))
    return XIPC_EINVAL;
  /* Creating or growing a file needs a writable view of it. */
  if ((flags & (XIPC_CREATE | XIPC_MAP_EXTEND)) &&
      access != XIPC_ACCESS_WRITE)
    return XIPC_EINVAL;
  if ((flags & XIPC_MAP_EXTEND) && length == 0)
    return XIPC_EINVAL;
  return 0;
}

/* Allocates the handle, lets `open` fill it and publishes it in *out. */
typedef int (*open_fn)(xipc_map *m, const void *ctx);

static int open_map(xipc_map **out, int kind, int access, open_fn fn,
                    const void *ctx) {
  xipc_map *m = calloc(1, sizeof *m);
  if (m == NULL)
    return xipc__fail(XIPC_ENOMEM);
  m->kind = kind;
  m->access = access;
  int rc = fn(m, ctx);
  if (rc != 0) {
    free(m);
    return rc;
  }
  *out = m;
  return 0;
}

typedef struct {
  const char *name;
  size_t length;
  unsigned flags;
  const xipc_map_options *opts;
} named_args;

static int named_open(xipc_map *m, const void *ctx) {
  const named_args *a = ctx;
  return xipc__map_named_open(m, a->name, a->length, a->flags, a->opts);
}

int xipc_map_named_ex(xipc_map **out, const char *name, size_t length,
                      int access, unsigned flags,
                      const xipc_map_options *opts) {
  if (out != NULL)
    *out = NULL;
  const xipc_map_options *o = options_or_default(opts);
  int rc = check_named(out, name, length, access, flags);
  if (rc == 0)
    rc = check_options(o);
  if (rc != 0)
    return xipc__fail(rc);
  named_args a = {name, length, flags, o};
  return open_map(out, XIPC__MAP_NAMED, access, named_open, &a);
}

int xipc_map_named(xipc_map **out, const char *name, size_t length,
                   int access, unsigned flags) {
  if (out != NULL)
    *out = NULL;
  if ((flags & XIPC_MAP_PERSIST) != 0)
    return xipc__fail(XIPC_EINVAL); /* only through xipc_map_named_ex */
  return xipc_map_named_ex(out, name, length, access, flags, NULL);
}

typedef struct {
  const char *path;
  size_t length;
  uint64_t offset;
  unsigned flags;
  const xipc_map_options *opts;
} file_args;

static int file_open(xipc_map *m, const void *ctx) {
  const file_args *a = ctx;
  return xipc__map_file_open(m, a->path, a->length, a->offset, a->flags,
                             a->opts);
}

int xipc_map_file_ex(xipc_map **out, const char *path, size_t length,
                     uint64_t offset, int access, unsigned flags,
                     const xipc_map_options *opts) {
  if (out != NULL)
    *out = NULL;
  const xipc_map_options *o = options_or_default(opts);
  int rc = check_file(out, path, length, access, flags);
  if (rc == 0)
    rc = check_options(o);
  if (rc != 0)
    return xipc__fail(rc);
  file_args a = {path, length, offset, flags, o};
  return open_map(out, XIPC__MAP_FILE, access, file_open, &a);
}

int xipc_map_file(xipc_map **out, const char *path, size_t length,
                  uint64_t offset, int access) {
  return xipc_map_file_ex(out, path, length, offset, access, 0, NULL);
}

static int anon_open(xipc_map *m, const void *ctx) {
  return xipc__map_anon_open(m, *(const size_t *)ctx);
}

int xipc_map_anonymous(xipc_map **out, size_t length) {
  if (out != NULL)
    *out = NULL;
  if (out == NULL || length == 0 || length > MAP_MAX_LENGTH)
    return xipc__fail(XIPC_EINVAL);
  return open_map(out, XIPC__MAP_ANON, XIPC_ACCESS_WRITE, anon_open, &length);
}

int xipc_map_close(xipc_map *m) {
  if (m == NULL)
    return xipc__fail(XIPC_EINVAL);
  int rc = xipc__map_release(m);
  free(m);
  return rc;
}

int xipc_map_unlink(const char *name) {
  int rc = xipc__check_name(name);
  if (rc != 0)
    return xipc__fail(rc);
  return xipc__map_named_unlink(name);
}

int xipc_map_sweep(size_t *removed) {
  size_t n = 0;
  int rc = xipc__map_sweep(&n);
  if (removed != NULL)
    *removed = n;
  return rc;
}

void *xipc_map_data(xipc_map *m) { return m ? m->data : NULL; }

size_t xipc_map_size(const xipc_map *m) { return m ? m->size : 0; }

size_t xipc_map_granularity(void) { return xipc__map_granularity(); }

int xipc_map_created(const xipc_map *m) { return m && m->created ? 1 : 0; }

int xipc__map_fit(uint64_t object_size, size_t *length, uint64_t offset) {
  if (*length == 0 && object_size == 0)
    return xipc__fail(XIPC_EINVAL);
  if (*length == 0 && offset >= object_size)
    return xipc__fail(XIPC_ERANGE);
  if (offset > object_size || object_size - offset < *length)
    return xipc__fail(XIPC_ERANGE);
  if (*length == 0 && object_size - offset > (uint64_t)MAP_MAX_LENGTH)
    return xipc__fail(XIPC_ENOMEM);
  if (*length == 0)
    *length = (size_t)(object_size - offset);
  return 0;
}

/* ---- cursor API ---------------------------------------------------------- */

static size_t remaining(const xipc_map *m) { return m->size - m->pos; }

int xipc_map_read(xipc_map *m, void *buf, size_t n, size_t *nread) {
  if (m == NULL || (buf == NULL && n > 0))
    return xipc__fail(XIPC_EINVAL);
  size_t k = n < remaining(m) ? n : remaining(m);
  if (k > 0)
    memcpy(buf, m->data + m->pos, k);
  m->pos += k;
  if (nread != NULL)
    *nread = k;
  return 0;
}

int xipc_map_read_byte(xipc_map *m, int *byte) {
  if (m == NULL || byte == NULL)
    return xipc__fail(XIPC_EINVAL);
  if (remaining(m) == 0)
    return xipc__fail(XIPC_ERANGE); /* Python: "read byte out of range" */
  *byte = m->data[m->pos++];
  return 0;
}

int xipc_map_readline(xipc_map *m, void *buf, size_t cap, size_t *len) {
  if (m == NULL || len == NULL || (buf == NULL && cap > 0))
    return xipc__fail(XIPC_EINVAL);
  size_t k = cap < remaining(m) ? cap : remaining(m);
  const unsigned char *nl = k ? memchr(m->data + m->pos, '\n', k) : NULL;
  if (nl != NULL)
    k = (size_t)(nl - (m->data + m->pos)) + 1;
  if (k > 0)
    memcpy(buf, m->data + m->pos, k);
  m->pos += k;
  *len = k;
  return 0;
}

int xipc_map_write(xipc_map *m, const void *buf, size_t n) {
  if (m == NULL || (buf == NULL && n > 0))
    return xipc__fail(XIPC_EINVAL);
  if (!writable(m))
    return xipc__fail(XIPC_EACCES);
  if (n > remaining(m))
    return xipc__fail(XIPC_ERANGE); /* Python: "data out of range" */
  if (n > 0)
    memcpy(m->data + m->pos, buf, n);
  m->pos += n;
  return 0;
}

int xipc_map_write_byte(xipc_map *m, int byte) {
  if (m == NULL || byte < 0 || byte > 255)
    return xipc__fail(XIPC_EINVAL);
  if (!writable(m))
    return xipc__fail(XIPC_EACCES);
  if (remaining(m) == 0)
    return xipc__fail(XIPC_ERANGE); /* Python: "write byte out of range" */
  m->data[m->pos++] = (unsigned char)byte;
  return 0;
}

/* base + offset as a position in [0, size], or -1 when outside. */
static int64_t offset_from(size_t base, int64_t offset, size_t size) {
  int64_t b = (int64_t)base;
  if (offset > 0 && offset > (int64_t)size - b)
    return -1;
  if (offset < 0 && offset < -b)
    return -1;
  return b + offset;
}

int xipc_map_seek(xipc_map *m, int64_t offset, int whence) {
  if (m == NULL)
    return xipc__fail(XIPC_EINVAL);
  size_t base;
  switch (whence) {
  case XIPC_SEEK_SET:
    base = 0;
    break;
  case XIPC_SEEK_CUR:
    base = m->pos;
    break;
  case XIPC_SEEK_END:
    base = m->size;
    break;
  default:
    return xipc__fail(XIPC_EINVAL);
  }
  int64_t p = offset_from(base, offset, m->size);
  if (p < 0)
    return xipc__fail(XIPC_ERANGE); /* Python: "seek out of range" */
  m->pos = (size_t)p;
  return 0;
}

size_t xipc_map_tell(const xipc_map *m) { return m ? m->pos : 0; }

/* Python's slice index rule: negative counts from the end, then clamp. */
static size_t slice_index(int64_t i, size_t size) {
  int64_t s = (int64_t)size;
  if (i < 0)
    i = i < -s ? 0 : i + s;
  return i > s ? size : (size_t)i;
}

static int64_t find_forward(const unsigned char *h, size_t hn,
                            const unsigned char *nd, size_t n) {
  for (size_t i = 0; i + n <= hn; i++) {
    const unsigned char *p = memchr(h + i, nd[0], hn - n - i + 1);
    if (p == NULL)
      return -1;
    i = (size_t)(p - h);
    if (memcmp(p, nd, n) == 0)
      return (int64_t)i;
  }
  return -1;
}

static int64_t find_backward(const unsigned char *h, size_t hn,
                             const unsigned char *nd, size_t n) {
  for (size_t i = hn - n + 1; i-- > 0;)
    if (h[i] == nd[0] && memcmp(h + i, nd, n) == 0)
      return (int64_t)i;
  return -1;
}

static int find_common(const xipc_map *m, const void *needle, size_t n,
                       int64_t start, int64_t end, int64_t *pos,
                       bool reverse) {
  if (m == NULL || pos == NULL || (needle == NULL && n > 0))
    return xipc__fail(XIPC_EINVAL);
  size_t s = slice_index(start, m->size);
  size_t e = slice_index(end, m->size);
  *pos = -1;
  if (e < s || e - s < n)
    return 0;
  if (n == 0) {
    *pos = (int64_t)(reverse ? e : s);
    return 0;
  }
  int64_t r = reverse ? find_backward(m->data + s, e - s, needle, n)
                      : find_forward(m->data + s, e - s, needle, n);
  *pos = r < 0 ? -1 : r + (int64_t)s;
  return 0;
}

int xipc_map_find(const xipc_map *m, const void *needle, size_t n,
                  int64_t start, int64_t end, int64_t *pos) {
  return find_common(m, needle, n, start, end, pos, false);
}

int xipc_map_rfind(const xipc_map *m, const void *needle, size_t n,
                   int64_t start, int64_t end, int64_t *pos) {
  return find_common(m, needle, n, start, end, pos, true);
}

/* True when [start, start + n) lies inside [0, size]. */
static bool range_ok(size_t start, size_t n, size_t size) {
  return start <= size && n <= size - start;
}

int xipc_map_move(xipc_map *m, size_t dest, size_t src, size_t count) {
  if (m == NULL)
    return xipc__fail(XIPC_EINVAL);
  if (!writable(m))
    return xipc__fail(XIPC_EACCES);
  if (!range_ok(src, count, m->size) || !range_ok(dest, count, m->size))
    return xipc__fail(XIPC_ERANGE);
  if (count > 0)
    memmove(m->data + dest, m->data + src, count);
  return 0;
}

int xipc_map_flush(xipc_map *m, size_t offset, size_t size) {
  if (m == NULL)
    return xipc__fail(XIPC_EINVAL);
  if (offset > m->size || (size > 0 && !range_ok(offset, size, m->size)))
    return xipc__fail(XIPC_ERANGE); /* Python: "flush values out of range" */
  if (size == 0)
    size = m->size - offset;
  if (!writable(m) || m->access == XIPC_ACCESS_COPY || size == 0)
    return 0; /* Python returns at once for READ and COPY mappings. */
  return xipc__map_flush(m, offset, size);
}

int xipc_map_resize(xipc_map *m, size_t new_size) {
  if (m == NULL || new_size == 0 || new_size > MAP_MAX_LENGTH)
    return xipc__fail(XIPC_EINVAL);
  if (m->kind == XIPC__MAP_NAMED)
    return xipc__fail(XIPC_ENOTSUP);
  if (m->access != XIPC_ACCESS_WRITE)
    return xipc__fail(XIPC_EACCES); /* Python: TypeError for READ/COPY */
  int rc = xipc__map_resize(m, new_size);
  if (rc == 0 && m->pos > m->size)
    m->pos = m->size;
  return rc;
}

int xipc_map_get(const xipc_map *m, size_t start, size_t stop, void *out) {
  if (m == NULL || (out == NULL && stop > start))
    return xipc__fail(XIPC_EINVAL);
  if (stop < start || stop > m->size)
    return xipc__fail(XIPC_ERANGE);
  if (stop > start)
    memcpy(out, m->data + start, stop - start);
  return 0;
}

int xipc_map_set(xipc_map *m, size_t start, const void *src, size_t n) {
  if (m == NULL || (src == NULL && n > 0))
    return xipc__fail(XIPC_EINVAL);
  if (!writable(m))
    return xipc__fail(XIPC_EACCES);
  if (!range_ok(start, n, m->size))
    return xipc__fail(XIPC_ERANGE);
  if (n > 0)
    memcpy(m->data + start, src, n);
  return 0;
}

int xipc__map_file_fit(uint64_t file_size, size_t *length, uint64_t offset,
                       unsigned flags, uint64_t *grow_to) {
  *grow_to = file_size;
  if (flags & XIPC_MAP_EXTEND) {
    if (offset > UINT64_MAX - *length || offset + *length > (uint64_t)INT64_MAX)
      return xipc__fail(XIPC_ERANGE);
    if (file_size < offset + *length)
      *grow_to = offset + *length;
  }
  return xipc__map_fit(*grow_to, length, offset);
}

int xipc__map_align(uint64_t offset, size_t length, uint64_t *start,
                    size_t *delta) {
  uint64_t gran = xipc__map_granularity();
  *start = offset - offset % gran;
  *delta = (size_t)(offset - *start);
  if (length > SIZE_MAX - *delta)
    return xipc__fail(XIPC_ERANGE);
  return 0;
}
