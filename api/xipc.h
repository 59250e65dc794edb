/*
 * xipc — one API for inter-process communication on Windows and Linux.
 *
 * Conventions (see README.md for a tour):
 *  - Every fallible function returns int: 0 on success or a negative XIPC_E*
 *    code. Outputs go through pointer arguments.
 *  - timeout_ms: -1 waits forever, 0 never blocks (XIPC_EAGAIN when it
 *    would), > 0 waits at most that long (XIPC_ETIMEDOUT, never before
 *    timeout_ms have passed). Timeouts are measured on a monotonic clock.
 *  - Names of shared objects are "portable names": 1 to XIPC_NAME_MAX
 *    characters from [A-Za-z0-9._-], not starting with '.'. Anything else is
 *    XIPC_EINVAL; characters are checked first, so XIPC_ENAMETOOLONG means
 *    a name of valid characters that is only too long.
 *  - Every function that creates a handle in *out sets *out to NULL when it
 *    fails (when out itself is not NULL).
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
  XX(EUNKNOWN, -22, "unknown system error")                                  \
  XX(EPIPE, -23, "the other end is closed")

typedef enum {
#define XIPC__ERR_ENUM(name, value, msg) XIPC_##name = (value),
  XIPC_ERRNO_MAP(XIPC__ERR_ENUM)
#undef XIPC__ERR_ENUM
  XIPC__ERR_LAST = -24
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
  XIPC_EXCL = 1u << 1,   /* with XIPC_CREATE: fail with XIPC_EEXIST if it does */
  /* Accept an existing object that belongs to another user. Without it,
   * every open of an existing named object (mapping, semaphore, mutex,
   * queue) refuses, with XIPC_EACCES, one that another user planted at the
   * name: POSIX checks that the owner is the effective user (root
   * included) and that group and others have no write permission beyond
   * the mode the caller asked for (0600 unless xipc_map_options.mode says
   * otherwise); Windows checks that the owner SID of each kernel object is
   * the token's user (or the token's default owner; an object without any
   * owner, which is what Wine gives objects made with default security,
   * passes). Even with this flag, xipc never removes an object of another
   * user. */
  XIPC_ANY_OWNER = 1u << 2
};

/* 0 if name is a valid portable name; XIPC_EINVAL or XIPC_ENAMETOOLONG. */
int xipc_name_check(const char *name);

/* ------------------------------------------------------------------------ */
/* Mapping (Python mmap in C)                                               */
/* ------------------------------------------------------------------------ */

/* A mapping is a block of memory with a cursor, like Python's mmap object:
 * named shared memory, a file (or part of one), or anonymous memory. The
 * cursor functions below behave like CPython's mmap methods byte for byte.
 *
 * Lifetime of named mappings, the same on both platforms: a named mapping
 * lives while any xipc handle to it is open, in any process, and is gone
 * after the last xipc_map_close. A process that dies (even killed) counts as
 * having closed its handles. Windows does this natively. On POSIX every
 * xipc handle holds flock(LOCK_SH) on its descriptor and the last closer
 * (the one that gets LOCK_EX) calls shm_unlink; an object left without
 * holders by a crash is removed by the next xipc open of that name, or by
 * xipc_map_sweep().
 * xipc only ever removes objects that xipc created for the calling user:
 * at creation (atomically, before the name appears) it marks them with the
 * S_ISVTX mode bit and the extended attribute "user.xipc" (a magic and the
 * object's inode number), and only an object with both, owned by the
 * caller, with no flock holder and mapped by no process whose
 * /proc/<pid>/maps the caller can read, is removed by an open, a close or
 * xipc_map_sweep. (On kernels before Linux 6.6, whose tmpfs has no user
 * xattrs, the mode bit is the whole mark.) An object made by another
 * program (Python's SharedMemory, shm_open) is never removed by a close,
 * only by an explicit xipc_map_unlink. A program that opens an xipc object
 * by name without xipc and maps it keeps it from being reclaimed, but not
 * from being removed by the last xipc close.
 *
 * What an open accepts at a name: only a shared memory object (POSIX: a
 * regular file in /dev/shm, opened without following symlinks and without
 * blocking; a symlink, FIFO, directory or device there is XIPC_EACCES at
 * once), owned by the caller unless XIPC_ANY_OWNER (see there).
 *
 * Names: "<name>" maps to shm_open("/<name>") on POSIX and to the kernel
 * object "<name>" (Local namespace) on Windows, so Python's
 * multiprocessing.shared_memory.SharedMemory(name=...) and, on Windows,
 * mmap.mmap(-1, n, tagname=...) see the same memory. On Windows xipc also
 * keeps the creator's exact size in a one-page section "<name>.xmsz" that
 * lives as long as the mapping, so that name is taken while it exists.
 * POSIX objects are created atomically (O_TMPFILE in /dev/shm, then
 * linkat), so an opener never sees one before it has its full size.
 *
 * Handles are for one thread at a time (the cursor is not locked), are not
 * inherited by child processes and must not be used in both halves of a
 * fork(). */
typedef struct xipc_map xipc_map;
enum { XIPC_ACCESS_READ = 1, XIPC_ACCESS_WRITE = 2, XIPC_ACCESS_COPY = 3 };
enum { XIPC_SEEK_SET = 0, XIPC_SEEK_CUR = 1, XIPC_SEEK_END = 2 };

/* Extra flags for xipc_map_named_ex() and xipc_map_file_ex(). */
enum {
  /* Named: the object outlives its last close and stays until
   * xipc_map_unlink() (POSIX only: XIPC_ENOTSUP on Windows, where kernel
   * objects always die with their last handle). */
  XIPC_MAP_PERSIST = 1u << 8,
  /* File: grow the file with zeros to offset + length if it is shorter, so
   * callers need not write length bytes first. */
  XIPC_MAP_EXTEND = 1u << 9
};

/* Namespace of named mappings on Windows. Local: the session ("Local\\",
 * what a bare name means). Global: every session ("Global\\"; creating
 * needs SeCreateGlobalPrivilege). POSIX has one namespace per machine (per
 * IPC namespace) and accepts both values with the same meaning. */
enum { XIPC_MAP_NS_LOCAL = 0, XIPC_MAP_NS_GLOBAL = 1 };

typedef struct {
  /* POSIX permission bits (0777 mask) of a created object or file; 0 means
   * owner-only 0600. For named objects it is also what an open of an
   * existing object accepts: group or other write permission on the object
   * that this mode does not grant is XIPC_EACCES (unless XIPC_ANY_OWNER).
   * Windows ignores it: objects and files get the default DACL of the
   * creator's token (the owner, SYSTEM and administrators).
   * POSIX note: /dev/shm is a sticky directory, so when the last closer of
   * a shared object is another user it cannot remove the name; the owner's
   * next open of the name or xipc_map_sweep() does. */
  unsigned mode;
  int ns; /* XIPC_MAP_NS_LOCAL (default, 0) or XIPC_MAP_NS_GLOBAL */
} xipc_map_options;

/* Maps the named shared memory object `name` (a portable name) with access
 * READ, WRITE or COPY (private copy-on-write view of the shared object).
 * flags: XIPC_CREATE creates the object with `length` zero bytes if it does
 * not exist; with XIPC_EXCL it must not exist. Without XIPC_CREATE the
 * object must exist. length 0 opens an existing object at its full size;
 * without XIPC_CREATE, length > 0 on an existing object maps its first
 * `length` bytes. Existence wins over size, on both platforms: with
 * XIPC_CREATE, length only sizes a new object, and an existing one is
 * mapped at its own full size, smaller or larger (xipc_map_created() is 0;
 * check xipc_map_size()); with XIPC_CREATE|XIPC_EXCL an existing object
 * of any size is XIPC_EEXIST. XIPC_ANY_OWNER: see there.
 * xipc_map_size() is the creator's exact length on both platforms.
 * Errors: XIPC_EINVAL (NULL out, bad name, bad access or flags, CREATE
 * with length 0, length > PTRDIFF_MAX, existing object of size 0),
 * XIPC_ENAMETOOLONG, XIPC_ENOENT (missing and no CREATE), XIPC_EEXIST
 * (CREATE|EXCL and it exists), XIPC_ERANGE (without CREATE: length larger
 * than the existing object), XIPC_EACCES (permissions; the object belongs
 * to another user or is writable by others, without XIPC_ANY_OWNER; the
 * name holds a symlink, FIFO, directory or other non-object),
 * XIPC_ENOMEM / XIPC_ENOSPC,
 * XIPC_ECORRUPT (Windows: the size record beside the object is invalid),
 * XIPC_EAGAIN (POSIX: the name was removed and re-created under the
 * caller 64 times in a row). */
int xipc_map_named(xipc_map **out, const char *name, size_t length,
                   int access, unsigned flags);

/* xipc_map_named() with XIPC_MAP_PERSIST allowed in flags (with
 * XIPC_CREATE) and options (opts may be NULL). A persistent object is not
 * marked as xipc's: no close removes it, only xipc_map_unlink (like an
 * object from another program). XIPC_MAP_PERSIST on Windows: XIPC_ENOTSUP.
 * Errors: as xipc_map_named, and XIPC_EINVAL for bad options (mode bits
 * outside 0777, unknown ns). */
int xipc_map_named_ex(xipc_map **out, const char *name, size_t length,
                      int access, unsigned flags, const xipc_map_options *opts);

/* Maps `length` bytes of the file at `path` (UTF-8) from byte `offset`
 * with access READ, WRITE or COPY (changes stay private, never reach the
 * file). length 0 maps to the end of the file. Any offset is accepted: the
 * alignment to xipc_map_granularity() is done inside.
 * Errors, with Python's messages: XIPC_EINVAL (NULL, empty path, bad
 * access, length > PTRDIFF_MAX; an empty file with length 0: "cannot mmap
 * an empty file"), XIPC_ERANGE (offset + length past the end of the file:
 * "mmap length is greater than file size"; with length 0 an offset at or
 * past the end: "mmap offset is greater than file size"), XIPC_ENOENT,
 * XIPC_EACCES (permissions; also a directory, on both platforms),
 * XIPC_ENOMEM. */
int xipc_map_file(xipc_map **out, const char *path, size_t length,
                  uint64_t offset, int access);

/* xipc_map_file() with flags: XIPC_CREATE creates a missing file (mode
 * from opts, 0600 by default; needs WRITE access), XIPC_EXCL with it fails
 * with XIPC_EEXIST on an existing file, XIPC_MAP_EXTEND grows the file to
 * offset + length (needs WRITE access and length > 0). opts may be NULL. */
int xipc_map_file_ex(xipc_map **out, const char *path, size_t length,
                     uint64_t offset, int access, unsigned flags,
                     const xipc_map_options *opts);

/* Private anonymous read-write memory of `length` zero bytes with the
 * cursor API. Errors: XIPC_EINVAL (NULL out, length 0 or > PTRDIFF_MAX),
 * XIPC_ENOMEM (also a length the address space cannot hold). */
int xipc_map_anonymous(xipc_map **out, size_t length);

/* Unmaps and releases the handle (NULL: XIPC_EINVAL). Does not flush file
 * mappings to disk (the OS writes them back later; use xipc_map_flush for
 * durability). For a named mapping this may be the last close, which
 * removes the object (see the lifetime rule above). */
int xipc_map_close(xipc_map *m);

/* Removes the name of a named mapping early. POSIX: shm_unlink; open
 * handles keep working, new opens without CREATE get XIPC_ENOENT, and a new
 * CREATE makes a different object. Works on objects from other programs too.
 * Windows cannot remove a kernel object's name: returns XIPC_ENOTSUP if the
 * object exists (it goes away after its last handle closes) and XIPC_ENOENT
 * if it does not. Errors: XIPC_EINVAL / XIPC_ENAMETOOLONG (bad name),
 * XIPC_ENOENT, XIPC_EACCES, XIPC_ENOTSUP (Windows). */
