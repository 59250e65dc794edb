/* Queue wait/wake on Linux: a shared futex on a word inside the mapping.
 * FUTEX_WAIT without FUTEX_PRIVATE_FLAG keys the wait on the physical page,
 * so waiters and wakers in different processes meet. */
#include "posix.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The futex words live in the mapping; a handle only keeps the socket it
 * rings waitsets' doorbells with, made at its first ring. */
struct xipc__qwait {
  int bell_fd; /* -1 until the first ring */
};

int xipc__qwait_open(xipc__qwait **out, const char *name, uint32_t channels) {
  (void)name;
  (void)channels;
  *out = malloc(sizeof **out);
  if (*out == NULL)
    return xipc__fail(XIPC_ENOMEM);
  (*out)->bell_fd = -1;
  return 0;
}

void xipc__qwait_close(xipc__qwait *w) {
  if (w == NULL)
    return;
  if (w->bell_fd >= 0)
    close(w->bell_fd);
  free(w);
}

/* The doorbell's abstract address "\0xipc.bell.<pid>.<id>" (no trailing
 * NUL: the length says where it ends); its length. */
static socklen_t bell_addr(struct sockaddr_un *a, uint32_t pid, uint32_t id) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "xipc.bell.%x.%x",
                   (unsigned)pid, (unsigned)id);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* The slot index does not matter here: one socket reaches every doorbell.
 * Errors are returned, not recorded: the put that rings succeeds anyway. */
int xipc__qwait_ring(xipc__qwait *w, unsigned slot, uint64_t owner,
                     uint32_t bell, uint32_t cookie) {
  struct sockaddr_un a;
  (void)slot;
  if (w->bell_fd < 0)
    w->bell_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (w->bell_fd < 0)
    return xipc__translate_error(errno);
  socklen_t len = bell_addr(&a, (uint32_t)owner, bell);
  if (sendto(w->bell_fd, &cookie, sizeof cookie, MSG_DONTWAIT | MSG_NOSIGNAL,
             (const struct sockaddr *)&a, len) == (ssize_t)sizeof cookie)
    return 0;
  if (errno == ECONNREFUSED || errno == ENOENT)
    return XIPC_ENOENT; /* nobody has that doorbell: a stale slot */
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    return XIPC_EAGAIN; /* full: its waitset wakes anyway */
  return xipc__translate_error(errno);
}

int xipc__qwait_sleep(xipc__qwait *w, uint32_t ch, void *word, uint32_t seen,
                      int64_t timeout_ns) {
  struct timespec ts, *tp = NULL;
  int rc;
  (void)w;
  (void)ch;
  if (timeout_ns >= 0 && xipc__qtimer_sleep(word, seen, timeout_ns, &rc))
    return rc;
  if (timeout_ns >= 0) {
    ts = xipc__timespec((uint64_t)timeout_ns);
    tp = &ts;
  }
  /* The timeout of FUTEX_WAIT is relative and runs on CLOCK_MONOTONIC. */
  if (syscall(SYS_futex, word, FUTEX_WAIT, seen, tp, NULL, 0) == 0)
    return 0;
  if (errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR)
    return 0;
  return xipc__fail_os();
}

