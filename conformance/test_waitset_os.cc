// Waitsets over the OS's objects (issue 14): the caller's descriptors /
// handles, streams, listeners and processes, the native handle as another
// event loop sees it, the timer reaching it, the doorbell that queues ring
// (also when more rings come than it can hold), rotation past cap and no
// leaked descriptors or handles. The same tests on both platforms.
#include "harness.h"
#include "internal.h"

#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

const int kWait = 30000;  // generous bound for an event that must come (scaled)

bool on_windows() { return xt::shm_object_path("x").empty(); }

// Declared after the objects it watches, so that it closes first: an object
// that is in a set cannot be closed (XIPC_EBUSY).
struct Waitset {
  xipc_waitset *w = nullptr;
  Waitset() { EXPECT_EQ(0, xipc_waitset_open(&w)); }
  ~Waitset() {
    if (w) xipc_waitset_close(w);
  }
  // One wait; returns its result and the events in ev.
  int wait(std::vector<xipc_wait_event> &ev, int timeout_ms, size_t cap = 8) {
    ev.assign(cap, xipc_wait_event{});
    size_t n = 99;
    int rc = xipc_waitset_wait(w, ev.data(), cap, &n, timeout_ms);
    ev.resize(rc == 0 ? n : 0);
    return rc;
  }
  // One wait (timeout_ms; default: until it comes) reports exactly one
  // event: user's, for events.
  void expect_one(void *user, unsigned events, int timeout_ms = -2) {
    std::vector<xipc_wait_event> ev;
    int rc = wait(ev, timeout_ms == -2 ? xt::scaled_ms(kWait) : timeout_ms);
    ASSERT_EQ(0, rc) << xipc_err_name(rc);
    ASSERT_EQ(1u, ev.size());
    EXPECT_EQ(user, ev[0].user);
    EXPECT_EQ(events, ev[0].events);
    EXPECT_EQ(0, ev[0].sig);
  }
  // Waits for the one entry's HANGUP (other events may come first);
  // returns its last events.
  unsigned until_hangup() {
    std::vector<xipc_wait_event> ev;
    unsigned got = 0;
    int64_t end = xt::now_ms() + xt::scaled_ms(kWait);
    while (!(got & XIPC_WAIT_HANGUP) && xt::now_ms() < end) {
      EXPECT_EQ(0, wait(ev, xt::scaled_ms(kWait)));
      got = ev.size() == 1 ? ev[0].events : 0;
    }
    return got;
  }
  // Nothing is ready: a wait with timeout 0 says XIPC_EAGAIN, after at most
  // one spurious event (Windows reports a caller's handle once per firing
  // of its registered wait, which may have fired before the reset).
  void expect_quiet() {
    std::vector<xipc_wait_event> ev;
    int rc = wait(ev, 0);
    if (rc == 0) rc = wait(ev, 0);
    EXPECT_EQ(XIPC_EAGAIN, rc);
  }
};

struct NativeSignal {
  intptr_t waitable = -1, setter = -1;
  NativeSignal() { EXPECT_TRUE(xt::native_signal_open(&waitable, &setter)); }
  ~NativeSignal() { xt::native_signal_close(waitable, setter); }
};

struct Pipe {
  xipc_stream *r = nullptr, *w = nullptr;
  Pipe() { EXPECT_EQ(0, xipc_pipe(&r, &w)); }
  ~Pipe() {
    if (r) xipc_stream_close(r);
    if (w) xipc_stream_close(w);
  }
};

int tag_a, tag_b, tag_c;

// Args: flag. Exits with 7 once the flag is set.
XT_HELPER(wsos_exit_on_flag) {
  XT_REQUIRE(argc >= 1);
  XT_CHECK(xt::flag_wait(argv[0], xt::scaled_ms(kWait)));
  return 7;
}

}  // namespace

TEST(WaitsetOs, NativeObjectIsReadableOnlyWhileSignalled) {
  NativeSignal sig;
  Waitset ws;
  XT_OK(xipc_waitset_add_native(ws.w, sig.waitable, XIPC_WAIT_READABLE, &tag_a));
  std::vector<xipc_wait_event> ev;
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));
  int64_t t0 = xt::now_ms();
  EXPECT_EQ(XIPC_ETIMEDOUT, ws.wait(ev, 150));
  EXPECT_GE(xt::now_ms() - t0, 150);
  xt::native_signal_set(sig.setter);
  ws.expect_one(&tag_a, XIPC_WAIT_READABLE);
  // Level-triggered: still there. Not with timeout 0: Windows re-arms its
  // wait on the handle after a report, asynchronously.
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  EXPECT_EQ(1u, ev.size());
  xt::native_signal_clear(sig.waitable);
  ws.expect_quiet();
  XT_OK(xipc_waitset_remove(ws.w, &tag_a));
}

