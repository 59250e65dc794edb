/* Item 4 control: does Wine enforce DACLs on other named objects (event, mapping)? */
#include "common.h"
int wmain(int argc, wchar_t **argv)
{
    wchar_t n1[160], n2[160], n3[160]; HANDLE h;
    if (argc >= 2 && !wcscmp(argv[1], L"child")) {
        swprintf(n1, 160, L"Local\\xipc.probe.%ls.ev_empty", argv[2]);
        swprintf(n2, 160, L"Local\\xipc.probe.%ls.ev_sys", argv[2]);
        swprintf(n3, 160, L"Local\\xipc.probe.%ls.map_empty", argv[2]);
        h = OpenEventW(EVENT_MODIFY_STATE | SYNCHRONIZE, FALSE, n1); CHK("[child] OpenEventW on D:P (empty DACL) event", h != NULL);
        h = OpenEventW(EVENT_MODIFY_STATE | SYNCHRONIZE, FALSE, n2); CHK("[child] OpenEventW on D:P(A;;GA;;;SY) event", h != NULL);
        h = OpenFileMappingW(FILE_MAP_READ, FALSE, n3); CHK("[child] OpenFileMappingW on D:P mapping", h != NULL);
        swprintf(n1, 160, L"Local\\xipc.probe.%ls.ev_user", argv[2]);
        h = OpenEventW(EVENT_MODIFY_STATE | SYNCHRONIZE, FALSE, n1); CHK("[child] OpenEventW on D:P(A;;GA;;;SY)(A;;GA;;;<TokenUser>)", h != NULL);
        swprintf(n3, 160, L"Local\\xipc.probe.%ls.map_user", argv[2]);
        h = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, n3); CHK("[child] OpenFileMappingW(ALL) on D:P(..SY)(..<TokenUser>)", h != NULL);
        return 0;
    }
    {
        SECURITY_ATTRIBUTES sa1 = { sizeof sa1, NULL, FALSE }, sa2 = { sizeof sa2, NULL, FALSE };
        PROCESS_INFORMATION pi; wchar_t a[64]; DWORD pid = GetCurrentProcessId();
        ConvertStringSecurityDescriptorToSecurityDescriptorW(L"D:P", 1, &sa1.lpSecurityDescriptor, NULL);
        ConvertStringSecurityDescriptorToSecurityDescriptorW(L"D:P(A;;GA;;;SY)", 1, &sa2.lpSecurityDescriptor, NULL);
        swprintf(n1, 160, L"Local\\xipc.probe.%lu.ev_empty", pid);
        swprintf(n2, 160, L"Local\\xipc.probe.%lu.ev_sys", pid);
        swprintf(n3, 160, L"Local\\xipc.probe.%lu.map_empty", pid);
        h = CreateEventW(&sa1, TRUE, FALSE, n1); CHK("CreateEventW D:P", h != NULL);
        h = OpenEventW(EVENT_MODIFY_STATE, FALSE, n1); CHK("  same-process OpenEventW", h != NULL);
        h = CreateEventW(&sa2, TRUE, FALSE, n2); CHK("CreateEventW D:P(A;;GA;;;SY)", h != NULL);
        h = CreateFileMappingW(INVALID_HANDLE_VALUE, &sa1, PAGE_READWRITE, 0, 4096, n3); CHK("CreateFileMappingW D:P", h != NULL);
        {
            SECURITY_ATTRIBUTES sa3 = { sizeof sa3, NULL, FALSE }; wchar_t sd[300]; LPWSTR me;
            ConvertSidToStringSidW(token_sid(TokenUser), &me);
            swprintf(sd, 300, L"D:P(A;;GA;;;SY)(A;;GA;;;%ls)", me);
            ConvertStringSecurityDescriptorToSecurityDescriptorW(sd, 1, &sa3.lpSecurityDescriptor, NULL);
            swprintf(n1, 160, L"Local\\xipc.probe.%lu.ev_user", pid);
            h = CreateEventW(&sa3, TRUE, FALSE, n1); CHK("CreateEventW D:P(A;;GA;;;SY)(A;;GA;;;<TokenUser>)", h != NULL);
            swprintf(n3, 160, L"Local\\xipc.probe.%lu.map_user", pid);
            h = CreateFileMappingW(INVALID_HANDLE_VALUE, &sa3, PAGE_READWRITE, 0, 4096, n3); CHK("CreateFileMappingW same SD", h != NULL);
        }
        swprintf(a, 64, L"child %lu", pid);
        spawn_self(a, &pi); WaitForSingleObject(pi.hProcess, 10000);
    }
    return 0;
}
