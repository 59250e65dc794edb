/* Item 10 extra: can named pipes be listed (FindFirstFileW on \\.\pipe\*)? */
#include "common.h"
int wmain(void)
{
    wchar_t name[128]; WIN32_FIND_DATAW fd; HANDLE f; int total = 0;
    pipe_name(name, 128, GetCurrentProcessId(), L".listme");
    CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 1, 0, 0, 0, NULL);
    f = FindFirstFileW(L"\\\\.\\pipe\\*", &fd);
    if (f == INVALID_HANDLE_VALUE) { P("FindFirstFileW(\\\\.\\pipe\\*) failed err=%lu\n", GetLastError()); return 0; }
    do { total++; if (wcsstr(fd.cFileName, L"xipc")) P("  found %ls\n", fd.cFileName); } while (FindNextFileW(f, &fd));
    P("FindFirstFileW(\\\\.\\pipe\\*) OK, %d entries, last err=%lu\n", total, GetLastError());
    return 0;
}
