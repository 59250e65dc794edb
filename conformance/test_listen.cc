// Local endpoints by name (issue 13): listen/accept/connect, many clients at
// once, peers that die, names taken and missing, timeouts, peer pids,
// owner-only access, close while accept is blocked, bad input, random kills
// and Python's multiprocessing.connection on the other end.
#include "harness.h"
#include "internal.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

const int kWait = 30000;  // generous bound for a helper's step (scaled)

// The suite's run-time platform test, without #ifdef: only POSIX has paths
// behind shared memory objects.
bool on_windows() { return xt::shm_object_path("x").empty(); }

// ---- messages that follow from (client id, sequence number) alone ---------

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// 0..64 KiB; every 97th message is empty and every 89th is 64 KiB exactly.
size_t msg_size(uint32_t id, uint32_t seq) {
  if (seq % 97 == 3) return 0;
  if (seq % 89 == 5) return 65536;
  return static_cast<size_t>(mix((uint64_t(id) << 32) | seq) % 65537);
}

void msg_fill(uint32_t id, uint32_t seq, std::vector<unsigned char> &out) {
  out.resize(msg_size(id, seq));
  uint64_t x = mix((uint64_t(seq) << 32) ^ id ^ 0x5bd1e995u);
  for (size_t i = 0; i < out.size(); i += 8) {
    x = mix(x);
    size_t n = out.size() - i < 8 ? out.size() - i : 8;
    std::memcpy(out.data() + i, &x, n);
  }
}

std::string rc_text(int rc) { return rc == 0 ? "0" : xipc_err_name(rc); }

// ---- the test's server side --------------------------------------------

// One accepted connection served on its own thread: the first message is
// "<id> <pid>" from the client; every later one must be message (id, seq)
// in order, and is echoed back. It ends at the client's end of stream.
struct Served {
  xipc_stream *s = nullptr;
  std::thread t;
  long id = -1;
  long long pid = 0, peer = 0;
  long count = 0;    // messages received intact and in order
  int end_rc = 0;    // what ended it (XIPC_ECLOSED at a clean end)
  std::string bad;   // a corrupt, lost or reordered message
  ~Served() {
    if (t.joinable()) t.join();
    if (s) xipc_stream_close(s);
  }
};

void serve(Served *c) {
  std::vector<unsigned char> buf(65536 + 1), want;
  size_t len = 0;
  int rc = xipc_stream_recv(c->s, buf.data(), buf.size() - 1, &len, xt::scaled_ms(kWait));
  if (rc != 0) {
    c->end_rc = rc;
    return;
  }
  buf[len] = 0;
  if (std::sscanf(reinterpret_cast<char *>(buf.data()), "%ld %lld", &c->id, &c->pid) != 2) {
    c->bad = "bad hello";
    return;
  }
  xipc_pid p = 0;
  if (xipc_stream_peer_pid(c->s, &p) == 0) c->peer = p;
  for (uint32_t seq = 0;; seq++) {
    rc = xipc_stream_recv(c->s, buf.data(), buf.size(), &len, -1);
    if (rc != 0) break;
    msg_fill(static_cast<uint32_t>(c->id), seq, want);
    if (len != want.size() || (len > 0 && std::memcmp(buf.data(), want.data(), len) != 0)) {
      c->bad = "message " + std::to_string(seq) + " of client " + std::to_string(c->id) +
               ": " + std::to_string(len) + " bytes, expected " + std::to_string(want.size());
      return;
    }
    c->count++;
    rc = xipc_stream_send(c->s, buf.data(), len, -1);
    if (rc != 0) break;
  }
  c->end_rc = rc;
  xipc_stream_shutdown(c->s);  // the client waits for our end of stream
}

// Accepts connections on its own thread until stopped, serving each.
struct Server {
  xipc_listener *l = nullptr;
  std::vector<std::unique_ptr<Served>> conns;
  std::mutex mu;
  std::atomic<bool> stop{false};
  std::thread t;
  int accept_rc = 0;  // the first unexpected accept result
  void start() {
    t = std::thread([this] {
      while (!stop.load()) {
        xipc_stream *s = nullptr;
        int rc = xipc_accept(l, &s, 50);
        if (rc == XIPC_ETIMEDOUT) continue;
        if (rc != 0) {
          if (accept_rc == 0) accept_rc = rc;
          return;
        }
        auto c = std::make_unique<Served>();
        c->s = s;
        c->t = std::thread(serve, c.get());
        std::lock_guard<std::mutex> g(mu);
        conns.push_back(std::move(c));
      }
    });
  }
  ~Server() {
    stop = true;
    if (t.joinable()) t.join();
    conns.clear();
    if (l) xipc_listener_close(l);
  }
  Served *find(long id) {
    std::lock_guard<std::mutex> g(mu);
    for (auto &c : conns)
      if (c->id == id) return c.get();
    return nullptr;
  }
};

// A listener, a client and the server's end of the same connection, all in
// this process.
struct Pair {
  std::string name = xt::unique_name("lp");
  xipc_listener *l = nullptr;
  xipc_stream *c = nullptr, *s = nullptr;
  int open() {
    int rc = xipc_listen(&l, name.c_str(), nullptr);
    if (rc == 0) rc = xipc_connect(&c, name.c_str(), xt::scaled_ms(kWait));
    if (rc == 0) rc = xipc_accept(l, &s, xt::scaled_ms(kWait));
    return rc;
  }
  ~Pair() {
    if (c) xipc_stream_close(c);
    if (s) xipc_stream_close(s);
    if (l) xipc_listener_close(l);
  }
};

// ---- helpers (other processes) ------------------------------------------

// Connects (waiting for the listener), says hello, exchanges `count`
// messages of client `id` and checks every echo.
int echo_client(const char *name, uint32_t id, uint32_t count, long long server_pid) {
  xipc_stream *c = nullptr;
  XT_CHECK(xipc_connect_ex(&c, name, XIPC_CONNECT_WAIT, xt::scaled_ms(kWait)));
  xipc_pid peer = 0;
  XT_CHECK(xipc_stream_peer_pid(c, &peer));
  XT_REQUIRE(server_pid == 0 || peer == server_pid);
  std::string hello = std::to_string(id) + " " + std::to_string(xipc_self_pid());
  XT_CHECK(xipc_stream_send(c, hello.data(), hello.size(), xt::scaled_ms(kWait)));
  std::vector<unsigned char> msg, buf(65536);
  for (uint32_t seq = 0; seq < count; seq++) {
    msg_fill(id, seq, msg);
    XT_CHECK(xipc_stream_send(c, msg.data(), msg.size(), xt::scaled_ms(kWait)));
    size_t len = 0;
    XT_CHECK(xipc_stream_recv(c, buf.data(), buf.size(), &len, xt::scaled_ms(kWait)));
    XT_REQUIRE(len == msg.size());
    XT_REQUIRE(len == 0 || std::memcmp(buf.data(), msg.data(), len) == 0);
  }
  // Half close: the server sees end of stream, ends, and we see its end.
  XT_CHECK(xipc_stream_shutdown(c));
  size_t len = 0;
  XT_REQUIRE(xipc_stream_recv(c, buf.data(), buf.size(), &len, xt::scaled_ms(kWait)) ==
             XIPC_ECLOSED);
  XT_CHECK(xipc_stream_close(c));
  return 0;
}

