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
  xipc_stream *stdio[3]; /* parent's ends of PIPE stdio (api/proc.c) */
  unsigned watchers;     /* waitsets watching p (api/waitset.c) */
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

/* ---- handles: the child inherits its stdio and the passed streams ------
 *
 * The stdio handles are inheritable duplicates made for this spawn and
 * closed after it. A passed stream must keep its handle value, so its own
 * handle is made inheritable for the spawn and restored afterwards. Both go
 * into PROC_THREAD_ATTRIBUTE_HANDLE_LIST, so a child inherits only its own
 * handles even when another thread spawns at the same time, provided that
 * thread also uses a handle list (xipc always does); a CreateProcess with
 * bInheritHandles and no list elsewhere in the program could pick them up
 * meanwhile. */

static HANDLE inheritable_dup(HANDLE h) {
  HANDLE dup = NULL;
  if (h == NULL || h == INVALID_HANDLE_VALUE)
    return NULL;
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &dup, 0,
                       TRUE, DUPLICATE_SAME_ACCESS))
    return INVALID_HANDLE_VALUE;
  return dup;
}

static HANDLE open_file(const char *path, int which, unsigned flags) {
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  unsigned append = which == 1 ? XIPC_SPAWN_STDOUT_APPEND : XIPC_SPAWN_STDERR_APPEND;
  DWORD access = which == 0 ? GENERIC_READ
                 : (flags & append) ? FILE_APPEND_DATA | SYNCHRONIZE
                                    : GENERIC_WRITE;
  DWORD disp = which == 0 ? OPEN_EXISTING
               : (flags & append) ? OPEN_ALWAYS : CREATE_ALWAYS;
  int err = 0;
  wchar_t *w = xipc__utf8_to_wide(path, &err);
  HANDLE h;
  if (w == NULL) {
    SetLastError(err == XIPC_ENOMEM ? ERROR_NOT_ENOUGH_MEMORY
                                    : ERROR_NO_UNICODE_TRANSLATION);
    return INVALID_HANDLE_VALUE;
  }
  /* Default security: the creator's DACL, Windows' "0600". */
  h = CreateFileW(w, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                  &sa, disp, FILE_ATTRIBUTE_NORMAL, NULL);
  free(w);
  return h;
}

/* The handle that becomes stdio `which` of the child: NULL for none (an
 * INHERIT of a parent without that stream), INVALID_HANDLE_VALUE on failure
 * (GetLastError() set). */
static HANDLE stdio_handle(const xipc_spawn_options *o, int which, HANDLE out) {
  static const DWORD std_of[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
                                  STD_ERROR_HANDLE};
  const int modes[3] = {o->stdin_mode, o->stdout_mode, o->stderr_mode};
  const xipc_stream *streams[3] = {o->stdin_stream, o->stdout_stream,
                                   o->stderr_stream};
  const char *paths[3] = {o->stdin_path, o->stdout_path, o->stderr_path};
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  switch (modes[which]) {
  case XIPC_STDIO_NULL:
    return CreateFileW(L"NUL", which == 0 ? GENERIC_READ : GENERIC_WRITE,
                       FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING,
                       0, NULL);
  case XIPC_STDIO_STREAM:
    return inheritable_dup((HANDLE)xipc__stream_os_handle(streams[which]));
  case XIPC_STDIO_FILE:
    return open_file(paths[which], which, o->flags);
  case XIPC_STDIO_STDOUT:
    return inheritable_dup(out);
  default:
    return inheritable_dup(GetStdHandle(std_of[which]));
  }
}

typedef struct {
  HANDLE h[3];
  HANDLE *pass;     /* passed handles, without duplicates */
  DWORD *pass_was;  /* their HANDLE_FLAG_INHERIT before the spawn */
  size_t npass, nset;
  HANDLE *list;     /* the handle list */
  LPPROC_THREAD_ATTRIBUTE_LIST attrs;
  STARTUPINFOEXW si;
} spawn_ctx;

/* Serialises spawns that pass streams, so that one never restores a
 * passed handle to "not inheritable" while another spawn passes it too. */
static SRWLOCK pass_lock = SRWLOCK_INIT;

static void pass_restore(spawn_ctx *c) {
  for (size_t i = 0; i < c->nset; i++)
    SetHandleInformation(c->pass[i], HANDLE_FLAG_INHERIT, c->pass_was[i]);
  c->nset = 0;
}

static void ctx_free(spawn_ctx *c) {
  for (int i = 0; i < 3; i++)
    if (c->h[i] != NULL && c->h[i] != INVALID_HANDLE_VALUE)
      CloseHandle(c->h[i]);
  pass_restore(c);
  if (c->npass > 0)
    ReleaseSRWLockExclusive(&pass_lock);
  if (c->attrs != NULL)
    DeleteProcThreadAttributeList(c->attrs);
  free(c->attrs);
  free(c->list);
  free(c->pass);
  free(c->pass_was);
}

static bool listed(HANDLE *list, size_t n, HANDLE h) {
  for (size_t i = 0; i < n; i++)
    if (list[i] == h)
      return true;
  return false;
}

