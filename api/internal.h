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

/* ---- errors (api/error.c, posix/error.c, win32/error.c) ----------------
 * The rule: a tree records the OS error at the system call that failed
 * (xipc__fail_os, xipc__fail_sys, or xipc__fail_os_as where another code
 * says more); api/ records only failures it finds itself (xipc__fail) and
 * passes a tree's result on untouched. */

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

/* Portable: remember the current OS error (as xipc__fail_os) but return
 * err, for a failure whose portable meaning is clearer than the OS code's
 * translation (EDEADLK -> XIPC_EBUSY). The call site says why in a comment.
 * xipc__fail_sys_as does the same for a raw error value sys. */
int xipc__fail_os_as(int err);
int xipc__fail_sys_as(int sys, int err);

/* ---- time (api/time.c, posix/time.c, win32/time.c) ---------------------
 * The one monotonic clock of each tree (CLOCK_MONOTONIC / the performance
 * counter); every timeout in xipc is measured on it, and no file keeps a
 * clock of its own. */

/* Tree: monotonic time in nanoseconds since an arbitrary origin (POSIX:
 * CLOCK_MONOTONIC itself, so absolute CLOCK_MONOTONIC timeouts can be made
 * from it). */
uint64_t xipc__now_ns(void);
/* Tree: sleep for at least ms milliseconds (signals and early timer ticks
 * do not shorten it); 0 returns at once. */
void xipc__sleep_ms(unsigned ms);
/* Portable (api/time.c): the deadline of a timeout_ms (-1: none, returned
 * as UINT64_MAX; 0: now) on the xipc__now_ns() clock. */
uint64_t xipc__deadline_ns(int timeout_ms);
/* Portable: nanoseconds left until deadline (0 if it has passed,
 * INT64_MAX for UINT64_MAX, "no deadline"). */
int64_t xipc__left_ns(uint64_t deadline);
/* Portable: milliseconds left until deadline, rounded UP so that a wait of
 * that many milliseconds never ends before the deadline; -1 for "no
 * deadline", 0 once it has passed, at most INT_MAX. */
int xipc__left_ms(uint64_t deadline);

/* How long an opener waits for the creator of a shared object to publish
 * it (queue header, semaphore/mutex state, Windows size record). A creator
 * is a few instructions away from publishing unless it died or is stopped,
 * so this only bounds the wait for an object that will never be ready. */
#define XIPC__PUBLISH_WAIT_MS 1000
/* Portable (api/time.c): the one wait for a creator to publish: calls
 * published(arg) until it is true, sleeping a millisecond in between, for
 * at most XIPC__PUBLISH_WAIT_MS. True once published(arg) is; false if it
 * still is not when that time has passed. */
bool xipc__wait_published(bool (*published)(const void *arg), const void *arg);

/* ---- processes (api/proc.c, posix/proc.c, win32/proc.c) -------------- */

/* Tree: starts the child. api/proc.c has checked everything: out and argv
 * are not NULL, argv[0] is not empty, o is not NULL, its flags are known and
 * its stdio modes valid and consistent; PIPE slots are already turned into
 * STREAM slots holding the child's end of a new pipe, so the tree sees only
 * INHERIT, NULL, STREAM, FILE and (stderr) STDOUT; STREAM streams and every
 * pass[i] have an OS handle; FILE paths are not NULL or empty. On failure no
 * child is running and *out is untouched. */
int xipc__proc_spawn(xipc_proc **out, const char *const argv[],
                     const xipc_spawn_options *o);
/* Tree: the public functions after api/proc.c checked the arguments (p
 * not NULL, timeout_ms >= -1, st not NULL). xipc__proc_wait never returns
 * XIPC_ETIMEDOUT before timeout_ms have passed on xipc__now_ns. */
xipc_pid xipc__proc_pid(const xipc_proc *p);
xipc_pid xipc__self_pid(void);
int xipc__proc_wait(xipc_proc *p, int timeout_ms, xipc_exit_status *st);
int xipc__proc_kill(xipc_proc *p);
int xipc__proc_close(xipc_proc *p);
/* Tree: the running executable's path in a new UTF-8 string (free()). */
int xipc__exe_path(char **out);
/* Tree: xipc_args_utf8 with argc >= 0, argv and out not NULL. */
int xipc__args_utf8(int argc, char **argv, char ***out);
/* Tree: p's three slots (stdin, stdout, stderr) for the parent's ends of
 * PIPE stdio, NULL when unused; zero-initialised by the tree's spawn and
 * filled by api/proc.c. */
xipc_stream **xipc__proc_stdio(xipc_proc *p);
/* Portable: closes the streams in p's slots (xipc_proc_close, before
 * xipc__proc_close). */
void xipc__proc_stdio_close(xipc_proc *p);
/* Tree: xipc_proc_signal after the checks (p not NULL, sig an XIPC_SIG*
 * number). XIPC_ESRCH once the child has exited. */
