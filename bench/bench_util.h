/* Helpers that several benchmarks share (header-only, C): a thread that
 * runs fn(arg) on both platforms, the median of repetitions, the
 * XIPC_BENCH_* list knobs and the load average line. */
#ifndef XIPC_BENCH_UTIL_H
#define XIPC_BENCH_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#endif

typedef void (*thread_fn)(void *arg);
typedef struct {
  thread_fn fn;
  void *arg;
} thread_arg;

#ifdef _WIN32
typedef struct {
  HANDLE h;
  thread_arg a;
} thread_t;
static inline DWORD WINAPI thread_main(LPVOID p) {
  thread_arg *a = p;
  a->fn(a->arg);
  return 0;
}
static inline void thread_start(thread_t *t, thread_fn fn, void *arg) {
  t->a.fn = fn;
  t->a.arg = arg;
  t->h = CreateThread(NULL, 0, thread_main, &t->a, 0, NULL);
  if (t->h == NULL) {
    fprintf(stderr, "bench: CreateThread failed\n");
    exit(1);
  }
}
static inline void thread_join(thread_t *t) {
  WaitForSingleObject(t->h, INFINITE);
  CloseHandle(t->h);
}
#else
typedef struct {
  pthread_t t;
  thread_arg a;
} thread_t;
static inline void *thread_main(void *p) {
  thread_arg *a = p;
  a->fn(a->arg);
  return NULL;
}
static inline void thread_start(thread_t *t, thread_fn fn, void *arg) {
  t->a.fn = fn;
  t->a.arg = arg;
  if (pthread_create(&t->t, NULL, thread_main, &t->a) != 0) {
    fprintf(stderr, "bench: pthread_create failed\n");
    exit(1);
  }
}
static inline void thread_join(thread_t *t) { pthread_join(t->t, NULL); }
#endif

static inline int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The median of v[0..n) (n >= 1); v is left as it is. */
static inline double median(const double *v, int n) {
  double *s = malloc((size_t)n * sizeof *s);
  if (s == NULL) {
    fprintf(stderr, "bench: out of memory\n");
    exit(1);
  }
  memcpy(s, v, (size_t)n * sizeof *v);
  qsort(s, (size_t)n, sizeof *s, cmp_double);
  double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  free(s);
  return m;
}

/* True if the comma-separated list in the environment variable var is
 * unset or empty, or names word. */
static inline bool listed(const char *var, const char *word) {
  const char *list = getenv(var), *p = list;
  size_t n = strlen(word);
  if (list == NULL || list[0] == '\0')
    return true;
  while ((p = strstr(p, word)) != NULL) {
    if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
      return true;
    p += n;
  }
  return false;
}

/* "# load average WHEN: ..." from /proc/loadavg (Linux; nothing elsewhere):
 * numbers taken on a busy machine mean little. */
static inline void print_load(const char *when) {
#ifdef _WIN32
  (void)when;
#else
  char buf[128] = "?\n";
  FILE *f = fopen("/proc/loadavg", "r");
  if (f != NULL) {
    if (fgets(buf, sizeof buf, f) == NULL)
      strcpy(buf, "?\n");
    fclose(f);
  }
  printf("# load average %s: %s", when, buf);
#endif
}

#endif
