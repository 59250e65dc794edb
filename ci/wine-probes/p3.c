/* Item 3: PIPE_REJECT_REMOTE_CLIENTS */
#include "common.h"
int wmain(void)
{
    wchar_t name[128]; HANDLE h, c; DWORD flags = 0, inst = 0;
    pipe_name(name, 128, GetCurrentProcessId(), L".reject");
    P("PIPE_REJECT_REMOTE_CLIENTS = 0x%x\n", PIPE_REJECT_REMOTE_CLIENTS);
    h = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
                         PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                         PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, NULL);
    CHK("CreateNamedPipeW MESSAGE|REJECT_REMOTE_CLIENTS", h != INVALID_HANDLE_VALUE);
    if (h != INVALID_HANDLE_VALUE) {
        BOOL ok = GetNamedPipeInfo(h, &flags, NULL, NULL, &inst);
        P("GetNamedPipeInfo ok=%d flags=0x%lx maxinst=%lu\n", ok, flags, inst);
        c = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        CHK("local client CreateFileW", c != INVALID_HANDLE_VALUE);
    }
    h = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_ACCEPT_REMOTE_CLIENTS, PIPE_UNLIMITED_INSTANCES, 0, 0, 0, NULL);
    CHK("2nd instance BYTE|ACCEPT_REMOTE (explicit 0)", h != INVALID_HANDLE_VALUE);
    h = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX, 0x10, PIPE_UNLIMITED_INSTANCES, 0, 0, 0, NULL);
    CHK("instance with undefined pipe-mode bit 0x10", h != INVALID_HANDLE_VALUE);
    return 0;
}
