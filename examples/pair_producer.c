/* pair_producer: one half of a producer/consumer pair that you start as two
 * separate programs, in either order, in two terminals (the README's quick
 * start). The same code on Linux and Windows.
 *
 *   pair_producer [COUNT [QUEUE]]    puts COUNT messages (default 10) into
 *                                    the queue QUEUE (default "xipc-pair")
 *   pair_consumer [QUEUE]            takes them (see pair_consumer.c)
 *
 * Both programs open the queue with XIPC_CREATE, so whichever starts first
 * creates it. A queue lives only while some process holds it open, so the
 * producer keeps its handle until the consumer has taken every message,
 * then it exits 0. SIGTERM or Ctrl+C (SIGINT) stops it cleanly at any time
 * (exit 0); messages nobody has taken then die with the queue if no
 * consumer holds it. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xipc.h>

static atomic_int stop_signal; /* the signal that asked us to stop, or 0 */

/* Runs on xipc's dispatcher thread, not in signal context: it may do
 * anything, but the queue handle belongs to the main thread, so it only
 * sets a flag that the main loop checks between its short waits. */
static void on_stop(int sig, void *arg) {
  (void)arg;
  atomic_store(&stop_signal, sig);
}

static int failed(const char *what, int err) {
  fprintf(stderr, "pair_producer: %s: %s (%s)\n", what, xipc_strerror(err),
          xipc_err_name(err));
  return 1;
}

static int stopped(void) {
  int sig = atomic_load(&stop_signal);
  if (sig != 0)
    printf("pair_producer: %s: stopping\n", xipc_signal_name(sig));
  return sig != 0;
}

/* Puts msg, retrying while the queue is full, until a stop signal. */
static int put(xipc_queue *q, const char *msg) {
  for (;;) {
    int rc = xipc_queue_put(q, msg, strlen(msg), 200);
    if (rc != XIPC_ETIMEDOUT || stopped())
      return rc;
  }
}

int main(int argc, char **argv) {
  long count = argc > 1 ? strtol(argv[1], NULL, 10) : 10;
  const char *name = argc > 2 ? argv[2] : "xipc-pair";
  char msg[128];
  xipc_queue *q;
  size_t left = 1;
  int rc;

  if (count < 0)
    return failed("COUNT", XIPC_EINVAL);
  if ((rc = xipc_signal_handle(XIPC_SIGTERM, on_stop, NULL)) != 0 ||
      (rc = xipc_signal_handle(XIPC_SIGINT, on_stop, NULL)) != 0)
    return failed("signal handlers", rc);
  rc = xipc_queue_open(&q, name, NULL, XIPC_CREATE);
  if (rc != 0)
    return failed("open", rc);
  printf("pair_producer: pid %lld, putting %ld messages into queue %s\n",
         (long long)xipc_self_pid(), count, name);
  fflush(stdout);
  for (long i = 1; rc == 0 && i <= count + 1; i++) {
    if (i <= count)
      snprintf(msg, sizeof msg, "message %ld of %ld", i, count);
    else
      snprintf(msg, sizeof msg, "bye %ld", count); /* the end marker */
    rc = put(q, msg);
  }
  /* Hold the queue until the consumer has taken everything, looking every
   * 20 ms; a stop signal that comes meanwhile ends the wait (a thread in
   * xipc_signal_wait takes the signal instead of the handler). */
  while (rc == 0 && !stopped() && (rc = xipc_queue_count(q, &left)) == 0 &&
         left > 0) {
    const int stop_set[] = {XIPC_SIGTERM, XIPC_SIGINT};
    int sig = 0;
    if (xipc_signal_wait(stop_set, 2, 20, &sig) == 0)
      atomic_store(&stop_signal, sig);
  }
  xipc_queue_close(q);
  if (rc == XIPC_ETIMEDOUT || atomic_load(&stop_signal) != 0)
    return 0; /* stopped by a signal: a clean exit */
  if (rc != 0)
    return failed("put", rc);
  printf("pair_producer: all %ld messages taken, done\n", count);
  return 0;
}
