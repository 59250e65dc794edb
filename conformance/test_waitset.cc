// The waitset (issue 14), against the contract in api/xipc.h ("Waiting on
// many objects at once"): each kind of object alone (ready, not ready with
// its timeout honoured, becoming ready while the wait sleeps), timers, a
// mix of kinds arriving in random order, 200 objects and fairness, wake
// from a thread and from signal handlers, the native handle in a foreign
// event loop, bad input, a watcher killed at random moments, and leaks.
// The same tests run on both platforms.
#include "harness.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// An event that must come comes within this (scaled); generous, so that
// only a wait that slept through a ready object fails it.
int bound() { return xt::scaled_ms(5000); }
// How long a helper (process or thread) waits before it makes an object
// ready, so that the test's wait is asleep by then (pacing, not sync).
const int kDelay = 100;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void *user_of(intptr_t i) { return reinterpret_cast<void *>(i); }
void *const kUser = user_of(0x5eed);

// The set, closed at the end of the scope. Declare it after the objects
// it holds: it then closes first, and their closes do not see XIPC_EBUSY.
struct Ws {
  xipc_waitset *w = nullptr;
  Ws() { EXPECT_EQ(0, xipc_waitset_open(&w)); }
  ~Ws() {
    if (w) { EXPECT_EQ(0, xipc_waitset_close(w)); }
  }
  Ws(const Ws &) = delete;
  Ws &operator=(const Ws &) = delete;
  operator xipc_waitset *() const { return w; }
};

// Both ends of one pipe, closed at the end of the scope.
struct Pipe {
  xipc_stream *r = nullptr, *w = nullptr;
  Pipe() { EXPECT_EQ(0, xipc_pipe(&r, &w)); }
  ~Pipe() {
    close_r();
    close_w();
  }
  Pipe(const Pipe &) = delete;
  Pipe &operator=(const Pipe &) = delete;
  void close_r() {
    if (r) { EXPECT_EQ(0, xipc_stream_close(r)); }
    r = nullptr;
  }
  void close_w() {
    if (w) { EXPECT_EQ(0, xipc_stream_close(w)); }
    w = nullptr;
  }
};

// A scratch queue of a unique name, closed and its name removed at the end.
struct Queue {
  std::string name;
  xipc_queue *q = nullptr;
  explicit Queue(const char *tag = "wsq", size_t capacity = 0) : name(xt::unique_name(tag)) {
    xipc_queue_options o = {};
    o.capacity = capacity;
    o.max_producers = 8;
    EXPECT_EQ(0, xipc_queue_open(&q, name.c_str(), &o, XIPC_CREATE | XIPC_EXCL));
  }
  ~Queue() { close(); }
  Queue(const Queue &) = delete;
  Queue &operator=(const Queue &) = delete;
  void close() {
    if (q) { EXPECT_EQ(0, xipc_queue_close(q)); }
    q = nullptr;
    xipc_queue_unlink(name.c_str());  // ENOTSUP on Windows, ENOENT if gone
  }
};

// Handles sig with a handler that counts what reaches it (a signal the
// waitset should have taken, or one that came after its entry went),
// and restores the default when the scope ends.
struct SignalGuard {
  int sig;
  std::atomic<int> strays{0};
  static void cb(int, void *arg) { static_cast<SignalGuard *>(arg)->strays++; }
  explicit SignalGuard(int s) : sig(s) { EXPECT_EQ(0, xipc_signal_handle(sig, cb, this)); }
  ~SignalGuard() { xipc_signal_default(sig); }
};

// What one xipc_waitset_wait gave, and how long it took.
struct Got {
  int rc = 0;
  std::vector<xipc_wait_event> ev;
  int64_t us = 0;
  int64_t ms() const { return us / 1000; }
  const xipc_wait_event *find(void *user) const {
    for (const auto &e : ev)
      if (e.user == user) return &e;
    return nullptr;
  }
  std::string text() const {
    std::ostringstream os;
    os << (rc == 0 ? "0" : xipc_err_name(rc)) << " after " << us / 1000 << " ms, events:";
    for (const auto &e : ev)
      os << " {" << e.user << " ev " << e.events << " sig " << e.sig << "}";
    return os.str();
  }
};

Got wait_set(xipc_waitset *w, int timeout_ms, size_t cap = 16) {
  Got g;
  g.ev.resize(cap);
  size_t n = 12345;
  int64_t t0 = now_us();
  g.rc = xipc_waitset_wait(w, g.ev.data(), cap, &n, timeout_ms);
  g.us = now_us() - t0;
  if (g.rc != 0) {
    EXPECT_EQ(0u, n) << "*n after " << xipc_err_name(g.rc);
    n = 0;
  } else {
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, cap);
    n = std::min(n, cap);
  }
  g.ev.resize(n);
  return g;
}

// Reads what is there (timeout 0) until nothing is; returns the bytes.
size_t drain(xipc_stream *r) {
  std::vector<unsigned char> buf(65536);
  size_t total = 0, n = 0;
  while (xipc_stream_read(r, buf.data(), buf.size(), &n, 0) == 0 && n > 0) total += n;
  return total;
}

// Spawns helper with stream s passed and its token as the first argument.
int start_passing(xt::Child &c, const char *helper, xipc_stream *s,
                  std::vector<std::string> args = {}) {
  char tok[XIPC_STREAM_TOKEN_MAX];
  int rc = xipc_stream_export(s, tok, sizeof tok);
  if (rc != 0) return rc;
  xipc_spawn_options o = {};
  xipc_stream *pass[] = {s};
  o.pass = pass;
  o.npass = 1;
  args.insert(args.begin(), tok);
  return c.start(helper, args, &o);
}

int helper_wait_ms() { return xt::scaled_ms(60000); }

// ---- helpers (other processes) --------------------------------------------

// Args: queue count. After kDelay ms puts count one-byte messages.
XT_HELPER(ws_put) {
  XT_REQUIRE(argc >= 2);
  xt::sleep_ms(kDelay);
  xipc_queue *q = nullptr;
  XT_CHECK(xipc_queue_open(&q, argv[0], nullptr, 0));
  for (long i = 0, n = std::atol(argv[1]); i < n; i++) XT_CHECK(xipc_queue_put(q, "m", 1, -1));
  XT_CHECK(xipc_queue_close(q));
  return 0;
}

// Args: token (a passed write end). After kDelay ms writes one byte.
XT_HELPER(ws_write) {
  XT_REQUIRE(argc >= 1);
  xipc_stream *w = nullptr;
  XT_CHECK(xipc_stream_import(&w, argv[0]));
  xt::sleep_ms(kDelay);
  size_t n = 0;
  XT_CHECK(xipc_stream_write(w, "w", 1, &n, -1));
  XT_CHECK(xipc_stream_close(w));
  return 0;
}

// Args: listener. After kDelay ms connects, then holds the connection
// until the server closes it (or a minute passes).
XT_HELPER(ws_connect) {
  XT_REQUIRE(argc >= 1);
  xt::sleep_ms(kDelay);
  xipc_stream *s = nullptr;
  XT_CHECK(xipc_connect(&s, argv[0], helper_wait_ms()));
  char c;
  size_t n = 0;
  xipc_stream_read(s, &c, 1, &n, helper_wait_ms());
  XT_CHECK(xipc_stream_close(s));
  return 0;
}

// Args: pid sig. After kDelay ms sends sig to pid.
XT_HELPER(ws_signal) {
  XT_REQUIRE(argc >= 2);
  xt::sleep_ms(kDelay);
  XT_CHECK(xipc_signal_send(std::atoll(argv[0]), std::atoi(argv[1])));
  return 0;
}

// Args: go (a flag). Exits 5 once go is set.
XT_HELPER(ws_exit_on_go) {
  XT_REQUIRE(argc >= 1);
  XT_CHECK(xt::flag_wait(argv[0], helper_wait_ms()));
  return 5;
}

// Exits 0 at once.
XT_HELPER(ws_exit_now) { return 0; }

// ---- one object of each kind, as the single-kind tests drive it ----------

struct Source {
  virtual ~Source() = default;
  virtual int add(xipc_waitset *w, void *user) = 0;
  // Makes the object ready, here and now.
  virtual void ready_now() = 0;
  // Makes it ready kDelay ms from now, from a helper process or a thread.
  virtual void ready_later() = 0;
  // The event bits its event must carry, and its signal number.
  virtual unsigned want() const { return XIPC_WAIT_READABLE; }
  virtual int sig() const { return 0; }
  // The call with timeout 0 that the event promises; true if it worked.
  virtual bool consume() = 0;
  // Whether it is still ready after consume (an exited child, a hang-up).
  virtual bool stays_ready() const { return false; }
  // Ready only once xipc's dispatcher passed it on (signals): added first,
  // made ready after, and the first wait needs a timeout.
  virtual bool asynchronous() const { return false; }
  // Checks what the helper said (its exit code) at the end of a test.
  virtual void finish() {}
};

