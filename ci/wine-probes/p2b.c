/* Item 2 workaround probe: NtCreateNamedPipeFile with FILE_CREATE (what Windows kernel32 maps
   FILE_FLAG_FIRST_PIPE_INSTANCE to) -- does Wine's server honour the disposition? */
#include "common.h"
#include <winternl.h>
typedef NTSTATUS (NTAPI *NtCreateNamedPipeFile_t)(PHANDLE, ULONG, POBJECT_ATTRIBUTES, PIO_STATUS_BLOCK, ULONG, ULONG, ULONG,
                                                  ULONG, ULONG, ULONG, ULONG, ULONG, ULONG, PLARGE_INTEGER);
#ifndef FILE_CREATE
#define FILE_CREATE 2
#endif
#ifndef FILE_OPEN_IF
#define FILE_OPEN_IF 3
#endif
static NtCreateNamedPipeFile_t pNtCreateNamedPipeFile;
static NTSTATUS mk(const wchar_t *nt, ULONG disp, HANDLE *h, ULONG_PTR *info)
{
    UNICODE_STRING us; OBJECT_ATTRIBUTES oa; IO_STATUS_BLOCK io; LARGE_INTEGER to; NTSTATUS st;
    RtlInitUnicodeString(&us, nt);
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, NULL, NULL);
    to.QuadPart = -500000;
    memset(&io, 0, sizeof io);
    st = pNtCreateNamedPipeFile(h, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, &oa, &io, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                disp, 0x20 /*FILE_SYNCHRONOUS_IO_NONALERT*/, 0, 0, 0, 0xffffffff, 4096, 4096, &to);
    *info = io.Information;
    return st;
}
int wmain(void)
{
    wchar_t nt[160]; HANDLE h1, h2, h3; ULONG_PTR i1, i2, i3; NTSTATUS s;
    pNtCreateNamedPipeFile = (NtCreateNamedPipeFile_t)GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtCreateNamedPipeFile");
    swprintf(nt, 160, L"\\??\\pipe\\xipc.probe.%lu.ntcreate", (unsigned long)GetCurrentProcessId());
    s = mk(nt, FILE_CREATE, &h1, &i1);
    P("1st NtCreateNamedPipeFile(FILE_CREATE)  status=0x%08lx Information=%lu\n", (unsigned long)s, (unsigned long)i1);
    s = mk(nt, FILE_CREATE, &h2, &i2);
    P("2nd NtCreateNamedPipeFile(FILE_CREATE)  status=0x%08lx Information=%lu (Win32 err %lu)\n", (unsigned long)s, (unsigned long)i2, RtlNtStatusToDosError(s));
    s = mk(nt, FILE_OPEN_IF, &h3, &i3);
    P("3rd NtCreateNamedPipeFile(FILE_OPEN_IF) status=0x%08lx Information=%lu (FILE_CREATED=2 FILE_OPENED=1)\n", (unsigned long)s, (unsigned long)i3);
    return 0;
}
