/* Item 7: CancelIoEx on pending overlapped ReadFile; zero-byte overlapped ReadFile readiness probe */
#include "common.h"
static void run(int msg)
{
    wchar_t name[128]; HANDLE s, c; OVERLAPPED ov; char buf[64]; BOOL ok; DWORD e, n, r, avail;
    DWORD type = msg ? (PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE) : PIPE_TYPE_BYTE;
    P("=== %s mode\n", msg ? "MESSAGE" : "BYTE");
    pipe_name(name, 128, GetCurrentProcessId(), msg ? L".c7m" : L".c7b");
    s = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, type, 1, 4096, 4096, 0, NULL);
    c = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
    if (msg) { DWORD m = PIPE_READMODE_MESSAGE; SetNamedPipeHandleState(c, &m, NULL, NULL); }
    memset(&ov, 0, sizeof ov); ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    ConnectNamedPipe(s, &ov);

    /* CancelIoEx(h, &ov) */
    memset(&ov, 0, sizeof ov); ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    ok = ReadFile(s, buf, sizeof buf, NULL, &ov); e = GetLastError();
    P("ReadFile(64) overlapped, no data: ret=%d err=%lu\n", ok, e);
    ok = CancelIoEx(s, &ov); e = GetLastError();
    P("CancelIoEx(h,&ov): ret=%d err=%lu\n", ok, ok ? 0 : e);
    ok = GetOverlappedResult(s, &ov, &n, TRUE); e = GetLastError();
    P("GetOverlappedResult(wait): ret=%d err=%lu (995=ERROR_OPERATION_ABORTED) n=%lu Internal=0x%lx\n", ok, e, n, (unsigned long)ov.Internal);
    ok = CancelIoEx(s, &ov); e = GetLastError();
    P("CancelIoEx again (nothing pending): ret=%d err=%lu (1168=ERROR_NOT_FOUND)\n", ok, ok ? 0 : e);
    /* CancelIoEx(h, NULL) */
    ResetEvent(ov.hEvent);
    ReadFile(s, buf, sizeof buf, NULL, &ov);
    ok = CancelIoEx(s, NULL); e = GetLastError();
    P("CancelIoEx(h,NULL): ret=%d; GetOverlappedResult ", ok);
    ok = GetOverlappedResult(s, &ov, &n, TRUE); e = GetLastError();
    P("ret=%d err=%lu\n", ok, e);
    /* CancelIo (same thread) */
    ResetEvent(ov.hEvent);
    ReadFile(s, buf, sizeof buf, NULL, &ov);
    ok = CancelIo(s);
    P("CancelIo(h): ret=%d; GetOverlappedResult ", ok);
    ok = GetOverlappedResult(s, &ov, &n, TRUE); e = GetLastError();
    P("ret=%d err=%lu\n", ok, e);

    /* zero-byte read readiness probe */
    ResetEvent(ov.hEvent);
    ok = ReadFile(s, buf, 0, NULL, &ov); e = GetLastError();
    P("zero-byte ReadFile overlapped, no data: ret=%d err=%lu (997=pending)\n", ok, e);
    Sleep(100);
    P("  event after 100ms without data: %s\n", WaitForSingleObject(ov.hEvent, 0) == WAIT_OBJECT_0 ? "SIGNALED" : "not signaled");
    {
        OVERLAPPED wov; memset(&wov, 0, sizeof wov); wov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
        WriteFile(c, "abcdef", 6, NULL, &wov); GetOverlappedResult(c, &wov, &n, TRUE);
    }
    r = WaitForSingleObject(ov.hEvent, 1000);
    ok = GetOverlappedResult(s, &ov, &n, FALSE); e = GetLastError();
    P("  after client wrote 6 bytes: wait=%lu (0=signaled); GetOverlappedResult ret=%d err=%lu n=%lu\n", r, ok, ok ? 0 : e, n);
    ok = PeekNamedPipe(s, NULL, 0, NULL, &avail, NULL);
    P("  PeekNamedPipe avail=%lu (6 = not consumed)\n", avail);
    /* zero-byte read when data already available */
    ResetEvent(ov.hEvent);
    ok = ReadFile(s, buf, 0, &n, &ov); e = GetLastError();
    P("zero-byte ReadFile with data already queued: ret=%d err=%lu n=%lu\n", ok, ok ? 0 : e, n);
    PeekNamedPipe(s, NULL, 0, NULL, &avail, NULL);
    P("  PeekNamedPipe avail=%lu\n", avail);
    ResetEvent(ov.hEvent);
    ok = ReadFile(s, buf, sizeof buf, &n, &ov); e = GetLastError();
    if (!ok && e == ERROR_IO_PENDING) ok = GetOverlappedResult(s, &ov, &n, TRUE), e = GetLastError();
    P("real ReadFile(64): ret=%d err=%lu n=%lu data='%.*s'\n", ok, ok ? 0 : e, n, (int)n, buf);
    CloseHandle(c); CloseHandle(s);
}
int wmain(void) { run(0); run(1); return 0; }