int xipc__proc_signal(xipc_proc *p, int sig);

/* ---- xipc_proc_run's I/O (api/run.c; posix/run.c, win32/run.c) -------- */

/* One channel of the pump. ch[0] writes buf[len..cap) to s; ch[1] and
 * ch[2] read s into buf, grown with xipc__pump_room. s is NULL for a
 * channel that is not used or done. */
typedef struct {
  xipc_stream *s;
  char *buf;
  size_t len;   /* input: bytes written so far; output: bytes captured */
  size_t cap;   /* input: bytes to write; output: size of buf */
  size_t limit; /* output: XIPC_EMSGSIZE beyond this many bytes (0: none) */
} xipc__pump_chan;

/* Tree: moves bytes until every channel is done or the deadline (on the
 * xipc__now_ns clock; UINT64_MAX: none) passes. The input channel is done
 * when all its bytes are written (its stream is then shut down so the child
 * reads end of stream) or the reader has gone (XIPC_EPIPE, not an error);
 * an output channel is done at end of stream. Returns 0 when every channel
 * is done, XIPC_ETIMEDOUT at the deadline, XIPC_EMSGSIZE or XIPC_ENOMEM
 * from xipc__pump_room/xipc__pump_got, or an I/O error. Each channel's len
 * counts what was moved before it returned, whatever it returns. */
int xipc__stream_pump(xipc__pump_chan ch[3], uint64_t deadline);
/* Portable: room for reading into output channel c: grows c->buf and
 * stores the free space at c->buf + c->len in *avail (never more than one
 * byte past c->limit). 0, or XIPC_ENOMEM. */
int xipc__pump_room(xipc__pump_chan *c, size_t *avail);
/* Portable: n bytes were read into output channel c. 0, or XIPC_EMSGSIZE
 * when c now holds more than its limit (c->len is then cut to the limit). */
int xipc__pump_got(xipc__pump_chan *c, size_t n);

/* ---- streams (api/stream.c, posix/stream.c, win32/stream.c) -----------
 * api/stream.c checks arguments and owns everything portable: the framing
 * of send/recv, the read-ahead buffer, the unsent rest of a message, the
 * export token and the import registry. A tree owns the OS object. Each
 * tree defines struct xipc_stream with a struct xipc__stream_base as its
 * FIRST member, so XIPC__STREAM_BASE(s) reaches the portable part. */

/* What a stream is. */
enum {
  XIPC__STREAM_PIPE_READ = 1,
  XIPC__STREAM_PIPE_WRITE = 2,
  XIPC__STREAM_CONN = 3 /* a local connection: reads and writes */
};

/* For xipc__pipe_open: the end that will be a child's stdio. Windows opens
 * that end synchronous (children expect blocking stdio; the parent's timed
 * calls on it poll, see win32/stream.c); POSIX ignores it, since every
 * POSIX end is a blocking descriptor (per-call non-blocking I/O, see
 * posix/stream.c), which a child may use as it is. */
enum {
  XIPC__PIPE_CHILD_READ = XIPC_PIPE_CHILD_READ,
  XIPC__PIPE_CHILD_WRITE = XIPC_PIPE_CHILD_WRITE
};

struct xipc__stream_base {
  int kind;          /* XIPC__STREAM_* */
  bool shut;         /* write side ended by xipc_stream_shutdown */
  bool eof;          /* recv met end of stream */
  unsigned char *rb; /* read-ahead: bytes read from the OS, not yet used */
  size_t rcap, rpos, rend; /* rb[rpos..rend) are pending */
  unsigned char *tb; /* unsent rest of a message whose send timed out */
  size_t tlen, tpos; /* tb[tpos..tlen) still to go */
  void *watch; /* the waitset entry watching the stream, or NULL */
};
#define XIPC__STREAM_BASE(s) ((struct xipc__stream_base *)(void *)(s))

/* Tree: an anonymous pipe pair, not inheritable. On failure both outputs
 * are NULL. flags: XIPC__PIPE_CHILD_*. */
int xipc__pipe_open(xipc_stream **read_end, xipc_stream **write_end,
                    unsigned flags);
/* Tree: the stream's OS object (POSIX fd, Windows HANDLE as intptr_t),
 * still owned by s; -1 when s has none (write end after shutdown). For
 * spawn: the object may be handed to a child as it is (POSIX: a blocking
 * descriptor; Windows: see xipc__stream_os_sync). */
intptr_t xipc__stream_os_handle(const xipc_stream *s);
/* Tree: true if the OS object does synchronous (blocking) I/O, as a
 * child's stdio should: always on POSIX; on Windows an end opened without
 * FILE_FLAG_OVERLAPPED (XIPC__PIPE_CHILD_*). */
