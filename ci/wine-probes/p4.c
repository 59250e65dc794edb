/* Item 4: explicit DACL on a named pipe; read-back; enforcement */
#include "common.h"

static void dump_sd(const char *label, HANDLE h)
{
    PSID owner = NULL, group = NULL; PACL dacl = NULL; PSECURITY_DESCRIPTOR sd = NULL; LPSTR s = NULL;
    DWORD r = GetSecurityInfo(h, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION | OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION,
                              &owner, &group, &dacl, NULL, &sd);
    if (r != ERROR_SUCCESS) { P("%s: GetSecurityInfo failed %lu\n", label, r); return; }
    ConvertSecurityDescriptorToStringSecurityDescriptorA(sd, SDDL_REVISION_1,
        DACL_SECURITY_INFORMATION | OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION, &s, NULL);
    P("%s: GetSecurityInfo OK owner=%s group=%s dacl=%p aces=%d\n     SDDL=%s\n", label, sid_str(owner), sid_str(group), (void *)dacl,
      dacl ? dacl->AceCount : -1, s ? s : "(conv failed)");
    if (s) LocalFree(s);
    LocalFree(sd);
}

static HANDLE mkpipe(const wchar_t *name, const wchar_t *sddl)
{
    SECURITY_ATTRIBUTES sa = { sizeof sa, NULL, FALSE }; HANDLE h;
    if (sddl && !ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sa.lpSecurityDescriptor, NULL)) {
        P("ConvertStringSD failed %lu for %ls\n", GetLastError(), sddl); return INVALID_HANDLE_VALUE;
    }
    h = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, sddl ? &sa : NULL);
    P("CreateNamedPipeW SD=%ls -> %s (err %lu)\n", sddl ? sddl : L"(default)", h != INVALID_HANDLE_VALUE ? "OK" : "FAIL", GetLastError());
    if (sa.lpSecurityDescriptor) LocalFree(sa.lpSecurityDescriptor);
    return h;
}

static void try_open(const char *who, const wchar_t *name)
{
    HANDLE c = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    DWORD e = GetLastError();
    P("   %s client CreateFileW(RW) -> %s (err %lu)\n", who, c != INVALID_HANDLE_VALUE ? "OPENED" : "FAIL", c != INVALID_HANDLE_VALUE ? 0 : e);
    if (c != INVALID_HANDLE_VALUE) CloseHandle(c);
}

int wmain(int argc, wchar_t **argv)
{
    wchar_t name[128], sddl[512]; LPWSTR me = NULL; HANDLE h; int i;
    const wchar_t *suffix[] = { L".default", L".onlyme", L".onlysys", L".denyme", L".emptydacl" };
    if (argc >= 3 && !wcscmp(argv[1], L"child")) { /* argv[2] = base name; try each */
        for (i = 0; i < 5; i++) { wchar_t n[160]; char w[64]; swprintf(n, 160, L"%ls%ls", argv[2], suffix[i]); snprintf(w, 64, "[child] %ls", suffix[i]); try_open(w, n); }
        return 0;
    }
    ConvertSidToStringSidW(token_sid(TokenUser), &me);
    P("TokenUser=%s TokenOwner=%s\n", sid_str(token_sid(TokenUser)), sid_str(token_sid(TokenOwner)));
    {
        HANDLE hs[5]; wchar_t base[128];
        pipe_name(base, 128, GetCurrentProcessId(), L"");
        for (i = 0; i < 5; i++) {
            wchar_t n[160]; const wchar_t *sd = NULL;
            swprintf(n, 160, L"%ls%ls", base, suffix[i]);
            if (i == 1) { swprintf(sddl, 512, L"D:P(A;;GA;;;SY)(A;;GA;;;%ls)", me); sd = sddl; }
            if (i == 2) sd = L"D:P(A;;GA;;;SY)";
            if (i == 3) { swprintf(sddl, 512, L"D:(D;;GA;;;%ls)(A;;GA;;;WD)(A;;GA;;;SY)", me); sd = sddl; }
            if (i == 4) sd = L"D:P";
            hs[i] = mkpipe(n, sd);
            mkpipe(n, sd); /* 2nd instance, same SD, left listening for the child process */
            dump_sd("   readback", hs[i]);
            try_open("[same process]", n);
        }
        /* SetEntriesInAcl variant */
        {
            EXPLICIT_ACCESSW ea[2]; PACL acl = NULL; SECURITY_DESCRIPTOR sd; SECURITY_ATTRIBUTES sa = { sizeof sa, &sd, FALSE };
            PSID sys = NULL; SID_IDENTIFIER_AUTHORITY nt = SECURITY_NT_AUTHORITY; DWORD r; wchar_t n[160];
            AllocateAndInitializeSid(&nt, 1, SECURITY_LOCAL_SYSTEM_RID, 0, 0, 0, 0, 0, 0, 0, &sys);
            memset(ea, 0, sizeof ea);
            ea[0].grfAccessPermissions = GENERIC_ALL; ea[0].grfAccessMode = SET_ACCESS; ea[0].grfInheritance = NO_INHERITANCE;
            ea[0].Trustee.TrusteeForm = TRUSTEE_IS_SID; ea[0].Trustee.TrusteeType = TRUSTEE_IS_USER; ea[0].Trustee.ptstrName = (LPWSTR)token_sid(TokenUser);
            ea[1] = ea[0]; ea[1].Trustee.ptstrName = (LPWSTR)sys;
            r = SetEntriesInAclW(2, ea, NULL, &acl);
            P("SetEntriesInAclW -> %lu\n", r);
            InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION);
            SetSecurityDescriptorDacl(&sd, TRUE, acl, FALSE);
            swprintf(n, 160, L"%ls.setentries", base);
            h = CreateNamedPipeW(n, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, &sa);
            CHK("CreateNamedPipeW with SetEntriesInAcl SD", h != INVALID_HANDLE_VALUE);
            dump_sd("   readback", h);
        }
        {
            PROCESS_INFORMATION pi; wchar_t a[200];
            swprintf(a, 200, L"child %ls", base);
            spawn_self(a, &pi); WaitForSingleObject(pi.hProcess, 20000);
        }
    }
    return 0;
}
