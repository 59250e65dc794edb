/* Item 15 (waitset): zero-byte overlapped reads next to real reads, a
 * zero-length message met by a zero-byte read, >64 registered waits,
 * WriteQuotaAvailable, FlushFileBuffers as "drained", WSAEventSelect. */
#define _WIN32_WINNT 0x0A00
#include <winsock2.h>
#include "common.h"
#include <winternl.h>

typedef struct { LARGE_INTEGER a; ULONG b; } dummy_t;
typedef struct {
  ULONG NamedPipeType, NamedPipeConfiguration, MaximumInstances,
      CurrentInstances, InboundQuota, ReadDataAvailable, OutboundQuota,
      WriteQuotaAvailable, NamedPipeState, NamedPipeEnd;
} PIPE_LOCAL;
typedef LONG(NTAPI *qif_t)(HANDLE, IO_STATUS_BLOCK *, void *, ULONG, int);

static HANDLE ev(void) { return CreateEventW(NULL, TRUE, FALSE, NULL); }

static void mkpair(HANDLE *srv, HANDLE *cli, int msg, int n) {
  wchar_t name[128];
  swprintf(name, 128, L"\\\\.\\pipe\\xipc.p15.%lu.%d", GetCurrentProcessId(), n);
  DWORD t = msg ? PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE : PIPE_TYPE_BYTE;
  *srv = CreateNamedPipeW(name, (msg ? PIPE_ACCESS_DUPLEX : PIPE_ACCESS_INBOUND) | FILE_FLAG_OVERLAPPED,
                          t, 1, 65536, 65536, 0, NULL);
  *cli = CreateFileW(name, msg ? GENERIC_READ | GENERIC_WRITE : GENERIC_WRITE | FILE_READ_ATTRIBUTES,
                     0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
  if (msg) { DWORD m = PIPE_READMODE_MESSAGE; SetNamedPipeHandleState(*cli, &m, NULL, NULL); }
  OVERLAPPED ov = {0}; ov.hEvent = ev(); ConnectNamedPipe(*srv, &ov); CloseHandle(ov.hEvent);
}

static void wr(HANDLE h, const char *p, DWORD n) {
  OVERLAPPED ov = {0}; DWORD got = 0; ov.hEvent = ev();
  BOOL ok = WriteFile(h, p, n, NULL, &ov);
  if (!ok && GetLastError() == ERROR_IO_PENDING) ok = GetOverlappedResult(h, &ov, &got, TRUE);
  else GetOverlappedResult(h, &ov, &got, FALSE);
  P("    write %lu -> ok=%d got=%lu\n", n, ok, got);
  CloseHandle(ov.hEvent);
}

static void zread_vs_real(int msg) {
  HANDLE s, c; char buf[64]; DWORD n, e;
  P("--- A/B %s: zero-byte read pending, then a real read pending, then data\n", msg ? "message" : "byte");
  mkpair(&s, &c, msg, msg);
  OVERLAPPED z = {0}, r = {0}; z.hEvent = ev(); r.hEvent = ev();
  BOOL ok = ReadFile(s, NULL, 0, NULL, &z); P("  zero read: %d err=%lu\n", ok, GetLastError());
  ok = ReadFile(s, buf, sizeof buf, NULL, &r); P("  real read: %d err=%lu\n", ok, GetLastError());
  wr(c, "abcdef", 6);
  Sleep(50);
  P("  zero ev=%lu real ev=%lu\n", WaitForSingleObject(z.hEvent, 0), WaitForSingleObject(r.hEvent, 0));
  ok = GetOverlappedResult(s, &z, &n, FALSE); e = GetLastError(); P("  zero result ok=%d n=%lu err=%lu\n", ok, n, e);
  ok = GetOverlappedResult(s, &r, &n, FALSE); e = GetLastError(); P("  real result ok=%d n=%lu err=%lu '%.*s'\n", ok, n, e, (int)n, buf);
  P("  -- zero read pending across a timed real read that is cancelled, then data\n");
  ResetEvent(z.hEvent); ResetEvent(r.hEvent);
  ok = ReadFile(s, NULL, 0, NULL, &z); P("  zero read: %d err=%lu\n", ok, GetLastError());
  ok = ReadFile(s, buf, sizeof buf, NULL, &r);
  P("  real: %d err=%lu wait=%lu\n", ok, GetLastError(), WaitForSingleObject(r.hEvent, 50));
  CancelIoEx(s, &r); ok = GetOverlappedResult(s, &r, &n, TRUE); P("  real cancelled ok=%d err=%lu\n", ok, GetLastError());
  P("  zero still pending: ev=%lu\n", WaitForSingleObject(z.hEvent, 0));
  wr(c, "ghij", 4); wr(c, "kl", 2);
  P("  zero ev after data=%lu\n", WaitForSingleObject(z.hEvent, 100));
  ok = GetOverlappedResult(s, &z, &n, FALSE); P("  zero ok=%d n=%lu err=%lu\n", ok, n, GetLastError());
  ResetEvent(r.hEvent); ok = ReadFile(s, buf, sizeof buf, NULL, &r);
  if (!ok && GetLastError() == ERROR_IO_PENDING) ok = GetOverlappedResult(s, &r, &n, TRUE); else GetOverlappedResult(s, &r, &n, FALSE);
  P("  next real read n=%lu '%.*s'\n", n, (int)n, buf);
  if (msg) {
    ResetEvent(r.hEvent); ok = ReadFile(s, buf, sizeof buf, NULL, &r);
    if (!ok && GetLastError() == ERROR_IO_PENDING) ok = GetOverlappedResult(s, &r, &n, TRUE); else GetOverlappedResult(s, &r, &n, FALSE);
    P("  next real read n=%lu '%.*s'\n", n, (int)n, buf);
    P("  -- zero-length message vs zero-byte read\n");
    ResetEvent(z.hEvent);
    ok = ReadFile(s, NULL, 0, NULL, &z); P("  zero read: %d err=%lu\n", ok, GetLastError());
    wr(c, "", 0);
    P("  zero ev=%lu\n", WaitForSingleObject(z.hEvent, 100));
    ok = GetOverlappedResult(s, &z, &n, FALSE); P("  zero ok=%d n=%lu err=%lu\n", ok, n, GetLastError());
    DWORD avail = 99, left = 99; PeekNamedPipe(s, NULL, 0, NULL, &avail, &left);
    P("  peek avail=%lu left=%lu\n", avail, left);
    wr(c, "zz", 2);
    ResetEvent(r.hEvent); ok = ReadFile(s, buf, sizeof buf, NULL, &r);
    if (!ok && GetLastError() == ERROR_IO_PENDING) ok = GetOverlappedResult(s, &r, &n, TRUE); else GetOverlappedResult(s, &r, &n, FALSE);
    P("  real read after: n=%lu '%.*s' (2 = the empty message was consumed)\n", n, (int)n, buf);
    P("  -- zero read pending, peer closes\n");
    ResetEvent(z.hEvent); ok = ReadFile(s, NULL, 0, NULL, &z); P("  zero read: %d err=%lu\n", ok, GetLastError());
    CloseHandle(c); c = NULL;
    P("  zero ev=%lu\n", WaitForSingleObject(z.hEvent, 100));
    ok = GetOverlappedResult(s, &z, &n, FALSE); P("  zero ok=%d err=%lu\n", ok, GetLastError());
    ok = PeekNamedPipe(s, NULL, 0, NULL, &avail, NULL); P("  peek ok=%d err=%lu\n", ok, GetLastError());
  } else {
    P("  -- zero read pending, writer closes\n");
    ResetEvent(z.hEvent); ok = ReadFile(s, NULL, 0, NULL, &z); P("  zero read: %d err=%lu\n", ok, GetLastError());
    CloseHandle(c); c = NULL;
    P("  zero ev=%lu\n", WaitForSingleObject(z.hEvent, 100));
    ok = GetOverlappedResult(s, &z, &n, FALSE); P("  zero ok=%d err=%lu\n", ok, GetLastError());
  }
  P("  -- cancel of a pending zero read\n");
  CloseHandle(s);
}

static volatile LONG fired[300];
static volatile LONG nfired;
static void CALLBACK cb(void *arg, BOOLEAN t) {
  (void)t; InterlockedIncrement(&fired[(intptr_t)arg]); InterlockedIncrement(&nfired);
}

static void many_waits(void) {
  enum { N = 250 };
  HANDLE e[N], w[N];
  P("--- D: %d registered waits (WT_EXECUTEONLYONCE) on manual-reset events\n", N);
  for (int i = 0; i < N; i++) {
    e[i] = ev();
    if (!RegisterWaitForSingleObject(&w[i], e[i], cb, (void *)(intptr_t)i, INFINITE, WT_EXECUTEONLYONCE))
      P("  register %d failed %lu\n", i, GetLastError());
  }
  Sleep(100);
  P("  after 100 ms idle: %ld callbacks\n", nfired);
  for (int i = N - 10; i < N; i++) SetEvent(e[i]);
  SetEvent(e[3]);
  Sleep(200);
  int ok = 1; for (int i = 0; i < N; i++) if (fired[i] != ((i >= N - 10 || i == 3) ? 1 : 0)) ok = 0;
  P("  after setting 11: %ld callbacks, each exactly the right ones: %d\n", nfired, ok);
  for (int i = 0; i < N; i++) UnregisterWaitEx(w[i], INVALID_HANDLE_VALUE);
  /* re-register a still-signaled manual event: fires at once */
  nfired = 0;
  RegisterWaitForSingleObject(&w[0], e[N - 1], cb, (void *)(intptr_t)0, INFINITE, WT_EXECUTEONLYONCE);
  Sleep(50); P("  re-register on a signaled event: %ld callbacks\n", nfired);
  UnregisterWaitEx(w[0], INVALID_HANDLE_VALUE);
  /* process handle */
  STARTUPINFOW si = {sizeof si}; PROCESS_INFORMATION pi; wchar_t cmd[MAX_PATH + 20];
  GetModuleFileNameW(NULL, g_self, MAX_PATH); swprintf(cmd, MAX_PATH + 20, L"\"%ls\" sleep", g_self);
  CreateProcessW(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi);
  nfired = 0; DWORD t0 = GetTickCount();
  RegisterWaitForSingleObject(&w[0], pi.hProcess, cb, (void *)(intptr_t)0, INFINITE, WT_EXECUTEONLYONCE);
  while (nfired == 0 && GetTickCount() - t0 < 5000) Sleep(5);
  P("  process handle wait fired after %lu ms (child sleeps 200)\n", GetTickCount() - t0);
  UnregisterWaitEx(w[0], INVALID_HANDLE_VALUE);
  for (int i = 0; i < N; i++) CloseHandle(e[i]);
}

static void quota(void) {
  HANDLE s, c; IO_STATUS_BLOCK io; PIPE_LOCAL pl;
  qif_t q = (qif_t)(void *)GetProcAddress(GetModuleHandleW(L"ntdll"), "NtQueryInformationFile");
  P("--- E: FilePipeLocalInformation (24) on the write end of an inbound byte pipe\n");
  mkpair(&s, &c, 0, 7);
  static char big[70000];
  for (int step = 0; step < 4; step++) {
    memset(&pl, 0, sizeof pl);
    LONG st = q(c, &io, &pl, sizeof pl, 24);
    LONG st2; PIPE_LOCAL ps = {0}; st2 = q(s, &io, &ps, sizeof ps, 24);
    P("  step %d: client st=%lx WriteQuotaAvailable=%lu OutboundQuota=%lu InboundQuota=%lu ReadDataAvailable=%lu | server st=%lx WQA=%lu RDA=%lu\n",
      step, st, pl.WriteQuotaAvailable, pl.OutboundQuota, pl.InboundQuota, pl.ReadDataAvailable, st2, ps.WriteQuotaAvailable, ps.ReadDataAvailable);
    if (step == 0) wr(c, big, 1000);
    if (step == 1) {
      OVERLAPPED ov = {0}; ov.hEvent = ev();
      BOOL ok = WriteFile(c, big, sizeof big, NULL, &ov);
      P("    write 70000: ok=%d err=%lu (pending = full)\n", ok, GetLastError());
      Sleep(50);
      /* F: FlushFileBuffers on another thread */
      P("    (write left pending)\n");
    }
    if (step == 2) {
      char rb[4096]; DWORD n = 0, tot = 0; OVERLAPPED r = {0}; r.hEvent = ev();
      while (tot < 71000) { if (!ReadFile(s, rb, sizeof rb, NULL, &r) && GetLastError() == ERROR_IO_PENDING) GetOverlappedResult(s, &r, &n, TRUE); else GetOverlappedResult(s, &r, &n, FALSE); tot += n; }
      P("    drained %lu\n", tot);
    }
  }
  P("  -- with a read pending on the server\n");
  { OVERLAPPED r = {0}; char rb[100]; r.hEvent = ev(); ReadFile(s, rb, 100, NULL, &r);
    memset(&pl, 0, sizeof pl); q(c, &io, &pl, sizeof pl, 24);
    P("  client WQA=%lu with a 100-byte read pending\n", pl.WriteQuotaAvailable);
    CancelIoEx(s, &r); DWORD n; GetOverlappedResult(s, &r, &n, TRUE); }
  CloseHandle(s);
  memset(&pl, 0, sizeof pl); LONG st = q(c, &io, &pl, sizeof pl, 24);
  P("  after the reader closed: st=%lx WQA=%lu state=%lu\n", st, pl.WriteQuotaAvailable, pl.NamedPipeState);
  CloseHandle(c);
}

static HANDLE fl_h; static volatile LONG fl_done; static DWORD fl_ok, fl_err;
static DWORD WINAPI flusher(void *a) { (void)a; fl_ok = FlushFileBuffers(fl_h); fl_err = GetLastError(); InterlockedExchange(&fl_done, 1); return 0; }
static void flush(void) {
  HANDLE s, c; static char big[1000]; DWORD n;
  P("--- F: FlushFileBuffers on the overlapped write end as \"drained\"\n");
  mkpair(&s, &c, 0, 8);
  fl_h = c; HANDLE t = CreateThread(NULL, 0, flusher, NULL, 0, NULL);
  Sleep(50); P("  empty pipe: flush done=%ld ok=%lu err=%lu\n", fl_done, fl_ok, fl_err);
  WaitForSingleObject(t, 1000); CloseHandle(t); fl_done = 0;
  wr(c, big, 1000);
  t = CreateThread(NULL, 0, flusher, NULL, 0, NULL);
  Sleep(100); P("  1000 bytes in the pipe: flush done=%ld\n", fl_done);
  char rb[600]; OVERLAPPED r = {0}; r.hEvent = ev();
  ReadFile(s, rb, 600, NULL, &r); GetOverlappedResult(s, &r, &n, TRUE);
  Sleep(100); P("  after reading 600: flush done=%ld\n", fl_done);
  ReadFile(s, rb, 600, NULL, &r); GetOverlappedResult(s, &r, &n, TRUE);
  Sleep(100); P("  after reading all: flush done=%ld ok=%lu err=%lu\n", fl_done, fl_ok, fl_err);
  WaitForSingleObject(t, 1000); CloseHandle(t); fl_done = 0;
  wr(c, big, 10);
  t = CreateThread(NULL, 0, flusher, NULL, 0, NULL);
  Sleep(100);
  BOOL cs = CancelSynchronousIo(t); DWORD ce = GetLastError();
  DWORD wr_ = WaitForSingleObject(t, 500);
  P("  CancelSynchronousIo ok=%d err=%lu; thread ends: %lu done=%ld ok=%lu err=%lu\n", cs, ce, wr_, fl_done, fl_ok, fl_err);
  CloseHandle(t); fl_done = 0;
  t = CreateThread(NULL, 0, flusher, NULL, 0, NULL);
  Sleep(100);
  CloseHandle(s); wr_ = WaitForSingleObject(t, 500);
  P("  flush with 10 bytes left, then the reader closes: %lu done=%ld ok=%lu err=%lu\n", wr_, fl_done, fl_ok, fl_err);
  fl_done = 0; CloseHandle(t); t = CreateThread(NULL, 0, flusher, NULL, 0, NULL); wr_ = WaitForSingleObject(t, 500);
  P("  flush after the reader closed: %lu ok=%lu err=%lu\n", wr_, fl_ok, fl_err);
  CloseHandle(t); CloseHandle(c);
}

static void sock(void) {
  WSADATA wd; WSAStartup(MAKEWORD(2, 2), &wd);
  P("--- G: WSAEventSelect on a loopback TCP pair\n");
  SOCKET l = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in a = {0}; int al = sizeof a;
  a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(l, (void *)&a, sizeof a); listen(l, 1); getsockname(l, (void *)&a, &al);
  SOCKET c = socket(AF_INET, SOCK_STREAM, 0); connect(c, (void *)&a, sizeof a);
  SOCKET s = accept(l, NULL, NULL);
  int ty = 0, tl = sizeof ty; P("  getsockopt SO_TYPE: %d type=%d\n", getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&ty, &tl), ty);
  HANDLE e = ev(); ty = 0; tl = sizeof ty;
  P("  getsockopt SO_TYPE on an event handle: %d err=%d\n", getsockopt((SOCKET)e, SOL_SOCKET, SO_TYPE, (char *)&ty, &tl), WSAGetLastError());
  HANDLE se = WSACreateEvent(); WSANETWORKEVENTS ne;
  WSAEventSelect(s, se, FD_READ | FD_CLOSE | FD_WRITE);
  P("  after select: ev=%lu\n", WaitForSingleObject(se, 0));
  WSAEnumNetworkEvents(s, se, &ne); P("  events=%lx; ev now=%lu\n", ne.lNetworkEvents, WaitForSingleObject(se, 0));
  send(c, "hi", 2, 0); Sleep(50);
  P("  after send: ev=%lu\n", WaitForSingleObject(se, 0));
  WSAEnumNetworkEvents(s, se, &ne); P("  events=%lx\n", ne.lNetworkEvents);
  fd_set rf; FD_ZERO(&rf); FD_SET(s, &rf); struct timeval tv = {0, 0};
  P("  select readable=%d\n", select(0, &rf, NULL, NULL, &tv));
  char b[8]; P("  recv 1 -> %d; ev=%lu\n", recv(s, b, 1, 0), WaitForSingleObject(se, 50));
  WSAEnumNetworkEvents(s, se, &ne); P("  events=%lx\n", ne.lNetworkEvents);
  P("  recv 1 -> %d; ev=%lu\n", recv(s, b, 1, 0), WaitForSingleObject(se, 50));
  HANDLE w; nfired = 0; ResetEvent(se);
  RegisterWaitForSingleObject(&w, se, cb, 0, INFINITE, WT_EXECUTEONLYONCE);
  closesocket(c); Sleep(100); P("  registered wait fired on peer close: %ld\n", nfired);
  WSAEnumNetworkEvents(s, se, &ne); P("  events=%lx\n", ne.lNetworkEvents);
  UnregisterWaitEx(w, INVALID_HANDLE_VALUE);
}

