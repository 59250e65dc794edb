/* Local endpoints by name: the portable half (argument and name checks).
 * The sockets and pipes live in posix/listen.c and win32/listen.c. */
#include "internal.h"

#include <string.h>

#define DEFAULT_BACKLOG 64u

static bool valid_timeout(int timeout_ms) { return timeout_ms >= -1; }

/* xipc__check_name, and XIPC_ENAMETOOLONG beyond XIPC_LISTEN_NAME_MAX. */
static int check_listen_name(const char *name) {
  int rc = xipc__check_name(name);
  if (rc != 0)
    return rc;
  return strlen(name) > XIPC_LISTEN_NAME_MAX ? XIPC_ENAMETOOLONG : 0;
}

int xipc_listen(xipc_listener **out, const char *name,
                const xipc_listen_options *opts) {
  xipc_listen_options o = {0, 0};
  if (out != NULL)
    *out = NULL;
  if (out == NULL)
    return xipc__fail(XIPC_EINVAL);
  int rc = check_listen_name(name);
  if (rc != 0)
    return xipc__fail(rc);
  if (opts != NULL)
    o = *opts;
  if ((o.flags & ~(unsigned)XIPC_LISTEN_ANY_USER) != 0 ||
      o.backlog > XIPC_LISTEN_BACKLOG_MAX)
    return xipc__fail(XIPC_EINVAL);
  if (o.backlog == 0)
    o.backlog = DEFAULT_BACKLOG;
  return xipc__listen_os(out, name, &o);
}

int xipc_accept(xipc_listener *l, xipc_stream **out, int timeout_ms) {
  if (out != NULL)
    *out = NULL;
  if (l == NULL || out == NULL || !valid_timeout(timeout_ms))
    return xipc__fail(XIPC_EINVAL);
  return xipc__accept_os(l, out, xipc__deadline_ns(timeout_ms),
                         timeout_ms == 0);
}

int xipc_connect_ex(xipc_stream **out, const char *name, unsigned flags,
                    int timeout_ms) {
  if (out != NULL)
    *out = NULL;
  if (out == NULL || !valid_timeout(timeout_ms) ||
      (flags & ~(unsigned)(XIPC_CONNECT_WAIT | XIPC_CONNECT_ANY_USER)) != 0)
    return xipc__fail(XIPC_EINVAL);
  int rc = check_listen_name(name);
  if (rc != 0)
    return xipc__fail(rc);
  return xipc__connect_os(out, name, flags, xipc__deadline_ns(timeout_ms),
                          timeout_ms == 0);
}

int xipc_connect(xipc_stream **out, const char *name, int timeout_ms) {
  return xipc_connect_ex(out, name, 0, timeout_ms);
}

int xipc_listener_shutdown(xipc_listener *l) {
  if (l == NULL)
    return xipc__fail(XIPC_EINVAL);
  return xipc__listener_os_shutdown(l);
}

int xipc_listener_close(xipc_listener *l) {
  if (l == NULL)
    return xipc__fail(XIPC_EINVAL);
  if (__atomic_load_n(xipc__listener_watchers(l), __ATOMIC_SEQ_CST) != 0)
    return xipc__fail(XIPC_EBUSY); /* in a waitset: remove it first */
  return xipc__listener_os_close(l);
}

int xipc_stream_peer_pid(const xipc_stream *s, xipc_pid *pid) {
  if (pid != NULL)
    *pid = 0;
  if (s == NULL || pid == NULL)
    return xipc__fail(XIPC_EINVAL);
  if (XIPC__STREAM_BASE(s)->kind != XIPC__STREAM_CONN)
    return xipc__fail(XIPC_ENOTSUP); /* a pipe end has no peer */
  return xipc__stream_os_peer_pid(s, pid);
}
