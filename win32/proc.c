#include "win32.h"

#include <shellapi.h>

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

struct xipc_proc {
  HANDLE process;
  DWORD pid;
  bool reaped;
  xipc_exit_status status;
};

/* STATUS_CONTROL_C_EXIT: how Windows ends a process on Ctrl+C. */
#define XIPC__CONTROL_C_EXIT 0xC000013AUL

/* ---- command line: quoting that CommandLineToArgvW and every CRT undo ---- */

typedef struct {
  wchar_t *p;
  size_t len, cap;
} wbuf;

static bool wb_put(wbuf *b, wchar_t c, size_t times) {
  if (b->len + times + 1 > b->cap) {
    size_t cap = (b->cap + times + 1) * 2;
    wchar_t *p = realloc(b->p, cap * sizeof *p);
    if (p == NULL)
      return false;
    b->p = p;
    b->cap = cap;
  }
  while (times-- > 0)
    b->p[b->len++] = c;
  b->p[b->len] = 0;
  return true;
}

static bool needs_quotes(const wchar_t *a) {
  return a[0] == 0 || wcspbrk(a, L" \t\n\v\"") != NULL;
}

/* Backslashes are literal unless they precede a quote; before a quote (or
 * the closing quote) they are doubled, and an embedded quote is escaped. */
static bool quote_arg(wbuf *b, const wchar_t *a) {
  bool ok = true;
  if (!needs_quotes(a)) {
    for (; *a && ok; a++)
      ok = wb_put(b, *a, 1);
    return ok;
  }
  ok = wb_put(b, L'"', 1);
  for (; ok; a++) {
    size_t slashes = 0;
    while (*a == L'\\') {
      a++;
      slashes++;
    }
    if (*a == 0) {
      ok = wb_put(b, L'\\', slashes * 2);
      break;
    }
    if (*a == L'"')
      ok = wb_put(b, L'\\', slashes * 2 + 1) && wb_put(b, L'"', 1);
    else
      ok = wb_put(b, L'\\', slashes) && wb_put(b, *a, 1);
  }
  return ok && wb_put(b, L'"', 1);
}

/* argv[0] is parsed by different rules (no escapes, quotes only group), so
 * it is quoted as a whole and may not contain a quote itself. */
static bool quote_arg0(wbuf *b, const wchar_t *a) {
  bool ok = wb_put(b, L'"', 1);
  for (; *a && ok; a++)
    ok = wb_put(b, *a, 1);
  return ok && wb_put(b, L'"', 1);
}

static int build_cmdline(const char *const argv[], wchar_t **out) {
  wbuf b = {0};
  int err = 0;
  for (size_t i = 0; argv[i] != NULL && err == 0; i++) {
    wchar_t *w = xipc__utf8_to_wide(argv[i], &err);
    if (w == NULL)
      break;
    if (i == 0 && wcschr(w, L'"') != NULL)
      err = XIPC_EINVAL;
    else if (!(i == 0 ? quote_arg0(&b, w)
                      : wb_put(&b, L' ', 1) && quote_arg(&b, w)))
      err = XIPC_ENOMEM;
    free(w);
  }
  if (err != 0) {
    free(b.p);
    return xipc__fail(err);
  }
  *out = b.p;
  return 0;
}

/* "K=V\0K=V\0\0" in UTF-16 for CREATE_UNICODE_ENVIRONMENT (api/proc.c has
 * checked that every entry is K=V). */
static int build_env(const char *const *env, wchar_t **out) {
  wbuf b = {0};
  int err = 0;
  for (; *env != NULL && err == 0; env++) {
    wchar_t *w = xipc__utf8_to_wide(*env, &err);
    if (w == NULL)
      break;
    for (const wchar_t *c = w; *c && err == 0; c++)
      if (!wb_put(&b, *c, 1))
        err = XIPC_ENOMEM;
    if (err == 0 && !wb_put(&b, 0, 1))
      err = XIPC_ENOMEM;
    free(w);
  }
  if (err == 0 && !wb_put(&b, 0, 2))
    err = XIPC_ENOMEM;
  if (err != 0) {
    free(b.p);
    return xipc__fail(err);
  }
  *out = b.p;
  return 0;
}

/* ---- stdio: only these three handles are inherited ---------------------- */

static HANDLE stdio_handle(DWORD which, int mode, bool input) {
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  HANDLE h, dup = NULL;
  if (mode == XIPC_STDIO_NULL)
    return CreateFileW(L"NUL", input ? GENERIC_READ : GENERIC_WRITE,
                       FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING,
                       0, NULL);
  h = GetStdHandle(which);
  if (h == NULL || h == INVALID_HANDLE_VALUE)
    return NULL;
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &dup, 0,
                       TRUE, DUPLICATE_SAME_ACCESS))
    return NULL;
  return dup;
}