bool xipc__stream_os_sync(const xipc_stream *s);
/* Tree: up to cap (> 0) bytes; *nread 0 at end of stream. Waits until the
 * monotonic deadline (xipc__deadline_ns; UINT64_MAX: forever) and then
 * returns XIPC_ETIMEDOUT, never earlier; nothing stays pending. */
int xipc__stream_os_read(xipc_stream *s, void *buf, size_t cap, size_t *nread,
                         uint64_t deadline);
/* Tree: all n (> 0) bytes unless the deadline passes (XIPC_ETIMEDOUT) or
 * an error stops it (XIPC_EPIPE: no reader); *nwritten is what went. */
int xipc__stream_os_write(xipc_stream *s, const void *buf, size_t n,
                          size_t *nwritten, uint64_t deadline);
/* Tree: head[0..hn) then body[0..bn) as by xipc__stream_os_write of the
 * two joined (hn + bn > 0; either may be 0 with its pointer NULL), in one
 * gather system call where the OS has one (POSIX writev/sendmsg), so that
 * a framed message costs one call; *nwritten counts bytes of both. */
int xipc__stream_os_writev(xipc_stream *s, const void *head, size_t hn,
                           const void *body, size_t bn, size_t *nwritten,
                           uint64_t deadline);
/* Tree: end the write side (a pipe write end closes its OS object; a
 * connection stops sending, POSIX shutdown(SHUT_WR), and keeps reading). */
int xipc__stream_os_shutdown(xipc_stream *s);
/* Tree, test hook: POSIX: behave as on a kernel without RWF_NOWAIT for
 * pipes (poll first, then read, or write at most PIPE_BUF) while on is
 * true; returns false where there is no such fallback (Windows). */
bool xipc__stream_os_poll_fallback_for_testing(bool on);
/* Tree, test hook: forget the OS object without closing it (then
 * xipc__stream_os_handle gives -1). */
void xipc__stream_os_detach(xipc_stream *s);
/* Tree: close the OS object (if any) and free s. */
int xipc__stream_os_close(xipc_stream *s);
/* Tree: a stream of kind (XIPC__STREAM_*) for the inherited object h
 * with the sync property from the token. XIPC_ENOENT if h names no open
 * object, XIPC_EINVAL if it is not a pipe (or the wrong end where the OS
 * tells) or, for XIPC__STREAM_CONN, not a connection; XIPC_ENOTSUP for a
 * connection where the tree cannot adopt one; makes h non-inheritable. */
int xipc__stream_os_import(xipc_stream **out, intptr_t h, int kind, bool sync);

/* Portable, exposed for the framing unit test: encode the header for a
 * message of len bytes into hdr (12 bytes); returns its size (4 or 12). */
size_t xipc__frame_header_encode(unsigned char hdr[12], uint64_t len);
/* Portable: decode a header from the n bytes at p. 0 and *hlen, *len set;
 * XIPC_EAGAIN if more bytes are needed; XIPC_ECORRUPT for a negative length
 * other than -1 or an 8-byte length beyond INT64_MAX. */
int xipc__frame_header_decode(const unsigned char *p, size_t n, size_t *hlen,
                              uint64_t *len);

/* ---- local endpoints (api/listen.c, posix/listen.c, win32/listen.c) ----
 * api/listen.c checks arguments and names; a tree defines struct
 * xipc_listener and makes connection streams (kind XIPC__STREAM_CONN) that
 * its stream.c reads and writes. Deadlines are xipc__deadline_ns values
 * (UINT64_MAX: forever). */

/* Tree: listen on name, which passed xipc__check_name and is at most
 * XIPC_LISTEN_NAME_MAX long; opts non-NULL, flags valid, backlog already
 * 1..XIPC_LISTEN_BACKLOG_MAX (0 was made the default). XIPC_EEXIST when a
 * live listener has the name. *out is NULL on entry. */
int xipc__listen_os(xipc_listener **out, const char *name,
                    const xipc_listen_options *opts);
/* Tree: one connection, or XIPC_ETIMEDOUT / XIPC_EAGAIN at the deadline
 * (XIPC_EAGAIN when the caller's timeout was 0: zero_timeout), never
 * earlier, or XIPC_ECLOSED once the listener is shut down or being closed.
 * A client of another user (without XIPC_LISTEN_ANY_USER) is dropped and
 * the wait goes on. l and out non-NULL, *out NULL. */
int xipc__accept_os(xipc_listener *l, xipc_stream **out, uint64_t deadline,
                    bool zero_timeout);
/* Tree: connect to name (checked as for xipc__listen_os); flags valid
 * (XIPC_CONNECT_*). No listener: XIPC_ENOENT, at once without
 * XIPC_CONNECT_WAIT, else once the deadline has passed. Full backlog / no
 * free instance: wait for room until the deadline (XIPC_ETIMEDOUT, or
 * XIPC_EAGAIN for zero_timeout), never "busy". A listener of another user
 * (without XIPC_CONNECT_ANY_USER): XIPC_EACCES. */
