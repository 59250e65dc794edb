/*
 * Internal interface between the portable layer (api/) and the platform
 * trees (posix/, win32/). Not installed. Every xipc__ function declared in a
 * section below is provided by each tree, unless the comment says otherwise.
 */
#ifndef XIPC_INTERNAL_H
#define XIPC_INTERNAL_H

#include "xipc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define XIPC__UNUSED __attribute__((unused))
#else
#define XIPC__UNUSED
#endif

/* ---- errors (api/error.c, posix/error.c, win32/error.c) ---------------- */

/* Tree: translate a raw errno / GetLastError() value to an XIPC_E* code. */
int xipc__translate_error(int sys);

/* Tree: the calling thread's current raw OS error (errno / GetLastError()). */
int xipc__current_sys_error(void);

/* Portable: remember sys as this thread's last system error and return its
 * translation. */
int xipc__fail_sys(int sys);

/* Portable: capture the current OS error (errno / GetLastError()), remember
 * it and return its translation. Call right after the failing system call. */
int xipc__fail_os(void);

/* Portable: a failure detected by xipc itself; clears the remembered system
 * error and returns err. */
int xipc__fail(int err);

/* ---- names (api/name.c) ------------------------------------------------- */

/* Portable: the same check as xipc_name_check(). */
int xipc__check_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* XIPC_INTERNAL_H */
