/* Processes, the portable half: argument checks before the tree acts. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static bool mode_ok(int m) {
  return m == XIPC_STDIO_INHERIT || m == XIPC_STDIO_NULL;
}

/* Every entry is "K=V" with a non-empty K: Windows cannot pass anything
 * else, and POSIX would pass it unchecked, so both refuse it here. */
static bool env_ok(const char *const *env) {
  for (; env != NULL && *env != NULL; env++)
    if ((*env)[0] == '=' || strchr(*env, '=') == NULL)
      return false;
  return true;
}

int xipc_proc_spawn(xipc_proc **out, const char *const argv[],
                    const xipc_spawn_options *opts) {
  static const xipc_spawn_options defaults = {0};
  const xipc_spawn_options *o = opts ? opts : &defaults;
  if (out != NULL)
    *out = NULL;
  if (out == NULL || argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
    return xipc__fail(XIPC_EINVAL);
  if (!mode_ok(o->stdin_mode) || !mode_ok(o->stdout_mode) ||
      !mode_ok(o->stderr_mode))
    return xipc__fail(XIPC_EINVAL);
  if (!env_ok(o->env))
    return xipc__fail(XIPC_EINVAL);
  return xipc__proc_spawn(out, argv, o);
}

xipc_pid xipc_proc_pid(const xipc_proc *p) {
  return p ? xipc__proc_pid(p) : -1;
}

xipc_pid xipc_self_pid(void) { return xipc__self_pid(); }

int xipc_proc_wait(xipc_proc *p, int timeout_ms, xipc_exit_status *st) {
  xipc_exit_status s;
  if (p == NULL || timeout_ms < -1)
    return xipc__fail(XIPC_EINVAL);
  int rc = xipc__proc_wait(p, timeout_ms, &s);
  if (rc == 0 && st != NULL)
    *st = s;
  return rc;
}

int xipc_proc_kill(xipc_proc *p) {
  if (p == NULL)
    return xipc__fail(XIPC_EINVAL);
  return xipc__proc_kill(p);
}

int xipc_proc_close(xipc_proc *p) {
  if (p == NULL)
    return xipc__fail(XIPC_EINVAL);
  return xipc__proc_close(p);
}

int xipc_exe_path(char *buf, size_t cap, size_t *len) {
  char *path = NULL;
  if (buf == NULL && cap != 0)
    return xipc__fail(XIPC_EINVAL);
  int rc = xipc__exe_path(&path);
  if (rc != 0)
    return rc;
  size_t n = strlen(path);
  if (len != NULL)
    *len = n;
  if (n >= cap)
    rc = xipc__fail(XIPC_ERANGE);
  else
    memcpy(buf, path, n + 1);
  free(path);
  return rc;
}

int xipc_args_utf8(int argc, char **argv, char ***out) {
  if (argc < 0 || argv == NULL || out == NULL)
    return xipc__fail(XIPC_EINVAL);
  return xipc__args_utf8(argc, argv, out);
}
