/* Named shared memory on POSIX (Linux): shm_open names with a lifetime
 * that ends at the last xipc close, even when holders crash.
 *
 * How the lifetime works:
 *  - Objects xipc creates carry the S_ISVTX mode bit ("managed"). They are
 *    built unnamed (O_TMPFILE in the shm directory), sized, marked and
 *    locked, and only then linked under their name, so no other process
 *    ever sees a half-made object, and linkat() gives EXCL for free.
 *  - Every xipc handle to a managed object holds flock(LOCK_SH) on its own
 *    descriptor; the kernel drops it when the process dies.
 *  - Closing tries LOCK_EX|LOCK_NB: it succeeds only for the last holder,
 *    which then removes the name (if it still names the same object).
 *  - Opening a managed object whose LOCK_EX succeeds at once finds it with
 *    no holder: its last holder crashed. The opener removes it and carries
 *    on as if it were absent.
 *  - An opener takes LOCK_SH and then checks that the name still refers to
 *    the same inode; if the last holder removed it in between, it retries.
 * Objects without the mark (Python's SharedMemory, XIPC_MAP_PERSIST) are
 * mapped without a lock and never removed except by xipc_map_unlink. */
#include "map.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where glibc's shm_open keeps its objects. */
#define SHM_DIR "/dev/shm"
#define MANAGED_BIT S_ISVTX
/* Not an XIPC_E* code: "the name changed under us, start again". */
#define RETRY 1
#define MAX_TRIES 64

static void shm_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", SHM_DIR, name);
}

/* True when `name` still refers to the object dev/ino. */
static bool same_object(const char *name, dev_t dev, ino_t ino) {
  char path[XIPC_NAME_MAX + sizeof SHM_DIR + 2];
  struct stat st;
  shm_path(path, sizeof path, name);
  if (lstat(path, &st) != 0)
    return false;
  return st.st_dev == dev && st.st_ino == ino;
}

static bool unlink_if_same(const char *name, dev_t dev, ino_t ino) {
  char path[XIPC_NAME_MAX + sizeof SHM_DIR + 2];
  shm_path(path, sizeof path, name);
  return same_object(name, dev, ino) && unlink(path) == 0;
}

static int lock(int fd, int op) {
  int rc;
  do
    rc = flock(fd, op);
  while (rc != 0 && errno == EINTR);
  return rc;
}

/* ---- creating --------------------------------------------------------- */

/* Gives the unnamed object fd the name `name`; EEXIST if it is taken. */
static int link_name(int fd, const char *name) {
  char path[XIPC_NAME_MAX + sizeof SHM_DIR + 2];
  char self[64];
  shm_path(path, sizeof path, name);
  snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
  if (linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
    return 0;
  /* Without /proc, AT_EMPTY_PATH does the same (it may need privilege). */
  if (errno == ENOENT && linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0)
    return 0;
  return xipc__fail_os();
}

static int build_unnamed(size_t length, bool managed,
                         const xipc_map_options *o) {
  mode_t mode = (o->mode ? (mode_t)o->mode : 0600) | (managed ? MANAGED_BIT : 0);
  int fd = open(SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
  if (fd < 0)
    return xipc__fail_os();
  /* fchmod: the mode must not depend on the umask, and must carry the
   * mark before the object gets its name. */
  if (fchmod(fd, mode) != 0 || ftruncate(fd, (off_t)length) != 0 ||
      (managed && lock(fd, LOCK_SH) != 0)) {
    int rc = xipc__fail_os();
    close(fd);
    return rc;
  }
  return fd;
}

static int create_named(xipc_map *m, const char *name, size_t length,
                        unsigned flags, const xipc_map_options *o) {
  bool managed = !(flags & XIPC_MAP_PERSIST);
  int fd = build_unnamed(length, managed, o);
  if (fd < 0)
    return fd;
  struct stat st;
  int rc = fstat(fd, &st) == 0 ? 0 : xipc__fail_os();
  if (rc == 0)
    rc = link_name(fd, name);
  bool linked = rc == 0;
  if (rc == 0)
    rc = xipc__map_fd(m, fd, length, 0);
  if (rc != 0) {
    if (linked)
      unlink_if_same(name, st.st_dev, st.st_ino);
    close(fd);
    return rc;
  }
  m->os->fd = fd;
  m->os->managed = managed;
  m->os->dev = st.st_dev;
  m->os->ino = st.st_ino;
  m->created = true;
  return 0;
}

/* ---- opening ------------------------------------------------------------ */

static int open_fd(const char *name, int access) {
  char sname[XIPC_NAME_MAX + 2];
  snprintf(sname, sizeof sname, "/%s", name);
  /* COPY maps MAP_PRIVATE, which needs only read access. */
  int fd = shm_open(sname, access == XIPC_ACCESS_WRITE ? O_RDWR : O_RDONLY, 0);
  return fd < 0 ? xipc__fail_os() : fd;
}

/* Joins the holders of a managed object: 0, RETRY (the object was stale
 * and is removed now, or the name moved on) or an error. */
static int join_managed(int fd, const char *name, const struct stat *st) {
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    /* No holder: every handle closed without removing it (crash). */
    unlink_if_same(name, st->st_dev, st->st_ino);
    return RETRY;
  }
  if (errno != EWOULDBLOCK)
    return xipc__fail_os();
  if (lock(fd, LOCK_SH) != 0)
    return xipc__fail_os();
  /* The last holder may have closed and removed the name meanwhile. */
  return same_object(name, st->st_dev, st->st_ino) ? 0 : RETRY;
}

static int map_existing(xipc_map *m, int fd, const char *name, size_t length) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return xipc__fail_os();
  bool managed = (st.st_mode & MANAGED_BIT) != 0;
  int rc = managed ? join_managed(fd, name, &st) : 0;
  if (rc == 0)
    rc = xipc__map_fit((uint64_t)st.st_size, &length, 0);
  if (rc == 0)
    rc = xipc__map_fd(m, fd, length, 0);
  if (rc != 0)
    return rc;
  m->os->managed = managed;
  m->os->dev = st.st_dev;
  m->os->ino = st.st_ino;
  return 0;
}

