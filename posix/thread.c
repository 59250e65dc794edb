/* Starting xipc's helper threads (the signal dispatcher, the queue timer). */
#include "posix.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>

typedef struct {
  void *(*fn)(void *);
  void *arg;
  const sigset_t *mask;
  sem_t started;
} start_info;

static void *trampoline(void *p) {
  start_info *s = p;
  void *(*fn)(void *) = s->fn;
  void *arg = s->arg;
  pthread_sigmask(SIG_SETMASK, s->mask, NULL);
  sem_post(&s->started); /* s lives on the starter's stack: done with it */
  return fn(arg);
}

/* Returns only once the thread runs: a fork() while a new thread is still
 * starting can copy a lock its start-up holds (seen with ASan's allocator:
 * a forked child's new dispatcher hung in its own start-up). */
int xipc__thread_start(void *(*fn)(void *), void *arg, const sigset_t *mask) {
  start_info s = {fn, arg, mask, {{0}}};
  pthread_attr_t attr;
  pthread_t t;
  if (sem_init(&s.started, 0, 0) != 0)
    return errno;
  int rc = pthread_attr_init(&attr);
  if (rc == 0) {
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, trampoline, &s);
    pthread_attr_destroy(&attr);
  }
  while (rc == 0 && sem_wait(&s.started) != 0 && errno == EINTR) {
  }
  sem_destroy(&s.started);
  return rc;
}
