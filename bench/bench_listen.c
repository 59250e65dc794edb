/* bench_listen: local connections (xipc_listen / xipc_accept /
 * xipc_connect) beside the raw OS transport and Python's
 * multiprocessing.connection, measured in the same run.
 *
 *   bench_listen [scale [reps]]   (defaults 1 and 5; 0.1 for a quick look)
 *
 * Two threads of one process and one connection, as bench_stream does for
 * pipes (the client end writes, the accepted end reads):
 *  - throughput, 64 B and 64 KiB chunks: the writer writes chunks, the
 *    reader reads with a buffer of the chunk size;
 *  - round trip of 64 bytes: write, the echo thread reads 64 and writes
 *    them back on the same connection, read 64 (after 1000 uncounted
 *    rounds);
 *  - framed 64-byte messages (xipc_stream_send / recv) against raw writes
 *    and reads of 68-byte records (the same bytes on the wire).
 * raw: Linux socket(AF_UNIX, SOCK_STREAM) in the abstract namespace with
 * send(MSG_NOSIGNAL) / recv(); Windows (Wine: for information only) a
 * byte-mode named pipe with synchronous ReadFile / WriteFile. xipc is
 * measured with timeout -1 and with a 10 s timeout (the timed path).
 * python: python3 running multiprocessing.connection Listener / Client
 * over AF_UNIX in two processes (a thread pair would share the GIL):
 * send_bytes / recv_bytes of 64 B or 64 KiB, so its throughput rows carry
 * Python's 4-byte frame header too. It is the user's alternative, not a
 * like-for-like transport; without python3, and on Windows (where
 * Python uses message-mode pipes and the script forks), the column says
 * n/a and the header line says why.
 *
 * XIPC_BENCH_ONLY=raw,xipc,timed,python picks columns and
 * XIPC_BENCH_PARTS=thr64,thr64k,rt,framed rows (default: all);
 * XIPC_BENCH_CSW=1 (Linux) adds a line per row with the context switches
 * of this process per 1000 operations in each column (the wake-ups that
 * decide these numbers, see bench/README.md).
 *
 * Each row runs reps times, alternating raw, xipc, timed and python; the
 * table shows the median of each and the ratio of the medians to raw's,
 * with the range of the per-repetition ratios xipc / raw in brackets. The
 * load average (Linux) is printed before and after: numbers taken on a
 * busy machine mean little. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stddef.h>
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
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#define RECORD 68 /* a framed 64-byte message: 4-byte length + 64 bytes */
#define MAX_REPS 25
#define XIPC_TIMED_MS 10000

enum { RAW, XIPC, TIMED, PYTHON, NCOLS };

/* One end of a connection (both directions). */
typedef struct {
  int kind; /* RAW, XIPC or TIMED */
  int timeout_ms;
#ifdef _WIN32
  HANDLE h;
#else
  int fd;
#endif
  xipc_stream *s;
} end;

typedef struct {
  end srv, cli; /* srv: the accepted end; cli: the connecting end */
} conn;

static void die(const char *what, int err) {
  fprintf(stderr, "bench_listen: %s: %s\n", what, xipc_strerror(err));
  exit(1);
}

/* ---- opening connections ------------------------------------------------- */

static unsigned long conn_counter;

/* A fresh name per connection, so that no run meets an earlier one's. */
static void conn_name(char *buf, size_t cap, const char *prefix) {
  snprintf(buf, cap, "%s.%lld.%lu", prefix, (long long)xipc_self_pid(),
           ++conn_counter);
}

typedef struct {
  xipc_listener *l;
  xipc_stream *s;
  int rc;
} accept_job;

static void accept_main(void *p) {
  accept_job *j = p;
  j->rc = xipc_accept(j->l, &j->s, 10000);
}

/* The accept runs in a thread while this one connects, so the pair is made
 * the same way whatever the platform lets a connect do before an accept. */
static void conn_open_xipc(conn *c) {
  char name[64];
  accept_job j = {NULL, NULL, 0};
  thread_t t;
  conn_name(name, sizeof name, "bench-listen");
  int rc = xipc_listen(&j.l, name, NULL);
  if (rc != 0)
    die("xipc_listen", rc);
  thread_start(&t, accept_main, &j);
  rc = xipc_connect(&c->cli.s, name, 10000);
  thread_join(&t);
  if (rc != 0)
    die("xipc_connect", rc);
  if (j.rc != 0)
    die("xipc_accept", j.rc);
  c->srv.s = j.s;
  xipc_listener_close(j.l);
}