TEST(WaitsetOs, NativeObjectSignalledByAnotherThreadEndsAWaitWithoutTimeout) {
  NativeSignal sig;
  Waitset ws;
  XT_OK(xipc_waitset_add_native(ws.w, sig.waitable, XIPC_WAIT_READABLE, nullptr));
  std::thread t([&] {
    xt::sleep_ms(50);
    xt::native_signal_set(sig.setter);
  });
  std::vector<xipc_wait_event> ev;
  int rc = ws.wait(ev, -1);
  t.join();
  XT_OK(rc);
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(nullptr, ev[0].user);
}

TEST(WaitsetOs, OneNativeObjectInTwoSets) {
  NativeSignal sig;
  Waitset a, b;
  XT_OK(xipc_waitset_add_native(a.w, sig.waitable, XIPC_WAIT_READABLE, &tag_a));
  XT_OK(xipc_waitset_add_native(b.w, sig.waitable, XIPC_WAIT_READABLE, &tag_b));
  EXPECT_EQ(XIPC_EEXIST, xipc_waitset_add_native(a.w, sig.waitable, XIPC_WAIT_READABLE, &tag_c));
  xt::native_signal_set(sig.setter);
  std::vector<xipc_wait_event> ev;
  XT_OK(a.wait(ev, xt::scaled_ms(kWait)));
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(&tag_a, ev[0].user);
  XT_OK(b.wait(ev, xt::scaled_ms(kWait)));
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(&tag_b, ev[0].user);
  // Removing it from one set leaves the other watching.
  XT_OK(xipc_waitset_remove(a.w, &tag_a));
  XT_OK(b.wait(ev, xt::scaled_ms(kWait)));
  EXPECT_EQ(1u, ev.size());
}

TEST(WaitsetOs, BadNativeObjectsAreRefused) {
  Waitset ws;
  // No descriptor / handle has this value.
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_native(ws.w, intptr_t(0x7ffffff0), XIPC_WAIT_READABLE,
                                                 &tag_a));
  std::vector<xipc_wait_event> ev;
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));
  EXPECT_EQ(XIPC_ENOENT, xipc_waitset_remove(ws.w, &tag_a));
}

TEST(WaitsetOs, RegularFileIsEpermOnPosix) {
  if (on_windows())
    GTEST_SKIP() << "POSIX only: epoll refuses regular files; Windows has no such descriptor";
  std::string path = xt::temp_path("wsos-file");
  ASSERT_TRUE(xt::write_file(path, "x"));
  xt::Cleanup rm([&] { xt::remove_file(path); });
  intptr_t fd = xt::leaky_open(path);  // POSIX: open() of the file
  ASSERT_GE(fd, 0);
  xt::Cleanup cl([&] { xt::leaky_close(fd); });
  Waitset ws;
  EXPECT_EQ(XIPC_EPERM, xipc_waitset_add_native(ws.w, fd, XIPC_WAIT_READABLE, &tag_a));
  EXPECT_EQ(XIPC_ENOENT, xipc_waitset_remove(ws.w, &tag_a));
}

TEST(WaitsetOs, NativeHandleSeesAStreamWriteAsAnotherLoopWould) {
  Pipe p;
  Waitset ws;
  XT_OK(xipc_waitset_add_stream(ws.w, p.r, XIPC_WAIT_READABLE, &tag_a));
  intptr_t h = -1;
  XT_OK(xipc_waitset_native_handle(ws.w, &h));
  std::vector<xipc_wait_event> ev;
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));
  EXPECT_FALSE(xt::native_ready(h, 0));
  std::thread t([&] {
    xt::sleep_ms(50);
    EXPECT_EQ(0, xipc_stream_write(p.w, "hi", 2, nullptr, -1));
  });
  bool ready = xt::native_ready(h, xt::scaled_ms(kWait));
  t.join();
  EXPECT_TRUE(ready);
  ws.expect_one(&tag_a, XIPC_WAIT_READABLE, 0);
  char buf[4];
  size_t n = 0;
  XT_OK(xipc_stream_read(p.r, buf, sizeof buf, &n, 0));
  EXPECT_EQ(2u, n);
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));
  EXPECT_FALSE(xt::native_ready(h, 0));
}