// Starts fn on a thread kDelay ms from now; joined by the destructor.
struct Later {
  std::thread t;
  void start(std::function<void()> fn) {
    t = std::thread([fn] {
      xt::sleep_ms(kDelay);
      fn();
    });
  }
  ~Later() {
    if (t.joinable()) t.join();
  }
};

struct QueueReadable : Source {
  Queue q{"wsqr"};
  xt::Child child;
  int add(xipc_waitset *w, void *u) override {
    return xipc_waitset_add_queue(w, q.q, XIPC_WAIT_READABLE, u);
  }
  void ready_now() override { EXPECT_EQ(0, xipc_queue_put(q.q, "m", 1, 0)); }
  void ready_later() override { EXPECT_EQ(0, child.start("ws_put", {q.name, "1"})); }
  bool consume() override {
    char b[8];
    size_t n = 0;
    return xipc_queue_get(q.q, b, sizeof b, &n, 0) == 0;
  }
  void finish() override {
    if (child.proc()) { EXPECT_EQ(0, child.exit_code()); }
  }
};

struct StreamReadable : Source {
  Pipe p;
  xt::Child child;
  int add(xipc_waitset *w, void *u) override {
    return xipc_waitset_add_stream(w, p.r, XIPC_WAIT_READABLE, u);
  }
  void ready_now() override {
    size_t n = 0;
    EXPECT_EQ(0, xipc_stream_write(p.w, "r", 1, &n, 0));
  }
  void ready_later() override { EXPECT_EQ(0, start_passing(child, "ws_write", p.w)); }
  bool consume() override {
    char b[8];
    size_t n = 0;
    return xipc_stream_read(p.r, b, sizeof b, &n, 0) == 0 && n > 0;
  }
  void finish() override {
    if (child.proc()) { EXPECT_EQ(0, child.exit_code()); }
  }
};

// A write end whose pipe is full: writable once the reader drains it.
struct StreamWritable : Source {
  Pipe p;
  Later later;
  StreamWritable() { EXPECT_GT(xt::fill_pipe(p.w), 0u); }
  int add(xipc_waitset *w, void *u) override {
    return xipc_waitset_add_stream(w, p.w, XIPC_WAIT_WRITABLE, u);
  }
  unsigned want() const override { return XIPC_WAIT_WRITABLE; }
  void ready_now() override { EXPECT_GT(drain(p.r), 0u); }
  void ready_later() override {
    later.start([this] { EXPECT_GT(drain(p.r), 0u); });
  }
  bool consume() override { return xt::fill_pipe(p.w) > 0; }
};

// A read end whose writer goes away: READABLE (end of stream is there)
// and HANGUP, for good.
struct StreamHangup : Source {
  Pipe p;
  Later later;
  int add(xipc_waitset *w, void *u) override {
    return xipc_waitset_add_stream(w, p.r, XIPC_WAIT_READABLE, u);
  }
  unsigned want() const override { return XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP; }
  void ready_now() override { p.close_w(); }
  void ready_later() override {
    later.start([this] { p.close_w(); });
  }
  bool consume() override {
    char b[8];
    size_t n = 1;
    return xipc_stream_read(p.r, b, sizeof b, &n, 0) == 0 && n == 0;
  }
  bool stays_ready() const override { return true; }
};

struct ListenerSource : Source {
  std::string name = xt::unique_name("wsl");
  xipc_listener *l = nullptr;
  xipc_stream *client = nullptr;
  xt::Child child;
  ListenerSource() { EXPECT_EQ(0, xipc_listen(&l, name.c_str(), nullptr)); }
  ~ListenerSource() override {
    if (client) xipc_stream_close(client);
    if (l) { EXPECT_EQ(0, xipc_listener_close(l)); }
  }
  int add(xipc_waitset *w, void *u) override { return xipc_waitset_add_listener(w, l, u); }
  void ready_now() override { EXPECT_EQ(0, xipc_connect(&client, name.c_str(), bound())); }
  void ready_later() override { EXPECT_EQ(0, child.start("ws_connect", {name})); }
  bool consume() override {
    xipc_stream *s = nullptr;
    if (xipc_accept(l, &s, 0) != 0) return false;
    xipc_stream_close(s);  // the helper reads end of stream and exits
    return true;
  }
  void finish() override {
    if (child.proc()) { EXPECT_EQ(0, child.exit_code()); }
  }
};

// A child that exits (code 5) once told to.
struct ProcSource : Source {
  xt::Flag go{"wsgo"};
  xt::Child child;
  Later later;
  ProcSource() { EXPECT_EQ(0, child.start("ws_exit_on_go", {go.token()})); }
  int add(xipc_waitset *w, void *u) override { return xipc_waitset_add_proc(w, child.proc(), u); }
  // Also reaps it: the set must report a child that xipc_proc_wait reaped.
  void ready_now() override {
    EXPECT_EQ(0, go.set());
    EXPECT_EQ(5, child.exit_code(bound()));
  }
  void ready_later() override {
    later.start([this] { EXPECT_EQ(0, go.set()); });
  }
  bool consume() override {
    xipc_exit_status st = {0, -1, 0};
    return child.wait(0, &st) == 0 && st.exited && st.exit_code == 5;
  }
  bool stays_ready() const override { return true; }
};

struct SignalSource : Source {
  SignalGuard guard{XIPC_SIGUSR1};
  xt::Child child;
  int add(xipc_waitset *w, void *u) override {
    const int sigs[] = {XIPC_SIGUSR1};
    return xipc_waitset_add_signals(w, sigs, 1, u);
  }
  int sig() const override { return XIPC_SIGUSR1; }
  void ready_now() override { EXPECT_EQ(0, xipc_signal_send(xipc_self_pid(), XIPC_SIGUSR1)); }
  void ready_later() override {
    EXPECT_EQ(0, child.start("ws_signal", {std::to_string(xipc_self_pid()),
                                           std::to_string(XIPC_SIGUSR1)}));
  }
  bool consume() override { return true; }  // the event was the delivery
  bool asynchronous() const override { return true; }
  void finish() override {
    if (child.proc()) { EXPECT_EQ(0, child.exit_code()); }
    EXPECT_EQ(0, guard.strays.load()) << "a signal the set watched reached the handler";
  }
};

struct NativeSource : Source {
  intptr_t h = -1, setter = -1;
  Later later;
  NativeSource() { EXPECT_TRUE(xt::native_signal_open(&h, &setter)); }
  ~NativeSource() override { xt::native_signal_close(h, setter); }
  int add(xipc_waitset *w, void *u) override {
    return xipc_waitset_add_native(w, h, XIPC_WAIT_READABLE, u);
  }
  void ready_now() override { xt::native_signal_set(setter); }
  void ready_later() override {
    later.start([this] { xt::native_signal_set(setter); });
  }
  bool consume() override {
    if (!xt::native_ready(h, 0)) return false;
    xt::native_signal_clear(h);
    return true;
  }
};

// The one event of a wait is s's, as s promises it.
void expect_event_of(const Got &g, const Source &s) {
  ASSERT_EQ(0, g.rc) << g.text();
  ASSERT_EQ(1u, g.ev.size()) << g.text();
  EXPECT_EQ(kUser, g.ev[0].user) << g.text();
  EXPECT_EQ(s.want(), g.ev[0].events & s.want()) << g.text();
  EXPECT_EQ(0u, g.ev[0].events & ~7u) << g.text();
  EXPECT_EQ(s.sig(), g.ev[0].sig) << g.text();
}

// Ready before the wait: one event at once; once consumed, none (or the
// same again for what stays ready); removed, none and ENOENT.
void check_ready(Source &s) {
  Ws w;
  if (!s.asynchronous()) s.ready_now();
  ASSERT_EQ(0, s.add(w, kUser));
  if (s.asynchronous()) s.ready_now();
  Got g = wait_set(w, s.asynchronous() ? bound() : 0);
  expect_event_of(g, s);
  if (s.stays_ready()) {  // level-triggered: still there, before and after the call
    expect_event_of(wait_set(w, 0), s);
    EXPECT_TRUE(s.consume());
    expect_event_of(wait_set(w, 0), s);
  } else {
    EXPECT_TRUE(s.consume());
    Got again = wait_set(w, 0);
    EXPECT_EQ(XIPC_EAGAIN, again.rc) << "consumed, yet: " << again.text();
  }
  EXPECT_EQ(0, xipc_waitset_remove(w, kUser));
  EXPECT_EQ(XIPC_EAGAIN, wait_set(w, 0).rc);
  EXPECT_EQ(XIPC_ENOENT, xipc_waitset_remove(w, kUser));
  s.finish();
}

