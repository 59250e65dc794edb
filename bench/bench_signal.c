/* bench_signal: signal delivery latency between two processes.
 *
 *   bench_signal [rounds]      (default 2000)
 *
 * Ping-pong: the parent sends SIGUSR1 and starts a clock; the child's
 * handler answers with SIGUSR2; the clock stops when the parent has the
 * answer. One-way latency (send until the handler runs in the other
 * process) is reported as half the round trip, p50 and p99.
 *
 * xipc: both sides use xipc_signal_handle / xipc_signal_send; the parent
 * takes the answer in xipc_signal_wait. Handlers run on xipc's dispatcher
 * thread, so each hop includes a thread wake-up on top of the kernel's
 * delivery.
 * plain (Linux only, same run, measured first): fork(), a sigaction()
 * handler in the child that calls kill(), and sigsuspend() in the parent. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xipc.h>

#include "bench_clock.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

static int64_t now_ns(void) { return bench_now_ns(); }

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Prints p50 and p99 of the one-way latency (half of each round trip). */
static void report(const char *what, int64_t *rtt, int n) {
  qsort(rtt, (size_t)n, sizeof *rtt, cmp_i64);
  double p50 = (double)rtt[n / 2] / 2000.0;
  double p99 = (double)rtt[(n * 99) / 100] / 2000.0;
  printf("%-34s rounds %5d  one-way p50 %8.1f us  p99 %8.1f us\n", what, n,
         p50, p99);
  fflush(stdout);
}

static int failed(const char *what, int err) {
  fprintf(stderr, "bench_signal: %s: %s\n", what, xipc_strerror(err));
  return 1;
}

/* ---- xipc ---------------------------------------------------------------- */

static xipc_pid peer;
static atomic_int answers;

static void child_on_usr1(int sig, void *arg) {
  (void)sig;
  (void)arg;
  xipc_signal_send(peer, XIPC_SIGUSR2);
}

static int child_main(const char *ppid) {
  const int idle[] = {XIPC_SIGHUP};
  peer = atoll(ppid);
  xipc_alarm(600000); /* bounded: the alarm's default action ends us */
  if (xipc_signal_handle(XIPC_SIGUSR1, child_on_usr1, NULL) != 0)
    return 1;
  xipc_signal_send(peer, XIPC_SIGUSR2); /* ready */
  for (;;)
    xipc_signal_wait(idle, 1, -1, NULL);
}

static void parent_on_usr2(int sig, void *arg) {
  (void)sig;
  (void)arg;
  atomic_fetch_add(&answers, 1);
}

/* Until `answers` reaches n. An answer that comes while this thread is
 * outside xipc_signal_wait runs parent_on_usr2 instead; both count. */
static int await_answers(int n) {
  const int usr2[] = {XIPC_SIGUSR2};
  int64_t deadline = now_ns() + 30 * 1000000000LL;
  while (atomic_load(&answers) < n) {
    if (xipc_signal_wait(usr2, 1, 50, NULL) == 0)
      atomic_fetch_add(&answers, 1);
    else if (now_ns() > deadline)
      return XIPC_ETIMEDOUT;
  }
  return 0;
}

static int bench_xipc(const char *self, int rounds, int64_t *rtt) {
  char ppid[32];
  xipc_proc *child;
  int rc;
  snprintf(ppid, sizeof ppid, "%lld", (long long)xipc_self_pid());
  const char *argv[] = {self, "--child", ppid, NULL};
  if ((rc = xipc_signal_handle(XIPC_SIGUSR2, parent_on_usr2, NULL)) != 0)
    return failed("handle", rc);
  if ((rc = xipc_proc_spawn(&child, argv, NULL)) != 0)
    return failed("spawn", rc);
  xipc_pid pid = xipc_proc_pid(child);
  rc = await_answers(1);
  for (int i = 0; i < rounds && rc == 0; i++) {
    int64_t t0 = now_ns();
    rc = xipc_signal_send(pid, XIPC_SIGUSR1);
    if (rc == 0)
      rc = await_answers(i + 2);
    rtt[i] = now_ns() - t0;
  }
  xipc_proc_kill(child);
  xipc_proc_wait(child, -1, NULL);
  xipc_proc_close(child);
  xipc_signal_default(XIPC_SIGUSR2);
  if (rc != 0)
    return failed("round trip", rc);
  report("xipc (handler -> handler/wait)", rtt, rounds);
  return 0;
}

/* ---- plain POSIX (Linux only) ------------------------------------------- */

#ifndef _WIN32
#include "bench_plain_signal.h"

static void plain_child(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = plain_child_on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  alarm(600); /* bounded */
  kill(getppid(), SIGUSR2); /* ready */
  for (;;)
    pause();
}

static int bench_plain(int rounds, int64_t *rtt) {
  struct sigaction sa, old_sa;
  sigset_t usr2, old_mask;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = plain_parent_on_usr2;
  sigaction(SIGUSR2, &sa, &old_sa);
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  sigprocmask(SIG_BLOCK, &usr2, &old_mask);
  pid_t pid = fork();
  if (pid == 0)
    plain_child();
  if (pid < 0)
    return failed("fork", XIPC_EAGAIN);
  plain_await(&old_mask);
  for (int i = 0; i < rounds; i++) {
    int64_t t0 = now_ns();
    kill(pid, SIGUSR1);
    plain_await(&old_mask);
    rtt[i] = now_ns() - t0;
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  sigprocmask(SIG_SETMASK, &old_mask, NULL);
  sigaction(SIGUSR2, &old_sa, NULL);
  report("plain kill() + sigaction", rtt, rounds);
  return 0;
}
#else
static int bench_plain(int rounds, int64_t *rtt) {
  (void)rounds;
  (void)rtt;
  printf("plain kill() + sigaction           (no POSIX signals on Windows)\n");
  return 0;
}
#endif

int main(int argc, char **argv) {
  char self[4096];
  if (argc >= 3 && strcmp(argv[1], "--child") == 0)
    return child_main(argv[2]);
  int rounds = argc >= 2 ? atoi(argv[1]) : 2000;
  if (rounds < 10 || rounds > 1000000)
    rounds = 2000;
  int64_t *rtt = malloc((size_t)rounds * sizeof *rtt);
  if (rtt == NULL || xipc_exe_path(self, sizeof self, NULL) != 0)
    return 1;
  int rc = bench_plain(rounds, rtt);
  if (rc == 0)
    rc = bench_xipc(self, rounds, rtt);
  free(rtt);
  return rc;
}
