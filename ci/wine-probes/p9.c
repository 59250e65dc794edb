/* Item 9: owner of kernel objects created with default security */
#include "common.h"
static void show(const char *what, HANDLE h)
{
    PSID owner = NULL, group = NULL; PACL dacl = NULL; PSECURITY_DESCRIPTOR sd = NULL; LPSTR s = NULL; DWORD r;
    if (!h) { P("%-28s create failed %lu\n", what, GetLastError()); return; }
    r = GetSecurityInfo(h, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &owner, &group, &dacl, NULL, &sd);
    if (r) { P("%-28s GetSecurityInfo err %lu\n", what, r); return; }
    ConvertSecurityDescriptorToStringSecurityDescriptorA(sd, SDDL_REVISION_1, OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &s, NULL);
    P("%-28s owner=%-22s =user:%d =tokenowner:%d  SDDL=%s\n", what, sid_str(owner),
      owner && EqualSid(owner, token_sid(TokenUser)), owner && EqualSid(owner, token_sid(TokenOwner)), s ? s : "?");
    if (s) LocalFree(s);
    LocalFree(sd);
}
int wmain(void)
{
    wchar_t n[160]; DWORD pid = GetCurrentProcessId();
    HANDLE tok; BYTE b[512]; DWORD len; LPSTR s = NULL;
    P("TokenUser=%s TokenOwner=%s\n", sid_str(token_sid(TokenUser)), sid_str(token_sid(TokenOwner)));
    OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok);
    if (GetTokenInformation(tok, TokenPrimaryGroup, b, sizeof b, &len)) P("TokenPrimaryGroup=%s\n", sid_str(((TOKEN_PRIMARY_GROUP *)b)->PrimaryGroup));
    if (GetTokenInformation(tok, TokenDefaultDacl, b, sizeof b, &len)) {
        PACL acl = ((TOKEN_DEFAULT_DACL *)b)->DefaultDacl; SECURITY_DESCRIPTOR sd; InitializeSecurityDescriptor(&sd, 1);
        SetSecurityDescriptorDacl(&sd, TRUE, acl, FALSE);
        ConvertSecurityDescriptorToStringSecurityDescriptorA(&sd, 1, DACL_SECURITY_INFORMATION, &s, NULL);
        P("TokenDefaultDacl=%s\n", s ? s : "?");
    }
    swprintf(n, 160, L"Local\\xipc.probe.%lu.map", pid); show("CreateFileMappingW named", CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, n));
    show("CreateFileMappingW unnamed", CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, NULL));
    swprintf(n, 160, L"Local\\xipc.probe.%lu.ev", pid); show("CreateEventW named", CreateEventW(NULL, TRUE, FALSE, n));
    show("CreateEventW unnamed", CreateEventW(NULL, TRUE, FALSE, NULL));
    swprintf(n, 160, L"Local\\xipc.probe.%lu.sem", pid); show("CreateSemaphoreW named", CreateSemaphoreW(NULL, 0, 10, n));
    swprintf(n, 160, L"Local\\xipc.probe.%lu.mtx", pid); show("CreateMutexW named", CreateMutexW(NULL, FALSE, n));
    show("CreateMutexW unnamed", CreateMutexW(NULL, FALSE, NULL));
    swprintf(n, 160, L"Global\\xipc.probe.%lu.gev", pid); show("CreateEventW Global\\", CreateEventW(NULL, TRUE, FALSE, n));
    {   /* explicit SD without owner */
        SECURITY_ATTRIBUTES sa = { sizeof sa, NULL, FALSE };
        ConvertStringSecurityDescriptorToSecurityDescriptorA("D:P(A;;GA;;;SY)", 1, &sa.lpSecurityDescriptor, NULL);
        swprintf(n, 160, L"Local\\xipc.probe.%lu.ev2", pid);
        show("CreateEventW SD D:P(A;;GA;;;SY)", CreateEventW(&sa, TRUE, FALSE, n));
    }
    return 0;
}