#ifdef _WIN32
static void conn_open_raw(conn *c) {
  char name[64];
  wchar_t path[96];
  conn_name(name, sizeof name, "xipc-bench-raw");
  swprintf(path, 96, L"\\\\.\\pipe\\%hs", name);
  c->srv.h =
      CreateNamedPipeW(path, PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
                       PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                           PIPE_REJECT_REMOTE_CLIENTS,
                       1, 65536, 65536, 0, NULL);
  if (c->srv.h == INVALID_HANDLE_VALUE)
    die("CreateNamedPipeW", XIPC_EIO);
  c->cli.h = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                         OPEN_EXISTING, 0, NULL);
  if (c->cli.h == INVALID_HANDLE_VALUE)
    die("CreateFileW", XIPC_EIO);
  if (!ConnectNamedPipe(c->srv.h, NULL) &&
      GetLastError() != ERROR_PIPE_CONNECTED)
    die("ConnectNamedPipe", XIPC_EIO);
}
#else
static void conn_open_raw(conn *c) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  char name[64];
  conn_name(name, sizeof name, "xipc-bench-raw");
  size_t n = strlen(name); /* abstract: a leading NUL, no terminator */
  memcpy(a.sun_path + 1, name, n);
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
  int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0 || bind(l, (struct sockaddr *)&a, len) != 0 || listen(l, 1) != 0)
    die("socket/bind/listen", XIPC_EIO);
  c->cli.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->cli.fd < 0 || connect(c->cli.fd, (struct sockaddr *)&a, len) != 0)
    die("connect", XIPC_EIO);
  c->srv.fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
  if (c->srv.fd < 0)
    die("accept4", XIPC_EIO);
  close(l);
}
#endif

static void conn_open(conn *c, int kind) {
  memset(c, 0, sizeof *c);
  c->srv.kind = c->cli.kind = kind;
  c->srv.timeout_ms = c->cli.timeout_ms = kind == TIMED ? XIPC_TIMED_MS : -1;
  if (kind == RAW)
    conn_open_raw(c);
  else
    conn_open_xipc(c);
}

static void end_close(end *e) {
  if (e->kind != RAW) {
    xipc_stream_close(e->s);
    return;
  }
#ifdef _WIN32
  CloseHandle(e->h);
#else
  close(e->fd);
#endif
}

static void conn_close(conn *c) {
  end_close(&c->cli);
  end_close(&c->srv);
}

/* ---- I/O ----------------------------------------------------------------- */

/* Some bytes (at least 1); 0 at end of stream. */
static size_t end_read(end *e, void *buf, size_t cap) {
  if (e->kind != RAW) {
    size_t n = 0;
    int rc = xipc_stream_read(e->s, buf, cap, &n, e->timeout_ms);
    if (rc != 0)
      die("xipc_stream_read", rc);
    return n;
  }
#ifdef _WIN32
  DWORD n = 0;
  if (!ReadFile(e->h, buf, (DWORD)cap, &n, NULL))
    return 0;
  return n;
#else
  ssize_t n = recv(e->fd, buf, cap, 0);
  if (n < 0)
    die("recv", XIPC_EIO);
  return (size_t)n;
#endif
}

static void end_write(end *e, const void *buf, size_t n) {
  if (e->kind != RAW) {
    int rc = xipc_stream_write(e->s, buf, n, NULL, e->timeout_ms);
    if (rc != 0)
      die("xipc_stream_write", rc);
    return;
  }
#ifdef _WIN32
  DWORD got = 0;
  if (!WriteFile(e->h, buf, (DWORD)n, &got, NULL) || got != n)
    die("WriteFile", XIPC_EIO);
#else
  const char *p = buf;
  while (n > 0) {
    ssize_t got = send(e->fd, p, n, MSG_NOSIGNAL);
    if (got < 0)
      die("send", XIPC_EIO);
    p += got;
    n -= (size_t)got;
  }
#endif
}

static void end_read_exact(end *e, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    size_t got = end_read(e, p, n);
    if (got == 0)
      die("unexpected end of stream", XIPC_ECLOSED);
    p += got;
    n -= got;
  }
}

/* ---- the worker thread --------------------------------------------------- */

enum { W_CHUNKS, W_ECHO, W_SEND, W_RECORDS };

typedef struct {
  conn *c;
  size_t chunk;
  long long count;
  int mode; /* W_* */
} job;

