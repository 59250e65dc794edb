/* Item 6: GetNamedPipeClientProcessId / GetNamedPipeServerProcessId across processes */
#include "common.h"
int wmain(int argc, wchar_t **argv)
{
    wchar_t name[128]; HANDLE h; BOOL ok; ULONG v; DWORD n;
    if (argc >= 3 && !wcscmp(argv[1], L"client")) {
        HANDLE c; ULONG sp = 0, cp = 0, pair[3];
        WaitNamedPipeW(argv[2], 5000);
        c = CreateFileW(argv[2], GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        ok = GetNamedPipeServerProcessId(c, &sp);
        P("  [child pid %lu] GetNamedPipeServerProcessId(client handle) ok=%d err=%lu pid=%lu\n", GetCurrentProcessId(), ok, ok ? 0 : GetLastError(), sp);
        ok = GetNamedPipeClientProcessId(c, &cp);
        P("  [child] GetNamedPipeClientProcessId(client handle) ok=%d err=%lu pid=%lu\n", ok, ok ? 0 : GetLastError(), cp);
        pair[0] = GetCurrentProcessId(); pair[1] = sp; pair[2] = cp;
        WriteFile(c, pair, sizeof pair, &n, NULL);
        ReadFile(c, pair, 1, &n, NULL);
        return 0;
    }
    pipe_name(name, 128, GetCurrentProcessId(), L".pid");
    h = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 4096, 4096, 0, NULL);
    v = 12345;
    ok = GetNamedPipeClientProcessId(h, &v);
    P("before any client: GetNamedPipeClientProcessId ok=%d err=%lu pid=%lu\n", ok, ok ? 0 : GetLastError(), v);
    {
        PROCESS_INFORMATION pi; wchar_t a[200]; ULONG pair[3]; swprintf(a, 200, L"client %ls", name);
        spawn_self(a, &pi);
        ConnectNamedPipe(h, NULL);
        ReadFile(h, pair, sizeof pair, &n, NULL);
        ok = GetNamedPipeClientProcessId(h, &v);
        P("server (pid %lu): child pid per CreateProcess=%lu, per child itself=%lu\n", GetCurrentProcessId(), pi.dwProcessId, pair[0]);
        P("server: GetNamedPipeClientProcessId(server handle) ok=%d pid=%lu -> %s\n", ok, v, v == pi.dwProcessId ? "CORRECT" : "WRONG");
        ok = GetNamedPipeServerProcessId(h, &v);
        P("server: GetNamedPipeServerProcessId(server handle) ok=%d pid=%lu -> %s\n", ok, v, v == GetCurrentProcessId() ? "CORRECT" : "WRONG");
        P("child reported server pid %lu -> %s\n", pair[1], pair[1] == GetCurrentProcessId() ? "CORRECT" : "WRONG");
        ok = GetNamedPipeClientSessionId(h, &v);
        P("server: GetNamedPipeClientSessionId ok=%d err=%lu sess=%lu\n", ok, ok ? 0 : GetLastError(), v);
        WriteFile(h, "x", 1, &n, NULL);
        WaitForSingleObject(pi.hProcess, 5000);
        v = 999;
        ok = GetNamedPipeClientProcessId(h, &v);
        P("after client exited (not disconnected): GetNamedPipeClientProcessId ok=%d err=%lu pid=%lu\n", ok, ok ? 0 : GetLastError(), v);
    }
    return 0;
}
