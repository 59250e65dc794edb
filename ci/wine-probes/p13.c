/* Item 13: a message-type pipe as a byte stream with a zero-length message
 * as the end-of-stream mark: what reads see in byte and message read mode,
 * in another process; and a 200 KiB message through a 64 KiB buffer. */
#include "common.h"

static DWORD rd(HANDLE h, char *buf, DWORD cap, DWORD *err)
{
    DWORD n = 0; OVERLAPPED ov; BOOL ok;
    memset(&ov, 0, sizeof ov); ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    ok = ReadFile(h, buf, cap, NULL, &ov);
    *err = ok ? 0 : GetLastError();
    if (!ok && *err == ERROR_IO_PENDING) {
        if (WaitForSingleObject(ov.hEvent, 300) != WAIT_OBJECT_0) { CancelIoEx(h, &ov); }
        ok = GetOverlappedResult(h, &ov, &n, TRUE); *err = ok ? 0 : GetLastError();
    } else if (ok) GetOverlappedResult(h, &ov, &n, FALSE);
    else if (*err == ERROR_MORE_DATA) GetOverlappedResult(h, &ov, &n, FALSE);
    CloseHandle(ov.hEvent);
    return n;
}

static void wr(HANDLE h, const char *p, DWORD n)
{
    OVERLAPPED ov; DWORD got = 0; BOOL ok;
    memset(&ov, 0, sizeof ov); ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    ok = WriteFile(h, p, n, NULL, &ov);
    if (!ok && GetLastError() == ERROR_IO_PENDING) ok = GetOverlappedResult(h, &ov, &got, TRUE);
    else if (ok) GetOverlappedResult(h, &ov, &got, FALSE);
    P("  [child] write %lu: ok=%d got=%lu\n", (unsigned long)n, ok, (unsigned long)got);
    CloseHandle(ov.hEvent);
}

static char big[200 * 1024];

int wmain(int argc, wchar_t **argv)
{
    wchar_t name[128]; DWORD n, e; int mode;
    if (argc >= 3 && !wcscmp(argv[1], L"client")) {
        HANDLE c = CreateFileW(argv[2], GENERIC_READ | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES, 0, NULL,
                               OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
        DWORD m = PIPE_READMODE_MESSAGE;
        P("  [child] open ok=%d; SetNamedPipeHandleState(MESSAGE) ok=%d\n", c != INVALID_HANDLE_VALUE, SetNamedPipeHandleState(c, &m, NULL, NULL));
        wr(c, "hello", 5); wr(c, "abc", 3); wr(c, "", 0); wr(c, "after", 5);
        wr(c, big, sizeof big);
        Sleep(1500);
        return 0;
    }
    for (mode = 0; mode < 2; mode++) {
        char buf[70000];
        DWORD rmode = mode ? PIPE_READMODE_MESSAGE : PIPE_READMODE_BYTE;
        P("--- message-type pipe, server read mode %s\n", mode ? "MESSAGE" : "BYTE");
        pipe_name(name, 128, GetCurrentProcessId(), mode ? L".m" : L".b");
        HANDLE s = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                                    PIPE_TYPE_MESSAGE | rmode | PIPE_REJECT_REMOTE_CLIENTS,
                                    PIPE_UNLIMITED_INSTANCES, 65536, 65536, 0, NULL);
        OVERLAPPED ov; memset(&ov, 0, sizeof ov); ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
        ConnectNamedPipe(s, &ov);
        PROCESS_INFORMATION pi; wchar_t a[200]; swprintf(a, 200, L"client %ls", name);
        spawn_self(a, &pi);
        WaitForSingleObject(ov.hEvent, 5000);
        Sleep(500);
        for (int i = 0; i < 8; i++) {
            n = rd(s, buf, sizeof buf, &e);
            P("  server read %d: n=%lu err=%lu\n", i, (unsigned long)n, (unsigned long)e);
            if (e == ERROR_OPERATION_ABORTED) break;
        }
        WaitForSingleObject(pi.hProcess, 5000);
        CloseHandle(s);
    }
    return 0;
}
