/* Named shared memory on POSIX (Linux): shm_open names with a lifetime
 * that ends at the last xipc close, even when holders crash.
 *
 * How the lifetime works:
 *  - Objects xipc creates are "managed": they carry the S_ISVTX mode bit
 *    and the extended attribute user.xipc holding a magic and the object's
 *    own inode number (a mode bit alone is too easy to produce by
 *    accident; a copied attribute names another inode). Kernels whose
 *    tmpfs has no user xattrs (before Linux 6.6) keep the mode bit alone.
 *    They are built unnamed (O_TMPFILE in the shm directory), sized, marked
 *    and locked, and only then linked under their name, so no other process
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
 *  - Only objects owned by the calling user are ever removed, and never
 *    one that a process the caller can inspect still maps (/proc/<pid>/maps).
 * Objects without the mark (Python's SharedMemory, XIPC_MAP_PERSIST) are
 * mapped without a lock and never removed except by xipc_map_unlink.
 *
 * What is at a name is trusted only after checks: it is opened with
 * O_NOFOLLOW|O_NONBLOCK (a symlink or a FIFO cannot redirect or block the
 * open), must be a regular file, and, unless the caller passed
 * XIPC_ANY_OWNER, must belong to the calling user and be writable by group
 * or others only as far as the caller's mode allows. */
#include "map.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* Where glibc's shm_open keeps its objects. */
#define SHM_DIR "/dev/shm"
#define MANAGED_BIT S_ISVTX
#define MARK_ATTR "user.xipc"
#define MARK_MAGIC "xipcmgd1"
#define ORIGIN_ATTR "user.xipc.origin"
#define ORIGIN_MAGIC "xipcorg1"
/* Not an XIPC_E* code: "the name changed under us, start again". */
#define RETRY 1
#define MAX_TRIES 64
/* How long exit() waits for closes that other threads have begun. */
#define CLOSE_WAIT_MS 2000

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

/* ---- closing while the process exits ---------------------------------- */

/* exit() ends every other thread wherever it is. A close cut short there
 * (a signal handler on the dispatcher thread closing a mapping while main
 * returns) would leave the object behind with no holder, which a clean
 * exit must not do. So a close counts itself in `closing`, and exit()
 * waits in an atexit handler until no close is in progress (at most
 * CLOSE_WAIT_MS). _exit() and crashes skip it, as they skip every close:
 * their objects are removed by the next open of the name or a sweep. */
static atomic_int closing;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void wait_for_closes(void) {
  for (unsigned i = 0; i < CLOSE_WAIT_MS && atomic_load(&closing) > 0; i++)
    xipc__sleep_ms(1);
}

/* A forked child has only the forking thread: other threads' closes are
 * not in progress there. */
static void forget_closes(void) { atomic_store(&closing, 0); }

static void watch_exit(void) {
  atexit(wait_for_closes);
  pthread_atfork(NULL, NULL, forget_closes);
}

/* ---- the managed mark ------------------------------------------------- */

typedef struct {
  char magic[8];
  uint64_t ino;
} mark_rec;

static mark_rec mark_of(ino_t ino) {
  mark_rec r;
  memcpy(r.magic, MARK_MAGIC, sizeof r.magic);
  r.ino = (uint64_t)ino;
  return r;
}

static bool no_xattrs(int e) { return e == ENOTSUP || e == EOPNOTSUPP; }

/* Who made the object and when, for xipc_objects_list: an attribute of
 * its own beside the mark, so that the mark keeps its size and every
 * version of xipc reads it the same. Informational only: it is never
 * used to decide what may be removed. */
typedef struct {
  char magic[8];
  uint64_t ino;
  int64_t pid;
  int64_t created_ms; /* CLOCK_REALTIME, ms since 1970 */
} origin_rec;

static void set_origin(int fd, ino_t ino) {
  struct timespec ts;
  origin_rec r;
  memset(&r, 0, sizeof r);
  memcpy(r.magic, ORIGIN_MAGIC, sizeof r.magic);
  r.ino = (uint64_t)ino;
  r.pid = (int64_t)getpid();
  if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
    r.created_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  (void)fsetxattr(fd, ORIGIN_ATTR, &r, sizeof r, 0); /* best effort */
}