// Args: name id count server_pid.
XT_HELPER(listen_echo_client) {
  XT_REQUIRE(argc >= 4);
  return echo_client(argv[0], static_cast<uint32_t>(std::strtoul(argv[1], nullptr, 10)),
                     static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10)),
                     std::strtoll(argv[3], nullptr, 10));
}

// Args: name flag. Connects, writes a header announcing 64 KiB and only
// 1000 bytes of the body, sets the flag and waits to be killed.
XT_HELPER(listen_torn_client) {
  XT_REQUIRE(argc >= 2);
  xipc_stream *c = nullptr;
  XT_CHECK(xipc_connect(&c, argv[0], xt::scaled_ms(kWait)));
  std::vector<unsigned char> part(1004, 0x77);
  part[0] = 0, part[1] = 1, part[2] = 0, part[3] = 0;  // 65536, big-endian
  size_t n = 0;
  XT_CHECK(xipc_stream_write(c, part.data(), part.size(), &n, xt::scaled_ms(kWait)));
  XT_CHECK(xt::flag_set(argv[1]));
  xt::sleep_ms(60000);
  return 3;
}

// Echoes framed messages on s until the peer's end (a helper's thread).
void echo_until_end(xipc_stream *s) {
  std::vector<unsigned char> buf(65536);
  size_t len = 0;
  while (xipc_stream_recv(s, buf.data(), buf.size(), &len, -1) == 0)
    if (xipc_stream_send(s, buf.data(), len, -1) != 0) break;
  xipc_stream_close(s);
}

// Args: name flag [delay_ms]. Waits delay_ms, listens, sets the flag (if
// not "-") and echoes on every connection until killed.
XT_HELPER(listen_echo_server) {
  XT_REQUIRE(argc >= 2);
  if (argc >= 3) xt::sleep_ms(std::atoi(argv[2]));
  xipc_listener *l = nullptr;
  XT_CHECK(xipc_listen(&l, argv[0], nullptr));
  if (std::strcmp(argv[1], "-") != 0) XT_CHECK(xt::flag_set(argv[1]));
  for (;;) {
    xipc_stream *s = nullptr;
    XT_CHECK(xipc_accept(l, &s, -1));
    std::thread(echo_until_end, s).detach();
  }
}

// Args: name flags. As uid 65534: connects with xipc_connect_ex(flags |
// WAIT) and returns -rc of the connect if it fails; else sends "hi" and
// returns -rc of the recv of the answer (0 when one came).
XT_HELPER(listen_connect_as_nobody) {
  XT_REQUIRE(argc >= 2);
  if (!xt::drop_root()) return 77;
  xipc_stream *c = nullptr;
  unsigned flags = static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10));
  int rc = xipc_connect_ex(&c, argv[0], flags | XIPC_CONNECT_WAIT, xt::scaled_ms(kWait));
  if (rc != 0) return -rc;
  // A server that drops us may do so before or after the send arrives.
  rc = xipc_stream_send(c, "hi", 2, xt::scaled_ms(kWait));
  char buf[16];
  size_t len = 0;
  if (rc == 0) rc = xipc_stream_recv(c, buf, sizeof buf, &len, xt::scaled_ms(kWait));
  xipc_stream_close(c);
  return -rc;
}

// Args: name flags. As uid 65534: listens with flags and echoes one
// message on every connection it accepts, until killed.
XT_HELPER(listen_serve_as_nobody) {
  XT_REQUIRE(argc >= 2);
  if (!xt::drop_root()) return 77;
  xipc_listen_options o = {};
  o.flags = static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10));
  xipc_listener *l = nullptr;
  XT_CHECK(xipc_listen(&l, argv[0], &o));
  for (;;) {
    xipc_stream *s = nullptr;
    XT_CHECK(xipc_accept(l, &s, -1));
    std::thread(echo_until_end, s).detach();
  }
}

// Args: token. Imports a passed connection, sends its pid, echoes one
// message. 77 if this platform cannot import connections.
XT_HELPER(listen_imported_conn) {
  XT_REQUIRE(argc >= 1);
  xipc_stream *c = nullptr;
  int rc = xipc_stream_import(&c, argv[0]);
  if (rc == XIPC_ENOTSUP) return 77;
  XT_CHECK(rc);
  std::string me = std::to_string(xipc_self_pid());
  XT_CHECK(xipc_stream_send(c, me.data(), me.size(), xt::scaled_ms(kWait)));
  char buf[64];
  size_t len = 0;
  XT_CHECK(xipc_stream_recv(c, buf, sizeof buf, &len, xt::scaled_ms(kWait)));
  XT_CHECK(xipc_stream_send(c, buf, len, xt::scaled_ms(kWait)));
  XT_CHECK(xipc_stream_close(c));
  return 0;
}

}  // namespace

// ---- basics --------------------------------------------------------------

TEST(Listen, ConnectionCarriesBytesBothWaysAtOnce) {
  Pair p;
  XT_OK(p.open());
  std::vector<unsigned char> a(1u << 20), b(1u << 20);
  for (size_t i = 0; i < a.size(); i++) a[i] = static_cast<unsigned char>(i * 7), b[i] = static_cast<unsigned char>(i * 13 + 1);
  // Both sides write 1 MiB at the same time (more than a socket or pipe
  // buffer holds), so a half-duplex connection would deadlock.
  std::thread wc([&] {
    size_t n = 0;
    EXPECT_EQ(0, xipc_stream_write(p.c, a.data(), a.size(), &n, xt::scaled_ms(kWait)));
  });
  std::thread ws([&] {
    size_t n = 0;
    EXPECT_EQ(0, xipc_stream_write(p.s, b.data(), b.size(), &n, xt::scaled_ms(kWait)));
  });
  std::vector<unsigned char> at_s, at_c;
  std::thread rs([&] { EXPECT_EQ(0, xt::read_exact(p.s, at_s, a.size(), xt::scaled_ms(kWait))); });
  XT_EXPECT_OK(xt::read_exact(p.c, at_c, b.size(), xt::scaled_ms(kWait)));
  rs.join();
  wc.join();
  ws.join();
  EXPECT_TRUE(at_s == a);
  EXPECT_TRUE(at_c == b);
  // Framed messages too, both ways.
  XT_OK(xipc_stream_send(p.c, "ping", 4, 1000));
  char buf[8];
  size_t len = 0;
  XT_OK(xipc_stream_recv(p.s, buf, sizeof buf, &len, xt::scaled_ms(kWait)));
  EXPECT_EQ(std::string("ping"), std::string(buf, len));
  XT_OK(xipc_stream_send(p.s, "", 0, 1000));
  XT_OK(xipc_stream_recv(p.c, buf, sizeof buf, &len, xt::scaled_ms(kWait)));
  EXPECT_EQ(0u, len);
}

