/* Item 11: waitable timers, RegisterWaitForSingleObject, WaitForMultipleObjects 64/65 */
#include "common.h"
#ifndef CREATE_WAITABLE_TIMER_HIGH_RESOLUTION
#define CREATE_WAITABLE_TIMER_HIGH_RESOLUTION 0x2
#endif
static volatile LONG g_cb, g_cb_timeout; static double g_t0; static double g_times[16];
static VOID CALLBACK cb(PVOID ctx, BOOLEAN timed_out)
{
    LONG k = InterlockedIncrement(&g_cb);
    if (timed_out) InterlockedIncrement(&g_cb_timeout);
    if (k <= 16) g_times[k - 1] = now_ms() - g_t0;
    (void)ctx;
}
int wmain(void)
{
    HANDLE t, ev, w, hs[65]; LARGE_INTEGER due; BOOL ok; DWORD r, e; int i; double t0, prev;
    /* periodic timer */
    t = CreateWaitableTimerW(NULL, FALSE, NULL);
    CHK("CreateWaitableTimerW(auto-reset)", t != NULL);
    due.QuadPart = -1000000; /* 100 ms relative */
    ok = SetWaitableTimer(t, &due, 50, NULL, NULL, FALSE);
    CHK("SetWaitableTimer(due 100ms, period 50ms)", ok);
    t0 = prev = now_ms();
    for (i = 0; i < 6; i++) {
        r = WaitForSingleObject(t, 1000);
        P("  wait %d -> %lu at +%.1fms (delta %.1f)\n", i, r, now_ms() - t0, now_ms() - prev); prev = now_ms();
    }
    ok = CancelWaitableTimer(t);
    r = WaitForSingleObject(t, 200);
    P("CancelWaitableTimer ok=%d; wait(200) afterwards -> %lu (258=WAIT_TIMEOUT)\n", ok, r);
    {
        HANDLE th = CreateWaitableTimerExW(NULL, NULL, CREATE_WAITABLE_TIMER_HIGH_RESOLUTION, TIMER_ALL_ACCESS);
        P("CreateWaitableTimerExW(HIGH_RESOLUTION) -> %s err=%lu\n", th ? "OK" : "FAIL", th ? 0 : GetLastError());
        if (th) {
            due.QuadPart = -10000; ok = SetWaitableTimer(th, &due, 0, NULL, NULL, FALSE); t0 = now_ms();
            r = WaitForSingleObject(th, 1000); P("  1ms one-shot high-res timer fired: %lu after %.2fms\n", r, now_ms() - t0);
        }
        due.QuadPart = -10000; SetWaitableTimer(t, &due, 0, NULL, NULL, FALSE); t0 = now_ms();
        r = WaitForSingleObject(t, 1000); P("  1ms one-shot normal timer fired: %lu after %.2fms\n", r, now_ms() - t0);
    }
    /* RegisterWaitForSingleObject on an auto-reset event */
    ev = CreateEventW(NULL, FALSE, FALSE, NULL);
    g_cb = 0; g_t0 = now_ms();
    ok = RegisterWaitForSingleObject(&w, ev, cb, NULL, INFINITE, WT_EXECUTEDEFAULT);
    CHK("RegisterWaitForSingleObject(event, INFINITE)", ok);
    for (i = 0; i < 3; i++) { SetEvent(ev); Sleep(50); }
    P("  callbacks after 3 SetEvent: %ld (timeouts %ld)\n", g_cb, g_cb_timeout);
    ok = UnregisterWaitEx(w, INVALID_HANDLE_VALUE);
    SetEvent(ev); Sleep(50);
    P("  UnregisterWaitEx(blocking) ok=%d; callbacks after another SetEvent: %ld\n", ok, g_cb);
    /* timeout */
    ResetEvent(ev); /* it is still signaled from the SetEvent after unregistering */
    g_cb = 0; g_cb_timeout = 0; g_t0 = now_ms();
    ok = RegisterWaitForSingleObject(&w, ev, cb, NULL, 100, WT_EXECUTEDEFAULT);
    Sleep(1050);
    { LONG before = g_cb; SetEvent(ev); Sleep(50);
      P("  after the timeout: SetEvent -> callbacks %ld -> %ld (still registered? %s)\n", before, g_cb, g_cb > before ? "yes" : "no"); }
    UnregisterWaitEx(w, INVALID_HANDLE_VALUE);
    P("  RegisterWait timeout=100ms, 1050ms idle: callbacks=%ld timed_out=%ld at", g_cb, g_cb_timeout);
    for (i = 0; i < g_cb && i < 16; i++) P(" %.0f", g_times[i]);
    P(" (Windows re-arms the timeout after each expiry: ~10 expected)\n");
    /* RegisterWait on periodic timer */
    g_cb = 0; g_cb_timeout = 0; g_t0 = now_ms();
    due.QuadPart = -500000; SetWaitableTimer(t, &due, 50, NULL, NULL, FALSE);
    ok = RegisterWaitForSingleObject(&w, t, cb, NULL, INFINITE, WT_EXECUTEDEFAULT);
    Sleep(330);
    UnregisterWaitEx(w, INVALID_HANDLE_VALUE); CancelWaitableTimer(t);
    P("  RegisterWait on periodic timer (50ms due, 50ms period), 330ms: callbacks=%ld at", g_cb);
    for (i = 0; i < g_cb && i < 16; i++) P(" %.0f", g_times[i]);
    P("\n");
    /* WT_EXECUTEONLYONCE */
    g_cb = 0; ok = RegisterWaitForSingleObject(&w, ev, cb, NULL, INFINITE, WT_EXECUTEONLYONCE);
    SetEvent(ev); Sleep(50); SetEvent(ev); Sleep(50);
    P("  WT_EXECUTEONLYONCE after 2 SetEvent: callbacks=%ld\n", g_cb);
    UnregisterWaitEx(w, INVALID_HANDLE_VALUE);
    /* WaitForMultipleObjects 64 / 65 */
    for (i = 0; i < 65; i++) hs[i] = CreateEventW(NULL, TRUE, FALSE, NULL);
    SetEvent(hs[63]);
    r = WaitForMultipleObjects(64, hs, FALSE, 100); e = GetLastError();
    P("WaitForMultipleObjects(64, any, #63 signaled) -> %lu (63 expected) err=%lu\n", r, r == WAIT_FAILED ? e : 0);
    r = WaitForMultipleObjects(64, hs, TRUE, 100); e = GetLastError();
    P("WaitForMultipleObjects(64, all, only #63 signaled) -> %lu (258 expected)\n", r);
    SetLastError(0);
    r = WaitForMultipleObjects(65, hs, FALSE, 100); e = GetLastError();
    P("WaitForMultipleObjects(65) -> 0x%lx err=%lu (0xffffffff/87 expected)\n", r, e);
    SetLastError(0);
    r = WaitForMultipleObjects(0, hs, FALSE, 10); e = GetLastError();
    P("WaitForMultipleObjects(0) -> 0x%lx err=%lu\n", r, e);
    return 0;
}