static void run_job(void *p) {
  job *j = p;
  static char buf[65536]; /* one worker at a time */
  memset(buf, 'x', sizeof buf);
  for (long long i = 0; i < j->count; i++) {
    if (j->mode == W_CHUNKS) {
      end_write(&j->c->cli, buf, j->chunk);
    } else if (j->mode == W_ECHO) {
      end_read_exact(&j->c->srv, buf, j->chunk);
      end_write(&j->c->srv, buf, j->chunk);
    } else if (j->mode == W_SEND) {
      int rc = xipc_stream_send(j->c->cli.s, buf, 64, j->c->cli.timeout_ms);
      if (rc != 0)
        die("xipc_stream_send", rc);
    } else {
      end_write(&j->c->cli, buf, RECORD);
    }
  }
}

/* ---- measurements -------------------------------------------------------- */

/* Bytes per second moving about total bytes in chunk-sized writes. */
static double throughput(int kind, size_t chunk, long long total) {
  conn c;
  thread_t t;
  char *buf = malloc(chunk);
  if (buf == NULL)
    die("malloc", XIPC_ENOMEM);
  conn_open(&c, kind);
  job j = {&c, chunk, total / (long long)chunk, W_CHUNKS};
  int64_t t0 = bench_now_ns();
  thread_start(&t, run_job, &j);
  long long left = j.count * (long long)chunk;
  while (left > 0)
    left -= (long long)end_read(&c.srv, buf, chunk);
  int64_t t1 = bench_now_ns();
  thread_join(&t);
  conn_close(&c);
  free(buf);
  return (double)(j.count * (long long)chunk) * 1e9 / (double)(t1 - t0);
}

/* Mean round trip in nanoseconds. */
static double round_trip(int kind, long long rounds) {
  conn c;
  thread_t t;
  char buf[64] = {0};
  conn_open(&c, kind);
  job j = {&c, 64, rounds + 1000, W_ECHO};
  thread_start(&t, run_job, &j);
  int64_t t0 = 0;
  for (long long i = 0; i < rounds + 1000; i++) {
    if (i == 1000)
      t0 = bench_now_ns(); /* the first 1000 rounds warm up */
    end_write(&c.cli, buf, 64);
    end_read_exact(&c.cli, buf, 64);
  }
  int64_t t1 = bench_now_ns();
  thread_join(&t);
  conn_close(&c);
  return (double)(t1 - t0) / (double)rounds;
}

/* Messages per second: framed 64-byte messages (xipc) or 68-byte records
 * (raw). */
static double messages(int kind, long long count) {
  conn c;
  thread_t t;
  char buf[RECORD];
  conn_open(&c, kind);
  job j = {&c, RECORD, count, kind == RAW ? W_RECORDS : W_SEND};
  int64_t t0 = bench_now_ns();
  thread_start(&t, run_job, &j);
  for (long long i = 0; i < count; i++) {
    if (kind == RAW) {
      end_read_exact(&c.srv, buf, RECORD);
      continue;
    }
    size_t len = 0;
    int rc = xipc_stream_recv(c.srv.s, buf, sizeof buf, &len, c.srv.timeout_ms);
    if (rc != 0 || len != 64)
      die("xipc_stream_recv", rc);
  }
  int64_t t1 = bench_now_ns();
  thread_join(&t);
  conn_close(&c);
  return (double)count * 1e9 / (double)(t1 - t0);
}

/* ---- Python's multiprocessing.connection --------------------------------- */

/* argv: mode (thr, rt, msg), size, count. Prints bytes/s (thr), ns per
 * round (rt) or messages/s (msg), measured in the parent after the child
 * said it is connected. */