TEST(Listen, ShutdownEndsOneDirectionOnly) {
  Pair p;
  XT_OK(p.open());
  XT_OK(xipc_stream_send(p.c, "question", 8, 1000));
  XT_OK(xipc_stream_shutdown(p.c));
  size_t n = 9;
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_write(p.c, "x", 1, &n, 0));
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_send(p.c, "x", 1, 0));
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_shutdown(p.c));
  char buf[16];
  size_t len = 0;
  XT_OK(xipc_stream_recv(p.s, buf, sizeof buf, &len, xt::scaled_ms(kWait)));
  EXPECT_EQ(std::string("question"), std::string(buf, len));
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_recv(p.s, buf, sizeof buf, &len, xt::scaled_ms(kWait)));
  XT_OK(xipc_stream_read(p.s, buf, 1, &n, 0));
  EXPECT_EQ(0u, n);  // end of stream, and it stays so
  // The other direction still works after the client's shutdown.
  XT_OK(xipc_stream_send(p.s, "answer", 6, 1000));
  XT_OK(xipc_stream_recv(p.c, buf, sizeof buf, &len, xt::scaled_ms(kWait)));
  EXPECT_EQ(std::string("answer"), std::string(buf, len));
  XT_OK(xipc_stream_shutdown(p.s));
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_recv(p.c, buf, sizeof buf, &len, xt::scaled_ms(kWait)));
}

TEST(Listen, PeerPidInProcessAndNoneForPipes) {
  Pair p;
  XT_OK(p.open());
  xipc_pid pid = 0;
  XT_OK(xipc_stream_peer_pid(p.c, &pid));
  EXPECT_EQ(xipc_self_pid(), pid);
  pid = 0;
  XT_OK(xipc_stream_peer_pid(p.s, &pid));
  EXPECT_EQ(xipc_self_pid(), pid);
  xipc_stream *r = nullptr, *w = nullptr;
  XT_OK(xipc_pipe(&r, &w));
  EXPECT_EQ(XIPC_ENOTSUP, xipc_stream_peer_pid(r, &pid));
  EXPECT_EQ(XIPC_ENOTSUP, xipc_stream_peer_pid(w, &pid));
  xipc_stream_close(r);
  xipc_stream_close(w);
}

// ---- many clients at once ------------------------------------------------

TEST(Listen, SixteenClientsAtOnceEachExchange2000Messages) {
  const int kClients = 16;
  const uint32_t kCount = 2000;
  Server srv;
  std::string name = xt::unique_name("l16");
  xipc_listen_options o = {};
  o.backlog = 4;  // fewer than the clients: connects beyond it must wait, not fail
  XT_OK(xipc_listen(&srv.l, name.c_str(), &o));
  std::vector<std::unique_ptr<xt::Child>> kids;
  for (int i = 0; i < kClients; i++) {
    kids.push_back(std::make_unique<xt::Child>());
    XT_OK(kids.back()->start("listen_echo_client",
                             {name, std::to_string(i), std::to_string(kCount),
                              std::to_string(xipc_self_pid())}));
  }
  srv.start();
  for (int i = 0; i < kClients; i++)
    EXPECT_EQ(0, kids[i]->exit_code(xt::scaled_ms(300000))) << "client " << i;
  srv.stop = true;
  srv.t.join();
  EXPECT_EQ(0, srv.accept_rc) << rc_text(srv.accept_rc);
  std::lock_guard<std::mutex> g(srv.mu);
  ASSERT_EQ(size_t(kClients), srv.conns.size());
  std::vector<bool> seen(kClients);
  for (auto &c : srv.conns) {
    c->t.join();
    ASSERT_GE(c->id, 0) << rc_text(c->end_rc) << " " << c->bad;
    ASSERT_LT(c->id, kClients);
    EXPECT_FALSE(seen[c->id]) << "client " << c->id << " twice";
    seen[c->id] = true;
    EXPECT_EQ("", c->bad);
    EXPECT_EQ(long(kCount), c->count) << "client " << c->id;
    EXPECT_EQ(XIPC_ECLOSED, c->end_rc) << "client " << c->id << ": " << rc_text(c->end_rc);
    EXPECT_EQ(kids[c->id]->pid(), c->pid) << "client " << c->id;
    EXPECT_EQ(kids[c->id]->pid(), c->peer) << "peer pid of client " << c->id;
  }
}

// ---- peers that die ------------------------------------------------------

TEST(Listen, ClientKilledMidMessageEndsOnlyItsConnection) {
  std::string name = xt::unique_name("ltorn");
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  xt::Cleanup close_l([&] { xipc_listener_close(l); });
  xt::Flag sent("sent");
  xt::Child c;
  XT_OK(c.start("listen_torn_client", {name, sent}));
  xipc_stream *torn = nullptr, *other = nullptr, *other_s = nullptr;
  xt::Cleanup close_s([&] {
    for (xipc_stream *s : {torn, other, other_s})
      if (s) xipc_stream_close(s);
  });
  XT_OK(xipc_accept(l, &torn, xt::scaled_ms(kWait)));
  xipc_pid pid = 0;
  XT_OK(xipc_stream_peer_pid(torn, &pid));
  EXPECT_EQ(c.pid(), pid);
  XT_OK(xipc_connect(&other, name.c_str(), xt::scaled_ms(kWait)));
  XT_OK(xipc_accept(l, &other_s, xt::scaled_ms(kWait)));
  ASSERT_TRUE(sent.wait(xt::scaled_ms(kWait), &c));
  std::vector<unsigned char> buf(65536);
  size_t len = 0;
  EXPECT_EQ(XIPC_ETIMEDOUT, xipc_stream_recv(torn, buf.data(), buf.size(), &len, 50));
  XT_OK(c.kill());
  EXPECT_EQ(-2000 - XIPC_SIGKILL, c.exit_code());
  int rc = xipc_stream_recv(torn, buf.data(), buf.size(), &len, xt::scaled_ms(kWait));
  EXPECT_EQ(XIPC_ECLOSED, rc) << rc_text(rc);
  // The other connection and the listener carry on.
  XT_OK(xipc_stream_send(other, "still here", 10, 1000));
  XT_OK(xipc_stream_recv(other_s, buf.data(), buf.size(), &len, xt::scaled_ms(kWait)));
  EXPECT_EQ(std::string("still here"), std::string(buf.begin(), buf.begin() + len));
  xipc_stream *more = nullptr, *more_s = nullptr;
  XT_OK(xipc_connect(&more, name.c_str(), xt::scaled_ms(kWait)));
  XT_OK(xipc_accept(l, &more_s, xt::scaled_ms(kWait)));
  xipc_stream_close(more);
  xipc_stream_close(more_s);
}

