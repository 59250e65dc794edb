/* Item 5: overlapped ConnectNamedPipe, several pending instances, WaitNamedPipeW, open errors */
#include "common.h"

static HANDLE mkov(const wchar_t *name, DWORD maxinst)
{
    return CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED, PIPE_TYPE_BYTE, maxinst, 4096, 4096, 0, NULL);
}
static HANDLE open_client(const wchar_t *name, DWORD *err)
{
    HANDLE c = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    *err = c == INVALID_HANDLE_VALUE ? GetLastError() : 0;
    return c;
}
static const wchar_t *g_name; static double g_t0;
static DWORD WINAPI late_creator(LPVOID p)
{
    OVERLAPPED *ov = (OVERLAPPED *)p; HANDLE h; BOOL ok;
    Sleep(300);
    h = mkov(g_name, PIPE_UNLIMITED_INSTANCES);
    P("  [thread] t=%.0fms created new instance (no ConnectNamedPipe yet) ok=%d\n", now_ms() - g_t0, h != INVALID_HANDLE_VALUE);
    Sleep(300);
    ok = ConnectNamedPipe(h, ov);
    P("  [thread] t=%.0fms ConnectNamedPipe ok=%d err=%lu\n", now_ms() - g_t0, ok, GetLastError());
    return 0;
}

