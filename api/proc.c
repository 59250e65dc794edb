/* Processes, the portable half: argument checks before the tree spawns, the
 * pipes of XIPC_STDIO_PIPE and the parent's ends the proc handle owns. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define KNOWN_FLAGS                                                           \
  (XIPC_SPAWN_NEW_GROUP | XIPC_SPAWN_STDOUT_APPEND | XIPC_SPAWN_STDERR_APPEND)

/* One stdio slot of the options: its mode, stream and path fields. */
typedef struct {
  int *mode;
  xipc_stream **stream;
  const char **path;
} slot;

static void slots_of(xipc_spawn_options *o, slot s[3]) {
  s[0] = (slot){&o->stdin_mode, &o->stdin_stream, &o->stdin_path};
  s[1] = (slot){&o->stdout_mode, &o->stdout_stream, &o->stdout_path};
  s[2] = (slot){&o->stderr_mode, &o->stderr_stream, &o->stderr_path};
}

/* A usable stream: not NULL and still holding its OS object (a stream
 * that was shut down has none). */
static int check_stream(const xipc_stream *s) {
  if (s == NULL)
    return XIPC_EINVAL;
  return xipc__stream_os_handle(s) == -1 ? XIPC_ECLOSED : 0;
}

static int check_slot(const slot *s, int which) {
  switch (*s->mode) {
  case XIPC_STDIO_INHERIT:
  case XIPC_STDIO_NULL:
  case XIPC_STDIO_PIPE:
    return 0;
  case XIPC_STDIO_STREAM:
    return check_stream(*s->stream);
  case XIPC_STDIO_FILE:
    return *s->path == NULL || (*s->path)[0] == '\0' ? XIPC_EINVAL : 0;
  case XIPC_STDIO_STDOUT:
    return which == 2 ? 0 : XIPC_EINVAL; /* only stderr can follow stdout */
  default:
    return XIPC_EINVAL;
  }
}

/* Every entry is "K=V" with a non-empty K: Windows cannot pass anything
 * else, and POSIX would pass it unchecked, so both refuse it here. */
static bool env_ok(const char *const *env) {
  for (; env != NULL && *env != NULL; env++)
    if ((*env)[0] == '=' || strchr(*env, '=') == NULL)
      return false;
  return true;
}

static int check_options(xipc_spawn_options *o) {
  slot s[3];
  int rc = 0;
  if ((o->flags & ~(unsigned)KNOWN_FLAGS) != 0 || !env_ok(o->env))
    return XIPC_EINVAL;
  /* An append flag without a FILE to append to is a mistake, not a no-op. */
  if ((o->flags & XIPC_SPAWN_STDOUT_APPEND) && o->stdout_mode != XIPC_STDIO_FILE)
    return XIPC_EINVAL;
  if ((o->flags & XIPC_SPAWN_STDERR_APPEND) && o->stderr_mode != XIPC_STDIO_FILE)
    return XIPC_EINVAL;
  slots_of(o, s);
  for (int i = 0; i < 3 && rc == 0; i++)
    rc = check_slot(&s[i], i);
  if (rc == 0 && o->npass > 0 && o->pass == NULL)
    rc = XIPC_EINVAL;
  for (size_t i = 0; i < o->npass && rc == 0; i++)
    rc = check_stream(o->pass[i]);
  return rc;
}

/* Turns each PIPE slot into a STREAM slot with the child's end of a new
 * pipe (also kept in child[i]) and the parent's end in parent[i]. */
static int make_pipes(xipc_spawn_options *o, xipc_stream *child[3],
                      xipc_stream *parent[3]) {
  slot s[3];
  slots_of(o, s);
  for (int i = 0; i < 3; i++) {
    xipc_stream *r = NULL, *w = NULL;
    int rc;
    if (*s[i].mode != XIPC_STDIO_PIPE)
      continue;
    rc = xipc__pipe_open(&r, &w,
                         i == 0 ? XIPC__PIPE_CHILD_READ : XIPC__PIPE_CHILD_WRITE);
    if (rc != 0)
      return rc;
    child[i] = i == 0 ? r : w;
    parent[i] = i == 0 ? w : r;
    *s[i].mode = XIPC_STDIO_STREAM;
    *s[i].stream = child[i];
  }
  return 0;
}

static void close_all(xipc_stream *s[3]) {
  for (int i = 0; i < 3; i++) {
    if (s[i] != NULL)
      xipc_stream_close(s[i]);
    s[i] = NULL;
  }
}

int xipc_proc_spawn(xipc_proc **out, const char *const argv[],
                    const xipc_spawn_options *opts) {
  static const xipc_spawn_options defaults = {0};
  xipc_spawn_options o = opts ? *opts : defaults;
  xipc_stream *child[3] = {NULL, NULL, NULL};
  xipc_stream *parent[3] = {NULL, NULL, NULL};
  xipc_proc *p = NULL;
  int rc;
  if (out != NULL)
    *out = NULL;
  if (out == NULL || argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
    return xipc__fail(XIPC_EINVAL);
  if ((rc = check_options(&o)) != 0)
    return xipc__fail(rc);
  rc = make_pipes(&o, child, parent);
  if (rc == 0)
    rc = xipc__proc_spawn(&p, argv, &o);
  close_all(child); /* the child has its own copies now */
  if (rc != 0) {
    close_all(parent);
    return rc;
  }
  for (int i = 0; i < 3; i++)
    xipc__proc_stdio(p)[i] = parent[i];
  *out = p;
  return 0;
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

/* True if p or one of its stdio streams is in a waitset. */
static bool proc_watched(xipc_proc *p) {
  xipc_stream **io = xipc__proc_stdio(p);
  for (int i = 0; i < 3; i++)
    if (io[i] != NULL && XIPC__STREAM_BASE(io[i])->watch != NULL)
      return true;
  return __atomic_load_n(xipc__proc_watchers(p), __ATOMIC_SEQ_CST) != 0;
}

int xipc_proc_close(xipc_proc *p) {
  if (p == NULL)
    return xipc__fail(XIPC_EINVAL);
  if (proc_watched(p))
    return xipc__fail(XIPC_EBUSY); /* remove it from the waitset first */
  xipc__proc_stdio_close(p);
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

void xipc__proc_stdio_close(xipc_proc *p) { close_all(xipc__proc_stdio(p)); }

xipc_stream *xipc_proc_stdin(xipc_proc *p) {
  return p ? xipc__proc_stdio(p)[0] : NULL;
}

xipc_stream *xipc_proc_stdout(xipc_proc *p) {
  return p ? xipc__proc_stdio(p)[1] : NULL;
}

xipc_stream *xipc_proc_stderr(xipc_proc *p) {
  return p ? xipc__proc_stdio(p)[2] : NULL;
}

int xipc_proc_signal(xipc_proc *p, int sig) {
  if (p == NULL || sig < XIPC_SIGINT || sig > XIPC_SIGBREAK)
    return xipc__fail(XIPC_EINVAL);
  return xipc__proc_signal(p, sig);
}
