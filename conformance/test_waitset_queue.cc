// Waitset over queues and signals: readiness of a queue alone, wake-ups
// from other processes, several waitsets on one queue, the watcher slots'
// limit and reclaim, forged watcher slots, and signals claimed before any
// handler.
#include "harness.h"
#include "internal.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct QueueGuard {
  xipc_queue *q = nullptr;
  ~QueueGuard() {
    if (q) xipc_queue_close(q);
  }
};

// Removes the queue's entry before the set closes, so that the queue can
// be closed in either order.
struct SetGuard {
  xipc_waitset *w = nullptr;
  ~SetGuard() {
    if (w) xipc_waitset_close(w);
  }
};

xipc_queue_options qopts(size_t capacity, size_t max_message) {
  xipc_queue_options o = {};
  o.capacity = capacity;
  o.max_message = max_message;
  return o;
}

int open_existing(xipc_queue **q, const char *name) {
  return xipc_queue_open(q, name, nullptr, 0);
}

int helper_wait_ms() { return xt::scaled_ms(60000); }

// One wait; the events of user `tag` (0 if it was not reported) or the
// wait's error.
int wait_for(xipc_waitset *w, void *tag, int timeout_ms, unsigned *events) {
  xipc_wait_event ev[4];
  size_t n = 0;
  *events = 0;
  int rc = xipc_waitset_wait(w, ev, 4, &n, timeout_ms);
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (ev[i].user == tag) *events |= ev[i].events;
  return rc;
}

// A new queue `name` (options o, may be NULL) in g, watched for events by
// a new set in s (user: the queue).
void watch_new_queue(const std::string &name, QueueGuard &g, SetGuard &s, unsigned events,
                     const xipc_queue_options *o = nullptr) {
  XT_OK(xipc_queue_open(&g.q, name.c_str(), o, XIPC_CREATE | XIPC_EXCL));
  XT_OK(xipc_waitset_open(&s.w));
  XT_OK(xipc_waitset_add_queue(s.w, g.q, events, g.q));
}

struct Rec {
  uint32_t producer, seq;
};

constexpr uint32_t kPerProducer = 5000;

// ---- helpers (child processes) ---------------------------------------------

// Args: queue delay_ms. Sleeps, then puts one message.
XT_HELPER(wsq_put_later) {
  XT_REQUIRE(argc >= 2);
  xipc_queue *q = nullptr;
  XT_CHECK(open_existing(&q, argv[0]));
  xt::sleep_ms(std::atoi(argv[1]));
  XT_CHECK(xipc_queue_put(q, "late", 4, helper_wait_ms()));
  XT_CHECK(xipc_queue_close(q));
  return 0;
}

// Args: queue count. Gets count messages.
XT_HELPER(wsq_drain) {
  XT_REQUIRE(argc >= 2);
  xipc_queue *q = nullptr;
  XT_CHECK(open_existing(&q, argv[0]));
  char buf[256];
  size_t len = 0;
  for (int i = std::atoi(argv[1]); i > 0; i--)
    XT_CHECK(xipc_queue_get(q, buf, sizeof buf, &len, helper_wait_ms()));
  XT_CHECK(xipc_queue_close(q));
  return 0;
}

// Args: queue count id. Puts {id, seq} for seq in [0, count).
XT_HELPER(wsq_producer) {
  XT_REQUIRE(argc >= 3);
  xipc_queue *q = nullptr;
  XT_CHECK(open_existing(&q, argv[0]));
  uint32_t n = (uint32_t)std::atoi(argv[1]), id = (uint32_t)std::atoi(argv[2]);
  for (uint32_t s = 0; s < n; s++) {
    Rec r = {id, s};
    XT_CHECK(xipc_queue_put(q, &r, sizeof r, helper_wait_ms()));
  }
  XT_CHECK(xipc_queue_close(q));
  return 0;
}

// Args: queue. Puts until killed, with short timeouts; errors are fine
// (a hostile test scribbles on the header meanwhile).
XT_HELPER(wsq_put_forever) {
  XT_REQUIRE(argc >= 1);
  xipc_queue *q = nullptr;
  XT_CHECK(open_existing(&q, argv[0]));
  Rec r = {9, 0};
  for (;; r.seq++) (void)xipc_queue_put(q, &r, sizeof r, 50);
}

