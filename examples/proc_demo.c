/* proc_demo: xipc_proc between two processes, the same code on Linux and
 * Windows.
 *
 * The program starts itself again as a child with a tricky argument
 * (spaces, quotes, a trailing backslash), the child prints what it got and
 * exits with code 7, and the parent checks both. Then it starts a child
 * that never ends, sees the wait time out, kills it and sees it reported
 * as killed by XIPC_SIGKILL on both platforms. Exits 0 on success. */
#include <stdio.h>
#include <string.h>

#include <xipc.h>

#define TRICKY "say \"hi\" to C:\\dir\\"

static int child_echo(const char *arg) {
  printf("  child  %lld: got argument [%s]\n", (long long)xipc_self_pid(), arg);
  fflush(stdout);
  return strcmp(arg, TRICKY) == 0 ? 7 : 1;
}

static int child_spin(void) {
  volatile unsigned long long n = 0;
  while (n != ~0ull) n++; /* centuries: the parent kills it long before */
  return 0;
}

static int failed(const char *what, int err) {
  fprintf(stderr, "proc_demo: %s: %s (%s)\n", what, xipc_strerror(err),
          xipc_err_name(err));
  return 1;
}

/* Starts `self mode arg` and stores the handle in *out. */
static int start(xipc_proc **out, const char *self, const char *mode,
                 const char *arg) {
  const char *argv[] = {self, mode, arg, NULL};
  printf("parent %lld: starting child `%s`\n", (long long)xipc_self_pid(),
         mode);
  fflush(stdout); /* keep the parent's and the child's lines in order */
  return xipc_proc_spawn(out, argv, NULL);
}

static int demo_exit_code(const char *self) {
  xipc_proc *p;
  xipc_exit_status st;
  int rc = start(&p, self, "echo", TRICKY);
  if (rc != 0) return failed("spawn", rc);
  rc = xipc_proc_wait(p, 30000, &st);
  xipc_proc_close(p);
  if (rc != 0) return failed("wait", rc);
  printf("parent: child exited=%d exit_code=%d (want 7)\n", st.exited,
         st.exit_code);
  return st.exited && st.exit_code == 7 ? 0 : 1;
}

static int demo_kill(const char *self) {
  xipc_proc *p;
  xipc_exit_status st;
  int rc = start(&p, self, "spin", "");
  if (rc != 0) return failed("spawn", rc);
  rc = xipc_proc_wait(p, 200, &st);
  printf("parent: wait(200 ms) on a running child -> %s\n", xipc_err_name(rc));
  if (rc == XIPC_ETIMEDOUT) rc = xipc_proc_kill(p);
  if (rc == 0) rc = xipc_proc_wait(p, 30000, &st);
  xipc_proc_close(p);
  if (rc != 0) return failed("kill/wait", rc);
  printf("parent: killed child exited=%d signal=%d (XIPC_SIGKILL is %d)\n",
         st.exited, st.signal, XIPC_SIGKILL);
  return !st.exited && st.signal == XIPC_SIGKILL ? 0 : 1;
}

int main(int argc, char **argv) {
  char self[4096];
  char **args;
  int rc = xipc_args_utf8(argc, argv, &args);
  if (rc != 0) return failed("arguments", rc);
  if (argc == 3 && strcmp(args[1], "echo") == 0) return child_echo(args[2]);
  if (argc == 3 && strcmp(args[1], "spin") == 0) return child_spin();

  rc = xipc_exe_path(self, sizeof self, NULL);
  if (rc != 0) return failed("xipc_exe_path", rc);
  printf("proc_demo with xipc %s\n", xipc_version());
  if (demo_exit_code(self) != 0 || demo_kill(self) != 0) {
    printf("proc_demo: FAILED\n");
    return 1;
  }
  printf("proc_demo: OK\n");
  return 0;
}
