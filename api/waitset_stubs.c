/*
 * TEMPORARY (issue 14 work in progress): stubs so that main links while
 * the parts of the waitset are written on their branches. Whoever
 * implements a group DELETES that group here in the same commit (a
 * "multiple definition" link error means: delete the group). The lead
 * deletes this file at the final merge.
 */
#include "internal.h"

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
