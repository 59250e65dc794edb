/* Objects item A (xipc ls): SystemExtendedHandleInformation (kernel addresses,
 * type indices), NtQueryObject basic/name/type, NtQuerySection, a child
 * holding the section, FindFirstFileW on \\.\pipe\*. */
#include "common.h"
typedef LONG NTS;
typedef struct { USHORT Length, MaximumLength; PWSTR Buffer; } USTR;
typedef struct {
  PVOID Object; ULONG_PTR UniqueProcessId; ULONG_PTR HandleValue; ULONG GrantedAccess;
  USHORT CreatorBackTraceIndex; USHORT ObjectTypeIndex; ULONG HandleAttributes; ULONG Reserved;
} HENTRY;
typedef struct { ULONG_PTR NumberOfHandles; ULONG_PTR Reserved; HENTRY Handles[1]; } HINFO;
typedef struct { ULONG Attributes; ACCESS_MASK GrantedAccess; ULONG HandleCount; ULONG PointerCount;
  ULONG PagedPoolUsage, NonPagedPoolUsage, Reserved[3], NameInformationLength, TypeInformationLength, SecurityDescriptorLength; LARGE_INTEGER CreateTime; } OBASIC;
typedef struct { PVOID BaseAddress; ULONG Attributes; LARGE_INTEGER Size; } SECBASIC;
typedef NTS (NTAPI *QSI)(ULONG, PVOID, ULONG, PULONG);
typedef NTS (NTAPI *QO)(HANDLE, ULONG, PVOID, ULONG, PULONG);
typedef NTS (NTAPI *QS)(HANDLE, ULONG, PVOID, SIZE_T, PSIZE_T);
static QSI pQSI; static QO pQO; static QS pQS;

static void dump_handles(const char *what, HANDLE mine, DWORD child) {
  ULONG cap = 1 << 20, ret = 0; NTS st; HINFO *hi = NULL;
  for (;;) { hi = realloc(hi, cap); st = pQSI(64, hi, cap, &ret); if (st != (NTS)0xC0000004) break; cap *= 2; }
  P("[%s] NtQuerySystemInformation(64) status=0x%08lx n=%llu ret=%lu\n", what, (unsigned long)st, st ? 0ull : (unsigned long long)hi->NumberOfHandles, ret);
  if (st) { free(hi); return; }
  PVOID obj = NULL; USHORT ti = 0; ULONG_PTR i; int found = 0;
  for (i = 0; i < hi->NumberOfHandles; i++) {
    HENTRY *e = &hi->Handles[i];
    if (e->UniqueProcessId == GetCurrentProcessId() && e->HandleValue == (ULONG_PTR)mine) { obj = e->Object; ti = e->ObjectTypeIndex; found = 1;
      P("  own entry: object=%p type=%u access=0x%lx\n", e->Object, e->ObjectTypeIndex, e->GrantedAccess); }
  }
  P("  own handle found=%d\n", found);
  int pids = 0, childents = 0;
  for (i = 0; i < hi->NumberOfHandles; i++) {
    HENTRY *e = &hi->Handles[i];
    if (e->UniqueProcessId == child) { childents++; if (childents <= 3 || e->ObjectTypeIndex == ti) P("  child entry: obj=%p type=%u h=0x%llx\n", e->Object, e->ObjectTypeIndex, (unsigned long long)e->HandleValue); }
    if (found && obj && e->Object == obj) { pids++; P("  same object: pid=%llu h=0x%llx\n", (unsigned long long)e->UniqueProcessId, (unsigned long long)e->HandleValue); }
  }
  P("  child entries=%d, same-object entries=%d\n", childents, pids);
  /* distinct pids */
  free(hi);
}
int wmain(int argc, wchar_t **argv) {
  HMODULE nt = GetModuleHandleW(L"ntdll.dll");
  pQSI = (QSI)GetProcAddress(nt, "NtQuerySystemInformation");
  pQO = (QO)GetProcAddress(nt, "NtQueryObject");
  pQS = (QS)GetProcAddress(nt, "NtQuerySection");
  wchar_t n[160];
  if (argc > 2) { /* child: open the section, wait */
    HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, argv[2]);
    P("child opened %ls -> %p\n", argv[2], h); Sleep(3000); return 0;
  }
  swprintf(n, 160, L"xipc.probe.%lu.map", GetCurrentProcessId());
  HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 10000, n);
  HANDLE s = CreateSemaphoreW(NULL, 0, 1, L"xipc.probe.sem");
  PROCESS_INFORMATION pi; wchar_t a[200]; swprintf(a, 200, L"child %ls", n);
  spawn_self(a, &pi); Sleep(1000);
  P("child pid=%lu self=%lu\n", pi.dwProcessId, GetCurrentProcessId());
  dump_handles("section", h, pi.dwProcessId);
  OBASIC ob; ULONG r = 0; NTS st = pQO(h, 0, &ob, sizeof ob, &r);
  P("NtQueryObject(Basic) st=0x%08lx HandleCount=%lu PointerCount=%lu CreateTime=%lld ret=%lu\n", (unsigned long)st, ob.HandleCount, ob.PointerCount, (long long)ob.CreateTime.QuadPart, r);
  BYTE nb[1024]; st = pQO(h, 1, nb, sizeof nb, &r);
  P("NtQueryObject(Name) st=0x%08lx name=%.*ls\n", (unsigned long)st, st ? 0 : ((USTR *)nb)->Length / 2, st ? L"" : ((USTR *)nb)->Buffer);
  st = pQO(h, 2, nb, sizeof nb, &r);
  P("NtQueryObject(Type) st=0x%08lx type=%.*ls\n", (unsigned long)st, st ? 0 : ((USTR *)nb)->Length / 2, st ? L"" : ((USTR *)nb)->Buffer);
  st = pQO(s, 0, &ob, sizeof ob, &r);
  P("NtQueryObject(Basic, sem) st=0x%08lx HandleCount=%lu\n", (unsigned long)st, ob.HandleCount);
  SECBASIC sb; SIZE_T sr = 0; HANDLE h2 = OpenFileMappingW(FILE_MAP_READ, FALSE, n);
  st = pQS(h2, 0, &sb, sizeof sb, &sr);
  P("NtQuerySection(Basic) via FILE_MAP_READ st=0x%08lx size=%lld attr=0x%lx\n", (unsigned long)st, (long long)sb.Size.QuadPart, sb.Attributes);
  HANDLE h3 = OpenFileMappingW(FILE_MAP_READ | SECTION_QUERY, FALSE, n);
  st = pQS(h3, 0, &sb, sizeof sb, &sr);
  P("NtQuerySection(Basic) via SECTION_QUERY st=0x%08lx size=%lld\n", (unsigned long)st, (long long)sb.Size.QuadPart);
  /* duplicate the child's handles */
  HANDLE cp = OpenProcess(PROCESS_DUP_HANDLE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pi.dwProcessId);
  P("OpenProcess(DUP) -> %p err=%lu\n", cp, GetLastError());
  WaitForSingleObject(pi.hProcess, 5000);
  st = pQO(h, 0, &ob, sizeof ob, &r);
  P("after child exit: HandleCount=%lu\n", ob.HandleCount);
  dump_handles("after exit", h, pi.dwProcessId);
  WIN32_FIND_DATAW fd; HANDLE f = FindFirstFileW(L"\\\\.\\pipe\\*", &fd);
  P("FindFirstFileW pipe -> %p err=%lu\n", f, GetLastError());
  return 0;
}
