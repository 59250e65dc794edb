// Waitsets where the Windows tree has the harder job (issue 14): more
// entries than MAXIMUM_WAIT_OBJECTS, a zero-byte read left pending across
// the stream's own reads, the native handle seen by someone who does not
// call wait, listeners whose pipe instances are replaced, process exits,
// removal while I/O is pending, writability without a "room again" event
// and handle leaks. Everything goes through the public API and runs on
// both platforms; the suite is WaitsetWin.
#include "harness.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#ifdef _WIN32
#include <winsock2.h>
#include <windows.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace {

const int kWait = 10000;  // bound for anything that should happen (scaled)

// Whether the waitset's native handle shows events within timeout_ms, asked
// the way another event loop would (the one platform call of this file).
bool native_ready(xipc_waitset *w, int timeout_ms) {
  intptr_t h = -1;
  if (xipc_waitset_native_handle(w, &h) != 0) return false;
#ifdef _WIN32
  return WaitForSingleObject(reinterpret_cast<HANDLE>(h), static_cast<DWORD>(timeout_ms)) ==
         WAIT_OBJECT_0;
#else
  struct pollfd p = {static_cast<int>(h), POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
#endif
}

// A connected loopback TCP pair, made with the system's sockets (the other
// platform-specific part of this file). a and b are -1 on failure.
struct TcpPair {
  intptr_t a = -1, b = -1;
  TcpPair() {
#ifdef _WIN32
    WSADATA wd;
    WSAStartup(MAKEWORD(2, 2), &wd);
    using sock_t = SOCKET;
    using len_t = int;
#else
    using sock_t = int;
    using len_t = socklen_t;
#endif
    sock_t l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {};
    len_t len = sizeof sa;
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0 && listen(l, 1) == 0 &&
        getsockname(l, reinterpret_cast<sockaddr *>(&sa), &len) == 0) {
      sock_t c = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(c, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0) {
        a = static_cast<intptr_t>(c);
        b = static_cast<intptr_t>(accept(l, nullptr, nullptr));
      }
    }
    close_one(static_cast<intptr_t>(l));
  }
  ~TcpPair() {
    close_one(a);
    close_one(b);
  }
  static void close_one(intptr_t s) {
    if (s == -1) return;
#ifdef _WIN32
    closesocket(static_cast<SOCKET>(s));
#else
    close(static_cast<int>(s));
#endif
  }
  bool send1(intptr_t s, char c) {
    return send(static_cast<decltype(socket(0, 0, 0))>(s), &c, 1, 0) == 1;
  }
  bool recv1(intptr_t s) {
    char c;
    return recv(static_cast<decltype(socket(0, 0, 0))>(s), &c, 1, 0) == 1;
  }
};

struct Pipe {
  xipc_stream *r = nullptr, *w = nullptr;
  ~Pipe() {
    if (r) xipc_stream_close(r);
    if (w) xipc_stream_close(w);
  }
};

struct Set {
  xipc_waitset *w = nullptr;
  Set() { EXPECT_EQ(0, xipc_waitset_open(&w)); }
  ~Set() {
    if (w) xipc_waitset_close(w);
  }
};

// The users reported by one wait, as a set (with their events).
std::vector<xipc_wait_event> wait_events(xipc_waitset *w, int timeout_ms, int *rc,
                                         size_t cap = 64) {
  std::vector<xipc_wait_event> ev(cap);
  size_t n = 0;
  *rc = xipc_waitset_wait(w, ev.data(), ev.size(), &n, timeout_ms);
  ev.resize(n);
  return ev;
}

void *tag(size_t i) { return reinterpret_cast<void *>(static_cast<uintptr_t>(i + 1)); }

// ---- many entries ------------------------------------------------------

