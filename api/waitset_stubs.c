/*
 * TEMPORARY (issue 14 work in progress): stubs so that main links while
 * the parts of the waitset are written on their branches. Whoever
 * implements a group DELETES that group here in the same commit (a
 * "multiple definition" link error means: delete the group). The lead
 * deletes this file at the final merge.
 */
#include "internal.h"

/* ---- group WIN32-WOS (branch ws-win32) ---- */
#ifdef _WIN32
int xipc__wos_open(xipc__wos **out, uint32_t *bell) {
  (void)out; (void)bell;
  return xipc__fail(XIPC_ENOTSUP);
}
void xipc__wos_close(xipc__wos *o) { (void)o; }
int xipc__wos_add(xipc__wos *o, xipc__went *e) { (void)o; (void)e; return XIPC_ENOTSUP; }
void xipc__wos_remove(xipc__wos *o, xipc__went *e) { (void)o; (void)e; }
int xipc__wos_wait(xipc__wos *o, uint64_t deadline, xipc__wready *out,
                   size_t cap, size_t *n, uint32_t *bells, size_t bcap,
                   size_t *nb, bool *kicked) {
  (void)o; (void)deadline; (void)out; (void)cap; (void)bells; (void)bcap;
  *n = 0; *nb = 0; *kicked = false;
  return XIPC_ENOTSUP;
}
void xipc__wos_kick(xipc__wos *o) { (void)o; }
void xipc__wos_pending(xipc__wos *o, bool on) { (void)o; (void)on; }
intptr_t xipc__wos_native(xipc__wos *o) { (void)o; return -1; }
int xipc__wos_timer(xipc__wos *o, uint64_t deadline) { (void)o; (void)deadline; return 0; }
static unsigned stub_counter;
unsigned *xipc__proc_watchers(xipc_proc *p) { (void)p; return &stub_counter; }
unsigned *xipc__listener_watchers(xipc_listener *l) { (void)l; return &stub_counter; }
#endif
