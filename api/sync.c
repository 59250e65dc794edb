/* Semaphores and mutexes: the portable argument checks. Each public entry
 * point validates once and dispatches to the tree's xipc__sem_* /
 * xipc__mutex_* function (posix/sync.c, win32/sync.c). */
#include "internal.h"

#include <string.h>

/* A sync object name is a portable name short enough to carry xipc's
 * private suffix (XIPC_SYNC_NAME_MAX). */
static int check_sync_name(const char *name) {
  int rc = xipc__check_name(name);
  if (rc != 0)
    return rc;
  return strlen(name) > XIPC_SYNC_NAME_MAX ? XIPC_ENAMETOOLONG : 0;
}

static int check_open_args(const void *out, const char *name, unsigned flags) {
  if (out == NULL)
    return XIPC_EINVAL;
  if ((flags & ~(unsigned)(XIPC_CREATE | XIPC_EXCL | XIPC_ANY_OWNER)) != 0)
    return XIPC_EINVAL;
  if ((flags & XIPC_EXCL) && !(flags & XIPC_CREATE))
    return XIPC_EINVAL;
  return check_sync_name(name);
}

void xipc__sync_name(char *buf, const char *name, const char *suffix) {
  size_t n = strlen(name);
  memcpy(buf, name, n);
  memcpy(buf + n, suffix, strlen(suffix) + 1);
}

int xipc_sem_open(xipc_sem **out, const char *name, unsigned initial,
                  unsigned flags) {
  if (out != NULL)
    *out = NULL;
  int rc = check_open_args(out, name, flags);
  if (rc == 0 && initial > XIPC_SEM_VALUE_MAX)
    rc = XIPC_ERANGE;
  if (rc != 0)
    return xipc__fail(rc);
  return xipc__sem_open(out, name, initial, flags);
}

int xipc_sem_wait(xipc_sem *s, int timeout_ms) {
  if (s == NULL || timeout_ms < -1)
    return xipc__fail(XIPC_EINVAL);
  return xipc__sem_wait(s, timeout_ms);
}

int xipc_sem_post(xipc_sem *s) {
  if (s == NULL)
    return xipc__fail(XIPC_EINVAL);
  return xipc__sem_post(s);
}

int xipc_sem_close(xipc_sem *s) {
  if (s == NULL)
    return xipc__fail(XIPC_EINVAL);
  return xipc__sem_close(s);
}

int xipc_sem_unlink(const char *name) {
  int rc = check_sync_name(name);
  if (rc != 0)
    return xipc__fail(rc);
  return xipc__sem_unlink(name);
}

int xipc_mutex_open(xipc_mutex **out, const char *name, unsigned flags) {
  if (out != NULL)
    *out = NULL;
  int rc = check_open_args(out, name, flags);
  if (rc != 0)
    return xipc__fail(rc);
  return xipc__mutex_open(out, name, flags);
}

int xipc_mutex_lock(xipc_mutex *m, int timeout_ms) {
  if (m == NULL || timeout_ms < -1)
    return xipc__fail(XIPC_EINVAL);
  return xipc__mutex_lock(m, timeout_ms);
}

int xipc_mutex_consistent(xipc_mutex *m) {
  if (m == NULL)
    return xipc__fail(XIPC_EINVAL);
  return xipc__mutex_consistent(m);
}

int xipc_mutex_unlock(xipc_mutex *m) {
  if (m == NULL)
    return xipc__fail(XIPC_EINVAL);
  return xipc__mutex_unlock(m);
}

int xipc_mutex_close(xipc_mutex *m) {
  if (m == NULL)
    return xipc__fail(XIPC_EINVAL);
  return xipc__mutex_close(m);
}

int xipc_mutex_unlink(const char *name) {
  int rc = check_sync_name(name);
  if (rc != 0)
    return xipc__fail(rc);
  return xipc__mutex_unlink(name);
}
