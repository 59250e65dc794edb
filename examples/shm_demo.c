/* The seed scenario: process A creates a named shared mapping and writes a
 * message into it; process B (this program started again by A) opens the
 * mapping by name, reads the message and prints it. The same source runs
 * on Linux and Windows.
 *
 *   shm_demo            run as A (starts B itself)
 *   shm_demo --reader NAME
 *                      run as B against an existing mapping NAME
 * Exits 0 when B read exactly what A wrote. */
#include "xipc.h"

#include <stdio.h>
#include <string.h>

static const char message[] = "hello from process A through shared memory";

static int fail(const char *what, int rc) {
  fprintf(stderr, "shm_demo: %s: %s (%s)\n", what, xipc_strerror(rc),
          xipc_err_name(rc));
  return 1;
}

static int reader(const char *name) {
  xipc_map *m = NULL;
  int rc = xipc_map_named(&m, name, 0, XIPC_ACCESS_READ, 0);
  if (rc != 0)
    return fail("B: open by name", rc);
  char buf[128];
  size_t n = 0;
  rc = xipc_map_readline(m, buf, sizeof buf - 1, &n);
  buf[n] = '\0';
  printf("B (pid %lld) read %zu of %zu bytes from '%s': %s\n",
         (long long)xipc_self_pid(), n, xipc_map_size(m), name, buf);
  xipc_map_close(m);
  if (rc != 0)
    return fail("B: readline", rc);
  return strcmp(buf, message) == 0 ? 0 : 1;
}

static int run_reader(const char *name) {
  char exe[4096];
  size_t len = 0;
  int rc = xipc_exe_path(exe, sizeof exe, &len);
  if (rc != 0)
    return fail("A: own path", rc);
  const char *argv[] = {exe, "--reader", name, NULL};
  xipc_proc *p = NULL;
  rc = xipc_proc_spawn(&p, argv, NULL);
  if (rc != 0)
    return fail("A: spawn B", rc);
  xipc_exit_status st;
  rc = xipc_proc_wait(p, 30000, &st);
  xipc_proc_close(p);
  if (rc != 0)
    return fail("A: wait for B", rc);
  printf("A: B exited with %d\n", st.exited ? st.exit_code : -1);
  return st.exited && st.exit_code == 0 ? 0 : 1;
}

static int writer(void) {
  char name[64];
  snprintf(name, sizeof name, "xipc-shm-demo-%lld", (long long)xipc_self_pid());
  xipc_map *m = NULL;
  int rc = xipc_map_named(&m, name, sizeof message - 1, XIPC_ACCESS_WRITE,
                          XIPC_CREATE | XIPC_EXCL);
  if (rc != 0)
    return fail("A: create", rc);
  rc = xipc_map_write(m, message, sizeof message - 1);
  if (rc != 0) {
    xipc_map_close(m);
    return fail("A: write", rc);
  }
  printf("A (pid %lld) created '%s' (%zu bytes) and wrote: %s\n",
         (long long)xipc_self_pid(), name, xipc_map_size(m), message);
  fflush(stdout);
  int result = run_reader(name);
  xipc_map_close(m); /* the last handle: the mapping is gone now */
  return result;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--reader") == 0)
    return reader(argv[2]);
  if (argc != 1) {
    fprintf(stderr, "usage: shm_demo [--reader NAME]\n");
    return 2;
  }
  return writer();
}
