/*
 * Signals, the POSIX side: a sigaction() catcher that only records the
 * signal in an atomic bitmask and writes one byte to a self-pipe; the
 * dispatcher thread (api/signal.c) sleeps in poll() on that pipe. Nothing
 * but the catcher runs in async-signal context.
 */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The catcher may only touch lock-free atomics. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic unsigned must be lock-free");

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int wake_pipe[2] = {-1, -1};
static atomic_uint arrived;

void xipc__sig_lock(void) { pthread_mutex_lock(&lock); }

void xipc__sig_unlock(void) { pthread_mutex_unlock(&lock); }

void xipc__sig_broadcast(void) { pthread_cond_broadcast(&cond); }

int xipc__sig_cond_wait(uint64_t deadline) {
  if (deadline == UINT64_MAX) {
    pthread_cond_wait(&cond, &lock);
    return 0;
  }
  struct timespec ts = xipc__timespec(deadline);
  /* A statically initialised condition uses CLOCK_REALTIME for
   * pthread_cond_timedwait; clockwait takes the monotonic clock here. */
  int rc = pthread_cond_clockwait(&cond, &lock, CLOCK_MONOTONIC, &ts);
  return rc == ETIMEDOUT ? XIPC_ETIMEDOUT : 0;
}

/* Async-signal context: only errno-preserving write() and atomics. */
static void catcher(int native) {
  int saved = errno;
  int sig = xipc__sig_from_native(native);
  if (sig > 0)
    atomic_fetch_or(&arrived, 1u << sig);
  /* A full pipe already holds a wake-up, so a failed write loses nothing. */
  ssize_t n = write(wake_pipe[1], "", 1);
  (void)n;
  errno = saved;
}

void xipc__sig_wake(void) {
  ssize_t n = write(wake_pipe[1], "", 1);
  (void)n;
}

static void *dispatcher_thread(void *unused) {
  (void)unused;
  xipc__sig_dispatcher_main();
  return NULL;
}

static int start_dispatcher(void) {
  sigset_t none; /* not a mask the starting thread may have set */
  if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    return xipc__fail_os();
  sigemptyset(&none);
  int rc = xipc__thread_start(dispatcher_thread, NULL, &none);
  if (rc != 0) {
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    wake_pipe[0] = wake_pipe[1] = -1;
    return xipc__fail_sys(rc);
  }
  return 0;
}

/* fork() copies only the calling thread: the child has no dispatcher, and
 * its catchers would write into the pipe the parent reads. Hold the lock
 * across fork() so the state is consistent, then give the child a pipe and
 * a dispatcher of its own. */
static void before_fork(void) { xipc__sig_lock(); }

static void after_fork_parent(void) { xipc__sig_unlock(); }

static void after_fork_child(void) {
  pthread_cond_init(&cond, NULL); /* waiters of other threads are gone */
  if (wake_pipe[0] >= 0) {
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    atomic_store(&arrived, 0);
    (void)start_dispatcher();
  }
  xipc__sig_reset_after_fork();
  xipc__sig_unlock();
}

int xipc__sig_start(void) {
  static bool atfork_done;
  if (!atfork_done) {
    int rc = pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    if (rc != 0)
      return xipc__fail_sys(rc);
    atfork_done = true;
  }
  return start_dispatcher();
}

int xipc__sig_os_mode(int sig, int mode) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigfillset(&sa.sa_mask);
  if (mode == XIPC__SIG_OS_CATCH) {
    sa.sa_handler = catcher;
    /* Restart interrupted system calls in the threads the kernel picks to
     * run the catcher: the handler proper runs elsewhere. */
    sa.sa_flags = SA_RESTART;
  } else {
    sa.sa_handler = mode == XIPC__SIG_OS_IGNORE ? SIG_IGN : SIG_DFL;
  }
  if (sigaction(xipc__sig_to_native(sig), &sa, NULL) != 0)
    return xipc__fail_os();
  return 0;
}

unsigned xipc__sig_os_wait(int timeout_ms) {
  struct pollfd pfd = {.fd = wake_pipe[0], .events = POLLIN};
  char buf[64];
  (void)poll(&pfd, 1, timeout_ms); /* EINTR: a catcher ran on this thread */
  /* Drain before taking the bits: a signal after the drain leaves a byte
   * in the pipe and so wakes the next poll. */
  while (read(wake_pipe[0], buf, sizeof buf) > 0) {
  }
  return atomic_exchange(&arrived, 0);
}

void xipc__sig_terminate(int sig) {
  int native = xipc__sig_to_native(sig);
  struct sigaction sa;
  sigset_t set;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigaction(native, &sa, NULL);
  sigemptyset(&set);
  sigaddset(&set, native);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  /* raise() targets this thread, which now neither blocks nor catches the
   * signal, so the kernel ends the process before raise() returns. */
  raise(native);
  _exit(128 + native);
}

int xipc__sig_send(xipc_pid pid, int sig) {
  if (pid > INT_MAX)
    return xipc__fail(XIPC_ESRCH); /* no pid_t names it */
  if (kill((pid_t)pid, xipc__sig_to_native(sig)) == 0)
    return 0;
  if (errno == EPERM) /* EPERM -> EACCES, to match ERROR_ACCESS_DENIED */
    return xipc__fail_os_as(XIPC_EACCES);
  return xipc__fail_os();
}

int xipc__sig_console_event_for_testing(unsigned ctrl_type) {
  (void)ctrl_type;
  return xipc__fail(XIPC_ENOTSUP);
}

int xipc__sig_console_generate_for_testing(unsigned ctrl_type) {
  (void)ctrl_type;
  return xipc__fail(XIPC_ENOTSUP);
}