static void timer(void) {
  P("--- H: waitable timer + registered wait (no ONLYONCE), relative due 30 ms, cancel\n");
  HANDLE t = CreateWaitableTimerW(NULL, FALSE, NULL), w; LARGE_INTEGER due; due.QuadPart = -300000;
  nfired = 0; RegisterWaitForSingleObject(&w, t, cb, 0, INFINITE, 0);
  DWORD t0 = GetTickCount(); SetWaitableTimer(t, &due, 0, NULL, NULL, FALSE);
  while (!nfired && GetTickCount() - t0 < 1000) Sleep(1);
  P("  fired after %lu ms; count=%ld\n", GetTickCount() - t0, nfired);
  SetWaitableTimer(t, &due, 0, NULL, NULL, FALSE); CancelWaitableTimer(t); Sleep(100);
  P("  after cancel: count=%ld\n", nfired);
  SetWaitableTimer(t, &due, 0, NULL, NULL, FALSE); Sleep(100); P("  again: count=%ld\n", nfired);
  UnregisterWaitEx(w, INVALID_HANDLE_VALUE);
}

int wmain(int argc, wchar_t **argv) {
  if (argc > 1 && !wcscmp(argv[1], L"sleep")) { Sleep(200); return 0; }
  zread_vs_real(0); zread_vs_real(1); many_waits(); quota(); flush(); sock(); timer();
  return 0;
}