// Not ready: EAGAIN for timeout 0, ETIMEDOUT never early for the others.
void check_not_ready(Source &s) {
  Ws w;
  ASSERT_EQ(0, s.add(w, kUser));
  Got g = wait_set(w, 0);
  EXPECT_EQ(XIPC_EAGAIN, g.rc) << g.text();
  for (int ms : {1, 30, 100}) {
    g = wait_set(w, ms);
    EXPECT_EQ(XIPC_ETIMEDOUT, g.rc) << g.text();
    EXPECT_GE(g.us, ms * 1000) << "timeout " << ms << " ms returned early";
  }
  s.finish();
}

// Ready while the wait sleeps: the wait returns with its event, soon.
void check_becomes_ready(Source &s) {
  Ws w;
  ASSERT_EQ(0, s.add(w, kUser));
  EXPECT_EQ(XIPC_EAGAIN, wait_set(w, 0).rc);
  s.ready_later();
  Got g = wait_set(w, bound());
  expect_event_of(g, s);
  EXPECT_TRUE(s.consume()) << g.text();
  if (!s.stays_ready()) { EXPECT_EQ(XIPC_EAGAIN, wait_set(w, 0).rc); }
  s.finish();
}

}  // namespace

#define WS_KIND_TESTS(Kind)                                                   \
  TEST(Waitset, Kind##Ready) {                                                \
    Kind s;                                                                   \
    check_ready(s);                                                           \
  }                                                                           \
  TEST(Waitset, Kind##NotReady) {                                             \
    Kind s;                                                                   \
    check_not_ready(s);                                                       \
  }                                                                           \
  TEST(Waitset, Kind##BecomesReady) {                                         \
    Kind s;                                                                   \
    check_becomes_ready(s);                                                   \
  }

WS_KIND_TESTS(QueueReadable)
WS_KIND_TESTS(StreamReadable)
WS_KIND_TESTS(StreamWritable)
WS_KIND_TESTS(StreamHangup)
WS_KIND_TESTS(ListenerSource)
WS_KIND_TESTS(ProcSource)
WS_KIND_TESTS(SignalSource)
WS_KIND_TESTS(NativeSource)

TEST(Waitset, QueueWritableWhileRoom) {
  Queue q;
  Ws w;
  XT_OK(xipc_waitset_add_queue(w, q.q, XIPC_WAIT_WRITABLE, kUser));
  Got g = wait_set(w, 0);
  ASSERT_EQ(0, g.rc) << g.text();
  ASSERT_EQ(1u, g.ev.size());
  EXPECT_EQ(kUser, g.ev[0].user);
  EXPECT_EQ(unsigned(XIPC_WAIT_WRITABLE), g.ev[0].events);
  XT_OK(xipc_queue_put(q.q, "m", 1, 0));
}

// Each put (from another thread, at random moments after the last get)
// ends a sleeping wait: readiness is never lost between re-arms.
TEST(Waitset, QueueEveryPutEndsTheWait) {
  Queue q;
  Ws w;
  XT_OK(xipc_waitset_add_queue(w, q.q, XIPC_WAIT_READABLE, kUser));
  std::atomic<int> taken{0};
  std::atomic<bool> stop{false};
  const int rounds = 300;
  std::thread producer([&] {
    xipc_queue *pq = nullptr;
    EXPECT_EQ(0, xipc_queue_open(&pq, q.name.c_str(), nullptr, 0));
    std::mt19937 rng(99);
    for (int i = 0; i < rounds && !stop; i++) {
      while (taken < i && !stop) std::this_thread::yield();
      if (rng() % 2) xt::sleep_ms(1);
      EXPECT_EQ(0, xipc_queue_put(pq, "m", 1, 0));
    }
    if (pq) xipc_queue_close(pq);
  });
  int slow = 0;  // waits that took longer than a wake-up should
  for (int i = 0; i < rounds; i++) {
    Got g = wait_set(w, bound());
    char b[4];
    size_t n = 0;
    if (g.rc == 0 && xipc_queue_get(q.q, b, sizeof b, &n, 0) == 0) {
      if (g.ms() > xt::scaled_ms(100) && ++slow > 10) break;  // enough said, and fast
      taken++;
      continue;
    }
    size_t count = 0;
    xipc_queue_count(q.q, &count);
    ADD_FAILURE() << "round " << i << ": " << g.text() << "; queued " << count;
    break;
  }
  stop = true;
  producer.join();
  EXPECT_LE(slow, rounds / 100) << slow << " of " << rounds
                                << " waits took over 100 ms (a lost ring found by a re-check?)";
}

TEST(Waitset, QueueShutDownIsHangup) {
  Queue q;
  Ws w;
  XT_OK(xipc_waitset_add_queue(w, q.q, XIPC_WAIT_READABLE, kUser));
  EXPECT_EQ(XIPC_EAGAIN, wait_set(w, 0).rc);
  XT_OK(xipc_queue_shutdown(q.q));
  Got g = wait_set(w, bound());
  ASSERT_EQ(0, g.rc) << g.text();
  ASSERT_EQ(1u, g.ev.size());
  EXPECT_EQ(unsigned(XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP), g.ev[0].events) << g.text();
  char b[4];
  size_t n = 0;
  EXPECT_EQ(XIPC_ECLOSED, xipc_queue_get(q.q, b, sizeof b, &n, 0));
}

TEST(Waitset, StreamWriterSeesReaderHangup) {
  Pipe p;
  Ws w;
  XT_OK(xipc_waitset_add_stream(w, p.w, XIPC_WAIT_WRITABLE, kUser));
  Got g = wait_set(w, 0);
  ASSERT_EQ(0, g.rc) << g.text();
  EXPECT_EQ(unsigned(XIPC_WAIT_WRITABLE), g.ev[0].events) << g.text();
  p.close_r();
  int64_t deadline = xt::now_ms() + bound();
  unsigned seen = 0;
  while (!(seen & XIPC_WAIT_HANGUP) && xt::now_ms() < deadline) {
    g = wait_set(w, bound());
    if (g.rc == 0) seen = g.ev[0].events;
  }
  EXPECT_TRUE(seen & XIPC_WAIT_HANGUP) << g.text();
  size_t n = 0;
  EXPECT_EQ(XIPC_EPIPE, xipc_stream_write(p.w, "x", 1, &n, 0));
}

// ---- timers ----------------------------------------------------------------

TEST(Waitset, TimerOneShotOnceNeverEarlyThenGone) {
  Ws w;
  int64_t t0 = now_us();
  XT_OK(xipc_waitset_add_timer(w, 100, 0, kUser));
  EXPECT_EQ(XIPC_EAGAIN, wait_set(w, 0).rc);
  Got g = wait_set(w, bound());
  ASSERT_EQ(0, g.rc) << g.text();
  ASSERT_EQ(1u, g.ev.size());
  EXPECT_EQ(kUser, g.ev[0].user);
  EXPECT_EQ(unsigned(XIPC_WAIT_READABLE), g.ev[0].events);
  EXPECT_GE(now_us() - t0, 100000) << "early";
  EXPECT_EQ(XIPC_EAGAIN, wait_set(w, 0).rc);
  EXPECT_EQ(XIPC_ETIMEDOUT, wait_set(w, 150).rc) << "a one-shot timer came back";
  EXPECT_EQ(XIPC_ENOENT, xipc_waitset_remove(w, kUser));
}

TEST(Waitset, TimerZeroIsReadyAtOnce) {
  Ws w;
  XT_OK(xipc_waitset_add_timer(w, 0, 0, nullptr));  // NULL is a valid user
  Got g = wait_set(w, bound());
  ASSERT_EQ(0, g.rc) << g.text();
  EXPECT_LT(g.ms(), xt::scaled_ms(500));
  EXPECT_EQ(nullptr, g.ev[0].user);
  EXPECT_EQ(XIPC_ENOENT, xipc_waitset_remove(w, nullptr));
}