TEST(WaitsetWin, TwoHundredPipesReadyOnesLast) {
  const size_t kPipes = 200;
  std::vector<Pipe> p(kPipes);
  Set s;
  for (size_t i = 0; i < kPipes; i++) {
    XT_OK(xipc_pipe(&p[i].r, &p[i].w));
    XT_OK(xipc_waitset_add_stream(s.w, p[i].r, XIPC_WAIT_READABLE, tag(i)));
  }
  int rc = 0;
  EXPECT_TRUE(wait_events(s.w, 0, &rc).empty());
  EXPECT_EQ(XIPC_EAGAIN, rc);
  std::set<void *> want;
  for (size_t i = kPipes - 5; i < kPipes; i++) {
    size_t n = 0;
    XT_OK(xipc_stream_write(p[i].w, "x", 1, &n, kWait));
    want.insert(tag(i));
  }
  // Every ready one, however late it was added, and only those.
  std::set<void *> got;
  int64_t end = xt::now_ms() + xt::scaled_ms(kWait);
  while (got.size() < want.size() && xt::now_ms() < end) {
    for (auto &e : wait_events(s.w, xt::scaled_ms(kWait), &rc)) {
      EXPECT_EQ(unsigned(XIPC_WAIT_READABLE), e.events);
      got.insert(e.user);
    }
    ASSERT_EQ(0, rc);
  }
  EXPECT_EQ(want, got);
  // Level-triggered: still there, all in one wait.
  auto again = wait_events(s.w, 0, &rc);
  EXPECT_EQ(0, rc);
  EXPECT_EQ(want.size(), again.size());
  // Fairness: with cap 2 the waits rotate through all five.
  std::set<void *> rot;
  for (int k = 0; k < 3; k++)
    for (auto &e : wait_events(s.w, 0, &rc, 2)) rot.insert(e.user);
  EXPECT_EQ(want, rot);
  for (size_t i = kPipes - 5; i < kPipes; i++) {
    char c;
    size_t n = 0;
    XT_OK(xipc_stream_read(p[i].r, &c, 1, &n, 0));
  }
  EXPECT_TRUE(wait_events(s.w, 0, &rc).empty());
  EXPECT_EQ(XIPC_EAGAIN, rc);
}

// ---- the stream's own reads next to the waitset's ------------------------

unsigned char byte_at(size_t i) { return static_cast<unsigned char>((i * 131 + (i >> 8)) & 0xff); }

// Many waits, each leaving the waitset's read pending in between, with reads
// of every kind (timed out, partial, whole): every byte, in order.
void check_bytes_in_order(xipc_stream *rd, xipc_stream *wr) {
  Set s;
  XT_OK(xipc_waitset_add_stream(s.w, rd, XIPC_WAIT_READABLE, nullptr));
  size_t sent = 0, seen = 0;
  for (int round = 0; round < 300; round++) {
    int rc = 0;
    wait_events(s.w, 0, &rc);  // arms the zero-byte read when nothing is there
    char none;
    size_t n = 0;
    if (round % 7 == 0 && seen == sent) {  // a timed read that times out
      EXPECT_EQ(XIPC_ETIMEDOUT, xipc_stream_read(rd, &none, 1, &n, 1));
    }
    size_t len = 1 + (round * 37) % 300;
    std::vector<unsigned char> out(len);
    for (size_t i = 0; i < len; i++) out[i] = byte_at(sent + i);
    XT_OK(xipc_stream_write(wr, out.data(), len, &n, kWait));
    sent += len;
    auto ev = wait_events(s.w, xt::scaled_ms(kWait), &rc);
    ASSERT_EQ(0, rc) << round;
    ASSERT_EQ(1u, ev.size()) << round;
    EXPECT_TRUE(ev[0].events & XIPC_WAIT_READABLE);
    // Read part of it now (odd rounds), the rest in later rounds.
    size_t want = round % 2 ? (sent - seen) / 2 + 1 : sent - seen;
    while (want > 0) {
      unsigned char buf[512];
      size_t cap = want < sizeof buf ? want : sizeof buf;
      XT_OK(xipc_stream_read(rd, buf, cap, &n, xt::scaled_ms(kWait)));
      ASSERT_GT(n, 0u);
      for (size_t i = 0; i < n; i++) ASSERT_EQ(byte_at(seen + i), buf[i]) << seen + i;
      seen += n;
      want -= n;
    }
  }
  while (seen < sent) {
    unsigned char buf[512];
    size_t n = 0;
    XT_OK(xipc_stream_read(rd, buf, sizeof buf, &n, xt::scaled_ms(kWait)));
    for (size_t i = 0; i < n; i++) ASSERT_EQ(byte_at(seen + i), buf[i]) << seen + i;
    seen += n;
  }
  XT_OK(xipc_waitset_remove(s.w, nullptr));
}

