/* Named objects of this user on Linux: what /dev/shm, /proc/locks,
 * /proc/net/unix and this user's /proc/<pid>/{maps,fd} say.
 *
 * Nothing here changes an object: files are opened read-only (never
 * following a symlink, never blocking on a FIFO) only after lstat showed
 * a regular file of the effective user, and only their first bytes and
 * their attributes are read. Holders come from the kernel's tables, not
 * from taking locks: a probe with flock would make a closing last holder
 * fail its LOCK_EX and leave the object behind. Removal (the only change)
 * re-checks under LOCK_EX what the listing saw. */
#include "map.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define SHM_DIR "/dev/shm"
#define LISTEN_PREFIX "@xipc."
/* __SO_ACCEPTCON in /proc/net/unix's Flags column: a listening socket. */
#define UNIX_ACCEPTCON 0x10000u

/* ---- who holds what: (device, inode) -> pid ------------------------------ */

typedef struct {
  uint64_t dev; /* makedev(); 0 for sockets */
  uint64_t ino;
  xipc_pid pid;
} hold;

typedef struct {
  hold *v;
  size_t n, cap;
  bool ok; /* the table could be read */
} hold_set;

static int hold_add(hold_set *s, uint64_t dev, uint64_t ino, xipc_pid pid) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    hold *v = realloc(s->v, cap * sizeof *v);
    if (v == NULL)
      return XIPC_ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = (hold){dev, ino, pid};
  return 0;
}

/* The flock holders of every file ("N: FLOCK ADVISORY READ pid maj:min:ino
 * 0 EOF"); waiters ("N: -> FLOCK ...") do not hold anything yet. */
static int read_locks(hold_set *s) {
  FILE *f = fopen("/proc/locks", "re");
  if (f == NULL)
    return 0;
  char line[256];
  int rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
    char type[16];
    long long pid;
    unsigned maj, min;
    unsigned long long ino;
    if (sscanf(line, "%*d: %15s %*s %*s %lld %x:%x:%llu", type, &pid, &maj,
               &min, &ino) != 5)
      continue;
    if (strcmp(type, "FLOCK") == 0 && pid > 0)
      rc = hold_add(s, (uint64_t)makedev(maj, min), ino, pid);
  }
  fclose(f);
  s->ok = rc == 0;
  return rc;
}

static bool is_pid(const char *s) {
  if (*s == '\0')
    return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return false;
  return true;
}

/* Mappings of files on the shm device in /proc/<pid>/maps. */
static int read_maps(hold_set *s, int piddir, xipc_pid pid, dev_t shm_dev) {
  int fd = openat(piddir, "maps", O_RDONLY | O_CLOEXEC);
  FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
  if (f == NULL) {
    if (fd >= 0)
      close(fd);
    return 0;
  }
  char line[512];
  uint64_t last = 0;
  int rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
    dev_t dev;
    uint64_t ino;
    if (!xipc__maps_entry(line, &dev, &ino) || dev != shm_dev)
      continue;
    if (ino != last) /* a mapping is often listed as several areas */
      rc = hold_add(s, (uint64_t)shm_dev, ino, pid);
    last = ino;
  }
  fclose(f);
  return rc;
}

/* Sockets open in /proc/<pid>/fd ("socket:[inode]"). */
static int read_sockets(hold_set *s, int piddir, xipc_pid pid) {
  int fd = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return 0;
  }
  struct dirent *e;
  int rc = 0;
  while (rc == 0 && (e = readdir(d)) != NULL) {
    char link[64];
    ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof link - 1);
    unsigned long long ino;
    if (n <= 0)
      continue;
    link[n] = '\0';
    if (sscanf(link, "socket:[%llu]", &ino) == 1)
      rc = hold_add(s, 0, ino, pid);
  }
  closedir(d);
  return rc;
}

/* One pass over this user's processes: what they map and, when listeners
 * were seen, which sockets they have open. */