TEST(Waitset, TimerIntervalRepeatsNeverEarly) {
  Ws w;
  const int period = 50;
  int64_t t0 = now_us();
  XT_OK(xipc_waitset_add_timer(w, period, period, kUser));
  for (int k = 1; k <= 6; k++) {
    Got g = wait_set(w, bound());
    ASSERT_EQ(0, g.rc) << "event " << k << ": " << g.text();
    ASSERT_EQ(1u, g.ev.size());
    EXPECT_EQ(kUser, g.ev[0].user);
    EXPECT_GE(now_us() - t0, int64_t(k) * period * 1000) << "event " << k << " early";
  }
  XT_OK(xipc_waitset_remove(w, kUser));
  EXPECT_EQ(XIPC_ETIMEDOUT, wait_set(w, 2 * period).rc);
}

TEST(Waitset, TimerIntervalReportsOncePerWaitAfterMissedPeriods) {
  Ws w;
  const int period = 100;
  int64_t t0 = now_us();
  XT_OK(xipc_waitset_add_timer(w, period, period, kUser));
  xt::sleep_ms(3 * period + period / 2);  // three periods pass unseen
  Got g = wait_set(w, 0, 8);
  ASSERT_EQ(0, g.rc) << g.text();
  EXPECT_EQ(1u, g.ev.size()) << "one event per wait: " << g.text();
  g = wait_set(w, 0, 8);
  if (now_us() - t0 < 4 * period * 1000 - 10000) {  // the next period has not started
    EXPECT_EQ(XIPC_EAGAIN, g.rc) << "missed periods came one by one: " << g.text();
  }
  g = wait_set(w, bound(), 8);  // the 4th period, from the one that passed
  ASSERT_EQ(0, g.rc) << g.text();
  EXPECT_GE(now_us() - t0, 4 * period * 1000);
}

TEST(Waitset, TimerEarliestOfSeveralFirst) {
  Ws w;
  int64_t t0 = now_us();
  XT_OK(xipc_waitset_add_timer(w, 300, 0, user_of(3)));
  XT_OK(xipc_waitset_add_timer(w, 60, 0, user_of(1)));
  XT_OK(xipc_waitset_add_timer(w, 150, 0, user_of(2)));
  for (intptr_t want = 1; want <= 3; want++) {
    Got g = wait_set(w, bound());
    ASSERT_EQ(0, g.rc) << g.text();
    ASSERT_EQ(1u, g.ev.size()) << g.text();
    EXPECT_EQ(user_of(want), g.ev[0].user);
  }
  EXPECT_GE(now_us() - t0, 300000);
  XT_OK(xipc_waitset_add_timer(w, 10000, 0, user_of(4)));
  XT_OK(xipc_waitset_remove(w, user_of(4)));  // a removed timer does not fire
  EXPECT_EQ(XIPC_ETIMEDOUT, wait_set(w, 50).rc);
}

// ---- many kinds in one set, in random order --------------------------------

namespace {

// Args: token commands data ppid. Reads command strings from queue
// `commands` and carries out each letter in order, with a random pause of
// 0-1 ms between them: q puts a message on queue `data`, s writes a byte to
// the passed stream, g sends XIPC_SIGUSR1 to ppid, x exits 0.
XT_HELPER(ws_agent) {
  XT_REQUIRE(argc >= 4);
  xipc_queue *cmd = nullptr, *data = nullptr;
  xipc_stream *s = nullptr;
  XT_CHECK(xipc_stream_import(&s, argv[0]));
  XT_CHECK(xipc_queue_open(&cmd, argv[1], nullptr, 0));
  XT_CHECK(xipc_queue_open(&data, argv[2], nullptr, 0));
  xipc_pid ppid = std::atoll(argv[3]);
  std::mt19937 rng(static_cast<unsigned>(xipc_self_pid()));
  for (;;) {
    char buf[16];
    size_t len = 0, n = 0;
    XT_CHECK(xipc_queue_get(cmd, buf, sizeof buf, &len, helper_wait_ms()));
    for (size_t i = 0; i < len; i++) {
      if (buf[i] == 'x') {  // closes everything: LeakSanitizer checks at exit
        XT_CHECK(xipc_queue_close(data));
        XT_CHECK(xipc_queue_close(cmd));
        XT_CHECK(xipc_stream_close(s));
        return 0;
      }
      if (buf[i] == 'q') XT_CHECK(xipc_queue_put(data, "q", 1, -1));
      if (buf[i] == 's') XT_CHECK(xipc_stream_write(s, "s", 1, &n, -1));
      if (buf[i] == 'g') XT_CHECK(xipc_signal_send(ppid, XIPC_SIGUSR1));
      if (rng() % 2) xt::sleep_ms(1);
    }
  }
}

enum MixUser : intptr_t { kQ = 1, kS, kG, kP, kT };

struct MixRound {
  std::set<intptr_t> want, seen;
  int events = 0, spurious = 0;
};

// Consumes the event of one object (the call with timeout 0); counts a
// spurious one and fails on one reported twice that cannot be spurious.
void mix_consume(const xipc_wait_event &e, MixRound &r, xipc_waitset *w, Queue &data, Pipe &p,
                 std::unique_ptr<xt::Child> &child) {
  intptr_t u = reinterpret_cast<intptr_t>(e.user);
  r.events++;
  char b[16];
  size_t n = 0;
  bool once = u == kG || u == kP || u == kT;
  if (once && r.seen.count(u)) {
    ADD_FAILURE() << "object " << u << " reported twice in a round";
    return;
  }
  if (!r.want.count(u)) {
    ADD_FAILURE() << "object " << u << " reported, but nothing happened to it";
    return;
  }
  if (u == kQ || u == kS) {
    int rc = u == kQ ? xipc_queue_get(data.q, b, sizeof b, &n, 0)
                     : xipc_stream_read(p.r, b, 1, &n, 0);
    if (rc == XIPC_EAGAIN) {
      r.spurious++;
      return;
    }
    EXPECT_EQ(0, rc);
    EXPECT_EQ(1u, n);
  } else if (u == kG) {
    EXPECT_EQ(XIPC_SIGUSR1, e.sig);
  } else if (u == kP) {
    xipc_exit_status st = {0, -1, 0};
    EXPECT_EQ(0, child->wait(0, &st));
    EXPECT_EQ(0, xipc_waitset_remove(w, user_of(kP)));
    child.reset();
  }
  if (r.seen.count(u)) ADD_FAILURE() << "object " << u << " consumed twice";
  r.seen.insert(u);
}

}  // namespace

// A queue message from a helper, a child's exit, XIPC_SIGUSR1 from another
// process, a stream write from a helper and a timer, in random subsets and
// order, over 200 rounds: every event comes, each wait that should see one
// returns within the bound, nothing is reported twice once consumed, and
// spurious events are rare.
TEST(Waitset, MixOfKindsInRandomOrder) {
  SignalGuard guard(XIPC_SIGUSR1);
  Queue cmd("wscmd"), data("wsdata");
  Pipe p;
  xt::Child agent;
  XT_OK(start_passing(agent, "ws_agent", p.w,
                      {cmd.name, data.name, std::to_string(xipc_self_pid())}));
  std::unique_ptr<xt::Child> child;
  Ws w;
  const int sigs[] = {XIPC_SIGUSR1};
  XT_OK(xipc_waitset_add_queue(w, data.q, XIPC_WAIT_READABLE, user_of(kQ)));
  XT_OK(xipc_waitset_add_stream(w, p.r, XIPC_WAIT_READABLE, user_of(kS)));
  XT_OK(xipc_waitset_add_signals(w, sigs, 1, user_of(kG)));
  std::mt19937 rng(12345);
  int events = 0, spurious = 0;
  int64_t t_start = xt::now_ms();
  for (int round = 0; round < 200 && !HasFatalFailure(); round++) {
    MixRound r;
    std::string cmds;
    for (char c : std::string("qsg"))
      if (rng() % 2) cmds += c;
    std::shuffle(cmds.begin(), cmds.end(), rng);
    for (char c : cmds) r.want.insert(c == 'q' ? kQ : c == 's' ? kS : kG);
    if (rng() % 10 == 0) {
      child.reset(new xt::Child);
      ASSERT_EQ(0, child->start("ws_exit_now"));
      ASSERT_EQ(0, xipc_waitset_add_proc(w, child->proc(), user_of(kP)));
      r.want.insert(kP);
    }
    if (r.want.empty() || rng() % 3 == 0) {
      ASSERT_EQ(0, xipc_waitset_add_timer(w, static_cast<int>(rng() % 10), 0, user_of(kT)));
      r.want.insert(kT);
    }
    if (!cmds.empty()) { ASSERT_EQ(0, xipc_queue_put(cmd.q, cmds.data(), cmds.size(), 0)); }
    while (r.seen != r.want) {
      Got g = wait_set(w, bound(), 3);
      std::string missing;
      for (intptr_t u : r.want)
        if (!r.seen.count(u)) missing += " " + std::string(1, "?qsgpt"[u]);
      ASSERT_EQ(0, g.rc) << "round " << round << " (commands '" << cmds
                         << "'): slept through a ready object, missing:" << missing << "; "
                         << g.text();
      for (const auto &e : g.ev) mix_consume(e, r, w, data, p, child);
    }
    Got after = wait_set(w, 0, 8);  // everything was consumed
    for (const auto &e : after.ev) mix_consume(e, r, w, data, p, child);
    events += r.events;
    spurious += r.spurious;
  }
  char x = 'x';
  XT_OK(xipc_queue_put(cmd.q, &x, 1, 0));
  EXPECT_EQ(0, agent.exit_code());
  EXPECT_LT(spurious * 20, events) << spurious << " spurious of " << events;
  EXPECT_EQ(0, guard.strays.load());
  std::printf("[   INFO   ] %d events, %d spurious, %lld ms\n", events, spurious,
              static_cast<long long>(xt::now_ms() - t_start));
}