int wmain(int argc, wchar_t **argv)
{
    wchar_t name[128], missing[128]; HANDLE h, c, hs[3], ev[3]; OVERLAPPED ov[3]; BOOL ok; DWORD e, n, r; int i;
    if (argc >= 3 && !wcscmp(argv[1], L"client")) {
        Sleep(300);
        c = open_client(argv[2], &e);
        P("  [child] CreateFileW -> %s err=%lu\n", c != INVALID_HANDLE_VALUE ? "OPENED" : "FAIL", e);
        Sleep(500);
        return 0;
    }
    pipe_name(name, 128, GetCurrentProcessId(), L".ov");
    pipe_name(missing, 128, GetCurrentProcessId(), L".doesnotexist");

    P("--- (a) pending ConnectNamedPipe, client in another process\n");
    h = mkov(name, PIPE_UNLIMITED_INSTANCES);
    memset(&ov[0], 0, sizeof ov[0]); ov[0].hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    ok = ConnectNamedPipe(h, &ov[0]); e = GetLastError();
    P("ConnectNamedPipe(overlapped) no client yet: ret=%d err=%lu; event state now=%s\n", ok, e,
      WaitForSingleObject(ov[0].hEvent, 0) == WAIT_OBJECT_0 ? "signaled" : "not signaled");
    {
        PROCESS_INFORMATION pi; wchar_t a[200]; double t0 = now_ms(); swprintf(a, 200, L"client %ls", name);
        spawn_self(a, &pi);
        r = WaitForSingleObject(ov[0].hEvent, 5000);
        ok = GetOverlappedResult(h, &ov[0], &n, FALSE); e = GetLastError();
        P("after child connects: wait=%lu (0=signaled) after %.0fms, GetOverlappedResult ok=%d err=%lu\n", r, now_ms() - t0, ok, ok ? 0 : e);
        WaitForSingleObject(pi.hProcess, 5000);
    }
    CloseHandle(h);

    P("--- (b) client first, then ConnectNamedPipe\n");
    h = mkov(name, PIPE_UNLIMITED_INSTANCES);
    c = open_client(name, &e);
    P("client CreateFileW before Connect: %s err=%lu\n", c != INVALID_HANDLE_VALUE ? "OPENED" : "FAIL", e);
    ResetEvent(ov[0].hEvent);
    ok = ConnectNamedPipe(h, &ov[0]); e = GetLastError();
    P("ConnectNamedPipe(overlapped): ret=%d err=%lu (535=ERROR_PIPE_CONNECTED); event=%s\n", ok, e,
      WaitForSingleObject(ov[0].hEvent, 0) == WAIT_OBJECT_0 ? "signaled" : "not signaled");
    ok = ConnectNamedPipe(h, NULL); e = GetLastError();
    P("ConnectNamedPipe again (NULL ov): ret=%d err=%lu\n", ok, e);
    CloseHandle(c); CloseHandle(h);

    P("--- (c) three pending instances\n");
    for (i = 0; i < 3; i++) {
        hs[i] = mkov(name, PIPE_UNLIMITED_INSTANCES);
        memset(&ov[i], 0, sizeof ov[i]); ev[i] = ov[i].hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
        ok = ConnectNamedPipe(hs[i], &ov[i]); e = GetLastError();
        P("instance %d ConnectNamedPipe ret=%d err=%lu\n", i, ok, e);
    }
    for (i = 0; i < 3; i++) {
        HANDLE cc = open_client(name, &e);
        r = WaitForMultipleObjects(3, ev, FALSE, 1000);
        P("client %d open %s err=%lu -> WaitForMultipleObjects(any)=%lu; states:", i, cc != INVALID_HANDLE_VALUE ? "OK" : "FAIL", e, r);
        { int j; for (j = 0; j < 3; j++) P(" %d", WaitForSingleObject(ev[j], 0) == WAIT_OBJECT_0); }
        P("\n");
    }
    P("--- (d) all instances busy\n");
    c = open_client(name, &e);
    P("CreateFileW with all 3 instances connected: %s err=%lu (231=ERROR_PIPE_BUSY)\n", c != INVALID_HANDLE_VALUE ? "OPENED" : "FAIL", e);
    {
        double t0 = now_ms();
        ok = WaitNamedPipeW(name, 500); e = GetLastError();
        P("WaitNamedPipeW(500) all busy, nobody creates: ret=%d err=%lu after %.0fms (121=ERROR_SEM_TIMEOUT)\n", ok, e, now_ms() - t0);
        t0 = now_ms();
        ok = WaitNamedPipeW(name, NMPWAIT_USE_DEFAULT_WAIT); e = GetLastError();
        P("WaitNamedPipeW(NMPWAIT_USE_DEFAULT_WAIT, pipe created with timeout 0) all busy: ret=%d err=%lu after %.0fms\n", ok, e, now_ms() - t0);
    }
    {
        OVERLAPPED lov; HANDLE th; double t1;
        memset(&lov, 0, sizeof lov); lov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
        g_name = name; g_t0 = now_ms();
        th = CreateThread(NULL, 0, late_creator, &lov, 0, NULL);
        ok = WaitNamedPipeW(name, 3000); e = GetLastError(); t1 = now_ms() - g_t0;
        P("WaitNamedPipeW(3000) while thread creates instance at 300ms, connects at 600ms: ret=%d err=%lu returned at t=%.0fms\n", ok, e, t1);
        c = open_client(name, &e);
        P("CreateFileW right after: %s err=%lu\n", c != INVALID_HANDLE_VALUE ? "OPENED" : "FAIL", e);
        WaitForSingleObject(th, 2000);
    }
    P("--- (e) missing name\n");
    c = open_client(missing, &e);
    P("CreateFileW on missing pipe: err=%lu (2=ERROR_FILE_NOT_FOUND)\n", e);
    {
        double t0 = now_ms();
        ok = WaitNamedPipeW(missing, 1000); e = GetLastError();
        P("WaitNamedPipeW(1000) on missing pipe: ret=%d err=%lu after %.0fms\n", ok, e, now_ms() - t0);
    }
    P("--- (f) max instances 1, busy\n");
    {
        wchar_t n1[128]; HANDLE s1, c1, c2; pipe_name(n1, 128, GetCurrentProcessId(), L".max1");
        s1 = mkov(n1, 1); c1 = open_client(n1, &e);
        c2 = open_client(n1, &e);
        P("2nd client on nMaxInstances=1 pipe: %s err=%lu\n", c2 != INVALID_HANDLE_VALUE ? "OPENED" : "FAIL", e);
        (void)s1; (void)c1;
    }
    return 0;
}
