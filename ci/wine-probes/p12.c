/* Item 12 (local endpoints): zero-byte writes on byte-mode pipes, the
 * client's token from the server side, a READ_CONTROL-only open, an SD with
 * an explicit owner, SECURITY_IDENTIFICATION against impersonation. */
#include "common.h"

static HANDLE mkpipe(const wchar_t *name, SECURITY_ATTRIBUTES *sa, DWORD first)
{
    return CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | first,
                            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_REJECT_REMOTE_CLIENTS,
                            PIPE_UNLIMITED_INSTANCES, 65536, 65536, 0, sa);
}

/* One overlapped read with a 300 ms limit: prints what it got. */
static void read_one(const char *who, HANDLE h)
{
    char buf[64]; DWORD n = 0; OVERLAPPED ov; BOOL ok;
    memset(&ov, 0, sizeof ov); ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    ok = ReadFile(h, buf, sizeof buf, NULL, &ov);
    if (!ok && GetLastError() == ERROR_IO_PENDING) {
        if (WaitForSingleObject(ov.hEvent, 300) != WAIT_OBJECT_0) {
            CancelIoEx(h, &ov);
            ok = GetOverlappedResult(h, &ov, &n, TRUE);
            P("  %s read: nothing in 300 ms (cancel -> ok=%d err=%lu)\n", who, ok, GetLastError());
            CloseHandle(ov.hEvent);
            return;
        }
    }
    ok = GetOverlappedResult(h, &ov, &n, FALSE);
    P("  %s read: ok=%d n=%lu err=%lu\n", who, ok, (unsigned long)n, ok ? 0ul : (unsigned long)GetLastError());
    CloseHandle(ov.hEvent);
}

static BOOL write_n(HANDLE h, const char *p, DWORD n)
{
    OVERLAPPED ov; DWORD got = 0; BOOL ok;
    memset(&ov, 0, sizeof ov); ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    ok = WriteFile(h, p, n, NULL, &ov);
    if (!ok && GetLastError() == ERROR_IO_PENDING) ok = GetOverlappedResult(h, &ov, &got, TRUE);
    else if (ok) GetOverlappedResult(h, &ov, &got, FALSE);
    P("  write %lu bytes: ok=%d got=%lu\n", (unsigned long)n, ok, (unsigned long)got);
    CloseHandle(ov.hEvent);
    return ok;
}

static HANDLE connect_pending(HANDLE s, OVERLAPPED *ov)
{
    memset(ov, 0, sizeof *ov); ov->hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    BOOL ok = ConnectNamedPipe(s, ov);
    P("  ConnectNamedPipe: ok=%d err=%lu\n", ok, GetLastError());
    return ov->hEvent;
}

