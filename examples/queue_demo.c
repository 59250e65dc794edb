/* queue_demo: the seed scenario of xipc_queue, the same code on Linux and
 * Windows.
 *
 * The parent creates a queue, starts itself twice as a child with the role
 * "child" and the queue's name; each child puts one message and exits. The
 * parent then prints the queue's size and the messages. Exits 0 on
 * success. */
#include <stdio.h>
#include <string.h>

#include <xipc.h>

static int failed(const char *what, int err) {
  fprintf(stderr, "queue_demo: %s: %s (%s)\n", what, xipc_strerror(err),
          xipc_err_name(err));
  return 1;
}

static int child(const char *name, const char *n) {
  char msg[128];
  xipc_queue *q;
  int rc = xipc_queue_open(&q, name, NULL, 0);
  if (rc != 0)
    return failed("child open", rc);
  snprintf(msg, sizeof msg, "hello from child %s (pid %lld)", n,
           (long long)xipc_self_pid());
  rc = xipc_queue_put(q, msg, strlen(msg), 5000);
  xipc_queue_close(q); /* the message stays queued */
  return rc == 0 ? 0 : failed("child put", rc);
}

static int run_children(const char *self, const char *name) {
  xipc_proc *p[2];
  const char *nums[2] = {"1", "2"};
  for (int i = 0; i < 2; i++) {
    const char *argv[] = {self, "child", name, nums[i], NULL};
    int rc = xipc_proc_spawn(&p[i], argv, NULL);
    if (rc != 0)
      return failed("spawn", rc);
  }
  int bad = 0;
  for (int i = 0; i < 2; i++) {
    xipc_exit_status st;
    int rc = xipc_proc_wait(p[i], 30000, &st);
    bad |= rc != 0 || !st.exited || st.exit_code != 0;
    xipc_proc_close(p[i]);
  }
  return bad ? failed("child", XIPC_EIO) : 0;
}

static int print_queue(xipc_queue *q) {
  char buf[256];
  size_t n, len;
  int rc = xipc_queue_count(q, &n);
  if (rc != 0)
    return failed("count", rc);
  printf("queue size: %zu\n", n);
  for (size_t i = 0; i < n; i++) {
    rc = xipc_queue_get(q, buf, sizeof buf, &len, 0);
    if (rc != 0)
      return failed("get", rc);
    printf("message %zu: %.*s\n", i + 1, (int)len, buf);
  }
  return n == 2 ? 0 : 1;
}

int main(int argc, char **argv) {
  char self[4096], name[64];
  char **args;
  size_t len;
  xipc_queue *q;
  int rc = xipc_args_utf8(argc, argv, &args);
  if (rc != 0)
    return failed("arguments", rc);
  if (argc == 4 && strcmp(args[1], "child") == 0)
    return child(args[2], args[3]);
  rc = xipc_exe_path(self, sizeof self, &len);
  if (rc != 0)
    return failed("exe path", rc);
  snprintf(name, sizeof name, "queue_demo-%lld", (long long)xipc_self_pid());
  rc = xipc_queue_open(&q, name, NULL, XIPC_CREATE | XIPC_EXCL);
  if (rc != 0)
    return failed("open", rc);
  rc = run_children(self, name);
  if (rc == 0)
    rc = print_queue(q);
  xipc_queue_close(q); /* the last handle: the queue is gone */
  return rc;
}