static const char py_script[] =
    "import os, sys, time\n"
    "from multiprocessing.connection import Listener, Client\n"
    "mode, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
    "addr = '\\0xipc-bench-py.%d' % os.getpid()\n"
    "lst = Listener(addr, family='AF_UNIX')\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    lst.close()\n"
    "    c = Client(addr, family='AF_UNIX')\n"
    "    c.send_bytes(b'go')\n"
    "    buf = b'x' * size\n"
    "    if mode == 'rt':\n"
    "        for _ in range(count + 1000):\n"
    "            c.send_bytes(c.recv_bytes())\n"
    "    else:\n"
    "        for _ in range(count):\n"
    "            c.send_bytes(buf)\n"
    "    c.close()\n"
    "    os._exit(0)\n"
    "s = lst.accept()\n"
    "s.recv_bytes()\n"
    "if mode == 'rt':\n"
    "    buf = b'x' * size\n"
    "    for i in range(count + 1000):\n"
    "        if i == 1000:\n"
    "            t0 = time.perf_counter_ns()\n"
    "        s.send_bytes(buf)\n"
    "        s.recv_bytes()\n"
    "    t1 = time.perf_counter_ns()\n"
    "    print((t1 - t0) / count)\n"
    "else:\n"
    "    t0 = time.perf_counter_ns()\n"
    "    for _ in range(count):\n"
    "        s.recv_bytes()\n"
    "    t1 = time.perf_counter_ns()\n"
    "    per = size if mode == 'thr' else 1\n"
    "    print(count * per * 1e9 / (t1 - t0))\n"
    "os.waitpid(pid, 0)\n";

static bool have_python;   /* python3 ran the probe */
static bool wanted[NCOLS]; /* XIPC_BENCH_ONLY */

/* One Python measurement; 0 if it did not run. */
static double python_run(const char *mode, size_t size, long long count) {
  char ssize[32], scount[32];
  snprintf(ssize, sizeof ssize, "%zu", size);
  snprintf(scount, sizeof scount, "%lld", count);
  const char *argv[] = {"python3", "-c", py_script, mode, ssize, scount, NULL};
  xipc_run_options o = {.timeout_ms = 120000, .max_output = 4096};
  xipc_run_result r;
  double v = 0;
  int rc = xipc_proc_run(argv, &o, &r);
  if (rc == 0 && r.status.exited && r.status.exit_code == 0)
    v = strtod(r.out, NULL);
  else if (rc == 0 && have_python)
    fprintf(stderr, "bench_listen: python3 failed: %s\n", r.err);
  xipc_run_result_free(&r);
  return v;
}

static const char *python_state = "python3 not found (n/a)";

static void python_probe(void) {
#ifdef _WIN32
  /* Python's Windows connections are message-mode pipes without xipc's
   * framing, and the script forks: not measured there. */
  python_state = "not measured on Windows (n/a)";
#else
  const char *argv[] = {"python3", "-c",
                        "import multiprocessing.connection, os; os.fork", NULL};
  xipc_run_options o = {.timeout_ms = 30000, .max_output = 4096};
  xipc_run_result r;
  int rc = xipc_proc_run(argv, &o, &r);
  have_python = rc == 0 && r.status.exited && r.status.exit_code == 0;
  if (have_python)
    python_state = "python3 found";
  xipc_run_result_free(&r);
#endif
}

/* ---- rows ---------------------------------------------------------------- */

typedef enum { ROW_THR, ROW_RT, ROW_MSG } row_kind;

typedef struct {
  const char *part; /* its name in XIPC_BENCH_PARTS */
  const char *name, *unit;
  double scale_out; /* printed value = measured * scale_out */
  row_kind what;
  size_t size;
  long long n;    /* bytes (throughput), rounds or messages */
  long long n_py; /* the same for Python, which is slower */
} row_spec;

/* One measurement of a column that runs in this process. */
static double measure_here(const row_spec *r, int col) {
  if (r->what == ROW_THR)
    return throughput(col, r->size, r->n);
  if (r->what == ROW_RT)
    return round_trip(col, r->n);
  return messages(col, r->n);
}

/* Context switches of this process so far (Linux), 0 elsewhere. */
static long switches_now(void) {
#ifdef _WIN32
  return 0;
#else
  struct rusage u;
  if (getrusage(RUSAGE_SELF, &u) != 0)
    return 0;
  return u.ru_nvcsw + u.ru_nivcsw;
#endif
}

static double switches[NCOLS]; /* during this row, per column */

static double measure(const row_spec *r, int col) {
  if (!wanted[col])
    return 0;
  if (col != PYTHON) {
    long before = switches_now();
    double v = measure_here(r, col);
    switches[col] += (double)(switches_now() - before);
    return v;
  }
  if (col == PYTHON) {
    if (!have_python)
      return 0;
    const char *mode = r->what == ROW_THR  ? "thr"
                       : r->what == ROW_RT ? "rt"
                                           : "msg";
    long long n = r->what == ROW_THR ? r->n_py / (long long)r->size : r->n_py;
    return python_run(mode, r->size, n < 1 ? 1 : n);
  }
  return measure_here(r, col);
}