TEST(Listen, ServerKilledEndsClientsAndFreesTheNameAtOnce) {
  std::string name = xt::unique_name("lkill");
  xt::Flag up("up");
  xt::Child srv;
  XT_OK(srv.start("listen_echo_server", {name, up}));
  ASSERT_TRUE(up.wait(xt::scaled_ms(kWait), &srv));
  xipc_stream *a = nullptr, *b = nullptr;
  xt::Cleanup close_ab([&] {
    if (a) xipc_stream_close(a);
    if (b) xipc_stream_close(b);
  });
  XT_OK(xipc_connect(&a, name.c_str(), xt::scaled_ms(kWait)));
  XT_OK(xipc_connect(&b, name.c_str(), xt::scaled_ms(kWait)));
  char buf[16];
  size_t len = 0;
  for (xipc_stream *s : {a, b}) {
    XT_OK(xipc_stream_send(s, "echo", 4, 1000));
    XT_OK(xipc_stream_recv(s, buf, sizeof buf, &len, xt::scaled_ms(kWait)));
    EXPECT_EQ(4u, len);
    xipc_pid pid = 0;
    XT_OK(xipc_stream_peer_pid(s, &pid));
    EXPECT_EQ(srv.pid(), pid);
  }
  XT_OK(srv.kill());
  EXPECT_EQ(-2000 - XIPC_SIGKILL, srv.exit_code());
  int rc = xipc_stream_recv(a, buf, sizeof buf, &len, xt::scaled_ms(kWait));
  EXPECT_EQ(XIPC_ECLOSED, rc) << rc_text(rc);
  rc = xipc_stream_send(b, "x", 1, xt::scaled_ms(kWait));
  EXPECT_EQ(XIPC_EPIPE, rc) << rc_text(rc);
  // The name is free at once: no retry, no sweep.
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  XT_OK(xipc_listener_close(l));
}

// ---- names ------------------------------------------------------------------

TEST(Listen, TakenNameIsEexistMissingIsEnoent) {
  std::string name = xt::unique_name("lname");
  xipc_listener *l = nullptr, *l2 = reinterpret_cast<xipc_listener *>(1);
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  EXPECT_EQ(XIPC_EEXIST, xipc_listen(&l2, name.c_str(), nullptr));
  EXPECT_EQ(nullptr, l2);
  xipc_listen_options any = {XIPC_LISTEN_ANY_USER, 0};
  EXPECT_EQ(XIPC_EEXIST, xipc_listen(&l2, name.c_str(), &any));
  XT_OK(xipc_listener_close(l));
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));  // free again after close
  XT_OK(xipc_listener_close(l));
  std::string missing = xt::unique_name("lmissing");
  xipc_stream *c = reinterpret_cast<xipc_stream *>(1);
  for (int t : {0, 100, -1}) {
    EXPECT_EQ(XIPC_ENOENT, xipc_connect(&c, missing.c_str(), t)) << "timeout " << t;
    EXPECT_EQ(nullptr, c);
  }
  // Waiting for a listener that never comes: XIPC_ENOENT, never early.
  for (int t : {0, 1, 200}) {
    int64_t t0 = xt::now_ms();
    EXPECT_EQ(XIPC_ENOENT, xipc_connect_ex(&c, missing.c_str(), XIPC_CONNECT_WAIT, t));
    EXPECT_GE(xt::now_ms() - t0, t) << "timeout " << t;
  }
}

TEST(Listen, ConnectWaitFindsAListenerThatAppearsLater) {
  std::string name = xt::unique_name("llate");
  xt::Child srv;
  XT_OK(srv.start("listen_echo_server", {name, "-", "300"}));
  xipc_stream *c = nullptr;
  XT_OK(xipc_connect_ex(&c, name.c_str(), XIPC_CONNECT_WAIT, xt::scaled_ms(kWait)));
  xt::Cleanup close_c([&] { xipc_stream_close(c); });
  xipc_pid pid = 0;
  XT_OK(xipc_stream_peer_pid(c, &pid));
  EXPECT_EQ(srv.pid(), pid);
  char buf[8];
  size_t len = 0;
  XT_OK(xipc_stream_send(c, "late", 4, 1000));
  XT_OK(xipc_stream_recv(c, buf, sizeof buf, &len, xt::scaled_ms(kWait)));
  EXPECT_EQ(std::string("late"), std::string(buf, len));
}

// ---- timeouts --------------------------------------------------------------

TEST(Listen, AcceptTimeoutIsNeverEarly) {
  std::string name = xt::unique_name("lacc");
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  xt::Cleanup close_l([&] { xipc_listener_close(l); });
  xipc_stream *s = reinterpret_cast<xipc_stream *>(1);
  EXPECT_EQ(XIPC_EAGAIN, xipc_accept(l, &s, 0));
  EXPECT_EQ(nullptr, s);
  for (int ms : {1, 20, 100}) {
    int64_t t0 = xt::now_ms();
    EXPECT_EQ(XIPC_ETIMEDOUT, xipc_accept(l, &s, ms));
    EXPECT_GE(xt::now_ms() - t0, ms) << "timeout " << ms;
  }
  // Still works after the timeouts.
  xipc_stream *c = nullptr;
  XT_OK(xipc_connect(&c, name.c_str(), xt::scaled_ms(kWait)));
  XT_OK(xipc_accept(l, &s, xt::scaled_ms(kWait)));
  xipc_stream_close(c);
  xipc_stream_close(s);
}

TEST(Listen, ReadAndWriteTimeoutsAsOnPipes) {
  Pair p;
  XT_OK(p.open());
  char buf[16];
  size_t n = 7;
  EXPECT_EQ(XIPC_EAGAIN, xipc_stream_read(p.s, buf, sizeof buf, &n, 0));
  EXPECT_EQ(0u, n);
  EXPECT_EQ(XIPC_EAGAIN, xipc_stream_recv(p.c, buf, sizeof buf, &n, 0));
  for (int ms : {1, 20, 100}) {
    int64_t t0 = xt::now_ms();
    EXPECT_EQ(XIPC_ETIMEDOUT, xipc_stream_read(p.s, buf, sizeof buf, &n, ms));
    EXPECT_GE(xt::now_ms() - t0, ms) << "read timeout " << ms;
    t0 = xt::now_ms();
    EXPECT_EQ(XIPC_ETIMEDOUT, xipc_stream_recv(p.c, buf, sizeof buf, &n, ms));
    EXPECT_GE(xt::now_ms() - t0, ms) << "recv timeout " << ms;
  }
  // Fill the connection one way until a write with timeout 0 moves nothing.
  std::vector<unsigned char> chunk(4096, 0x5a);
  size_t filled = 0;
  for (;;) {
    size_t m = 0;
    int rc = xipc_stream_write(p.c, chunk.data(), chunk.size(), &m, 0);
    filled += m;
    if (rc == XIPC_EAGAIN) break;
    ASSERT_EQ(0, rc) << rc_text(rc);
    ASSERT_LT(filled, size_t(64u << 20));
  }
  int64_t t0 = xt::now_ms();
  size_t tail = 0;
  EXPECT_EQ(XIPC_ETIMEDOUT, xipc_stream_write(p.c, chunk.data(), chunk.size(), &tail, 50));
  EXPECT_GE(xt::now_ms() - t0, 50);
  filled += tail;
  // Nothing lost, nothing extra: drain exactly what went in.
  std::vector<unsigned char> got;
  XT_OK(xt::read_exact(p.s, got, filled, xt::scaled_ms(kWait)));
  ASSERT_EQ(filled, got.size());
  for (size_t i = 0; i < got.size(); i++) ASSERT_EQ(0x5a, got[i]) << i;
  EXPECT_EQ(XIPC_EAGAIN, xipc_stream_read(p.s, buf, 1, &n, 0));
  XT_OK(xipc_stream_write(p.c, "TAIL", 4, &n, 1000));
  XT_OK(xt::read_exact(p.s, got, 4, xt::scaled_ms(kWait)));
  EXPECT_EQ(std::string("TAIL"), std::string(got.begin(), got.end()));
}