// Args: queue recmap ready. A consumer with a waitset of its own: waits,
// then gets with timeout 0 until XIPC_EAGAIN; counts each message in the
// record map (one byte per producer and seq) until the queue is shut down
// and drained. Exit 3 if a wait timed out while messages were queued (a
// consumer slept while messages waited).
XT_HELPER(wsq_consumer) {
  XT_REQUIRE(argc >= 3);
  xipc_queue *q = nullptr;
  xipc_map *m = nullptr;
  xipc_waitset *w = nullptr;
  XT_CHECK(open_existing(&q, argv[0]));
  XT_CHECK(xipc_map_named(&m, argv[1], 0, XIPC_ACCESS_WRITE, 0));
  auto *rec = static_cast<unsigned char *>(xipc_map_data(m));
  XT_CHECK(xipc_waitset_open(&w));
  XT_CHECK(xipc_waitset_add_queue(w, q, XIPC_WAIT_READABLE, q));
  XT_CHECK(xt::ready_signal(argv[2]));
  for (;;) {
    unsigned events = 0;
    int rc = wait_for(w, q, xt::scaled_ms(10000), &events);
    if (rc == XIPC_ETIMEDOUT) {
      size_t count = 0;
      XT_CHECK(xipc_queue_count(q, &count));
      XT_REQUIRE(count == 0);
      continue;
    }
    XT_CHECK(rc);
    for (;;) {
      Rec r;
      size_t len = 0;
      rc = xipc_queue_get(q, &r, sizeof r, &len, 0);
      if (rc != 0) break;
      XT_REQUIRE(len == sizeof r && r.producer < 2 && r.seq < kPerProducer);
      __atomic_fetch_add(&rec[r.producer * kPerProducer + r.seq], 1, __ATOMIC_SEQ_CST);
    }
    if (rc == XIPC_ECLOSED) break;
    XT_REQUIRE(rc == XIPC_EAGAIN);
  }
  XT_CHECK(xipc_waitset_close(w));
  XT_CHECK(xipc_queue_close(q));
  XT_CHECK(xipc_map_close(m));
  return 0;
}

// Args: queue ready. Watches the queue in a waitset until killed.
XT_HELPER(wsq_watch_forever) {
  XT_REQUIRE(argc >= 2);
  xipc_queue *q = nullptr;
  xipc_waitset *w = nullptr;
  XT_CHECK(open_existing(&q, argv[0]));
  XT_CHECK(xipc_waitset_open(&w));
  XT_CHECK(xipc_waitset_add_queue(w, q, XIPC_WAIT_READABLE, q));
  XT_CHECK(xt::ready_signal(argv[1]));
  for (;;) xt::sleep_ms(1000);
}

// Args: pid. Sends XIPC_SIGUSR1 to pid.
XT_HELPER(wsq_send_usr1) {
  XT_REQUIRE(argc >= 1);
  XT_CHECK(xipc_signal_send((xipc_pid)std::atoll(argv[0]), XIPC_SIGUSR1));
  return 0;
}

}  // namespace

// ---- a queue alone -----------------------------------------------------------

TEST(WaitsetQueue, ReadableOnlyWhileAMessageIsThere) {
  std::string name = xt::unique_name("wsq");
  QueueGuard g;
  SetGuard s;
  ASSERT_NO_FATAL_FAILURE(watch_new_queue(name, g, s, XIPC_WAIT_READABLE));
  unsigned ev = 0;
  EXPECT_EQ(XIPC_EAGAIN, wait_for(s.w, g.q, 0, &ev));
  int64_t t0 = xt::now_ms();
  EXPECT_EQ(XIPC_ETIMEDOUT, wait_for(s.w, g.q, 200, &ev));
  EXPECT_GE(xt::now_ms() - t0, 200);  // never early
  XT_OK(xipc_queue_put(g.q, "x", 1, 0));
  XT_OK(wait_for(s.w, g.q, 0, &ev));
  EXPECT_EQ((unsigned)XIPC_WAIT_READABLE, ev);
  XT_OK(wait_for(s.w, g.q, 0, &ev));  // level-triggered: still there
  EXPECT_EQ((unsigned)XIPC_WAIT_READABLE, ev);
  char buf[8];
  size_t len = 0;
  XT_OK(xipc_queue_get(g.q, buf, sizeof buf, &len, 0));
  EXPECT_EQ(XIPC_EAGAIN, wait_for(s.w, g.q, 0, &ev));
}

