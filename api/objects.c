/* Named objects of this user: the portable half of listing, looking up,
 * removing and sweeping. The trees enumerate what the OS shows
 * (posix/objects.c, win32/objects.c); this file checks arguments, decides
 * what is stale, finds one object by name and kind, and refuses to remove
 * an object that processes hold unless forced. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
    NULL,    "mapping",          "queue",   "semaphore",
    "mutex", "persistent-queue", "listener"};
#define KIND_MAX XIPC_OBJ_LISTENER

const char *xipc_object_kind_name(int kind) {
  if (kind < XIPC_OBJ_MAPPING || kind > KIND_MAX)
    return "?";
  return kind_names[kind];
}

int xipc_object_kind_parse(const char *name) {
  if (name == NULL)
    return 0;
  for (int k = XIPC_OBJ_MAPPING; k <= KIND_MAX; k++)
    if (strcmp(name, kind_names[k]) == 0)
      return k;
  return 0;
}

static int by_name_kind(const void *a, const void *b) {
  const xipc_object_info *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (c != 0)
    return c;
  return (x->kind > y->kind) - (x->kind < y->kind);
}

/* Stale is decided here, once for both trees: only an object that xipc's
 * lifetime rule covers, and only when the OS said who holds it. */
static void finish(xipc_object_info *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    v[i].name[XIPC_NAME_MAX] = '\0';
    if (v[i].nholders < XIPC_OBJECT_HOLDERS_MAX)
      memset(v[i].holders + v[i].nholders, 0,
             (XIPC_OBJECT_HOLDERS_MAX - v[i].nholders) * sizeof(xipc_pid));
    v[i].stale = v[i].managed && v[i].holders_known && v[i].nholders == 0;
  }
  if (n > 1)
    qsort(v, n, sizeof *v, by_name_kind);
}

static int list_all(xipc_object_info **out, size_t *n) {
  *out = NULL;
  *n = 0;
  int rc = xipc__objects_list_os(out, n);
  if (rc != 0) {
    free(*out);
    *out = NULL;
    *n = 0;
    return rc;
  }
  if (*n == 0) {
    free(*out);
    *out = NULL;
    return 0;
  }
  finish(*out, *n);
  return 0;
}

int xipc_objects_list(xipc_object_info **out, size_t *n) {
  if (out != NULL)
    *out = NULL;
  if (n != NULL)
    *n = 0;
  if (out == NULL || n == NULL)
    return xipc__fail(XIPC_EINVAL);
  return list_all(out, n);
}

void xipc_objects_free(xipc_object_info *list) { free(list); }

static int check_lookup(const char *name, int kind) {
  int rc = xipc__check_name(name);
  if (rc != 0)
    return xipc__fail(rc);
  if (kind != 0 && (kind < XIPC_OBJ_MAPPING || kind > KIND_MAX))
    return xipc__fail(XIPC_EINVAL);
  return 0;
}

/* Copies the one object called name of kind (0: any) to *info. */
static int find(const char *name, int kind, xipc_object_info *info) {
  xipc_object_info *v;
  size_t n, hits = 0;
  int rc = list_all(&v, &n);
  if (rc != 0)
    return rc;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(v[i].name, name) != 0 || (kind != 0 && v[i].kind != kind))
      continue;
    if (hits++ == 0)
      *info = v[i];
  }
  free(v);
  if (hits == 0)
    return xipc__fail(XIPC_ENOENT);
  return hits > 1 ? xipc__fail(XIPC_EEXIST) : 0; /* kind 0, ambiguous */
}

int xipc_object_stat(const char *name, int kind, xipc_object_info *info) {
  if (info == NULL)
    return xipc__fail(XIPC_EINVAL);
  int rc = check_lookup(name, kind);
  if (rc != 0)
    return rc;
  xipc_object_info found;
  rc = find(name, kind, &found);
  if (rc == 0)
    *info = found;
  return rc;
}

int xipc_object_remove(const char *name, int kind, unsigned flags) {
  if ((flags & ~(unsigned)XIPC_REMOVE_FORCE) != 0)
    return xipc__fail(XIPC_EINVAL);
  int rc = check_lookup(name, kind);
  if (rc != 0)
    return rc;
  xipc_object_info info;
  rc = find(name, kind, &info);
  if (rc != 0)
    return rc;
  if (info.nholders > 0 && !(flags & XIPC_REMOVE_FORCE))
    return xipc__fail(XIPC_EBUSY);
  return xipc__object_remove_os(&info, flags);
}

int xipc_objects_sweep(xipc_object_info **removed, size_t *n) {
  if (removed != NULL)
    *removed = NULL;
  if (n != NULL)
    *n = 0;
  xipc_object_info *v;
  size_t count, kept = 0;
  int rc = list_all(&v, &count);
  if (rc != 0)
    return rc;
  /* The removed entries are moved to the front of the list itself. */
  for (size_t i = 0; i < count; i++)
    if (v[i].stale && xipc__object_remove_os(&v[i], 0) == 0)
      v[kept++] = v[i];
  if (removed != NULL && kept > 0)
    *removed = v;
  else
    free(v);
  if (n != NULL)
    *n = kept;
  return xipc__fail(0);
}
