/* Item 10: NtOpenDirectoryObject + NtQueryDirectoryObject on BaseNamedObjects */
#include "common.h"
typedef LONG NTSTATUS_;
typedef struct { USHORT Length, MaximumLength; PWSTR Buffer; } USTR;
typedef struct { ULONG Length; HANDLE RootDirectory; USTR *ObjectName; ULONG Attributes; PVOID SecurityDescriptor; PVOID SecurityQualityOfService; } OATTR;
typedef struct { USTR Name; USTR TypeName; } ODIRINFO;
typedef VOID (NTAPI *RtlInitUnicodeString_t)(USTR *, PCWSTR);
typedef NTSTATUS_ (NTAPI *NtOpenDirectoryObject_t)(PHANDLE, ACCESS_MASK, OATTR *);
typedef NTSTATUS_ (NTAPI *NtQueryDirectoryObject_t)(HANDLE, PVOID, ULONG, BOOLEAN, BOOLEAN, PULONG, PULONG);
static RtlInitUnicodeString_t pRtlInit; static NtOpenDirectoryObject_t pOpen; static NtQueryDirectoryObject_t pQuery;

static void list_dir(const wchar_t *path, int single)
{
    USTR us; OATTR oa; HANDLE d = NULL; NTSTATUS_ st; ULONG ctx = 0, ret = 0; static BYTE buf[65536]; int total = 0, mine = 0, calls = 0;
    pRtlInit(&us, path);
    memset(&oa, 0, sizeof oa); oa.Length = sizeof oa; oa.ObjectName = &us; oa.Attributes = 0x40 /*OBJ_CASE_INSENSITIVE*/;
    st = pOpen(&d, 0x0001 /*DIRECTORY_QUERY*/ | 0x0002 /*TRAVERSE*/, &oa);
    P("NtOpenDirectoryObject(%ls) status=0x%08lx\n", path, (unsigned long)st);
    if (st) return;
    for (;;) {
        ODIRINFO *e; calls++;
        st = pQuery(d, buf, sizeof buf, single ? TRUE : FALSE, calls == 1 ? TRUE : FALSE, &ctx, &ret);
        if (st != 0 && st != 0x00000105 /*STATUS_MORE_ENTRIES*/) { if (st != (NTSTATUS_)0x8000001A) P("  NtQueryDirectoryObject status=0x%08lx\n", (unsigned long)st); break; }
        for (e = (ODIRINFO *)buf; e->Name.Buffer; e++) {
            total++;
            if (wcsstr(e->Name.Buffer, L"xipc.probe")) {
                mine++;
                P("  entry: %.*ls  type=%.*ls\n", e->Name.Length / 2, e->Name.Buffer, e->TypeName.Length / 2, e->TypeName.Buffer);
            } else if (total <= 6) P("  (other) %.*ls  type=%.*ls\n", e->Name.Length / 2, e->Name.Buffer, e->TypeName.Length / 2, e->TypeName.Buffer);
            if (single) break;
        }
        if (calls > 10000) break;
    }
    P("  => %s mode: %d entries total, %d xipc.probe entries, %d query calls, last status=0x%08lx (0x8000001A=STATUS_NO_MORE_ENTRIES)\n",
      single ? "ReturnSingleEntry" : "batch", total, mine, calls, (unsigned long)st);
    CloseHandle(d);
}
int wmain(void)
{
    HMODULE nt = GetModuleHandleW(L"ntdll.dll"); DWORD sess = 99, pid = GetCurrentProcessId(); wchar_t n[160], path[160];
    pRtlInit = (RtlInitUnicodeString_t)GetProcAddress(nt, "RtlInitUnicodeString");
    pOpen = (NtOpenDirectoryObject_t)GetProcAddress(nt, "NtOpenDirectoryObject");
    pQuery = (NtQueryDirectoryObject_t)GetProcAddress(nt, "NtQueryDirectoryObject");
    { BOOL ok = ProcessIdToSessionId(pid, &sess); P("ProcessIdToSessionId ok=%d session=%lu\n", ok, sess); }
    swprintf(n, 160, L"Local\\xipc.probe.%lu.map", pid); CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, n);
    swprintf(n, 160, L"Local\\xipc.probe.%lu.ev", pid); CreateEventW(NULL, TRUE, FALSE, n);
    swprintf(n, 160, L"Local\\xipc.probe.%lu.sem", pid); CreateSemaphoreW(NULL, 0, 1, n);
    swprintf(n, 160, L"Local\\xipc.probe.%lu.mtx", pid); CreateMutexW(NULL, FALSE, n);
    swprintf(n, 160, L"Local\\xipc.probe.%lu.tmr", pid); CreateWaitableTimerW(NULL, FALSE, n);
    swprintf(n, 160, L"Global\\xipc.probe.%lu.gev", pid); CreateEventW(NULL, TRUE, FALSE, n);
    swprintf(path, 160, L"\\Sessions\\%lu\\BaseNamedObjects", sess);
    list_dir(path, 0);
    list_dir(path, 1);
    list_dir(L"\\BaseNamedObjects", 0);
    list_dir(L"\\BaseNamedObjects", 1);
    list_dir(L"\\Sessions", 1);
    list_dir(L"\\", 1);
    return 0;
}
