/* The plain POSIX signal ping-pong that bench_signal and bench_waitset
 * measure xipc against (header-only, POSIX): the child's SIGUSR1 handler
 * answers its parent with SIGUSR2; the parent waits in sigsuspend with
 * SIGUSR2 blocked outside it, so no answer is missed. */
#ifndef XIPC_BENCH_PLAIN_SIGNAL_H
#define XIPC_BENCH_PLAIN_SIGNAL_H

#include <signal.h>
#include <unistd.h>

static volatile sig_atomic_t plain_got;

static inline void plain_parent_on_usr2(int sig) {
  (void)sig;
  plain_got = 1;
}

static inline void plain_child_on_usr1(int sig) {
  (void)sig;
  kill(getppid(), SIGUSR2);
}

/* Waits with SIGUSR2 blocked except inside sigsuspend, so none is missed. */
static inline void plain_await(const sigset_t *during) {
  while (!plain_got)
    sigsuspend(during);
  plain_got = 0;
}

#endif
