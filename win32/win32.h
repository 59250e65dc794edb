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
/* The TokenUser SID of token tok as a LocalAlloc'ed copy (LocalFree it),
 * or NULL if the token cannot tell. */
PSID xipc__token_user(HANDLE tok);

/* The path of persistent queue `name`'s file, newly allocated UTF-16
 * (free()): %LOCALAPPDATA%\xipc\queues\<name> with the \\?\ prefix; name ""
 * gives the directory with a trailing backslash. With make_dirs the
 * directories are created as needed. win32/queue.c. */
int xipc__qstore_path(const char *name, bool make_dirs, wchar_t **out);

/* WaitForSingleObject with xipc's timeout convention (-1 forever, 0 poll,
 * > 0 at most that long but never less: a wait that Windows ends early is
 * resumed until the deadline has passed on xipc__now_ns). win32/time.c. */
DWORD xipc__wait_one(HANDLE h, int timeout_ms);
/* The error for a xipc__wait_one result that is not a success:
 * XIPC_EAGAIN (timeout 0) or XIPC_ETIMEDOUT for WAIT_TIMEOUT, else the OS
 * error. */
int xipc__wait_failed(DWORD r, int timeout_ms);

/* Signals (win32/signal.c): xipc_signal_send to the process behind
 * `process` (which keeps pid from being reused while it is open; it needs
 * SYNCHRONIZE and PROCESS_TERMINATE access). XIPC_ESRCH once it has
 * exited. */
int xipc__sig_send_process(HANDLE process, DWORD pid, int sig);

/* Streams (win32/stream.c): a connection stream (XIPC__STREAM_CONN) for
 * the overlapped, message-type, message-read-mode pipe end h, which it
 * owns on success (on failure the caller still does). */
int xipc__conn_new(xipc_stream **out, HANDLE h, DWORD peer_pid);

/* Waitsets (win32/waitset.c) reach into the other files through these. */

/* win32/proc.c: the child's process handle (still p's). */
HANDLE xipc__proc_os_process(const xipc_proc *p);

/* win32/listen.c: the events that tell that l has a connection to accept
 * or was shut down (out[0], the stop event), valid while l is open;
 * returns how many, at most XIPC__LISTENER_EVENTS. */
#define XIPC__LISTENER_EVENTS 17
int xipc__listener_os_events(xipc_listener *l, HANDLE *out);

/* win32/stream.c: readiness of an overlapped stream for a waitset, as
 * XIPC_WAIT_* bits. xipc__stream_zread: if the waitset's zero-byte read is
 * pending, what its completion says (0 while it is still pending);
 * otherwise what the pipe shows now (PeekNamedPipe, the peer's end mark)
 * and, if that is nothing and start is true, starts the zero-byte read
 * with the manual-reset event ev, which is set when data, the end mark or
 * a hang-up comes. 0 or the OS error. xipc__stream_zread_cancel: nothing
 * stays pending afterwards (a read on a connection calls it first, see
 * stream.c). xipc__stream_wlevel: WRITABLE if the pipe's write quota has
 * room, WRITABLE | HANGUP once the reader is gone, else 0. */
int xipc__stream_zread(xipc_stream *s, HANDLE ev, bool start, unsigned *ready);
void xipc__stream_zread_cancel(xipc_stream *s);
unsigned xipc__stream_wlevel(xipc_stream *s);
/* How many writes were started on s (wraps): a waitset that saw the pipe
 * empty at count n knows it is still writable while the count is n. */
LONG xipc__stream_wseq(xipc_stream *s);
/* A waitset that drains s (a FlushFileBuffers on s's handle in another
 * thread) registers fn(arg), which stops that before xipc_stream_shutdown
 * closes a pipe write end's handle; fn NULL clears it. */
void xipc__stream_set_wstop(xipc_stream *s, void (*fn)(void *), void *arg);

#endif
