#define _WIN32_WINNT 0x0A00
#ifndef UNICODE
#define UNICODE
#endif
#ifndef _UNICODE
#define _UNICODE
#endif
#include <windows.h>
#include <sddl.h>
#include <aclapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define P(...) do { printf(__VA_ARGS__); fflush(stdout); } while (0)
/* print result of a BOOL/handle call with GetLastError */
#define CHK(label, ok) do { DWORD e_ = GetLastError(); P("%-55s -> %s (GetLastError=%lu)\n", label, (ok) ? "OK" : "FAIL", (unsigned long)e_); } while (0)

static wchar_t g_self[MAX_PATH];

/* spawn ourselves with "args" (wide, after program name) */
static BOOL spawn_self(const wchar_t *args, PROCESS_INFORMATION *pi)
{
    static wchar_t cmd[2048];
    STARTUPINFOW si;
    GetModuleFileNameW(NULL, g_self, MAX_PATH);
    swprintf(cmd, 2048, L"\"%ls\" %ls", g_self, args);
    memset(&si, 0, sizeof si); si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    return CreateProcessW(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, pi);
}

static void pipe_name(wchar_t *buf, size_t n, DWORD pid, const wchar_t *suffix)
{
    swprintf(buf, n, L"\\\\.\\pipe\\xipc.probe.%lu%ls", (unsigned long)pid, suffix ? suffix : L"");
}

static double now_ms(void)
{
    LARGE_INTEGER f, c; QueryPerformanceFrequency(&f); QueryPerformanceCounter(&c);
    return (double)c.QuadPart * 1000.0 / (double)f.QuadPart;
}

static char *sid_str(PSID sid)
{
    static char buf[4][256]; static int k; char *out = buf[k++ & 3];
    LPSTR s = NULL;
    if (sid && ConvertSidToStringSidA(sid, &s)) { snprintf(out, 256, "%s", s); LocalFree(s); }
    else snprintf(out, 256, "(null/err %lu)", (unsigned long)GetLastError());
    return out;
}

static PSID token_sid(TOKEN_INFORMATION_CLASS cls)
{
    HANDLE tok; DWORD len = 0; static BYTE buf[2][512]; BYTE *b = buf[cls == TokenOwner];
    OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok);
    if (!GetTokenInformation(tok, cls, b, 512, &len)) { CloseHandle(tok); return NULL; }
    CloseHandle(tok);
    if (cls == TokenUser) return ((TOKEN_USER *)b)->User.Sid;
    return ((TOKEN_OWNER *)b)->Owner;
}
