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
  Waitset ws;
  NativeSignal sig;
  XT_OK(xipc_waitset_add_native(ws.w, sig.waitable, XIPC_WAIT_READABLE, &tag_a));
  std::vector<xipc_wait_event> ev;
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));
  int64_t t0 = xt::now_ms();
  EXPECT_EQ(XIPC_ETIMEDOUT, ws.wait(ev, 150));
  EXPECT_GE(xt::now_ms() - t0, 150);
  xt::native_signal_set(sig.setter);
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(&tag_a, ev[0].user);
  EXPECT_EQ(unsigned(XIPC_WAIT_READABLE), ev[0].events);
  EXPECT_EQ(0, ev[0].sig);
  XT_OK(ws.wait(ev, 0));  // level-triggered: still there
  EXPECT_EQ(1u, ev.size());
  xt::native_signal_clear(sig.waitable);
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));
  XT_OK(xipc_waitset_remove(ws.w, &tag_a));
}

TEST(WaitsetOs, NativeObjectSignalledByAnotherThreadEndsAWaitWithoutTimeout) {
  Waitset ws;
  NativeSignal sig;
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
  Waitset a, b;
  NativeSignal sig;
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
  XT_OK(b.wait(ev, 0));
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
  Waitset ws;
  Pipe p;
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
  XT_OK(ws.wait(ev, 0));
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(&tag_a, ev[0].user);
  EXPECT_EQ(unsigned(XIPC_WAIT_READABLE), ev[0].events);
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
  Waitset ws;
  Pipe p;
  XT_OK(xipc_waitset_add_stream(ws.w, p.r, XIPC_WAIT_READABLE, &tag_a));
  std::vector<xipc_wait_event> ev;
  EXPECT_EQ(XIPC_EAGAIN, ws.wait(ev, 0));
  XT_OK(xipc_stream_close(p.w));
  p.w = nullptr;
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(unsigned(XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP), ev[0].events);
  char b;
  size_t n = 1;
  XT_OK(xipc_stream_read(p.r, &b, 1, &n, 0));
  EXPECT_EQ(0u, n);  // end of stream
  EXPECT_EQ(XIPC_EBUSY, xipc_stream_close(p.r));
  XT_OK(xipc_waitset_remove(ws.w, &tag_a));
}

TEST(WaitsetOs, WriteEndIsWritableAndHangsUpWhenTheReaderCloses) {
  Waitset ws;
  Pipe p;
  XT_OK(xipc_waitset_add_stream(ws.w, p.w, XIPC_WAIT_WRITABLE, &tag_a));
  std::vector<xipc_wait_event> ev;
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(unsigned(XIPC_WAIT_WRITABLE), ev[0].events);
  XT_OK(xipc_stream_close(p.r));
  p.r = nullptr;
  unsigned got = 0;
  int64_t end = xt::now_ms() + xt::scaled_ms(kWait);
  while (!(got & XIPC_WAIT_HANGUP) && xt::now_ms() < end) {
    XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
    ASSERT_EQ(1u, ev.size());
    got = ev[0].events;
  }
  EXPECT_EQ(unsigned(XIPC_WAIT_WRITABLE | XIPC_WAIT_HANGUP), got);
  EXPECT_EQ(XIPC_EPIPE, xipc_stream_write(p.w, "x", 1, nullptr, 0));
}

TEST(WaitsetOs, ShutdownOfAWatchedWriteEndStillEndsTheStream) {
  Waitset ws;
  Pipe p;
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
  NativeSignal sig;
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
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(unsigned(XIPC_WAIT_WRITABLE), ev[0].events);
  XT_OK(xipc_stream_write(c, "abc", 3, nullptr, -1));
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(unsigned(XIPC_WAIT_READABLE | XIPC_WAIT_WRITABLE), ev[0].events);
  XT_OK(xipc_stream_close(c));
  unsigned got = 0;
  int64_t end = xt::now_ms() + xt::scaled_ms(kWait);
  while (!(got & XIPC_WAIT_HANGUP) && xt::now_ms() < end) {
    XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
    ASSERT_EQ(1u, ev.size());
    got = ev[0].events;
  }
  EXPECT_TRUE(got & XIPC_WAIT_HANGUP);
  EXPECT_TRUE(got & XIPC_WAIT_READABLE);
  XT_OK(xipc_waitset_remove(ws.w, &tag_a));
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
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(unsigned(XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP), ev[0].events);
  EXPECT_EQ(XIPC_ECLOSED, xipc_accept(l, &s, 0));
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
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(unsigned(XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP), ev[0].events);
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
  XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(&tag_a, ev[0].user);
  EXPECT_EQ(unsigned(XIPC_WAIT_READABLE), ev[0].events);
  xipc_exit_status st = {};
  XT_OK(xipc_proc_wait(child.proc(), 0, &st));
  EXPECT_EQ(1, st.exited);
  EXPECT_EQ(7, st.exit_code);
  XT_OK(ws.wait(ev, 0));  // the event stays until removed
  EXPECT_EQ(1u, ev.size());
  XT_OK(xipc_waitset_remove(ws.w, &tag_a));
}

TEST(WaitsetOs, MoreReadyThanCapRotates) {
  Waitset ws;
  NativeSignal sig[5];
  int users[5];
  for (int i = 0; i < 5; i++) {
    XT_OK(xipc_waitset_add_native(ws.w, sig[i].waitable, XIPC_WAIT_READABLE, &users[i]));
    xt::native_signal_set(sig[i].setter);
  }
  std::set<void *> seen;
  std::vector<xipc_wait_event> ev;
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

TEST(WaitsetOs, NothingLeaks) {
  long before = xt::open_handle_count();
  for (int round = 0; round < 3; round++) {
    Waitset ws;
    NativeSignal sig;
    Pipe p;
    std::string name = xt::unique_name("wsos-leak");
    xipc_listener *l = nullptr;
    XT_OK(xipc_listen(&l, name.c_str(), nullptr));
    XT_OK(xipc_waitset_add_native(ws.w, sig.waitable, XIPC_WAIT_READABLE, &tag_a));
    XT_OK(xipc_waitset_add_stream(ws.w, p.r, XIPC_WAIT_READABLE, &tag_b));
    XT_OK(xipc_waitset_add_listener(ws.w, l, &tag_c));
    xt::native_signal_set(sig.setter);
    std::vector<xipc_wait_event> ev;
    XT_OK(ws.wait(ev, xt::scaled_ms(kWait)));
    XT_OK(xipc_waitset_remove(ws.w, &tag_b));
    XT_OK(xipc_waitset_close(ws.w));  // removes the rest
    ws.w = nullptr;
    XT_OK(xipc_listener_close(l));
  }
  EXPECT_EQ(before, xt::open_handle_count());
}