int wmain(int argc, wchar_t **argv)
{
    wchar_t name[128], sddl[512]; HANDLE s, c; OVERLAPPED ov; DWORD n;
    if (argc >= 3 && !wcscmp(argv[1], L"client")) {
        c = CreateFileW(argv[2], GENERIC_READ | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES, 0, NULL,
                        OPEN_EXISTING, FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, NULL);
        P("  [child] CreateFileW(SQOS identification) -> %s err=%lu\n", c != INVALID_HANDLE_VALUE ? "OPENED" : "FAIL", GetLastError());
        write_n(c, "hello", 5);
        write_n(c, "", 0);
        write_n(c, "abc", 3);
        Sleep(2000); /* the server reads and impersonates meanwhile */
        return 0;
    }
    pipe_name(name, 128, GetCurrentProcessId(), L".p12");
    LPWSTR me = NULL; ConvertSidToStringSidW(token_sid(TokenUser), &me);
    swprintf(sddl, 512, L"O:%lsD:P(A;;GA;;;SY)(A;;GA;;;%ls)", me, me);
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    BOOL ok = ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sa.lpSecurityDescriptor, NULL);
    P("--- (a) SD with explicit owner %ls: convert ok=%d\n", sddl, ok);
    s = mkpipe(name, &sa, FILE_FLAG_FIRST_PIPE_INSTANCE);
    P("  CreateNamedPipeW(O:user D:P...) -> %s err=%lu\n", s != INVALID_HANDLE_VALUE ? "OK" : "FAIL", GetLastError());
    {
        PSID owner = NULL; PACL dacl = NULL; PSECURITY_DESCRIPTOR sd = NULL; LPWSTR str = NULL;
        DWORD e = GetSecurityInfo(s, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner, NULL, &dacl, NULL, &sd);
        ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, SDDL_REVISION_1, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &str, NULL);
        P("  server handle GetSecurityInfo -> %lu: %ls (owner=%s)\n", e, str ? str : L"?", sid_str(owner));
    }

    P("--- (b) READ_CONTROL-only open of the pipe: does it take an instance?\n");
    HANDLE cev = connect_pending(s, &ov);
    c = CreateFileW(name, READ_CONTROL, 0, NULL, OPEN_EXISTING, 0, NULL);
    P("  CreateFileW(READ_CONTROL) -> %s err=%lu\n", c != INVALID_HANDLE_VALUE ? "OPENED" : "FAIL", GetLastError());
    P("  server connect event after it: %s\n", WaitForSingleObject(cev, 100) == WAIT_OBJECT_0 ? "SIGNALLED (instance taken)" : "not signalled");
    if (c != INVALID_HANDLE_VALUE) {
        PSID owner = NULL; PACL dacl = NULL; PSECURITY_DESCRIPTOR sd = NULL; LPWSTR str = NULL;
        DWORD e = GetSecurityInfo(c, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner, NULL, &dacl, NULL, &sd);
        ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, SDDL_REVISION_1, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &str, NULL);
        P("  client handle GetSecurityInfo -> %lu: %ls\n", e, str ? str : L"?");
        CloseHandle(c);
    }
    CloseHandle(s); CloseHandle(cev);

    P("--- (c) zero-byte writes on a byte-mode pipe, client in another process\n");
    s = mkpipe(name, &sa, 0);
    cev = connect_pending(s, &ov);
    PROCESS_INFORMATION pi; wchar_t a[200]; swprintf(a, 200, L"client %ls", name);
    spawn_self(a, &pi);
    WaitForSingleObject(cev, 5000);
    ok = GetOverlappedResult(s, &ov, &n, FALSE);
    P("  connected ok=%d\n", ok);
    Sleep(300); /* let the child write 5, 0, 3 */
    read_one("server", s);
    read_one("server", s);
    read_one("server", s);
    read_one("server", s);

    P("--- (d) the client's token from the server side\n");
    ULONG cpid = 0; GetNamedPipeClientProcessId(s, &cpid);
    HANDLE proc = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, cpid);
    P("  OpenProcess(%lu, QUERY_LIMITED) -> %s err=%lu\n", cpid, proc ? "OK" : "FAIL", GetLastError());
    HANDLE tok = NULL;
    ok = proc && OpenProcessToken(proc, TOKEN_QUERY, &tok);
    P("  OpenProcessToken(client) -> %d err=%lu\n", ok, GetLastError());
    if (ok) {
        BYTE b[512]; DWORD len;
        ok = GetTokenInformation(tok, TokenUser, b, sizeof b, &len);
        P("  client TokenUser=%s, mine=%s, equal=%d\n", sid_str(((TOKEN_USER *)b)->User.Sid), sid_str(token_sid(TokenUser)),
          EqualSid(((TOKEN_USER *)b)->User.Sid, token_sid(TokenUser)));
    }

    P("--- (e) ImpersonateNamedPipeClient against a SECURITY_IDENTIFICATION client\n");
    ok = ImpersonateNamedPipeClient(s);
    P("  ImpersonateNamedPipeClient -> %d err=%lu\n", ok, GetLastError());
    if (ok) {
        HANDLE t2 = NULL;
        BOOL ok2 = OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, TRUE, &t2);
        SECURITY_IMPERSONATION_LEVEL lvl = 0; DWORD len = 0;
        if (ok2) GetTokenInformation(t2, TokenImpersonationLevel, &lvl, sizeof lvl, &len);
        P("  OpenThreadToken -> %d, level=%d (1=identification 2=impersonation)\n", ok2, (int)lvl);
        RevertToSelf();
    }

    WaitForSingleObject(pi.hProcess, 5000);
    CloseHandle(s);
    return 0;
}