TEST(WaitsetWin, PendingReadKeepsPipeBytesInOrder) {
  Pipe p;
  XT_OK(xipc_pipe(&p.r, &p.w));
  check_bytes_in_order(p.r, p.w);
}

struct Conn {
  xipc_listener *l = nullptr;
  xipc_stream *client = nullptr, *server = nullptr;
  ~Conn() {
    if (client) xipc_stream_close(client);
    if (server) xipc_stream_close(server);
    if (l) xipc_listener_close(l);
  }
  int open() {
    std::string name = xt::unique_name("wsconn");
    int rc = xipc_listen(&l, name.c_str(), nullptr);
    if (rc == 0) rc = xipc_connect(&client, name.c_str(), xt::scaled_ms(kWait));
    if (rc == 0) rc = xipc_accept(l, &server, xt::scaled_ms(kWait));
    return rc;
  }
};

TEST(WaitsetWin, PendingReadKeepsConnectionBytesInOrder) {
  Conn c;
  XT_OK(c.open());
  check_bytes_in_order(c.server, c.client);
}

// The peer's shutdown while the waitset watches: the wait says readable and
// the read then sees the end, also a blocking read started without a wait.
TEST(WaitsetWin, ConnectionShutdownWhileWatched) {
  for (int blocking = 0; blocking < 2; blocking++) {
    Conn c;
    XT_OK(c.open());
    Set s;
    XT_OK(xipc_waitset_add_stream(s.w, c.server, XIPC_WAIT_READABLE, nullptr));
    int rc = 0;
    EXPECT_TRUE(wait_events(s.w, 0, &rc).empty());
    char buf[8];
    size_t n = 99;
    if (blocking) {
      std::thread t([&] {
        xt::sleep_ms(50);
        xipc_stream_shutdown(c.client);
      });
      rc = xipc_stream_read(c.server, buf, sizeof buf, &n, xt::scaled_ms(kWait));
      t.join();
    } else {
      XT_OK(xipc_stream_shutdown(c.client));
      auto ev = wait_events(s.w, xt::scaled_ms(kWait), &rc);
      ASSERT_EQ(0, rc);
      ASSERT_EQ(1u, ev.size());
      EXPECT_TRUE(ev[0].events & XIPC_WAIT_READABLE);
      rc = xipc_stream_read(c.server, buf, sizeof buf, &n, 0);
    }
    EXPECT_EQ(0, rc) << blocking;
    EXPECT_EQ(0u, n) << blocking;  // end of stream
    // The end stays readable.
    auto ev = wait_events(s.w, 0, &rc);
    EXPECT_EQ(0, rc);
    EXPECT_EQ(1u, ev.size());
  }
}

// ---- the native handle -------------------------------------------------

TEST(WaitsetWin, NativeHandleSeesWriteWhileNobodyWaits) {
  Pipe p;
  Conn c;
  XT_OK(xipc_pipe(&p.r, &p.w));
  XT_OK(c.open());
  Set s;
  XT_OK(xipc_waitset_add_stream(s.w, p.r, XIPC_WAIT_READABLE, tag(0)));
  XT_OK(xipc_waitset_add_stream(s.w, c.server, XIPC_WAIT_READABLE, tag(1)));
  intptr_t h = -1;  // asked for before the waits, as an event loop would
  XT_OK(xipc_waitset_native_handle(s.w, &h));
  int rc = 0;
  EXPECT_TRUE(wait_events(s.w, 0, &rc).empty());
  EXPECT_EQ(XIPC_EAGAIN, rc);
  EXPECT_FALSE(native_ready(s.w, 50));
  for (int k = 0; k < 2; k++) {
    size_t n = 0;
    XT_OK(xipc_stream_write(k == 0 ? p.w : c.client, "abc", 3, &n, kWait));
    EXPECT_TRUE(native_ready(s.w, xt::scaled_ms(kWait))) << k;
    auto ev = wait_events(s.w, 0, &rc);
    ASSERT_EQ(0, rc);
    ASSERT_EQ(1u, ev.size());
    EXPECT_EQ(tag(k), ev[0].user);
    EXPECT_TRUE(native_ready(s.w, 0)) << "still ready";
    char buf[3];
    XT_OK(xipc_stream_read(k == 0 ? p.r : c.server, buf, 3, &n, kWait));
    EXPECT_TRUE(wait_events(s.w, 0, &rc).empty());
    EXPECT_EQ(XIPC_EAGAIN, rc);
    EXPECT_FALSE(native_ready(s.w, 0));
  }
}

