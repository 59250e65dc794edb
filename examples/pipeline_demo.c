/* pipeline_demo: the shell pipeline `producer | counter` built from one
 * xipc_pipe, the same code on Linux and Windows.
 *
 * The parent makes an anonymous pipe whose ends are both for children
 * (xipc_pipe_ex with XIPC_PIPE_CHILD_READ | XIPC_PIPE_CHILD_WRITE), starts
 * the producer with the pipe's write end as its stdout (XIPC_STDIO_STREAM)
 * and the counter with the read end as its stdin and a PIPE for its
 * stdout, then closes its own
 * copies of both ends: the counter sees end of stream when the producer
 * exits. The parent prints the counter's report and checks it. Exits 0 on
 * success. */
#include <stdio.h>
#include <string.h>

#include <xipc.h>

#define LINES 1000

static int producer(void) {
  for (int i = 1; i <= LINES; i++) printf("line %d of the producer\n", i);
  return 0;
}

static int counter(void) {
  long lines = 0;
  int c;
  while ((c = getchar()) != EOF) lines += c == '\n';
  printf("counter: %ld lines\n", lines);
  return 0;
}

static int failed(const char *what, int err) {
  fprintf(stderr, "pipeline_demo: %s: %s (%s)\n", what, xipc_strerror(err),
          xipc_err_name(err));
  return 1;
}

/* Reads s to its end into buf (NUL-terminated). */
static int read_all(xipc_stream *s, char *buf, size_t cap) {
  size_t len = 0, n = 1;
  int rc = 0;
  while (rc == 0 && n > 0 && len + 1 < cap) {
    rc = xipc_stream_read(s, buf + len, cap - 1 - len, &n, 30000);
    len += rc == 0 ? n : 0;
  }
  buf[len] = '\0';
  return rc;
}

static int run_pipeline(const char *self) {
  const char *argv_p[] = {self, "producer", NULL};
  const char *argv_c[] = {self, "counter", NULL};
  xipc_stream *r, *w;
  xipc_proc *prod = NULL, *count = NULL;
  xipc_spawn_options op = {0}, oc = {0};
  xipc_exit_status sp = {0}, sc = {0};
  char report[256];
  int rc = xipc_pipe_ex(&r, &w, XIPC_PIPE_CHILD_READ | XIPC_PIPE_CHILD_WRITE);
  if (rc != 0) return failed("xipc_pipe_ex", rc);
  op.stdout_mode = XIPC_STDIO_STREAM;
  op.stdout_stream = w;
  oc.stdin_mode = XIPC_STDIO_STREAM;
  oc.stdin_stream = r;
  oc.stdout_mode = XIPC_STDIO_PIPE;
  rc = xipc_proc_spawn(&prod, argv_p, &op);
  if (rc == 0) rc = xipc_proc_spawn(&count, argv_c, &oc);
  /* The children hold their own copies; the counter's stdin ends when
   * the producer's copy is gone. */
  xipc_stream_close(r);
  xipc_stream_close(w);
  if (rc == 0) rc = read_all(xipc_proc_stdout(count), report, sizeof report);
  if (rc == 0) rc = xipc_proc_wait(prod, 30000, &sp);
  if (rc == 0) rc = xipc_proc_wait(count, 30000, &sc);
  if (prod) xipc_proc_close(prod);
  if (count) xipc_proc_close(count);
  if (rc != 0) return failed("pipeline", rc);
  printf("parent: the counter said: %s", report);
  printf("parent: producer exit %d, counter exit %d\n", sp.exit_code, sc.exit_code);
  return strstr(report, "counter: 1000 lines") && sp.exited && sc.exited &&
                 sp.exit_code == 0 && sc.exit_code == 0
             ? 0
             : 1;
}

int main(int argc, char **argv) {
  char self[4096];
  char **args;
  int rc = xipc_args_utf8(argc, argv, &args);
  if (rc != 0) return failed("arguments", rc);
  if (argc == 2 && strcmp(args[1], "producer") == 0) return producer();
  if (argc == 2 && strcmp(args[1], "counter") == 0) return counter();

  rc = xipc_exe_path(self, sizeof self, NULL);
  if (rc != 0) return failed("xipc_exe_path", rc);
  printf("pipeline_demo with xipc %s: %s producer | %s counter\n", xipc_version(),
         "self", "self");
  fflush(stdout);
  if (run_pipeline(self) != 0) {
    printf("pipeline_demo: FAILED\n");
    return 1;
  }
  printf("pipeline_demo: OK\n");
  return 0;
}