TEST(Listen, ConnectToAFullBacklogWaitsWithinItsTimeout) {
  std::string name = xt::unique_name("lfull");
  xipc_listen_options o = {0, 1};
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), &o));
  std::vector<xipc_stream *> cs;
  xt::Cleanup close_all([&] {
    for (xipc_stream *s : cs) xipc_stream_close(s);
    xipc_listener_close(l);
  });
  // Connect without accepting until the backlog is full.
  int rc = 0;
  while (cs.size() < 64) {
    xipc_stream *c = nullptr;
    rc = xipc_connect(&c, name.c_str(), 0);
    if (rc != 0) break;
    cs.push_back(c);
  }
  ASSERT_EQ(XIPC_EAGAIN, rc) << rc_text(rc) << " after " << cs.size() << " connects";
  xipc_stream *c = nullptr;
  int64_t t0 = xt::now_ms();
  EXPECT_EQ(XIPC_ETIMEDOUT, xipc_connect(&c, name.c_str(), 50));
  EXPECT_GE(xt::now_ms() - t0, 50);
  // A connect that waits gets through once the server accepts.
  std::thread acceptor([&] {
    xt::sleep_ms(100);
    xipc_stream *s = nullptr;
    EXPECT_EQ(0, xipc_accept(l, &s, xt::scaled_ms(kWait)));
    if (s) xipc_stream_close(s);
  });
  rc = xipc_connect(&c, name.c_str(), xt::scaled_ms(kWait));
  acceptor.join();
  ASSERT_EQ(0, rc) << rc_text(rc);
  cs.push_back(c);
}

// ---- owner only ------------------------------------------------------------

TEST(Listen, OwnerOnlyRefusesAnotherUserOnBothSides) {
  if (on_windows())
    GTEST_SKIP() << "Windows has no second user here: Listen.OwnerOnlyPipeDaclHoldsOwnerAndSystem "
                    "reads the pipe's DACL instead";
  int rc = xt::fork_and_run([] { return xt::drop_root() ? 0 : 77; });
  if (rc != 0) GTEST_SKIP() << "needs root to switch to another user (uid 65534)";
  std::string name = xt::unique_name("lown");
  Server srv;
  XT_OK(xipc_listen(&srv.l, name.c_str(), nullptr));
  srv.start();
  {
    // The client refuses a listener of another user.
    xt::Child c;
    XT_OK(c.start("listen_connect_as_nobody", {name, "0"}));
    EXPECT_EQ(-XIPC_EACCES, c.exit_code());
  }
  {
    // The server drops a client of another user (which allowed it) and
    // keeps accepting: the client reads end of stream.
    xt::Child c;
    XT_OK(c.start("listen_connect_as_nobody", {name, std::to_string(XIPC_CONNECT_ANY_USER)}));
    int code = c.exit_code();
    EXPECT_TRUE(code == -XIPC_ECLOSED || code == -XIPC_EPIPE) << "exit code " << code;
  }
  {
    std::lock_guard<std::mutex> g(srv.mu);
    EXPECT_EQ(0u, srv.conns.size()) << "a connection of another user was accepted";
  }
  EXPECT_EQ(0, srv.accept_rc) << rc_text(srv.accept_rc);
  // The listener still works for its own user.
  xipc_stream *c = nullptr;
  XT_OK(xipc_connect(&c, name.c_str(), xt::scaled_ms(kWait)));
  xipc_stream_close(c);
  // A listener of another user: our client refuses it.
  std::string theirs = xt::unique_name("lnob");
  xt::Child nob;
  XT_OK(nob.start("listen_serve_as_nobody", {theirs, "0"}));
  rc = xipc_connect_ex(&c, theirs.c_str(), XIPC_CONNECT_WAIT, xt::scaled_ms(kWait));
  EXPECT_EQ(XIPC_EACCES, rc) << rc_text(rc);
}

TEST(Listen, AnyUserOptionsAllowAnotherUser) {
  if (on_windows())
    GTEST_SKIP() << "Windows has no second user here (the suite runs as one user)";
  int rc = xt::fork_and_run([] { return xt::drop_root() ? 0 : 77; });
  if (rc != 0) GTEST_SKIP() << "needs root to switch to another user (uid 65534)";
  std::string name = xt::unique_name("lany");
  xipc_listener *l = nullptr;
  xipc_listen_options o = {XIPC_LISTEN_ANY_USER, 0};
  XT_OK(xipc_listen(&l, name.c_str(), &o));
  xt::Cleanup close_l([&] { xipc_listener_close(l); });
  xt::Child c;
  XT_OK(c.start("listen_connect_as_nobody", {name, std::to_string(XIPC_CONNECT_ANY_USER)}));
  xipc_stream *s = nullptr;
  XT_OK(xipc_accept(l, &s, xt::scaled_ms(kWait)));
  xipc_pid pid = 0;
  XT_OK(xipc_stream_peer_pid(s, &pid));
  EXPECT_EQ(c.pid(), pid);
  echo_until_end(s);
  EXPECT_EQ(0, c.exit_code());
  // And the other way round.
  std::string theirs = xt::unique_name("lnob");
  xt::Child nob;
  XT_OK(nob.start("listen_serve_as_nobody", {theirs, std::to_string(XIPC_LISTEN_ANY_USER)}));
  xipc_stream *cl = nullptr;
  XT_OK(xipc_connect_ex(&cl, theirs.c_str(), XIPC_CONNECT_WAIT | XIPC_CONNECT_ANY_USER,
                        xt::scaled_ms(kWait)));
  XT_OK(xipc_stream_peer_pid(cl, &pid));
  EXPECT_EQ(nob.pid(), pid);
  char buf[4];
  size_t len = 0;
  XT_OK(xipc_stream_send(cl, "ok", 2, 1000));
  XT_OK(xipc_stream_recv(cl, buf, sizeof buf, &len, xt::scaled_ms(kWait)));
  EXPECT_EQ(2u, len);
  xipc_stream_close(cl);
}

// The refusals of both sides without a second user (l-win's test, from
// its notes): a test hook makes every peer count as another user's.
TEST(Listen, OtherUsersPeersAreRefusedOnBothSides) {
  if (!xipc__listen_os_foreign_for_testing(true))
    GTEST_SKIP() << "this tree has no hook to make peers foreign";
  xt::Cleanup off([] { xipc__listen_os_foreign_for_testing(false); });
  std::string name = xt::unique_name("lforeign");
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  xt::Cleanup close_l([&] { xipc_listener_close(l); });
  xipc_stream *c = nullptr, *s = nullptr;
  EXPECT_EQ(XIPC_EACCES, xipc_connect(&c, name.c_str(), xt::scaled_ms(kWait)));
  EXPECT_EQ(nullptr, c);
  XT_OK(xipc_connect_ex(&c, name.c_str(), XIPC_CONNECT_ANY_USER, xt::scaled_ms(kWait)));
  xt::Cleanup close_c([&] { xipc_stream_close(c); });
  EXPECT_EQ(XIPC_ETIMEDOUT, xipc_accept(l, &s, 300));
  char buf[4];
  size_t len = 0;
  int rc = xipc_stream_recv(c, buf, sizeof buf, &len, xt::scaled_ms(kWait));
  EXPECT_EQ(XIPC_ECLOSED, rc) << rc_text(rc);
  std::string any = xt::unique_name("lforeign");
  xipc_listener *la = nullptr;
  xipc_listen_options o = {XIPC_LISTEN_ANY_USER, 0};
  XT_OK(xipc_listen(&la, any.c_str(), &o));
  xt::Cleanup close_la([&] { xipc_listener_close(la); });
  xipc_stream *c2 = nullptr;
  XT_OK(xipc_connect_ex(&c2, any.c_str(), XIPC_CONNECT_ANY_USER, xt::scaled_ms(kWait)));
  xt::Cleanup close_c2([&] { xipc_stream_close(c2); });
  XT_OK(xipc_accept(la, &s, xt::scaled_ms(kWait)));
  xipc_pid pid = 0;
  XT_OK(xipc_stream_peer_pid(s, &pid));
  EXPECT_EQ(xipc_self_pid(), pid);
  xipc_stream_close(s);
}