// ---- listeners, processes ------------------------------------------------

TEST(WaitsetWin, ListenerConnectAcceptShutdown) {
  std::string name = xt::unique_name("wsl");
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  xt::Cleanup cl([&] { xipc_listener_close(l); });
  Set s;
  XT_OK(xipc_waitset_add_listener(s.w, l, nullptr));
  EXPECT_EQ(XIPC_EBUSY, xipc_listener_close(l));
  int rc = 0;
  EXPECT_TRUE(wait_events(s.w, 0, &rc).empty());
  // Several rounds: accept replaces the pipe instance every time.
  for (int round = 0; round < 20; round++) {
    xipc_stream *cl_s = nullptr, *sv = nullptr;
    std::thread t([&] { xipc_connect(&cl_s, name.c_str(), xt::scaled_ms(kWait)); });
    auto ev = wait_events(s.w, xt::scaled_ms(kWait), &rc);
    t.join();
    ASSERT_EQ(0, rc) << round;
    ASSERT_EQ(1u, ev.size()) << round;
    EXPECT_EQ(unsigned(XIPC_WAIT_READABLE), ev[0].events);
    XT_EXPECT_OK(xipc_accept(l, &sv, 0));
    EXPECT_TRUE(wait_events(s.w, 0, &rc).empty()) << round;
    if (sv) xipc_stream_close(sv);
    if (cl_s) xipc_stream_close(cl_s);
  }
  XT_OK(xipc_listener_shutdown(l));
  auto ev = wait_events(s.w, xt::scaled_ms(kWait), &rc);
  ASSERT_EQ(0, rc);
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(unsigned(XIPC_WAIT_READABLE | XIPC_WAIT_HANGUP), ev[0].events);
  XT_OK(xipc_waitset_remove(s.w, nullptr));
}

XT_HELPER(ws_wait_go) {
  if (argc < 1) return 2;
  XT_CHECK(xt::flag_wait(argv[0], 60000));
  return 7;
}

TEST(WaitsetWin, ProcExit) {
  xt::Flag go("wsgo");
  xt::Child c;
  XT_OK(c.start("ws_wait_go", {go}));
  Set s;
  XT_OK(xipc_waitset_add_proc(s.w, c.proc(), nullptr));
  EXPECT_EQ(XIPC_EBUSY, xipc_proc_close(c.proc()));
  intptr_t h = -1;
  XT_OK(xipc_waitset_native_handle(s.w, &h));
  int rc = 0;
  EXPECT_TRUE(wait_events(s.w, 0, &rc).empty());
  EXPECT_FALSE(native_ready(s.w, 50));
  XT_OK(go.set());
  auto ev = wait_events(s.w, xt::scaled_ms(kWait), &rc);
  ASSERT_EQ(0, rc);
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(unsigned(XIPC_WAIT_READABLE), ev[0].events);
  EXPECT_EQ(1u, wait_events(s.w, 0, &rc).size()) << "stays until removed";
  xipc_exit_status st;
  XT_OK(xipc_proc_wait(c.proc(), 0, &st));
  XT_OK(xipc_waitset_remove(s.w, nullptr));
  EXPECT_EQ(7, c.exit_code(0));
}

// ---- sockets -------------------------------------------------------------

