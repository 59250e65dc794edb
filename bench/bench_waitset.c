/* bench_waitset: what waiting in an xipc_waitset costs, beside the direct
 * waits it replaces, measured in the same run.
 *
 *   bench_waitset [scale [reps]]   (defaults 1 and 11; 0.2 for a quick look)
 *
 * Rows (XIPC_BENCH_PARTS=queue,pipe,signal,idle,scale picks them):
 *  - queue: a put in this process until a consumer process has the
 *    message, one way (both processes read the same monotonic clock; the
 *    consumer sends the time back through a second queue, which this
 *    process gets with a blocking get). The consumer waits either in
 *    xipc_waitset_wait on the queue and then gets with timeout 0, or in a
 *    blocking xipc_queue_get (the peer). "asleep": this process pauses
 *    200 us before each put, so the consumer sleeps in the OS every time
 *    (a blocking get spins only while its recent waits were short);
 *    "prompt": no pause, a ping-pong.
 *  - pipe: a write until the reader thread has the bytes, one way (two
 *    threads of one process, the bytes are the write's time; the reader
 *    answers through a second pipe). The reader waits in poll() on a
 *    plain pipe (the peer), in a waitset holding that descriptor
 *    (xipc_waitset_add_native) or in a waitset holding an xipc_pipe
 *    (xipc_waitset_add_stream, written with xipc_stream_write). The
 *    writer pauses 200 us before each write.
 *  - signal: one-way latency (half the round trip) of a signal ping-pong
 *    between two processes: plain kill() with a sigaction() handler and
 *    sigsuspend() (the peer, Linux only, run in a process of its own that
 *    no xipc thread runs in); xipc_signal_send into a waitset of the other
 *    process (xipc_waitset_add_signals) on both sides; and xipc's handler
 *    (xipc_signal_handle, on the dispatcher thread) answering a process
 *    that waits in xipc_signal_wait.
 *  - idle: the CPU time (user + system, the whole process: getrusage /
 *    GetProcessTimes) of a 5 s xipc_waitset_wait on 100 objects that stay
 *    idle (49 queues, 49 pipes, a listener, a timer an hour away).
 *  - scale: ns per xipc_waitset_wait(..., timeout 0) on a set with N idle
 *    objects (N/2 queues, N/2 pipes) and one ready pipe, N = 10, 100,
 *    1000, and the ratios to N = 10 (on Linux it must not grow with N).
 *
 * Each row runs reps times, alternating its columns (each repetition of a
 * process row starts a new peer process); a repetition's value is the
 * median of its rounds, the table shows the median of the repetitions,
 * the ratio of the medians to the peer's (the first column), and in
 * brackets the range of the per-repetition ratios of the second column to
 * the first. The load average is printed before and after (Linux). On
 * Windows the Linux-only peers say n/a. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xipc.h>

#include "bench_clock.h"
#include "bench_util.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

#define MAX_REPS 51
#define MAX_COLS 3
#define IO_MS 10000
#define WARMUP 200   /* uncounted rounds before each measurement */
#define GAP_US 200   /* the pause of the "asleep" rows */
#define IDLE_MS 5000 /* the idle row's wait */
#define IDLE_OBJECTS 100
#define LOST_MS 50  /* a waitset asleep this long with a message: lost */
#define LOST_MAX 20 /* lost wake-ups after which a measurement is n/a */

static const char *self;
static long long row_lost; /* lost wake-ups in the current row */
static double scale = 1.0;
static int reps = 11;

static void die(const char *what, int err) {
  fprintf(stderr, "bench_waitset: %s: %s (%s)\n", what, xipc_strerror(err),
          xipc_err_name(err));
  exit(1);
}

static void check(const char *what, int rc) {
  if (rc != 0)
    die(what, rc);
}

static int64_t now_ns(void) { return bench_now_ns(); }

