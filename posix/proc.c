#include "posix.h"

#include <errno.h>
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
};

static int add_stdio(posix_spawn_file_actions_t *fa, int fd, int mode) {
  if (mode == XIPC_STDIO_INHERIT)
    return 0;
  return posix_spawn_file_actions_addopen(
      fa, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
}

static int setup_actions(posix_spawn_file_actions_t *fa,
                         const xipc_spawn_options *o) {
  int rc = add_stdio(fa, 0, o->stdin_mode);
  if (rc == 0)
    rc = add_stdio(fa, 1, o->stdout_mode);
  if (rc == 0)
    rc = add_stdio(fa, 2, o->stderr_mode);
  if (rc == 0 && o->cwd != NULL)
    rc = posix_spawn_file_actions_addchdir_np(fa, o->cwd);
  return rc;
}

/* The child starts with every signal at its default action and none
 * blocked, whatever xipc's signal layer did in the parent. */
static int setup_attr(posix_spawnattr_t *attr) {
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  int rc = posix_spawnattr_setsigdefault(attr, &all);
  if (rc == 0)
    rc = posix_spawnattr_setsigmask(attr, &none);
  if (rc == 0)
    rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF |
                                            POSIX_SPAWN_SETSIGMASK);
  return rc;
}

static int do_spawn(pid_t *pid, const char *const argv[],
                    const xipc_spawn_options *o) {
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
  rc = setup_actions(&fa, o);
  if (rc == 0)
    rc = setup_attr(&attr);
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
  int rc;
  xipc_proc *p = calloc(1, sizeof *p);
  if (p == NULL)
    return xipc__fail(XIPC_ENOMEM);
  rc = do_spawn(&p->pid, argv, o);
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