static void print_ratio(const char *label, double v, double raw,
                        double scale_out) {
  if (v <= 0)
    printf("  %s %9s          ", label, "n/a");
  else if (raw <= 0)
    printf("  %s %9.1f (  n/a )", label, v * scale_out);
  else
    printf("  %s %9.1f (%.3fx)", label, v * scale_out, v / raw);
}

static void run_row(const row_spec *r, int reps) {
  double v[NCOLS][MAX_REPS], ratio[MAX_REPS];
  memset(switches, 0, sizeof switches);
  for (int rep = 0; rep < reps; rep++) {
    for (int col = 0; col < NCOLS; col++)
      v[col][rep] = measure(r, col);
    ratio[rep] = v[RAW][rep] > 0 ? v[XIPC][rep] / v[RAW][rep] : 0;
  }
  double med[NCOLS];
  for (int col = 0; col < NCOLS; col++)
    med[col] = median(v[col], reps);
  double lo = ratio[0], hi = ratio[0];
  for (int rep = 1; rep < reps; rep++) {
    lo = ratio[rep] < lo ? ratio[rep] : lo;
    hi = ratio[rep] > hi ? ratio[rep] : hi;
  }
  if (med[RAW] > 0)
    printf("%-28s raw %9.1f", r->name, med[RAW] * r->scale_out);
  else
    printf("%-28s raw %9s", r->name, "n/a");
  print_ratio("xipc", med[XIPC], med[RAW], r->scale_out);
  if (lo > 0)
    printf(" [%.2f-%.2f]", lo, hi);
  print_ratio("timed", med[TIMED], med[RAW], r->scale_out);
  print_ratio("python", med[PYTHON], med[RAW], r->scale_out);
  printf(" %s\n", r->unit);
  if (getenv("XIPC_BENCH_CSW") != NULL) {
    double ops =
        (double)reps * (double)(r->what == ROW_THR  ? r->n / (long long)r->size
                                : r->what == ROW_RT ? r->n + 1000
                                                    : r->n);
    printf("%-28s context switches per 1000 ops: raw %.1f  xipc %.1f  "
           "timed %.1f\n",
           "", switches[RAW] * 1000 / ops, switches[XIPC] * 1000 / ops,
           switches[TIMED] * 1000 / ops);
  }
  fflush(stdout);
}

static void pick_columns(void) {
  static const char *const names[NCOLS] = {"raw", "xipc", "timed", "python"};
  for (int col = 0; col < NCOLS; col++)
    wanted[col] = listed("XIPC_BENCH_ONLY", names[col]);
}

int main(int argc, char **argv) {
  double scale = argc > 1 ? atof(argv[1]) : 1.0;
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  if (scale <= 0)
    scale = 1.0;
  if (reps < 1 || reps > MAX_REPS)
    reps = 5;
#ifdef _WIN32
  const char *raw = "byte-mode named pipe + ReadFile/WriteFile (information)";
#else
  const char *raw = "AF_UNIX SOCK_STREAM + send(MSG_NOSIGNAL)/recv";
#endif
  pick_columns();
  if (wanted[PYTHON])
    python_probe();
  print_load("before");
  printf("bench_listen: raw = %s; two threads, one connection; "
         "medians of %d runs, ratios are median / raw median (same run), "
         "[range of xipc / raw per run]\n",
         raw, reps);
  printf("python = multiprocessing.connection over AF_UNIX, two processes: "
         "%s\n",
         wanted[PYTHON] ? python_state : "not asked for (XIPC_BENCH_ONLY)");
  const row_spec rows[] = {
      {"thr64", "throughput 64 B chunks", "MB/s", 1e-6, ROW_THR, 64,
       (long long)(32e6 * scale), (long long)(8e6 * scale)},
      {"thr64k", "throughput 64 KiB chunks", "MB/s", 1e-6, ROW_THR, 65536,
       (long long)(2e9 * scale), (long long)(1e9 * scale)},
      {"rt", "round trip 64 B", "us", 1e-3, ROW_RT, 64,
       (long long)(20000 * scale), (long long)(10000 * scale)},
      {"framed", "framed 64 B vs 68 B records", "k msg/s", 1e-3, ROW_MSG, 64,
       (long long)(500000 * scale), (long long)(125000 * scale)},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    if (listed("XIPC_BENCH_PARTS", rows[i].part))
      run_row(&rows[i], reps);
  print_load("after");
  return 0;
}
