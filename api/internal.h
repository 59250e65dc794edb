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

/* ---- signals (api/signal.c, posix/signal.c, win32/signal.c) ------------ */

/* The portable layer (api/signal.c) owns the dispositions, the dispatcher
 * loop, waiters and the alarm; a tree supplies the lock, the clock, the
 * thread and the OS side of delivery. Signal sets are bitmasks with bit
 * (1u << sig) for XIPC_SIG* numbers. */

/* What the OS side must do for one signal, from the portable state. */
enum {
  XIPC__SIG_OS_DEFAULT = 0, /* the OS default (POSIX SIG_DFL; no channel) */
  XIPC__SIG_OS_IGNORE = 1,  /* discard (POSIX SIG_IGN; "ignored" marker)  */
  XIPC__SIG_OS_CATCH = 2    /* forward to the dispatcher (catcher/channel) */
};

/* Tree: the one lock and condition of the signal layer (statically
 * initialised, usable before xipc__sig_start). */
void xipc__sig_lock(void);
void xipc__sig_unlock(void);
/* Tree: with the lock held, waits for xipc__sig_broadcast or until the
 * monotonic deadline (microseconds, -1: none). 0, or XIPC_ETIMEDOUT. May
 * return early (spuriously). */
int xipc__sig_cond_wait(int64_t deadline_us);
void xipc__sig_broadcast(void);
/* Tree: monotonic clock in microseconds. */
int64_t xipc__sig_clock_us(void);

/* Tree: create the OS resources and start the dispatcher thread, which
 * runs xipc__sig_dispatcher_main(). Called once, with the lock held,
 * before the first XIPC__SIG_OS_CATCH. */
int xipc__sig_start(void);
/* Tree: apply an XIPC__SIG_OS_* mode for sig (never XIPC_SIGKILL). Called
 * with the lock held, and only when the mode changes. */
int xipc__sig_os_mode(int sig, int mode);
/* Tree (dispatcher thread only): block until a signal arrives through the
 * OS, xipc__sig_wake is called or timeout_ms passes (-1: forever). Returns
 * the set of signals that arrived (possibly empty). */
unsigned xipc__sig_os_wait(int timeout_ms);
/* Tree: make xipc__sig_os_wait return soon; callable from any thread. */
void xipc__sig_wake(void);
/* Tree: carry out sig's default action on this process: terminate so that
 * a parent's xipc_proc_wait reports {exited = 0, signal = sig}. */
void xipc__sig_terminate(int sig);
/* Tree: xipc_signal_send after the portable checks (pid > 0, sig valid). */
int xipc__sig_send(xipc_pid pid, int sig);

/* Portable: the body of the dispatcher thread; never returns. */
void xipc__sig_dispatcher_main(void);
/* Portable: in the child of fork(), with the lock held (the tree takes it
 * around fork): forget what belonged to threads the child does not have
 * (waiters, a running handler) and the alarm, which POSIX does not carry
 * into a child either. */
void xipc__sig_reset_after_fork(void);
/* Portable: true on the dispatcher thread. */
bool xipc__sig_on_dispatcher(void);
/* Portable: queue sig for dispatch (any thread, not async-signal context)
 * and wait up to timeout_ms (-1: forever) until it has been dispatched,
 * unless called on the dispatcher thread. 0, or XIPC_ETIMEDOUT. */
int xipc__sig_deliver(int sig, int timeout_ms);

/* Windows console control event types (the CTRL_*_EVENT values). */
enum {
  XIPC__CTRL_C = 0,
  XIPC__CTRL_BREAK = 1,
  XIPC__CTRL_CLOSE = 2,
  XIPC__CTRL_LOGOFF = 5,
  XIPC__CTRL_SHUTDOWN = 6
};
/* Tree, test hook: run the console control handler xipc registers with
 * SetConsoleCtrlHandler for ctrl_type, as Windows would on its own thread,
 * and return when the mapped signal has been dispatched. 1 if the handler
 * reports the event handled (TRUE), 0 if not; XIPC_EINVAL for an unknown
 * type; XIPC_ENOTSUP on POSIX, which has no console control events. */
int xipc__sig_console_event_for_testing(unsigned ctrl_type);
/* Tree, test hook: give this process a console of its own (Windows:
 * FreeConsole + AllocConsole) and have Windows raise ctrl_type on it with
 * GenerateConsoleCtrlEvent; the handler then runs as for a real Ctrl+C.
 * Meant for a helper process, since it replaces the process's console.
 * XIPC_ENOTSUP on POSIX and where no console can be had. */
int xipc__sig_console_generate_for_testing(unsigned ctrl_type);

#ifdef __cplusplus
}
#endif

#endif /* XIPC_INTERNAL_H */