TEST(Listen, OwnerOnlyPipeDaclHoldsOwnerAndSystem) {
  if (!on_windows())
    GTEST_SKIP() << "abstract AF_UNIX sockets have no DACL: Linux checks SO_PEERCRED, see "
                    "Listen.OwnerOnlyRefusesAnotherUserOnBothSides";
  std::string name = xt::unique_name("ldacl");
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  xt::Cleanup close_l([&] { xipc_listener_close(l); });
  std::string detail;
  EXPECT_TRUE(xt::listener_dacl_owner_only(name, &detail)) << detail;
}

// ---- close while accept is blocked ----------------------------------------

TEST(Listen, CloseWakesBlockedAccepts) {
  std::string name = xt::unique_name("lclose");
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  std::atomic<int> rcs[3];
  std::atomic<int> started{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; i++) {
    rcs[i] = 1;
    ts.emplace_back([&, i] {
      xipc_stream *s = nullptr;
      started++;
      rcs[i] = xipc_accept(l, &s, i == 0 ? -1 : xt::scaled_ms(kWait));
      if (s) xipc_stream_close(s);
    });
  }
  // Closing a handle that a thread has yet to pass to xipc_accept would be
  // the caller's use after free: wait until all three are on their way in
  // and give them time to block there.
  while (started.load() < 3) xt::sleep_ms(1);
  xt::sleep_ms(xt::scaled_ms(100));
  XT_OK(xipc_listener_close(l));
  for (auto &t : ts) t.join();
  for (int i = 0; i < 3; i++) EXPECT_EQ(XIPC_ECLOSED, rcs[i].load()) << "thread " << i;
  // The name is free again.
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  XT_OK(xipc_listener_close(l));
}

TEST(Listen, ShutdownWakesAcceptAndFreesTheName) {
  std::string name = xt::unique_name("lshut");
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  xt::Cleanup close_l([&] { xipc_listener_close(l); });
  std::atomic<int> rc{1};
  std::thread t([&] {
    xipc_stream *s = nullptr;
    rc = xipc_accept(l, &s, -1);
    if (s) xipc_stream_close(s);
  });
  xt::sleep_ms(100);  // pacing only: shutdown wakes accept whenever it comes
  XT_OK(xipc_listener_shutdown(l));
  t.join();
  EXPECT_EQ(XIPC_ECLOSED, rc.load());
  xipc_stream *s = nullptr;
  EXPECT_EQ(XIPC_ECLOSED, xipc_accept(l, &s, 0));
  EXPECT_EQ(XIPC_ECLOSED, xipc_accept(l, &s, -1));
  XT_OK(xipc_listener_shutdown(l));  // twice is fine
  EXPECT_EQ(XIPC_ENOENT, xipc_connect(&s, name.c_str(), 0));
  xipc_listener *again = nullptr;
  XT_OK(xipc_listen(&again, name.c_str(), nullptr));
  XT_OK(xipc_listener_close(again));
}

// Shutdown at any moment of another thread's way into accept: no lost
// wake-up (the thread never blocks on a listener that is shut down).
TEST(Listen, ShutdownRacingIntoAcceptNeverLosesTheWakeup) {
  std::string name = xt::unique_name("lrace");
  for (int i = 0; i < 200; i++) {
    xipc_listener *l = nullptr;
    ASSERT_EQ(0, xipc_listen(&l, name.c_str(), nullptr)) << "round " << i;
    std::atomic<int> rc{1};
    std::thread t([&] {
      xipc_stream *s = nullptr;
      rc = xipc_accept(l, &s, i % 2 ? -1 : xt::scaled_ms(kWait));
      if (s) xipc_stream_close(s);
    });
    if (i % 3 == 0) std::this_thread::yield();
    EXPECT_EQ(0, xipc_listener_shutdown(l));
    t.join();
    EXPECT_EQ(XIPC_ECLOSED, rc.load()) << "round " << i;
    EXPECT_EQ(0, xipc_listener_close(l));
  }
}

TEST(Listen, ConnectionsOutliveTheirListener) {
  Pair p;
  XT_OK(p.open());
  XT_OK(xipc_listener_close(p.l));
  p.l = nullptr;
  XT_OK(xipc_stream_send(p.c, "after", 5, 1000));
  char buf[8];
  size_t len = 0;
  XT_OK(xipc_stream_recv(p.s, buf, sizeof buf, &len, xt::scaled_ms(kWait)));
  EXPECT_EQ(5u, len);
}

// ---- passing a connection to a child ---------------------------------------

TEST(Listen, ConnectionPassesToAChildByToken) {
  Pair p;
  XT_OK(p.open());
  char tok[XIPC_STREAM_TOKEN_MAX];
  XT_OK(xipc_stream_export(p.s, tok, sizeof tok));
  xipc_spawn_options o = {};
  xipc_stream *pass[] = {p.s};
  o.pass = pass;
  o.npass = 1;
  xt::Child c;
  XT_OK(c.start("listen_imported_conn", {tok}, &o));
  xipc_stream_close(p.s);
  p.s = nullptr;
  char buf[64];
  size_t len = 0;
  int rc = xipc_stream_recv(p.c, buf, sizeof buf - 1, &len, xt::scaled_ms(kWait));
  if (rc == XIPC_ECLOSED && c.exit_code() == 77)
    GTEST_SKIP() << "this platform does not pass connections (xipc_stream_import: XIPC_ENOTSUP)";
  ASSERT_EQ(0, rc) << rc_text(rc);
  buf[len] = 0;
  EXPECT_EQ(c.pid(), std::strtoll(buf, nullptr, 10));
  XT_OK(xipc_stream_send(p.c, "token", 5, 1000));
  XT_OK(xipc_stream_recv(p.c, buf, sizeof buf, &len, xt::scaled_ms(kWait)));
  EXPECT_EQ(std::string("token"), std::string(buf, len));
  EXPECT_EQ(0, c.exit_code());
}

// ---- bad input ---------------------------------------------------------------