// ---- many objects ----------------------------------------------------------

namespace {

// n pipes, read end i in the set with user i + 1.
struct PipeSet {
  std::vector<std::unique_ptr<Pipe>> pipes;
  explicit PipeSet(size_t n) {
    for (size_t i = 0; i < n; i++) pipes.emplace_back(new Pipe);
  }
  void add_all(xipc_waitset *w) {
    for (size_t i = 0; i < pipes.size(); i++)
      ASSERT_EQ(0, xipc_waitset_add_stream(w, pipes[i]->r, XIPC_WAIT_READABLE,
                                           user_of(static_cast<intptr_t>(i + 1))))
          << i;
  }
  void poke(size_t i) {
    size_t n = 0;
    EXPECT_EQ(0, xipc_stream_write(pipes[i]->w, "p", 1, &n, 0));
  }
  static size_t index(void *user) { return static_cast<size_t>(reinterpret_cast<intptr_t>(user) - 1); }
};

// Waits (cap events at a time, at most max_waits times) until every index
// in want has been reported; returns those never reported. Fails on an
// event of an object that is not ready.
std::set<size_t> collect(xipc_waitset *w, const std::set<size_t> &want, size_t cap,
                         int max_waits) {
  std::set<size_t> missing = want;
  std::string log;
  for (int i = 0; i < max_waits && !missing.empty(); i++) {
    Got g = wait_set(w, bound(), cap);
    EXPECT_EQ(0, g.rc) << "wait " << i << ": " << g.text();
    if (g.rc != 0) break;
    log += " [";
    for (const auto &e : g.ev) {
      size_t k = PipeSet::index(e.user);
      EXPECT_TRUE(want.count(k)) << "pipe " << k << " is not ready";
      missing.erase(k);
      log += " " + std::to_string(k);
    }
    log += " ]";
  }
  if (!missing.empty()) std::printf("[   INFO   ] waits with cap %zu reported:%s\n", cap, log.c_str());
  return missing;
}

std::string describe(const std::set<size_t> &pipes) {
  std::string s = "pipes";
  for (size_t i : pipes) s += " " + std::to_string(i);
  return s;
}

}  // namespace

// 200 pipes (past Windows' MAXIMUM_WAIT_OBJECTS), the ready ones among the
// last: all reported, with a cap that holds them and with a small cap over
// several waits (results rotate).
TEST(Waitset, TwoHundredObjectsReadyOnesAmongTheLast) {
  PipeSet ps(200);
  Ws w;
  ps.add_all(w);
  EXPECT_EQ(XIPC_EAGAIN, wait_set(w, 0).rc);
  std::set<size_t> ready;
  for (size_t i : {137u, 190u, 193u, 196u, 197u, 198u, 199u}) {
    ps.poke(i);
    ready.insert(i);
  }
  std::set<size_t> missing = collect(w, ready, 256, static_cast<int>(ready.size()));
  EXPECT_TRUE(missing.empty()) << describe(missing) << " of 7 never reported with cap 256";
  // Not consumed, so still ready: with cap 2, all within ceil(7/2) waits
  // plus slack.
  missing = collect(w, ready, 2, 6);
  EXPECT_TRUE(missing.empty()) << describe(missing) << " of 7 never reported with cap 2";
  for (size_t i : ready) { EXPECT_EQ(1u, drain(ps.pipes[i]->r)); }
  EXPECT_EQ(XIPC_EAGAIN, wait_set(w, 0).rc);
}

// One pipe always ready does not starve the others: with cap 1, each pipe
// that becomes ready is reported within a few waits.
TEST(Waitset, AlwaysReadyDoesNotStarveOthers) {
  PipeSet ps(100);
  Ws w;
  ps.add_all(w);
  ps.poke(0);  // never drained
  for (size_t k : {99u, 42u, 70u, 98u}) {
    ps.poke(k);
    std::set<size_t> missing = collect(w, {0, k}, 1, 4);
    EXPECT_TRUE(missing.empty()) << "starved by pipe 0:" << describe(missing);
    EXPECT_EQ(1u, drain(ps.pipes[k]->r));
  }
  // Five at once besides pipe 0: each within 2 x 6 waits.
  std::set<size_t> five = {0, 10, 55, 96, 97, 99};
  for (size_t k : five)
    if (k) ps.poke(k);
  std::set<size_t> missing = collect(w, five, 1, 12);
  EXPECT_TRUE(missing.empty()) << describe(missing) << " never reported in 12 waits";
}

// ---- wake ------------------------------------------------------------------

TEST(Waitset, WakeFromAnotherThread) {
  Ws w;
  XT_OK(xipc_waitset_add_timer(w, 600000, 0, kUser));  // something far off
  for (int i = 0; i < 5; i++) {
    std::thread t([&] {
      xt::sleep_ms(kDelay);
      EXPECT_EQ(0, xipc_waitset_wake(w));
    });
    Got g = wait_set(w, -1);
    t.join();
    EXPECT_EQ(XIPC_EINTR, g.rc) << g.text();
    EXPECT_LT(g.ms(), kDelay + xt::scaled_ms(500)) << g.text();
    EXPECT_EQ(XIPC_EAGAIN, wait_set(w, 0).rc) << "one wake, one EINTR";
  }
}

TEST(Waitset, WakeBeforeWaitInterruptsTheNextWaitOnce) {
  Ws w;
  XT_OK(xipc_waitset_wake(w));
  XT_OK(xipc_waitset_wake(w));  // two wakes before a wait: still one EINTR
  Got g = wait_set(w, bound());
  EXPECT_EQ(XIPC_EINTR, g.rc) << g.text();
  EXPECT_LT(g.ms(), xt::scaled_ms(200));
  EXPECT_EQ(XIPC_EAGAIN, wait_set(w, 0).rc);
  EXPECT_EQ(XIPC_ETIMEDOUT, wait_set(w, 50).rc);
  // Also with an object ready: the wake is reported (EINTR) first or the
  // event is, but the wake is never lost.
  XT_OK(xipc_waitset_add_timer(w, 0, 0, kUser));
  XT_OK(xipc_waitset_wake(w));
  g = wait_set(w, bound());
  Got g2 = wait_set(w, bound());
  EXPECT_TRUE((g.rc == XIPC_EINTR && g2.rc == 0) || (g.rc == 0 && g2.rc == XIPC_EINTR))
      << g.text() << " / " << g2.text();
}

namespace {
std::atomic<xipc_waitset *> woken{nullptr};
void wake_cb(int, void *arg) { xipc_waitset_wake(static_cast<xipc_waitset *>(arg)); }
void raw_wake() { xipc_waitset_wake(woken.load()); }

// A thread that sends XIPC_SIGUSR2 to this process after kDelay ms, while
// the test waits.
void expect_wake_by_signal(xipc_waitset *w) {
  std::thread t([] {
    xt::sleep_ms(kDelay);
    EXPECT_EQ(0, xipc_signal_send(xipc_self_pid(), XIPC_SIGUSR2));
  });
  Got g = wait_set(w, 2 * bound());
  t.join();
  EXPECT_EQ(XIPC_EINTR, g.rc) << g.text();
  EXPECT_LT(g.ms(), kDelay + xt::scaled_ms(500)) << g.text();
  EXPECT_EQ(XIPC_EAGAIN, wait_set(w, 0).rc);
}
}  // namespace