static int collect_pass(spawn_ctx *c, const xipc_spawn_options *o) {
  if (o->npass == 0)
    return 0;
  c->pass = calloc(o->npass, sizeof *c->pass);
  c->pass_was = calloc(o->npass, sizeof *c->pass_was);
  if (c->pass == NULL || c->pass_was == NULL)
    return xipc__fail(XIPC_ENOMEM);
  for (size_t i = 0; i < o->npass; i++) {
    HANDLE h = (HANDLE)xipc__stream_os_handle(o->pass[i]);
    if (!listed(c->pass, c->npass, h))
      c->pass[c->npass++] = h;
  }
  AcquireSRWLockExclusive(&pass_lock);
  for (size_t i = 0; i < c->npass; i++) {
    if (!GetHandleInformation(c->pass[i], &c->pass_was[i]))
      return xipc__fail_os();
    c->pass_was[i] &= HANDLE_FLAG_INHERIT;
    if (!SetHandleInformation(c->pass[i], HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT))
      return xipc__fail_os();
    c->nset = i + 1;
  }
  return 0;
}

/* Restricts inheritance to the listed handles. */
static int ctx_handle_list(spawn_ctx *c) {
  size_t n = 0, size = 0;
  c->list = calloc(3 + c->npass, sizeof *c->list);
  if (c->list == NULL)
    return xipc__fail(XIPC_ENOMEM);
  for (int i = 0; i < 3; i++)
    if (c->h[i] != NULL)
      c->list[n++] = c->h[i];
  for (size_t i = 0; i < c->npass; i++)
    c->list[n++] = c->pass[i];
  if (n == 0)
    return 0; /* nothing to inherit: create() passes bInheritHandles FALSE */
  InitializeProcThreadAttributeList(NULL, 1, 0, &size);
  c->attrs = malloc(size);
  if (c->attrs == NULL)
    return xipc__fail(XIPC_ENOMEM);
  if (!InitializeProcThreadAttributeList(c->attrs, 1, 0, &size)) {
    free(c->attrs);
    c->attrs = NULL;
    return xipc__fail_os();
  }
  if (!UpdateProcThreadAttribute(c->attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                 c->list, n * sizeof(HANDLE), NULL, NULL))
    return xipc__fail_os();
  c->si.lpAttributeList = c->attrs;
  return 0;
}

static int ctx_init(spawn_ctx *c, const xipc_spawn_options *o) {
  int rc = 0;
  memset(c, 0, sizeof *c);
  c->si.StartupInfo.cb = sizeof c->si;
  for (int i = 0; i < 3 && rc == 0; i++) {
    c->h[i] = stdio_handle(o, i, c->h[1]);
    if (c->h[i] == INVALID_HANDLE_VALUE) {
      rc = xipc__fail_os();
      c->h[i] = NULL;
    }
  }
  if (rc == 0)
    rc = collect_pass(c, o);
  if (rc == 0)
    rc = ctx_handle_list(c);
  if (rc != 0) {
    ctx_free(c);
    return rc;
  }
  c->si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  c->si.StartupInfo.hStdInput = c->h[0];
  c->si.StartupInfo.hStdOutput = c->h[1];
  c->si.StartupInfo.hStdError = c->h[2];
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

static int create(xipc_proc *p, spawn_strings *s, spawn_ctx *c,
                  unsigned xflags) {
  PROCESS_INFORMATION pi;
  DWORD flags = CREATE_UNICODE_ENVIRONMENT;
  BOOL inherit = c->si.lpAttributeList != NULL, ok;
  if (inherit)
    flags |= EXTENDED_STARTUPINFO_PRESENT;
  /* Windows' process group: besides GenerateConsoleCtrlEvent's group id,
   * it starts the child with Ctrl+C ignored, which is what keeps a Ctrl+C
   * at the console from reaching it (Ctrl+Break still does). */
  if (xflags & XIPC_SPAWN_NEW_GROUP)
    flags |= CREATE_NEW_PROCESS_GROUP;
  /* Wine's CreateProcessW fails now and then with ERROR_INTERNAL_ERROR while
   * the machine is busy starting other processes; a short retry succeeds.
   * The error means nothing about the program, so retrying is safe. */
  for (int tries = 0;; tries++) {
    ok = CreateProcessW(NULL, s->cmd, NULL, NULL, inherit, flags, s->env, s->cwd,
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
    err = create(p, &s, &c, o->flags);
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

xipc_stream **xipc__proc_stdio(xipc_proc *p) { return p->stdio; }

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

int xipc__proc_signal(xipc_proc *p, int sig) {
  /* The handle keeps the pid from being reused while it is open. */
  if (p->reaped)
    return xipc__fail(XIPC_ESRCH);
  return xipc__sig_send_process(p->process, p->pid, sig);
}

unsigned *xipc__proc_watchers(xipc_proc *p) { return &p->watchers; }

HANDLE xipc__proc_os_process(const xipc_proc *p) { return p->process; }

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