TEST(WaitsetWin, NativeSocketLevelAndHangup) {
  TcpPair t;
  ASSERT_NE(-1, t.a);
  ASSERT_NE(-1, t.b);
  Set s;
  XT_OK(xipc_waitset_add_native(s.w, t.b, XIPC_WAIT_READABLE | XIPC_WAIT_WRITABLE, tag(0)));
  int rc = 0;
  auto ev = wait_events(s.w, xt::scaled_ms(kWait), &rc);
  ASSERT_EQ(0, rc);
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(unsigned(XIPC_WAIT_WRITABLE), ev[0].events);
  EXPECT_EQ(1u, wait_events(s.w, 0, &rc).size()) << "still writable";
  XT_OK(xipc_waitset_remove(s.w, tag(0)));
  XT_OK(xipc_waitset_add_native(s.w, t.b, XIPC_WAIT_READABLE, tag(1)));
  EXPECT_TRUE(wait_events(s.w, 0, &rc).empty());
  EXPECT_EQ(XIPC_EAGAIN, rc);
  for (int round = 0; round < 5; round++) {  // data, drained, data again
    ASSERT_TRUE(t.send1(t.a, 'a'));
    ASSERT_TRUE(t.send1(t.a, 'b'));
    ev = wait_events(s.w, xt::scaled_ms(kWait), &rc);
    ASSERT_EQ(0, rc) << round;
    ASSERT_EQ(1u, ev.size());
    EXPECT_EQ(unsigned(XIPC_WAIT_READABLE), ev[0].events);
    ASSERT_TRUE(t.recv1(t.b));
    EXPECT_EQ(1u, wait_events(s.w, 0, &rc).size()) << "one byte left";
    ASSERT_TRUE(t.recv1(t.b));
    EXPECT_TRUE(wait_events(s.w, 0, &rc).empty()) << round;
  }
  TcpPair::close_one(t.a);
  t.a = -1;
  unsigned seen = 0;
  int64_t end = xt::now_ms() + xt::scaled_ms(kWait);
  while (!(seen & XIPC_WAIT_READABLE) && xt::now_ms() < end)
    for (auto &e : wait_events(s.w, xt::scaled_ms(kWait), &rc)) seen |= e.events;
  EXPECT_TRUE(seen & XIPC_WAIT_READABLE);  // recv returns 0 now
  XT_OK(xipc_waitset_remove(s.w, tag(1)));
}

// ---- removal with I/O pending -------------------------------------------

TEST(WaitsetWin, RemoveWithReadPendingThenClose) {
  Pipe p;
  XT_OK(xipc_pipe(&p.r, &p.w));
  Set s;
  XT_OK(xipc_waitset_add_stream(s.w, p.r, XIPC_WAIT_READABLE, nullptr));
  int rc = 0;
  EXPECT_TRUE(wait_events(s.w, 0, &rc).empty());  // the zero-byte read is pending now
  EXPECT_EQ(XIPC_EBUSY, xipc_stream_close(p.r));
  XT_OK(xipc_waitset_remove(s.w, nullptr));
  size_t n = 0;
  XT_OK(xipc_stream_write(p.w, "hello", 5, &n, kWait));
  char buf[8];
  XT_OK(xipc_stream_read(p.r, buf, sizeof buf, &n, kWait));
  EXPECT_EQ(5u, n);
  XT_OK(xipc_stream_close(p.r));
  p.r = nullptr;
  EXPECT_EQ(XIPC_EPIPE, xipc_stream_write(p.w, "x", 1, &n, kWait));
  // The set still works, and a closed set leaves nothing behind.
  EXPECT_TRUE(wait_events(s.w, 0, &rc).empty());
}

// ---- writability ---------------------------------------------------------

