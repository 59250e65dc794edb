/* Item 2: FILE_FLAG_FIRST_PIPE_INSTANCE */
#include "common.h"

static HANDLE mk(const wchar_t *name, DWORD extra_open, DWORD maxinst)
{
    return CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | extra_open, PIPE_TYPE_BYTE | PIPE_WAIT, maxinst, 4096, 4096, 0, NULL);
}

int wmain(int argc, wchar_t **argv)
{
    wchar_t name[128], name2[128]; HANDLE h1, h2, h3, h4, h5;
    if (argc >= 3 && !wcscmp(argv[1], L"child")) {
        HANDLE h = mk(argv[2], FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_UNLIMITED_INSTANCES);
        CHK("[child] 2nd process CreateNamedPipeW +FIRST_PIPE_INSTANCE", h != INVALID_HANDLE_VALUE);
        h = mk(argv[2], 0, PIPE_UNLIMITED_INSTANCES);
        CHK("[child] 2nd process CreateNamedPipeW no flag", h != INVALID_HANDLE_VALUE);
        return 0;
    }
    pipe_name(name, 128, GetCurrentProcessId(), L".first");
    h1 = mk(name, FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_UNLIMITED_INSTANCES);
    CHK("1st CreateNamedPipeW +FIRST_PIPE_INSTANCE", h1 != INVALID_HANDLE_VALUE);
    h2 = mk(name, FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_UNLIMITED_INSTANCES);
    CHK("2nd CreateNamedPipeW +FIRST_PIPE_INSTANCE (same proc)", h2 != INVALID_HANDLE_VALUE);
    h3 = mk(name, 0, PIPE_UNLIMITED_INSTANCES);
    CHK("3rd CreateNamedPipeW without flag", h3 != INVALID_HANDLE_VALUE);
    h4 = mk(name, 0, 5);
    CHK("4th CreateNamedPipeW without flag, nMaxInstances 5 (mismatch)", h4 != INVALID_HANDLE_VALUE);
    {
        PROCESS_INFORMATION pi; wchar_t a[200]; swprintf(a, 200, L"child %ls", name);
        spawn_self(a, &pi); WaitForSingleObject(pi.hProcess, 10000);
    }
    /* close all; then FIRST_PIPE_INSTANCE again must succeed */
    CloseHandle(h1); if (h3 != INVALID_HANDLE_VALUE) CloseHandle(h3); if (h4 != INVALID_HANDLE_VALUE) CloseHandle(h4);
    h5 = mk(name, FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_UNLIMITED_INSTANCES);
    CHK("after closing all: CreateNamedPipeW +FIRST_PIPE_INSTANCE", h5 != INVALID_HANDLE_VALUE);
    CloseHandle(h5);
    /* max instances 1 */
    pipe_name(name2, 128, GetCurrentProcessId(), L".max1");
    h1 = mk(name2, FILE_FLAG_FIRST_PIPE_INSTANCE, 1);
    CHK("max1: 1st CreateNamedPipeW", h1 != INVALID_HANDLE_VALUE);
    h2 = mk(name2, 0, 1);
    CHK("max1: 2nd CreateNamedPipeW (exceeds nMaxInstances)", h2 != INVALID_HANDLE_VALUE);
    /* FIRST_PIPE_INSTANCE with access mismatch */
    h3 = CreateNamedPipeW(name2, PIPE_ACCESS_INBOUND, PIPE_TYPE_BYTE, 1, 0, 0, 0, NULL);
    CHK("max1: 3rd with different open mode (INBOUND)", h3 != INVALID_HANDLE_VALUE);
    return 0;
}
