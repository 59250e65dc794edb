#include "internal.h"

#include <windows.h>

int xipc__current_sys_error(void) { return (int)GetLastError(); }

int xipc__translate_error(int sys) {
  switch ((DWORD)sys) {
  case ERROR_SUCCESS:
    return 0;
  case ERROR_INVALID_PARAMETER:
  case ERROR_INVALID_HANDLE:
  case ERROR_INVALID_NAME:
  case ERROR_BAD_PATHNAME:
  case ERROR_NO_UNICODE_TRANSLATION:
    return XIPC_EINVAL;
  /* CreateProcess reports a missing working directory as ERROR_DIRECTORY;
   * POSIX says ENOENT. */
  case ERROR_DIRECTORY:
    return XIPC_ENOENT;
  case ERROR_FILE_NOT_FOUND:
  case ERROR_PATH_NOT_FOUND:
  case ERROR_MOD_NOT_FOUND:
  case ERROR_BAD_NETPATH:
    return XIPC_ENOENT;
  case ERROR_ALREADY_EXISTS:
  case ERROR_FILE_EXISTS:
    return XIPC_EEXIST;
  case ERROR_ACCESS_DENIED:
  case ERROR_SHARING_VIOLATION:
  case ERROR_LOCK_VIOLATION:
    return XIPC_EACCES;
  case ERROR_PRIVILEGE_NOT_HELD:
    return XIPC_EPERM;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
  case ERROR_COMMITMENT_LIMIT:
    return XIPC_ENOMEM;
  case ERROR_DISK_FULL:
  case ERROR_HANDLE_DISK_FULL:
  case ERROR_TOO_MANY_OPEN_FILES:
  case ERROR_NO_SYSTEM_RESOURCES:
    return XIPC_ENOSPC;
  case ERROR_ARITHMETIC_OVERFLOW:
  case ERROR_FILE_TOO_LARGE:
  case ERROR_FILE_INVALID:
    return XIPC_ERANGE;
  case ERROR_NO_DATA:
  case ERROR_BROKEN_PIPE:
    return XIPC_ECLOSED;
  case WAIT_TIMEOUT:
  case ERROR_TIMEOUT:
  case ERROR_SEM_TIMEOUT:
    return XIPC_ETIMEDOUT;
  case ERROR_NOT_SUPPORTED:
  case ERROR_CALL_NOT_IMPLEMENTED:
    return XIPC_ENOTSUP;
  case ERROR_BUSY:
  case ERROR_USER_MAPPED_FILE:
    return XIPC_EBUSY;
  case ERROR_INVALID_WINDOW_HANDLE:
  case ERROR_PROC_NOT_FOUND:
    return XIPC_ESRCH;
  case ERROR_MORE_DATA:
  case ERROR_INSUFFICIENT_BUFFER:
    return XIPC_EMSGSIZE;
  case ERROR_ABANDONED_WAIT_0:
    return XIPC_EOWNERDEAD;
  case ERROR_FILENAME_EXCED_RANGE:
    return XIPC_ENAMETOOLONG;
  case ERROR_CRC:
  case ERROR_IO_DEVICE:
  case ERROR_READ_FAULT:
  case ERROR_WRITE_FAULT:
    return XIPC_EIO;
  case ERROR_OPERATION_ABORTED:
    return XIPC_EINTR;
  case ERROR_NOT_OWNER:
    return XIPC_EPERM;
  case ERROR_BAD_EXE_FORMAT:
  case ERROR_EXE_MACHINE_TYPE_MISMATCH:
    return XIPC_EACCES;
  default:
    return XIPC_EUNKNOWN;
  }
}
