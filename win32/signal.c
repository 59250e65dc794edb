/*
 * Signals, the Windows side. Windows has no signals; xipc gives each
 * process that handles or waits for a signal a channel: an auto-reset
 * named event "Local\xipc.sig.<pid>.<sig>" (sig is the XIPC_SIG* number),
 * created with the creator's default DACL and not inheritable, which the
 * dispatcher thread (api/signal.c) watches with WaitForMultipleObjects. A
 * process that ignores a signal advertises it with an event named
 * "Local\xipc.sigign.<pid>.<sig>" that nobody waits on. Console control
 * events reach the same dispatcher through SetConsoleCtrlHandler.
 *
 * A sender looks for the channel first, then for the "ignored" marker;
 * with neither (three times over), it carries out the default action from
 * outside with TerminateProcess(XIPC_WIN_SIGNAL_EXIT_BASE + sig). A process
 * switching between "caught" and "ignored" creates the new object before
 * it drops the old one.
 */
#include "win32.h"

#include <process.h>
#include <stdio.h>
#include <stdlib.h>

static SRWLOCK lock = SRWLOCK_INIT;
static CONDITION_VARIABLE cond = CONDITION_VARIABLE_INIT;
static HANDLE wake_ev;                          /* auto-reset, unnamed */
static HANDLE channel[XIPC_SIGBREAK + 1];       /* watched by the dispatcher */
static HANDLE *retired; /* channels the dispatcher closes at its next wait */
static size_t n_retired, cap_retired;
static HANDLE ignore_marker[XIPC_SIGBREAK + 1];
static uint64_t watch_gen; /* bumped each time the dispatcher rebuilds its set */

void xipc__sig_lock(void) { AcquireSRWLockExclusive(&lock); }

void xipc__sig_unlock(void) { ReleaseSRWLockExclusive(&lock); }

void xipc__sig_broadcast(void) { WakeAllConditionVariable(&cond); }

int xipc__sig_cond_wait(uint64_t deadline) {
  DWORD ms = INFINITE;
  if (deadline != UINT64_MAX) {
    int left = xipc__left_ms(deadline); /* rounded up, at most INT_MAX */
    if (left == 0)
      return XIPC_ETIMEDOUT;
    ms = (DWORD)left;
  }
  if (!SleepConditionVariableSRW(&cond, &lock, ms, 0))
    return GetLastError() == ERROR_TIMEOUT ? XIPC_ETIMEDOUT : 0;
  return 0;
}

/* "Local\xipc.<kind>.<pid>.<sig>" in UTF-16; the name is ASCII. */
static void object_name(wchar_t *out, size_t cap, const char *kind, DWORD pid,
                        int sig) {
  char narrow[64];
  int n = snprintf(narrow, sizeof narrow, "Local\\xipc.%s.%lu.%d", kind,
                   (unsigned long)pid, sig);
  size_t i;
  for (i = 0; n > 0 && i < (size_t)n && i + 1 < cap; i++)
    out[i] = (wchar_t)narrow[i];
  out[i] = 0;
}

/* ---- the dispatcher thread ---------------------------------------------- */

void xipc__sig_wake(void) { SetEvent(wake_ev); }

/* Lock held: closes the channels retired since the last wait. */
static void close_retired(void) {
  while (n_retired > 0)
    CloseHandle(retired[--n_retired]);
  watch_gen++;
  WakeAllConditionVariable(&cond);
}

static DWORD watch_set(HANDLE *h, int *sig_of) {
  DWORD n = 0;
  AcquireSRWLockExclusive(&lock);
  close_retired();
  h[n++] = wake_ev;
  for (int sig = XIPC_SIGINT; sig <= XIPC_SIGBREAK; sig++) {
    if (channel[sig] != NULL) {
      sig_of[n] = sig;
      h[n++] = channel[sig];
    }
  }
  ReleaseSRWLockExclusive(&lock);
  return n;
}

