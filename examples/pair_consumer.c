/* pair_consumer: the other half of pair_producer (see there), a program you
 * start by itself. The same code on Linux and Windows.
 *
 *   pair_consumer [QUEUE]    takes messages from the queue QUEUE (default
 *                            "xipc-pair") and prints them
 *
 * It opens the queue with XIPC_CREATE (whichever program starts first
 * creates it) and prints each message. At the producer's "bye N" it checks
 * that it got messages 1..N in order and exits 0 (1 if not). SIGTERM or
 * Ctrl+C (SIGINT) stops it cleanly while it waits: it prints how many
 * messages it got and exits 0. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xipc.h>

static atomic_int stop_signal; /* the signal that asked us to stop, or 0 */

/* Runs on xipc's dispatcher thread, not in signal context. The queue
 * handle belongs to the main thread, so the handler only sets a flag that
 * the main loop checks between its short waits. */
static void on_stop(int sig, void *arg) {
  (void)arg;
  atomic_store(&stop_signal, sig);
}

static int failed(const char *what, int err) {
  fprintf(stderr, "pair_consumer: %s: %s (%s)\n", what, xipc_strerror(err),
          xipc_err_name(err));
  return 1;
}

int main(int argc, char **argv) {
  const char *name = argc > 1 ? argv[1] : "xipc-pair";
  char msg[256];
  size_t len;
  long got = 0, seq, total, bye = -1;
  xipc_queue *q;
  int rc;

  if ((rc = xipc_signal_handle(XIPC_SIGTERM, on_stop, NULL)) != 0 ||
      (rc = xipc_signal_handle(XIPC_SIGINT, on_stop, NULL)) != 0)
    return failed("signal handlers", rc);
  rc = xipc_queue_open(&q, name, NULL, XIPC_CREATE);
  if (rc != 0)
    return failed("open", rc);
  printf("pair_consumer: pid %lld, waiting on queue %s\n",
         (long long)xipc_self_pid(), name);
  fflush(stdout);
  while (bye < 0 && atomic_load(&stop_signal) == 0) {
    /* A short timeout, so a stop signal is noticed within 200 ms. */
    rc = xipc_queue_get(q, msg, sizeof msg - 1, &len, 200);
    if (rc == XIPC_ETIMEDOUT)
      continue;
    if (rc != 0)
      break;
    msg[len] = '\0';
    printf("pair_consumer: got \"%s\"\n", msg);
    fflush(stdout);
    if (sscanf(msg, "bye %ld", &total) == 1)
      bye = total;
    else if (sscanf(msg, "message %ld of", &seq) == 1 && seq == got + 1)
      got++;
    else
      rc = XIPC_ECORRUPT; /* out of order: cannot happen with one producer */
    if (rc != 0)
      break;
  }
  xipc_queue_close(q);
  if (rc != 0 && rc != XIPC_ETIMEDOUT)
    return failed("get", rc);
  if (bye < 0) {
    printf("pair_consumer: %s: stopping after %ld messages\n",
           xipc_signal_name(atomic_load(&stop_signal)), got);
    return 0;
  }
  printf("pair_consumer: received %ld of %ld messages, in order\n", got, bye);
  return got == bye ? 0 : 1;
}