TEST(WaitsetOs, TimerMakesTheNativeHandleReady) {
  Waitset ws;
  XT_OK(xipc_waitset_add_timer(ws.w, 100, 0, &tag_a));
  intptr_t h = -1;
  XT_OK(xipc_waitset_native_handle(ws.w, &h));
  std::vector<xipc_wait_event> ev;
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));
  int64_t t0 = xt::now_ms();
  EXPECT_TRUE(xt::native_ready(h, xt::scaled_ms(kWait)));
  EXPECT_GE(xt::now_ms() - t0, 90);  // the native handle's own clock may round
  XT_OK(ws.wait(ev, 0));
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(&tag_a, ev[0].user);
}

TEST(WaitsetOs, StreamHangsUpWhenTheWriterCloses) {
  Pipe p;
  Waitset ws;
  XT_OK(xipc_waitset_add_stream(ws.w, p.r, XIPC_WAIT_READABLE, &tag_a));
  std::vector<xipc_wait_event> ev;
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));
  XT_OK(xipc_stream_close(p.w));
  p.w = nullptr;
  ws.expect_one(&tag_a, XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP);
  char b;
  size_t n = 1;
  XT_OK(xipc_stream_read(p.r, &b, 1, &n, 0));
  EXPECT_EQ(0u, n);  // end of stream
  EXPECT_EQ(XIPC_EBUSY, xipc_stream_close(p.r));
  XT_OK(xipc_waitset_remove(ws.w, &tag_a));
}

TEST(WaitsetOs, WriteEndIsWritableAndHangsUpWhenTheReaderCloses) {
  Pipe p;
  Waitset ws;
  XT_OK(xipc_waitset_add_stream(ws.w, p.w, XIPC_WAIT_WRITABLE, &tag_a));
  std::vector<xipc_wait_event> ev;
  ws.expect_one(&tag_a, XIPC_WAIT_WRITABLE);
  XT_OK(xipc_stream_close(p.r));
  p.r = nullptr;
  unsigned got = ws.until_hangup();
  EXPECT_EQ(unsigned(XIPC_WAIT_WRITABLE | XIPC_WAIT_HANGUP), got);
  EXPECT_EQ(XIPC_EPIPE, xipc_stream_write(p.w, "x", 1, nullptr, 0));
}

TEST(WaitsetOs, ShutdownOfAWatchedWriteEndStillEndsTheStream) {
  NativeSignal sig;
  Pipe p;
  Waitset ws;
  XT_OK(xipc_waitset_add_stream(ws.w, p.w, XIPC_WAIT_WRITABLE, &tag_a));
  XT_OK(xipc_stream_shutdown(p.w));
  char b;
  size_t n = 1;
  XT_OK(xipc_stream_read(p.r, &b, 1, &n, xt::scaled_ms(kWait)));
  EXPECT_EQ(0u, n);  // the waitset holds no copy of the end
  std::vector<xipc_wait_event> ev;
  int rc = ws.wait(ev, 0);
  EXPECT_TRUE(rc == 0 || rc == XIPC_EAGAIN) << xipc_err_name(rc);
  XT_OK(xipc_waitset_remove(ws.w, &tag_a));
  // The next entry in the set is unaffected.
  XT_OK(xipc_waitset_add_native(ws.w, sig.waitable, XIPC_WAIT_READABLE, &tag_b));
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));
  xt::native_signal_set(sig.setter);
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(&tag_b, ev[0].user);
}

