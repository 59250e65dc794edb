/*
 * xipc — one API for inter-process communication on Windows and Linux.
 *
 * Conventions (see README.md for a tour):
 *  - Every fallible function returns int: 0 on success or a negative XIPC_E*
 *    code. Outputs go through pointer arguments.
 *  - timeout_ms: -1 waits forever, 0 never blocks (XIPC_EAGAIN when it
 *    would), > 0 waits at most that long (XIPC_ETIMEDOUT). Timeouts are
 *    measured on a monotonic clock.
 *  - Names of shared objects are "portable names": 1 to XIPC_NAME_MAX
 *    characters from [A-Za-z0-9._-], not starting with '.'. Anything else is
 *    XIPC_EINVAL (XIPC_ENAMETOOLONG when only the length is wrong).
 *  - Strings (names, paths, argv, env) are UTF-8 on every platform.
 *  - Handles are opaque, created by xipc_X_open-style calls and released by
 *    xipc_X_close. Handles are not inherited by child processes.
 *
 * This header is C11, has no platform includes and is usable from C++.
 */
#ifndef XIPC_H
#define XIPC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

#define XIPC_VERSION_MAJOR 0
#define XIPC_VERSION_MINOR 1
#define XIPC_VERSION_PATCH 0

/* "MAJOR.MINOR.PATCH" of the library that is linked (not of this header). */
const char *xipc_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* XX(name, value, message). Values are stable ABI: only append. */
#define XIPC_ERRNO_MAP(XX)                                                    \
  XX(EINVAL, -1, "invalid argument")                                          \
  XX(ENOENT, -2, "no such object")                                            \
  XX(EEXIST, -3, "object already exists")                                     \
  XX(EACCES, -4, "permission denied")                                         \
  XX(ENOMEM, -5, "not enough memory")                                         \
  XX(ENOSPC, -6, "no space left or capacity exhausted")                       \
  XX(ERANGE, -7, "value out of range")                                        \
  XX(EAGAIN, -8, "resource temporarily unavailable")                          \
  XX(ETIMEDOUT, -9, "timed out")                                              \
  XX(ENOTSUP, -10, "operation not supported on this platform or object")      \
  XX(EBUSY, -11, "resource busy")                                             \
  XX(ESRCH, -12, "no such process")                                           \
  XX(EMSGSIZE, -13, "message too long")                                       \
  XX(ECLOSED, -14, "object has been shut down or closed")                     \
  XX(EOWNERDEAD, -15, "previous owner died")                                  \
  XX(ECORRUPT, -16, "shared state is corrupted")                              \
  XX(ENAMETOOLONG, -17, "name too long")                                      \
  XX(EIO, -18, "input/output error")                                          \
  XX(ENOTRECOVERABLE, -19, "state not recoverable")                           \
  XX(EPERM, -20, "operation not permitted")                                   \
  XX(EINTR, -21, "interrupted")                                               \
  XX(EUNKNOWN, -22, "unknown system error")

typedef enum {
#define XIPC__ERR_ENUM(name, value, msg) XIPC_##name = (value),
  XIPC_ERRNO_MAP(XIPC__ERR_ENUM)
#undef XIPC__ERR_ENUM
  XIPC__ERR_LAST = -23
} xipc_errno_t;

/* Human-readable message for an XIPC_E* code ("invalid argument").
 * Never NULL: unknown codes give "unknown error", 0 gives "success". */
const char *xipc_strerror(int err);

/* Symbolic name of an XIPC_E* code ("XIPC_EINVAL"). Never NULL: unknown codes
 * give "XIPC_E?" and 0 gives "XIPC_OK". */
const char *xipc_err_name(int err);

/* Raw errno (POSIX) or GetLastError() (Windows) value of this thread's last
 * xipc call that failed because of the operating system; 0 if the last
 * failure was detected by xipc itself (bad argument, corrupted state). */
int xipc_last_system_error(void);

/* ------------------------------------------------------------------------ */
/* Names and open flags                                                     */
/* ------------------------------------------------------------------------ */

/* Longest portable name, chosen so that every derived OS name (with
 * xipc's private suffixes, "/" for shm_open, "Local\\" on Windows) stays
 * within the tightest OS limit. */
#define XIPC_NAME_MAX 200

enum {
  XIPC_CREATE = 1u << 0, /* create the object if it does not exist */
  XIPC_EXCL = 1u << 1    /* with XIPC_CREATE: fail with XIPC_EEXIST if it does */
};

