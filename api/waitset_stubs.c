/*
 * TEMPORARY (issue 14 work in progress): stubs so that main links while
 * the parts of the waitset are written on their branches. Whoever
 * implements a group DELETES that group here in the same commit (a
 * "multiple definition" link error means: delete the group). The lead
 * deletes this file at the final merge.
 */
#include "internal.h"

/* ---- group POSIX-WOS (branch ws-posix) ---- */
#ifndef _WIN32
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

/* ---- group QUEUE (branch ws-queue): api/queue.c and both trees' ring ---- */
static unsigned stub_qcounter;
int xipc__queue_watch(xipc_queue *q, uint32_t bell, uint32_t cookie, int *slot) {
  (void)q; (void)bell; (void)cookie; *slot = -1;
  return XIPC_ENOTSUP;
}
void xipc__queue_unwatch(xipc_queue *q, int slot, uint32_t bell, uint32_t cookie) {
  (void)q; (void)slot; (void)bell; (void)cookie;
}
int xipc__queue_arm(xipc_queue *q, unsigned events, int slot, uint32_t bell,
                    uint32_t cookie, bool arm, unsigned *ready) {
  (void)q; (void)events; (void)slot; (void)bell; (void)cookie; (void)arm;
  *ready = 0;
  return XIPC_ENOTSUP;
}
unsigned *xipc__queue_watchers(xipc_queue *q) { (void)q; return &stub_qcounter; }
int xipc__qwait_ring(xipc__qwait *w, unsigned slot, uint64_t owner,
                     uint32_t bell, uint32_t cookie) {
  (void)w; (void)slot; (void)owner; (void)bell; (void)cookie;
  return XIPC_ENOTSUP;
}

/* ---- group SIGNALS (branch ws-queue): api/signal.c ---- */
int xipc__sig_watch_add(xipc__sig_watch *w) { (void)w; return XIPC_ENOTSUP; }
void xipc__sig_watch_remove(xipc__sig_watch *w) { (void)w; }
unsigned xipc__sig_watch_take(xipc__sig_watch *w) { (void)w; return 0; }
