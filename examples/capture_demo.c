/* capture_demo: xipc_proc_run, Python's subprocess.run(input=...,
 * capture_output=True, timeout=...), the same code on Linux and Windows.
 *
 * The program runs itself as a child that upper-cases its stdin to stdout,
 * writes a note to stderr and exits with code 3; the parent feeds it a
 * line, prints what came back on each stream and the status, and checks
 * them. Then it runs a child that prints a line and sleeps, with a 2 s
 * timeout: the run returns XIPC_ETIMEDOUT with the line captured and the
 * child reported as killed by XIPC_SIGKILL. Exits 0 on success.
 * (Windows' C runtime writes "\n" as "\r\n" in text mode; the checks drop
 * the '\r'.) */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <xipc.h>

#define INPUT "hello from the parent\n"

static int child_upper(void) {
  int c;
  while ((c = getchar()) != EOF) putchar(toupper(c));
  fprintf(stderr, "child: done\n");
  return 3;
}

static int child_sleepy(void) {
  const int usr1 = XIPC_SIGUSR1;
  int got;
  printf("child: going to sleep\n");
  fflush(stdout);
  /* A minute: the parent's timeout ends it long before. */
  return xipc_signal_wait(&usr1, 1, 60000, &got) == 0 ? 0 : 1;
}

static int failed(const char *what, int err) {
  fprintf(stderr, "capture_demo: %s: %s (%s)\n", what, xipc_strerror(err),
          xipc_err_name(err));
  return 1;
}

/* s without '\r', in place. */
static const char *no_cr(char *s) {
  char *w = s;
  for (const char *r = s; *r; r++)
    if (*r != '\r') *w++ = *r;
  *w = '\0';
  return s;
}

static int demo_capture(const char *self) {
  const char *argv[] = {self, "upper", NULL};
  xipc_run_options o = {INPUT, strlen(INPUT), 30000, 0, NULL};
  xipc_run_result r;
  int rc = xipc_proc_run(argv, &o, &r), ok;
  if (rc != 0) {
    xipc_run_result_free(&r);
    return failed("xipc_proc_run", rc);
  }
  printf("parent: child's stdout: %s", no_cr(r.out));
  printf("parent: child's stderr: %s", no_cr(r.err));
  printf("parent: exited=%d exit_code=%d (want 1 and 3)\n", r.status.exited,
         r.status.exit_code);
  ok = strcmp(r.out, "HELLO FROM THE PARENT\n") == 0 &&
       strcmp(r.err, "child: done\n") == 0 && r.status.exited &&
       r.status.exit_code == 3;
  xipc_run_result_free(&r);
  return ok ? 0 : 1;
}

static int demo_timeout(const char *self) {
  const char *argv[] = {self, "sleepy", NULL};
  xipc_run_options o = {NULL, 0, 2000, 0, NULL};
  xipc_run_result r;
  int rc = xipc_proc_run(argv, &o, &r), ok;
  printf("parent: run with a 2000 ms timeout -> %s\n", xipc_err_name(rc));
  if (r.out == NULL) return failed("xipc_proc_run", rc);
  printf("parent: captured before the kill: %s", no_cr(r.out));
  printf("parent: exited=%d signal=%d (XIPC_SIGKILL is %d)\n",
         r.status.exited, r.status.signal, XIPC_SIGKILL);
  ok = rc == XIPC_ETIMEDOUT && strcmp(r.out, "child: going to sleep\n") == 0 &&
       !r.status.exited && r.status.signal == XIPC_SIGKILL;
  xipc_run_result_free(&r);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  char self[4096];
  char **args;
  int rc = xipc_args_utf8(argc, argv, &args);
  if (rc != 0) return failed("arguments", rc);
  if (argc == 2 && strcmp(args[1], "upper") == 0) return child_upper();
  if (argc == 2 && strcmp(args[1], "sleepy") == 0) return child_sleepy();

  rc = xipc_exe_path(self, sizeof self, NULL);
  if (rc != 0) return failed("xipc_exe_path", rc);
  printf("capture_demo with xipc %s\n", xipc_version());
  fflush(stdout);
  if (demo_capture(self) != 0 || demo_timeout(self) != 0) {
    printf("capture_demo: FAILED\n");
    return 1;
  }
  printf("capture_demo: OK\n");
  return 0;
}