static int read_processes(hold_set *maps, hold_set *socks, dev_t shm_dev) {
  DIR *d = opendir("/proc");
  if (d == NULL)
    return 0;
  struct dirent *e;
  int rc = 0;
  while (rc == 0 && (e = readdir(d)) != NULL) {
    if (!is_pid(e->d_name))
      continue;
    int pd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (pd < 0)
      continue;
    if (fstat(pd, &st) == 0 && st.st_uid == geteuid()) {
      xipc_pid pid = strtoll(e->d_name, NULL, 10);
      rc = read_maps(maps, pd, pid, shm_dev);
      if (rc == 0 && socks != NULL)
        rc = read_sockets(socks, pd, pid);
    }
    close(pd);
  }
  closedir(d);
  maps->ok = rc == 0;
  if (socks != NULL)
    socks->ok = rc == 0;
  return rc;
}

static int by_pid(const void *a, const void *b) {
  xipc_pid x = *(const xipc_pid *)a, y = *(const xipc_pid *)b;
  return (x > y) - (x < y);
}

/* Appends the pids that hold dev/ino in s to all[*nall..cap). */
static void holders_from(const hold_set *s, uint64_t dev, uint64_t ino,
                         xipc_pid *all, size_t *nall, size_t cap) {
  for (size_t i = 0; i < s->n && *nall < cap; i++)
    if (s->v[i].dev == dev && s->v[i].ino == ino)
      all[(*nall)++] = s->v[i].pid;
}

/* Sorts all[0..n) and stores it in info without repeats. */
static void set_holders(xipc_object_info *info, xipc_pid *all, size_t n) {
  size_t k = 0;
  qsort(all, n, sizeof *all, by_pid);
  for (size_t i = 0; i < n; i++) {
    if (k > 0 && all[i] == all[k - 1])
      continue;
    all[k++] = all[i];
  }
  info->nholders = k;
  for (size_t i = 0; i < k && i < XIPC_OBJECT_HOLDERS_MAX; i++)
    info->holders[i] = all[i];
}

/* ---- the list ------------------------------------------------------------ */

typedef struct {
  xipc_object_info *v;
  size_t n, cap;
  hold_set locks, maps, socks;
  xipc_pid *scratch; /* holder pids of one object, before sorting */
  size_t scratch_cap;
} lister;

static xipc_object_info *new_entry(lister *L) {
  if (L->n == L->cap) {
    size_t cap = L->cap ? L->cap * 2 : 16;
    xipc_object_info *v = realloc(L->v, cap * sizeof *v);
    if (v == NULL)
      return NULL;
    L->v = v;
    L->cap = cap;
  }
  xipc_object_info *e = &L->v[L->n++];
  memset(e, 0, sizeof *e);
  return e;
}

static void fill_holders(lister *L, xipc_object_info *e, uint64_t dev,
                         uint64_t ino, bool file) {
  size_t n = 0, cap = L->scratch_cap;
  if (file) {
    holders_from(&L->locks, dev, ino, L->scratch, &n, cap);
    holders_from(&L->maps, dev, ino, L->scratch, &n, cap);
    e->holders_known = L->locks.ok && L->maps.ok;
  } else {
    holders_from(&L->socks, 0, ino, L->scratch, &n, cap);
    e->holders_known = L->socks.ok;
  }
  set_holders(e, L->scratch, n);
  if (!e->holders_known)
    e->nholders = 0;
}

/* Removes suffix from name in place; true if name ended in it. */
static bool strip_suffix(char *name, const char *suffix) {
  size_t n = strlen(name), k = strlen(suffix);
  if (n <= k || strcmp(name + n - k, suffix) != 0)
    return false;
  name[n - k] = '\0';
  return true;
}

/* What the file holds decides its kind; the bytes are only compared. */
static int classify(char *name, const unsigned char *head, size_t n,
                    uint64_t size) {
  int persistent = 0;
  char base[XIPC_NAME_MAX + 1];
  memcpy(base, name, strlen(name) + 1);
  if (strip_suffix(base, XIPC__SEM_SUFFIX) &&
      xipc__sync_probe(head, n, size, false)) {
    memcpy(name, base, strlen(base) + 1);
    return XIPC_OBJ_SEMAPHORE;
  }
  memcpy(base, name, strlen(name) + 1);
  if (strip_suffix(base, XIPC__MUTEX_SUFFIX) &&
      xipc__sync_probe(head, n, size, true)) {
    memcpy(name, base, strlen(base) + 1);
    return XIPC_OBJ_MUTEX;
  }
  if (xipc__queue_probe(head, n, size, &persistent))
    return persistent ? XIPC_OBJ_PERSISTENT_QUEUE : XIPC_OBJ_QUEUE;
  return XIPC_OBJ_MAPPING;
}