TEST(WaitsetOs, ConnectionHangsUpWhenThePeerCloses) {
  std::string name = xt::unique_name("wsos-conn");
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  xt::Cleanup cl([&] { xipc_listener_close(l); });
  xipc_stream *c = nullptr, *s = nullptr;
  XT_OK(xipc_connect(&c, name.c_str(), xt::scaled_ms(kWait)));
  XT_OK(xipc_accept(l, &s, xt::scaled_ms(kWait)));
  xt::Cleanup cs([&] { xipc_stream_close(s); });
  Waitset ws;
  XT_OK(xipc_waitset_add_stream(ws.w, s, XIPC_WAIT_READABLE | XIPC_WAIT_WRITABLE, &tag_a));
  std::vector<xipc_wait_event> ev;
  ws.expect_one(&tag_a, XIPC_WAIT_WRITABLE);
  XT_OK(xipc_stream_write(c, "abc", 3, nullptr, -1));
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  ASSERT_EQ(1u, ev.size());
  // WRITABLE may lag on Windows (under Wine it means "the pipe is empty",
  // found by a drain thread; see win32/waitset.c).
  EXPECT_TRUE(ev[0].events & XIPC_WAIT_READABLE);
  EXPECT_EQ(0u, ev[0].events & ~unsigned(XIPC_WAIT_READABLE | XIPC_WAIT_WRITABLE));
  XT_OK(xipc_stream_close(c));
  unsigned got = ws.until_hangup();
  EXPECT_TRUE(got & XIPC_WAIT_HANGUP);
  EXPECT_TRUE(got & XIPC_WAIT_READABLE);
  XT_OK(xipc_waitset_remove(ws.w, &tag_a));
}

// The peer's shutdown ends only our reading: a set that watches our
// writing sees it stay writable (no hang-up it could never clear), one
// that watches reading sees the end.
TEST(WaitsetOs, PeerShutdownEndsOnlyReading) {
  std::string name = xt::unique_name("wsos-half");
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  xt::Cleanup cl([&] { xipc_listener_close(l); });
  xipc_stream *c = nullptr, *s = nullptr;
  XT_OK(xipc_connect(&c, name.c_str(), xt::scaled_ms(kWait)));
  xt::Cleanup cc([&] { xipc_stream_close(c); });
  XT_OK(xipc_accept(l, &s, xt::scaled_ms(kWait)));
  xt::Cleanup cs([&] { xipc_stream_close(s); });
  Waitset ws;
  XT_OK(xipc_waitset_add_stream(ws.w, s, XIPC_WAIT_WRITABLE, &tag_a));
  ws.expect_one(&tag_a, XIPC_WAIT_WRITABLE);
  XT_OK(xipc_stream_shutdown(c));
  xt::sleep_ms(50);  // let the shutdown reach the other end
  for (int i = 0; i < 3; i++) ws.expect_one(&tag_a, XIPC_WAIT_WRITABLE);
  XT_OK(xipc_stream_write(s, "ok", 2, nullptr, xt::scaled_ms(kWait)));
  XT_OK(xipc_waitset_remove(ws.w, &tag_a));
  XT_OK(xipc_waitset_add_stream(ws.w, s, XIPC_WAIT_READABLE, &tag_b));
  std::vector<xipc_wait_event> ev;
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  ASSERT_EQ(1u, ev.size());
  EXPECT_TRUE(ev[0].events & XIPC_WAIT_READABLE);
  char b;
  size_t n = 1;
  XT_OK(xipc_stream_read(s, &b, 1, &n, 0));
  EXPECT_EQ(0u, n);  // end of stream
  XT_OK(xipc_waitset_remove(ws.w, &tag_b));
}

TEST(WaitsetOs, ListenerIsReadableWhenAClientConnects) {
  std::string name = xt::unique_name("wsos-lsn");
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  Waitset ws;
  XT_OK(xipc_waitset_add_listener(ws.w, l, &tag_a));
  std::vector<xipc_wait_event> ev;
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));
  xipc_stream *c = nullptr;
  std::thread t([&] {
    xt::sleep_ms(50);
    EXPECT_EQ(0, xipc_connect(&c, name.c_str(), xt::scaled_ms(kWait)));
  });
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  t.join();
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(&tag_a, ev[0].user);
  EXPECT_EQ(unsigned(XIPC_WAIT_READABLE), ev[0].events);
  xipc_stream *s = nullptr;
  XT_OK(xipc_accept(l, &s, 0));
  xipc_stream_close(s);
  xipc_stream_close(c);
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));
  EXPECT_EQ(XIPC_EBUSY, xipc_listener_close(l));
  // Shut down while watched: readable and hung up, accept says ECLOSED.
  XT_OK(xipc_listener_shutdown(l));
  ws.expect_one(&tag_a, XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP);
  EXPECT_EQ(XIPC_ECLOSED, xipc_accept(l, &s, 0));
  // The name is free for a new listener although the set still watches
  // the old one.
  xipc_listener *again = nullptr;
  XT_EXPECT_OK(xipc_listen(&again, name.c_str(), nullptr));
  if (again) xipc_listener_close(again);
  ws.expect_one(&tag_a, XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP);  // still
  XT_OK(xipc_waitset_remove(ws.w, &tag_a));
  XT_OK(xipc_listener_close(l));
}