int xipc__connect_os(xipc_stream **out, const char *name, unsigned flags,
                     uint64_t deadline, bool zero_timeout);
/* Tree: stop listening (the name is free for a new listen once the
 * threads inside accept have left, which they do at once); a thread
 * blocked in accept returns XIPC_ECLOSED, later accepts too, connects get
 * XIPC_ENOENT. Safe from any thread, more than once (returns 0). */
int xipc__listener_os_shutdown(xipc_listener *l);
/* Tree: shut down, wait for threads inside accept to leave, free l. */
int xipc__listener_os_close(xipc_listener *l);
/* Tree: the pid of the process at the other end of a connection (s is of
 * kind XIPC__STREAM_CONN, pid non-NULL; api/listen.c answers the rest). */
int xipc__stream_os_peer_pid(const xipc_stream *s, xipc_pid *pid);
/* Tree, test hook: while on, both sides of new connections treat every
 * peer as another user's (Windows: the client process's token and the
 * lock section's owner; POSIX: the SO_PEERCRED uid), so that the refusals
 * run without a second user. Returns false where there is no such hook. */
bool xipc__listen_os_foreign_for_testing(bool on);

/* ---- named objects (api/objects.c, posix/objects.c, win32/objects.c) ---
 * The tree enumerates this user's xipc objects; api/objects.c checks
 * arguments, decides `stale` (managed, holders known, none left), sorts
 * by name and kind, finds one object by name and kind, refuses to remove
 * a held object without XIPC_REMOVE_FORCE, and frees lists. */

/* Tree: every object of this user that the OS lets us see; *out is
 * malloc'ed (may be NULL with *n 0 when there is none; freed by api/ on
 * failure). Each entry is filled except `stale`: name without xipc's
 * suffixes, kind (a queue header decides with xipc__queue_probe), managed,
 * size, creator and created_ms (0: unknown), holders_known, nholders and
 * holders[] (ascending, no repeats; nholders 0 when not known). */
int xipc__objects_list_os(xipc_object_info **out, size_t *n);
/* Tree: remove one listed object (info from xipc__objects_list_os). The
 * portable layer has already refused listed holders without FORCE; the
 * tree re-checks what it can at the moment of removal (XIPC_EBUSY: a
 * holder now; XIPC_ENOENT: gone; XIPC_EACCES: the name now holds what is
 * not ours). XIPC_ENOTSUP where the OS cannot remove it (listeners;
 * Windows kernel objects). */
int xipc__object_remove_os(const xipc_object_info *info, unsigned flags);
/* Tree, test hook: Windows: while on, read holders from the handle table
 * also under Wine, where it is skipped because Wine 8's wineserver crashed
 * under the scan while other processes started and exited (the suite runs
 * the one test that uses it alone, RUN_SERIAL); returns true. POSIX: no
 * such scan (holders come from /proc), returns false. */
bool xipc__objects_os_holder_scan_for_testing(bool on);
/* Portable (api/queue.c), for the trees' listing: 1 if the n bytes at p,
 * the start of an object of object_size bytes, are a published queue
 * header of this version that is consistent with that size, with
 * *persistent (may be NULL) set from its flags; 0 if not (also a header
 * whose creator has not stored the magic yet). p is copied once and only
 * the copy is checked, so another process may change the bytes meanwhile. */
#define XIPC__QUEUE_HEADER_SIZE 320u
int xipc__queue_probe(const void *p, size_t n, uint64_t object_size,
                      int *persistent);

/* ---- names (api/name.c) ------------------------------------------------- */

/* Portable: the same check as xipc_name_check(). */
int xipc__check_name(const char *name);

/* ---- mapping (api/map.c, <tree>/map.c, <tree>/shm.c) ------------------- */

enum { XIPC__MAP_ANON = 1, XIPC__MAP_FILE = 2, XIPC__MAP_NAMED = 3 };

/* Tree-private part of a mapping (posix/map.h and win32/map.h define it). */
struct xipc__map_os;

/* The portable part of a mapping: api/map.c implements the cursor API on
 * data/size/pos; the tree fills data and size and owns os. */
struct xipc_map {
  unsigned char *data; /* first byte the user sees */
  size_t size;         /* bytes the user sees */
  size_t pos;          /* cursor, 0..size */
  int access;          /* XIPC_ACCESS_* */
  int kind;            /* XIPC__MAP_* */
  bool created;        /* named: this handle created the object */
  struct xipc__map_os *os;
};

/* Tree: the arguments are checked (m zeroed except access/kind; name
 * valid; length <= PTRDIFF_MAX; CREATE implies length > 0; opts non-NULL).
 * On success fill m->data, m->size, m->os (and m->created). */
int xipc__map_named_open(xipc_map *m, const char *name, size_t length,
                         unsigned flags, const xipc_map_options *opts);