/* 0 if name is a valid portable name; XIPC_EINVAL or XIPC_ENAMETOOLONG. */
int xipc_name_check(const char *name);

/* ------------------------------------------------------------------------ */
/* Mapping (Python mmap in C)                                               */
/* ------------------------------------------------------------------------ */

typedef struct xipc_map xipc_map;
enum { XIPC_ACCESS_READ = 1, XIPC_ACCESS_WRITE = 2, XIPC_ACCESS_COPY = 3 };
enum { XIPC_SEEK_SET = 0, XIPC_SEEK_CUR = 1, XIPC_SEEK_END = 2 };

int xipc_map_named(xipc_map **out, const char *name, size_t length,
                   int access, unsigned flags);
int xipc_map_file(xipc_map **out, const char *path, size_t length,
                  uint64_t offset, int access);
int xipc_map_anonymous(xipc_map **out, size_t length);
int xipc_map_close(xipc_map *m);
int xipc_map_unlink(const char *name);
void *xipc_map_data(xipc_map *m);
size_t xipc_map_size(const xipc_map *m);
size_t xipc_map_granularity(void);

int xipc_map_read(xipc_map *m, void *buf, size_t n, size_t *nread);
int xipc_map_read_byte(xipc_map *m, int *byte);
int xipc_map_readline(xipc_map *m, void *buf, size_t cap, size_t *len);
int xipc_map_write(xipc_map *m, const void *buf, size_t n);
int xipc_map_write_byte(xipc_map *m, int byte);
int xipc_map_seek(xipc_map *m, int64_t offset, int whence);
size_t xipc_map_tell(const xipc_map *m);
int xipc_map_find(const xipc_map *m, const void *needle, size_t n,
                  int64_t start, int64_t end, int64_t *pos);
int xipc_map_rfind(const xipc_map *m, const void *needle, size_t n,
                   int64_t start, int64_t end, int64_t *pos);
int xipc_map_move(xipc_map *m, size_t dest, size_t src, size_t count);
int xipc_map_flush(xipc_map *m, size_t offset, size_t size);
int xipc_map_resize(xipc_map *m, size_t new_size);
int xipc_map_get(const xipc_map *m, size_t start, size_t stop, void *out);
int xipc_map_set(xipc_map *m, size_t start, const void *src, size_t n);

/* ------------------------------------------------------------------------ */
/* Signals (POSIX signals / Windows console events and xipc channels)       */
/* ------------------------------------------------------------------------ */

/*
 * Model. Handlers never run in async-signal context: xipc starts one
 * dispatcher thread per process on first use (xipc_signal_handle, a wait,
 * xipc_alarm), and every handler runs on it, one at a time, so a handler
 * may lock, allocate and call any xipc function. Each signal has one
 * disposition: default (the initial state), ignored, or a handler. A
 * signal that reaches the process goes
 *   1. to a thread blocked in xipc_signal_wait for it, if there is one
 *      (exactly one such thread takes it, and no handler runs), else
 *   2. to its handler, else
 *   3. nowhere if it is ignored, else
 *   4. to its default action: the process terminates and a parent's
 *      xipc_proc_wait reports {exited = 0, signal = sig}.
 * Coalescing: signals of the same number that arrive while one of them is
 * still pending (not yet taken by the dispatcher) coalesce into one, as
 * POSIX does for standard signals. A burst of N sends runs the handler
 * between 1 and N times, never 0. Different signals are not merged.
 *
 * POSIX: the XIPC_SIG* numbers are SIGINT, SIGTERM, SIGKILL, SIGALRM,
 * SIGUSR1, SIGUSR2, SIGHUP, and XIPC_SIGBREAK is SIGQUIT (Ctrl+\, the
 * nearest to Ctrl+Break; its default action may dump core). xipc installs a
 * sigaction() catcher (SA_RESTART; it writes to an O_CLOEXEC self-pipe)
 * while a signal is handled or waited for, SIG_IGN while it is ignored and
 * SIG_DFL otherwise, so real signals from other programs (kill -USR1,
 * Python's os.kill) reach xipc handlers. The catcher runs on whatever
 * thread the kernel picks: system calls there that SA_RESTART does not
 * restart (poll, nanosleep, ...) may fail with EINTR. xipc assumes it owns
 * the dispositions of these signals; other signals are untouched. Child
 * processes spawned by xipc_proc_spawn start with all signals at default.
 * A child made by fork() without exec keeps the handlers and gets its own
 * self-pipe and dispatcher; waiters and a pending alarm are not inherited.
 *
 * Windows: console control events are mapped by a SetConsoleCtrlHandler
 * routine into the same dispatcher: CTRL_C_EVENT -> XIPC_SIGINT,
 * CTRL_BREAK_EVENT -> XIPC_SIGBREAK, CTRL_CLOSE_EVENT -> XIPC_SIGHUP,
 * CTRL_LOGOFF_EVENT and CTRL_SHUTDOWN_EVENT -> XIPC_SIGTERM. For CLOSE,
 * LOGOFF and SHUTDOWN Windows ends the process once the routine returns
 * (after about 5 s for CLOSE, whatever happens): xipc waits up to 4.5 s for
 * the handler, then lets Windows proceed. Other processes reach a process
 * through its channels: while a process handles or waits for sig, it owns
 * the auto-reset named event "Local\xipc.sig.<pid>.<sig>" (sig is the
 * XIPC_SIG* number, default DACL, not inheritable), and while it ignores
 * sig, the event "Local\xipc.sigign.<pid>.<sig>". Any program may signal an
 * xipc process by setting its channel event. Before xipc starts, Windows'
 * own console default applies (Ctrl+C and Ctrl+Break end the process with
 * STATUS_CONTROL_C_EXIT, reported as XIPC_SIGINT).
 */