TEST(Listen, BadInputIsEinval) {
  xipc_listener *l = reinterpret_cast<xipc_listener *>(1);
  xipc_stream *s = reinterpret_cast<xipc_stream *>(1);
  std::string name = xt::unique_name("lbad");
  std::string too_long(XIPC_LISTEN_NAME_MAX + 1, 'n');
  EXPECT_EQ(XIPC_EINVAL, xipc_listen(nullptr, name.c_str(), nullptr));
  for (const char *bad : {static_cast<const char *>(nullptr), "", "a/b", "a\\b", "sp ace", too_long.c_str()}) {
    int want = bad == too_long.c_str() ? XIPC_ENAMETOOLONG : XIPC_EINVAL;
    EXPECT_EQ(want, xipc_listen(&l, bad, nullptr)) << (bad ? bad : "NULL");
    EXPECT_EQ(nullptr, l);
    l = reinterpret_cast<xipc_listener *>(1);
    EXPECT_EQ(want, xipc_connect(&s, bad, 0)) << (bad ? bad : "NULL");
    EXPECT_EQ(nullptr, s);
    s = reinterpret_cast<xipc_stream *>(1);
    EXPECT_EQ(want, xipc_connect_ex(&s, bad, XIPC_CONNECT_WAIT, 0));
  }
  xipc_listen_options o = {1u << 7, 0};
  EXPECT_EQ(XIPC_EINVAL, xipc_listen(&l, name.c_str(), &o));
  o = {0, XIPC_LISTEN_BACKLOG_MAX + 1};
  EXPECT_EQ(XIPC_EINVAL, xipc_listen(&l, name.c_str(), &o));
  EXPECT_EQ(XIPC_EINVAL, xipc_connect(nullptr, name.c_str(), 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_connect(&s, name.c_str(), -2));
  EXPECT_EQ(XIPC_EINVAL, xipc_connect_ex(&s, name.c_str(), 1u << 9, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_connect_ex(&s, name.c_str(), 0, -5));
  EXPECT_EQ(XIPC_EINVAL, xipc_accept(nullptr, &s, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_listener_close(nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_listener_shutdown(nullptr));
  xipc_pid pid = 0;
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_peer_pid(nullptr, &pid));
  // The longest name and the largest backlog are fine; a listener refuses
  // NULL out and bad timeouts.
  std::string longest = name + std::string(XIPC_LISTEN_NAME_MAX - name.size(), 'x');
  XT_OK(xipc_listen(&l, longest.c_str(), nullptr));
  XT_OK(xipc_connect(&s, longest.c_str(), xt::scaled_ms(kWait)));
  xipc_stream_close(s);
  XT_OK(xipc_listener_close(l));
  o = {0, XIPC_LISTEN_BACKLOG_MAX};
  XT_OK(xipc_listen(&l, name.c_str(), &o));
  xt::Cleanup close_l([&] { xipc_listener_close(l); });
  EXPECT_EQ(XIPC_EINVAL, xipc_accept(l, nullptr, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_accept(l, &s, -2));
  EXPECT_EQ(nullptr, s);
  xipc_stream *c = nullptr;
  XT_OK(xipc_connect(&c, name.c_str(), xt::scaled_ms(kWait)));
  xt::Cleanup close_c([&] { xipc_stream_close(c); });
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_peer_pid(c, nullptr));
  char buf[4];
  size_t n = 0;
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_read(c, nullptr, 4, &n, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_read(c, buf, 0, &n, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_write(c, nullptr, 4, &n, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_recv(c, buf, sizeof buf, &n, -2));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_import(&s, "xipc-stream:1:3:c"));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_import(&s, "xipc-stream:1:3:x:s"));
}

// ---- random kills (crash test) ---------------------------------------------

TEST(Listen, ClientsKilledAtRandomMomentsLeaveOthersWorking) {
  const int kSteady = 3, kRounds = 12;
  const uint32_t kSteadyCount = 300;
  Server srv;
  std::string name = xt::unique_name("lcrash");
  XT_OK(xipc_listen(&srv.l, name.c_str(), nullptr));
  srv.start();
  std::vector<std::unique_ptr<xt::Child>> steady;
  for (int i = 0; i < kSteady; i++) {
    steady.push_back(std::make_unique<xt::Child>());
    XT_OK(steady.back()->start("listen_echo_client",
                               {name, std::to_string(i), std::to_string(kSteadyCount), "0"}));
  }
  std::mt19937 rng(static_cast<unsigned>(xipc_self_pid()));
  for (int r = 0; r < kRounds; r++) {
    xt::Child victim;
    XT_OK(victim.start("listen_echo_client",
                       {name, std::to_string(100 + r), "1000000", "0"}));
    xt::sleep_ms(static_cast<int>(rng() % 80));  // any moment: starting, connecting, mid-message
    XT_OK(victim.kill());
    EXPECT_EQ(-2000 - XIPC_SIGKILL, victim.exit_code());
  }
  for (int i = 0; i < kSteady; i++)
    EXPECT_EQ(0, steady[i]->exit_code(xt::scaled_ms(120000))) << "steady client " << i;
  // The listener still accepts, and a new client works end to end.
  xt::Child last;
  XT_OK(last.start("listen_echo_client", {name, "50", "20", std::to_string(xipc_self_pid())}));
  EXPECT_EQ(0, last.exit_code());
  srv.stop = true;
  srv.t.join();
  EXPECT_EQ(0, srv.accept_rc) << rc_text(srv.accept_rc);
  std::lock_guard<std::mutex> g(srv.mu);
  for (auto &c : srv.conns) {
    c->t.join();
    EXPECT_EQ("", c->bad) << "client " << c->id;
    if (c->id >= 0 && c->id < kSteady) {
      EXPECT_EQ(long(kSteadyCount), c->count) << "steady client " << c->id;
      EXPECT_EQ(XIPC_ECLOSED, c->end_rc) << rc_text(c->end_rc);
    } else if (c->id == 50) {
      EXPECT_EQ(20, c->count);
    } else {
      // A killed client: its connection ends with end of stream or a broken
      // pipe, never with corrupt data.
      EXPECT_TRUE(c->end_rc == XIPC_ECLOSED || c->end_rc == XIPC_EPIPE)
          << "client " << c->id << ": " << rc_text(c->end_rc);
    }
  }
}

// ---- Python's multiprocessing.connection on the other end -------------------

namespace {

// "" if a python3 with multiprocessing.connection can talk to xipc here;
// otherwise why not.
std::string no_python() {
  if (on_windows())
    return "Windows: Python's pipe connections are message-mode pipes without xipc's "
           "length prefix, so its framing is not xipc's there";
  const char *argv[] = {"python3", "-c", "import multiprocessing.connection", nullptr};
  xipc_spawn_options o = {};
  o.stdout_mode = o.stderr_mode = XIPC_STDIO_NULL;
  xipc_proc *p = nullptr;
  if (xipc_proc_spawn(&p, argv, &o) != 0) return "python3 is not installed";
  xipc_exit_status st = {0, -1, 0};
  int rc = xipc_proc_wait(p, xt::scaled_ms(60000), &st);
  xipc_proc_close(p);
  if (rc != 0 || !st.exited || st.exit_code != 0)
    return "python3 has no multiprocessing.connection";
  return "";
}

int spawn_python(xipc_proc **p, const std::string &code, const std::string &name) {
  const char *argv[] = {"python3", "-c", code.c_str(), name.c_str(), nullptr};
  return xipc_proc_spawn(p, argv, nullptr);
}

int python_exit(xipc_proc *p) {
  xipc_exit_status st = {0, -1, 0};
  int rc = xipc_proc_wait(p, xt::scaled_ms(kWait), &st);
  xipc_proc_close(p);
  return rc != 0 ? -1000 + rc : st.exited ? st.exit_code : -2000 - st.signal;
}

const size_t kPySizes[] = {0, 1, 3, 4, 100, 4096, 65536, 70000, 1u << 20};

}  // namespace

TEST(Listen, PythonClientTalksToXipcListener) {
  std::string why = no_python();
  if (!why.empty()) GTEST_SKIP() << why;
  std::string name = xt::unique_name("lpyc");
  xipc_listener *l = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  xt::Cleanup close_l([&] { xipc_listener_close(l); });
  // Python sends messages of kPySizes; xipc answers each reversed plus "!".
  std::string code =
      "import sys\n"
      "from multiprocessing.connection import Client\n"
      "c = Client('\\0xipc.' + sys.argv[1], family='AF_UNIX')\n"
      "for i, n in enumerate([0, 1, 3, 4, 100, 4096, 65536, 70000, 1 << 20]):\n"
      "    m = bytes((i * 31 + k * 7) & 255 for k in range(n))\n"
      "    c.send_bytes(m)\n"
      "    r = c.recv_bytes()\n"
      "    assert r == m[::-1] + b'!', (n, len(r))\n"
      "c.close()\n";
  xipc_proc *py = nullptr;
  XT_OK(spawn_python(&py, code, name));
  xipc_stream *s = nullptr;
  int rc = xipc_accept(l, &s, xt::scaled_ms(kWait));
  if (rc != 0) {
    xipc_proc_kill(py);
    python_exit(py);
    FAIL() << "accept: " << rc_text(rc);
  }
  xt::Cleanup close_s([&] { xipc_stream_close(s); });
  std::vector<unsigned char> buf((1u << 20) + 1);
  for (size_t i = 0; i < sizeof kPySizes / sizeof kPySizes[0]; i++) {
    size_t len = 0;
    rc = xipc_stream_recv(s, buf.data(), buf.size(), &len, xt::scaled_ms(kWait));
    EXPECT_EQ(0, rc) << rc_text(rc);
    if (rc != 0) break;
    ASSERT_EQ(kPySizes[i], len);
    for (size_t k = 0; k < len; k++)
      ASSERT_EQ(static_cast<unsigned char>((i * 31 + k * 7) & 255), buf[k]) << i << " " << k;
    std::vector<unsigned char> ans(buf.rbegin() + static_cast<long>(buf.size() - len), buf.rend());
    ans.push_back('!');
    XT_OK(xipc_stream_send(s, ans.data(), ans.size(), xt::scaled_ms(kWait)));
  }
  size_t len = 0;
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_recv(s, buf.data(), buf.size(), &len, xt::scaled_ms(kWait)));
  EXPECT_EQ(0, python_exit(py));
}

TEST(Listen, XipcClientTalksToPythonListener) {
  std::string why = no_python();
  if (!why.empty()) GTEST_SKIP() << why;
  std::string name = xt::unique_name("lpyl");
  // Python listens, answers each message reversed plus "!", until the end.
  std::string code =
      "import sys\n"
      "from multiprocessing.connection import Listener\n"
      "with Listener('\\0xipc.' + sys.argv[1], family='AF_UNIX') as l:\n"
      "    with l.accept() as c:\n"
      "        while True:\n"
      "            try:\n"
      "                m = c.recv_bytes()\n"
      "            except EOFError:\n"
      "                break\n"
      "            c.send_bytes(m[::-1] + b'!')\n";
  xipc_proc *py = nullptr;
  XT_OK(spawn_python(&py, code, name));
  xipc_stream *c = nullptr;
  int rc = xipc_connect_ex(&c, name.c_str(), XIPC_CONNECT_WAIT, xt::scaled_ms(kWait));
  if (rc != 0) {
    xipc_proc_kill(py);
    python_exit(py);
    FAIL() << "connect: " << rc_text(rc);
  }
  xipc_pid pid = 0;
  XT_EXPECT_OK(xipc_stream_peer_pid(c, &pid));
  EXPECT_EQ(xipc_proc_pid(py), pid);
  std::vector<unsigned char> buf((1u << 20) + 2);
  for (size_t i = 0; i < sizeof kPySizes / sizeof kPySizes[0]; i++) {
    std::vector<unsigned char> m(kPySizes[i]);
    for (size_t k = 0; k < m.size(); k++) m[k] = static_cast<unsigned char>(k * 5 + i);
    XT_EXPECT_OK(xipc_stream_send(c, m.data(), m.size(), xt::scaled_ms(kWait)));
    size_t len = 0;
    rc = xipc_stream_recv(c, buf.data(), buf.size(), &len, xt::scaled_ms(kWait));
    EXPECT_EQ(0, rc) << rc_text(rc);
    if (rc != 0) break;
    ASSERT_EQ(m.size() + 1, len);
    EXPECT_EQ('!', buf[m.size()]);
    for (size_t k = 0; k < m.size(); k++) ASSERT_EQ(m[m.size() - 1 - k], buf[k]) << i << " " << k;
  }
  XT_EXPECT_OK(xipc_stream_close(c));
  EXPECT_EQ(0, python_exit(py));
}

// ---- resources ---------------------------------------------------------------

TEST(Listen, NoDescriptorOrHandleLeaks) {
  std::string name = xt::unique_name("lleak");
  auto round = [&] {
    xipc_listener *l = nullptr, *l2 = nullptr;
    xipc_stream *c = nullptr, *s = nullptr, *none = nullptr;
    ASSERT_EQ(0, xipc_listen(&l, name.c_str(), nullptr));
    EXPECT_EQ(XIPC_EEXIST, xipc_listen(&l2, name.c_str(), nullptr));
    EXPECT_EQ(0, xipc_connect(&c, name.c_str(), xt::scaled_ms(kWait)));
    EXPECT_EQ(0, xipc_accept(l, &s, xt::scaled_ms(kWait)));
    EXPECT_EQ(XIPC_EAGAIN, xipc_accept(l, &none, 0));
    EXPECT_EQ(XIPC_ETIMEDOUT, xipc_accept(l, &none, 1));
    if (c) {
      EXPECT_EQ(0, xipc_stream_send(c, "x", 1, 1000));
      EXPECT_EQ(0, xipc_stream_shutdown(c));
      xipc_stream_close(c);
    }
    if (s) xipc_stream_close(s);
    EXPECT_EQ(0, xipc_listener_close(l));
    EXPECT_EQ(XIPC_ENOENT, xipc_connect(&none, name.c_str(), 0));
    EXPECT_EQ(XIPC_ENOENT, xipc_connect_ex(&none, name.c_str(), XIPC_CONNECT_WAIT, 5));
  };
  round();  // first use may allocate lasting state (threads, caches)
  long before = xt::open_handle_count();
  for (int i = 0; i < 20; i++) round();
  EXPECT_EQ(before, xt::open_handle_count());
}
