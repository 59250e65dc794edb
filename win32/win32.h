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

#endif
