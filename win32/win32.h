/* Private helpers shared by the files of the Win32 tree. */
#ifndef XIPC_WIN32_H
#define XIPC_WIN32_H

#include "internal.h"

#include <windows.h>

/* UTF-8 -> newly allocated UTF-16 (free()). NULL on failure with *err set
 * (XIPC_EINVAL for invalid UTF-8, XIPC_ENOMEM). */
wchar_t *xipc__utf8_to_wide(const char *s, int *err);
/* UTF-16 -> newly allocated UTF-8 (free()). NULL on failure with *err set. */
char *xipc__wide_to_utf8(const wchar_t *s, int *err);
/* 0 when the owner SID of kernel object h (opened with READ_CONTROL) is
 * the process token's user or its default owner (an administrator's
 * objects are owned by the Administrators group), or when flags has
 * XIPC_ANY_OWNER; XIPC_EACCES for an object another user made. An object
 * without an owner (Wine's default security) is accepted. */
int xipc__check_owner(HANDLE h, unsigned flags);

#endif
