/* Objects item B (xipc ls): DuplicateHandle of a child's section handle plus
 * NtQueryObject(ObjectNameInformation); an open without sharing of a file
 * that is mapped (handle closed), then only viewed, then unmapped. */
#include "common.h"
typedef LONG NTS;
typedef struct { USHORT Length, MaximumLength; PWSTR Buffer; } USTR;
typedef NTS (NTAPI *QO)(HANDLE, ULONG, PVOID, ULONG, PULONG);
int wmain(int argc, wchar_t **argv) {
  QO pQO = (QO)GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "NtQueryObject");
  if (argc > 2) {
    HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, argv[2]);
    printf("%llu\n", (unsigned long long)(ULONG_PTR)h); fflush(stdout); Sleep(3000); return 0;
  }
  wchar_t n[100]; swprintf(n, 100, L"xipc.p13.%lu", GetCurrentProcessId());
  HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 10000, n);
  SECURITY_ATTRIBUTES sa = { sizeof sa, NULL, TRUE }; HANDLE r, w; CreatePipe(&r, &w, &sa, 0);
  STARTUPINFOW si = { sizeof si }; si.dwFlags = STARTF_USESTDHANDLES; si.hStdOutput = w; si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
  PROCESS_INFORMATION pi; wchar_t cmd[300], self[MAX_PATH]; GetModuleFileNameW(NULL, self, MAX_PATH);
  swprintf(cmd, 300, L"\"%ls\" child %ls", self, n); CreateProcessW(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
  char buf[64] = {0}; DWORD got; ReadFile(r, buf, 63, &got, NULL);
  unsigned long long ch = strtoull(buf, NULL, 10); P("child handle %llu\n", ch);
  HANDLE cp = OpenProcess(PROCESS_DUP_HANDLE, FALSE, pi.dwProcessId), d = NULL;
  BOOL ok = DuplicateHandle(cp, (HANDLE)(ULONG_PTR)ch, GetCurrentProcess(), &d, 0, FALSE, 0);
  P("DuplicateHandle(access 0) ok=%d err=%lu\n", ok, GetLastError());
  BYTE nb[1024]; ULONG rl; NTS st = pQO(d, 1, nb, sizeof nb, &rl);
  P("name st=0x%lx %.*ls\n", (unsigned long)st, st ? 0 : ((USTR *)nb)->Length / 2, st ? L"" : ((USTR *)nb)->Buffer);
  CloseHandle(d);
  /* file: mapped, handle closed, then exclusive open */
  HANDLE f = CreateFileW(L"p13.dat", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, CREATE_ALWAYS, 0, NULL);
  HANDLE m = CreateFileMappingW(f, NULL, PAGE_READWRITE, 0, 4096, NULL); void *v = MapViewOfFile(m, FILE_MAP_WRITE, 0, 0, 0);
  CloseHandle(f);
  HANDLE x = CreateFileW(L"p13.dat", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
  P("exclusive open while mapped (file+section handle open, file handle closed): %p err=%lu\n", x, GetLastError());
  if (x != INVALID_HANDLE_VALUE) CloseHandle(x);
  CloseHandle(m);
  x = CreateFileW(L"p13.dat", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
  P("exclusive open, view only: %p err=%lu\n", x, GetLastError());
  if (x != INVALID_HANDLE_VALUE) CloseHandle(x);
  UnmapViewOfFile(v);
  x = CreateFileW(L"p13.dat", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
  P("exclusive open, unmapped: %p err=%lu\n", x, GetLastError());
  CloseHandle(x); DeleteFileW(L"p13.dat");
  WaitForSingleObject(pi.hProcess, 5000);
  return 0;
}