/* Tree: remove the name (name is valid). */
int xipc__map_named_unlink(const char *name);
/* Tree: remove the names of managed objects left without holders. */
int xipc__map_sweep(size_t *removed);
/* Tree: path non-NULL, flags valid for access. */
int xipc__map_file_open(xipc_map *m, const char *path, size_t length,
                        uint64_t offset, unsigned flags,
                        const xipc_map_options *opts);
/* Tree: 0 < length <= PTRDIFF_MAX. */
int xipc__map_anon_open(xipc_map *m, size_t length);
/* Tree: unmap and release m->os (and apply the lifetime rule for named
 * mappings). Does not free m. */
int xipc__map_release(xipc_map *m);
/* Tree: [offset, offset + size) lies inside the mapping, size > 0, and the
 * mapping is file-backed, named or anonymous with WRITE access. */
int xipc__map_flush(xipc_map *m, size_t offset, size_t size);
/* Tree: file or anonymous mapping with WRITE access, 0 < new_size <=
 * PTRDIFF_MAX. Updates data and size. */
int xipc__map_resize(xipc_map *m, size_t new_size);
/* Tree: the OS's offset alignment for file views. */
size_t xipc__map_granularity(void);
/* Portable: Python's rules for mapping `*length` bytes at `offset` of an
 * object of `object_size` bytes: empty with length 0 -> XIPC_EINVAL ("cannot
 * mmap an empty file"), offset or length past the end -> XIPC_ERANGE, more
 * than PTRDIFF_MAX -> XIPC_ENOMEM. Sets *length when it was 0. */
int xipc__map_fit(uint64_t object_size, size_t *length, uint64_t offset);
/* Portable: xipc__map_fit for a file of file_size bytes opened with flags;
 * with XIPC_MAP_EXTEND (length > 0) the file must first grow to *grow_to
 * bytes, which is file_size when it is long enough already. */
int xipc__map_file_fit(uint64_t file_size, size_t *length, uint64_t offset,
                       unsigned flags, uint64_t *grow_to);
/* Portable: where a view for a mapping from `offset` must start: *start,
 * the multiple of xipc__map_granularity() at or below offset, and *delta,
 * the user's first byte's distance from it. XIPC_ERANGE if delta + length
 * does not fit in a size_t. */
int xipc__map_align(uint64_t offset, size_t length, uint64_t *start,
                    size_t *delta);

/* ---- signals (api/signal.c, posix/signal.c, win32/signal.c) ------------ */

/* The portable layer (api/signal.c) owns the dispositions, the dispatcher
 * loop, waiters and the alarm (on the xipc__now_ns clock); a tree supplies
 * the lock, the thread and the OS side of delivery. Signal sets are
 * bitmasks with bit (1u << sig) for XIPC_SIG* numbers. */

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
 * deadline (xipc__deadline_ns; UINT64_MAX: none). 0, or XIPC_ETIMEDOUT.
 * May return early (spuriously). */
int xipc__sig_cond_wait(uint64_t deadline);
void xipc__sig_broadcast(void);

/* Tree: create the OS resources and start the dispatcher thread, which
 * runs xipc__sig_dispatcher_main(). Called once, with the lock held,
 * before the first XIPC__SIG_OS_CATCH. */
int xipc__sig_start(void);
/* Tree: apply an XIPC__SIG_OS_* mode for sig (never XIPC_SIGKILL). Called
 * with the lock held, and only when the mode changes. It may release the
 * lock while it waits, but only after its last step that can fail. */
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

/* ---- queue (api/queue.c; posix/queue.c + posix/queue_timer.c, win32/queue.c)
 * The queue algorithm is portable; each tree provides only a way to sleep
 * until a 32-bit word in the shared mapping changes and to wake sleepers.
 * A queue has channels 0..n-1 (0: "data" for consumers, 1+i: "space in
 * ring i" for its producer, then "joiners" and "waiting for a producer
 * ring"). Linux sleeps with a shared futex on `word`; Windows ignores
 * `word` and uses one named semaphore per channel, so its
 * sleeps may return spuriously (the caller always re-checks). */
typedef struct xipc__qwait xipc__qwait;

/* Tree: per-handle waiting state for the queue called name. */
int xipc__qwait_open(xipc__qwait **out, const char *name, uint32_t channels);
void xipc__qwait_close(xipc__qwait *w);
/* Tree: sleep on channel ch while *word == seen, at most timeout_ns (-1:
 * forever). 0 on wake-up, timeout or spurious return; <0 on OS failure. */
int xipc__qwait_sleep(xipc__qwait *w, uint32_t ch, void *word, uint32_t seen,
                      int64_t timeout_ns);
/* Tree: wake every sleeper of channel ch (word has been changed); n is
 * how many are registered (Windows releases that many tokens). */
void xipc__qwait_wake(xipc__qwait *w, uint32_t ch, void *word, uint32_t n);

