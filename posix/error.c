#include "internal.h"

#include <errno.h>

int xipc__current_sys_error(void) { return errno; }

int xipc__translate_error(int sys) {
  switch (sys) {
  case 0:
    return 0;
  case EINVAL:
  case EBADF:
    return XIPC_EINVAL;
  case ENOENT:
  case ENOTDIR:
    return XIPC_ENOENT;
  case EEXIST:
    return XIPC_EEXIST;
  case EACCES:
  case EISDIR: /* writing a directory: EACCES, as Windows' CreateFile */
    return XIPC_EACCES;
  case EPERM:
    return XIPC_EPERM;
  case ENOMEM:
    return XIPC_ENOMEM;
  case ENOSPC:
  case EDQUOT:
  case EMFILE:
  case ENFILE:
    return XIPC_ENOSPC;
  case ERANGE:
  case EOVERFLOW:
  case EFBIG:
    return XIPC_ERANGE;
  case EAGAIN:
    return XIPC_EAGAIN;
  case ETIMEDOUT:
    return XIPC_ETIMEDOUT;
  case ENOTSUP:
  case ENOSYS:
    return XIPC_ENOTSUP;
  case EBUSY:
  case ETXTBSY:
    return XIPC_EBUSY;
  case ESRCH:
  case ECHILD:
    return XIPC_ESRCH;
  case EMSGSIZE:
    return XIPC_EMSGSIZE;
  case EOWNERDEAD:
    return XIPC_EOWNERDEAD;
  case ENOTRECOVERABLE:
    return XIPC_ENOTRECOVERABLE;
  case ENAMETOOLONG:
    return XIPC_ENAMETOOLONG;
  case EIO:
    return XIPC_EIO;
  case EINTR:
    return XIPC_EINTR;
  case EPIPE:
    return XIPC_ECLOSED;
  default:
    return XIPC_EUNKNOWN;
  }
}
