/* bench_stream: pipe throughput and latency through xipc_stream beside the
 * plain OS pipe, measured in the same run.
 *
 *   bench_stream [scale]       (default 1; 0.1 for a quick look)
 *
 * Two threads of one process, one pipe (two for the round trip):
 *  - throughput, 64 B and 64 KiB chunks: the writer writes chunks, the
 *    reader reads with a buffer of the chunk size;
 *  - round trip of 64 bytes: write, the echo thread reads 64 and writes
 *    them back, read 64;
 *  - framed 64-byte messages (xipc_stream_send / recv) against raw writes
 *    and reads of 68-byte records (the same bytes on the wire).
 * plain: Linux pipe2() with read()/write(); Windows CreatePipe() with
 * ReadFile()/WriteFile(). xipc is measured with timeout -1 (plain blocking
 * calls) and with a 10 s timeout (the timed path: a non-blocking attempt,
 * waiting only when it would block). Each row is run three times,
 * alternating plain and xipc, and the best run of each is kept. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xipc.h>

#include "bench_clock.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#endif

#define RECORD 68 /* a framed 64-byte message: 4-byte length + 64 bytes */

/* One direction of a transport. */
typedef struct {
  int kind; /* 0 plain, 1 xipc */
  int timeout_ms;
#ifdef _WIN32
  HANDLE h;
#else
  int fd;
#endif
  xipc_stream *s;
} end;

typedef struct {
  end r, w;
} pipe_t;

static void die(const char *what, int err) {
  fprintf(stderr, "bench_stream: %s: %s\n", what, xipc_strerror(err));
  exit(1);
}

static void pipe_open(pipe_t *p, int kind, int timeout_ms) {
  memset(p, 0, sizeof *p);
  p->r.kind = p->w.kind = kind;
  p->r.timeout_ms = p->w.timeout_ms = timeout_ms;
  if (kind == 1) {
    int rc = xipc_pipe(&p->r.s, &p->w.s);
    if (rc != 0)
      die("xipc_pipe", rc);
    return;
  }
#ifdef _WIN32
  if (!CreatePipe(&p->r.h, &p->w.h, NULL, 65536))
    die("CreatePipe", XIPC_EIO);
#else
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    die("pipe2", XIPC_EIO);
  p->r.fd = fds[0];
  p->w.fd = fds[1];
#endif
}

static void pipe_close(pipe_t *p) {
  if (p->r.kind == 1) {
    xipc_stream_close(p->r.s);
    xipc_stream_close(p->w.s);
    return;
  }
#ifdef _WIN32
  CloseHandle(p->r.h);
  CloseHandle(p->w.h);
#else
  close(p->r.fd);
  close(p->w.fd);
#endif
}