void xipc__shm_origin(int fd, ino_t ino, xipc_pid *pid, int64_t *ms) {
  origin_rec r;
  *pid = 0;
  *ms = 0;
  ssize_t n = fgetxattr(fd, ORIGIN_ATTR, &r, sizeof r);
  if (n != (ssize_t)sizeof r ||
      memcmp(r.magic, ORIGIN_MAGIC, sizeof r.magic) != 0 ||
      r.ino != (uint64_t)ino || r.pid <= 0 || r.created_ms < 0)
    return; /* absent, or copied from another object, or garbage */
  *pid = r.pid;
  *ms = r.created_ms;
}

/* Marks the unnamed object fd (inode ino) as xipc's. */
static int set_mark(int fd, ino_t ino) {
  mark_rec r = mark_of(ino);
  if (fsetxattr(fd, MARK_ATTR, &r, sizeof r, 0) == 0)
    return 0;
  if (no_xattrs(errno))
    return 0; /* no user xattrs on this tmpfs: the mode bit alone */
  return xipc__fail_os();
}

/* True when the object open in fd carries xipc's mark. */
static bool has_mark(int fd, const struct stat *st) {
  if (!(st->st_mode & MANAGED_BIT))
    return false;
  mark_rec r, want = mark_of(st->st_ino);
  ssize_t n = fgetxattr(fd, MARK_ATTR, &r, sizeof r);
  if (n < 0)
    return no_xattrs(errno);
  return n == (ssize_t)sizeof r && memcmp(&r, &want, sizeof r) == 0;
}

bool xipc__shm_has_mark(int fd, const struct stat *st) {
  return has_mark(fd, st);
}

bool xipc__maps_entry(const char *line, dev_t *dev, uint64_t *ino) {
  unsigned maj, min;
  unsigned long long i;
  if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &i) != 3 || i == 0)
    return false;
  *dev = makedev(maj, min);
  *ino = i;
  return true;
}

/* True when a process whose /proc/<pid>/maps the caller may read maps the
 * object dev/ino. Other users' processes cannot be inspected (root sees
 * all of them). Called only before removing an object without holders. */