static int64_t birth_ms(int fd) {
  struct statx sx;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) != 0 ||
      !(sx.stx_mask & STATX_BTIME))
    return 0;
  return (int64_t)sx.stx_btime.tv_sec * 1000 + sx.stx_btime.tv_nsec / 1000000;
}

/* Lists the file `name` of the shm directory if it is this user's. */
static int list_file(lister *L, int dir, const char *name) {
  struct stat st, fst;
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISREG(st.st_mode) || st.st_uid != geteuid())
    return 0; /* gone, not a plain object, or another user's: not ours */
  int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return 0;
  unsigned char head[XIPC__QUEUE_HEADER_SIZE];
  ssize_t got = 0;
  int rc = 0;
  if (fstat(fd, &fst) != 0 || fst.st_ino != st.st_ino ||
      fst.st_dev != st.st_dev || fst.st_uid != geteuid())
    goto done; /* replaced since the lstat */
  got = pread(fd, head, sizeof head, 0);
  xipc_object_info *e = new_entry(L);
  if (e == NULL) {
    rc = XIPC_ENOMEM;
    goto done;
  }
  memcpy(e->name, name, strlen(name) + 1);
  e->size = (uint64_t)fst.st_size;
  e->kind = classify(e->name, head, got > 0 ? (size_t)got : 0, e->size);
  e->managed = xipc__shm_has_mark(fd, &fst);
  xipc__shm_origin(fd, fst.st_ino, &e->creator, &e->created_ms);
  if (e->created_ms == 0)
    e->created_ms = birth_ms(fd);
  fill_holders(L, e, (uint64_t)fst.st_dev, (uint64_t)fst.st_ino, true);
done:
  close(fd);
  return rc;
}

static int list_shm(lister *L) {
  DIR *d = opendir(SHM_DIR);
  if (d == NULL)
    return xipc__fail_os();
  struct dirent *e;
  int rc = 0;
  while (rc == 0 && (e = readdir(d)) != NULL)
    if (xipc__check_name(e->d_name) == 0)
      rc = list_file(L, dirfd(d), e->d_name);
  closedir(d);
  return rc == 0 ? 0 : xipc__fail(rc);
}

/* Listening sockets "@xipc.<name>" of /proc/net/unix ("Num RefCount
 * Protocol Flags Type St Inode Path"). Only those a process of this user
 * has open are this user's; the others are left out. */
static int list_listeners(lister *L) {
  FILE *f = fopen("/proc/net/unix", "re");
  if (f == NULL)
    return 0;
  char line[512];
  int rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
    unsigned flags;
    unsigned long long ino;
    char path[256];
    path[0] = '\0';
    if (sscanf(line, "%*s %*x %*x %x %*x %*x %llu %255s", &flags, &ino, path) !=
            3 ||
        !(flags & UNIX_ACCEPTCON) ||
        strncmp(path, LISTEN_PREFIX, strlen(LISTEN_PREFIX)) != 0)
      continue;
    const char *name = path + strlen(LISTEN_PREFIX);
    if (xipc__check_name(name) != 0)
      continue;
    xipc_object_info probe;
    memset(&probe, 0, sizeof probe);
    fill_holders(L, &probe, 0, ino, false);
    if (probe.nholders == 0)
      continue; /* no process of ours has it */
    xipc_object_info *e = new_entry(L);
    if (e == NULL) {
      rc = XIPC_ENOMEM;
      break;
    }
    *e = probe;
    memcpy(e->name, name, strlen(name) + 1);
    e->kind = XIPC_OBJ_LISTENER;
    e->managed = 1; /* the kernel frees it with its last descriptor */
  }
  fclose(f);
  return rc == 0 ? 0 : xipc__fail(rc);
}