TEST(WaitsetQueue, BecomesReadableWhenAnotherProcessPuts) {
  std::string name = xt::unique_name("wsq");
  QueueGuard g;
  SetGuard s;
  ASSERT_NO_FATAL_FAILURE(watch_new_queue(name, g, s, XIPC_WAIT_READABLE));
  xt::Child c;
  XT_OK(c.start("wsq_put_later", {name, "300"}));
  unsigned ev = 0;
  int64_t t0 = xt::now_ms();
  XT_OK(wait_for(s.w, g.q, xt::scaled_ms(20000), &ev));
  EXPECT_EQ((unsigned)XIPC_WAIT_READABLE, ev);
  // Woken by the put's ring, not by a periodic look much later.
  EXPECT_LT(xt::now_ms() - t0, xt::scaled_ms(10000));
  char buf[8];
  size_t len = 0;
  XT_OK(xipc_queue_get(g.q, buf, sizeof buf, &len, 0));
  EXPECT_EQ(4u, len);
  EXPECT_EQ(0, c.exit_code());
}

// The wake-up comes from the put's ring at once, not from the waitset's
// periodic look (every 250 ms): the median delay of 9 rounds is short.
TEST(WaitsetQueue, WakeUpComesFromThePutsRing) {
  std::string name = xt::unique_name("wsq");
  QueueGuard g, producer;
  SetGuard s;
  ASSERT_NO_FATAL_FAILURE(watch_new_queue(name, g, s, XIPC_WAIT_READABLE));
  XT_OK(open_existing(&producer.q, name.c_str()));
  std::vector<int64_t> delays;
  for (int round = 0; round < 9; round++) {
    std::atomic<int64_t> put_at{0};
    std::thread t([&] {
      xt::sleep_ms(20 + 7 * round);
      put_at = xt::now_ms();
      xipc_queue_put(producer.q, "r", 1, 0);
    });
    unsigned ev = 0;
    int rc = wait_for(s.w, g.q, xt::scaled_ms(10000), &ev);
    int64_t woke = xt::now_ms();
    t.join();
    XT_OK(rc);
    EXPECT_EQ((unsigned)XIPC_WAIT_READABLE, ev);
    delays.push_back(woke - put_at.load());
    char buf[8];
    size_t len = 0;
    XT_OK(xipc_queue_get(g.q, buf, sizeof buf, &len, 0));
  }
  std::sort(delays.begin(), delays.end());
  EXPECT_LT(delays[4], xt::scaled_ms(40)) << "median wake-up delay in ms";
}

TEST(WaitsetQueue, FullQueueBecomesWritableWhenAnotherProcessGets) {
  std::string name = xt::unique_name("wsq");
  QueueGuard g;
  SetGuard s;
  xipc_queue_options o = qopts(256, 32);
  XT_OK(xipc_queue_open(&g.q, name.c_str(), &o, XIPC_CREATE | XIPC_EXCL));
  char msg[32] = "fill";
  int n = 0;
  while (xipc_queue_put(g.q, msg, sizeof msg, 0) == 0) n++;
  ASSERT_GT(n, 0);
  XT_OK(xipc_waitset_open(&s.w));
  XT_OK(xipc_waitset_add_queue(s.w, g.q, XIPC_WAIT_WRITABLE, g.q));
  unsigned ev = 0;
  EXPECT_EQ(XIPC_EAGAIN, wait_for(s.w, g.q, 0, &ev));
  xt::Child c;
  XT_OK(c.start("wsq_drain", {name, std::to_string(n)}));
  XT_OK(wait_for(s.w, g.q, xt::scaled_ms(20000), &ev));
  EXPECT_EQ((unsigned)XIPC_WAIT_WRITABLE, ev);
  XT_OK(xipc_queue_put(g.q, msg, sizeof msg, 0));
  EXPECT_EQ(0, c.exit_code());
}

TEST(WaitsetQueue, HandleWithoutARingIsWritableWhileARingIsFree) {
  std::string name = xt::unique_name("wsq");
  QueueGuard g;
  SetGuard s;
  ASSERT_NO_FATAL_FAILURE(watch_new_queue(name, g, s, XIPC_WAIT_READABLE | XIPC_WAIT_WRITABLE));
  unsigned ev = 0;
  XT_OK(wait_for(s.w, g.q, 0, &ev));
  EXPECT_EQ((unsigned)XIPC_WAIT_WRITABLE, ev);
}

