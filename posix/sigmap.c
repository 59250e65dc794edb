#include "posix.h"

#include <signal.h>

/* XIPC_SIGBREAK has no POSIX twin; SIGQUIT is the nearest ("quit from the
 * keyboard", Ctrl+\), just as Ctrl+Break is on Windows. */
static const int native_of[] = {
    [XIPC_SIGINT] = SIGINT,   [XIPC_SIGTERM] = SIGTERM,
    [XIPC_SIGKILL] = SIGKILL, [XIPC_SIGALRM] = SIGALRM,
    [XIPC_SIGUSR1] = SIGUSR1, [XIPC_SIGUSR2] = SIGUSR2,
    [XIPC_SIGHUP] = SIGHUP,   [XIPC_SIGBREAK] = SIGQUIT,
};

int xipc__sig_to_native(int sig) {
  if (sig < XIPC_SIGINT || sig > XIPC_SIGBREAK)
    return 0;
  return native_of[sig];
}

int xipc__sig_from_native(int native) {
  int sig;
  for (sig = XIPC_SIGINT; sig <= XIPC_SIGBREAK; sig++)
    if (native_of[sig] == native)
      return sig;
  return -native;
}