// From a handler (xipc's dispatcher thread).
TEST(Waitset, WakeFromXipcSignalHandler) {
  Ws w;
  struct Restore {
    ~Restore() { xipc_signal_default(XIPC_SIGUSR2); }
  } restore;  // after w: runs first
  XT_OK(xipc_signal_handle(XIPC_SIGUSR2, wake_cb, w.w));
  expect_wake_by_signal(w);
}

// From a raw sigaction() handler, on any thread (POSIX: async-signal-safe).
TEST(Waitset, WakeFromRawSignalHandler) {
  Ws w;
  woken = w.w;
  if (!xt::raw_signal_handler(XIPC_SIGUSR2, raw_wake))
    GTEST_SKIP() << "no async signal handlers (Windows)";
  struct Restore {
    ~Restore() { xt::raw_signal_default(XIPC_SIGUSR2); }
  } restore;
  expect_wake_by_signal(w);
}

// ---- the native handle -----------------------------------------------------

namespace {

// Another event loop: polls the native handle and, when it is ready,
// calls wait(0), until that gives an event or the bound passes. A ready
// handle whose wait(0) finds nothing counts in *spurious (an add makes
// the handle ready once, so that the loop looks: api/waitset.c).
Got foreign_loop(xipc_waitset *w, intptr_t h, int *spurious) {
  int64_t deadline = xt::now_ms() + bound();
  Got g;
  g.rc = XIPC_ETIMEDOUT;
  for (int64_t left = bound(); left > 0; left = deadline - xt::now_ms()) {
    if (!xt::native_ready(h, static_cast<int>(left))) break;
    g = wait_set(w, 0);
    if (g.rc == 0) return g;
    EXPECT_EQ(XIPC_EAGAIN, g.rc) << g.text();
    std::printf("[   INFO   ] native handle ready, wait(0) found nothing, %lld ms before the bound\n",
                static_cast<long long>(deadline - xt::now_ms()));
    ++*spurious;
  }
  return g;
}

// Settles the set (wait(0) once) and checks the handle is quiet then.
void expect_quiet(xipc_waitset *w, intptr_t h, const char *when) {
  Got g = wait_set(w, 0);
  EXPECT_EQ(XIPC_EAGAIN, g.rc) << when << ": " << g.text();
  EXPECT_FALSE(xt::native_ready(h, 50)) << "ready with nothing to report, " << when;
}

}  // namespace

// A foreign loop's view: the handle becomes ready when the set has events
// (a stream write, a queue put, a timer), not before, and stops once
// wait(0) consumed them.
TEST(Waitset, NativeHandleSignalsWhileEventsAreThere) {
  Pipe p;
  Queue q;
  Ws w;
  intptr_t h = 0;
  XT_OK(xipc_waitset_native_handle(w, &h));
  // Asking for the handle makes it ready once (api/waitset.c keeps its
  // state from then on): a loop's first look finds nothing.
  expect_quiet(w, h, "an empty set");
  XT_OK(xipc_waitset_add_stream(w, p.r, XIPC_WAIT_READABLE, user_of(1)));
  XT_OK(xipc_waitset_add_queue(w, q.q, XIPC_WAIT_READABLE, user_of(2)));
  expect_quiet(w, h, "after the adds");
  struct Step {
    const char *what;
    std::function<void()> make, consume;
  };
  char b[8];
  size_t n = 0;
  int spurious = 0;
  std::vector<Step> steps = {
      {"stream write", [&] { EXPECT_EQ(0, xipc_stream_write(p.w, "x", 1, &n, 0)); },
       [&] { EXPECT_EQ(0, xipc_stream_read(p.r, b, sizeof b, &n, 0)); }},
      {"queue put", [&] { EXPECT_EQ(0, xipc_queue_put(q.q, "x", 1, 0)); },
       [&] { EXPECT_EQ(0, xipc_queue_get(q.q, b, sizeof b, &n, 0)); }},
      {"timer",
       [&] {
         EXPECT_EQ(0, xipc_waitset_add_timer(w, 200, 0, user_of(3)));
         expect_quiet(w, h, "before the timer");
       },
       [] {}},
  };
  for (auto &s : steps) {
    SCOPED_TRACE(s.what);
    int64_t t0 = now_us();
    s.make();
    int before = spurious;
    Got g = foreign_loop(w, h, &spurious);
    ASSERT_EQ(0, g.rc) << g.text();
    EXPECT_EQ(before, spurious) << "ready with nothing to report before the event";
    if (std::string(s.what) == "timer") { EXPECT_GE(now_us() - t0, 200000) << "early"; }
    s.consume();
    expect_quiet(w, h, "after everything was consumed");
  }
  // The handle is the set's: the same value every time.
  intptr_t h2 = 0;
  XT_OK(xipc_waitset_native_handle(w, &h2));
  EXPECT_EQ(h, h2);
}

// A put from another process reaches a foreign loop too.
TEST(Waitset, NativeHandleSeesPutFromAnotherProcess) {
  Queue q;
  xt::Child c;
  Ws w;
  intptr_t h = 0;
  XT_OK(xipc_waitset_native_handle(w, &h));
  XT_OK(xipc_waitset_add_queue(w, q.q, XIPC_WAIT_READABLE, kUser));
  expect_quiet(w, h, "after the add");
  XT_OK(c.start("ws_put", {q.name, "1"}));
  int spurious = 0;
  Got g = foreign_loop(w, h, &spurious);
  ASSERT_EQ(0, g.rc) << g.text();
  EXPECT_EQ(kUser, g.ev[0].user);
  EXPECT_EQ(0, spurious);
  EXPECT_EQ(0, c.exit_code());
}

// ---- bad input -------------------------------------------------------------

namespace {
// One object of each kind that a set names by handle.
struct OneOfEach {
  Pipe p;
  Queue q;
  xt::Child c;
  std::string lname = xt::unique_name("wsone");
  xipc_listener *l = nullptr;
  OneOfEach() {
    EXPECT_EQ(0, c.start("ws_exit_now"));
    EXPECT_EQ(0, xipc_listen(&l, lname.c_str(), nullptr));
  }
  ~OneOfEach() {
    if (l) xipc_listener_close(l);
  }
};
}  // namespace

TEST(Waitset, NullsAndBadArgumentsAreEINVAL) {
  OneOfEach o;
  Pipe &p = o.p;
  Queue &q = o.q;
  xt::Child &c = o.c;
  xipc_listener *l = o.l;
  intptr_t h = -1, setter = -1;
  ASSERT_TRUE(xt::native_signal_open(&h, &setter));
  xt::Cleanup close_h([&] { xt::native_signal_close(h, setter); });
  Ws w;
  const int R = XIPC_WAIT_READABLE, W = XIPC_WAIT_WRITABLE;
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_open(nullptr));

  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_queue(nullptr, q.q, R, kUser));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_queue(w, nullptr, R, kUser));
  for (unsigned ev : {0u, 8u, 0x100u, unsigned(R) | 16u})
    EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_queue(w, q.q, ev, kUser)) << ev;

  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_stream(nullptr, p.r, R, kUser));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_stream(w, nullptr, R, kUser));
  for (unsigned ev : {0u, 8u, 0x100u})
    EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_stream(w, p.r, ev, kUser)) << ev;
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_stream(w, p.r, W, kUser)) << "a read end for WRITABLE";
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_stream(w, p.w, R, kUser)) << "a write end for READABLE";

  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_listener(nullptr, l, kUser));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_listener(w, nullptr, kUser));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_proc(nullptr, c.proc(), kUser));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_proc(w, nullptr, kUser));

  const int usr1[] = {XIPC_SIGUSR1};
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_signals(nullptr, usr1, 1, kUser));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_signals(w, nullptr, 1, kUser));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_signals(w, usr1, 0, kUser));
  for (int bad : {int(XIPC_SIGKILL), 0, -1, 9, 99}) {
    const int sigs[] = {XIPC_SIGUSR1, bad};
    EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_signals(w, sigs, 2, kUser)) << bad;
  }

  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_timer(nullptr, 10, 0, kUser));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_timer(w, -1, 0, kUser));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_timer(w, 10, -1, kUser));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_timer(w, -5, -5, kUser));

  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_native(nullptr, h, R, kUser));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_native(w, xt::native_invalid(), R, kUser));
  for (unsigned ev : {0u, 8u, 0x100u})
    EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_native(w, h, ev, kUser)) << ev;

  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_remove(nullptr, kUser));
  xipc_wait_event ev[4];
  size_t n = 9;
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_wait(nullptr, ev, 4, &n, 0));
  EXPECT_EQ(0u, n);
  n = 9;
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_wait(w, nullptr, 4, &n, 0));
  EXPECT_EQ(0u, n);
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_wait(w, ev, 4, nullptr, 0));
  n = 9;
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_wait(w, ev, 0, &n, 0)) << "cap 0";
  EXPECT_EQ(0u, n);
  for (int t : {-2, -100, INT32_MIN}) {
    n = 9;
    EXPECT_EQ(XIPC_EINVAL, xipc_waitset_wait(w, ev, 4, &n, t)) << t;
    EXPECT_EQ(0u, n);
  }
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_wake(nullptr));
  intptr_t nh = 0;
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_native_handle(nullptr, &nh));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_native_handle(w, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_close(nullptr));

  // Nothing of the above was added.
  EXPECT_EQ(XIPC_EAGAIN, wait_set(w, 0).rc);
  EXPECT_EQ(XIPC_ENOENT, xipc_waitset_remove(w, kUser));
  // A shut-down write end cannot be watched.
  XT_OK(xipc_stream_shutdown(p.w));
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_stream(w, p.w, W, kUser));
}

