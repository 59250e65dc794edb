#include "internal.h"

static _Thread_local int last_sys_error;

const char *xipc_version(void) {
#define XIPC__STR2(x) #x
#define XIPC__STR(x) XIPC__STR2(x)
  return XIPC__STR(XIPC_VERSION_MAJOR) "." XIPC__STR(
      XIPC_VERSION_MINOR) "." XIPC__STR(XIPC_VERSION_PATCH);
}

const char *xipc_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define XIPC__ERR_MSG(name, value, msg)                                       \
  case XIPC_##name:                                                           \
    return msg;
    XIPC_ERRNO_MAP(XIPC__ERR_MSG)
#undef XIPC__ERR_MSG
  default:
    return "unknown error";
  }
}

const char *xipc_err_name(int err) {
  switch (err) {
  case 0:
    return "XIPC_OK";
#define XIPC__ERR_NAME(name, value, msg)                                      \
  case XIPC_##name:                                                           \
    return "XIPC_" #name;
    XIPC_ERRNO_MAP(XIPC__ERR_NAME)
#undef XIPC__ERR_NAME
  default:
    return "XIPC_E?";
  }
}

int xipc_last_system_error(void) { return last_sys_error; }

int xipc__fail_sys(int sys) {
  last_sys_error = sys;
  return xipc__translate_error(sys);
}

int xipc__fail_os(void) { return xipc__fail_sys(xipc__current_sys_error()); }

int xipc__fail(int err) {
  last_sys_error = 0;
  return err;
}

int xipc__fail_sys_as(int sys, int err) {
  last_sys_error = sys;
  return err;
}

int xipc__fail_os_as(int err) {
  return xipc__fail_sys_as(xipc__current_sys_error(), err);
}
