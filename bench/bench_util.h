/* Helpers that several benchmarks share (header-only, C): a thread that
 * runs fn(arg) on both platforms, the XIPC_BENCH_* list knobs and the
 * load average line. */
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