TEST(WaitsetQueue, ShutDownQueueHangsUp) {
  std::string name = xt::unique_name("wsq");
  QueueGuard g, other;
  SetGuard s;
  ASSERT_NO_FATAL_FAILURE(watch_new_queue(name, g, s, XIPC_WAIT_READABLE));
  XT_OK(open_existing(&other.q, name.c_str()));
  unsigned ev = 0;
  EXPECT_EQ(XIPC_EAGAIN, wait_for(s.w, g.q, 0, &ev));
  std::thread t([&] {
    xt::sleep_ms(100);
    xipc_queue_shutdown(other.q);
  });
  int rc = wait_for(s.w, g.q, xt::scaled_ms(20000), &ev);
  t.join();
  XT_OK(rc);
  EXPECT_EQ((unsigned)(XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP), ev);
  char buf[8];
  size_t len = 0;
  EXPECT_EQ(XIPC_ECLOSED, xipc_queue_get(g.q, buf, sizeof buf, &len, 0));
  XT_OK(xipc_waitset_remove(s.w, g.q));
  XT_OK(xipc_waitset_add_queue(s.w, g.q, XIPC_WAIT_WRITABLE, g.q));
  XT_OK(wait_for(s.w, g.q, 0, &ev));
  EXPECT_EQ((unsigned)(XIPC_WAIT_WRITABLE | XIPC_WAIT_HANGUP), ev);
}

TEST(WaitsetQueue, CloseOfAWatchedQueueIsEbusy) {
  std::string name = xt::unique_name("wsq");
  xipc_queue *q = nullptr;
  SetGuard s;
  XT_OK(xipc_queue_open(&q, name.c_str(), nullptr, XIPC_CREATE | XIPC_EXCL));
  XT_OK(xipc_waitset_open(&s.w));
  XT_OK(xipc_waitset_add_queue(s.w, q, XIPC_WAIT_READABLE, q));
  EXPECT_EQ(XIPC_EBUSY, xipc_queue_close(q));
  XT_OK(xipc_queue_put(q, "still open", 10, 0));  // closed nothing
  XT_OK(xipc_waitset_remove(s.w, q));
  XT_OK(xipc_queue_close(q));
}

// ---- several waitsets on one queue -----------------------------------------

TEST(WaitsetQueue, TwoConsumerProcessesTakeEveryMessageOnce) {
  std::string name = xt::unique_name("wsq"), recname = xt::unique_name("wsqr");
  QueueGuard g;
  xipc_queue_options o = qopts(4096, 64);
  XT_OK(xipc_queue_open(&g.q, name.c_str(), &o, XIPC_CREATE | XIPC_EXCL));
  xipc_map *rec = nullptr;
  XT_OK(xipc_map_named(&rec, recname.c_str(), 2 * kPerProducer, XIPC_ACCESS_WRITE,
                       XIPC_CREATE | XIPC_EXCL));
  xt::Cleanup unmap([&] { xipc_map_close(rec); });
  xt::Flag r1("wsq1"), r2("wsq2");
  xt::Child c1, c2, p1, p2;
  XT_OK(c1.start("wsq_consumer", {name, recname, r1}));
  XT_OK(c2.start("wsq_consumer", {name, recname, r2}));
  ASSERT_TRUE(xt::ready_wait(r1, helper_wait_ms(), &c1));
  ASSERT_TRUE(xt::ready_wait(r2, helper_wait_ms(), &c2));
  int64_t t0 = xt::now_ms();
  XT_OK(p1.start("wsq_producer", {name, std::to_string(kPerProducer), "0"}));
  XT_OK(p2.start("wsq_producer", {name, std::to_string(kPerProducer), "1"}));
  EXPECT_EQ(0, p1.exit_code());
  EXPECT_EQ(0, p2.exit_code());
  // Drained before the shutdown: nobody slept while messages waited.
  size_t count = 1;
  while (xt::now_ms() - t0 < xt::scaled_ms(30000)) {
    XT_OK(xipc_queue_count(g.q, &count));
    if (count == 0) break;
    xt::sleep_ms(10);
  }
  EXPECT_EQ(0u, count);
  XT_OK(xipc_queue_shutdown(g.q));
  EXPECT_EQ(0, c1.exit_code());
  EXPECT_EQ(0, c2.exit_code());
  const auto *seen = static_cast<const unsigned char *>(xipc_map_data(rec));
  int missing = 0, twice = 0;
  for (uint32_t i = 0; i < 2 * kPerProducer; i++) {
    missing += seen[i] == 0;
    twice += seen[i] > 1;
  }
  EXPECT_EQ(0, missing);
  EXPECT_EQ(0, twice);
  std::printf("10000 messages through two waitset consumers in %lld ms\n",
              (long long)(xt::now_ms() - t0));
}