static int open_named(xipc_map *m, const char *name, size_t length) {
  int fd = open_fd(name, m->access);
  if (fd < 0)
    return fd;
  int rc = map_existing(m, fd, name, length);
  if (rc != 0) {
    close(fd);
    return rc;
  }
  m->os->fd = fd;
  return 0;
}

/* ---- the entry points ------------------------------------------------ */

/* EXCL starts by creating, anything else by opening. A name that is taken
 * sends a creator to open it (EXCL then fails unless the object was stale);
 * a name that vanished or held a stale object sends a CREATE caller back to
 * creating and anyone else to open again, which then finds nothing. */
static int open_or_create(xipc_map *m, const char *name, size_t length,
                          unsigned flags, const xipc_map_options *o) {
  bool may_create = (flags & XIPC_CREATE) != 0;
  bool create = (flags & XIPC_EXCL) != 0;
  for (int tries = 0; tries < MAX_TRIES; tries++) {
    int rc = create ? create_named(m, name, length, flags, o)
                    : open_named(m, name, length);
    if (create && rc == XIPC_EEXIST) {
      create = false;
      continue;
    }
    if (rc == RETRY || (!create && rc == XIPC_ENOENT && may_create)) {
      create = may_create;
      continue;
    }
    if (rc == 0 && !create && (flags & XIPC_EXCL)) {
      xipc__map_release(m);
      return xipc__fail(XIPC_EEXIST);
    }
    return rc;
  }
  return xipc__fail(XIPC_EAGAIN); /* the name kept changing under us */
}

int xipc__map_named_open(xipc_map *m, const char *name, size_t length,
                         unsigned flags, const xipc_map_options *opts) {
  m->os = calloc(1, sizeof *m->os);
  if (m->os == NULL)
    return xipc__fail(XIPC_ENOMEM);
  m->os->fd = -1;
  m->os->name = strdup(name);
  int rc = m->os->name ? open_or_create(m, name, length, flags, opts)
                       : xipc__fail(XIPC_ENOMEM);
  if (rc != 0 && m->os != NULL) {
    free(m->os->name);
    free(m->os);
    m->os = NULL;
  }
  return rc;
}

void xipc__shm_release(xipc_map *m) {
  struct xipc__map_os *os = m->os;
  /* Only the last holder gets LOCK_EX. A failed attempt may drop our
   * LOCK_SH (flock converts by unlock + lock), which is fine: we close. */
  if (os->managed && os->fd >= 0 && flock(os->fd, LOCK_EX | LOCK_NB) == 0)
    unlink_if_same(os->name, os->dev, os->ino);
}

int xipc__map_named_unlink(const char *name) {
  char sname[XIPC_NAME_MAX + 2];
  snprintf(sname, sizeof sname, "/%s", name);
  if (shm_unlink(sname) != 0)
    return xipc__fail_os();
  return 0;
}

/* Removes `name` if it is a managed object of ours that nobody holds. */
static bool reclaim_if_stale(int dir, const char *name) {
  int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return false;
  struct stat st;
  bool stale = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
               (st.st_mode & MANAGED_BIT) && st.st_uid == geteuid() &&
               flock(fd, LOCK_EX | LOCK_NB) == 0;
  bool removed = stale && unlink_if_same(name, st.st_dev, st.st_ino);
  close(fd);
  return removed;
}

int xipc__map_sweep(size_t *removed) {
  DIR *d = opendir(SHM_DIR);
  if (d == NULL)
    return xipc__fail_os();
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (xipc__check_name(e->d_name) == 0 && reclaim_if_stale(dirfd(d), e->d_name))
      n++;
  closedir(d);
  *removed = n;
  return 0;
}