TEST(WaitsetOs, ShutDownListenerAddedLaterIsHungUp) {
  std::string name = xt::unique_name("wsos-lsn2");
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  xt::Cleanup cl([&] { xipc_listener_close(l); });
  XT_OK(xipc_listener_shutdown(l));
  Waitset ws;
  XT_OK(xipc_waitset_add_listener(ws.w, l, &tag_a));
  std::vector<xipc_wait_event> ev;
  ws.expect_one(&tag_a, XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP);
  XT_OK(xipc_waitset_remove(ws.w, &tag_a));
}

TEST(WaitsetOs, ProcessExitIsReadable) {
  xt::Flag go("wsos-go");
  xt::Child child;
  XT_OK(child.start("wsos_exit_on_flag", {go.token()}));
  Waitset ws;
  int rc = xipc_waitset_add_proc(ws.w, child.proc(), &tag_a);
  if (rc == XIPC_ENOTSUP) GTEST_SKIP() << "no pidfd_open (Linux before 5.3)";
  XT_OK(rc);
  std::vector<xipc_wait_event> ev;
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));
  EXPECT_EQ(XIPC_EBUSY, xipc_proc_close(child.proc()));
  XT_OK(go.set());
  ws.expect_one(&tag_a, XIPC_WAIT_READABLE);
  xipc_exit_status st = {};
  XT_OK(xipc_proc_wait(child.proc(), 0, &st));
  EXPECT_EQ(1, st.exited);
  EXPECT_EQ(7, st.exit_code);
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));  // the event stays until removed
  EXPECT_EQ(1u, ev.size());
  XT_OK(xipc_waitset_remove(ws.w, &tag_a));
}

TEST(WaitsetOs, MoreReadyThanCapRotates) {
  Pipe p[5];  // streams: both trees check a ready stream at every wait
  Waitset ws;
  int users[5];
  for (int i = 0; i < 5; i++) {
    XT_OK(xipc_waitset_add_stream(ws.w, p[i].r, XIPC_WAIT_READABLE, &users[i]));
    XT_OK(xipc_stream_write(p[i].w, "x", 1, nullptr, -1));
  }
  // First until all five are known ready (Windows learns of each from its
  // own zero-byte read, asynchronously), then cap 2 at a time.
  std::vector<xipc_wait_event> ev;
  int64_t end = xt::now_ms() + xt::scaled_ms(kWait);
  do XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  while (ev.size() < 5 && xt::now_ms() < end);
  ASSERT_EQ(5u, ev.size());
  std::set<void *> seen;
  for (int round = 0; round < 3; round++) {
    XT_OK(ws.wait(ev, xt::scaled_ms(kWait), 2));
    EXPECT_EQ(2u, ev.size());
    for (auto &e : ev) seen.insert(e.user);
  }
  EXPECT_EQ(5u, seen.size());
}

TEST(WaitsetOs, WakeFromAnotherThreadIsEintr) {
  Waitset ws;
  std::thread t([&] {
    xt::sleep_ms(50);
    EXPECT_EQ(0, xipc_waitset_wake(ws.w));
  });
  std::vector<xipc_wait_event> ev;
  int rc = ws.wait(ev, xt::scaled_ms(kWait));
  t.join();
  EXPECT_EQ(XIPC_EINTR, rc);
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));  // the wake was consumed
}

// Rings the doorbell of a multiplexer directly, as queues do: every cookie
// rung is reported, or the tree says it cannot tell (SIZE_MAX: check every
// queue), also when far more rings come than the doorbell can hold.
static void ring_and_check(unsigned rings) {
  xipc__wos *o = nullptr;
  uint32_t bell = 0;
  XT_OK(xipc__wos_open(&o, &bell));
  xt::Cleanup co([&] { xipc__wos_close(o); });
  EXPECT_NE(0u, bell);
  xipc__qwait *qw = nullptr;
  XT_OK(xipc__qwait_open(&qw, xt::unique_name("wsos-q").c_str(), 4));
  xt::Cleanup cq([&] { xipc__qwait_close(qw); });
  uint64_t owner = xipc__qwait_self_owner();
  for (unsigned i = 0; i < rings; i++) {
    int rc = xipc__qwait_ring(qw, 0, owner, bell, 100 + i);
    if (rc == XIPC_ENOTSUP) GTEST_SKIP() << "xipc__qwait_ring is not in this build yet (ws-queue)";
  }
  std::vector<xipc__wready> out(4);
  std::vector<uint32_t> bells(256);
  size_t n = 0, nb = 0;
  bool kicked = true;
  XT_OK(xipc__wos_wait(o, xipc__deadline_ns(xt::scaled_ms(kWait)), out.data(), out.size(), &n,
                       bells.data(), bells.size(), &nb, &kicked));
  EXPECT_EQ(0u, n);
  EXPECT_FALSE(kicked);
  ASSERT_NE(0u, nb);
  if (nb == SIZE_MAX) return;
  std::set<uint32_t> got(bells.begin(), bells.begin() + nb);
  for (unsigned i = 0; i < rings; i++) EXPECT_TRUE(got.count(100 + i)) << "cookie " << 100 + i;
}