TEST(WaitsetQueue, NinthWaitsetIsEbusyUntilAWatcherDies) {
  std::string name = xt::unique_name("wsq");
  QueueGuard g;
  XT_OK(xipc_queue_open(&g.q, name.c_str(), nullptr, XIPC_CREATE | XIPC_EXCL));
  xt::Flag ready("wsqw");
  xt::Child c;
  XT_OK(c.start("wsq_watch_forever", {name, ready}));
  ASSERT_TRUE(xt::ready_wait(ready, helper_wait_ms(), &c));
  std::vector<SetGuard> sets(XIPC_WAITSET_QUEUE_WATCHERS);
  for (int i = 0; i < XIPC_WAITSET_QUEUE_WATCHERS - 1; i++) {
    XT_OK(xipc_waitset_open(&sets[i].w));
    XT_OK(xipc_waitset_add_queue(sets[i].w, g.q, XIPC_WAIT_READABLE, g.q));
  }
  SetGuard ninth;
  XT_OK(xipc_waitset_open(&ninth.w));
  EXPECT_EQ(XIPC_EBUSY, xipc_waitset_add_queue(ninth.w, g.q, XIPC_WAIT_READABLE, g.q));
  XT_OK(c.kill());
  xipc_exit_status st;
  XT_OK(c.wait(helper_wait_ms(), &st));
  XT_OK(xipc_waitset_add_queue(ninth.w, g.q, XIPC_WAIT_READABLE, g.q));
  // Each of the nine sees a message.
  XT_OK(xipc_queue_put(g.q, "all", 3, 0));
  unsigned ev = 0;
  XT_OK(wait_for(ninth.w, g.q, xt::scaled_ms(5000), &ev));
  EXPECT_EQ((unsigned)XIPC_WAIT_READABLE, ev);
  for (int i = 0; i < XIPC_WAITSET_QUEUE_WATCHERS - 1; i++) {
    XT_OK(wait_for(sets[i].w, g.q, xt::scaled_ms(5000), &ev));
    EXPECT_EQ((unsigned)XIPC_WAIT_READABLE, ev);
  }
  for (auto &s : sets)
    if (s.w) {
      XT_OK(xipc_waitset_remove(s.w, g.q));
    }
  XT_OK(xipc_waitset_remove(ninth.w, g.q));
}

// ---- forged watcher slots ----------------------------------------------------

namespace {

unsigned char *slot_at(unsigned char *base, unsigned i) {
  return base + XIPC__QUEUE_WATCH_OFFSET(i);
}

uint64_t load64(const unsigned char *p) {
  return __atomic_load_n(reinterpret_cast<const uint64_t *>(p), __ATOMIC_SEQ_CST);
}

void store64(unsigned char *p, uint64_t v) {
  __atomic_store_n(reinterpret_cast<uint64_t *>(p), v, __ATOMIC_SEQ_CST);
}

}  // namespace

