/* Private helpers shared by the files of the POSIX tree. */
#ifndef XIPC_POSIX_H
#define XIPC_POSIX_H

#include "internal.h"

#include <signal.h>
#include <sys/types.h>
#include <time.h>

/* ns as a timespec (posix/time.c): a relative timeout, or with an
 * xipc__now_ns() value an absolute CLOCK_MONOTONIC time. */
struct timespec xipc__timespec(uint64_t ns);

/* XIPC_SIG* number -> native signal number; 0 if there is none. */
int xipc__sig_to_native(int sig);
/* Native signal number -> XIPC_SIG* number, or -native if xipc has no name. */
int xipc__sig_from_native(int native);

/* Starts a detached thread running fn(arg) with signal mask *mask and
 * returns once it runs (posix/thread.c): 0 or an errno value. */
int xipc__thread_start(void *(*fn)(void *), void *arg, const sigset_t *mask);

/* Queue sleeps (posix/queue_timer.c): sleeps on the shared futex `word` while
 * it holds `seen`, until woken or about timeout_ns (>= 0) from now, with no
 * kernel timer of its own. True if it did (*rc: 0 or an error); false if
 * the caller must sleep with a kernel timeout instead. */
bool xipc__qtimer_sleep(void *word, uint32_t seen, int64_t timeout_ns, int *rc);

/* Object listing (posix/sync.c): whether the first n bytes of a state
 * mapping of size bytes are a semaphore's (mutex false) or a mutex's
 * header, or still all zero (its creator has not published it yet). The
 * bytes are copied once and only the copy is checked. */
bool xipc__sync_probe(const void *p, size_t n, uint64_t size, bool mutex);

/* Streams (posix/stream.c): a new stream of kind (XIPC__STREAM_*) owning
 * the blocking descriptor fd; NULL if out of memory (fd stays open). */
xipc_stream *xipc__stream_os_new(int fd, int kind);
/* Records the pid at the other end of a connection stream. */
void xipc__stream_os_set_peer(xipc_stream *s, pid_t pid);
/* Connections (posix/listen.c): 0 and the peer's pid (SO_PEERCRED) if fd
 * is a connected AF_UNIX SOCK_STREAM socket; an XIPC_E* code otherwise. */
int xipc__conn_check(int fd, pid_t *peer);

/* Waitsets (posix/waitset.c). The child's pidfd, or -1 (posix/proc.c). */
int xipc__proc_os_pidfd(const xipc_proc *p);
/* A new descriptor that polls as listener l's socket (posix/listen.c): a
 * duplicate, or a stand-in once shut down and closed; -1 with errno. */
int xipc__listener_os_watch_fd(xipc_listener *l);
/* That stand-in alone: polls as a shut-down listener, holds no name. */
int xipc__listener_os_standin(void);
/* Records the epoll set (-1: none) that watches s's descriptor, which a
 * pipe write end's shutdown takes out of it before closing (stream.c),
 * and returns the one recorded before: -1 once shutdown took it out. */
int xipc__stream_os_watch(xipc_stream *s, int epfd);

#endif
