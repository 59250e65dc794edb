/* Private helpers shared by the files of the POSIX tree. */
#ifndef XIPC_POSIX_H
#define XIPC_POSIX_H

#include "internal.h"

/* XIPC_SIG* number -> native signal number; 0 if there is none. */
int xipc__sig_to_native(int sig);
/* Native signal number -> XIPC_SIG* number, or -native if xipc has no name. */
int xipc__sig_from_native(int native);

#endif