void xipc__qwait_wake(xipc__qwait *w, uint32_t ch, void *word, uint32_t n) {
  (void)w;
  (void)ch;
  (void)n; /* a corrupted count must not leave a sleeper behind */
  syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Registration for membarrier's global expedited command: 0 not tried,
 * 1 done, -1 not available. A fork child has a new address space, which
 * needs its own registration. */
static _Atomic int fast_publish;
static pthread_once_t fast_once = PTHREAD_ONCE_INIT;

static void fast_reset_in_child(void) { atomic_store(&fast_publish, 0); }

static void fast_register_fork(void) {
  (void)pthread_atfork(NULL, NULL, fast_reset_in_child);
}

bool xipc__qwait_fast_publish(void) {
  int state = atomic_load_explicit(&fast_publish, memory_order_relaxed);
  if (state != 0)
    return state > 0;
  pthread_once(&fast_once, fast_register_fork);
  long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  state = -1;
  if (cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0 &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0)
    state = 1;
  atomic_store(&fast_publish, state);
  return state > 0;
}

bool xipc__qwait_heavy_barrier(void) {
  return syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
}

/* Reads the state letter and start time (field 22, clock ticks since boot)
 * of a /proc stat file. False if it cannot. */
static bool read_stat_at(const char *path, char *state,
                         unsigned long long *start) {
  char buf[1024];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the name may contain anything */
  if (p == NULL || p[1] != ' ')
    return false;
  *state = p[2];
  p += 2;
  for (int field = 3; field < 22 && p != NULL; field++) {
    p = strchr(p, ' ');
    if (p != NULL)
      p++;
  }
  return p != NULL && sscanf(p, "%llu", start) == 1;
}

static bool read_stat(uint64_t pid, char *state, unsigned long long *start) {
  char path[48];
  snprintf(path, sizeof path, "/proc/%llu/stat", (unsigned long long)pid);
  return read_stat_at(path, state, start);
}

static bool read_task_state(uint64_t pid, unsigned long long tid, char *state) {
  char path[80];
  unsigned long long start;
  snprintf(path, sizeof path, "/proc/%llu/task/%llu/stat",
           (unsigned long long)pid, tid);
  return read_stat_at(path, state, &start);
}

/* True if some thread of process pid other than its leader has not exited
 * (/proc/<pid>/task/<tid>/stat with a state other than 'Z' or 'X'). */
static bool other_thread_runs(uint64_t pid) {
  char path[48];
  bool runs = false;
  snprintf(path, sizeof path, "/proc/%llu/task", (unsigned long long)pid);
  DIR *d = opendir(path);
  if (d == NULL)
    return false;
  for (struct dirent *e; !runs && (e = readdir(d)) != NULL;) {
    unsigned long long tid = strtoull(e->d_name, NULL, 10);
    char state = 'Z';
    if (tid == 0 || tid == pid)
      continue;
    runs = read_task_state(pid, tid, &state) && state != 'Z' && state != 'X';
  }
  closedir(d);
  return runs;
}

static uint64_t start_tag(unsigned long long start) {
  return (uint64_t)(((uint32_t)start & 0x7fffffffu) | 0x80000000u) << 32;
}

uint64_t xipc__qwait_self_owner(void) {
  uint64_t pid = (uint64_t)getpid();
  char state;
  unsigned long long start = 0;
  (void)read_stat(pid, &state, &start); /* no /proc: a constant tag */
  return pid | start_tag(start);
}

bool xipc__qwait_owner_alive(uint64_t owner) {
  uint64_t pid = owner & 0xffffffffu;
  char state;
  unsigned long long start = 0;
  if (pid == 0 || pid > INT_MAX)
    return false;
  /* EPERM: it exists but belongs to someone else. */
  if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
    return false;
  if (!read_stat(pid, &state, &start))
    return true; /* exists, but nothing more is known */
  if ((owner & ~UINT64_C(0xffffffff)) != start_tag(start))
    return false; /* the id now belongs to another process */
  /* A zombie (exited, not yet reaped) still answers kill(0). But the
   * state is the leader thread's: a leader that called pthread_exit is
   * 'Z' while the other threads of its process run on. */
  return (state != 'Z' && state != 'X') || other_thread_runs(pid);
}

/* Persistent queues on POSIX are named mappings that nothing removes but
 * xipc_map_unlink (XIPC_MAP_PERSIST), under the queue's own name: every
 * open of the name finds them, so there is no separate store to look in. */
int xipc__qstore_create(xipc_map **out, const char *name, size_t size,
                        unsigned owner) {
  return xipc_map_named_ex(out, name, size, XIPC_ACCESS_WRITE,
                           XIPC_CREATE | XIPC_EXCL | XIPC_MAP_PERSIST | owner,
                           NULL);
}

int xipc__qstore_open(xipc_map **out, const char *name) {
  (void)out;
  (void)name;
  return xipc__fail(XIPC_ENOENT);
}

int xipc__qstore_unlink(const char *name) {
  (void)name;
  return xipc__fail(XIPC_ENOENT);
}