TEST(WaitsetWin, WritableAgainOnceTheReaderDrains) {
  Pipe p;
  XT_OK(xipc_pipe(&p.r, &p.w));
  Set s;
  XT_OK(xipc_waitset_add_stream(s.w, p.w, XIPC_WAIT_WRITABLE, nullptr));
  int rc = 0;
  auto ev = wait_events(s.w, xt::scaled_ms(kWait), &rc);
  ASSERT_EQ(0, rc);
  ASSERT_EQ(1u, ev.size());
  EXPECT_EQ(unsigned(XIPC_WAIT_WRITABLE), ev[0].events);
  // Fill the pipe until a write makes no progress.
  std::vector<unsigned char> chunk(4096, 'z');
  size_t total = 0, n = 0;
  for (;;) {
    rc = xipc_stream_write(p.w, chunk.data(), chunk.size(), &n, 20);
    total += n;
    if (rc != 0) break;
  }
  EXPECT_EQ(XIPC_ETIMEDOUT, rc);
  EXPECT_TRUE(wait_events(s.w, 50, &rc).empty());
  EXPECT_EQ(XIPC_ETIMEDOUT, rc);
  // The reader drains it on another thread while this one waits.
  std::thread t([&] {
    std::vector<unsigned char> buf(65536);
    size_t got = 0, m = 0;
    xt::sleep_ms(50);
    while (got < total && xipc_stream_read(p.r, buf.data(), buf.size(), &m, kWait) == 0) got += m;
  });
  ev = wait_events(s.w, xt::scaled_ms(kWait), &rc);
  t.join();
  ASSERT_EQ(0, rc);
  ASSERT_EQ(1u, ev.size());
  EXPECT_TRUE(ev[0].events & XIPC_WAIT_WRITABLE);
  XT_EXPECT_OK(xipc_stream_write(p.w, "y", 1, &n, 0));
  // The reader goes: HANGUP.
  XT_OK(xipc_stream_close(p.r));
  p.r = nullptr;
  int64_t end = xt::now_ms() + xt::scaled_ms(kWait);
  unsigned seen = 0;
  while (!(seen & XIPC_WAIT_HANGUP) && xt::now_ms() < end)
    for (auto &e : wait_events(s.w, xt::scaled_ms(kWait), &rc)) seen |= e.events;
  EXPECT_EQ(unsigned(XIPC_WAIT_WRITABLE | XIPC_WAIT_HANGUP), seen);
}

// A write end shut down while the set waits for it to drain: the reader
// still gets every byte and then the end.
TEST(WaitsetWin, ShutdownOfAFullWatchedWriteEnd) {
  Pipe p;
  XT_OK(xipc_pipe(&p.r, &p.w));
  Set s;
  XT_OK(xipc_waitset_add_stream(s.w, p.w, XIPC_WAIT_WRITABLE, nullptr));
  std::vector<unsigned char> chunk(4096);
  size_t total = 0, n = 0;
  int rc = 0;
  for (;;) {
    for (size_t i = 0; i < chunk.size(); i++) chunk[i] = byte_at(total + i);
    rc = xipc_stream_write(p.w, chunk.data(), chunk.size(), &n, 20);
    total += n;
    if (rc != 0) break;
  }
  EXPECT_EQ(XIPC_ETIMEDOUT, rc);
  wait_events(s.w, 50, &rc);  // Windows: a drain is under way now
  XT_OK(xipc_stream_shutdown(p.w));
  wait_events(s.w, 0, &rc);
  XT_OK(xipc_waitset_remove(s.w, nullptr));
  std::vector<unsigned char> buf(65536);
  size_t got = 0;
  for (;;) {
    XT_OK(xipc_stream_read(p.r, buf.data(), buf.size(), &n, xt::scaled_ms(kWait)));
    if (n == 0) break;
    for (size_t i = 0; i < n; i++) ASSERT_EQ(byte_at(got + i), buf[i]) << got + i;
    got += n;
  }
  EXPECT_EQ(total, got);
}

// Windows: a child's stdio end does synchronous I/O, which cannot carry the
// waitset's overlapped zero-byte read, so adding it is XIPC_ENOTSUP; POSIX
// ends are all alike.
TEST(WaitsetWin, ChildStdioEnds) {
  for (unsigned flag : {unsigned(XIPC_PIPE_CHILD_READ), unsigned(XIPC_PIPE_CHILD_WRITE)}) {
    Pipe p;
    XT_OK(xipc_pipe_ex(&p.r, &p.w, flag));
    xipc_stream *child_end = flag == XIPC_PIPE_CHILD_READ ? p.r : p.w;
    xipc_stream *our_end = flag == XIPC_PIPE_CHILD_READ ? p.w : p.r;
    unsigned ev = child_end == p.r ? XIPC_WAIT_READABLE : XIPC_WAIT_WRITABLE;
    Set s;
#ifdef _WIN32
    EXPECT_EQ(XIPC_ENOTSUP, xipc_waitset_add_stream(s.w, child_end, ev, nullptr));
#else
    XT_EXPECT_OK(xipc_waitset_add_stream(s.w, child_end, ev, nullptr));
    XT_EXPECT_OK(xipc_waitset_remove(s.w, nullptr));
#endif
    // Our end of the same pipe is an ordinary one.
    unsigned ours = our_end == p.r ? XIPC_WAIT_READABLE : XIPC_WAIT_WRITABLE;
    XT_EXPECT_OK(xipc_waitset_add_stream(s.w, our_end, ours, nullptr));
    XT_EXPECT_OK(xipc_waitset_remove(s.w, nullptr));
  }
}

