#include "posix.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct xipc_proc {
  pid_t pid;
  int pidfd; /* -1 where pidfd_open is not available */
  bool reaped;
  xipc_exit_status status;
  xipc_stream *stdio[3]; /* parent's ends of PIPE stdio (api/proc.c) */
  unsigned watchers;     /* waitsets watching p (api/waitset.c, atomic) */
};

/* ---- descriptors: the child gets its stdio and the passed fds, nothing
 * else ------------------------------------------------------------------- */

/* What the spawn opened or duplicated for the child; closed afterwards. */
typedef struct {
  int src[3]; /* the fd that becomes child fd i, or -1 */
  int own[3]; /* fds this spawn opened (files, temporary dups), or -1 */
  int *pass;  /* passed fds, sorted, without duplicates */
  size_t npass;
} spawn_fds;

static void fds_free(spawn_fds *f) {
  for (int i = 0; i < 3; i++)
    if (f->own[i] >= 0)
      close(f->own[i]);
  free(f->pass);
}

static int open_file(const char *path, int which, unsigned flags) {
  unsigned append = which == 1 ? XIPC_SPAWN_STDOUT_APPEND : XIPC_SPAWN_STDERR_APPEND;
  int oflags = which == 0 ? O_RDONLY
                          : O_WRONLY | O_CREAT |
                                ((flags & append) ? O_APPEND : O_TRUNC);
  int fd;
  do
    fd = open(path, oflags | O_CLOEXEC | O_NOCTTY, 0600);
  while (fd < 0 && errno == EINTR);
  return fd;
}

/* Child fd i comes from src. A src below 3 other than i itself would be
 * overwritten by an earlier dup2 (or overwrite a later source), so it is
 * moved above 2 first. */
static int set_source(spawn_fds *f, int i, int src, bool owned) {
  if (src >= 0 && src < 3 && src != i) {
    int moved = fcntl(src, F_DUPFD_CLOEXEC, 3);
    int rc = moved < 0 ? xipc__fail_os() : 0;
    if (owned)
      close(src);
    if (rc != 0)
      return rc;
    src = moved;
    owned = true;
  }
  f->src[i] = src;
  f->own[i] = owned ? src : -1;
  return 0;
}

static int slot_source(spawn_fds *f, const xipc_spawn_options *o, int i) {
  const int modes[3] = {o->stdin_mode, o->stdout_mode, o->stderr_mode};
  const xipc_stream *streams[3] = {o->stdin_stream, o->stdout_stream,
                                   o->stderr_stream};
  const char *paths[3] = {o->stdin_path, o->stdout_path, o->stderr_path};
  int fd;
  if (modes[i] == XIPC_STDIO_STREAM)
    return set_source(f, i, (int)xipc__stream_os_handle(streams[i]), false);
  if (modes[i] != XIPC_STDIO_FILE)
    return 0;
  if ((fd = open_file(paths[i], i, o->flags)) < 0) {
    /* EISDIR -> EACCES, to match Windows' ERROR_ACCESS_DENIED. */
    return errno == EISDIR ? xipc__fail_os_as(XIPC_EACCES) : xipc__fail_os();
  }
  return set_source(f, i, fd, true);
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* The passed fds keep their numbers in the child, so they cannot be 0, 1
 * or 2, which the child's stdio takes. */
static int collect_pass(spawn_fds *f, const xipc_spawn_options *o) {
  size_t n = 0;
  if (o->npass == 0)
    return 0;
  f->pass = malloc(o->npass * sizeof *f->pass);
  if (f->pass == NULL)
    return xipc__fail(XIPC_ENOMEM);
  for (size_t i = 0; i < o->npass; i++) {
    int fd = (int)xipc__stream_os_handle(o->pass[i]);
    if (fd < 3)
      return xipc__fail(XIPC_EINVAL);
    f->pass[i] = fd;
  }
  qsort(f->pass, o->npass, sizeof *f->pass, cmp_int);
  for (size_t i = 0; i < o->npass; i++)
    if (n == 0 || f->pass[n - 1] != f->pass[i])
      f->pass[n++] = f->pass[i];
  f->npass = n;
  return 0;
}

static int fds_init(spawn_fds *f, const xipc_spawn_options *o) {
  int rc = 0;
  memset(f, 0, sizeof *f);
  for (int i = 0; i < 3; i++)
    f->src[i] = f->own[i] = -1;
  for (int i = 0; i < 3 && rc == 0; i++)
    rc = slot_source(f, o, i);
  if (rc == 0)
    rc = collect_pass(f, o);
  if (rc != 0)
    fds_free(f);
  return rc;
}

static bool is_passed(const spawn_fds *f, int fd) {
  return bsearch(&fd, f->pass, f->npass, sizeof fd, cmp_int) != NULL;
}

/* Adds a close action for every fd from 3 up to (not including) `below`
 * that is open now and not passed. A descriptor another thread opens
 * between this look and the spawn, without O_CLOEXEC, can escape. */
static int close_open_fds(posix_spawn_file_actions_t *fa, const spawn_fds *f,
                          long below) {
  struct dirent *e;
  int rc = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return errno;
  while (rc == 0 && (e = readdir(d)) != NULL) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);
    if (*end != '\0' || end == e->d_name || fd < 3 || fd >= below ||
        fd == dirfd(d) || is_passed(f, (int)fd))
      continue;
    rc = posix_spawn_file_actions_addclose(fa, (int)fd);
  }
  closedir(d);
  return rc;
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
/* Closes all but the passed fds above 2: the gaps below the highest passed
 * fd one by one, everything above it at once (close_range in the child). */