static void pause_us(int us) {
#ifdef _WIN32
  Sleep((DWORD)((us + 999) / 1000));
#else
  struct timespec ts = {0, (long)us * 1000};
  nanosleep(&ts, NULL);
#endif
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The median of v[0..n) (sorts v). */
static double median_i64(int64_t *v, long n) {
  qsort(v, (size_t)n, sizeof *v, cmp_i64);
  return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The median of the values that are not n/a (negative), or -1. */
static double median_valid(const double *v, int n) {
  double ok[MAX_REPS];
  int k = 0;
  for (int i = 0; i < n; i++)
    if (v[i] >= 0)
      ok[k++] = v[i];
  return k > 0 ? median(ok, k) : -1;
}

static long rounds_of(double n) {
  long r = (long)(n * scale);
  return r < 20 ? 20 : r;
}

static int64_t *lat_alloc(long n) {
  int64_t *v = malloc((size_t)n * sizeof *v);
  if (v == NULL)
    die("malloc", XIPC_ENOMEM);
  return v;
}

/* A name for this run's objects, new on every call. */
static void unique_name(char *buf, size_t cap, const char *what) {
  static unsigned counter;
  snprintf(buf, cap, "bench-ws-%lld-%s-%u", (long long)xipc_self_pid(), what,
           counter++);
}

/* ---- rows ---------------------------------------------------------------- */

/* One measurement of column col: a value (ns), or a negative number for
 * n/a. */
typedef double (*measure_fn)(int col, const void *arg);

typedef struct {
  const char *name;
  int ncols;
  const char *labels[MAX_COLS]; /* labels[0] is the peer */
  measure_fn fn;
  const void *arg;
  const char *target;
} row;

static void print_col(const char *label, double v, double peer) {
  if (v < 0)
    printf("  %s %8s   ", label, "n/a");
  else
    printf("  %s %8.2f us", label, v / 1000);
  if (v >= 0 && peer > 0)
    printf(" (%.3fx)", v / peer);
}

static void run_row(const row *r) {
  double v[MAX_COLS][MAX_REPS], ratio[MAX_REPS], med[MAX_COLS];
  int nratio = 0;
  row_lost = 0;
  for (int rep = 0; rep < reps; rep++) {
    for (int col = 0; col < r->ncols; col++)
      v[col][rep] = r->fn(col, r->arg);
    if (v[0][rep] > 0 && v[1][rep] >= 0)
      ratio[nratio++] = v[1][rep] / v[0][rep];
  }
  for (int col = 0; col < r->ncols; col++)
    med[col] = median_valid(v[col], reps);
  printf("%-34s", r->name);
  for (int col = 0; col < r->ncols; col++)
    print_col(r->labels[col], med[col], col > 0 ? med[0] : 0);
  if (nratio > 0) {
    double lo = ratio[0], hi = ratio[0];
    for (int i = 1; i < nratio; i++) {
      lo = ratio[i] < lo ? ratio[i] : lo;
      hi = ratio[i] > hi ? ratio[i] : hi;
    }
    printf(" [%.2f-%.2f]", lo, hi);
  }
  printf("  %s", r->target);
  if (row_lost != 0)
    printf("  LOST WAKE-UPS: %lld (a run with %d is n/a)", row_lost,
           LOST_MAX);
  printf("\n");
  fflush(stdout);
}

/* ---- queue: put -> consumer has it --------------------------------------- */

/* The consumer: "--child queue get|ws NAME". Gets time stamps from
 * NAME.a and puts back how long each took to arrive, on NAME.b; a stamp
 * of -1 ends it, and it answers that with the number of lost wake-ups. A
 * waitset that sleeps LOST_MS while a message is there has lost a
 * wake-up: it is counted (and the message taken), so that a library bug
 * shows in the row instead of stopping the benchmark; after LOST_MAX of
 * them the consumer gets with a blocking get (the column says n/a). */
static int queue_child(const char *mode, const char *name) {
  char qa[XIPC_NAME_MAX + 1], qb[XIPC_NAME_MAX + 1];
  xipc_queue *a, *b;
  xipc_waitset *w = NULL;
  bool ws = strcmp(mode, "ws") == 0;
  int64_t lost = 0;
  snprintf(qa, sizeof qa, "%s.a", name);
  snprintf(qb, sizeof qb, "%s.b", name);
  check("child: open", xipc_queue_open(&a, qa, NULL, 0));
  check("child: open", xipc_queue_open(&b, qb, NULL, 0));
  if (ws) {
    check("child: waitset", xipc_waitset_open(&w));
    check("child: add", xipc_waitset_add_queue(w, a, XIPC_WAIT_READABLE, a));
  }
  for (;;) {
    int64_t t0, dt;
    size_t len, n;
    xipc_wait_event ev;
    int rc = 0;
    if (ws && lost < LOST_MAX) {
      int wrc = xipc_waitset_wait(w, &ev, 1, &n, LOST_MS);
      if (wrc != 0 && wrc != XIPC_ETIMEDOUT)
        die("child: wait", wrc);
      rc = xipc_queue_get(a, &t0, sizeof t0, &len, 0);
      if (rc == XIPC_EAGAIN)
        continue; /* spurious, or nothing for LOST_MS */
      lost += wrc == XIPC_ETIMEDOUT;
    } else {
      rc = xipc_queue_get(a, &t0, sizeof t0, &len, IO_MS);
    }
    dt = now_ns() - t0;
    check("child: get", rc);
    check("child: put", xipc_queue_put(b, t0 < 0 ? &lost : &dt, sizeof dt,
                                       IO_MS));
    if (t0 < 0)
      break;
  }
  if (w)
    xipc_waitset_close(w);
  xipc_queue_close(a);
  xipc_queue_close(b);
  return 0;
}

static const int gap_asleep = GAP_US, gap_prompt = 0;

/* Column 0: the consumer blocks in get; 1: in a waitset. */
static double measure_queue(int col, const void *arg) {
  int gap = *(const int *)arg;
  long rounds = rounds_of(gap > 0 ? 1000 : 5000);
  char name[96], qa[128], qb[128];
  xipc_queue *a, *b;
  xipc_proc *p;
  xipc_queue_options o = {0};
  o.capacity = 4096;
  unique_name(name, sizeof name, "q");
  snprintf(qa, sizeof qa, "%s.a", name);
  snprintf(qb, sizeof qb, "%s.b", name);
  check("open", xipc_queue_open(&a, qa, &o, XIPC_CREATE | XIPC_EXCL));
  check("open", xipc_queue_open(&b, qb, &o, XIPC_CREATE | XIPC_EXCL));
  const char *argv[] = {self, "--child", "queue", col ? "ws" : "get", name,
                        NULL};
  check("spawn", xipc_proc_spawn(&p, argv, NULL));
  int64_t *lat = lat_alloc(rounds);
  for (long i = -WARMUP; i < rounds; i++) {
    int64_t t0, dt;
    size_t len;
    if (gap > 0)
      pause_us(gap);
    t0 = now_ns();
    check("put", xipc_queue_put(a, &t0, sizeof t0, IO_MS));
    check("get", xipc_queue_get(b, &dt, sizeof dt, &len, IO_MS));
    if (i >= 0)
      lat[i] = dt;
  }
  int64_t end = -1, lost;
  size_t len;
  check("put", xipc_queue_put(a, &end, sizeof end, IO_MS));
  check("get", xipc_queue_get(b, &lost, sizeof lost, &len, IO_MS));
  row_lost += lost;
  check("child", xipc_proc_wait(p, IO_MS, NULL));
  xipc_proc_close(p);
  xipc_queue_close(a);
  xipc_queue_close(b);
  double v = lost >= LOST_MAX ? -1 : median_i64(lat, rounds);
  free(lat);
  return v;
}

/* ---- pipe: write -> reader has it ---------------------------------------- */

enum { PIPE_POLL, PIPE_NATIVE, PIPE_STREAM };

typedef struct {
  int col;
  long rounds; /* with the warm-up */
#ifndef _WIN32
  int fd[2]; /* PIPE_POLL, PIPE_NATIVE */
#endif
  xipc_stream *r, *w;       /* PIPE_STREAM */
  xipc_stream *back_r, *back_w; /* the answers */
  xipc_waitset *ws;
  int64_t *lat;
} pipe_run;

/* Waits for the next stamp and reads it. */
static int64_t pipe_take(pipe_run *pr) {
  int64_t t0 = 0;
  size_t n;
  xipc_wait_event ev;
#ifndef _WIN32
  if (pr->col == PIPE_POLL) {
    struct pollfd pfd = {pr->fd[0], POLLIN, 0};
    while (poll(&pfd, 1, IO_MS) != 1)
      ;
  }
  if (pr->col != PIPE_STREAM) {
    if (pr->col == PIPE_NATIVE)
      check("wait", xipc_waitset_wait(pr->ws, &ev, 1, &n, IO_MS));
    if (read(pr->fd[0], &t0, sizeof t0) != (ssize_t)sizeof t0)
      die("read", XIPC_EIO);
    return t0;
  }
#endif
  check("wait", xipc_waitset_wait(pr->ws, &ev, 1, &n, IO_MS));
  check("read", xipc_stream_read(pr->r, &t0, sizeof t0, &n, 0));
  if (n != sizeof t0)
    die("short read", XIPC_EIO);
  return t0;
}

static void pipe_reader(void *arg) {
  pipe_run *pr = arg;
  size_t n;
  for (long i = 0; i < pr->rounds; i++) {
    int64_t t0 = pipe_take(pr);
    pr->lat[i] = now_ns() - t0;
    check("answer", xipc_stream_write(pr->back_w, "k", 1, &n, IO_MS));
  }
}

static void pipe_put(pipe_run *pr, int64_t t0) {
  size_t n;
#ifndef _WIN32
  if (pr->col != PIPE_STREAM) {
    if (write(pr->fd[1], &t0, sizeof t0) != (ssize_t)sizeof t0)
      die("write", XIPC_EIO);
    return;
  }
#endif
  check("write", xipc_stream_write(pr->w, &t0, sizeof t0, &n, IO_MS));
}

static int pipe_open(pipe_run *pr) {
  if (pr->col == PIPE_STREAM) {
    check("pipe", xipc_pipe(&pr->r, &pr->w));
    check("waitset", xipc_waitset_open(&pr->ws));
    return xipc_waitset_add_stream(pr->ws, pr->r, XIPC_WAIT_READABLE, pr);
  }
#ifdef _WIN32
  return XIPC_ENOTSUP;
#else
  if (pipe(pr->fd) != 0)
    die("pipe", XIPC_ENOSPC);
  if (pr->col == PIPE_POLL)
    return 0;
  check("waitset", xipc_waitset_open(&pr->ws));
  return xipc_waitset_add_native(pr->ws, pr->fd[0], XIPC_WAIT_READABLE, pr);
#endif
}

static void pipe_close(pipe_run *pr) {
  if (pr->ws)
    xipc_waitset_close(pr->ws);
  if (pr->r)
    xipc_stream_close(pr->r);
  if (pr->w)
    xipc_stream_close(pr->w);
#ifndef _WIN32
  if (pr->col != PIPE_STREAM) {
    close(pr->fd[0]);
    close(pr->fd[1]);
  }
#endif
}

static double measure_pipe(int col, const void *arg) {
  pipe_run pr;
  thread_t t;
  char k;
  size_t n;
  (void)arg;
  memset(&pr, 0, sizeof pr);
  pr.col = col;
  pr.rounds = WARMUP + rounds_of(1000);
  if (pipe_open(&pr) == XIPC_ENOTSUP)
    return -1;
  check("pipe", xipc_pipe(&pr.back_r, &pr.back_w));
  pr.lat = lat_alloc(pr.rounds);
  thread_start(&t, pipe_reader, &pr);
  for (long i = 0; i < pr.rounds; i++) {
    pause_us(GAP_US);
    pipe_put(&pr, now_ns());
    check("answer", xipc_stream_read(pr.back_r, &k, 1, &n, IO_MS));
  }
  thread_join(&t);
  pipe_close(&pr);
  xipc_stream_close(pr.back_r);
  xipc_stream_close(pr.back_w);
  double v = median_i64(pr.lat + WARMUP, pr.rounds - WARMUP);
  free(pr.lat);
  return v;
}

/* ---- signal: ping-pong --------------------------------------------------- */

/* The waitset peer: "--child sigws PARENT". Answers each SIGUSR1 with a
 * SIGUSR2 to PARENT, from a waitset; the first SIGUSR2 says "ready". */
static int sigws_child(xipc_pid parent) {
  const int usr1[] = {XIPC_SIGUSR1};
  xipc_waitset *w;
  xipc_alarm(600000); /* bounded: the alarm's default action ends us */
  check("child: waitset", xipc_waitset_open(&w));
  check("child: add", xipc_waitset_add_signals(w, usr1, 1, &w));
  check("child: ready", xipc_signal_send(parent, XIPC_SIGUSR2));
  for (;;) { /* until killed */
    xipc_wait_event ev;
    size_t n;
    if (xipc_waitset_wait(w, &ev, 1, &n, -1) == 0)
      xipc_signal_send(parent, XIPC_SIGUSR2);
  }
  return 0;
}

static xipc_pid handler_parent;

static void child_on_usr1(int sig, void *arg) {
  (void)sig;
  (void)arg;
  xipc_signal_send(handler_parent, XIPC_SIGUSR2);
}

/* The handler peer: "--child sighandler PARENT", as bench_signal's. */
static int sighandler_child(xipc_pid parent) {
  const int idle[] = {XIPC_SIGHUP};
  handler_parent = parent;
  xipc_alarm(600000);
  check("child: handle", xipc_signal_handle(XIPC_SIGUSR1, child_on_usr1, NULL));
  check("child: ready", xipc_signal_send(parent, XIPC_SIGUSR2));
  for (;;) /* until killed */
    xipc_signal_wait(idle, 1, -1, NULL);
  return 0;
}

/* How this process takes the answers of one signal column. */
typedef struct {
  xipc_waitset *w; /* the waitset column; NULL: xipc_signal_wait */
  long want;       /* answers so far, with the one awaited */
} sig_side;

static atomic_long answers;

/* An answer that comes while the main thread is outside xipc_signal_wait
 * runs this handler instead (as in bench_signal); both count. */
static void parent_on_usr2(int sig, void *arg) {
  (void)sig;
  (void)arg;
  atomic_fetch_add(&answers, 1);
}

static void sig_await(sig_side *s) {
  const int usr2[] = {XIPC_SIGUSR2};
  xipc_wait_event ev;
  size_t n;
  int64_t deadline = now_ns() + (int64_t)IO_MS * 1000000;
  if (s->w != NULL) {
    check("wait", xipc_waitset_wait(s->w, &ev, 1, &n, IO_MS));
    return;
  }
  s->want++;
  while (atomic_load(&answers) < s->want) {
    if (xipc_signal_wait(usr2, 1, 50, NULL) == 0)
      atomic_fetch_add(&answers, 1);
    else if (now_ns() > deadline)
      die("no answer", XIPC_ETIMEDOUT);
  }
}

static double sig_xipc(bool ws) {
  const int usr2[] = {XIPC_SIGUSR2};
  char ppid[32];
  long rounds = rounds_of(2000);
  sig_side s = {NULL, 0};
  xipc_proc *p;
  snprintf(ppid, sizeof ppid, "%lld", (long long)xipc_self_pid());
  const char *argv[] = {self, "--child", ws ? "sigws" : "sighandler", ppid,
                        NULL};
  if (ws) {
    check("waitset", xipc_waitset_open(&s.w));
    check("add", xipc_waitset_add_signals(s.w, usr2, 1, &s));
  } else {
    atomic_store(&answers, 0);
    check("handle", xipc_signal_handle(XIPC_SIGUSR2, parent_on_usr2, NULL));
  }
  check("spawn", xipc_proc_spawn(&p, argv, NULL));
  sig_await(&s); /* ready */
  int64_t *rtt = lat_alloc(rounds);
  for (long i = -WARMUP; i < rounds; i++) {
    int64_t t0 = now_ns();
    check("send", xipc_signal_send(xipc_proc_pid(p), XIPC_SIGUSR1));
    sig_await(&s);
    if (i >= 0)
      rtt[i] = now_ns() - t0;
  }
  xipc_proc_kill(p);
  xipc_proc_wait(p, IO_MS, NULL);
  xipc_proc_close(p);
  if (s.w)
    xipc_waitset_close(s.w);
  xipc_signal_default(XIPC_SIGUSR2);
  double v = median_i64(rtt, rounds) / 2;
  free(rtt);
  return v;
}

#ifndef _WIN32
#include "bench_plain_signal.h"

/* "--child sigplain ROUNDS": bench_signal's plain peer, in a process that
 * has no xipc thread (a signal would else land on one of them); prints
 * the median one-way latency in ns. */
static int sigplain_main(long rounds) {
  struct sigaction sa;
  sigset_t usr2, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = plain_parent_on_usr2;
  sigaction(SIGUSR2, &sa, NULL);
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  sigprocmask(SIG_BLOCK, &usr2, &old);
  pid_t pid = fork();
  if (pid == 0) {
    sa.sa_handler = plain_child_on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    alarm(600);
    kill(getppid(), SIGUSR2); /* ready */
    for (;;)
      pause();
  }
  if (pid < 0)
    return 1;
  plain_await(&old);
  int64_t *rtt = lat_alloc(rounds);
  for (long i = -WARMUP; i < rounds; i++) {
    int64_t t0 = now_ns();
    kill(pid, SIGUSR1);
    plain_await(&old);
    if (i >= 0)
      rtt[i] = now_ns() - t0;
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  printf("%.0f\n", median_i64(rtt, rounds) / 2);
  free(rtt);
  return 0;
}
#endif

static double sig_plain(void) {
#ifdef _WIN32
  return -1;
#else
  char n[32];
  snprintf(n, sizeof n, "%ld", rounds_of(2000));
  const char *argv[] = {self, "--child", "sigplain", n, NULL};
  xipc_run_options o = {.timeout_ms = 120000, .max_output = 256};
  xipc_run_result r;
  int rc = xipc_proc_run(argv, &o, &r);
  double v = rc == 0 && r.status.exited && r.status.exit_code == 0
                 ? atof(r.out)
                 : -1;
  xipc_run_result_free(&r);
  return v;
#endif
}

static double measure_signal(int col, const void *arg) {
  (void)arg;
  return col == 0 ? sig_plain() : sig_xipc(col == 1);
}

/* ---- idle: CPU of a long wait on 100 objects ----------------------------- */

/* CPU time of this process (all threads, user + system) in ns. */
static int64_t cpu_ns(void) {
#ifdef _WIN32
  FILETIME c, e, k, u;
  if (!GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u))
    return 0;
  uint64_t kt = ((uint64_t)k.dwHighDateTime << 32) | k.dwLowDateTime;
  uint64_t ut = ((uint64_t)u.dwHighDateTime << 32) | u.dwLowDateTime;
  return (int64_t)(kt + ut) * 100;
#else
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
         ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
#endif
}

/* Objects for a set: nq queues and np pipes (both ends kept, so the read
 * ends stay idle), one listener if listener is true. */
typedef struct {
  size_t nq, np;
  xipc_queue **q;
  xipc_stream **r, **w;
  xipc_listener *l;
} objects;

static void objects_open(objects *o, size_t nq, size_t np, bool listener) {
  xipc_queue_options qo = {0};
  char name[96];
  qo.capacity = 256;
  qo.max_producers = 1;
  memset(o, 0, sizeof *o);
  o->q = calloc(nq + 1, sizeof *o->q);
  o->r = calloc(np + 1, sizeof *o->r);
  o->w = calloc(np + 1, sizeof *o->w);
  if (o->q == NULL || o->r == NULL || o->w == NULL)
    die("calloc", XIPC_ENOMEM);
  for (; o->nq < nq; o->nq++) {
    unique_name(name, sizeof name, "idle");
    check("queue", xipc_queue_open(&o->q[o->nq], name, &qo,
                                   XIPC_CREATE | XIPC_EXCL));
  }
  for (; o->np < np; o->np++)
    check("pipe", xipc_pipe(&o->r[o->np], &o->w[o->np]));
  if (listener) {
    unique_name(name, sizeof name, "l");
    check("listen", xipc_listen(&o->l, name, NULL));
  }
}

/* Adds every object to w, named by its own address. */
static void objects_add(const objects *o, xipc_waitset *w) {
  for (size_t i = 0; i < o->nq; i++)
    check("add queue",
          xipc_waitset_add_queue(w, o->q[i], XIPC_WAIT_READABLE, o->q[i]));
  for (size_t i = 0; i < o->np; i++)
    check("add pipe",
          xipc_waitset_add_stream(w, o->r[i], XIPC_WAIT_READABLE, o->r[i]));
  if (o->l)
    check("add listener", xipc_waitset_add_listener(w, o->l, o->l));
}

static void objects_close(objects *o) {
  for (size_t i = 0; i < o->nq; i++)
    xipc_queue_close(o->q[i]);
  for (size_t i = 0; i < o->np; i++) {
    xipc_stream_close(o->r[i]);
    xipc_stream_close(o->w[i]);
  }
  if (o->l)
    xipc_listener_close(o->l);
  free(o->q);
  free(o->r);
  free(o->w);
}

static void run_idle(void) {
  objects o;
  xipc_waitset *w;
  xipc_wait_event ev;
  size_t n;
  int times = reps < 3 ? reps : 3;
  double cpu[MAX_REPS], wall[MAX_REPS];
  objects_open(&o, (IDLE_OBJECTS - 2) / 2, (IDLE_OBJECTS - 2) / 2, true);
  check("waitset", xipc_waitset_open(&w));
  objects_add(&o, w);
  check("timer", xipc_waitset_add_timer(w, 3600 * 1000, 0, &o));
  for (int i = 0; i < times; i++) {
    int64_t c0 = cpu_ns(), t0 = now_ns();
    int rc = xipc_waitset_wait(w, &ev, 1, &n, IDLE_MS);
    wall[i] = (double)(now_ns() - t0);
    cpu[i] = (double)(cpu_ns() - c0);
    if (rc != XIPC_ETIMEDOUT)
      die("idle wait did not time out", rc);
  }
  xipc_waitset_close(w);
  objects_close(&o);
  printf("%-34s  CPU %8.3f ms (user + system, whole process) in a %.2f s "
         "wait, median of %d  Linux target < 5 ms\n",
         "idle 5 s, 100 objects", median(cpu, times) / 1e6,
         median(wall, times) / 1e9, times);
  fflush(stdout);
}

/* ---- scale: wait(0) with N idle objects and one ready -------------------- */

static const size_t scale_n[MAX_COLS] = {10, 100, 1000};

typedef struct {
  objects o[MAX_COLS];
  xipc_stream *ready_r[MAX_COLS], *ready_w[MAX_COLS];
  xipc_waitset *w[MAX_COLS];
} scale_sets;

static void scale_open(scale_sets *s) {
  size_t n;
  for (int i = 0; i < MAX_COLS; i++) {
    objects_open(&s->o[i], scale_n[i] / 2, scale_n[i] - scale_n[i] / 2, false);
    check("waitset", xipc_waitset_open(&s->w[i]));
    objects_add(&s->o[i], s->w[i]);
    check("pipe", xipc_pipe(&s->ready_r[i], &s->ready_w[i]));
    check("write", xipc_stream_write(s->ready_w[i], "x", 1, &n, IO_MS));
    check("add", xipc_waitset_add_stream(s->w[i], s->ready_r[i],
                                         XIPC_WAIT_READABLE, s->ready_r[i]));
  }
}

static void scale_close(scale_sets *s) {
  for (int i = 0; i < MAX_COLS; i++) {
    xipc_waitset_close(s->w[i]);
    xipc_stream_close(s->ready_r[i]);
    xipc_stream_close(s->ready_w[i]);
    objects_close(&s->o[i]);
  }
}

static double measure_scale(int col, const void *arg) {
  const scale_sets *s = arg;
  xipc_wait_event ev[8];
  size_t n;
  long calls = rounds_of(100000);
  for (long i = 0; i < 1000; i++) /* warm */
    check("wait", xipc_waitset_wait(s->w[col], ev, 8, &n, 0));
  int64_t t0 = now_ns();
  for (long i = 0; i < calls; i++)
    check("wait", xipc_waitset_wait(s->w[col], ev, 8, &n, 0));
  int64_t dt = now_ns() - t0;
  if (n != 1 || ev[0].user != s->ready_r[col])
    die("the ready pipe was not the one event", XIPC_EIO);
  return (double)dt / (double)calls;
}

static void run_scale(void) {
  scale_sets s;
  row r = {"wait(0), N idle + 1 ready",
           MAX_COLS,
           {"N=10", "N=100", "N=1000"},
           measure_scale,
           &s,
           ""};
  double v[MAX_COLS][MAX_REPS], med[MAX_COLS];
  scale_open(&s);
  for (int rep = 0; rep < reps; rep++)
    for (int col = 0; col < MAX_COLS; col++)
      v[col][rep] = r.fn(col, r.arg);
  for (int col = 0; col < MAX_COLS; col++)
    med[col] = median(v[col], reps);
  scale_close(&s);
  printf("%-34s", r.name);
  for (int col = 0; col < MAX_COLS; col++)
    printf("  %s %8.0f ns", r.labels[col], med[col]);
  printf("  ratio 100/10 %.3fx, 1000/10 %.3fx  target: does not grow "
         "(Linux)\n",
         med[1] / med[0], med[2] / med[0]);
  fflush(stdout);
}

/* ---- main ---------------------------------------------------------------- */

static int child_main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[2], "queue") == 0)
    return queue_child(argv[3], argv[4]);
  if (argc == 4 && strcmp(argv[2], "sigws") == 0)
    return sigws_child(atoll(argv[3]));
  if (argc == 4 && strcmp(argv[2], "sighandler") == 0)
    return sighandler_child(atoll(argv[3]));