unsigned xipc__sig_os_wait(int timeout_ms) {
  HANDLE h[XIPC_SIGBREAK + 2];
  int sig_of[XIPC_SIGBREAK + 2] = {0};
  unsigned got = 0;
  DWORD n = watch_set(h, sig_of);
  DWORD r = WaitForMultipleObjects(n, h, FALSE,
                                   timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
  if (r >= WAIT_OBJECT_0 + 1 && r < WAIT_OBJECT_0 + n)
    got |= 1u << sig_of[r - WAIT_OBJECT_0];
  /* The wait reset one event; take the others that are set too. */
  for (DWORD i = 1; i < n; i++)
    if (WaitForSingleObject(h[i], 0) == WAIT_OBJECT_0)
      got |= 1u << sig_of[i];
  return got;
}

static BOOL WINAPI console_routine(DWORD type);

static unsigned __stdcall dispatcher_thread(void *unused) {
  (void)unused;
  xipc__sig_dispatcher_main();
  return 0;
}

int xipc__sig_start(void) {
  wake_ev = CreateEventW(NULL, FALSE, FALSE, NULL);
  if (wake_ev == NULL)
    return xipc__fail_os();
  uintptr_t t = _beginthreadex(NULL, 0, dispatcher_thread, NULL, 0, NULL);
  if (t == 0) {
    int rc = xipc__fail_os();
    CloseHandle(wake_ev);
    wake_ev = NULL;
    return rc;
  }
  CloseHandle((HANDLE)t);
  /* Without a console this still succeeds; it then simply never fires. */
  SetConsoleCtrlHandler(console_routine, TRUE);
  return 0;
}

/* ---- channels and markers (lock held) ----------------------------------- */

static int create_named(HANDLE *out, const char *kind, int sig) {
  wchar_t name[64];
  object_name(name, 64, kind, GetCurrentProcessId(), sig);
  /* Default security: the creator's DACL (owner and SYSTEM); the handle is
   * not inheritable. */
  *out = CreateEventW(NULL, FALSE, FALSE, name);
  return *out == NULL ? xipc__fail_os() : 0;
}

static void close_handle(HANDLE *h) {
  if (*h != NULL)
    CloseHandle(*h);
  *h = NULL;
}

static int channel_on(int sig) {
  if (channel[sig] != NULL)
    return 0;
  int rc = create_named(&channel[sig], "sig", sig);
  if (rc == 0)
    SetEvent(wake_ev); /* watch the new channel */
  return rc;
}

static int reserve_retired(void) {
  if (n_retired < cap_retired)
    return 0;
  size_t cap = cap_retired ? cap_retired * 2 : 8;
  HANDLE *p = realloc(retired, cap * sizeof *p);
  if (p == NULL)
    return xipc__fail(XIPC_ENOMEM);
  retired = p;
  cap_retired = cap;
  return 0;
}

/* The dispatcher may be waiting on the handle, so it closes it; the name is
 * gone when this returns, and senders then see "no channel". The wait
 * releases the lock, so it comes after every change: other threads then
 * see a finished state, and nothing here acts on what they change. */
static int channel_off(int sig) {
  if (channel[sig] == NULL)
    return 0;
  if (xipc__sig_on_dispatcher()) {
    close_handle(&channel[sig]); /* not being waited on right now */
    return 0;
  }
  int rc = reserve_retired();
  if (rc != 0)
    return rc;
  retired[n_retired++] = channel[sig];
  channel[sig] = NULL;
  uint64_t gen = watch_gen;
  SetEvent(wake_ev);
  while (watch_gen == gen)
    SleepConditionVariableSRW(&cond, &lock, INFINITE, 0);
  return 0;
}

int xipc__sig_os_mode(int sig, int mode) {
  int rc = 0;
  /* Order the steps so that a sender never finds neither object while the
   * signal moves between "caught" and "ignored". */
  if (mode == XIPC__SIG_OS_IGNORE && ignore_marker[sig] == NULL)
    rc = create_named(&ignore_marker[sig], "sigign", sig);
  if (rc == 0 && mode == XIPC__SIG_OS_CATCH)
    rc = channel_on(sig);
  if (rc == 0 && mode != XIPC__SIG_OS_IGNORE)
    close_handle(&ignore_marker[sig]);
  if (rc == 0 && mode != XIPC__SIG_OS_CATCH)
    rc = channel_off(sig); /* last: it may release the lock */
  return rc;
}

void xipc__sig_terminate(int sig) {
  TerminateProcess(GetCurrentProcess(), XIPC_WIN_SIGNAL_EXIT_BASE + (UINT)sig);
  ExitProcess(XIPC_WIN_SIGNAL_EXIT_BASE + (UINT)sig);
}

/* ---- console control events --------------------------------------------- */

static int sig_of_ctrl(DWORD type) {
  switch (type) {
  case CTRL_C_EVENT:
    return XIPC_SIGINT;
  case CTRL_BREAK_EVENT:
    return XIPC_SIGBREAK;
  case CTRL_CLOSE_EVENT:
    return XIPC_SIGHUP;
  case CTRL_LOGOFF_EVENT:
  case CTRL_SHUTDOWN_EVENT:
    return XIPC_SIGTERM;
  default:
    return 0;
  }
}

/* Windows runs this on a thread of its own. It forwards the event to the
 * dispatcher, which applies the disposition (a default action ends the
 * process with XIPC_WIN_SIGNAL_EXIT_BASE + sig). Windows ends the process
 * when this returns from CLOSE, LOGOFF or SHUTDOWN, and after about 5 s
 * for CLOSE anyway, so it waits for the dispatch, but at most 4.5 s. */
static BOOL WINAPI console_routine(DWORD type) {
  int sig = sig_of_ctrl(type);
  if (sig == 0)
    return FALSE;
  (void)xipc__sig_deliver(sig, 4500);
  return TRUE;
}

int xipc__sig_console_event_for_testing(unsigned ctrl_type) {
  if (sig_of_ctrl(ctrl_type) == 0)
    return xipc__fail(XIPC_EINVAL);
  xipc__sig_lock();
  bool started = wake_ev != NULL;
  xipc__sig_unlock();
  /* Before xipc starts, Windows would not call xipc's routine at all. */
  if (!started)
    return xipc__fail(XIPC_EINVAL);
  return console_routine(ctrl_type) ? 1 : 0;
}

int xipc__sig_console_generate_for_testing(unsigned ctrl_type) {
  if (sig_of_ctrl(ctrl_type) == 0 || ctrl_type > CTRL_BREAK_EVENT)
    return xipc__fail(XIPC_EINVAL); /* only C and BREAK can be generated */
  FreeConsole();
  if (!AllocConsole()) /* no console to be had: the hook cannot work */
    return xipc__fail_os_as(XIPC_ENOTSUP);
  /* A parent may have passed on "ignore Ctrl+C"; undo that for this test. */
  SetConsoleCtrlHandler(NULL, FALSE);
  /* Process group 0: every process attached to this console, which is
   * only this one. */
  if (!GenerateConsoleCtrlEvent(ctrl_type, 0))
    return xipc__fail_os_as(XIPC_ENOTSUP);
  return 0;
}

/* ---- sending ------------------------------------------------------------ */

static bool has_exited(HANDLE process) {
  return WaitForSingleObject(process, 0) == WAIT_OBJECT_0;
}

/* Opens a live process. A process object outlives the process while a
 * handle to it is open (a parent that has not closed its xipc_proc), so an
 * exited process counts as missing. */
static int open_target(DWORD pid, DWORD access, HANDLE *out) {
  *out = OpenProcess(access | SYNCHRONIZE, FALSE, pid);
  if (*out == NULL) {
    DWORD err = GetLastError();
    int rc = xipc__fail_sys((int)err);
    /* ERROR_INVALID_PARAMETER -> ESRCH: that is how Windows says "no such
     * process", where POSIX kill() says ESRCH. */
    return err == ERROR_INVALID_PARAMETER ? XIPC_ESRCH : rc;
  }
  if (has_exited(*out)) {
    CloseHandle(*out);
    return xipc__fail(XIPC_ESRCH);
  }
  return 0;
}

static int terminate_target(DWORD pid, int sig) {
  HANDLE p;
  int rc = open_target(pid, PROCESS_TERMINATE, &p);
  if (rc != 0)
    return rc;
  if (!TerminateProcess(p, XIPC_WIN_SIGNAL_EXIT_BASE + (UINT)sig))
    rc = has_exited(p) ? xipc__fail(XIPC_ESRCH) : xipc__fail_os();
  CloseHandle(p);
  return rc;
}

/* 1: found and done, 0: no such object, < 0: error. */
static int try_named(DWORD pid, const char *kind, int sig, bool set) {
  wchar_t name[64];
  object_name(name, 64, kind, pid, sig);
  HANDLE ev = OpenEventW(set ? EVENT_MODIFY_STATE : SYNCHRONIZE, FALSE, name);
  if (ev == NULL)
    return GetLastError() == ERROR_FILE_NOT_FOUND ? 0 : xipc__fail_os();
  BOOL ok = !set || SetEvent(ev);
  int rc = ok ? 1 : xipc__fail_os();
  CloseHandle(ev);
  return rc;
}

int xipc__sig_send(xipc_pid pid, int sig) {
  HANDLE p;
  if (pid > (xipc_pid)MAXDWORD)
    return xipc__fail(XIPC_ESRCH); /* no DWORD names it */
  if (sig == XIPC_SIGKILL)
    return terminate_target((DWORD)pid, sig);
  int rc = open_target((DWORD)pid, PROCESS_QUERY_LIMITED_INFORMATION, &p);
  if (rc != 0)
    return rc;
  CloseHandle(p);
  /* The target creates the new object before it drops the old one, but it
   * may finish a switch between "ignored" and "caught" between our two
   * looks; a few more looks make a false "neither" vanishingly unlikely. */
  for (int look = 0; look < 3 && rc == 0; look++) {
    rc = try_named((DWORD)pid, "sig", sig, true);
    if (rc == 0)
      rc = try_named((DWORD)pid, "sigign", sig, false);
  }
  if (rc == 0)
    return terminate_target((DWORD)pid, sig);
  return rc < 0 ? rc : 0;
}