static int close_others(posix_spawn_file_actions_t *fa, const spawn_fds *f) {
  int top = f->npass > 0 ? f->pass[f->npass - 1] : 2;
  int rc = f->npass > 0 ? close_open_fds(fa, f, top) : 0;
  return rc != 0 ? rc : posix_spawn_file_actions_addclosefrom_np(fa, top + 1);
}
#else
static int close_others(posix_spawn_file_actions_t *fa, const spawn_fds *f) {
  return close_open_fds(fa, f, LONG_MAX);
}
#endif

/* dup2(fd, fd) clears FD_CLOEXEC in the child (glibc >= 2.29, POSIX 2024),
 * which is what keeps a passed fd open across exec. */
static int add_fds(posix_spawn_file_actions_t *fa, const spawn_fds *f,
                   const xipc_spawn_options *o) {
  const int modes[3] = {o->stdin_mode, o->stdout_mode, o->stderr_mode};
  int rc = 0;
  for (int i = 0; i < 3 && rc == 0; i++) {
    if (f->src[i] >= 0)
      rc = posix_spawn_file_actions_adddup2(fa, f->src[i], i);
    else if (modes[i] == XIPC_STDIO_NULL)
      rc = posix_spawn_file_actions_addopen(fa, i, "/dev/null",
                                            i == 0 ? O_RDONLY : O_WRONLY, 0);
    else if (modes[i] == XIPC_STDIO_STDOUT)
      rc = posix_spawn_file_actions_adddup2(fa, 1, 2);
  }
  for (size_t i = 0; i < f->npass && rc == 0; i++)
    rc = posix_spawn_file_actions_adddup2(fa, f->pass[i], f->pass[i]);
  if (rc == 0)
    rc = close_others(fa, f);
  return rc;
}

static int setup_actions(posix_spawn_file_actions_t *fa, const spawn_fds *f,
                         const xipc_spawn_options *o) {
  int rc = add_fds(fa, f, o);
  if (rc == 0 && o->cwd != NULL)
    rc = posix_spawn_file_actions_addchdir_np(fa, o->cwd);
  return rc;
}

/* The child starts with every signal at its default action and none
 * blocked, whatever xipc's signal layer did in the parent; NEW_GROUP makes
 * it the leader of a process group of its own. */