TEST(WaitsetQueue, SlotOfAMissingDoorbellIsCleared) {
  std::string name = xt::unique_name("wsq");
  QueueGuard g;
  XT_OK(xipc_queue_open(&g.q, name.c_str(), nullptr, XIPC_CREATE | XIPC_EXCL));
  xipc_map *m = nullptr;
  XT_OK(xipc_map_named(&m, name.c_str(), 0, XIPC_ACCESS_WRITE, 0));
  xt::Cleanup unmap([&] { xipc_map_close(m); });
  auto *base = static_cast<unsigned char *>(xipc_map_data(m));
  // A live owner (this process) with a doorbell nobody has.
  unsigned char *slot = slot_at(base, 4);
  store64(slot, xipc__qwait_self_owner());
  store64(slot + 8, (uint64_t)0x7ffffff1u << 32 | 5u);
  __atomic_store_n(reinterpret_cast<uint32_t *>(base + XIPC__QUEUE_WATCHERS_OFFSET), 1u,
                   __ATOMIC_SEQ_CST);
  // A consumer sleeping on the data channel arms it.
  std::thread t([&] {
    char buf[8];
    size_t len = 0;
    xipc_queue_get(g.q, buf, sizeof buf, &len, xt::scaled_ms(10000));
  });
  auto *data_seq = reinterpret_cast<uint32_t *>(base + 2 * 64);
  for (int i = 0; i < 2000 && (__atomic_load_n(data_seq, __ATOMIC_SEQ_CST) & 1) == 0; i++)
    xt::sleep_ms(5);
  XT_OK(xipc_queue_put(g.q, "x", 1, 0));
  t.join();
  EXPECT_EQ(0u, load64(slot));
  EXPECT_EQ(0u, load64(slot + 8));
  EXPECT_EQ(0u, __atomic_load_n(reinterpret_cast<uint32_t *>(base + XIPC__QUEUE_WATCHERS_OFFSET),
                                __ATOMIC_SEQ_CST));
}

