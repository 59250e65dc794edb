/* Item 8: server process killed while a client is connected */
#include "common.h"
int wmain(int argc, wchar_t **argv)
{
    wchar_t name[128], evname[128]; HANDLE c, ready, h2; BOOL ok; DWORD e, n; char buf[16]; OVERLAPPED ov;
    if (argc >= 4 && !wcscmp(argv[1], L"server")) {
        HANDLE s = CreateNamedPipeW(argv[2], PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_TYPE_BYTE, 1, 4096, 4096, 0, NULL);
        HANDLE ev = OpenEventW(EVENT_MODIFY_STATE, FALSE, argv[3]);
        P("  [server child pid %lu] CreateNamedPipeW ok=%d\n", GetCurrentProcessId(), s != INVALID_HANDLE_VALUE);
        SetEvent(ev);
        ConnectNamedPipe(s, NULL);
        P("  [server child] client connected; sleeping forever\n");
        Sleep(INFINITE);
        return 0;
    }
    pipe_name(name, 128, GetCurrentProcessId(), L".kill");
    swprintf(evname, 128, L"Local\\xipc.probe.%lu.ready", GetCurrentProcessId());
    ready = CreateEventW(NULL, TRUE, FALSE, evname);
    {
        PROCESS_INFORMATION pi; wchar_t a[300]; swprintf(a, 300, L"server %ls %ls", name, evname);
        spawn_self(a, &pi);
        WaitForSingleObject(ready, 5000);
        c = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
        CHK("client CreateFileW (overlapped)", c != INVALID_HANDLE_VALUE);
        Sleep(200);
        memset(&ov, 0, sizeof ov); ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
        ok = ReadFile(c, buf, sizeof buf, NULL, &ov); e = GetLastError();
        P("client pending ReadFile: ret=%d err=%lu\n", ok, e);
        ok = TerminateProcess(pi.hProcess, 7);
        P("TerminateProcess(server) ret=%d; wait=%lu\n", ok, WaitForSingleObject(pi.hProcess, 5000));
        e = WaitForSingleObject(ov.hEvent, 2000);
        ok = GetOverlappedResult(c, &ov, &n, FALSE);
        P("pending read completion: wait=%lu GetOverlappedResult ret=%d err=%lu (109=ERROR_BROKEN_PIPE)\n", e, ok, ok ? 0 : GetLastError());
        ResetEvent(ov.hEvent);
        ok = ReadFile(c, buf, sizeof buf, NULL, &ov); e = GetLastError();
        if (!ok && e == ERROR_IO_PENDING) { WaitForSingleObject(ov.hEvent, 1000); ok = GetOverlappedResult(c, &ov, &n, FALSE); e = GetLastError(); }
        P("new ReadFile after kill: ret=%d err=%lu\n", ok, ok ? 0 : e);
        ResetEvent(ov.hEvent);
        ok = WriteFile(c, "x", 1, NULL, &ov); e = GetLastError();
        if (!ok && e == ERROR_IO_PENDING) { WaitForSingleObject(ov.hEvent, 1000); ok = GetOverlappedResult(c, &ov, &n, FALSE); e = GetLastError(); }
        P("WriteFile after kill: ret=%d err=%lu (232=ERROR_NO_DATA)\n", ok, ok ? 0 : e);
        h2 = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_TYPE_BYTE, 1, 4096, 4096, 0, NULL);
        CHK("new server CreateNamedPipeW(+FIRST, max 1) while dead client handle still open", h2 != INVALID_HANDLE_VALUE);
        if (h2 != INVALID_HANDLE_VALUE) {
            HANDLE c2 = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
            CHK("  fresh client can connect to the new server", c2 != INVALID_HANDLE_VALUE);
            if (c2 != INVALID_HANDLE_VALUE) CloseHandle(c2);
            CloseHandle(h2);
        }
        CloseHandle(c);
        h2 = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_TYPE_BYTE, 1, 4096, 4096, 0, NULL);
        CHK("new server CreateNamedPipeW(+FIRST, max 1) after client closed", h2 != INVALID_HANDLE_VALUE);
    }
    return 0;
}