static int setup_attr(posix_spawnattr_t *attr, unsigned flags) {
  sigset_t all, none;
  short sflags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  sigfillset(&all);
  sigemptyset(&none);
  int rc = posix_spawnattr_setsigdefault(attr, &all);
  if (rc == 0)
    rc = posix_spawnattr_setsigmask(attr, &none);
  if (rc == 0 && (flags & XIPC_SPAWN_NEW_GROUP)) {
    rc = posix_spawnattr_setpgroup(attr, 0);
    sflags |= POSIX_SPAWN_SETPGROUP;
  }
  if (rc == 0)
    rc = posix_spawnattr_setflags(attr, sflags);
  return rc;
}

static int do_spawn(pid_t *pid, const char *const argv[],
                    const xipc_spawn_options *o, const spawn_fds *f) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  char *const *env = o->env ? (char *const *)o->env : environ;
  int rc = posix_spawn_file_actions_init(&fa);
  if (rc != 0)
    return rc;
  rc = posix_spawnattr_init(&attr);
  if (rc != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return rc;
  }
  rc = setup_actions(&fa, f, o);
  if (rc == 0)
    rc = setup_attr(&attr, o->flags);
  /* glibc's posix_spawn reports exec failures (ENOENT, EACCES) as its
   * return value, so a missing program is an error here, not exit 127. */
  if (rc == 0 && strchr(argv[0], '/') != NULL)
    rc = posix_spawn(pid, argv[0], &fa, &attr, (char *const *)argv, env);
  else if (rc == 0)
    rc = posix_spawnp(pid, argv[0], &fa, &attr, (char *const *)argv, env);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return rc;
}

int xipc__proc_spawn(xipc_proc **out, const char *const argv[],
                     const xipc_spawn_options *o) {
  spawn_fds f;
  int rc = fds_init(&f, o);
  if (rc != 0)
    return rc;
  xipc_proc *p = calloc(1, sizeof *p);
  if (p == NULL) {
    fds_free(&f);
    return xipc__fail(XIPC_ENOMEM);
  }
  rc = do_spawn(&p->pid, argv, o, &f);
  fds_free(&f);
  if (rc != 0) {
    free(p);
    return xipc__fail_sys(rc);
  }
#ifdef SYS_pidfd_open
  p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0); /* always O_CLOEXEC */
#else
  p->pidfd = -1;
#endif
  *out = p;
  return 0;
}

xipc_stream **xipc__proc_stdio(xipc_proc *p) { return p->stdio; }

unsigned *xipc__proc_watchers(xipc_proc *p) { return &p->watchers; }

int xipc__proc_os_pidfd(const xipc_proc *p) { return p->pidfd; }

xipc_pid xipc__proc_pid(const xipc_proc *p) { return (xipc_pid)p->pid; }

xipc_pid xipc__self_pid(void) { return (xipc_pid)getpid(); }

static void decode_status(xipc_proc *p, int ws) {
  p->reaped = true;
  if (WIFSIGNALED(ws)) {
    p->status.exited = 0;
    p->status.exit_code = 0;
    p->status.signal = xipc__sig_from_native(WTERMSIG(ws));
  } else {
    p->status.exited = 1;
    p->status.exit_code = WEXITSTATUS(ws);
    p->status.signal = 0;
  }
}

/* One non-blocking reap attempt: 1 reaped, 0 still running, <0 error. */
static int try_reap(xipc_proc *p, int flags) {
  int ws;
  pid_t r;
  do
    r = waitpid(p->pid, &ws, flags);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return xipc__fail_os();
  if (r == 0)
    return 0;
  decode_status(p, ws);
  return 1;
}

/* Waits until the child may have exited or the deadline passes. */
static void wait_a_while(xipc_proc *p, uint64_t deadline, int *backoff_ms) {
  int left = xipc__left_ms(deadline); /* rounded up */
  if (left <= 0)
    return;
  if (p->pidfd >= 0) {
    struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
    (void)poll(&pfd, 1, left);
    return;
  }
  xipc__sleep_ms((unsigned)(*backoff_ms < left ? *backoff_ms : left));
  if (*backoff_ms < 20)
    (*backoff_ms)++;
}