/* ---- process identity (posix/queue.c, win32/queue.c) --------------------
 * A process named so that a reused process id does not pass for it: what
 * a queue ring records as its owner, so that a dead owner's ring can be
 * taken over. */

/* Tree: this process as an owner: its id in the low 32 bits, a non-zero
 * tag of its start time in the high 32 bits. */
uint64_t xipc__qwait_self_owner(void);
/* Tree: false if the owner's process has exited (or never existed, or its
 * id now belongs to a process started at another time). */
bool xipc__qwait_owner_alive(uint64_t owner);

/* ---- barriers across processes (posix/queue.c, win32/queue.c) -----------
 * For a publisher that skips its fence while readers in other processes
 * run a heavy barrier before they sleep (the queue's Q_CALM). */

/* Tree: true if this process may publish without a fence because
 * xipc__qwait_heavy_barrier() covers it (Linux: registered for
 * membarrier's global expedited command); false on Windows. */
bool xipc__qwait_fast_publish(void);
/* Tree: runs a full memory barrier on every CPU that runs a thread of a
 * process for which xipc__qwait_fast_publish() said true; false if it
 * could not. */
bool xipc__qwait_heavy_barrier(void);

/* ---- persistent queue storage (posix/queue.c, win32/queue.c) -----------
 * Tree: storage of persistent queues (XIPC_QUEUE_PERSIST). create: a new
 * mapping of size zero bytes, XIPC_EEXIST if a queue of either kind has the
 * name. open: maps an existing persistent store that an xipc_map_named
 * open of the name does not find (XIPC_ENOENT if there is none; POSIX,
 * whose persistent queues are named mappings, always). unlink: removes
 * such a store (XIPC_ENOENT if none: the caller then unlinks the named
 * mapping). name is valid. */
int xipc__qstore_create(xipc_map **out, const char *name, size_t size,
                        unsigned owner); /* owner: 0 or XIPC_ANY_OWNER */
int xipc__qstore_open(xipc_map **out, const char *name);
int xipc__qstore_unlink(const char *name);

/* ---- waitset (api/waitset.c; posix/waitset.c, win32/waitset.c) ---------
 * api/waitset.c checks arguments and owns the entries, the queues (their
 * watcher slots, below, and the doorbell's rings), signals (a standing
 * claim in api/signal.c), timers (they shorten the OS wait), the streams'
 * read-ahead, the wake flag, fairness and the results. A tree owns the OS
 * multiplexer ("wos"): streams, listeners, processes and native objects,
 * the doorbell that queues ring, the kick and the native handle. One
 * thread at a time calls into a wos, except xipc__wos_kick.
 *
 * The doorbell of a waitset is named from its process id and a 32-bit id
 * (non-zero, unique among the process's open waitsets), both in lower-case
 * hex without leading zeros: POSIX the abstract datagram socket
 * "\0xipc.bell.<pid>.<id>" (a ring is one datagram whose 4 bytes are the
 * cookie, host order); Windows the named manual-reset event
 * "xipc.bell.<pid>.<id>" in the session namespace (a ring sets it, the
 * cookie is not carried). */

enum {
  XIPC__WE_QUEUE = 1,
  XIPC__WE_STREAM = 2,
  XIPC__WE_LISTENER = 3,
  XIPC__WE_PROC = 4,
  XIPC__WE_NATIVE = 5,
  XIPC__WE_SIGNALS = 6,
  XIPC__WE_TIMER = 7
};

/* The part of a waitset entry the tree sees. api/waitset.c allocates it
 * (inside a larger portable record; the address is stable while it is in
 * the set) and fills it before xipc__wos_add; the tree keeps its own
 * per-entry state in `os` (set in add, freed in remove). */
typedef struct xipc__went {
  int kind;        /* XIPC__WE_* */
  unsigned events; /* XIPC_WAIT_READABLE / _WRITABLE asked for (LISTENER and
                      PROC: READABLE) */
  void *user;
  union {
    xipc_queue *queue;
    xipc_stream *stream;
    xipc_listener *listener;
    xipc_proc *proc;
    intptr_t native;
  } o;
  uint32_t cookie; /* QUEUE: what its rings carry (unique in the set) */
  void *os;        /* tree */
} xipc__went;

/* What the OS reports for one entry. */
typedef struct {
  xipc__went *e;
  unsigned events; /* XIPC_WAIT_*; HANGUP without being asked */
} xipc__wready;

typedef struct xipc__wos xipc__wos;

/* Tree: a new multiplexer with its doorbell (its id in *bell) and kick.
 * XIPC_ENOMEM, or the OS error. */
int xipc__wos_open(xipc__wos **out, uint32_t *bell);
/* Tree: frees o (every entry was removed before). */
void xipc__wos_close(xipc__wos *o);
/* Tree: start watching e, of kind STREAM, LISTENER, PROC or NATIVE, for
 * e->events. Checked already: e's object non-NULL, events valid for the
 * kind (a stream's direction matches; see xipc_waitset_add_*). The tree
 * answers what only it can tell: XIPC_EINVAL (a native object that is not
 * an open descriptor / a waitable handle or socket), XIPC_EPERM (POSIX:
 * a regular file), XIPC_ENOTSUP (no pidfd), XIPC_ENOMEM. */