TEST(WaitsetOs, DoorbellReportsEveryRingOrSaysCheckAll) { ring_and_check(3); }

TEST(WaitsetOs, DoorbellOverflowSaysCheckAll) { ring_and_check(300); }

// Through the public API: more queues ring at once than the doorbell holds
// (Linux keeps net.unix.max_dgram_qlen rings, 10 by default; later ones are
// lost), yet every queue is reported, since the tree then says "check
// every queue".
TEST(WaitsetOs, ManyQueuesRingingAtOnceAreAllReported) {
  const int kQueues = 40;
  Waitset ws;
  std::vector<xipc_queue *> qs(kQueues, nullptr);
  std::vector<std::string> names;
  xt::Cleanup cq([&] {
    for (int i = 0; i < kQueues; i++) xipc_waitset_remove(ws.w, &qs[i]);
    for (auto *q : qs)
      if (q) xipc_queue_close(q);
    for (auto &n : names) xipc_queue_unlink(n.c_str());
  });
  for (int i = 0; i < kQueues; i++) {
    names.push_back(xt::unique_name("wsos-q"));
    XT_OK(xipc_queue_open(&qs[i], names.back().c_str(), nullptr, XIPC_CREATE));
    XT_OK(xipc_waitset_add_queue(ws.w, qs[i], XIPC_WAIT_READABLE, &qs[i]));
  }
  std::vector<xipc_wait_event> ev;
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));  // every queue is armed now
  for (int i = 0; i < kQueues; i++) XT_OK(xipc_queue_put(qs[i], "m", 1, 0));
  std::set<void *> seen;
  int64_t end = xt::now_ms() + xt::scaled_ms(kWait);
  while (seen.size() < size_t(kQueues) && xt::now_ms() < end) {
    XT_OK(ws.wait(ev, xt::scaled_ms(kWait), kQueues));
    for (auto &e : ev) {
      EXPECT_EQ(unsigned(XIPC_WAIT_READABLE), e.events);
      seen.insert(e.user);
    }
  }
  EXPECT_EQ(size_t(kQueues), seen.size());
}

TEST(WaitsetOs, NothingLeaks) {
  auto round = [](int r) {
    NativeSignal sig;
    Pipe p;
    Waitset ws;
    std::string name = xt::unique_name("wsos-leak");
    xipc_listener *l = nullptr;
    XT_OK(xipc_listen(&l, name.c_str(), nullptr));
    XT_OK(xipc_waitset_add_native(ws.w, sig.waitable, XIPC_WAIT_READABLE, &tag_a));
    XT_OK(xipc_waitset_add_stream(ws.w, p.r, XIPC_WAIT_READABLE, &tag_b));
    XT_OK(xipc_waitset_add_listener(ws.w, l, &tag_c));
    xt::native_signal_set(sig.setter);
    std::vector<xipc_wait_event> ev;
    XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
    if (r == 1) {  // a watched listener shut down: seen, then removed
      XT_OK(xipc_listener_shutdown(l));
      XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
    }
    XT_OK(xipc_waitset_remove(ws.w, &tag_b));
    XT_OK(xipc_waitset_close(ws.w));  // removes the rest
    ws.w = nullptr;
    XT_OK(xipc_listener_close(l));
  };
  // A warm-up round first: Windows' thread pool keeps its wait threads
  // (and their handles) once a process has used them.
  round(0);
  long before = xt::open_handle_count();
  for (int r = 0; r < 3; r++) round(r);
  EXPECT_EQ(before, xt::open_handle_count());
}