/* The deadline is on the nanosecond clock: a deadline in whole
 * milliseconds would end the wait up to a millisecond early. */
static int timed_reap(xipc_proc *p, int timeout_ms) {
  uint64_t deadline = xipc__deadline_ns(timeout_ms);
  int backoff = 1;
  for (;;) {
    int rc = try_reap(p, WNOHANG);
    if (rc != 0)
      return rc < 0 ? rc : 0;
    if (xipc__left_ns(deadline) == 0)
      return xipc__fail(XIPC_ETIMEDOUT);
    wait_a_while(p, deadline, &backoff);
  }
}

int xipc__proc_wait(xipc_proc *p, int timeout_ms, xipc_exit_status *st) {
  int rc = 0;
  if (!p->reaped) {
    if (timeout_ms < 0)
      rc = try_reap(p, 0);
    else if (timeout_ms == 0 && (rc = try_reap(p, WNOHANG)) == 0)
      return xipc__fail(XIPC_EAGAIN);
    else if (timeout_ms > 0)
      rc = timed_reap(p, timeout_ms);
    if (rc < 0)
      return rc;
  }
  *st = p->status;
  return 0;
}

int xipc__proc_kill(xipc_proc *p) {
  /* Until it is reaped the pid cannot be reused, so kill() is safe; an
   * exited child is a no-op. */
  if (p->reaped)
    return 0;
  if (kill(p->pid, SIGKILL) != 0 && errno != ESRCH)
    return xipc__fail_os();
  return 0;
}

int xipc__proc_signal(xipc_proc *p, int sig) {
  int native = xipc__sig_to_native(sig);
  /* A child that has exited is ESRCH, zombie or not (a zombie would take
   * the signal silently), as on Windows. Reaping it here keeps its status
   * for xipc_proc_wait. */
  int rc = p->reaped ? 1 : try_reap(p, WNOHANG);
  if (rc < 0)
    return rc;
  if (rc > 0)
    return xipc__fail(XIPC_ESRCH);
#ifdef SYS_pidfd_send_signal
  if (p->pidfd >= 0) {
    if (syscall(SYS_pidfd_send_signal, p->pidfd, native, NULL, 0) == 0)
      return 0;
    if (errno != ENOSYS)
      return xipc__fail_os();
  }
#endif
  /* Until it is reaped the pid cannot be reused, so kill() is safe. */
  if (kill(p->pid, native) != 0)
    return xipc__fail_os();
  return 0;
}

static void *reaper(void *arg) {
  pid_t pid = (pid_t)(intptr_t)arg;
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  return NULL;
}

/* A child still running at close is not stopped; a detached thread reaps it
 * when it exits, so it never stays a zombie. */
static void reap_later(pid_t pid) {
  pthread_t t;
  pthread_attr_t a;
  if (pthread_attr_init(&a) != 0)
    return;
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&a, 64 * 1024);
  if (pthread_create(&t, &a, reaper, (void *)(intptr_t)pid) != 0)
    (void)waitpid(pid, NULL, WNOHANG);
  pthread_attr_destroy(&a);
}

int xipc__proc_close(xipc_proc *p) {
  if (!p->reaped && try_reap(p, WNOHANG) == 0)
    reap_later(p->pid);
  if (p->pidfd >= 0)
    close(p->pidfd);
  free(p);
  return 0;
}

int xipc__exe_path(char **out) {
  char tmp[PATH_MAX + 1];
  ssize_t n = readlink("/proc/self/exe", tmp, sizeof tmp - 1);
  if (n < 0)
    return xipc__fail_os();
  tmp[n] = '\0';
  if ((*out = strdup(tmp)) == NULL)
    return xipc__fail(XIPC_ENOMEM);
  return 0;
}

int xipc__args_utf8(int argc, char **argv, char ***out) {
  (void)argc;
  /* POSIX hands main() the bytes it was given, which xipc treats as UTF-8. */
  *out = argv;
  return 0;
}