int xipc__wos_add(xipc__wos *o, xipc__went *e);
/* Tree: stop watching e (added before); nothing stays pending. */
void xipc__wos_remove(xipc__wos *o, xipc__went *e);
/* Tree: wait until the deadline (xipc__deadline_ns; 0: only look;
 * UINT64_MAX: none) for any of: OS entries ready (every entry that is
 * ready now is reported, level-triggered, up to cap, rotating when more
 * are ready: out[0..*n)); doorbell rings (the cookies, deduplicated or
 * not, in bells[0..*nb), at most bcap; *nb = SIZE_MAX when the doorbell
 * rang and the tree cannot say, or may have lost, which cookies: every
 * queue is then checked); a kick (*kicked true; the kick is consumed).
 * Returns 0 as soon as any of these is there, or at the deadline with
 * nothing; an OS failure is an error. Spurious returns are allowed but
 * must be rare. */
int xipc__wos_wait(xipc__wos *o, uint64_t deadline, xipc__wready *out,
                   size_t cap, size_t *n, uint32_t *bells, size_t bcap,
                   size_t *nb, bool *kicked);
/* Tree: make a wait in progress, or the next one, return with *kicked.
 * Any thread; POSIX: async-signal-safe. */
void xipc__wos_kick(xipc__wos *o);
/* Tree: while on, the native handle stays readable / signaled even when
 * no OS entry is ready (the portable layer has events for the caller);
 * set by api/ at the end of every wait once the caller asked for the
 * native handle (before that api/ calls neither this nor xipc__wos_timer).
 * The native handle is also readable / signaled while an OS entry is
 * ready, the doorbell has rung or a kick is pending. */
void xipc__wos_pending(xipc__wos *o, bool on);
intptr_t xipc__wos_native(xipc__wos *o);
/* Tree: the next timer of the set falls due at deadline (xipc__now_ns
 * clock; UINT64_MAX: no timer): from then on the native handle is
 * readable / signaled (POSIX a timerfd, Windows a waitable timer in the
 * set), so that another event loop sees timers too; a wait that sees it
 * fire just returns (the portable layer reports the timer). Set by api/
 * at the end of every wait and after timer changes. 0 or an OS error. */
int xipc__wos_timer(xipc__wos *o, uint64_t deadline);

/* Tree: a counter of the waitsets that watch p / l, changed by
 * api/waitset.c with atomic operations (xipc_proc_close and
 * xipc_listener_close return XIPC_EBUSY while it is not 0). */
unsigned *xipc__proc_watchers(xipc_proc *p);
unsigned *xipc__listener_watchers(xipc_listener *l);

/* Portable (api/waitset.c): api/stream.c calls it when a read or recv on a
 * stream that a waitset watches (base.watch != NULL) left bytes in the
 * read-ahead, which the OS cannot see: the waitset checks that stream at
 * its next wait (and is kicked if it waits now). */
void xipc__waitset_stream_note(void *watch);

/* Queue watcher slots (api/queue.c). A queue header has
 * XIPC_WAITSET_QUEUE_WATCHERS slots in space that older layouts left as
 * padding: {owner: the waitset process's xipc__qwait_self_owner(), bell:
 * id << 32 | cookie}. A waker of the data, space or slot channel that
 * finds the armed bit set rings every live slot (before it clears the
 * bit, so that a waker killed in between leaves the bit for the next
 * one) and pays one load more than before while no slot is in use. */

/* Portable: claim a slot for the waitset with doorbell id bell and the
 * entry's cookie (slots of dead owners are reclaimed). 0 and *slot, or
 * XIPC_EBUSY (all slots live), XIPC_ECORRUPT. */
int xipc__queue_watch(xipc_queue *q, uint32_t bell, uint32_t cookie,
                      int *slot);
/* Portable: free the slot from xipc__queue_watch (only if it still holds
 * what was stored there). */
void xipc__queue_unwatch(xipc_queue *q, int slot, uint32_t bell,
                         uint32_t cookie);
/* Portable: what q is ready for now among events (XIPC_WAIT_*, HANGUP
 * when shut down) into *ready; with nothing ready and arm true, arm the
 * channels of events (store the slot again if another process overwrote
 * it) so that the next change rings the doorbell, and check once more
 * after arming. 0, or XIPC_ECORRUPT (then *ready has the events asked for
 * and HANGUP), or (rare) XIPC_EAGAIN with *ready 0: nothing is ready but
 * the queue could not be armed reliably (the heavy barrier failed, or
 * another process kept changing the channel or the slot): look again
 * within about a millisecond instead of sleeping. */