/* Some bytes (at least 1); 0 at end of stream. */
static size_t end_read(end *e, void *buf, size_t cap) {
  if (e->kind == 1) {
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
  ssize_t n = read(e->fd, buf, cap);
  if (n < 0)
    die("read", XIPC_EIO);
  return (size_t)n;
#endif
}

static void end_write(end *e, const void *buf, size_t n) {
  if (e->kind == 1) {
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
    ssize_t got = write(e->fd, p, n);
    if (got < 0)
      die("write", XIPC_EIO);
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

/* ---- threads ------------------------------------------------------------- */

typedef struct {
  pipe_t *a, *b; /* a: towards the worker; b: back (round trip) */
  size_t chunk;
  long long count;
  int mode; /* 0 write chunks, 1 echo, 2 send messages, 3 write records */
} job;

static void run_job(job *j) {
  char buf[65536];
  memset(buf, 'x', sizeof buf);
  for (long long i = 0; i < j->count; i++) {
    if (j->mode == 0) {
      end_write(&j->a->w, buf, j->chunk);
    } else if (j->mode == 1) {
      end_read_exact(&j->a->r, buf, j->chunk);
      end_write(&j->b->w, buf, j->chunk);
    } else if (j->mode == 2) {
      int rc = xipc_stream_send(j->a->w.s, buf, 64, j->a->w.timeout_ms);
      if (rc != 0)
        die("xipc_stream_send", rc);
    } else {
      end_write(&j->a->w, buf, RECORD);
    }
  }
}

#ifdef _WIN32
typedef HANDLE thread_t;
static DWORD WINAPI thread_main(LPVOID arg) {
  run_job(arg);
  return 0;
}
static thread_t thread_start(job *j) {
  return CreateThread(NULL, 0, thread_main, j, 0, NULL);
}
static void thread_join(thread_t t) {
  WaitForSingleObject(t, INFINITE);
  CloseHandle(t);
}
#else
typedef pthread_t thread_t;
static void *thread_main(void *arg) {
  run_job(arg);
  return NULL;
}
static thread_t thread_start(job *j) {
  pthread_t t;
  if (pthread_create(&t, NULL, thread_main, j) != 0)
    die("pthread_create", XIPC_ENOMEM);
  return t;
}
static void thread_join(thread_t t) { pthread_join(t, NULL); }
#endif

/* ---- measurements -------------------------------------------------------- */

/* Bytes per second moving total bytes in chunk-sized writes. */
static double throughput(int kind, int timeout_ms, size_t chunk,
                         long long total) {
  pipe_t p;
  char *buf = malloc(chunk);
  pipe_open(&p, kind, timeout_ms);
  job j = {&p, NULL, chunk, total / (long long)chunk, 0};
  int64_t t0 = bench_now_ns();
  thread_t t = thread_start(&j);
  long long left = j.count * (long long)chunk;
  while (left > 0)
    left -= (long long)end_read(&p.r, buf, chunk);
  int64_t t1 = bench_now_ns();
  thread_join(t);
  pipe_close(&p);
  free(buf);
  return (double)(j.count * (long long)chunk) * 1e9 / (double)(t1 - t0);
}

/* Mean round trip in nanoseconds. */
static double round_trip(int kind, int timeout_ms, long long rounds) {
  pipe_t a, b;
  char buf[64] = {0};
  pipe_open(&a, kind, timeout_ms);
  pipe_open(&b, kind, timeout_ms);
  job j = {&a, &b, 64, rounds + 1000, 1};
  thread_t t = thread_start(&j);
  int64_t t0 = 0;
  for (long long i = 0; i < rounds + 1000; i++) {
    if (i == 1000)
      t0 = bench_now_ns(); /* the first 1000 rounds warm up */
    end_write(&a.w, buf, 64);
    end_read_exact(&b.r, buf, 64);
  }
  int64_t t1 = bench_now_ns();
  thread_join(t);
  pipe_close(&a);
  pipe_close(&b);
  return (double)(t1 - t0) / (double)rounds;
}

/* Messages per second: framed 64-byte messages (xipc) or 68-byte records. */
static double messages(int kind, int timeout_ms, long long count) {
  pipe_t p;
  char buf[RECORD];
  pipe_open(&p, kind, timeout_ms);
  job j = {&p, NULL, RECORD, count, kind == 1 ? 2 : 3};
  int64_t t0 = bench_now_ns();
  thread_t t = thread_start(&j);
  for (long long i = 0; i < count; i++) {
    if (kind == 1) {
      size_t len = 0;
      int rc = xipc_stream_recv(p.r.s, buf, sizeof buf, &len, timeout_ms);
      if (rc != 0 || len != 64)
        die("xipc_stream_recv", rc);
    } else {
      end_read_exact(&p.r, buf, RECORD);
    }
  }
  int64_t t1 = bench_now_ns();
  thread_join(t);
  pipe_close(&p);
  return (double)count * 1e9 / (double)(t1 - t0);
}

typedef double (*measure_fn)(int kind, int timeout_ms, size_t size,
                             long long n);

static double m_throughput(int kind, int t, size_t size, long long n) {
  return throughput(kind, t, size, n);
}
static double m_round_trip(int kind, int t, size_t size, long long n) {
  (void)size;
  return round_trip(kind, t, n);
}
static double m_messages(int kind, int t, size_t size, long long n) {
  (void)size;
  return messages(kind, t, n);
}

/* Three alternating runs each of plain and xipc (both timeouts); prints the
 * best of each and the ratios. higher: larger is better. */
static void row(const char *name, const char *unit, double scale_out,
                bool higher, measure_fn f, size_t size, long long n) {
  double best[3] = {0, 0, 0};
  const int kinds[3] = {0, 1, 1}, timeouts[3] = {-1, -1, 10000};
  for (int rep = 0; rep < 3; rep++)
    for (int k = 0; k < 3; k++) {
      double v = f(kinds[k], timeouts[k], size, n);
      if (best[k] == 0 || (higher ? v > best[k] : v < best[k]))
        best[k] = v;
    }
  printf("%-26s plain %10.1f  xipc %10.1f (%.3fx)  xipc timed %10.1f (%.3fx) "
         "%s\n",
         name, best[0] * scale_out, best[1] * scale_out, best[1] / best[0],
         best[2] * scale_out, best[2] / best[0], unit);
  fflush(stdout);
}

int main(int argc, char **argv) {
  double scale = argc > 1 ? atof(argv[1]) : 1.0;
  if (scale <= 0)
    scale = 1.0;
#ifdef _WIN32
  const char *plain = "CreatePipe + ReadFile/WriteFile";
#else
  const char *plain = "pipe2 + read/write";
#endif
  printf("bench_stream: plain = %s; ratios are xipc / plain (same run)\n",
         plain);
  row("throughput 64 B chunks", "MB/s", 1e-6, true, m_throughput, 64,
      (long long)(32e6 * scale));
  row("throughput 64 KiB chunks", "MB/s", 1e-6, true, m_throughput, 65536,
      (long long)(2e9 * scale));
  row("round trip 64 B", "us", 1e-3, false, m_round_trip, 64,
      (long long)(20000 * scale));
  row("framed 64 B vs 68 B records", "k msg/s", 1e-3, true, m_messages, 64,
      (long long)(500000 * scale));
  return 0;
}
