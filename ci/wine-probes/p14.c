/* Item 14: a pipe name whose first instance is byte type gets a second,
 * message-type instance from another creator: what type does that
 * instance have, and can its client switch to message read mode? Also
 * WaitNamedPipeW while every instance is connected and one is re-created. */
#include "common.h"

int wmain(void)
{
    wchar_t name[128]; DWORD flags = 0;
    pipe_name(name, 128, GetCurrentProcessId(), L".p14");
    HANDLE a = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, NULL);
    HANDLE b = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                                PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, NULL);
    P("byte instance ok=%d; message instance (+FIRST_PIPE_INSTANCE) ok=%d err=%lu\n", a != INVALID_HANDLE_VALUE,
      b != INVALID_HANDLE_VALUE, GetLastError());
    GetNamedPipeInfo(b, &flags, NULL, NULL, NULL);
    P("GetNamedPipeInfo(message instance) flags=0x%lx (TYPE_MESSAGE=%d)\n", flags, (flags & PIPE_TYPE_MESSAGE) != 0);
    HANDLE c1 = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    ULONG spid = 0; GetNamedPipeServerProcessId(c1, &spid);
    DWORD mode = PIPE_READMODE_MESSAGE;
    BOOL ok = SetNamedPipeHandleState(c1, &mode, NULL, NULL);
    P("client 1 (gets the byte instance, created first): SetNamedPipeHandleState(MESSAGE) ok=%d err=%lu\n", ok, ok ? 0ul : (unsigned long)GetLastError());
    HANDLE c2 = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    ok = SetNamedPipeHandleState(c2, &mode, NULL, NULL);
    P("client 2 (gets the message instance): SetNamedPipeHandleState(MESSAGE) ok=%d err=%lu\n", ok, ok ? 0ul : (unsigned long)GetLastError());
    HANDLE c3 = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    P("client 3 with both instances taken: %s err=%lu\n", c3 != INVALID_HANDLE_VALUE ? "OPENED" : "FAIL", GetLastError());
    double t0 = now_ms();
    ok = WaitNamedPipeW(name, 200);
    P("WaitNamedPipeW(200) with every instance connected: ok=%d err=%lu after %.0f ms\n", ok, GetLastError(), now_ms() - t0);
    CloseHandle(c1); CloseHandle(c2); CloseHandle(a); CloseHandle(b);
    return 0;
}