TEST(Waitset, SameObjectOrUserTwiceIsEEXIST) {
  OneOfEach o;
  Pipe &p = o.p;
  Queue &q = o.q;
  xt::Child &c = o.c;
  xipc_listener *l = o.l;
  SignalGuard guard(XIPC_SIGUSR1);
  Ws w;
  const int R = XIPC_WAIT_READABLE;
  XT_OK(xipc_waitset_add_queue(w, q.q, R, user_of(1)));
  EXPECT_EQ(XIPC_EEXIST, xipc_waitset_add_queue(w, q.q, XIPC_WAIT_WRITABLE, user_of(2)));
  XT_OK(xipc_waitset_add_stream(w, p.r, R, user_of(3)));
  EXPECT_EQ(XIPC_EEXIST, xipc_waitset_add_stream(w, p.r, R, user_of(4)));
  XT_OK(xipc_waitset_add_listener(w, l, user_of(5)));
  EXPECT_EQ(XIPC_EEXIST, xipc_waitset_add_listener(w, l, user_of(6)));
  XT_OK(xipc_waitset_add_proc(w, c.proc(), user_of(7)));
  EXPECT_EQ(XIPC_EEXIST, xipc_waitset_add_proc(w, c.proc(), user_of(8)));
  const int usr1[] = {XIPC_SIGUSR1}, usr2[] = {XIPC_SIGUSR2};
  XT_OK(xipc_waitset_add_signals(w, usr1, 1, user_of(9)));
  EXPECT_EQ(XIPC_EEXIST, xipc_waitset_add_signals(w, usr2, 1, user_of(10))) << "a second signals entry";
  // The same user for another object, of every kind.
  void *u = user_of(1);
  EXPECT_EQ(XIPC_EEXIST, xipc_waitset_add_stream(w, p.w, XIPC_WAIT_WRITABLE, u));
  EXPECT_EQ(XIPC_EEXIST, xipc_waitset_add_timer(w, 10, 0, u));
  EXPECT_EQ(XIPC_EEXIST, xipc_waitset_add_timer(w, 10, 0, user_of(9)));
  XT_OK(xipc_waitset_add_timer(w, 600000, 0, nullptr));
  EXPECT_EQ(XIPC_EEXIST, xipc_waitset_add_timer(w, 10, 0, nullptr)) << "NULL is one user";
  // Removing frees the user and the object for a new entry.
  XT_OK(xipc_waitset_remove(w, user_of(1)));
  XT_OK(xipc_waitset_add_queue(w, q.q, R, user_of(1)));
  XT_OK(xipc_waitset_remove(w, nullptr));
  XT_OK(xipc_waitset_remove(w, user_of(9)));
  XT_OK(xipc_waitset_add_signals(w, usr2, 1, user_of(10)));
  EXPECT_EQ(XIPC_ENOENT, xipc_waitset_remove(w, user_of(2)));
  EXPECT_EQ(XIPC_ENOENT, xipc_waitset_remove(w, nullptr));
  EXPECT_EQ(XIPC_ENOENT, xipc_waitset_remove(w, user_of(12345)));
  XT_OK(xipc_waitset_remove(w, user_of(10)));
  xipc_signal_default(XIPC_SIGUSR2);
}

TEST(Waitset, StreamInTwoSetsIsEBUSY) {
  Pipe p;
  Ws a, b;
  XT_OK(xipc_waitset_add_stream(a, p.r, XIPC_WAIT_READABLE, kUser));
  EXPECT_EQ(XIPC_EBUSY, xipc_waitset_add_stream(b, p.r, XIPC_WAIT_READABLE, kUser));
  XT_OK(xipc_waitset_remove(a, kUser));
  XT_OK(xipc_waitset_add_stream(b, p.r, XIPC_WAIT_READABLE, kUser));
  EXPECT_EQ(XIPC_EBUSY, xipc_waitset_add_stream(a, p.r, XIPC_WAIT_READABLE, kUser));
}

// Closing an object in a set is XIPC_EBUSY and leaves it working; after
// remove (or the set's close) it closes.
TEST(Waitset, CloseOfObjectInSetIsEBUSY) {
  Queue q;
  Pipe p;
  std::string lname = xt::unique_name("wsbusy");
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, lname.c_str(), nullptr));
  xt::Cleanup close_l([&] {
    if (l) xipc_listener_close(l);
  });
  xt::Flag go("wsbusygo");
  xt::Child c;
  XT_OK(c.start("ws_exit_on_go", {go.token()}));
  Ws w;
  XT_OK(xipc_waitset_add_queue(w, q.q, XIPC_WAIT_READABLE, user_of(1)));
  XT_OK(xipc_waitset_add_stream(w, p.r, XIPC_WAIT_READABLE, user_of(2)));
  XT_OK(xipc_waitset_add_listener(w, l, user_of(3)));
  XT_OK(xipc_waitset_add_proc(w, c.proc(), user_of(4)));
  EXPECT_EQ(XIPC_EBUSY, xipc_queue_close(q.q));
  EXPECT_EQ(XIPC_EBUSY, xipc_stream_close(p.r));
  EXPECT_EQ(XIPC_EBUSY, xipc_listener_close(l));
  EXPECT_EQ(XIPC_EBUSY, xipc_proc_close(c.proc()));
  // Each still works, and is still watched.
  char b[8];
  size_t n = 0;
  XT_OK(xipc_queue_put(q.q, "q", 1, 0));
  XT_OK(xipc_stream_write(p.w, "s", 1, &n, 0));
  xipc_stream *client = nullptr, *served = nullptr;
  XT_OK(xipc_connect(&client, lname.c_str(), bound()));
  xt::Cleanup close_client([&] { xipc_stream_close(client); });
  XT_OK(go.set());
  std::set<void *> seen;
  int64_t deadline = xt::now_ms() + bound();
  while (seen.size() < 4 && xt::now_ms() < deadline) {
    Got g = wait_set(w, bound());
    for (const auto &e : g.ev) seen.insert(e.user);
  }
  EXPECT_EQ(4u, seen.size());
  XT_OK(xipc_queue_get(q.q, b, sizeof b, &n, 0));
  XT_OK(xipc_stream_read(p.r, b, sizeof b, &n, 0));
  XT_OK(xipc_accept(l, &served, 0));
  XT_OK(xipc_stream_close(served));
  EXPECT_EQ(5, c.exit_code());
  // Removed, they close (the proc's close is the Child's).
  for (intptr_t u = 1; u <= 4; u++) { XT_OK(xipc_waitset_remove(w, user_of(u))); }
  q.close();
  p.close_r();
  XT_OK(xipc_listener_close(l));
  l = nullptr;
}

TEST(Waitset, ClosingTheSetReleasesItsObjects) {
  Queue q;
  Pipe p;
  xipc_waitset *w = nullptr;
  XT_OK(xipc_waitset_open(&w));
  XT_OK(xipc_waitset_add_queue(w, q.q, XIPC_WAIT_READABLE, user_of(1)));
  XT_OK(xipc_waitset_add_stream(w, p.r, XIPC_WAIT_READABLE, user_of(2)));
  XT_OK(xipc_waitset_add_timer(w, 10, 10, user_of(3)));
  XT_OK(xipc_waitset_close(w));
  q.close();
  p.close_r();
}

