/* signal_demo: signals between two processes, the same code on Linux and
 * Windows.
 *
 *   signal_demo                   the whole demo (exits 0 on success)
 *   signal_demo serve [ppid]      a long-running process: prints its pid,
 *                                 handles SIGUSR1 and SIGTERM
 *   signal_demo send PID SIGNAME  a sender: signal_demo send 1234 SIGUSR1
 *
 * The demo starts `serve` as a child, which tells the parent it is ready
 * by sending it SIGUSR2. The parent sends SIGUSR1 (the child's handler
 * prints it and acknowledges with another SIGUSR2), then SIGTERM (the
 * child's handler prints it and exits 0). Handlers run on xipc's dispatcher
 * thread, not in async-signal context, so they may print, send signals and
 * call exit(). On Linux `kill -USR1 <pid>` reaches `serve` as well. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xipc.h>

static xipc_pid parent_pid;
static atomic_int usr1_seen;

static int failed(const char *what, int err) {
  fprintf(stderr, "signal_demo: %s: %s (%s)\n", what, xipc_strerror(err),
          xipc_err_name(err));
  return 1;
}

/* ---- the long-running process ------------------------------------------ */

static void on_usr1(int sig, void *arg) {
  (void)arg;
  printf("  child  %lld: got %s\n", (long long)xipc_self_pid(),
         xipc_signal_name(sig));
  fflush(stdout);
  atomic_fetch_add(&usr1_seen, 1);
  if (parent_pid > 0)
    xipc_signal_send(parent_pid, XIPC_SIGUSR2); /* acknowledge */
}

static void on_term(int sig, void *arg) {
  (void)arg;
  printf("  child  %lld: got %s after %d SIGUSR1, exiting 0\n",
         (long long)xipc_self_pid(), xipc_signal_name(sig),
         atomic_load(&usr1_seen));
  fflush(stdout);
  exit(0);
}

static int serve(const char *ppid) {
  const int forever[] = {XIPC_SIGHUP};
  int rc;
  parent_pid = ppid ? atoll(ppid) : 0;
  printf("  child  %lld: running; try SIGUSR1, then SIGTERM\n",
         (long long)xipc_self_pid());
  fflush(stdout);
  if ((rc = xipc_signal_handle(XIPC_SIGUSR1, on_usr1, NULL)) != 0 ||
      (rc = xipc_signal_handle(XIPC_SIGTERM, on_term, NULL)) != 0)
    return failed("handle", rc);
  if (parent_pid > 0) {
    /* Started by the demo: stay bounded in time. Without an SIGALRM
     * handler the alarm's default action ends the process. */
    xipc_alarm(60000);
    if ((rc = xipc_signal_send(parent_pid, XIPC_SIGUSR2)) != 0)
      return failed("send ready", rc);
  }
  /* Idle; the handlers do the work (SIGTERM's calls exit). */
  for (;;)
    xipc_signal_wait(forever, 1, -1, NULL);
}

/* ---- the sender --------------------------------------------------------- */

static int sig_by_name(const char *name) {
  for (int sig = XIPC_SIGINT; sig <= XIPC_SIGBREAK; sig++)
    if (strcmp(name, xipc_signal_name(sig)) == 0 ||
        strcmp(name, xipc_signal_name(sig) + 3) == 0)
      return sig;
  return 0;
}

static int send_named(xipc_pid pid, const char *name) {
  int sig = sig_by_name(name);
  printf("sender %lld: sending %s to %lld\n", (long long)xipc_self_pid(),
         xipc_signal_name(sig), (long long)pid);
  fflush(stdout);
  int rc = xipc_signal_send(pid, sig);
  return rc == 0 ? 0 : failed("send", rc);
}

/* ---- the demo ----------------------------------------------------------- */

static atomic_int acks; /* SIGUSR2 from the child */

static void on_ack(int sig, void *arg) {
  (void)sig;
  (void)arg;
  atomic_fetch_add(&acks, 1);
}

/* Waits until the child has sent n SIGUSR2s. A SIGUSR2 that arrives while
 * this thread is not inside xipc_signal_wait runs on_ack instead, so
 * together they count every one. */
static int await_acks(int n) {
  const int usr2[] = {XIPC_SIGUSR2};
  for (int tries = 0; atomic_load(&acks) < n; tries++) {
    int rc = xipc_signal_wait(usr2, 1, 100, NULL);
    if (rc == 0)
      atomic_fetch_add(&acks, 1);
    else if (rc != XIPC_ETIMEDOUT || tries > 300)
      return failed("waiting for the child", rc);
  }
  return 0;
}

static int demo(const char *self) {
  char ppid[32];
  xipc_proc *child;
  xipc_exit_status st;
  int rc;
  snprintf(ppid, sizeof ppid, "%lld", (long long)xipc_self_pid());
  const char *argv[] = {self, "serve", ppid, NULL};
  if ((rc = xipc_signal_handle(XIPC_SIGUSR2, on_ack, NULL)) != 0)
    return failed("handle", rc);
  if ((rc = xipc_proc_spawn(&child, argv, NULL)) != 0)
    return failed("spawn", rc);
  xipc_pid pid = xipc_proc_pid(child);
  printf("parent %lld: started child %lld\n", (long long)xipc_self_pid(),
         (long long)pid);
  fflush(stdout);
  rc = await_acks(1);
  if (rc == 0)
    rc = send_named(pid, "SIGUSR1");
  if (rc == 0)
    rc = await_acks(2);
  if (rc == 0)
    rc = send_named(pid, "SIGTERM");
  if (rc == 0 && (rc = xipc_proc_wait(child, 30000, &st)) != 0)
    rc = failed("wait", rc);
  xipc_proc_kill(child); /* a no-op unless something failed */
  xipc_proc_close(child);
  if (rc != 0)
    return 1;
  printf("parent: child exited=%d exit_code=%d signal=%d (want 1, 0, 0)\n",
         st.exited, st.exit_code, st.signal);
  return st.exited && st.exit_code == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  char self[4096];
  int rc;
  if (argc >= 2 && strcmp(argv[1], "serve") == 0)
    return serve(argc >= 3 ? argv[2] : NULL);
  if (argc >= 4 && strcmp(argv[1], "send") == 0) {
    if (sig_by_name(argv[3]) == 0)
      return failed("signal name", XIPC_EINVAL);
    return send_named(atoll(argv[2]), argv[3]);
  }
  if (argc != 1) {
    fprintf(stderr, "usage: signal_demo [serve [ppid] | send PID SIGNAME]\n");
    return 2;
  }
  if ((rc = xipc_exe_path(self, sizeof self, NULL)) != 0)
    return failed("exe path", rc);
  return demo(self);
}