bool xipc__shm_mapped(dev_t dev, ino_t ino) {
  DIR *d = opendir("/proc");
  if (d == NULL)
    return false;
  bool found = false;
  struct dirent *e;
  while (!found && (e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    char path[300], line[512];
    snprintf(path, sizeof path, "/proc/%s/maps", e->d_name);
    FILE *f = fopen(path, "re");
    if (f == NULL)
      continue;
    while (!found && fgets(line, sizeof line, f) != NULL) {
      dev_t at;
      uint64_t i;
      found = xipc__maps_entry(line, &at, &i) && i == (uint64_t)ino && at == dev;
    }
    fclose(f);
  }
  closedir(d);
  return found;
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

static mode_t asked_mode(const xipc_map_options *o) {
  return o->mode ? (mode_t)o->mode : 0600;
}

static int build_unnamed(size_t length, bool managed,
                         const xipc_map_options *o, struct stat *st) {
  mode_t mode = asked_mode(o) | (managed ? MANAGED_BIT : 0);
  int fd = open(SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
  if (fd < 0)
    return xipc__fail_os();
  /* fchmod: the mode must not depend on the umask, and must carry the
   * mark before the object gets its name. */
  int rc = 0;
  if (fchmod(fd, mode) != 0 || ftruncate(fd, (off_t)length) != 0 ||
      fstat(fd, st) != 0 || (managed && lock(fd, LOCK_SH) != 0))
    rc = xipc__fail_os();
  if (rc == 0 && managed)
    rc = set_mark(fd, st->st_ino);
  if (rc == 0)
    set_origin(fd, st->st_ino);
  if (rc != 0) {
    close(fd);
    return rc;
  }
  return fd;
}

static int create_named(xipc_map *m, const char *name, size_t length,
                        unsigned flags, const xipc_map_options *o) {
  bool managed = !(flags & XIPC_MAP_PERSIST);
  struct stat st;
  int fd = build_unnamed(length, managed, o, &st);
  if (fd < 0)
    return fd;
  int rc = link_name(fd, name);
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
  m->os->own = true;
  m->os->dev = st.st_dev;
  m->os->ino = st.st_ino;
  m->created = true;
  return 0;
}

/* ---- opening ------------------------------------------------------------ */

/* Opens what is at the name without following a symlink or blocking on a
 * FIFO (COPY maps MAP_PRIVATE, which needs only read access). */
static int open_fd(const char *name, int access) {
  char path[XIPC_NAME_MAX + sizeof SHM_DIR + 2];
  shm_path(path, sizeof path, name);
  int oflags = access == XIPC_ACCESS_WRITE ? O_RDWR : O_RDONLY;
  int fd = open(path, oflags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0)
    return fd;
  /* ELOOP -> EACCES: a symlink at the name is refused, as Windows refuses
   * a name held by another kind of object. */
  return errno == ELOOP ? xipc__fail_os_as(XIPC_EACCES) : xipc__fail_os();
}

/* XIPC_EACCES unless the object is something xipc may use: a regular file
 * (not a FIFO, device or directory), owned by the caller and not writable
 * by group or others beyond the caller's mode, unless XIPC_ANY_OWNER. */
static int check_object(const struct stat *st, unsigned flags,
                        const xipc_map_options *o) {
  if (!S_ISREG(st->st_mode))
    return xipc__fail(XIPC_EACCES);
  if (flags & XIPC_ANY_OWNER)
    return 0;
  if (st->st_uid != geteuid() || (st->st_mode & 022 & ~asked_mode(o)) != 0)
    return xipc__fail(XIPC_EACCES);
  return 0;
}

/* Joins the holders of a managed object: 0, RETRY (the object was stale
 * and is removed now, or the name moved on) or an error. */
static int join_managed(int fd, const char *name, const struct stat *st,
                        bool own) {
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    /* No holder: every handle closed without removing it (crash). It goes
     * unless it is another user's or a process still maps it (another
     * program that opened it by name): then it is joined. */
    if (own && !xipc__shm_mapped(st->st_dev, st->st_ino)) {
      unlink_if_same(name, st->st_dev, st->st_ino);
      return RETRY;
    }
  } else if (errno != EWOULDBLOCK) {
    return xipc__fail_os();
  }
  if (lock(fd, LOCK_SH) != 0)
    return xipc__fail_os();
  /* The last holder may have closed and removed the name meanwhile. */
  return same_object(name, st->st_dev, st->st_ino) ? 0 : RETRY;
}

static int map_existing(xipc_map *m, int fd, const char *name, size_t length,
                        unsigned flags, const xipc_map_options *o) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return xipc__fail_os();
  int rc = check_object(&st, flags, o);
  if (rc != 0)
    return rc;
  bool managed = has_mark(fd, &st), own = st.st_uid == geteuid();
  rc = managed ? join_managed(fd, name, &st, own) : 0;
  if (rc == 0)
    rc = xipc__map_fit((uint64_t)st.st_size, &length, 0);
  if (rc == 0)
    rc = xipc__map_fd(m, fd, length, 0);
  if (rc != 0)
    return rc;
  m->os->managed = managed;
  m->os->own = own;
  m->os->dev = st.st_dev;
  m->os->ino = st.st_ino;
  return 0;
}

static int open_named(xipc_map *m, const char *name, size_t length,
                      unsigned flags, const xipc_map_options *o) {
  int fd = open_fd(name, m->access);
  if (fd < 0)
    return fd;
  int rc = map_existing(m, fd, name, length, flags, o);
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
 * creating and anyone else to open again, which then finds nothing.
 * Existence wins over size: with CREATE an existing object is opened at
 * its own size (length only sizes a new one), so EXCL reports EEXIST for
 * an existing object of any size, as on Windows. */
static int open_or_create(xipc_map *m, const char *name, size_t length,
                          unsigned flags, const xipc_map_options *o) {
  bool may_create = (flags & XIPC_CREATE) != 0;
  bool create = (flags & XIPC_EXCL) != 0;
  for (int tries = 0; tries < MAX_TRIES; tries++) {
    int rc = create ? create_named(m, name, length, flags, o)
                    : open_named(m, name, may_create ? 0 : length, flags, o);
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
  pthread_once(&exit_once, watch_exit);
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
  atomic_fetch_add(&closing, 1);
  xipc__map_unmap(m);
  /* Only the last holder gets LOCK_EX. A failed attempt may drop our
   * LOCK_SH (flock converts by unlock + lock), which is fine: we close. */
  if (os->managed && os->own && os->fd >= 0 &&
      flock(os->fd, LOCK_EX | LOCK_NB) == 0)
    unlink_if_same(os->name, os->dev, os->ino);
  atomic_fetch_sub(&closing, 1);
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
               st.st_uid == geteuid() && has_mark(fd, &st) &&
               flock(fd, LOCK_EX | LOCK_NB) == 0 &&
               !xipc__shm_mapped(st.st_dev, st.st_ino);
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