enum {
  XIPC_SIGINT = 1,
  XIPC_SIGTERM,
  XIPC_SIGKILL,
  XIPC_SIGALRM,
  XIPC_SIGUSR1,
  XIPC_SIGUSR2,
  XIPC_SIGHUP,
  XIPC_SIGBREAK
};
/* A handler: runs on the dispatcher thread with the signal's number. */
typedef void (*xipc_signal_cb)(int sig, void *arg);
typedef long long xipc_pid;

/* Installs cb (called as cb(sig, arg)) as sig's handler, replacing any
 * disposition. When another thread calls it while sig's old handler runs,
 * it returns after that handler has returned, so the old arg is no longer
 * in use. XIPC_EINVAL: sig unknown or XIPC_SIGKILL, or cb NULL. May fail
 * with an OS error when the dispatcher or a channel cannot be created
 * (XIPC_ENOMEM, XIPC_ENOSPC, XIPC_EACCES). */
int xipc_signal_handle(int sig, xipc_signal_cb cb, void *arg);

/* Ignores sig: it is discarded when it arrives (unless a thread waits for
 * it), and xipc_signal_send from another process leaves this process
 * alone. XIPC_EINVAL: sig unknown or XIPC_SIGKILL. */
int xipc_signal_ignore(int sig);

/* Restores sig's default action (terminate). XIPC_SIGKILL is accepted and
 * changes nothing. XIPC_EINVAL: sig unknown. */
int xipc_signal_default(int sig);

/* Sends sig to process pid (which may be this process). POSIX: kill().
 * Windows: XIPC_SIGKILL is TerminateProcess with exit code
 * XIPC_WIN_SIGNAL_EXIT_BASE + XIPC_SIGKILL; any other signal sets the
 * target's channel event if it handles or waits for sig, does nothing if it
 * ignores sig, and otherwise carries out the default action from outside
 * (TerminateProcess with XIPC_WIN_SIGNAL_EXIT_BASE + sig, so the parent's
 * wait reports the signal). The target may be any process, xipc or not.
 * xipc does not send with GenerateConsoleCtrlEvent, which reaches every
 * process on a console, not one pid. The Windows checks are not atomic: a
 * target that starts handling sig while the send is in progress may still
 * be terminated. Returns once the signal is sent, not when it is handled.
 * XIPC_EINVAL: pid <= 0 or sig unknown. XIPC_ESRCH: no such process (also
 * one that has exited, even before its parent reaped it on Windows).
 * XIPC_EACCES: not permitted to signal it (POSIX EPERM). */
int xipc_signal_send(xipc_pid pid, int sig);

/* Delivers sig to the calling process, synchronously: with a handler it
 * returns after the handler has run (called from a handler, it only queues
 * sig, which is dispatched after the current handler returns); with a
 * waiter, after a waiter has been given sig; ignored, it does nothing;
 * otherwise (and always for XIPC_SIGKILL) the process terminates by sig
 * (Windows: TerminateProcess(self, XIPC_WIN_SIGNAL_EXIT_BASE + sig)).
 * XIPC_EINVAL: sig unknown. */
