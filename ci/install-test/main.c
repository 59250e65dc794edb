/* Consumer of an installed xipc: checks that the linked library matches the
 * installed header and makes a few real calls. Prints one line ending in
 * " ok" and exits 0 on success. */
#include <stdio.h>
#include <string.h>

#include <xipc.h>

static int fail(const char *what, int err) {
  printf("xipc-consumer: FAILED: %s (%s)\n", what, xipc_err_name(err));
  return 1;
}

int main(void) {
  char want[32];
  char exe[4096];
  size_t len = 0;
  int rc;

  snprintf(want, sizeof want, "%d.%d.%d", XIPC_VERSION_MAJOR,
           XIPC_VERSION_MINOR, XIPC_VERSION_PATCH);
  if (strcmp(xipc_version(), want) != 0)
    return fail("xipc_version() differs from the header's version", 0);
  if (strcmp(xipc_err_name(XIPC_ENOENT), "XIPC_ENOENT") != 0)
    return fail("xipc_err_name", XIPC_ENOENT);
  rc = xipc_name_check("bad/name");
  if (rc != XIPC_EINVAL) return fail("xipc_name_check(\"bad/name\")", rc);
  rc = xipc_exe_path(exe, sizeof exe, &len);
  if (rc != 0) return fail("xipc_exe_path", rc);
  if (len == 0 || strstr(exe, "consumer") == NULL)
    return fail("xipc_exe_path does not name this program", 0);
  if (xipc_self_pid() <= 0) return fail("xipc_self_pid", 0);
  printf("xipc-consumer: xipc %s, pid %lld ok\n", xipc_version(),
         (long long)xipc_self_pid());
  return 0;
}
