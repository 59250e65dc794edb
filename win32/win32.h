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

/* Signals (win32/signal.c): xipc_signal_send to the process behind
 * `process` (which keeps pid from being reused while it is open; it needs
 * SYNCHRONIZE and PROCESS_TERMINATE access). XIPC_ESRCH once it has
 * exited. */
int xipc__sig_send_process(HANDLE process, DWORD pid, int sig);

#endif