int xipc_signal_raise(int sig);

/* Waits until one of the n signals in sigs arrives and stores it in *got
 * (got may be NULL). While a thread waits for a signal, that signal goes
 * to a waiter whatever its disposition (see the model above); a signal that
 * arrives while nobody waits for it is handled, ignored or acted upon as
 * usual, and is not kept for a later wait. To wait for a signal without
 * risking its default action before the wait starts, ignore it (or handle
 * it) first. With timeout_ms == 0 only a signal already handed to waiters
 * and not yet taken is returned (so it is usually XIPC_EAGAIN).
 * XIPC_EINVAL: sigs NULL, n 0, a signal unknown or XIPC_SIGKILL, or
 * timeout_ms < -1. XIPC_EAGAIN / XIPC_ETIMEDOUT: nothing arrived.
 * XIPC_EBUSY: called from a handler (the dispatcher would wait for
 * itself). */
int xipc_signal_wait(const int *sigs, size_t n, int timeout_ms, int *got);

/* Delivers XIPC_SIGALRM to this process once, ms milliseconds from now
 * (never earlier, on a monotonic clock), through the dispatcher (on both
 * platforms; POSIX alarm() and its timer are not used). A new call replaces
 * a pending alarm; 0 cancels it. With no handler, no waiter and no ignore,
 * the alarm terminates the process by XIPC_SIGALRM, as on POSIX. Returns 0,
 * or an OS error if the dispatcher cannot be started. */
int xipc_alarm(unsigned ms);

/* "SIGINT", "SIGTERM", "SIGKILL", "SIGALRM", "SIGUSR1", "SIGUSR2",
 * "SIGHUP", "SIGBREAK"; "SIG?" for anything else. Never NULL. */
const char *xipc_signal_name(int sig);

/* ------------------------------------------------------------------------ */
/* Processes                                                                */
/* ------------------------------------------------------------------------ */

typedef struct xipc_proc xipc_proc;
enum { XIPC_STDIO_INHERIT = 0, XIPC_STDIO_NULL = 1 };
typedef struct {
  const char *const *env; /* NULL: inherit; else "K=V" list, NULL-ended */
  const char *cwd;        /* NULL: inherit */
  int stdin_mode, stdout_mode, stderr_mode;
} xipc_spawn_options;

/* How a child ended.
 *  exited = 1: the child exited by itself; exit_code is its status
 *              (0..255 on POSIX; the full 32-bit exit code on Windows,
 *              cast to int).
 *  exited = 0: the child was terminated by a signal; signal is its XIPC_SIG*
 *              number, or minus the native signal number for a POSIX signal
 *              xipc has no name for (SIGSEGV gives -11).
 * Windows has no signals. A process that xipc terminates on behalf of a
 * signal (xipc_proc_kill, xipc_signal_send, a signal's default action) exits
 * with the code XIPC_WIN_SIGNAL_EXIT_BASE + sig, which xipc_proc_wait
 * reports as {exited = 0, signal = sig}. STATUS_CONTROL_C_EXIT (0xC000013A,
 * what Windows uses for a process ended by Ctrl+C) is reported as
 * XIPC_SIGINT. A program that calls exit() with one of these codes itself is
 * reported as signalled too. */
typedef struct {
  int exited;
  int exit_code;
  int signal;
} xipc_exit_status;
#define XIPC_WIN_SIGNAL_EXIT_BASE 0x58495000u

/* Starts argv[0] with arguments argv (NULL-ended, UTF-8). A program name
 * without a directory separator is searched on PATH. opts may be NULL
 * (inherit environment, directory and stdio).
 * The child inherits no handles or descriptors of the parent except its
 * three stdio streams; on POSIX it starts with every signal at its default
 * action and none blocked.
 * Errors: XIPC_EINVAL (NULL out/argv, empty argv or argv[0], a bad stdio
 * mode, invalid UTF-8 on Windows, an env entry without '='), XIPC_ENOENT
 * (program or cwd not found), XIPC_EACCES (not executable), XIPC_ENOMEM,
 * XIPC_ENOSPC (process or descriptor limits).
 * Windows: the command line is quoted so that CommandLineToArgvW and the
 * MSVCRT/UCRT/MinGW start-up code give the child exactly argv; argv[0] may
 * not contain '"' (XIPC_EINVAL). PATH search is CreateProcess's (the
 * application directory, the current directory, the system directories,
 * then PATH; ".exe" is appended when missing). */