#ifndef _WIN32
  if (argc == 4 && strcmp(argv[2], "sigplain") == 0)
    return sigplain_main(atol(argv[3]));
#endif
  fprintf(stderr, "bench_waitset: bad child arguments\n");
  return 2;
}

/* The rows of 1000 objects need some 1600 descriptors. */
static void raise_fd_limit(void) {
#ifndef _WIN32
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
#endif
}

int main(int argc, char **argv) {
  static char path[4096];
  if (argc >= 2 && strcmp(argv[1], "--child") == 0) {
    if (argc == 4 && strcmp(argv[2], "sigplain") == 0)
      return child_main(argc, argv); /* before any xipc call */
    check("exe path", xipc_exe_path(path, sizeof path, NULL));
    self = path;
    return child_main(argc, argv);
  }
  scale = argc > 1 ? atof(argv[1]) : 1.0;
  reps = argc > 2 ? atoi(argv[2]) : 11;
  if (scale <= 0)
    scale = 1.0;
  if (reps < 1 || reps > MAX_REPS)
    reps = 11;
  check("exe path", xipc_exe_path(path, sizeof path, NULL));
  self = path;
  raise_fd_limit();
  print_load("before");
  printf("bench_waitset %s: one-way latencies, medians of %d runs; ratios "
         "are medians / the first column's median (same run), [range of "
         "the second / the first per run]\n",
         xipc_version(), reps);
  fflush(stdout);
  const row rows[] = {
      {"queue, consumer asleep", 2, {"get", "waitset"}, measure_queue,
       &gap_asleep, "Linux target <= 1.2x"},
      {"queue, prompt ping-pong", 2, {"get", "waitset"}, measure_queue,
       &gap_prompt, "(information)"},
      {"pipe, reader asleep", 3, {"poll", "ws native", "ws stream"},
       measure_pipe, NULL, "Linux target <= 1.1x"},
      {"signal ping-pong", 3, {"kill+sigaction", "waitset", "handler"},
       measure_signal, NULL, "Linux target <= 1.2x"},
  };
  const char *const parts[] = {"queue", "queue", "pipe", "signal"};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    if (listed("XIPC_BENCH_PARTS", parts[i]))
      run_row(&rows[i]);
  if (listed("XIPC_BENCH_PARTS", "idle"))
    run_idle();
  if (listed("XIPC_BENCH_PARTS", "scale"))
    run_scale();
  print_load("after");
  return 0;
}
