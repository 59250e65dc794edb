// A waitset on a queue in a ping-pong, the pattern of the supervisor demo
// and bench_waitset: a waitset that found the message without sleeping
// (so it took the put's doorbell ring while that put had not yet cleared
// the armed bit) must still be woken by the next put.
#include "harness.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>

namespace {

struct Queues {
  xipc_queue *ping = nullptr, *pong = nullptr, *put = nullptr, *back = nullptr;
  ~Queues() {
    for (xipc_queue *q : {ping, pong, put, back})
      if (q) xipc_queue_close(q);
  }
};

// The partner thread: puts `rounds` pings (pausing pause_ms before each,
// 0: none) and waits for each pong. Returns the first error.
int pinger(Queues *qs, int rounds, int pause_ms) {
  for (int i = 0; i < rounds; i++) {
    char buf[8];
    size_t len = 0;
    if (pause_ms > 0) xt::sleep_ms(pause_ms);
    int rc = xipc_queue_put(qs->put, "p", 1, xt::scaled_ms(10000));
    if (rc == 0) rc = xipc_queue_get(qs->back, buf, sizeof buf, &len, xt::scaled_ms(10000));
    if (rc != 0) return rc;
  }
  return 0;
}

// Runs the ping-pong; the waitset's wait may not time out: a lost ring is
// found by the waitset's own periodic look only after 250 ms.
void ping_pong(int rounds, int pause_ms) {
  std::string a = xt::unique_name("wspp"), b = xt::unique_name("wspp");
  Queues qs;
  XT_OK(xipc_queue_open(&qs.ping, a.c_str(), nullptr, XIPC_CREATE | XIPC_EXCL));
  XT_OK(xipc_queue_open(&qs.put, a.c_str(), nullptr, 0));
  XT_OK(xipc_queue_open(&qs.pong, b.c_str(), nullptr, XIPC_CREATE | XIPC_EXCL));
  XT_OK(xipc_queue_open(&qs.back, b.c_str(), nullptr, 0));
  xipc_waitset *w = nullptr;
  XT_OK(xipc_waitset_open(&w));
  XT_OK(xipc_waitset_add_queue(w, qs.ping, XIPC_WAIT_READABLE, qs.ping));
  std::atomic<int> partner_rc{0};
  std::thread t([&] { partner_rc = pinger(&qs, rounds, pause_ms); });
  int got = 0, timeouts = 0, rc = 0;
  while (got < rounds && rc == 0) {
    xipc_wait_event ev[2];
    size_t n = 0;
    char buf[8];
    size_t len = 0;
    rc = xipc_waitset_wait(w, ev, 2, &n, xt::scaled_ms(200));
    if (rc == XIPC_ETIMEDOUT) {
      timeouts++;  // the message may be there: take it and go on
      rc = 0;
    }
    if (rc != 0) break;
    int g = xipc_queue_get(qs.ping, buf, sizeof buf, &len, 0);
    if (g == XIPC_EAGAIN) continue;
    rc = g;
    if (rc == 0) rc = xipc_queue_put(qs.pong, "q", 1, xt::scaled_ms(10000));
    got += rc == 0;
  }
  t.join();
  xipc_waitset_close(w);
  XT_OK(rc);
  XT_OK(partner_rc.load());
  EXPECT_EQ(rounds, got);
  EXPECT_EQ(0, timeouts) << "waits that slept 200 ms with a message queued";
}

}  // namespace

TEST(WaitsetQueue, EveryPutOfAPromptPingPongWakesTheWaitset) { ping_pong(300, 0); }

TEST(WaitsetQueue, EveryPutOfAPausedPingPongWakesTheWaitset) { ping_pong(30, 5); }