int xipc_map_unlink(const char *name);

/* Removes every named mapping that xipc created for this user and that
 * no process holds any more (its last holders crashed), and sets *removed
 * (may be NULL) to their count. "Created by xipc" is the mark described
 * above (mode bit and user.xipc attribute), not the mode bit alone; an
 * object that a process still maps is kept (see the lifetime rule). Such objects are otherwise removed lazily,
 * by the next xipc open of their name. POSIX only does work: Windows frees
 * them with the last handle (*removed is 0). Errors: XIPC_EACCES /
 * XIPC_ENOENT (the shm directory cannot be read). */
int xipc_map_sweep(size_t *removed);

/* First byte of the mapping (NULL for a NULL handle). Stays valid until
 * xipc_map_resize() or xipc_map_close(). */
void *xipc_map_data(xipc_map *m);

/* Bytes in the mapping (0 for a NULL handle). For a named mapping: the
 * creator's exact length on both platforms. Windows fallback for objects
 * that xipc did not create (no xipc metadata beside them): the size rounded
 * up to the page, as Windows reports it. */
size_t xipc_map_size(const xipc_map *m);

/* Offset alignment the OS needs for file views: the page size on POSIX,
 * the allocation granularity (64 KiB) on Windows. Informational: xipc
 * accepts any offset. */
size_t xipc_map_granularity(void);

/* 1 if this handle created its named object, 0 if it opened an existing
 * one or is not a named mapping (or is NULL). Useful to decide who
 * initialises shared state; the new object is always zero-filled. */
int xipc_map_created(const xipc_map *m);

/* Reads up to n bytes from the cursor into buf and advances the cursor;
 * stops at the end (*nread 0 at the end). nread may be NULL. n = SIZE_MAX
 * reads the rest. Errors: XIPC_EINVAL (NULL m, NULL buf with n > 0). */
int xipc_map_read(xipc_map *m, void *buf, size_t n, size_t *nread);

/* Reads one byte (0..255) at the cursor and advances it.
 * Errors: XIPC_EINVAL (NULL), XIPC_ERANGE (cursor at the end). */
int xipc_map_read_byte(xipc_map *m, int *byte);

/* Copies from the cursor up to and including the next '\n', at most cap
 * bytes (like fgets, but with no terminating NUL), and advances the cursor
 * past them; *len is the count (0 at the end, as Python returns b"").
 * Errors: XIPC_EINVAL (NULL m or len, NULL buf with cap > 0). */
int xipc_map_readline(xipc_map *m, void *buf, size_t cap, size_t *len);

/* Writes n bytes at the cursor and advances it. Writes nothing if the bytes
 * do not fit before the end. Errors: XIPC_EINVAL (NULL m, NULL buf with
 * n > 0), XIPC_EACCES (READ mapping), XIPC_ERANGE (past the end). */
int xipc_map_write(xipc_map *m, const void *buf, size_t n);

/* Writes one byte (0..255) at the cursor and advances it. Errors:
 * XIPC_EINVAL (NULL, byte outside 0..255), XIPC_EACCES, XIPC_ERANGE. */
int xipc_map_write_byte(xipc_map *m, int byte);

/* Moves the cursor to offset relative to the start, the cursor or the end
 * (XIPC_SEEK_*). Errors: XIPC_EINVAL (NULL, bad whence), XIPC_ERANGE (the
 * new position is outside [0, size]; the cursor does not move). */
int xipc_map_seek(xipc_map *m, int64_t offset, int whence);

/* The cursor (0 for a NULL handle). */
size_t xipc_map_tell(const xipc_map *m);

/* Lowest index of needle in the slice [start:end] with Python's slice
 * rules (negative counts from the end, values are clamped to [0, size];
 * INT64_MAX means the end), or -1 in *pos. An empty needle is found at the
 * clamped start if start <= end. Errors: XIPC_EINVAL (NULL m or pos, NULL
 * needle with n > 0). */
int xipc_map_find(const xipc_map *m, const void *needle, size_t n,
                  int64_t start, int64_t end, int64_t *pos);

/* Highest index of needle in the slice [start:end], as xipc_map_find. An
 * empty needle is found at the clamped end if start <= end. */
int xipc_map_rfind(const xipc_map *m, const void *needle, size_t n,
                   int64_t start, int64_t end, int64_t *pos);

/* memmove of count bytes from src to dest inside the mapping (overlap is
 * fine). Errors: XIPC_EINVAL (NULL), XIPC_EACCES (READ mapping),
 * XIPC_ERANGE (either range leaves the mapping). */
int xipc_map_move(xipc_map *m, size_t dest, size_t src, size_t count);

/* Writes [offset, offset + size) back to the file (size 0: to the end),
 * like msync(MS_SYNC) / FlushViewOfFile + FlushFileBuffers. Any offset is
 * accepted. A no-op that returns 0 for READ and COPY mappings, as in
 * Python. Errors: XIPC_EINVAL (NULL), XIPC_ERANGE (the range leaves the
 * mapping), XIPC_EIO. */
int xipc_map_flush(xipc_map *m, size_t offset, size_t size);

/* Changes the size of a file-backed mapping (the file is truncated or
 * extended to offset + new_size) or of an anonymous mapping (contents kept
 * up to the smaller size). The data pointer may change; the cursor is
 * clamped to the new size. Named mappings: XIPC_ENOTSUP on both platforms,
 * because other processes could not follow the change. Errors: XIPC_EINVAL
 * (NULL, new_size 0 or > PTRDIFF_MAX), XIPC_EACCES (READ or COPY
 * mapping, as Python), XIPC_ENOTSUP (named), XIPC_ENOMEM (the memory or
 * address space for new_size is not available, e.g. PTRDIFF_MAX), and for
 * files XIPC_ERANGE (the file cannot be that large). */
int xipc_map_resize(xipc_map *m, size_t new_size);

/* Copies the slice [start, stop) into out; does not move the cursor.
 * Errors: XIPC_EINVAL (NULL m, NULL out with stop > start), XIPC_ERANGE
 * (stop < start or stop > size). */
int xipc_map_get(const xipc_map *m, size_t start, size_t stop, void *out);

/* Copies n bytes from src to [start, start + n); does not move the cursor.
 * Errors: XIPC_EINVAL (NULL m, NULL src with n > 0), XIPC_EACCES (READ
 * mapping), XIPC_ERANGE (past the end). */
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
 * changes nothing. XIPC_EINVAL: sig unknown.
 * Windows: this and xipc_signal_ignore remove sig's channel; called from
 * another thread while a handler runs, they return once that handler has
 * returned (the dispatcher must let go of the channel first). */
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
typedef struct xipc_stream xipc_stream; /* see "Streams" below */

/* What each of a child's stdin, stdout and stderr is connected to.
 *  INHERIT  the parent's own stream (the default, 0).
 *  NULL     the null device (/dev/null, NUL).
 *  PIPE     a new pipe; the parent's end is xipc_proc_stdin/stdout/stderr(p),
 *           owned by the proc handle. The child's end is a plain blocking
 *           pipe (Windows: a synchronous handle), as programs expect.
 *  STREAM   the stream given in stdin_stream/stdout_stream/stderr_stream
 *           (for example one end of an xipc_pipe shared by two children:
 *           a shell pipeline a | b; make it with xipc_pipe_ex and
 *           XIPC_PIPE_CHILD_READ/WRITE so that Windows opens it for plain
 *           blocking I/O). The parent keeps its stream; close it after the
 *           spawn if the reader is to see end of stream once the children
 *           are done.
 *  FILE     the file at stdin_path/stdout_path/stderr_path (UTF-8; relative
 *           to the parent's current directory, not opts->cwd), opened by the
 *           parent before the child starts: stdin reads it; stdout/stderr
 *           create it (POSIX mode 0600, Windows the creator's default DACL)
 *           or truncate it, or append with XIPC_SPAWN_STDOUT_APPEND /
 *           XIPC_SPAWN_STDERR_APPEND.
 *  STDOUT   stderr only: the same as the child's stdout (2>&1), whatever
 *           stdout is. */
enum {
  XIPC_STDIO_INHERIT = 0,
  XIPC_STDIO_NULL = 1,
  XIPC_STDIO_PIPE = 2,
  XIPC_STDIO_STREAM = 3,
  XIPC_STDIO_FILE = 4,
  XIPC_STDIO_STDOUT = 5
};

/* xipc_spawn_options.flags */
enum {
  /* The child gets a process group of its own, so a Ctrl+C at the parent's
   * terminal does not reach it. POSIX: it leads a new process group
   * (posix_spawnattr_setpgroup(0)), so SIGINT/SIGQUIT for the terminal's
   * foreground group (or kill(0, ...)) skip it; its own children join its
   * group. Windows: CREATE_NEW_PROCESS_GROUP, which also starts it with
   * Ctrl+C ignored (Windows sends console events to every process on the
   * console; that flag is what keeps Ctrl+C away); Ctrl+Break still
   * reaches it, and a program may turn Ctrl+C back on with
   * SetConsoleCtrlHandler(NULL, FALSE). Wine 8 behaves the same. */
  XIPC_SPAWN_NEW_GROUP = 1u << 0,
  XIPC_SPAWN_STDOUT_APPEND = 1u << 1, /* FILE stdout: append, not truncate */
  XIPC_SPAWN_STDERR_APPEND = 1u << 2  /* FILE stderr: append, not truncate */
};