TEST(WaitsetQueue, ForgedSlotsNeitherCrashNorHang) {
  std::string name = xt::unique_name("wsq");
  QueueGuard g;
  SetGuard s;
  xipc_queue_options o = qopts(1024, 64);
  ASSERT_NO_FATAL_FAILURE(watch_new_queue(name, g, s, XIPC_WAIT_READABLE, &o));
  xipc_map *m = nullptr;
  XT_OK(xipc_map_named(&m, name.c_str(), 0, XIPC_ACCESS_WRITE, 0));
  xt::Cleanup unmap([&] { xipc_map_close(m); });
  auto *base = static_cast<unsigned char *>(xipc_map_data(m));
  xt::Child p1, p2;
  XT_OK(p1.start("wsq_put_forever", {name}));
  XT_OK(p2.start("wsq_put_forever", {name}));
  std::atomic<bool> stop{false};
  std::thread scribbler([&] {
    uint64_t r = 88172645463325252ull;
    auto next = [&] {
      r ^= r << 13;
      r ^= r >> 7;
      r ^= r << 17;
      return r;
    };
    while (!stop.load()) {
      for (unsigned i = 0; i < XIPC_WAITSET_QUEUE_WATCHERS; i++) {
        uint64_t owner = next(), bell = next();
        if (next() % 4 == 0) owner &= 0xffffffffu;  // tagless, small ids too
        if (next() % 4 == 0) bell = (bell & 0xff00000000ull) | 1;
        store64(slot_at(base, i), owner);
        store64(slot_at(base, i) + 8, bell);
      }
      __atomic_store_n(reinterpret_cast<uint32_t *>(base + XIPC__QUEUE_WATCHERS_OFFSET),
                       (uint32_t)next(), __ATOMIC_SEQ_CST);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  int got = 0, other = 0;
  int64_t t0 = xt::now_ms();
  while (xt::now_ms() - t0 < xt::scaled_ms(2000)) {
    unsigned ev = 0;
    int rc = wait_for(s.w, g.q, 50, &ev);
    EXPECT_TRUE(rc == 0 || rc == XIPC_ETIMEDOUT) << xipc_err_name(rc);
    char buf[64];
    size_t len = 0;
    while ((rc = xipc_queue_get(g.q, buf, sizeof buf, &len, 0)) == 0) got++;
    other += rc != XIPC_EAGAIN;
  }
  stop = true;
  scribbler.join();
  XT_OK(p1.kill());
  XT_OK(p2.kill());
  EXPECT_GT(got, 0);
  EXPECT_EQ(0, other);
  // With the slots still forged, the waitset stores its own again at its
  // next look (at the latest after a periodic re-check) and is woken.
  char buf[64];
  size_t len = 0;
  while (xipc_queue_get(g.q, buf, sizeof buf, &len, 0) == 0) {
  }
  unsigned ev = 0;
  (void)wait_for(s.w, g.q, 0, &ev);
  xt::Child late;
  XT_OK(late.start("wsq_put_later", {name, "100"}));
  XT_OK(wait_for(s.w, g.q, xt::scaled_ms(10000), &ev));
  EXPECT_EQ((unsigned)XIPC_WAIT_READABLE, ev);
  EXPECT_EQ(0, late.exit_code());
}

TEST(WaitsetQueue, ProducersKilledWhileRingingDoNotWedgeAConsumer) {
  std::string name = xt::unique_name("wsq");
  QueueGuard g;
  xipc_queue_options o = qopts(4096, 64);
  XT_OK(xipc_queue_open(&g.q, name.c_str(), &o, XIPC_CREATE | XIPC_EXCL));
  std::atomic<bool> stop{false};
  std::atomic<int> finals{0};
  std::atomic<int> errors{0};
  std::thread consumer([&] {
    SetGuard s;
    if (xipc_waitset_open(&s.w) != 0 ||
        xipc_waitset_add_queue(s.w, g.q, XIPC_WAIT_READABLE, g.q) != 0) {
      errors++;
      return;
    }
    while (!stop.load()) {
      unsigned ev = 0;
      int rc = wait_for(s.w, g.q, 200, &ev);
      if (rc != 0 && rc != XIPC_ETIMEDOUT) errors++;
      Rec r;
      size_t len = 0;
      while (xipc_queue_get(g.q, &r, sizeof r, &len, 0) == 0)
        if (r.producer == 0) finals++;
    }
    xipc_waitset_remove(s.w, g.q);
  });
  for (int round = 0; round < 10; round++) {
    xt::Child p;
    XT_OK(p.start("wsq_put_forever", {name}));
    xt::sleep_ms(30 + 17 * round % 50);
    XT_OK(p.kill());
  }
  // A last producer's messages all arrive.
  xt::Child last;
  XT_OK(last.start("wsq_producer", {name, "200", "0"}));
  EXPECT_EQ(0, last.exit_code());
  int64_t t0 = xt::now_ms();
  while (finals.load() < 200 && xt::now_ms() - t0 < xt::scaled_ms(20000)) xt::sleep_ms(10);
  stop = true;
  consumer.join();
  EXPECT_EQ(200, finals.load());
  EXPECT_EQ(0, errors.load());
}

// ---- signals -------------------------------------------------------------------

namespace {
std::atomic<int> usr1_handled{0};
void on_usr1(int, void *) { usr1_handled++; }
}  // namespace

TEST(WaitsetQueue, SignalGoesToTheWaitsetBeforeTheHandler) {
  usr1_handled = 0;
  XT_OK(xipc_signal_handle(XIPC_SIGUSR1, on_usr1, nullptr));
  xt::Cleanup restore([] { xipc_signal_default(XIPC_SIGUSR1); });
  SetGuard s;
  XT_OK(xipc_waitset_open(&s.w));
  int sigs[] = {XIPC_SIGUSR1};
  int tag = 0;
  XT_OK(xipc_waitset_add_signals(s.w, sigs, 1, &tag));
  std::string pid = std::to_string((long long)xipc_self_pid());
  {
    xt::Child c;
    XT_OK(c.start("wsq_send_usr1", {pid}));
    EXPECT_EQ(0, c.exit_code());
  }
  xipc_wait_event ev[4];
  size_t n = 0;
  XT_OK(xipc_waitset_wait(s.w, ev, 4, &n, xt::scaled_ms(10000)));
  ASSERT_EQ(1u, n);
  EXPECT_EQ(&tag, ev[0].user);
  EXPECT_EQ((unsigned)XIPC_WAIT_READABLE, ev[0].events);
  EXPECT_EQ(XIPC_SIGUSR1, ev[0].sig);
  EXPECT_EQ(XIPC_EAGAIN, xipc_waitset_wait(s.w, ev, 4, &n, 0));  // consumed
  EXPECT_EQ(0, usr1_handled.load());
  XT_OK(xipc_waitset_remove(s.w, &tag));
  {
    xt::Child c;
    XT_OK(c.start("wsq_send_usr1", {pid}));
    EXPECT_EQ(0, c.exit_code());
  }
  int64_t t0 = xt::now_ms();
  while (usr1_handled.load() == 0 && xt::now_ms() - t0 < xt::scaled_ms(10000)) xt::sleep_ms(5);
  EXPECT_EQ(1, usr1_handled.load());
}
