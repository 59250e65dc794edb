/* Item 1: byte vs message mode across processes; ERROR_MORE_DATA on short read */
#include "common.h"

static void client(const wchar_t *name, int msgmode)
{
    HANDLE h;
    char big[100]; DWORD n; char ack;
    if (!WaitNamedPipeW(name, 5000)) P("[child] WaitNamedPipe fail %lu\n", GetLastError());
    h = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (h == INVALID_HANDLE_VALUE) { P("[child] CreateFile fail %lu\n", GetLastError()); return; }
    if (msgmode) {
        DWORD m = PIPE_READMODE_MESSAGE;
        BOOL ok = SetNamedPipeHandleState(h, &m, NULL, NULL);
        CHK("[child] SetNamedPipeHandleState(READMODE_MESSAGE)", ok);
    }
    memset(big, 'x', sizeof big);
    WriteFile(h, "hello", 5, &n, NULL);
    WriteFile(h, "world!!", 7, &n, NULL);
    WriteFile(h, big, 100, &n, NULL);
    WriteFile(h, "", 0, &n, NULL); /* zero-length message */
    WriteFile(h, "end", 3, &n, NULL);
    /* server -> client direction: one 20-byte message, read with 8-byte buffer */
    {
        char b[8]; BOOL ok; DWORD e;
        ok = ReadFile(h, b, 8, &n, NULL); e = GetLastError();
        P("[child] read s->c #1: ok=%d n=%lu err=%lu\n", ok, n, ok ? 0 : e);
        ok = ReadFile(h, b, 8, &n, NULL); e = GetLastError();
        P("[child] read s->c #2: ok=%d n=%lu err=%lu\n", ok, n, ok ? 0 : e);
        ok = ReadFile(h, b, 8, &n, NULL); e = GetLastError();
        P("[child] read s->c #3: ok=%d n=%lu err=%lu\n", ok, n, ok ? 0 : e);
    }
    ReadFile(h, &ack, 1, &n, NULL);
    CloseHandle(h);
}

static void server(int msgmode)
{
    wchar_t name[128], args[256];
    PROCESS_INFORMATION pi; HANDLE h; char buf[64]; DWORD n, avail, left; int i; BOOL ok;
    DWORD type = msgmode ? (PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE) : (PIPE_TYPE_BYTE | PIPE_READMODE_BYTE);
    pipe_name(name, 128, GetCurrentProcessId(), msgmode ? L".msg" : L".byte");
    P("=== %s mode, pipe %ls\n", msgmode ? "MESSAGE" : "BYTE", name);
    h = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX, type | PIPE_WAIT, 1, 4096, 4096, 0, NULL);
    CHK("CreateNamedPipeW", h != INVALID_HANDLE_VALUE);
    swprintf(args, 256, L"client %d %ls", msgmode, name);
    spawn_self(args, &pi);
    ok = ConnectNamedPipe(h, NULL);
    P("ConnectNamedPipe ok=%d err=%lu\n", ok, ok ? 0 : GetLastError());
    Sleep(500); /* let the client write everything */
    ok = PeekNamedPipe(h, NULL, 0, NULL, &avail, &left);
    P("PeekNamedPipe ok=%d totalAvail=%lu bytesLeftThisMessage=%lu\n", ok, avail, left);
    for (i = 0; i < 8; i++) {
        DWORD e;
        n = 0;
        ok = ReadFile(h, buf, (i == 2 || i == 3) ? 64 : sizeof buf, &n, NULL); e = GetLastError();
        P("server read #%d (buf 64): ok=%d n=%lu err=%lu first='%.*s'\n", i, ok, n, ok ? 0 : e, (int)(n > 12 ? 12 : n), buf);
        if (ok && n >= 3 && memcmp(buf + n - 3, "end", 3) == 0) break;
    }
    {   char m20[20]; memset(m20, 'm', 20); ok = WriteFile(h, m20, 20, &n, NULL);
        P("server wrote 20-byte message ok=%d\n", ok); }
    Sleep(300);
    WriteFile(h, "!", 1, &n, NULL);
    WaitForSingleObject(pi.hProcess, 5000);
    CloseHandle(h);
}

int wmain(int argc, wchar_t **argv)
{
    if (argc >= 4 && !wcscmp(argv[1], L"client")) { client(argv[3], _wtoi(argv[2])); return 0; }
    server(0);
    server(1);
    return 0;
}
