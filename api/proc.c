/* Processes, the portable half: argument checks before the tree spawns. */
#include "internal.h"

static bool mode_ok(int m) {
  return m == XIPC_STDIO_INHERIT || m == XIPC_STDIO_NULL;
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
  return xipc__proc_spawn(out, argv, o);
}