int xipc__queue_arm(xipc_queue *q, unsigned events, int slot, uint32_t bell,
                    uint32_t cookie, bool arm, unsigned *ready);
/* Portable: the waitsets watching this handle (xipc_queue_close returns
 * XIPC_EBUSY while it is not 0), changed with atomic operations. */
unsigned *xipc__queue_watchers(xipc_queue *q);
/* Where the slots lie in the header (byte offsets, checked by api/queue.c's
 * static asserts; the conformance suite scribbles on them): slots 0-2 from
 * _0, 3-4 from _3, 5-7 from _5, 16 bytes each {owner, bell}, and the
 * 32-bit count of slots in use (a hint for wakers). */
#define XIPC__QUEUE_WATCH_OFFSET_0 72u
#define XIPC__QUEUE_WATCH_OFFSET_3 224u
#define XIPC__QUEUE_WATCH_OFFSET_5 272u
#define XIPC__QUEUE_WATCH_OFFSET(i)                                          \
  ((i) < 3 ? XIPC__QUEUE_WATCH_OFFSET_0 + 16u * (i)                          \
   : (i) < 5 ? XIPC__QUEUE_WATCH_OFFSET_3 + 16u * ((i) - 3)                  \
             : XIPC__QUEUE_WATCH_OFFSET_5 + 16u * ((i) - 5))
#define XIPC__QUEUE_WATCHERS_OFFSET 144u

/* Tree: ring the doorbell `bell` (32-bit id) of the waitset process
 * `owner` (as a slot holds them: the caller checked only owner's pid and
 * bell are not 0) with cookie, never blocking. slot (0 ..
 * XIPC_WAITSET_QUEUE_WATCHERS - 1) indexes w's cache of opened doorbells
 * (Windows keeps the opened event per slot). 0; XIPC_ENOENT when there is
 * no such doorbell (a stale slot: the caller may clear it); other errors
 * (a full doorbell, which will wake anyway) are ignored by the caller.
 * It can only reach an xipc doorbell (the name is made from the numbers),
 * so a forged slot costs its waitset a spurious check, nothing else. */
int xipc__qwait_ring(xipc__qwait *w, unsigned slot, uint64_t owner,
                     uint32_t bell, uint32_t cookie);

/* Portable (api/signal.c): a waitset's standing claim on signals. While
 * added, the signals of `set` (bit 1u << sig) go to the claim before any
 * handler, as to a thread in xipc_signal_wait, and notify(arg) runs on the
 * dispatcher thread with the signal lock held (it must only kick) when
 * one is ready to be taken. */
typedef struct xipc__sig_watch {
  unsigned set;
  void (*notify)(void *arg);
  void *arg;
  struct xipc__sig_watch *next; /* api/signal.c's list */
} xipc__sig_watch;
int xipc__sig_watch_add(xipc__sig_watch *w);
void xipc__sig_watch_remove(xipc__sig_watch *w);
/* Takes the signals ready for w (each delivery once): their set. */
unsigned xipc__sig_watch_take(xipc__sig_watch *w);

/* ---- sync: semaphores and mutexes (api/sync.c, posix/sync.c, win32/sync.c) */

/* Private suffixes of the derived object names; each is
 * XIPC_NAME_MAX - XIPC_SYNC_NAME_MAX characters long. */
#define XIPC__SEM_SUFFIX ".xsem"
#define XIPC__MUTEX_SUFFIX ".xmtx"
#define XIPC__MUTEX_STATE_SUFFIX ".xmst" /* Windows: the mutex state mapping */
#define XIPC__LISTENER_SUFFIX ".xlsn" /* Windows: a listener's lock section */

/* Portable: writes name followed by suffix into buf, which must hold
 * XIPC_NAME_MAX + 1 bytes; name has passed the sync name check. */
void xipc__sync_name(char *buf, const char *name, const char *suffix);

/* Tree: the public functions after api/sync.c checked the arguments (handle
 * not NULL, name valid and at most XIPC_SYNC_NAME_MAX long, flags valid,
 * initial <= XIPC_SEM_VALUE_MAX, timeout_ms >= -1). */
int xipc__sem_open(xipc_sem **out, const char *name, unsigned initial,
                   unsigned flags);
int xipc__sem_wait(xipc_sem *s, int timeout_ms);
int xipc__sem_post(xipc_sem *s);
int xipc__sem_close(xipc_sem *s);
int xipc__sem_unlink(const char *name);
int xipc__mutex_open(xipc_mutex **out, const char *name, unsigned flags);
int xipc__mutex_lock(xipc_mutex *m, int timeout_ms);
int xipc__mutex_consistent(xipc_mutex *m);
int xipc__mutex_unlock(xipc_mutex *m);
int xipc__mutex_close(xipc_mutex *m);
int xipc__mutex_unlink(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* XIPC_INTERNAL_H */
