// Local endpoints against a squatter: a process that took the OS name of a
// listener first, with raw system calls (issue 13: "a squatter that created
// the name first makes listen fail with XIPC_EEXIST instead of receiving
// our clients"). Where the OS refuses the second creator (Linux bind,
// Windows FILE_FLAG_FIRST_PIPE_INSTANCE) listen is XIPC_EEXIST; where it
// does not (Wine 8 ignores that flag) the listener works and no client of
// it ever talks to the squatter (win32/listen.c: the lock section and the
// server pid check).
#include "harness.h"

#include <string>

namespace {

const int kWait = 30000;

// Args: name message|byte ready touched got.
XT_HELPER(listen_squatter) {
  XT_REQUIRE(argc >= 5);
  bool message = std::string(argv[1]) == "message";
  return xt::squat_listener_name(argv[0], message, argv[2], argv[3], argv[4]) == 0 ? 0 : 5;
}

// A squatter took the name first; listen on it. Returns after checking
// that no client of ours reached the squatter.
void squatter_gets_no_client(const char *type) {
  std::string name = xt::unique_name("lsquat");
  xt::Flag ready("ready"), touched("touched"), got("got");
  xt::Child sq;
  XT_OK(sq.start("listen_squatter", {name, type, ready, touched, got}));
  ASSERT_TRUE(ready.wait(xt::scaled_ms(kWait), &sq)) << "the squatter could not take the name";
  xipc_listener *l = nullptr;
  int rc = xipc_listen(&l, name.c_str(), nullptr);
  if (rc == XIPC_EEXIST) return;  // the OS refused the taken name: nothing can reach us
  ASSERT_EQ(0, rc) << xipc_err_name(rc);
  xt::Cleanup close_l([&] { xipc_listener_close(l); });
  // Wine: the name is shared. Every client must end up at our listener.
  for (int i = 0; i < 4; i++) {
    xipc_stream *c = nullptr, *s = nullptr;
    XT_OK(xipc_connect(&c, name.c_str(), xt::scaled_ms(kWait)));
    xt::Cleanup close_c([&] { xipc_stream_close(c); });
    xipc_pid pid = 0;
    XT_OK(xipc_stream_peer_pid(c, &pid));
    EXPECT_EQ(xipc_self_pid(), pid) << "connect " << i;
    XT_OK(xipc_stream_send(c, "secret", 6, xt::scaled_ms(kWait)));
    XT_OK(xipc_accept(l, &s, xt::scaled_ms(kWait)));
    xt::Cleanup close_s([&] { xipc_stream_close(s); });
    char buf[8];
    size_t len = 0;
    XT_OK(xipc_stream_recv(s, buf, sizeof buf, &len, xt::scaled_ms(kWait)));
    EXPECT_EQ(std::string("secret"), std::string(buf, len));
  }
  // The squatter's instance came first (Wine offers instances in creation
  // order), so the clients met it and turned away without a word.
  EXPECT_TRUE(touched.wait(xt::scaled_ms(5000), &sq))
      << "no client met the squatter: the test tested nothing";
  EXPECT_FALSE(got.wait(200)) << "a client sent bytes to the squatter";
}

}  // namespace

// Windows: a byte-mode squatter; Wine gives our instances its type, which
// listen notices (XIPC_EEXIST), as Windows does by the first-instance flag.
TEST(Listen, SquatterThatTookTheNameFirstGetsNoClient) { squatter_gets_no_client("byte"); }

// Windows: a squatter of the same pipe type as ours. Under Wine the
// listener cannot tell, so the client's server-pid check must turn away.
TEST(Listen, SquatterOfOurPipeTypeGetsNoClient) { squatter_gets_no_client("message"); }

// A listener killed while another process holds its name's lock open
// (Windows: a client reading the lock section at that moment, or anyone
// allowed to read it): the name is still free at once, and the new
// listener owns it as any other (a second listen is XIPC_EEXIST, and after
// its close the name is free again).
TEST(Listen, NameFreeAfterACrashWhileSomeoneHoldsTheLock) {
  std::string name = xt::unique_name("lheld");
  xt::Flag up("up");
  xt::Child srv;
  XT_OK(srv.start("listen_echo_server", {name, up}));
  ASSERT_TRUE(up.wait(xt::scaled_ms(kWait), &srv));
  intptr_t held = xt::open_listener_lock(name);  // -1 on POSIX: nothing to hold
  xt::Cleanup close_held([&] { xt::close_listener_lock(held); });
  XT_OK(srv.kill());
  EXPECT_EQ(-2000 - XIPC_SIGKILL, srv.exit_code());
  xipc_listener *l = nullptr, *l2 = nullptr;
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
  xt::Cleanup close_l([&] {
    if (l) xipc_listener_close(l);
  });
  EXPECT_EQ(XIPC_EEXIST, xipc_listen(&l2, name.c_str(), nullptr));
  xipc_stream *c = nullptr, *s = nullptr;
  XT_OK(xipc_connect(&c, name.c_str(), xt::scaled_ms(kWait)));
  xt::Cleanup close_c([&] { xipc_stream_close(c); });
  xipc_pid pid = 0;
  XT_OK(xipc_stream_peer_pid(c, &pid));
  EXPECT_EQ(xipc_self_pid(), pid);
  XT_OK(xipc_accept(l, &s, xt::scaled_ms(kWait)));
  xipc_stream_close(s);
  XT_OK(xipc_listener_close(l));
  l = nullptr;
  // Closed (the held lock now says so): free again.
  XT_OK(xipc_listen(&l, name.c_str(), nullptr));
}