TEST(Waitset, ManyWaitsetsOnOneQueueUpToTheWatcherLimit) {
  Queue q;
  std::vector<std::unique_ptr<Ws>> sets;
  for (int i = 0; i < XIPC_WAITSET_QUEUE_WATCHERS; i++) {
    sets.emplace_back(new Ws);
    ASSERT_EQ(0, xipc_waitset_add_queue(*sets.back(), q.q, XIPC_WAIT_READABLE, kUser)) << i;
  }
  Ws extra;
  EXPECT_EQ(XIPC_EBUSY, xipc_waitset_add_queue(extra, q.q, XIPC_WAIT_READABLE, kUser));
  XT_OK(xipc_queue_put(q.q, "m", 1, 0));
  for (auto &s : sets) { EXPECT_EQ(0, wait_set(*s, bound()).rc) << "level-triggered: all see it"; }
  sets.pop_back();  // a closed set frees its slot
  XT_OK(xipc_waitset_add_queue(extra, q.q, XIPC_WAIT_READABLE, kUser));
  EXPECT_EQ(0, wait_set(extra, 0).rc);
}

// ---- a watcher killed at random moments ------------------------------------

namespace {

// Args: queue ready. Watches the queue and a pipe of its own in a
// waitset and consumes, writing to its pipe now and then, until killed.
XT_HELPER(ws_victim) {
  XT_REQUIRE(argc >= 2);
  xipc_queue *q = nullptr;
  xipc_stream *r = nullptr, *w = nullptr;
  xipc_waitset *ws = nullptr;
  XT_CHECK(xipc_queue_open(&q, argv[0], nullptr, 0));
  XT_CHECK(xipc_pipe(&r, &w));
  XT_CHECK(xipc_waitset_open(&ws));
  XT_CHECK(xipc_waitset_add_queue(ws, q, XIPC_WAIT_READABLE, user_of(1)));
  XT_CHECK(xipc_waitset_add_stream(ws, r, XIPC_WAIT_READABLE, user_of(2)));
  XT_CHECK(xipc_waitset_add_timer(ws, 1, 1, user_of(3)));
  XT_CHECK(xt::ready_signal(argv[1]));
  xipc_wait_event ev[4];
  char buf[64];
  for (unsigned i = 0;; i++) {
    size_t n = 0, len = 0;
    int rc = xipc_waitset_wait(ws, ev, 4, &n, helper_wait_ms());
    XT_REQUIRE(rc == 0 || rc == XIPC_ETIMEDOUT);
    if (i % 3 == 0) XT_CHECK(xipc_stream_write(w, "v", 1, &len, 0));
    for (size_t k = 0; k < n; k++) {
      if (ev[k].user == user_of(1)) xipc_queue_get(q, buf, sizeof buf, &len, 0);
      if (ev[k].user == user_of(2)) xipc_stream_read(r, buf, sizeof buf, &len, 0);
    }
  }
}

}  // namespace

TEST(Waitset, WatcherKilledAtRandomMomentsHarmsNobody) {
  Queue q("wsvict", 4096);
  std::atomic<bool> stop{false};
  std::atomic<long> puts{0}, got{0};
  std::atomic<int> put_error{0};
  {
    // The producer and the test's own waitset on the same queue.
    std::thread producer([&] {
      xipc_queue *pq = nullptr;
      put_error = xipc_queue_open(&pq, q.name.c_str(), nullptr, 0);
      while (!stop && put_error == 0) {
        int rc = xipc_queue_put(pq, "payload", 7, 0);
        if (rc == 0) puts++;
        else if (rc == XIPC_EAGAIN) xt::sleep_ms(1);
        else put_error = rc;
      }
      if (pq) xipc_queue_close(pq);
    });
    xt::Cleanup join([&] {
      stop = true;
      producer.join();
    });
    Ws mine;
    ASSERT_EQ(0, xipc_waitset_add_queue(mine, q.q, XIPC_WAIT_READABLE, kUser));
    std::mt19937 rng(777);
    // Consumes through the set for ms milliseconds; returns the messages.
    auto consume_for = [&](int ms) {
      long n0 = got;
      int64_t end = xt::now_ms() + ms;
      char buf[16];
      size_t len = 0;
      do {
        Got g = wait_set(mine, 5);
        if (g.rc == 0)
          while (xipc_queue_get(q.q, buf, sizeof buf, &len, 0) == 0) got++;
      } while (xt::now_ms() < end);
      return got - n0;
    };
    EXPECT_GT(consume_for(100), 0) << "quiet before any victim";
    for (int it = 0; it < 25 && !HasFailure(); it++) {
      xt::Flag ready("wsvready");
      xt::Child victim;
      ASSERT_EQ(0, victim.start("ws_victim", {q.name, ready.token()}));
      ASSERT_TRUE(ready.wait(xt::scaled_ms(30000), &victim))
          << "iteration " << it << ": victim exit " << victim.exit_code(0);
      consume_for(static_cast<int>(rng() % 30));
      XT_OK(victim.kill());
      EXPECT_EQ(-2000 - XIPC_SIGKILL, victim.exit_code()) << it;
      long n = consume_for(xt::scaled_ms(20));
      if (n == 0) {  // say what the queue and the set look like
        size_t count = 0, len = 0;
        char buf[16];
        int crc = xipc_queue_count(q.q, &count);
        Got g = wait_set(mine, 0);
        int grc = xipc_queue_get(q.q, buf, sizeof buf, &len, 0);
        ADD_FAILURE() << "iteration " << it << ": the survivors' set went quiet; count "
                      << (crc == 0 ? std::to_string(count) : xipc_err_name(crc)) << ", wait(0) "
                      << g.text() << ", get(0) " << (grc == 0 ? "0" : xipc_err_name(grc))
                      << ", puts " << puts.load() << ", then in 1 s: " << consume_for(1000);
      }
      ASSERT_EQ(0, put_error.load()) << xipc_err_name(put_error);
    }
  }
  EXPECT_GT(puts.load(), 0);
  EXPECT_EQ(0, put_error.load());
  // Nothing left behind: no processes, and the queue's name goes.
  int64_t deadline = xt::now_ms() + bound();
  while (xt::child_processes() > 0 && xt::now_ms() < deadline) xt::sleep_ms(10);
  EXPECT_EQ(0, xt::child_processes());
  q.close();
  xipc_queue *again = nullptr;
  EXPECT_EQ(XIPC_ENOENT, xipc_queue_open(&again, q.name.c_str(), nullptr, 0));
  if (again) xipc_queue_close(again);
}

// ---- leaks -----------------------------------------------------------------

TEST(Waitset, OpenCloseLeaksNothing) {
  Pipe p;
  Queue q;
  intptr_t h = -1, setter = -1;
  ASSERT_TRUE(xt::native_signal_open(&h, &setter));
  xt::Cleanup close_h([&] { xt::native_signal_close(h, setter); });
  SignalGuard guard(XIPC_SIGUSR2);
  auto one = [&] {
    Ws w;
    const int sigs[] = {XIPC_SIGUSR2};
    EXPECT_EQ(0, xipc_waitset_add_queue(w, q.q, XIPC_WAIT_READABLE, user_of(1)));
    EXPECT_EQ(0, xipc_waitset_add_stream(w, p.r, XIPC_WAIT_READABLE, user_of(2)));
    EXPECT_EQ(0, xipc_waitset_add_native(w, h, XIPC_WAIT_READABLE, user_of(3)));
    EXPECT_EQ(0, xipc_waitset_add_timer(w, 1000, 1000, user_of(4)));
    EXPECT_EQ(0, xipc_waitset_add_signals(w, sigs, 1, user_of(5)));
    intptr_t nh = 0;
    EXPECT_EQ(0, xipc_waitset_native_handle(w, &nh));
    EXPECT_EQ(XIPC_EAGAIN, wait_set(w, 0).rc);
    EXPECT_EQ(0, xipc_waitset_remove(w, user_of(2)));  // one removed, the rest closed with the set
  };
  one();  // first use may set up lasting state (the signal dispatcher)
  long before = xt::open_handle_count();
  for (int i = 0; i < 200 && !HasFailure(); i++) one();
  // Fewer is fine: handles of earlier work that the OS or Wine's thread
  // pool let go meanwhile.
  EXPECT_LE(xt::open_handle_count(), before);
}