/* Zero-initialise and set what you need: all-zero is "inherit everything". */
typedef struct {
  const char *const *env; /* NULL: inherit; else "K=V" list, NULL-ended */
  const char *cwd;        /* NULL: inherit */
  int stdin_mode, stdout_mode, stderr_mode; /* XIPC_STDIO_* */
  /* For XIPC_STDIO_STREAM. */
  xipc_stream *stdin_stream, *stdout_stream, *stderr_stream;
  /* For XIPC_STDIO_FILE (UTF-8 paths). */
  const char *stdin_path, *stdout_path, *stderr_path;
  unsigned flags; /* XIPC_SPAWN_* */
  /* Further streams the child inherits (npass of them; a stream listed
   * twice is passed once). Nothing else is inherited. The child finds each
   * under the same descriptor number / handle value, and gets it with
   * xipc_stream_import() from the token that xipc_stream_export() gave the
   * parent. POSIX: a passed descriptor cannot be 0, 1 or 2 (those are the
   * child's stdio; it only happens when the parent closed its own stdio).
   * Windows: each passed handle is made inheritable for the spawn and then
   * restored; spawns that pass streams run one at a time. */
  xipc_stream *const *pass;
  size_t npass;
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
 * (inherit environment, directory and stdio). *out is NULL on failure, and
 * then no child was started.
 * The child inherits no handles or descriptors of the parent except its
 * three stdio streams and opts->pass, on both platforms: POSIX closes
 * every other descriptor in the child, also those the program opened
 * without O_CLOEXEC (posix_spawn close actions: close_range above the
 * highest passed descriptor, and the open descriptors below it one by one;
 * one that another thread opens without O_CLOEXEC during that spawn, below
 * a passed descriptor, can slip through). Windows lists the handles in
 * PROC_THREAD_ATTRIBUTE_HANDLE_LIST; the stdio handles are inheritable
 * duplicates that exist only during the spawn, and passed handles are
 * inheritable only during the spawn, so a CreateProcess elsewhere in the
 * program that inherits handles without a handle list could pick them up
 * meanwhile (xipc's own spawns always use a list).
 * On POSIX the child starts with every signal at its default action and
 * none blocked.
 * Errors: XIPC_EINVAL (NULL out/argv, empty argv or argv[0], a bad stdio
 * mode, STREAM with a NULL stream, FILE with a NULL or empty path, STDOUT
 * for stdin or stdout, unknown flags, an APPEND flag without FILE for that
 * stream, npass > 0 with pass NULL or a NULL entry, a passed descriptor
 * below 3 on POSIX, invalid UTF-8 on Windows, an env entry without '=' or
 * with an empty name),
 * XIPC_ECLOSED (a STREAM or passed stream that was shut down and has no OS
 * object left), XIPC_ENOENT (program or cwd not found, or a FILE path that
 * does not exist or whose directory does not), XIPC_EACCES (not
 * executable, or a FILE that cannot be opened as asked, such as a
 * directory), XIPC_ENOMEM, XIPC_ENOSPC (process or descriptor limits). A
 * FILE that cannot be opened fails the spawn with that file's error before
 * any child starts (a stdout/stderr FILE opened before the failure was
 * already created or truncated).
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

/* Sends sig to the child by handle, like xipc_signal_send (same delivery:
 * a handler, ignore, or the default action reported by xipc_proc_wait),
 * but never to a process that reused the child's pid. POSIX:
 * pidfd_send_signal on the pidfd xipc holds, or kill() where the kernel
 * has no pidfds (the pid is not reused before xipc reaps the child).
 * Windows: the signal channel of xipc_signal_send, with the process handle
 * p holds (which keeps the pid from being reused) for the exit check and
 * for the default action (TerminateProcess; XIPC_SIGKILL always).
 * Errors: XIPC_EINVAL (NULL p, sig not an XIPC_SIG* number), XIPC_ESRCH
 * (the child has exited, whether or not xipc_proc_wait has been called;
 * on POSIX a child found exited here is reaped, and xipc_proc_wait then
 * returns its status), XIPC_EACCES/XIPC_EPERM from the OS. A child that
 * exits at the moment of the call may take the signal silently instead
 * (the call then returns 0). */
int xipc_proc_signal(xipc_proc *p, int sig);

/* The parent's ends of XIPC_STDIO_PIPE stdio: a write end for stdin, read
 * ends for stdout and stderr. NULL when that stream is not a PIPE (or p is
 * NULL). They are owned by p: xipc_proc_close closes them, and the caller
 * must not xipc_stream_close them. To end the child's input early, call
 * xipc_stream_shutdown(xipc_proc_stdin(p)). */
xipc_stream *xipc_proc_stdin(xipc_proc *p);
xipc_stream *xipc_proc_stdout(xipc_proc *p);
xipc_stream *xipc_proc_stderr(xipc_proc *p);

/* xipc_proc_run: Python's subprocess.run(input=..., capture_output=True,
 * timeout=...). Zero-initialise and set what you need, but note that a
 * zero timeout_ms means "no time at all": set -1 for none. */
typedef struct {
  const void *input;  /* bytes fed to the child's stdin (NULL: stdin as in
                         spawn, by default inherited, like Python's
                         input=None; non-NULL with input_len 0: a pipe
                         that ends at once) */
  size_t input_len;
  int timeout_ms;     /* -1: none; else kill and reap after this long */
  size_t max_output;  /* 0: no limit; else XIPC_EMSGSIZE when stdout or
                         stderr would hold more than this many bytes */
  const xipc_spawn_options *spawn; /* env, cwd, flags, pass, stdin (when
                         input is NULL), stderr_mode XIPC_STDIO_STDOUT to
                         capture both in out (NULL: defaults) */
} xipc_run_options;
typedef struct {
  xipc_exit_status status;
  char *out; /* captured stdout, NUL-terminated (out_len excludes it) */
  size_t out_len;
  char *err; /* captured stderr, likewise */
  size_t err_len;
} xipc_run_result;
/* Runs argv to its end: feeds o->input to its stdin (then ends it) while
 * reading its stdout and stderr, all at once (POSIX one poll loop, Windows
 * overlapped I/O and one WaitForMultipleObjects), so no size of input or
 * output deadlocks. Then waits for the exit and stores the status and the
 * output in *r. o may be NULL (no input, no timeout, no limit). A child
 * that stops reading its input early is not an error (the rest is
 * dropped, as Python does). Output stays open while any process holds the
 * pipes: a grandchild that keeps them runs the call into its timeout.
 * *r is always set: cleared first, then filled with whatever was captured
 * (out and err are never NULL once the child started) and the status.
 * Free it with xipc_run_result_free whatever the call returned.
 * Errors: XIPC_EINVAL (NULL r, a bad argv as for xipc_proc_spawn,
 * timeout_ms < -1, input NULL with input_len > 0, spawn options that set
 * stdout_mode, stderr_mode other than INHERIT/STDOUT, or stdin_mode when
 * input is given), every xipc_proc_spawn error (no child started; *r
 * stays cleared), XIPC_ETIMEDOUT (the timeout passed: the child was
 * killed and reaped, *r holds the output so far and the status, which
 * says XIPC_SIGKILL unless the child ended by itself just then), XIPC_EAGAIN
 * (the same for timeout_ms 0), XIPC_EMSGSIZE (more than max_output bytes
 * on stdout or stderr: the child was killed and reaped, that stream holds
 * its first max_output bytes), XIPC_ENOMEM, I/O errors (the child is
 * killed and reaped too). */
int xipc_proc_run(const char *const argv[], const xipc_run_options *o,
                  xipc_run_result *r);
/* Frees out and err and clears *r; r may be NULL or already cleared. */
void xipc_run_result_free(xipc_run_result *r);

/* Releases the handle and closes the parent's ends of its PIPE stdio. A
 * child that is still running is not stopped; on POSIX xipc reaps it in the
 * background when it exits, so it never stays a zombie.
 * Errors: XIPC_EINVAL (NULL p), XIPC_EBUSY (p is in a waitset: remove it
 * first; nothing is closed). */
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
/* Streams: pipes (and, later, local connections)                           */
/* ------------------------------------------------------------------------ */

/* A stream is a byte stream: for now one end of an anonymous pipe (a read
 * end or a write end). Every call takes timeout_ms: -1 waits forever, 0
 * never blocks (XIPC_EAGAIN when nothing could be done), > 0 waits at most
 * that long and then returns XIPC_ETIMEDOUT, never earlier. A call that
 * timed out leaves nothing pending: no byte is lost or duplicated and the
 * stream keeps working. One thread at a time may use a stream; close is
 * safe while no other thread uses the handle. Data is binary on every
 * platform: no text-mode translation (CR LF stays, 0x1A passes).
 *
 * POSIX: pipe2(O_CLOEXEC) descriptors that stay blocking (O_NONBLOCK would
 * be shared with a child), with per-call non-blocking I/O (RWF_NOWAIT) and
 * poll() for timeouts. A write never raises SIGPIPE in the caller (it is
 * blocked for the calling thread around the write and consumed after
 * EPIPE) and the process's SIGPIPE disposition is never changed.
 * Windows: a named pipe pair with a unique name
 * (\\.\pipe\xipc.anon.<pid>.<n>.<random>, first instance only, remote
 * clients rejected), ends opened FILE_FLAG_OVERLAPPED; a timed-out I/O is
 * cancelled with CancelIoEx and waited for, and bytes that arrived in the
 * meantime are returned. */

/* xipc_pipe_ex flags: the end will be a child's stdio (XIPC_STDIO_STREAM)
 * and does plain blocking I/O. POSIX: no effect (every end is blocking).
 * Windows: the end is opened without FILE_FLAG_OVERLAPPED, as Windows
 * documents for a handle that its user reads or writes without an
 * OVERLAPPED structure (an overlapped end given to a child works under
 * Wine and usually on Windows, but Windows does not promise it). In this
 * process such an end still honours read timeouts (by polling
 * PeekNamedPipe every millisecond), but a write on it with timeout_ms != -1
 * is XIPC_ENOTSUP. */
enum { XIPC_PIPE_CHILD_READ = 1u << 0, XIPC_PIPE_CHILD_WRITE = 1u << 1 };

/* An anonymous pipe: *read_end and *write_end are streams, not inherited
 * (POSIX O_CLOEXEC; Windows non-inheritable handles), given to a child only
 * through xipc_spawn_options. Errors: XIPC_EINVAL (NULL or equal pointers),
 * XIPC_ENOSPC (descriptor or handle limits), XIPC_ENOMEM. Both outputs are
 * NULL on failure. */
int xipc_pipe(xipc_stream **read_end, xipc_stream **write_end);
/* xipc_pipe with XIPC_PIPE_CHILD_* flags. Errors: as xipc_pipe, and
 * XIPC_EINVAL for unknown flags. */
int xipc_pipe_ex(xipc_stream **read_end, xipc_stream **write_end,
                 unsigned flags);

/* Reads what is available, at least 1 and at most cap bytes, into buf;
 * *nread is 0 at end of stream (every writer closed or shut down), and
 * stays 0 on later calls. Bytes that xipc_stream_recv read ahead come first.
 * Errors (*nread 0): XIPC_EINVAL (NULL s, buf or nread, cap 0, timeout_ms <
 * -1, a write end), XIPC_EAGAIN (timeout 0, nothing there), XIPC_ETIMEDOUT,
 * OS errors. */
int xipc_stream_read(xipc_stream *s, void *buf, size_t cap, size_t *nread,
                     int timeout_ms);
/* Writes all n bytes of buf unless the timeout or an error stops it;
 * *nwritten (may be NULL) says how many went, also on failure. n 0 writes
 * nothing and succeeds. The rest of a message whose xipc_stream_send was
 * cut short goes first.
 * Errors: XIPC_EINVAL (NULL s, NULL buf with n > 0, timeout_ms < -1, a read
 * end), XIPC_ECLOSED (after xipc_stream_shutdown), XIPC_EPIPE (no reader
 * is left; no SIGPIPE), XIPC_EAGAIN (timeout 0, pipe full), XIPC_ETIMEDOUT,
 * XIPC_ENOTSUP (Windows: a timed write on an XIPC_PIPE_CHILD_WRITE end),
 * OS errors. */
int xipc_stream_write(xipc_stream *s, const void *buf, size_t n,
                      size_t *nwritten, int timeout_ms);
/* Sends len bytes of msg as one framed message in the wire format of
 * Python's multiprocessing.connection (a 4-byte big-endian signed length,
 * then the bytes; from 2^31 - 1 bytes on: length -1, then an 8-byte
 * big-endian length), so a Python Connection on the other end of the pipe
 * can recv_bytes() it. len 0 sends an empty message. If the timeout stops
 * it after part of the message went, the call still succeeds: the rest is
 * kept in s and goes first on the next send or write (a shutdown or close
 * before that drops it, and the peer then sees XIPC_ECLOSED, never a torn
 * message).
 * Errors: XIPC_EINVAL (NULL s, NULL msg with len > 0, timeout_ms < -1, a
 * read end), XIPC_ECLOSED (after shutdown), XIPC_EPIPE, XIPC_EAGAIN /
 * XIPC_ETIMEDOUT (nothing of the message went), XIPC_ENOMEM, OS errors. */
int xipc_stream_send(xipc_stream *s, const void *msg, size_t len,
                     int timeout_ms);
/* Receives one framed message (see xipc_stream_send) into buf; *len is its
 * size. buf may be NULL with cap 0 to learn the size of the next message
 * (XIPC_EMSGSIZE; an empty message is received at once).
 * Errors (*len 0 unless said): XIPC_EINVAL (NULL s or len, NULL buf with
 * cap > 0, timeout_ms < -1, a write end), XIPC_EMSGSIZE (the message is
 * longer than cap: *len is its size and the message stays for the next
 * call), XIPC_ECLOSED (end of stream; a message the peer did not finish is
 * dropped, never returned in part), XIPC_EAGAIN / XIPC_ETIMEDOUT (the bytes
 * of a message read so far stay in s for the next call), XIPC_ECORRUPT (a
 * length that is not in the format: negative other than -1), XIPC_ENOMEM,
 * OS errors. */
int xipc_stream_recv(xipc_stream *s, void *buf, size_t cap, size_t *len,
                     int timeout_ms);
/* Ends writing: a pipe write end closes its OS end, so the reader sees end
 * of stream once every other copy (in children) is closed too. On a
 * connection (xipc_accept / xipc_connect) it ends only this direction (a
 * half close; POSIX shutdown(SHUT_WR)): the peer reads end of stream and
 * may still send, and this side still reads. The handle stays valid until
 * xipc_stream_close; writes then fail with XIPC_ECLOSED.
 * Errors: XIPC_EINVAL (NULL s, a read end), XIPC_ECLOSED (already shut
 * down), OS errors.
 * Windows connections: named pipes have no half close, so xipc's
 * connection pipes are of message type and the shutdown writes one
 * zero-length message, which the peer's xipc read takes as end of stream
 * (the same as Linux for xipc peers; a foreign client that writes zero
 * bytes would be read as ending its stream). libuv instead closes the
 * whole pipe 50 ms after the shutdown if no data comes in. */
int xipc_stream_shutdown(xipc_stream *s);
/* Closes the stream and frees the handle (it must not be used again).
 * Errors: XIPC_EINVAL (NULL s), XIPC_EBUSY (s is in a waitset: remove it
 * first; nothing is closed). */
int xipc_stream_close(xipc_stream *s);

/* Room for any token, with its NUL. */
#define XIPC_STREAM_TOKEN_MAX 48
/* Writes a token (a short string for a child's argv or environment,
 * "xipc-stream:1:<fd or handle>:<r|w|c>:<s|o>"; c: a connection) naming s
 * in a child that was
 * spawned with s in xipc_spawn_options.pass, which finds the same
 * descriptor number / handle value. token is "" on failure.
 * Errors: XIPC_EINVAL (NULL s or token), XIPC_ECLOSED (shut down),
 * XIPC_ERANGE (cap too small; XIPC_STREAM_TOKEN_MAX always fits). */
int xipc_stream_export(const xipc_stream *s, char *token, size_t cap);
/* In the child: turns a token from xipc_stream_export into a stream and
 * makes its descriptor / handle non-inheritable again. A token works once
 * per process. A passed connection works in the child as in the parent
 * (xipc_stream_peer_pid still names the process at the other end).
 * Errors (*out NULL): XIPC_EINVAL (NULL arguments, a malformed token, or
 * one naming something that is not a pipe, or the other end of it, or for
 * a "c" token not a connected AF_UNIX stream socket / named pipe),
 * XIPC_ENOTSUP (a connection token where the platform cannot adopt one;
 * Windows: l-win fills in whether it can),
 * XIPC_ENOENT (no such open descriptor / handle), XIPC_EBUSY (this token
 * was imported already in this process), XIPC_ENOSPC (more than 64
 * imports in one process), XIPC_ENOMEM. */
int xipc_stream_import(xipc_stream **out, const char *token);

/* ------------------------------------------------------------------------ */
/* Local endpoints by name (multiprocessing.connection Listener / Client)   */
/* ------------------------------------------------------------------------ */

/* A listener is a named server for this machine; xipc_accept gives one
 * xipc_stream per client, xipc_connect gives the client its stream. A
 * connection stream reads and writes (both directions), and every stream
 * call (read, write, send, recv, shutdown, close) works on it as on a pipe
 * end, with the same timeouts and the same framing.
 *
 * Linux: a SOCK_STREAM AF_UNIX socket in the abstract namespace,
 * "\0xipc.<name>" (no file: nothing goes stale after a crash; the name is
 * free the moment the listener's socket closes), SOCK_CLOEXEC, writes with
 * MSG_NOSIGNAL. Both sides check the peer's credentials (SO_PEERCRED): a
 * peer of another uid is refused unless allowed by XIPC_LISTEN_ANY_USER /
 * XIPC_CONNECT_ANY_USER.
 * Windows: named pipes "\\.\pipe\xipc.<name>", overlapped, of message
 * type read in message mode but used as a byte stream (the message type
 * carries xipc_stream_shutdown's end-of-stream mark; see there), with a
 * security descriptor that grants the creating user and SYSTEM only, the
 * first instance created FILE_FLAG_FIRST_PIPE_INSTANCE, remote clients
 * rejected, and several instances kept pending so that concurrent
 * connects do not fail with "busy". Because Wine 8 ignores
 * FILE_FLAG_FIRST_PIPE_INSTANCE and does not enforce pipe DACLs, each
 * listener also holds a lock: a session-local named section
 * "<name>.xlsn", created exclusively with an owner-only DACL, holding the
 * listener's pid; it goes with the listener's process. Clients read it and
 * accept a pipe only if its server process is that pid. (Platform
 * differences, including what Wine 8 does with each of these: see each
 * function and the README's platform table.) */
typedef struct xipc_listener xipc_listener;

/* xipc_listen_options.flags */
enum {
  /* Accept clients of other users too (POSIX: no SO_PEERCRED uid check;
   * Windows: the DACL also grants Everyone read/write, see xipc_listen,
   * and accept does not check the client's token). */
  XIPC_LISTEN_ANY_USER = 1u << 0
};
typedef struct {
  unsigned flags;   /* XIPC_LISTEN_* */
  unsigned backlog; /* connections that may wait for accept (0: 64; at most
                       XIPC_LISTEN_BACKLOG_MAX) */
} xipc_listen_options;

/* Largest xipc_listen_options.backlog. */
#define XIPC_LISTEN_BACKLOG_MAX 4096
/* Longest name of a listener: an abstract AF_UNIX address holds 108 bytes,
 * of which "\0xipc." takes 6 (XIPC_ENAMETOOLONG beyond it, on both
 * platforms, so that a name works everywhere). */
#define XIPC_LISTEN_NAME_MAX 100

/* xipc_connect_ex flags */
enum {
  /* No listener yet: wait for one to appear until the timeout, instead of
   * failing at once with XIPC_ENOENT (services start in any order). */
  XIPC_CONNECT_WAIT = 1u << 0,
  /* Accept a listener of another user. */
  XIPC_CONNECT_ANY_USER = 1u << 1
};

/* Listens on name for connections from this machine (opts may be NULL:
 * same user only, backlog 64). The name is this listener's until
 * xipc_listener_shutdown / xipc_listener_close, or until its process dies
 * (the OS frees it at once; nothing to clean up).
 * Errors (*out NULL): XIPC_EINVAL (NULL out, a bad name, unknown flags,
 * backlog > XIPC_LISTEN_BACKLOG_MAX), XIPC_ENAMETOOLONG (a valid name
 * longer than XIPC_LISTEN_NAME_MAX), XIPC_EEXIST (a live listener, of any
 * user, has the name), XIPC_ENOMEM, XIPC_ENOSPC (out of descriptors), OS
 * errors.
 * Linux: bind() of the abstract address; EADDRINUSE is XIPC_EEXIST. The
 * backlog is listen()'s (the kernel caps it at net.core.somaxconn).
 * Windows: XIPC_EEXIST when the lock "<name>.xlsn" belongs to a live
 * listener (a lock of this user whose listener is closing or has died, but
 * which someone still holds open, is taken over), or when the first
 * pipe instance is refused (FILE_FLAG_FIRST_PIPE_INSTANCE: someone else
 * made the pipe first; under Wine, which ignores the flag, only when that
 * pipe is of byte type, since Wine then gives our instances its type).
 * A squatter's pipe of our type is not noticed by listen under Wine, but
 * it receives no client: clients check the server pid. min(backlog, 16)
 * instances wait in ConnectNamedPipe; more clients at once wait in
 * WaitNamedPipeW within their timeout. XIPC_LISTEN_ANY_USER grants
 * Everyone read, write-data and write-attributes on the pipe (not
 * FILE_CREATE_PIPE_INSTANCE) and read on the lock. Not verified on real
 * Windows: whether a new listen right after a listener died gets
 * FILE_FLAG_FIRST_PIPE_INSTANCE refused while its old clients still hold
 * their ends (Wine allows it at once). */
int xipc_listen(xipc_listener **out, const char *name,
                const xipc_listen_options *opts);
/* Waits for the next client and gives its connection (a new stream that
 * the caller closes; it outlives the listener). Without
 * XIPC_LISTEN_ANY_USER a client of another user never comes out of accept:
 * Linux closes it after SO_PEERCRED shows its uid and goes on waiting
 * (the client reads end of stream). Several threads may accept at once.
 * Errors (*out NULL): XIPC_EINVAL (NULL l or out, timeout_ms < -1),
 * XIPC_EAGAIN (timeout 0, nobody waiting), XIPC_ETIMEDOUT (never before
 * timeout_ms), XIPC_ECLOSED (the listener is shut down, or another thread
 * closes it while this one waits: the call wakes at once), XIPC_ENOMEM,
 * XIPC_ENOSPC (out of descriptors), OS errors.
 * Windows: accept waits on the stop event and the events of the pending
 * instances' overlapped ConnectNamedPipe, takes a connected instance and
 * creates its replacement at once. A client whose process token is not
 * this user's (GetNamedPipeClientProcessId, then its token) is
 * disconnected and accept goes on waiting: the pipe's DACL keeps other
 * users out on Windows, this check does under Wine, which does not enforce
 * pipe DACLs. */
int xipc_accept(xipc_listener *l, xipc_stream **out, int timeout_ms);
/* xipc_connect_ex(out, name, 0, timeout_ms). */
int xipc_connect(xipc_stream **out, const char *name, int timeout_ms);
/* Connects to the listener called name. When its backlog is full (every
 * pipe instance busy) the call waits for room within timeout_ms instead of
 * failing. With XIPC_CONNECT_WAIT a missing listener is looked for again
 * (every 1, 2, 4 ... at most 10 ms) until it appears or the timeout ends.
 * Without XIPC_CONNECT_ANY_USER the listener must belong to this user.
 * Errors (*out NULL): XIPC_EINVAL (NULL out, a bad name, unknown flags,
 * timeout_ms < -1), XIPC_ENAMETOOLONG (longer than XIPC_LISTEN_NAME_MAX),
 * XIPC_ENOENT (no listener: at once, or with XIPC_CONNECT_WAIT when
 * timeout_ms has passed without one, never earlier; also a listener that
 * was shut down), XIPC_EAGAIN (timeout 0 and the backlog is full),
 * XIPC_ETIMEDOUT (the backlog stayed full for timeout_ms), XIPC_EACCES (the
 * listener belongs to another user), XIPC_ENOMEM, XIPC_ENOSPC, OS errors.
 * Linux: connect() to the abstract address (ECONNREFUSED is XIPC_ENOENT); a
 * timed connect bounds the kernel's wait for backlog room with
 * SO_SNDTIMEO, reset to none afterwards. The listener's uid and pid are
 * SO_PEERCRED's, taken when it called listen.
 * Python: multiprocessing.connection.Listener("\0xipc." + name,
 * family="AF_UNIX") (no authkey) accepts this client, and
 * Client("\0xipc." + name, family="AF_UNIX") connects to an xipc listener;
 * its send_bytes/recv_bytes are xipc_stream_send/xipc_stream_recv. Linux
 * only: on Windows Python's pipe connections are message-mode pipes
 * without a length prefix, which xipc's framing is not.
 * Windows: the client reads the listener's lock "<name>.xlsn" (missing:
 * XIPC_ENOENT; owned by another user: XIPC_EACCES unless
 * XIPC_CONNECT_ANY_USER). The lock is in the session namespace, so a
 * client finds only listeners of its own logon session (a service in
 * session 0 cannot be reached from a desktop session). The client opens
 * the pipe with CreateFileW (SECURITY_IDENTIFICATION, so that the server
 * cannot impersonate the client; Wine 8 ignores it) and keeps it only if
 * GetNamedPipeServerProcessId is the pid in the lock; another process's
 * instance (a squatter's, possible under Wine) is closed before anything
 * is sent and the next one is tried (XIPC_EACCES after 8).
 * ERROR_PIPE_BUSY (every instance taken) is waited out with
 * WaitNamedPipeW, at most 100 ms at a time, within timeout_ms. */
int xipc_connect_ex(xipc_stream **out, const char *name, unsigned flags,
                    int timeout_ms);
/* Stops listening: the name is free for a new xipc_listen, connects find
 * no listener (XIPC_ENOENT), and every xipc_accept, blocked in another
 * thread or later, returns XIPC_ECLOSED. Connections already accepted are
 * not affected; clients still waiting in the backlog see end of stream.
 * Safe from any thread, at any time, more than once; the handle stays
 * valid until xipc_listener_close. Closing while other threads are in
 * xipc_accept is also safe (close waits for them to leave), so shutdown is
 * needed only to stop accepting before the handle can be freed.
 * Errors: XIPC_EINVAL (NULL l).
 * Linux: shutdown(SHUT_RDWR) on the socket wakes blocked accepts; the
 * descriptor (and so the name) is released when the last of them has left,
 * which is at once. */
int xipc_listener_shutdown(xipc_listener *l);
/* Shuts the listener down (see xipc_listener_shutdown), waits until no
 * other thread is inside xipc_accept on it, and frees it (l must not be
 * used again; threads that were waking from accept do not touch it).
 * Errors: XIPC_EINVAL (NULL l), XIPC_EBUSY (l is in a waitset: remove it
 * first; nothing is closed). */
int xipc_listener_close(xipc_listener *l);
/* The process id of the process at the other end of connection s: for a
 * server, the client that connected; for a client, the process that
 * listens. It is the pid at connect time (the process may have exited).
 * Errors (*pid 0): XIPC_EINVAL (NULL s or pid), XIPC_ENOTSUP (s is a pipe
 * end: pipes have no peer).
 * Linux: SO_PEERCRED. Windows: GetNamedPipeClientProcessId on the server
 * side, GetNamedPipeServerProcessId on the client side, taken when the
 * connection was made (for a connection passed to a child by token, when
 * it was imported). */
int xipc_stream_peer_pid(const xipc_stream *s, xipc_pid *pid);

/* ------------------------------------------------------------------------ */
/* Queue (multiprocessing.Queue across unrelated processes)                 */
/* ------------------------------------------------------------------------ */

/* A named queue of variable-length messages in shared memory: any number of
 * processes open it by name and put or get; FIFO per producer handle.
 *
 * Storage: a scratch queue (the default) is the named mapping called
 * `name` itself (see the Mapping section: it lives while any handle is
 * open, crashed holders count as closed); a persistent queue
 * (XIPC_QUEUE_PERSIST below) stays until xipc_queue_unlink. Each producer
 * handle owns one ring of `capacity` bytes from its first put until it is
 * closed, so up to max_producers (an option, 32 by default) handles can
 * put at the same time; a ring whose owner process died is
 * taken over by the next producer that needs one, after its queued messages
 * (they stay and are delivered). Consumers take from every ring. Owners are
 * recorded by process id and start time (an exited process frees its ring,
 * also as a zombie or when its id was reused), so on POSIX all processes of
 * a queue must share one PID namespace.
 *
 * Crashes: a producer killed in a put loses only the message it was
 * writing (a message is published by one store after its bytes are
 * written, so a half-written message is never delivered). A consumer killed
 * before its get claimed a message leaves it queued; one killed after the
 * claim but before get returned loses that one message: delivery is at
 * most once, never twice.
 *
 * Blocking: a waiter spins for up to about 20 microseconds, then sleeps. A
 * handle starts out sleeping at once and spins only while its recent waits
 * were short (a waker records when it woke a sleeper, so the time the
 * kernel takes to run the woken process does not count); spins that keep
 * missing would hold up a peer woken onto the spinner's CPU. Sleeping is a
 * futex on a word in the mapping on Linux, and on Windows named semaphores
 * "<name>.xq<N>" created on first use. Wake-up system calls are made only
 * when someone sleeps. Linux only, both for speed: a process whose handles
 * wait with timeouts gets one helper thread, "xipc-qtimer" (every signal
 * blocked, idle after a second without such waits), that ends long sleeps
 * at their deadlines, so that a sleep arms no kernel timer of its own; and
 * a producer that has found no consumer asleep for 64 puts publishes
 * without a memory fence, after registering the process once for
 * membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), which a consumer then runs
 * before it sleeps. Every value read from the mapping is validated; a
 * queue whose header or indices another process scribbled on gives
 * XIPC_ECORRUPT, never a crash or an access out of bounds.
 *
 * A handle is for one thread at a time; open one handle per thread (they
 * are cheap). Handles are not inherited by child processes. */
typedef struct xipc_queue xipc_queue;
typedef struct {
  /* Bytes each producer handle may have queued (0: 256 KiB), rounded up to
   * a power of two (at least 64, at most 64 MiB). A message of n bytes uses
   * 8 + n rounded up to 8. The mapping is about 32 x capacity (pages are
   * touched only when used). */
  size_t capacity;
  /* Largest message (0: min(64 KiB, capacity - 8)); at most capacity - 8,
   * so the upper bound of any queue is 64 MiB - 8 bytes. */
  size_t max_message;
  /* Producer rings (0: XIPC_QUEUE_MAX_PRODUCERS): at most this many handles
   * put at the same time; at most XIPC_QUEUE_PRODUCERS_LIMIT. The mapping
   * holds max_producers x (capacity + 192) bytes after a 320-byte header.
   * Zero-initialise the options ({0}) so that fields added later default. */
  size_t max_producers;
} xipc_queue_options;

/* Default number of producer rings of a queue (see max_producers). */
#define XIPC_QUEUE_MAX_PRODUCERS 32
/* Largest max_producers a queue may be created with. */
#define XIPC_QUEUE_PRODUCERS_LIMIT 4096

/* Flag for xipc_queue_open with XIPC_CREATE: the queue is persistent. It
 * and its messages outlive the last close until xipc_queue_unlink (a
 * scratch queue, the default, is gone after its last close).
 * Where it lives: POSIX: the shared memory object "/<name>" (/dev/shm on
 * Linux; in memory, so a reboot removes it, as it does POSIX message
 * queues), not marked as xipc's, so no close or sweep removes it. Windows:
 * kernel objects die with their last handle, so a persistent queue is the
 * file %LOCALAPPDATA%\xipc\queues\<name>, mapped by every handle; it is on
 * disk and survives a reboot (contents as last written back by Windows:
 * not durable against power loss). Who may open it: the owner only (POSIX
 * mode 0600; Windows the per-user profile directory's DACL).
 * Opens without the flag find either kind by name; a name is one queue,
 * scratch or persistent (XIPC_CREATE on an existing queue opens it as it
 * is; do not create one name both ways at the same moment). A persistent
 * queue whose last user was killed in a put or a get opens again
 * consistent: a killed put published nothing, a killed get took its
 * message whole or not at all, as for any queue. */
#define XIPC_QUEUE_PERSIST (1u << 8)

/* Opens the queue called name; with XIPC_CREATE creates it if missing (with
 * XIPC_EXCL: only creates). opts (NULL: defaults) is used only when this
 * call creates the queue; an existing queue keeps its own parameters.
 * An opener waits up to 1 s for a creator still initializing the header.
 * Errors: XIPC_EINVAL (NULL out, bad name or flags, max_message larger than
 * capacity - 8, XIPC_QUEUE_PERSIST or XIPC_EXCL without XIPC_CREATE),
 * XIPC_ERANGE (capacity above 64 MiB, max_producers above
 * XIPC_QUEUE_PRODUCERS_LIMIT), XIPC_ENOENT (missing,
 * no XIPC_CREATE), XIPC_EEXIST (XIPC_CREATE|XIPC_EXCL and it exists),
 * XIPC_ECORRUPT (the mapping is not a valid queue of this version),
 * XIPC_EACCES (also: the queue's mapping belongs to another user, unless
 * flags has XIPC_ANY_OWNER), XIPC_ENOMEM, XIPC_ENOSPC, XIPC_EAGAIN (the
 * name was removed and created again under the caller every time it
 * looked; try again). With XIPC_CREATE, existence wins over size: an
 * existing queue is opened with its creator's layout whatever opts say
 * (XIPC_EEXIST with XIPC_EXCL), on both platforms. *out is NULL after a
 * failure. A persistent queue's file on Windows lies in the caller's own
 * profile: XIPC_ANY_OWNER changes nothing there. */
int xipc_queue_open(xipc_queue **out, const char *name,
                    const xipc_queue_options *opts, unsigned flags);
/* Copies len bytes (0 allowed) to the end of this handle's ring, waiting up
 * to timeout_ms for space. A put that finds its ring full spins for up to
 * about 20 us until a quarter of the ring is free, then takes any room; a
 * put that sleeps is woken once consumers have emptied half of its ring,
 * or re-checks at its deadline and at least every 250 ms (so near a
 * deadline it may finish late rather than fail while room exists). Errors: XIPC_EINVAL (NULL q, NULL msg with
 * len > 0, timeout < -1), XIPC_EMSGSIZE (len > max_message), XIPC_EAGAIN
 * (timeout 0 and full), XIPC_ETIMEDOUT, XIPC_ECLOSED (shut down, also while
 * waiting), XIPC_ENOSPC (timeout 0 and all max_producers rings are taken
 * by live producer handles: a put with a timeout waits for one to free
 * up, as a handle closes or its process dies, and else ends with
 * XIPC_ETIMEDOUT), XIPC_ECORRUPT. The timeout covers both waits. */
int xipc_queue_put(xipc_queue *q, const void *msg, size_t len, int timeout_ms);
/* Takes one message into buf (cap bytes; buf may be NULL if cap is 0) and
 * stores its length in *len, waiting up to timeout_ms for one. Messages of
 * one producer come in the order they were put.
 * Errors: XIPC_EINVAL, XIPC_EMSGSIZE (the message is larger than cap: it
 * stays queued and *len is the size needed), XIPC_EAGAIN, XIPC_ETIMEDOUT,
 * XIPC_ECLOSED (shut down and nothing left: getters drain first),
 * XIPC_ECORRUPT. */
int xipc_queue_get(xipc_queue *q, void *buf, size_t cap, size_t *len,
                   int timeout_ms);
/* Zero-copy put, first half: waits up to timeout_ms for room for a message
 * of up to len bytes in this handle's ring, as xipc_queue_put does, and
 * sets *buf to where its bytes go. Write them there, then publish them with
 * xipc_queue_commit; consumers see nothing before. *buf points into the
 * shared mapping, except when the room wraps around the end of the ring
 * (about once per lap): then it is a buffer of the handle, which commit
 * copies. One reservation per handle at a time; a put meanwhile is
 * XIPC_EBUSY. Errors: as xipc_queue_put (XIPC_EINVAL for a NULL buf), and
 * XIPC_EBUSY (a reservation is open), XIPC_ENOMEM. */
int xipc_queue_reserve(xipc_queue *q, size_t len, void **buf, int timeout_ms);
/* Passed as len to xipc_queue_commit: drop the reservation, send nothing. */
#define XIPC_QUEUE_DISCARD ((size_t)-1)
/* Zero-copy put, second half: publishes the first len bytes of the
 * reservation (len at most the reserved length) as one message, or drops
 * it (len XIPC_QUEUE_DISCARD). The reservation ends either way.
 * Errors: XIPC_EINVAL (NULL q, no reservation, len above the reserved
 * length: the reservation stays), XIPC_ECLOSED (shut down since the
 * reserve: nothing is sent), XIPC_ECORRUPT. */
int xipc_queue_commit(xipc_queue *q, size_t len);
/* Zero-copy get, first half: waits up to timeout_ms for a message, takes
 * it (no other consumer gets it) and sets *msg and *len to its bytes,
 * which stay valid and unchanged until xipc_queue_release. *msg points into
 * the shared mapping, except for a message that wraps around the end of
 * its ring (copied to a buffer of the handle). Until the release, the
 * producer of that message cannot reuse its ring from there on (its puts
 * may wait for room), and other peeks skip that producer's messages (gets
 * still take them). A consumer killed between peek and release loses that
 * one message; its hold is dropped by the next peek or blocked put that
 * needs it (at most 250 ms later). One peek per handle at a time; gets
 * work meanwhile. Errors: as xipc_queue_get (XIPC_EINVAL for NULL msg or
 * len; no XIPC_EMSGSIZE), XIPC_EBUSY (this handle's peek is not released
 * yet), XIPC_ENOMEM. */
int xipc_queue_peek(xipc_queue *q, const void **msg, size_t *len, int timeout_ms);
/* Zero-copy get, second half: ends the peek; the message's bytes may be
 * reused from now on. Errors: XIPC_EINVAL (NULL q, nothing peeked),
 * XIPC_ECORRUPT (the peek ends anyway). */
int xipc_queue_release(xipc_queue *q);
/* Number of queued messages (Python's qsize): exact while nobody puts or
 * gets, a snapshot otherwise. Errors: XIPC_EINVAL, XIPC_ECORRUPT,
 * XIPC_EAGAIN (rings recycled faster than they could be counted). */
int xipc_queue_count(xipc_queue *q, size_t *count);
/* JoinableQueue.task_done(): marks one message this handle got (or
 * peeked) as processed. Tasks are counted per handle: mark them through
 * the handle that got them. Errors: XIPC_EINVAL, XIPC_ERANGE (more
 * task_done calls than this handle's gets: Python's ValueError),
 * XIPC_ECORRUPT. */
int xipc_queue_task_done(xipc_queue *q);
/* JoinableQueue.join(): waits up to timeout_ms until every message put so
 * far, by any process, has been got and marked done. Returns 0 then.
 * A task that can never be done is reported, not waited for: when a
 * consumer died (or closed its handle) with tasks it got but did not mark
 * done, join returns XIPC_EOWNERDEAD once (to one joiner) and writes those
 * tasks off; the next join waits for the rest. Limit: a consumer handle
 * counts its tasks in a slot of its own (one per max_producers, taken at
 * its first get, given back at close); handles beyond that share one
 * counter, and the death of such a handle is not noticed (join then waits
 * for its timeout). Errors: XIPC_EINVAL, XIPC_EAGAIN (timeout 0),
 * XIPC_ETIMEDOUT, XIPC_EOWNERDEAD, XIPC_ECORRUPT. A shut-down queue still
 * joins: the tasks decide, not the state. */
int xipc_queue_join(xipc_queue *q, int timeout_ms);

/* What xipc_queue_info reports: exact while nobody uses the queue, a
 * snapshot otherwise. A struct tag, not a typedef: the function has the
 * name (declare it as `struct xipc_queue_info info;`). */
struct xipc_queue_info {
  size_t capacity;      /* bytes per producer ring */
  size_t max_message;   /* largest message (at most 64 MiB - 8) */
  size_t max_producers; /* producer rings */
  size_t producers;     /* rings held by a live producer handle now */
  size_t count;         /* messages queued (xipc_queue_count) */
  size_t bytes;         /* payload bytes of those messages */
  size_t unfinished;    /* queued plus got and not yet task_done */
  int closed;           /* xipc_queue_shutdown was called */
  int persistent;       /* created with XIPC_QUEUE_PERSIST */
};

/* Fills *info. Errors: XIPC_EINVAL (NULL), XIPC_ECORRUPT, XIPC_EAGAIN
 * (as xipc_queue_count). */
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow" /* the function and the tag share the name, as in C */
#endif
int xipc_queue_info(xipc_queue *q, struct xipc_queue_info *info);
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/* Shuts the queue down for every process: later puts fail with
 * XIPC_ECLOSED, gets return what is queued and then XIPC_ECLOSED, and
 * blocked putters and getters wake up. Irreversible for this queue.
 * Errors: XIPC_EINVAL, XIPC_ECORRUPT. */
int xipc_queue_shutdown(xipc_queue *q);
/* Releases the handle (and its producer ring; queued messages stay). An
 * open reservation is dropped and a peek released. A scratch queue is
 * destroyed when its last handle closes; a persistent one stays until
 * xipc_queue_unlink. Errors: XIPC_EINVAL, XIPC_EBUSY (the handle is in a
 * waitset: remove it first; nothing is closed). */
int xipc_queue_close(xipc_queue *q);
/* Removes the name now (xipc_map_unlink on the queue's mapping; for a
 * persistent queue on Windows, its file): handles already open keep
 * working, new opens without XIPC_CREATE get XIPC_ENOENT, and a persistent
 * queue is destroyed with its last handle. Windows cannot remove a kernel
 * object's name: XIPC_ENOTSUP for a scratch queue that exists (it goes
 * away with its last handle). Errors: XIPC_EINVAL, XIPC_ENOENT,
 * XIPC_EACCES, XIPC_ENOTSUP (Windows). */
int xipc_queue_unlink(const char *name);

/* ------------------------------------------------------------------------ */
/* Semaphores and mutexes                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Named counting semaphores and robust named mutexes.
 *
 * Names follow the portable name rule, with one restriction: xipc derives
 * private object names by appending a 5-character suffix (".xsem" for a
 * semaphore, ".xmtx" for a mutex, and on Windows ".xmst" for a mutex's
 * state), so a name may be at most XIPC_SYNC_NAME_MAX characters; longer
 * names give XIPC_ENAMETOOLONG. Semaphores and mutexes therefore never clash
 * with each other or with a mapping of the same name; names ending in these
 * suffixes are reserved. If the derived name is already taken by an object
 * that is not of the expected kind, or whose shared header fails validation,
 * opening gives XIPC_ECORRUPT (on Windows a damaged mutex state is found,
 * and reported the same way, by xipc_mutex_lock).
 *
 * Lifetime: like named mappings, a semaphore or mutex lives while any xipc
 * handle to it is open, in any process, and is gone after the last close; a
 * process that crashed or was killed counts as having closed its handles.
 * Objects are created owner-only (POSIX mode 0600; on Windows the default
 * DACL of the creator's token) and handles are never inherited.
 *
 * Implementation: on POSIX the state (a process-shared sem_t, or a robust
 * error-checking pthread mutex) lives in a private named mapping opened with
 * xipc_map_named(), which provides the lifetime. On Windows they are native
 * semaphore and mutex kernel objects; a mutex also has a small named state
 * mapping that carries the owner-died / not-recoverable state. Timeouts are
 * measured on a monotonic clock (CLOCK_MONOTONIC; Windows waits are
 * relative), and a timed wait never returns XIPC_ETIMEDOUT before the
 * timeout has fully elapsed. On POSIX an opener waits up to about a second
 * for a concurrent creator to finish initialising; the header (magic,
 * version, size) is validated at open, but the sem_t / pthread_mutex_t
 * itself is trusted, as any process that may open the object could also
 * damage it.
 *
 * Handles may be used by several threads at once. A mutex is owned by the
 * thread that locked it, through the handle it used.
 */

typedef struct xipc_sem xipc_sem;
typedef struct xipc_mutex xipc_mutex;

/* Longest name accepted by xipc_sem_open/xipc_mutex_open and their unlink
 * functions: XIPC_NAME_MAX minus the private suffix. */
#define XIPC_SYNC_NAME_MAX (XIPC_NAME_MAX - 5)

/* Largest count a semaphore can hold (INT32_MAX on both platforms). */
#define XIPC_SEM_VALUE_MAX 0x7fffffffu

/* Opens the named counting semaphore `name`.
 * flags: 0 opens an existing semaphore; XIPC_CREATE creates it if missing;
 * XIPC_CREATE | XIPC_EXCL creates it and fails if it exists. `initial` is
 * the count of a newly created semaphore and is ignored when an existing
 * one is opened.
 * Errors: XIPC_EINVAL (out NULL, bad name, unknown flags, XIPC_EXCL without
 * XIPC_CREATE), XIPC_ENAMETOOLONG (name longer than XIPC_SYNC_NAME_MAX),
 * XIPC_ERANGE (initial > XIPC_SEM_VALUE_MAX), XIPC_ENOENT (missing and no
 * XIPC_CREATE), XIPC_EEXIST (exists and XIPC_EXCL), XIPC_ECORRUPT (the name
 * holds something that is not a valid xipc semaphore), XIPC_EACCES (also:
 * the semaphore, or on POSIX its state mapping, belongs to another user,
 * without XIPC_ANY_OWNER), XIPC_ENOMEM, XIPC_ENOSPC, XIPC_EAGAIN (POSIX:
 * the state mapping's name was removed and re-created under the caller 64
 * times in a row). flags may include XIPC_ANY_OWNER. */
int xipc_sem_open(xipc_sem **out, const char *name, unsigned initial,
                  unsigned flags);

/* Decrements the count, waiting while it is 0: timeout_ms -1 forever, 0
 * never blocks, > 0 at most that long (monotonic clock).
 * Errors: XIPC_EINVAL (s NULL, timeout_ms < -1), XIPC_EAGAIN (timeout 0 and
 * the count is 0), XIPC_ETIMEDOUT (the timeout passed, after at least
 * timeout_ms). Signals do not interrupt the wait. */
int xipc_sem_wait(xipc_sem *s, int timeout_ms);

/* Increments the count, waking one waiter.
 * Errors: XIPC_EINVAL (s NULL), XIPC_ERANGE (the count is already
 * XIPC_SEM_VALUE_MAX; the count is unchanged). */
int xipc_sem_post(xipc_sem *s);

/* Closes the handle (the semaphore goes away with its last handle).
 * Waiting on a handle while another thread closes it is undefined.
 * Errors: XIPC_EINVAL (s NULL). */
int xipc_sem_close(xipc_sem *s);

/* Removes the name of semaphore `name` early, like xipc_map_unlink: on
 * POSIX open handles keep working, new opens without XIPC_CREATE get
 * XIPC_ENOENT and a new XIPC_CREATE makes a different semaphore. Windows
 * cannot remove a kernel object's name: XIPC_ENOTSUP if it exists (it goes
 * away after its last handle closes).
 * Errors: XIPC_EINVAL / XIPC_ENAMETOOLONG (bad name), XIPC_ENOENT,
 * XIPC_EACCES, XIPC_ENOTSUP (Windows). */
int xipc_sem_unlink(const char *name);

/* Opens the named robust mutex `name`; flags as for xipc_sem_open.
 * A new mutex is unlocked.
 * Errors: XIPC_EINVAL (out NULL, bad name, unknown flags, XIPC_EXCL without
 * XIPC_CREATE), XIPC_ENAMETOOLONG, XIPC_ENOENT, XIPC_EEXIST, XIPC_ECORRUPT,
 * XIPC_EACCES (as for xipc_sem_open, also another user's mutex or state
 * mapping), XIPC_ENOMEM, XIPC_ENOSPC, XIPC_EAGAIN (as for
 * xipc_sem_open). */
int xipc_mutex_open(xipc_mutex **out, const char *name, unsigned flags);

/* Locks the mutex for the calling thread through this handle (timeout_ms as
 * for xipc_sem_wait). The mutex is not recursive on either platform.
 * Returns 0 when locked, or:
 *  XIPC_EOWNERDEAD  the lock IS now held by the caller, but its previous
 *                   owner (thread or process) died while holding it, so the
 *                   data it protects may be inconsistent. Repair the data,
 *                   then call xipc_mutex_consistent() before unlocking. If
 *                   the caller unlocks (or dies) without that, the mutex
 *                   becomes unusable for good: every later lock in every
 *                   process returns XIPC_ENOTRECOVERABLE (if the caller
 *                   dies, the next locker gets XIPC_EOWNERDEAD again).
 *  XIPC_ENOTRECOVERABLE  the mutex was left inconsistent; it is not locked.
 *                   It stays so until every handle is closed.
 *  XIPC_EBUSY       the calling thread already holds the mutex (through
 *                   this or another handle); nothing changes. POSIX reports
 *                   EDEADLK here and Windows mutexes would recurse: both
 *                   are mapped to this one answer.
 *  XIPC_EAGAIN (timeout 0), XIPC_ETIMEDOUT, XIPC_EINVAL (m NULL,
 *  timeout_ms < -1), XIPC_ECORRUPT (Windows: the shared state mapping was
 *  damaged; the mutex is not locked). */
int xipc_mutex_lock(xipc_mutex *m, int timeout_ms);

/* Marks a mutex that xipc_mutex_lock returned XIPC_EOWNERDEAD for as
 * consistent again; the caller still holds it and unlocks it as usual.
 * Errors: XIPC_EINVAL (m NULL, or the mutex is not in the owner-died
 * state), XIPC_EPERM (the calling thread does not hold the mutex through
 * this handle). */
int xipc_mutex_consistent(xipc_mutex *m);

/* Unlocks the mutex. Only the thread that locked it, through the same
 * handle, may unlock it.
 * Errors: XIPC_EINVAL (m NULL), XIPC_EPERM (the caller does not hold it
 * through this handle: never locked, locked by another thread or process,
 * or through another handle). */
int xipc_mutex_unlock(xipc_mutex *m);

/* Closes the handle (the mutex goes away with its last handle).
 * Errors: XIPC_EINVAL (m NULL), XIPC_EBUSY (the mutex is locked through
 * this handle: unlock it first; the handle stays open. If the thread that
 * locked it exited without unlocking, lock it again, which gives
 * XIPC_EOWNERDEAD, and unlock it). */
int xipc_mutex_close(xipc_mutex *m);

/* Removes the name of mutex `name` early, as xipc_sem_unlink.
 * Errors: XIPC_EINVAL / XIPC_ENAMETOOLONG (bad name), XIPC_ENOENT,
 * XIPC_EACCES, XIPC_ENOTSUP (Windows). */
int xipc_mutex_unlink(const char *name);

/* ------------------------------------------------------------------------ */
/* Named objects of this user (what the `xipc` command lists and removes)   */
/* ------------------------------------------------------------------------ */

/* What xipc can tell about the named objects of the calling user, for
 * tools (the `xipc` command) and for programs that clean up after
 * themselves: list them, look at one, remove one, remove the stale ones.
 *
 * What is listed. POSIX (Linux): the regular files in /dev/shm that belong
 * to the effective user and whose names are portable names (other users'
 * files are never opened; symlinks are never followed), classified by
 * what they hold: "<name>.xsem" / "<name>.xmtx" with xipc's semaphore /
 * mutex header are a semaphore / mutex called <name>; a file that starts
 * with a valid queue header is a queue (a persistent queue when the header
 * says so); anything else is a mapping, made by xipc (managed) or by
 * another program (Python's SharedMemory, XIPC_MAP_PERSIST: not managed).
 * Listeners are the abstract sockets "@xipc.<name>" in /proc/net/unix that
 * a process of this user has open (listeners of other users are not
 * listed). Holders: the processes holding xipc's flock on the object
 * (/proc/locks, every user's), plus this user's processes that map it
 * (/proc/<pid>/maps) or, for a listener, have its socket open
 * (/proc/<pid>/fd). Creator and creation time: xipc records the creating
 * process and the time in the attribute "user.xipc.origin" of the objects
 * it creates (tmpfs with user xattrs, Linux 6.6 and later); otherwise the
 * creation time is the file's birth time (statx) where the kernel keeps
 * one and the creator is 0. Windows: the kernel objects of the session's
 * namespace (\Sessions\<id>\BaseNamedObjects, read with
 * NtQueryDirectoryObject; Global\ objects are not listed) that pass the
 * owner check of XIPC_ANY_OWNER (each is opened with READ_CONTROL): the
 * sections "<name>" (a mapping, or a queue when it starts with a valid
 * queue header; managed when xipc's size record "<name>.xmsz" is there,
 * else another program made it), the semaphores "<name>.xsem" and the
 * mutexes "<name>.xmtx"; also the persistent queue files in
 * %LOCALAPPDATA%\xipc\queues, and listeners, found by the lock section
 * "<name>.xlsn" each listener holds beside its pipe (pipes themselves are
 * not listed: Wine 8 cannot list them, and a pipe's owner cannot be read
 * without connecting). Holders come from the system handle table and are
 * known only when every handle of the object was found (a holder in a
 * process xipc may not open makes them unknown); persistent queue files
 * in use have unknown holders. Mappings and queues carry their creator and
 * time in xipc's size record, a listener its pid in its lock section;
 * semaphores and mutexes have neither (0). See win32/objects.c and the
 * README's platform table.
 *
 * Stale: a managed object whose holders all died (no flock holder, mapped
 * by nobody), which the lifetime rule would remove at its next open; only
 * POSIX has them (Windows frees a kernel object with its last handle).
 * Holders in another PID namespace may be missing from /proc/locks; such
 * an object may be reported stale, but xipc_object_remove and
 * xipc_objects_sweep re-check under the object's lock and never remove an
 * object that is held. */

/* Kinds of named objects, as xipc_objects_list reports them. */
enum {
  XIPC_OBJ_MAPPING = 1,          /* xipc_map_named, or a foreign mapping */
  XIPC_OBJ_QUEUE = 2,            /* xipc_queue_open */
  XIPC_OBJ_SEMAPHORE = 3,        /* xipc_sem_open */
  XIPC_OBJ_MUTEX = 4,            /* xipc_mutex_open */
  XIPC_OBJ_PERSISTENT_QUEUE = 5, /* XIPC_QUEUE_PERSIST */
  XIPC_OBJ_LISTENER = 6          /* xipc_listen */
};

/* Most holder pids one xipc_object_info lists (nholders may be larger). */
#define XIPC_OBJECT_HOLDERS_MAX 16

typedef struct {
  char name[XIPC_NAME_MAX + 1]; /* the portable name, without xipc's suffixes */
  int kind;                     /* XIPC_OBJ_* */
  int managed;       /* made by xipc, so the lifetime rule applies to it */
  uint64_t size;     /* bytes of the object (mapping size, queue mapping;
                        POSIX semaphores and mutexes: their state mapping;
                        0 where there is no size, e.g. listeners) */
  xipc_pid creator;  /* pid of the process that created it; 0: unknown */
  int64_t created_ms; /* creation time, ms since 1970 (UTC); 0: unknown */
  int holders_known;  /* the OS told who holds it (holders[] is complete);
                         0: nholders is 0 and says nothing */
  size_t nholders;    /* processes holding it */
  xipc_pid holders[XIPC_OBJECT_HOLDERS_MAX]; /* the first of them, ascending */
  int stale;          /* managed, holders known, and every holder has died */
} xipc_object_info;

/* "mapping", "queue", "semaphore", "mutex", "persistent-queue",
 * "listener" for an XIPC_OBJ_* kind; "?" for anything else. Never NULL. */
const char *xipc_object_kind_name(int kind);
/* The XIPC_OBJ_* kind called name (as xipc_object_kind_name gives it), or
 * 0 for an unknown or NULL name. */
int xipc_object_kind_parse(const char *name);

/* Lists every named object of the calling user that the OS lets xipc see
 * (see above), sorted by name and then kind, in a new array *out of *n
 * entries; free it with xipc_objects_free. *out is NULL and *n 0 when
 * there is none. Listing never changes an object's lifetime: POSIX opens
 * nothing for writing and takes no lock and maps nothing (a stale object
 * stays listed until something removes it); Windows opens and maps each
 * object read-only for a moment, which keeps it alive only that long.
 * Errors (*out NULL, *n 0): XIPC_EINVAL (out or n NULL), XIPC_ENOMEM;
 * POSIX: XIPC_EACCES / XIPC_ENOENT (/dev/shm cannot be read); Windows:
 * XIPC_EACCES (the session's object directory cannot be opened), XIPC_EIO
 * (reading it fails), XIPC_ENOTSUP (ntdll lacks one of the calls). */
int xipc_objects_list(xipc_object_info **out, size_t *n);
/* Frees a list from xipc_objects_list or xipc_objects_sweep; NULL is
 * fine. */
void xipc_objects_free(xipc_object_info *list);
/* Fills *info for the object called name (a portable name, without
 * suffixes) of the given kind (an XIPC_OBJ_* value, or 0 for any kind).
 * Errors: XIPC_EINVAL (NULL info, bad name, unknown kind),
 * XIPC_ENAMETOOLONG, XIPC_ENOENT (no such object of this user),
 * XIPC_EEXIST (kind 0 and objects of several kinds have that name: give
 * the kind), and the errors of xipc_objects_list. */
int xipc_object_stat(const char *name, int kind, xipc_object_info *info);
/* xipc_object_remove flags: remove the object even though processes hold
 * it (they keep using it; the name is gone, as after xipc_map_unlink). */
enum { XIPC_REMOVE_FORCE = 1u << 0 };
/* Removes the name of the object called name of the given kind (0: any),
 * like the kind's own unlink (xipc_map_unlink, xipc_queue_unlink,
 * xipc_sem_unlink, xipc_mutex_unlink), but only if no process holds it,
 * unless flags has XIPC_REMOVE_FORCE. Only objects of the calling user are
 * removed, also with FORCE. Works on managed and unmanaged objects
 * (persistent queues, foreign mappings) alike.
 * Errors: XIPC_EINVAL (bad name, unknown kind or flags),
 * XIPC_ENAMETOOLONG, XIPC_ENOENT, XIPC_EEXIST (kind 0 and several kinds
 * have the name), XIPC_EBUSY (processes hold it and no FORCE; also a
 * holder that appeared while removing: POSIX takes the object's flock
 * exclusively and checks that nobody maps it before it unlinks),
 * XIPC_EACCES (the name now holds another user's object), XIPC_ENOTSUP
 * (listeners, on both platforms: a listener exists only while a process
 * has it open; Windows: kernel objects, which cannot be removed by name
 * and go away with their last handle). Windows removes persistent queue
 * files: one in use is XIPC_EBUSY without FORCE (Windows refuses an open
 * without sharing while a process maps it); with FORCE the file goes and
 * its holders keep their mapping. Errors of xipc_objects_list. */
int xipc_object_remove(const char *name, int kind, unsigned flags);
/* Removes every stale object of the calling user (see above) and returns
 * what it removed in a new array *removed of *n entries (free it with
 * xipc_objects_free; both pointers may be NULL when the caller does not
 * want the list). Never removes an object that a process holds: each is
 * re-checked as xipc_object_remove does without FORCE, and one that
 * cannot be removed is skipped, not an error. It removes what
 * xipc_map_sweep removes (on POSIX every kind is a file in /dev/shm) and
 * says what each one was. Windows has no stale objects (*n 0).
 * Errors (*removed NULL, *n 0): the errors of xipc_objects_list. */
int xipc_objects_sweep(xipc_object_info **removed, size_t *n);

/* ------------------------------------------------------------------------ */
/* Waiting on many objects at once                                          */
/* ------------------------------------------------------------------------ */

/* A waitset is one wait over queues, streams, listeners, process exits,
 * signals, timers and the caller's own descriptors / handles, on both
 * platforms. It is level-triggered: an event says that the matching call
 * with timeout 0 is expected to succeed now (get or put on a queue, read or
 * write on a stream, accept, xipc_proc_wait, for signals the signal itself)
 * or to fail at once with its error (a shut-down queue, a broken stream);
 * the event consumes nothing, except a signal event, which is the delivery
 * of that signal. An object stays reported while it is ready; one that is
 * always ready does not starve the others (results rotate). A spurious
 * event (the call then returns XIPC_EAGAIN) is possible but rare.
 *
 * Entries are named by their `user` pointer, which is unique in a set
 * (NULL is a valid, single value). One thread at a time uses a waitset
 * (add, remove, wait, close); xipc_waitset_wake may be called from any
 * thread and, on POSIX, from a signal handler. An object that is in a set
 * cannot be closed: its close returns XIPC_EBUSY and leaves it open until
 * it is removed (or the set is closed). Nothing polls: an idle waitset
 * sleeps in the OS (epoll_wait / a wait on one event) and costs no CPU.
 *
 * Linux: an epoll set holding the descriptors of streams, listeners, the
 * caller's descriptors and a pidfd per process; a doorbell, the abstract
 * datagram socket "\0xipc.bell.<pid>.<id>", that a queue's producers and
 * consumers ring (each queue has XIPC_WAITSET_QUEUE_WATCHERS watcher slots
 * in its header; a put pays nothing extra while no waitset watches the
 * queue); signals come from xipc's signal dispatcher; timers shorten the
 * epoll wait. Windows: waitable handles (processes, the caller's handles,
 * events of zero-byte overlapped reads on pipes and of the listener's
 * pending ConnectNamedPipe), a named manual-reset event
 * "xipc.bell.<pid>.<id>" per waitset that queues set, any number of
 * objects (past MAXIMUM_WAIT_OBJECTS) through registered waits that set
 * one event; a wait that returns also looks at every armed entry itself,
 * so a timeout-0 wait sees what is ready now.
 *
 * Lost rings: a producer killed between publishing a message and ringing,
 * or a watcher slot that another process overwrote, leave a queue's
 * message unannounced. A waitset that watches queues therefore looks at
 * their positions once a second while it waits (no write, no system call;
 * a few nanoseconds per queue), so such a message is reported late, never
 * missed for good. Nothing else wakes an idle set. */
typedef struct xipc_waitset xipc_waitset;

enum { XIPC_WAIT_READABLE = 1, XIPC_WAIT_WRITABLE = 2, XIPC_WAIT_HANGUP = 4 };

/* One ready object: its user pointer, what it is ready for (XIPC_WAIT_*),
 * and for a signal event the XIPC_SIG* number (0 otherwise). */
typedef struct {
  void *user;
  unsigned events;
  int sig;
} xipc_wait_event;

/* How many waitsets (in any processes) may watch one queue at a time. */
#define XIPC_WAITSET_QUEUE_WATCHERS 8

/* Makes an empty waitset.
 * Errors: XIPC_EINVAL (out NULL), XIPC_ENOMEM, XIPC_ENOSPC / XIPC_EIO (the
 * OS refused a descriptor or handle). */
int xipc_waitset_open(xipc_waitset **out);

/* Watches queue q for events: XIPC_WAIT_READABLE (a message can be got)
 * and/or XIPC_WAIT_WRITABLE (a put of max_message bytes would not block).
 * A queue that is shut down is reported with XIPC_WAIT_HANGUP and the
 * events asked for (the call then returns XIPC_ECLOSED at once, for a get
 * once the queue is drained); a queue whose shared header is damaged is
 * reported the same way (the call returns XIPC_ECORRUPT). Several
 * waitsets, in several threads or processes, may watch one queue: a
 * message wakes at least one of them.
 * Errors: XIPC_EINVAL (w or q NULL, events 0 or other bits), XIPC_EEXIST
 * (q or user already in the set), XIPC_EBUSY (XIPC_WAITSET_QUEUE_WATCHERS
 * live waitsets watch q already), XIPC_ECORRUPT (damaged header),
 * XIPC_ENOMEM. */
int xipc_waitset_add_queue(xipc_waitset *w, xipc_queue *q, unsigned events,
                           void *user);

/* Watches stream s: XIPC_WAIT_READABLE (bytes, end of stream or an error
 * are there: a read with timeout 0 returns at once; bytes already read
 * ahead by xipc count), XIPC_WAIT_WRITABLE (a write can make progress).
 * XIPC_WAIT_HANGUP is reported, without being asked for, once the other
 * end is gone. A stream is in at most one waitset at a time.
 * Windows: readability comes from a zero-byte overlapped read, kept
 * pending between waits (so that the native handle sees data while nobody
 * waits) and cancelled by remove; a read on a connection cancels it first
 * (a zero-byte read would take the peer's end-of-stream mark). WRITABLE
 * means the pipe's write quota has room or, where the quota cannot be read
 * (always under Wine), that the reader has taken every byte written: a
 * writer is woken when the pipe is empty, not at the first free byte (one
 * waiting thread per watched writable stream; the first look at a newly
 * added write end may take up to 0.1 s, also with timeout 0, while that
 * thread starts). A synchronous end meant for
 * a child's stdio (XIPC_PIPE_CHILD_*) cannot be watched: XIPC_ENOTSUP.
 * Errors: XIPC_EINVAL (NULL, events 0 or other bits, a write end asked
 * for READABLE or a read end for WRITABLE, a shut-down write end),
 * XIPC_EEXIST (s or user already in this set), XIPC_EBUSY (s is in
 * another set), XIPC_ENOMEM, XIPC_ENOTSUP (Windows: a child-stdio end). */
int xipc_waitset_add_stream(xipc_waitset *w, xipc_stream *s, unsigned events,
                            void *user);

/* Watches listener l: XIPC_WAIT_READABLE when a connection can be
 * accepted (with XIPC_WAIT_HANGUP once it is shut down: accept returns
 * XIPC_ECLOSED). A client of another user that accept would drop may
 * make one spurious event.
 * Errors: XIPC_EINVAL (NULL), XIPC_EEXIST, XIPC_ENOMEM. */
int xipc_waitset_add_listener(xipc_waitset *w, xipc_listener *l, void *user);

/* Watches child p: XIPC_WAIT_READABLE once it has exited (xipc_proc_wait
 * with timeout 0 then returns its status). Adding every child gives "wait
 * for any child". The event stays until p is removed.
 * Errors: XIPC_EINVAL (NULL), XIPC_EEXIST, XIPC_ENOMEM, XIPC_ENOTSUP
 * (POSIX: the kernel has no pidfd_open, Linux before 5.3). */
int xipc_waitset_add_proc(xipc_waitset *w, xipc_proc *p, void *user);

/* Watches the n signals in sigs (XIPC_SIG*, not XIPC_SIGKILL): while they
 * are in the set, they go to the waitset before any handler, as to a
 * thread in xipc_signal_wait; each delivery is one event {user,
 * XIPC_WAIT_READABLE, sig} and is consumed by the wait that reports it.
 * Signals of one number that arrive before a wait reports them coalesce,
 * as for handlers. A set holds one signals entry.
 * Errors: XIPC_EINVAL (NULL sigs, n 0, a bad signal), XIPC_EEXIST (user in
 * the set, or the set watches signals already), XIPC_ENOMEM, and the
 * errors of xipc_signal_wait's set-up. */
int xipc_waitset_add_signals(xipc_waitset *w, const int *sigs, size_t n,
                             void *user);

/* A timer on the monotonic clock: first event after_ms (>= 0), then every
 * interval_ms (> 0), or once (interval_ms 0: the entry is removed when the
 * event is reported). An interval timer reports one event per wait however
 * many periods went by; the next period starts from the one that passed.
 * Errors: XIPC_EINVAL (after_ms or interval_ms < 0), XIPC_EEXIST (user),
 * XIPC_ENOMEM. */
int xipc_waitset_add_timer(xipc_waitset *w, int after_ms, int interval_ms,
                           void *user);

/* Watches a descriptor or handle of the caller's, which stays the
 * caller's (it is not closed; keep it open while it is in the set).
 * POSIX: a file descriptor, for XIPC_WAIT_READABLE / _WRITABLE as poll()
 * sees it (HANGUP for POLLHUP/POLLERR). Windows: a SOCKET (READABLE /
 * WRITABLE through WSAEventSelect, which makes the socket non-blocking;
 * a socket can be in one waitset at a time, since WSAEventSelect keeps one
 * event per socket) or any waitable HANDLE (events must be READABLE: "signaled"; an
 * auto-reset object is reset by the wait that sees it, as by any wait).
 * Errors: XIPC_EINVAL (not an open descriptor / handle, events 0 or other
 * bits, a HANDLE asked for WRITABLE), XIPC_EEXIST, XIPC_ENOMEM, XIPC_EPERM
 * (POSIX: a regular file, which epoll refuses). */
int xipc_waitset_add_native(xipc_waitset *w, intptr_t fd_or_handle,
                            unsigned events, void *user);

/* Removes the entry of user; the object can be closed afterwards. For the
 * signals entry: a signal that arrived but was not reported yet (more
 * events were ready than a wait's cap) is raised again, so that its
 * disposition applies; none is lost.
 * Errors: XIPC_EINVAL (w NULL), XIPC_ENOENT (no entry has user). */
int xipc_waitset_remove(xipc_waitset *w, void *user);

/* Waits until at least one entry is ready, then stores up to cap events
 * in ev and their number in *n (more ready objects are reported by the
 * next wait). timeout_ms: -1 forever, 0 only looks, > 0 at most that long
 * (monotonic; never returns XIPC_ETIMEDOUT early).
 * Errors (*n 0): XIPC_EINVAL (w, ev or n NULL, cap 0, timeout_ms < -1),
 * XIPC_EAGAIN (timeout 0, nothing ready), XIPC_ETIMEDOUT, XIPC_EINTR
 * (xipc_waitset_wake was called since the last wait returned), OS errors
 * of the multiplexer (XIPC_EIO, XIPC_ENOMEM). */
int xipc_waitset_wait(xipc_waitset *w, xipc_wait_event *ev, size_t cap,
                      size_t *n, int timeout_ms);

/* Makes the current (or the next) xipc_waitset_wait return XIPC_EINTR at
 * once. Safe from any thread; on POSIX also async-signal-safe.
 * Errors: XIPC_EINVAL (w NULL). */
int xipc_waitset_wake(xipc_waitset *w);

/* One OS object for the whole set, for another event loop (epoll, libuv's
 * uv_poll_t, GLib, a Win32 message loop): a descriptor (POSIX) that polls
 * readable, or an event HANDLE (Windows) that is signaled, while the set
 * has events; then call xipc_waitset_wait with timeout 0. It stays the
 * waitset's: do not read, reset or close it. Right after this call and
 * after each add it is ready once, whatever the set holds (what the next
 * wait finds is not known yet): a loop's first wait(0) may give
 * XIPC_EAGAIN. Until the handle is asked for, waits skip its upkeep.
 * Errors: XIPC_EINVAL (NULL). */
int xipc_waitset_native_handle(xipc_waitset *w, intptr_t *fd_or_handle);

/* Removes every entry and frees the set. Closing a set that another
 * thread waits on is undefined (wake it first).
 * Errors: XIPC_EINVAL (w NULL). */
int xipc_waitset_close(xipc_waitset *w);

#ifdef __cplusplus
}
#endif

#endif /* XIPC_H */