typedef struct {
  HANDLE h[3];
  LPPROC_THREAD_ATTRIBUTE_LIST attrs;
  STARTUPINFOEXW si;
} spawn_ctx;

static void ctx_free(spawn_ctx *c) {
  for (int i = 0; i < 3; i++)
    if (c->h[i] != NULL && c->h[i] != INVALID_HANDLE_VALUE)
      CloseHandle(c->h[i]);
  if (c->attrs != NULL) {
    DeleteProcThreadAttributeList(c->attrs);
    free(c->attrs);
  }
}

/* Restricts inheritance to the stdio handles, so handles another thread
 * makes inheritable meanwhile do not leak into this child. */
static void ctx_handle_list(spawn_ctx *c) {
  HANDLE list[3];
  size_t n = 0, size = 0;
  for (int i = 0; i < 3; i++)
    if (c->h[i] != NULL && c->h[i] != INVALID_HANDLE_VALUE)
      list[n++] = c->h[i];
  if (n == 0)
    return;
  InitializeProcThreadAttributeList(NULL, 1, 0, &size);
  c->attrs = malloc(size);
  if (c->attrs == NULL || !InitializeProcThreadAttributeList(c->attrs, 1, 0, &size)) {
    free(c->attrs);
    c->attrs = NULL;
    return;
  }
  if (!UpdateProcThreadAttribute(c->attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                 list, n * sizeof(HANDLE), NULL, NULL)) {
    DeleteProcThreadAttributeList(c->attrs);
    free(c->attrs);
    c->attrs = NULL;
    return;
  }
  c->si.lpAttributeList = c->attrs;
}

static int ctx_init(spawn_ctx *c, const xipc_spawn_options *o) {
  memset(c, 0, sizeof *c);
  c->si.StartupInfo.cb = sizeof c->si;
  c->h[0] = stdio_handle(STD_INPUT_HANDLE, o->stdin_mode, true);
  c->h[1] = stdio_handle(STD_OUTPUT_HANDLE, o->stdout_mode, false);
  c->h[2] = stdio_handle(STD_ERROR_HANDLE, o->stderr_mode, false);
  for (int i = 0; i < 3; i++)
    if (c->h[i] == INVALID_HANDLE_VALUE) {
      int err = xipc__fail_os();
      c->h[i] = NULL;
      ctx_free(c);
      return err;
    }
  c->si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  c->si.StartupInfo.hStdInput = c->h[0];
  c->si.StartupInfo.hStdOutput = c->h[1];
  c->si.StartupInfo.hStdError = c->h[2];
  ctx_handle_list(c);
  return 0;
}

typedef struct {
  wchar_t *cmd, *env, *cwd;
} spawn_strings;

static int strings_init(spawn_strings *s, const char *const argv[],
                        const xipc_spawn_options *o) {
  int err = build_cmdline(argv, &s->cmd);
  if (err == 0 && o->env != NULL)
    err = build_env(o->env, &s->env);
  if (err == 0 && o->cwd != NULL)
    s->cwd = xipc__utf8_to_wide(o->cwd, &err);
  return err;
}

static int create(xipc_proc *p, spawn_strings *s, spawn_ctx *c) {
  PROCESS_INFORMATION pi;
  DWORD flags = CREATE_UNICODE_ENVIRONMENT;
  if (c->si.lpAttributeList != NULL)
    flags |= EXTENDED_STARTUPINFO_PRESENT;
  BOOL ok;
  /* Wine's CreateProcessW fails now and then with ERROR_INTERNAL_ERROR while
   * the machine is busy starting other processes; a short retry succeeds.
   * The error means nothing about the program, so retrying is safe. */
  for (int tries = 0;; tries++) {
    ok = CreateProcessW(NULL, s->cmd, NULL, NULL, TRUE, flags, s->env, s->cwd,
                        &c->si.StartupInfo, &pi);
    if (ok || GetLastError() != ERROR_INTERNAL_ERROR || tries == 10)
      break;
    Sleep((DWORD)(1 + tries * 5));
  }
  if (!ok)
    return xipc__fail_os();
  CloseHandle(pi.hThread);
  p->process = pi.hProcess;
  p->pid = pi.dwProcessId;
  return 0;
}