static bool any_listener(void) {
  FILE *f = fopen("/proc/net/unix", "re");
  if (f == NULL)
    return false;
  char line[512];
  bool found = false;
  while (!found && fgets(line, sizeof line, f) != NULL)
    found = strstr(line, " " LISTEN_PREFIX) != NULL;
  fclose(f);
  return found;
}

static void lister_free(lister *L) {
  free(L->locks.v);
  free(L->maps.v);
  free(L->socks.v);
  free(L->scratch);
}

int xipc__objects_list_os(xipc_object_info **out, size_t *n) {
  lister L;
  struct stat dir;
  memset(&L, 0, sizeof L);
  if (stat(SHM_DIR, &dir) != 0)
    return xipc__fail_os();
  int rc = read_locks(&L.locks);
  if (rc == 0)
    rc = read_processes(&L.maps, any_listener() ? &L.socks : NULL, dir.st_dev);
  L.scratch_cap = L.locks.n + L.maps.n + L.socks.n + 1;
  if (rc == 0 &&
      (L.scratch = malloc(L.scratch_cap * sizeof *L.scratch)) == NULL)
    rc = XIPC_ENOMEM;
  if (rc != 0)
    rc = xipc__fail(rc);
  if (rc == 0)
    rc = list_shm(&L);
  if (rc == 0)
    rc = list_listeners(&L);
  lister_free(&L);
  if (rc != 0) {
    free(L.v);
    return rc;
  }
  *out = L.v;
  *n = L.n;
  return 0;
}

/* ---- removing ------------------------------------------------------------ */

static const char *suffix_of(int kind) {
  if (kind == XIPC_OBJ_SEMAPHORE)
    return XIPC__SEM_SUFFIX;
  if (kind == XIPC_OBJ_MUTEX)
    return XIPC__MUTEX_SUFFIX;
  return "";
}

/* Whether nobody holds the object open in fd: no flock holder (we get
 * LOCK_EX at once, and keep it until the unlink) and nobody maps it. */
static int check_unheld(int fd, const struct stat *st) {
  if (flock(fd, LOCK_EX | LOCK_NB) != 0)
    return errno == EWOULDBLOCK ? xipc__fail(XIPC_EBUSY) : xipc__fail_os();
  return xipc__shm_mapped(st->st_dev, st->st_ino) ? xipc__fail(XIPC_EBUSY) : 0;
}

static int remove_file(int dir, const char *fname, unsigned flags) {
  int fd = openat(dir, fname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    /* ELOOP -> EACCES: a symlink now at the name is not ours to remove. */
    return errno == ELOOP ? xipc__fail_os_as(XIPC_EACCES) : xipc__fail_os();
  struct stat st, now;
  int rc = 0;
  if (fstat(fd, &st) != 0)
    rc = xipc__fail_os();
  else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
    rc = xipc__fail(XIPC_EACCES);
  else if (!(flags & XIPC_REMOVE_FORCE))
    rc = check_unheld(fd, &st);
  /* The name must still be the object we checked. */
  if (rc == 0 && (fstatat(dir, fname, &now, AT_SYMLINK_NOFOLLOW) != 0 ||
                  now.st_dev != st.st_dev || now.st_ino != st.st_ino))
    rc = xipc__fail(XIPC_ENOENT);
  if (rc == 0 && unlinkat(dir, fname, 0) != 0)
    rc = xipc__fail_os();
  close(fd);
  return rc;
}

int xipc__object_remove_os(const xipc_object_info *info, unsigned flags) {
  if (info->kind == XIPC_OBJ_LISTENER)
    return xipc__fail(XIPC_ENOTSUP);
  char fname[XIPC_NAME_MAX + 8];
  snprintf(fname, sizeof fname, "%s%s", info->name, suffix_of(info->kind));
  int dir = open(SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    return xipc__fail_os();
  int rc = remove_file(dir, fname, flags);
  close(dir);
  return rc;
}

bool xipc__objects_os_holder_scan_for_testing(bool on) {
  (void)on; /* holders come from /proc/locks and /proc/<pid>: no scan */
  return false;
}