int xipc_proc_spawn(xipc_proc **out, const char *const argv[],
                    const xipc_spawn_options *opts);

/* The child's process id, or -1 for NULL. */
xipc_pid xipc_proc_pid(const xipc_proc *p);

/* The calling process's id. */
xipc_pid xipc_self_pid(void);

/* Waits for the child to end and stores how it ended in *st (st may be
 * NULL). timeout_ms: -1 forever, 0 polls, > 0 at most that long. Waiting
 * again after success returns the same status.
 * Errors: XIPC_EINVAL (NULL p, timeout_ms < -1), XIPC_EAGAIN (timeout 0 and
 * still running), XIPC_ETIMEDOUT (still running after timeout_ms). */
int xipc_proc_wait(xipc_proc *p, int timeout_ms, xipc_exit_status *st);

/* Terminates the child at once: SIGKILL on POSIX; on Windows
 * TerminateProcess with exit code XIPC_WIN_SIGNAL_EXIT_BASE + XIPC_SIGKILL,
 * so both report {exited = 0, signal = XIPC_SIGKILL}. A child that has
 * already ended is left alone and the call succeeds. Unlike
 * xipc_signal_send it acts on the handle, so a reused pid is never hit.
 * Errors: XIPC_EINVAL (NULL p), XIPC_EACCES/XIPC_EPERM from the OS. */
int xipc_proc_kill(xipc_proc *p);

/* Releases the handle. A child that is still running is not stopped; on
 * POSIX xipc reaps it in the background when it exits, so it never stays
 * a zombie. Errors: XIPC_EINVAL (NULL p). */
int xipc_proc_close(xipc_proc *p);

/* Writes the path of the running executable (UTF-8, NUL-terminated) to buf
 * and its length without the NUL to *len (len may be NULL).
 * Errors: XIPC_EINVAL (buf NULL with cap > 0), XIPC_ERANGE (cap too small;
 * *len still gets the length needed), OS errors. */
int xipc_exe_path(char *buf, size_t cap, size_t *len);

/* Gives main()'s arguments as UTF-8 in *out. POSIX: argv itself. Windows:
 * the wide command line parsed by CommandLineToArgvW and converted, because
 * the CRT's argv is in the ANSI code page and loses characters; the array
 * lives until the process exits. Pass main's argc and argv.
 * Errors: XIPC_EINVAL (argc < 0 or NULL pointers), XIPC_ENOMEM. */
int xipc_args_utf8(int argc, char **argv, char ***out);

/* ------------------------------------------------------------------------ */
/* Queue (multiprocessing.Queue across unrelated processes)                 */
/* ------------------------------------------------------------------------ */

typedef struct xipc_queue xipc_queue;
typedef struct {
  size_t capacity;
  size_t max_message;
} xipc_queue_options;

int xipc_queue_open(xipc_queue **out, const char *name,
                    const xipc_queue_options *opts, unsigned flags);
int xipc_queue_put(xipc_queue *q, const void *msg, size_t len, int timeout_ms);
int xipc_queue_get(xipc_queue *q, void *buf, size_t cap, size_t *len,
                   int timeout_ms);
int xipc_queue_count(xipc_queue *q, size_t *count);
int xipc_queue_shutdown(xipc_queue *q);
int xipc_queue_close(xipc_queue *q);
int xipc_queue_unlink(const char *name);

/* ------------------------------------------------------------------------ */
/* Semaphores and mutexes                                                   */
/* ------------------------------------------------------------------------ */

typedef struct xipc_sem xipc_sem;
typedef struct xipc_mutex xipc_mutex;

int xipc_sem_open(xipc_sem **out, const char *name, unsigned initial,
                  unsigned flags);
int xipc_sem_wait(xipc_sem *s, int timeout_ms);
int xipc_sem_post(xipc_sem *s);
int xipc_sem_close(xipc_sem *s);
int xipc_sem_unlink(const char *name);

int xipc_mutex_open(xipc_mutex **out, const char *name, unsigned flags);
int xipc_mutex_lock(xipc_mutex *m, int timeout_ms);
int xipc_mutex_consistent(xipc_mutex *m);
int xipc_mutex_unlock(xipc_mutex *m);
int xipc_mutex_close(xipc_mutex *m);
int xipc_mutex_unlink(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* XIPC_H */