// Windows: a HANDLE can only be "signaled", so WRITABLE on one that is not
// a socket is XIPC_EINVAL; a POSIX descriptor may be asked for either.
TEST(WaitsetWin, WritableOnAWaitableHandle) {
  intptr_t waitable = -1, setter = -1;
  ASSERT_TRUE(xt::native_signal_open(&waitable, &setter));
  xt::Cleanup c([&] { xt::native_signal_close(waitable, setter); });
  Set s;
  int rc = xipc_waitset_add_native(s.w, waitable, XIPC_WAIT_WRITABLE, nullptr);
#ifdef _WIN32
  EXPECT_EQ(XIPC_EINVAL, rc);
  EXPECT_EQ(XIPC_EINVAL, xipc_waitset_add_native(s.w, waitable, XIPC_WAIT_READABLE |
                                                                   XIPC_WAIT_WRITABLE, nullptr));
#else
  EXPECT_EQ(0, rc);
  XT_EXPECT_OK(xipc_waitset_remove(s.w, nullptr));
#endif
  XT_EXPECT_OK(xipc_waitset_add_native(s.w, waitable, XIPC_WAIT_READABLE, nullptr));
}

// ---- resources -----------------------------------------------------------

TEST(WaitsetWin, NoHandleLeaks) {
  std::string name = xt::unique_name("wsleak");
  auto round = [&] {
    std::vector<Pipe> p(40);
    xipc_listener *l = nullptr;
    ASSERT_EQ(0, xipc_listen(&l, name.c_str(), nullptr));
    Set s;
    for (size_t i = 0; i < p.size(); i++) {
      ASSERT_EQ(0, xipc_pipe(&p[i].r, &p[i].w));
      ASSERT_EQ(0, xipc_waitset_add_stream(s.w, p[i].r, XIPC_WAIT_READABLE, tag(i)));
      ASSERT_EQ(0, xipc_waitset_add_stream(s.w, p[i].w, XIPC_WAIT_WRITABLE, tag(100 + i)));
    }
    ASSERT_EQ(0, xipc_waitset_add_listener(s.w, l, tag(1000)));
    ASSERT_EQ(0, xipc_waitset_add_timer(s.w, 1, 1, tag(1001)));
    size_t n = 0;
    ASSERT_EQ(0, xipc_stream_write(p[3].w, "q", 1, &n, kWait));
    int rc = 0;
    for (int k = 0; k < 5; k++) wait_events(s.w, xt::scaled_ms(kWait), &rc, 200);
    EXPECT_EQ(0, rc);
    // Half removed by hand, the rest by close.
    for (size_t i = 0; i < p.size(); i += 2) EXPECT_EQ(0, xipc_waitset_remove(s.w, tag(i)));
    EXPECT_EQ(0, xipc_waitset_close(s.w));
    s.w = nullptr;
    EXPECT_EQ(0, xipc_listener_close(l));
  };
  round();  // the first use may allocate lasting state (thread pool)
  long before = xt::open_handle_count();
  for (int i = 0; i < 10; i++) round();
  long after = xt::open_handle_count();
  // Idle pool threads may come and go; a leak would be thousands.
  int64_t end = xt::now_ms() + xt::scaled_ms(3000);
  while (after > before + 8 && xt::now_ms() < end) {
    xt::sleep_ms(50);
    after = xt::open_handle_count();
  }
  EXPECT_LE(after, before + 8);
}

}  // namespace