int xipc__proc_spawn(xipc_proc **out, const char *const argv[],
                     const xipc_spawn_options *o) {
  spawn_strings s = {0};
  spawn_ctx c;
  xipc_proc *p = NULL;
  int err = strings_init(&s, argv, o);
  if (err == 0 && (p = calloc(1, sizeof *p)) == NULL)
    err = xipc__fail(XIPC_ENOMEM);
  if (err == 0 && (err = ctx_init(&c, o)) == 0) {
    err = create(p, &s, &c);
    ctx_free(&c);
  }
  free(s.cmd);
  free(s.env);
  free(s.cwd);
  if (err != 0) {
    free(p);
    return err;
  }
  *out = p;
  return 0;
}

xipc_pid xipc__proc_pid(const xipc_proc *p) { return (xipc_pid)p->pid; }

xipc_pid xipc__self_pid(void) { return (xipc_pid)GetCurrentProcessId(); }

static void decode_status(xipc_proc *p, DWORD code) {
  p->reaped = true;
  memset(&p->status, 0, sizeof p->status);
  if (code > XIPC_WIN_SIGNAL_EXIT_BASE &&
      code <= XIPC_WIN_SIGNAL_EXIT_BASE + XIPC_SIGBREAK) {
    p->status.signal = (int)(code - XIPC_WIN_SIGNAL_EXIT_BASE);
  } else if (code == XIPC__CONTROL_C_EXIT) {
    p->status.signal = XIPC_SIGINT;
  } else {
    p->status.exited = 1;
    p->status.exit_code = (int)code;
  }
}

int xipc__proc_wait(xipc_proc *p, int timeout_ms, xipc_exit_status *st) {
  DWORD code;
  if (!p->reaped) {
    DWORD r = xipc__wait_one(p->process, timeout_ms);
    if (r != WAIT_OBJECT_0)
      return xipc__wait_failed(r, timeout_ms);
    if (!GetExitCodeProcess(p->process, &code))
      return xipc__fail_os();
    decode_status(p, code);
  }
  *st = p->status;
  return 0;
}

int xipc__proc_kill(xipc_proc *p) {
  /* An exited child is a no-op, as on POSIX. */
  if (p->reaped || WaitForSingleObject(p->process, 0) == WAIT_OBJECT_0)
    return 0;
  if (!TerminateProcess(p->process, XIPC_WIN_SIGNAL_EXIT_BASE + XIPC_SIGKILL)) {
    if (WaitForSingleObject(p->process, 0) == WAIT_OBJECT_0)
      return 0;
    return xipc__fail_os();
  }
  return 0;
}

int xipc__proc_close(xipc_proc *p) {
  CloseHandle(p->process);
  free(p);
  return 0;
}

int xipc__exe_path(char **out) {
  int err = 0;
  wchar_t *wide = malloc(32768 * sizeof *wide);
  if (wide == NULL)
    return xipc__fail(XIPC_ENOMEM);
  DWORD wn = GetModuleFileNameW(NULL, wide, 32768);
  if (wn == 0 || wn >= 32768)
    err = xipc__fail_os();
  else if ((*out = xipc__wide_to_utf8(wide, &err)) == NULL && err == 0)
    err = XIPC_ENOMEM;
  free(wide);
  return err;
}

static void free_args(char **args) {
  for (char **a = args; *a != NULL; a++)
    free(*a);
  free(args);
}

/* The wide command line as a NULL-ended array of UTF-8 strings (an
 * argument that does not convert becomes ""); NULL when out of memory. */
static char **utf8_args(void) {
  int n = 0, err = 0;
  wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), &n);
  char **args;
  if (wargv == NULL)
    return NULL;
  args = calloc((size_t)n + 1, sizeof *args);
  for (int i = 0; args != NULL && i < n; i++) {
    if ((args[i] = xipc__wide_to_utf8(wargv[i], &err)) == NULL)
      args[i] = calloc(1, 1);
    if (args[i] == NULL) {
      free_args(args);
      args = NULL;
    }
  }
  LocalFree(wargv);
  return args;
}

int xipc__args_utf8(int argc, char **argv, char ***out) {
  static char **cached;
  int n = 0;
  /* The CRT's argv is in the ANSI code page; the wide command line is not
   * lossy. The array is kept for the life of the process. */
  char **a = InterlockedCompareExchangePointer((void **)&cached, NULL, NULL);
  if (a == NULL) {
    if ((a = utf8_args()) == NULL)
      return xipc__fail(XIPC_ENOMEM);
    char **won = InterlockedCompareExchangePointer((void **)&cached, a, NULL);
    if (won != NULL) { /* another thread won; its copy is used */
      free_args(a);
      a = won;
    }
  }
  while (a[n] != NULL)
    n++;
  /* Trust the CRT's count when it disagrees (it parsed the same line). */
  *out = n == argc ? a : argv;
  return 0;
}
