// Child stdio (PIPE, STREAM, FILE, NULL, merged stderr), passing streams,
// xipc_proc_run, process groups and signals by handle, and the rule that
// a child inherits nothing it was not given.
#include "harness.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t MiB = 1024 * 1024;
constexpr size_t CHUNK = 64 * 1024;

// Byte i of stream `seed`: every 256 consecutive bytes hold all 256 values
// (CR, LF and 0x1A included), and the streams differ.
unsigned char byte_at(unsigned seed, size_t i) {
  return static_cast<unsigned char>(i * 131 + (i >> 8) + seed * 77);
}

std::string pattern(unsigned seed, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>(byte_at(seed, i));
  return s;
}

// Index of the first byte of s that is not pattern(seed), or npos.
size_t mismatch(const char *s, size_t n, unsigned seed, size_t from = 0) {
  for (size_t i = 0; i < n; i++)
    if (static_cast<unsigned char>(s[i]) != byte_at(seed, from + i)) return i;
  return std::string::npos;
}

bool write_all(FILE *f, const char *p, size_t n) {
  return std::fwrite(p, 1, n, f) == n && std::fflush(f) == 0;
}

// ---- helpers ---------------------------------------------------------------

// Copies stdin to stdout until end of input.
XT_HELPER(echo_stdin) {
  xt::stdio_binary();
  std::vector<char> buf(CHUNK);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), stdin)) > 0)
    XT_REQUIRE(write_all(stdout, buf.data(), n));
  return 0;
}

// Args: out_bytes err_bytes in_bytes. Writes pattern 1 to stdout and
// pattern 2 to stderr in alternating chunks while reading stdin, which
// must be in_bytes of pattern 3.
XT_HELPER(spew3) {
  XT_REQUIRE(argc >= 3);
  xt::stdio_binary();
  size_t want[2] = {std::strtoul(argv[0], nullptr, 10), std::strtoul(argv[1], nullptr, 10)};
  size_t in_want = std::strtoul(argv[2], nullptr, 10), got = 0, done[2] = {0, 0};
  std::string chunk[2] = {pattern(1, want[0]), pattern(2, want[1])};
  std::vector<char> buf(CHUNK);
  bool in_open = true;
  while (done[0] < want[0] || done[1] < want[1] || in_open) {
    for (int k = 0; k < 2; k++) {
      size_t n = std::min(CHUNK, want[k] - done[k]);
      XT_REQUIRE(write_all(k == 0 ? stdout : stderr, chunk[k].data() + done[k], n));
      done[k] += n;
    }
    if (!in_open) continue;
    size_t n = std::fread(buf.data(), 1, buf.size(), stdin);
    XT_REQUIRE(mismatch(buf.data(), n, 3, got) == std::string::npos);
    got += n;
    in_open = n > 0;
  }
  XT_REQUIRE(got == in_want);
  return 0;
}

// Args: n. Alternates "out i" on stdout and "err i" on stderr, flushing each.
XT_HELPER(alternate) {
  XT_REQUIRE(argc >= 1);
  for (int i = 0; i < std::atoi(argv[0]); i++) {
    std::fprintf(stdout, "out %d\n", i);
    std::fflush(stdout);
    std::fprintf(stderr, "err %d\n", i);
    std::fflush(stderr);
  }
  return 0;
}

// Args: n. Writes n bytes of pattern 4 to stdout.
XT_HELPER(produce) {
  XT_REQUIRE(argc >= 1);
  xt::stdio_binary();
  std::string s = pattern(4, std::strtoul(argv[0], nullptr, 10));
  XT_REQUIRE(write_all(stdout, s.data(), s.size()));
  return 0;
}

// Reads stdin to its end, checks it is pattern 4 and prints the count.
XT_HELPER(count_stdin) {
  xt::stdio_binary();
  std::vector<char> buf(CHUNK);
  size_t n, total = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), stdin)) > 0) {
    XT_REQUIRE(mismatch(buf.data(), n, 4, total) == std::string::npos);
    total += n;
  }
  std::printf("%zu", total);
  return 0;
}

// Reads stdin to its end and prints how many bytes came.
XT_HELPER(count_bytes) {
  std::vector<char> buf(CHUNK);
  size_t n, total = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), stdin)) > 0) total += n;
  std::printf("%zu", total);
  return 0;
}

// Prints a line, then kills itself.
XT_HELPER(print_then_die) {
  std::fputs("before\n", stdout);
  std::fflush(stdout);
  xipc_signal_raise(XIPC_SIGKILL);
  return 3;
}

// Args: text. Writes text to stdout and "E:" text to stderr.
XT_HELPER(say) {
  XT_REQUIRE(argc >= 1);
  std::fputs(argv[0], stdout);
  std::fprintf(stderr, "E:%s", argv[0]);
  return 0;
}

// Args: path. Creates the file (proof that the child ran).
XT_HELPER(touch) {
  XT_REQUIRE(argc >= 1);
  XT_REQUIRE(xt::write_file(argv[0], "ran"));
  return 0;
}

// Prints to stdout and stderr, then sleeps (until killed).
XT_HELPER(print_then_sleep) {
  std::fputs("started\n", stdout);
  std::fflush(stdout);
  std::fputs("err\n", stderr);
  std::fflush(stderr);
  for (int i = 0; i < 1200; i++) xt::sleep_ms(50);
  return 0;
}

// Writes to stdout without end.
XT_HELPER(spew_forever) {
  std::string s(CHUNK, 'x');
  for (;;) XT_REQUIRE(write_all(stdout, s.data(), s.size()));
}

// Args: ready. Signals ready, then sleeps for a minute.
XT_HELPER(sleep_ready) {
  XT_REQUIRE(argc >= 1);
  XT_CHECK(xt::ready_signal(argv[0]));
  for (int i = 0; i < 1200; i++) xt::sleep_ms(50);
  return 0;
}

std::atomic<int> handled{0};
void on_signal(int, void *) { handled++; }

// Installs a handler for sig, signals `ready`, and returns `code` once the
// handler has run (3 if nothing arrived within a minute).
int await_handler(int sig, const char *ready, int code) {
  XT_CHECK(xipc_signal_handle(sig, on_signal, nullptr));
  XT_CHECK(xt::ready_signal(ready));
  for (int i = 0; i < 60000 && handled == 0; i++) xt::sleep_ms(1);
  return handled > 0 ? code : 3;
}

// Args: ready. Exits 5 once a SIGINT reached its handler.
XT_HELPER(wait_sigint) {
  XT_REQUIRE(argc >= 1);
  return await_handler(XIPC_SIGINT, argv[0], 5);
}

// Args: ready. Exits 42 once a SIGUSR1 reached its handler.
XT_HELPER(wait_usr1) {
  XT_REQUIRE(argc >= 1);
  return await_handler(XIPC_SIGUSR1, argv[0], 42);
}

// Args: token [token of a stream not passed]. Writes through the passed
// stream; a second import of its token, a garbage token and the token of a
// stream the parent did not pass must all fail.
XT_HELPER(write_token) {
  XT_REQUIRE(argc >= 1);
  xipc_stream *s = nullptr, *again = nullptr, *junk = nullptr, *other = nullptr;
  XT_CHECK(xipc_stream_import(&s, argv[0]));
  XT_REQUIRE(xipc_stream_import(&again, argv[0]) != 0);
  XT_REQUIRE(again == nullptr);
  XT_REQUIRE(xipc_stream_import(&junk, "no-such-token") != 0);
  XT_REQUIRE(xipc_stream_import(&junk, "") != 0);
  if (argc >= 2) XT_REQUIRE(xipc_stream_import(&other, argv[1]) != 0);
  size_t n = 0;
  XT_CHECK(xipc_stream_write(s, "via token", 9, &n, 30000));
  XT_CHECK(xipc_stream_close(s));
  return 0;
}

// Args: handle path. Fails if the parent's careless descriptor is usable.
XT_HELPER(probe_leak) {
  XT_REQUIRE(argc >= 2);
  XT_REQUIRE(!xt::leaky_usable(static_cast<intptr_t>(std::strtoll(argv[0], nullptr, 10)), argv[1]));
  return 0;
}

// Started with NEW_GROUP: takes a console of its own
// (Windows), starts A with NEW_GROUP and B without (both wait_sigint),
// sends a Ctrl+C to its group/console and checks that B gets SIGINT while
// A does not. Exit 77: no console to be had.
XT_HELPER(group_leader) {
  XT_REQUIRE(xt::own_process_group());  // never interrupt the test runner
  if (!xt::own_console()) return 77;
  XT_CHECK(xipc_signal_handle(XIPC_SIGINT, on_signal, nullptr));
  xipc_spawn_options with = {}, without = {};
  with.flags = XIPC_SPAWN_NEW_GROUP;
  xt::Flag ready_a("ready-a"), ready_b("ready-b");
  xt::Child a, b;
  XT_CHECK(a.start("wait_sigint", {ready_a}, &with));
  XT_CHECK(b.start("wait_sigint", {ready_b}, &without));
  XT_REQUIRE(xt::ready_wait(ready_a, xt::scaled_ms(60000), &a));
  XT_REQUIRE(xt::ready_wait(ready_b, xt::scaled_ms(60000), &b));
  XT_REQUIRE(xt::interrupt_group() == 0);
  XT_REQUIRE(b.exit_code(xt::scaled_ms(30000)) == 5);  // B got SIGINT
  xipc_exit_status st;
  XT_REQUIRE(a.wait(xt::scaled_ms(1000), &st) == XIPC_ETIMEDOUT);  // A did not
  return 0;
}

// ---- test helpers -----------------------------------------------------------

std::vector<const char *> helper_argv(const std::string &exe, const std::string &flag,
                                      const std::vector<std::string> &args) {
  std::vector<const char *> v = {exe.c_str(), flag.c_str()};
  for (const auto &a : args) v.push_back(a.c_str());
  v.push_back(nullptr);
  return v;
}

// xipc_proc_run of a helper.
int run_self(const char *helper, const std::vector<std::string> &args,
               const xipc_run_options *o, xipc_run_result *r) {
  std::string exe = xt::self_exe(), flag = std::string("--helper=") + helper;
  return xipc_proc_run(helper_argv(exe, flag, args).data(), o, r);
}

// Run options without a timeout, with spawn options sp.
xipc_run_options no_timeout(const xipc_spawn_options *sp = nullptr) {
  xipc_run_options o = {};
  o.timeout_ms = -1;
  o.spawn = sp;
  return o;
}

// Reads s to its end into *out (a thread body).
int read_all(xipc_stream *s, std::string *out) {
  std::vector<char> buf(CHUNK);
  for (;;) {
    size_t n = 0;
    int rc = xipc_stream_read(s, buf.data(), buf.size(), &n, xt::scaled_ms(60000));
    if (rc != 0) return rc;
    if (n == 0) return 0;
    out->append(buf.data(), n);
  }
}

struct Result {
  xipc_run_result r = {};
  ~Result() { xipc_run_result_free(&r); }
  std::string out() const { return std::string(r.out, r.out_len); }
  std::string err() const { return std::string(r.err, r.err_len); }
};

}  // namespace

// ---- PIPE ------------------------------------------------------------------

TEST(Child, EchoRoundTripsAllByteValues) {
  const std::string data = pattern(0, 4 * MiB);
  xipc_spawn_options o = {};
  o.stdin_mode = o.stdout_mode = XIPC_STDIO_PIPE;
  xt::Child c;
  XT_OK(c.start("echo_stdin", {}, &o));
  xipc_stream *in = xipc_proc_stdin(c.proc()), *out = xipc_proc_stdout(c.proc());
  ASSERT_NE(nullptr, in);
  ASSERT_NE(nullptr, out);
  EXPECT_EQ(nullptr, xipc_proc_stderr(c.proc())) << "stderr is not a PIPE";
  int wrc = -1;
  std::thread writer([&] {
    size_t n = 0;
    wrc = xipc_stream_write(in, data.data(), data.size(), &n, xt::scaled_ms(60000));
    if (wrc == 0) wrc = xipc_stream_shutdown(in);
  });
  std::string got;
  int rrc = read_all(out, &got);
  writer.join();
  XT_EXPECT_OK(wrc);
  XT_EXPECT_OK(rrc);
  ASSERT_EQ(data.size(), got.size());
  EXPECT_EQ(std::string::npos, mismatch(got.data(), got.size(), 0)) << "bytes changed on the way";
  EXPECT_EQ(0, c.exit_code());
}

TEST(Child, RunFeedsInputAndCapturesBigInterleavedOutput) {
  const size_t n = 8 * MiB;
  const std::string input = pattern(3, n);
  xipc_run_options o = {};
  o.input = input.data();
  o.input_len = input.size();
  o.timeout_ms = -1;
  Result res;
  XT_OK(run_self("spew3", {std::to_string(n), std::to_string(n), std::to_string(n)}, &o, &res.r));
  EXPECT_EQ(1, res.r.status.exited);
  EXPECT_EQ(0, res.r.status.exit_code) << res.err().substr(0, 300);
  ASSERT_EQ(n, res.r.out_len);
  ASSERT_EQ(n, res.r.err_len);
  EXPECT_EQ(std::string::npos, mismatch(res.r.out, n, 1));
  EXPECT_EQ(std::string::npos, mismatch(res.r.err, n, 2));
  EXPECT_EQ('\0', res.r.out[n]) << "NUL-terminated";
}

TEST(Child, ThreePipesReadByHandDoNotDeadlock) {
  const size_t n = 8 * MiB;
  const std::string input = pattern(3, n);
  xipc_spawn_options o = {};
  o.stdin_mode = o.stdout_mode = o.stderr_mode = XIPC_STDIO_PIPE;
  xt::Child c;
  std::string sn = std::to_string(n);
  XT_OK(c.start("spew3", {sn, sn, sn}, &o));
  std::string out, err;
  int wrc = -1, orc = -1, erc = -1;
  std::thread writer([&] {
    size_t done = 0;
    xipc_stream *in = xipc_proc_stdin(c.proc());
    wrc = xipc_stream_write(in, input.data(), input.size(), &done, xt::scaled_ms(60000));
    if (wrc == 0) wrc = xipc_stream_shutdown(in);
  });
  std::thread rerr([&] { erc = read_all(xipc_proc_stderr(c.proc()), &err); });
  orc = read_all(xipc_proc_stdout(c.proc()), &out);
  writer.join();
  rerr.join();
  XT_EXPECT_OK(wrc);
  XT_EXPECT_OK(orc);
  XT_EXPECT_OK(erc);
  ASSERT_EQ(n, out.size());
  ASSERT_EQ(n, err.size());
  EXPECT_EQ(std::string::npos, mismatch(out.data(), n, 1));
  EXPECT_EQ(std::string::npos, mismatch(err.data(), n, 2));
  EXPECT_EQ(0, c.exit_code());
}

TEST(Child, MergedStderrKeepsTheOrderOfWrites) {
  xipc_spawn_options sp = {};
  sp.stderr_mode = XIPC_STDIO_STDOUT;
  xipc_run_options o = no_timeout(&sp);
  Result res;
  XT_OK(run_self("alternate", {"300"}, &o, &res.r));
  std::string want;
  for (int i = 0; i < 300; i++)
    want += "out " + std::to_string(i) + "\nerr " + std::to_string(i) + "\n";
  // Windows' CRT writes text mode: "\n" arrives as "\r\n".
  std::string got = res.out();
  for (size_t p; (p = got.find("\r\n")) != std::string::npos;) got.erase(p, 1);
  EXPECT_EQ(want, got);
  EXPECT_EQ(0u, res.r.err_len);
  EXPECT_EQ(0, res.r.status.exit_code);
}

// ---- STREAM: a shell pipeline ----------------------------------------------

// Starts the pipeline `a | b` through one xipc_pipe, of which the parent
// keeps no end; b's stdout is a PIPE.
static int start_pipeline(xt::Child &a, const char *ha, const std::vector<std::string> &args,
                          xt::Child &b, const char *hb) {
  xipc_stream *r = nullptr, *w = nullptr;
  int rc = xipc_pipe_ex(&r, &w, XIPC_PIPE_CHILD_READ | XIPC_PIPE_CHILD_WRITE);
  if (rc != 0) return rc;
  xipc_spawn_options oa = {}, ob = {};
  oa.stdout_mode = XIPC_STDIO_STREAM;
  oa.stdout_stream = w;
  ob.stdin_mode = XIPC_STDIO_STREAM;
  ob.stdin_stream = r;
  ob.stdout_mode = XIPC_STDIO_PIPE;
  rc = a.start(ha, args, &oa);
  if (rc == 0) rc = b.start(hb, {}, &ob);
  xipc_stream_close(r);
  xipc_stream_close(w);
  return rc;
}

TEST(Child, PipelineOfTwoSeesEndOfStream) {
  xt::Child a, b;
  XT_OK(start_pipeline(a, "produce", {"3000000"}, b, "count_stdin"));
  std::string out;
  XT_OK(read_all(xipc_proc_stdout(b.proc()), &out));
  EXPECT_EQ("3000000", out);
  EXPECT_EQ(0, a.exit_code());
  EXPECT_EQ(0, b.exit_code());
}

TEST(Child, PipeEndGivenToOneChildIsNotHeldByTheNext) {
  xt::Flag ready("ready");
  xipc_stream *r = nullptr, *w = nullptr;
  XT_OK(xipc_pipe(&r, &w));
  xt::Cleanup close_r([&] { xipc_stream_close(r); });
  xipc_spawn_options oa = {};
  oa.stdout_mode = XIPC_STDIO_STREAM;
  oa.stdout_stream = w;
  xt::Child a, b;
  XT_OK(a.start("produce", {"1000"}, &oa));
  XT_OK(xipc_stream_close(w));
  XT_OK(b.start("sleep_ready", {ready}));  // lives on while r is read
  ASSERT_TRUE(xt::ready_wait(ready, xt::scaled_ms(60000), &b));
  EXPECT_EQ(0, a.exit_code());
  std::string got;
  XT_OK(read_all(r, &got)) << "end of stream must come while B runs";
  EXPECT_EQ(1000u, got.size());
  xipc_exit_status st;
  EXPECT_EQ(XIPC_EAGAIN, b.wait(0, &st)) << "B was still running";
}

// Another thread spawning long-lived children at the same time must not
// pick up the pipe ends of these runs (Windows: the inheritable stdio
// duplicates exist only during a spawn, and the handle list keeps them out
// of other children; POSIX: close-on-exec and the close actions). A leaked
// end would keep a run waiting for a sleeper that lives a minute.
TEST(Child, ConcurrentSpawnsDoNotHoldEachOthersPipes) {
  xt::Flag ready[6];
  xt::Child sleepers[6];
  std::atomic<int> started{0};
  std::thread spawner([&] {
    for (int i = 0; i < 6; i++)
      if (sleepers[i].start("sleep_ready", {ready[i]}) == 0) started++;
  });
  xipc_run_options o = {};
  o.timeout_ms = xt::scaled_ms(20000);
  int failures = 0;
  for (int i = 0; i < 12; i++) {
    Result res;
    if (run_self("say", {"x"}, &o, &res.r) != 0) failures++;
  }
  spawner.join();
  EXPECT_EQ(6, started.load());
  EXPECT_EQ(0, failures) << "a run waited for another child's end of its pipes";
}

TEST(Child, KilledWriterGivesEndOfStream) {
  xipc_spawn_options o = {};
  o.stdout_mode = XIPC_STDIO_PIPE;
  xt::Child c;
  XT_OK(c.start("spew_forever", {}, &o));
  std::vector<char> buf(CHUNK);
  size_t n = 0;
  XT_OK(xipc_stream_read(xipc_proc_stdout(c.proc()), buf.data(), buf.size(), &n,
                         xt::scaled_ms(60000)));
  EXPECT_GT(n, 0u);
  XT_OK(c.kill());
  std::string rest;
  XT_OK(read_all(xipc_proc_stdout(c.proc()), &rest)) << "drains, then end of stream";
  EXPECT_EQ(-2000 - XIPC_SIGKILL, c.exit_code());
}

// kill -9 of a pipeline stage at any moment: the next stage sees end of
// stream and finishes, the parent's handles keep working.
TEST(Child, KilledStageLeavesThePipelineWorking) {
  for (int round = 0; round < 5; round++) {
    xt::Child a, b;
    XT_OK(start_pipeline(a, "spew_forever", {}, b, "count_bytes"));
    xt::sleep_ms(round * 37 % 100);
    XT_OK(a.kill());
    std::string out;
    XT_OK(read_all(xipc_proc_stdout(b.proc()), &out));
    EXPECT_EQ(0, b.exit_code()) << round;
    EXPECT_FALSE(out.empty());
    EXPECT_EQ(-2000 - XIPC_SIGKILL, a.exit_code());
  }
}

TEST(Child, RunOfAChildThatDiesKeepsItsOutput) {
  Result res;
  XT_OK(run_self("print_then_die", {}, nullptr, &res.r));
  std::string out = res.out();
  out.erase(std::remove(out.begin(), out.end(), '\r'), out.end());
  EXPECT_EQ("before\n", out);
  EXPECT_EQ(0, res.r.status.exited);
  EXPECT_EQ(XIPC_SIGKILL, res.r.status.signal);
}

// ---- nothing else is inherited (issue 11, point 6) -------------------------

TEST(Child, DescriptorOpenedWithoutCloexecIsNotInherited) {
  std::string path = xt::temp_path("leak");
  intptr_t h = xt::leaky_open(path);
  ASSERT_NE(-1, h);
  xt::Cleanup rm([&] {
    xt::leaky_close(h);
    xt::remove_file(path);
  });
  ASSERT_TRUE(xt::leaky_usable(h, path)) << "the probe works in this process";
  xt::Child c;
  XT_OK(c.start("probe_leak", {std::to_string(static_cast<long long>(h)), path}));
  EXPECT_EQ(0, c.exit_code()) << "the child could use the parent's descriptor";
  // The same with streams passed: only those survive.
  xipc_stream *r = nullptr, *w = nullptr;
  XT_OK(xipc_pipe(&r, &w));
  xt::Cleanup close_pipe([&] {
    xipc_stream_close(r);
    xipc_stream_close(w);
  });
  xipc_spawn_options o = {};
  xipc_stream *pass[] = {w};
  o.pass = pass;
  o.npass = 1;
  xt::Child c2;
  XT_OK(c2.start("probe_leak", {std::to_string(static_cast<long long>(h)), path}, &o));
  EXPECT_EQ(0, c2.exit_code()) << "passing a stream let other descriptors through";
}

// ---- passing streams by token ------------------------------------------------

TEST(Child, PassedStreamIsFoundByItsToken) {
  xipc_stream *r = nullptr, *w = nullptr, *r2 = nullptr, *w2 = nullptr;
  XT_OK(xipc_pipe(&r, &w));
  XT_OK(xipc_pipe(&r2, &w2));
  xt::Cleanup close_pipes([&] {
    xipc_stream_close(r);
    xipc_stream_close(r2);
    xipc_stream_close(w2);
  });
  char token[64], other[64];
  XT_OK(xipc_stream_export(w, token, sizeof token));
  XT_OK(xipc_stream_export(w2, other, sizeof other));
  xipc_spawn_options o = {};
  xipc_stream *pass[] = {w, w};  // listed twice: passed once
  o.pass = pass;
  o.npass = 2;
  xt::Child c;
  XT_OK(c.start("write_token", {token, other}, &o));
  XT_OK(xipc_stream_close(w));
  std::string got;
  XT_OK(read_all(r, &got));
  EXPECT_EQ("via token", got);
  EXPECT_EQ(0, c.exit_code());
}

// ---- FILE and NULL -------------------------------------------------------------

TEST(Child, FileModesTruncateAppendAndFeedStdin) {
  std::string out = xt::temp_path("out"), err = xt::temp_path("err"), in = xt::temp_path("in");
  xt::Cleanup rm([&] {
    xt::remove_file(out);
    xt::remove_file(err);
    xt::remove_file(in);
  });
  ASSERT_TRUE(xt::write_file(out, "old contents that are longer"));
  xipc_spawn_options o = {};
  o.stdout_mode = o.stderr_mode = XIPC_STDIO_FILE;
  o.stdout_path = out.c_str();
  o.stderr_path = err.c_str();
  {
    xt::Child c;
    XT_OK(c.start("say", {"one"}, &o));
    EXPECT_EQ(0, c.exit_code());
  }
  EXPECT_EQ("one", xt::read_file(out)) << "truncated";
  EXPECT_EQ("E:one", xt::read_file(err)) << "created";
  o.flags = XIPC_SPAWN_STDOUT_APPEND | XIPC_SPAWN_STDERR_APPEND;
  {
    xt::Child c;
    XT_OK(c.start("say", {"two"}, &o));
    EXPECT_EQ(0, c.exit_code());
  }
  EXPECT_EQ("onetwo", xt::read_file(out));
  EXPECT_EQ("E:oneE:two", xt::read_file(err));
  namespace fs = std::filesystem;
  auto perms = fs::status(fs::u8path(err)).permissions();
  if (xt::get_env("SystemRoot").empty()) {  // POSIX modes; Windows has the DACL
    EXPECT_EQ(fs::perms::owner_read | fs::perms::owner_write, perms & fs::perms::all);
  }
  // stdin from a file.
  const std::string data = pattern(0, 100000);
  ASSERT_TRUE(xt::write_file(in, data));
  xipc_spawn_options oi = {};
  oi.stdin_mode = XIPC_STDIO_FILE;
  oi.stdin_path = in.c_str();
  oi.stdout_mode = XIPC_STDIO_PIPE;
  xt::Child c;
  XT_OK(c.start("echo_stdin", {}, &oi));
  std::string got;
  XT_OK(read_all(xipc_proc_stdout(c.proc()), &got));
  EXPECT_EQ(data, got);
  EXPECT_EQ(0, c.exit_code());
}

TEST(Child, UnopenableFileFailsTheSpawnAndStartsNoChild) {
  std::string marker = xt::temp_path("marker");
  std::string missing = xt::temp_path("no-such-dir") + "/file";
  xt::Cleanup rm([&] { xt::remove_file(marker); });
  std::string exe = xt::self_exe(), flag = "--helper=touch";
  std::vector<std::string> args = {marker};
  auto argv = helper_argv(exe, flag, args);
  for (int which = 0; which < 3; which++) {
    xipc_spawn_options o = {};
    int *mode[] = {&o.stdin_mode, &o.stdout_mode, &o.stderr_mode};
    const char **path[] = {&o.stdin_path, &o.stdout_path, &o.stderr_path};
    *mode[which] = XIPC_STDIO_FILE;
    *path[which] = missing.c_str();
    xipc_proc *p = reinterpret_cast<xipc_proc *>(1);
    EXPECT_EQ(XIPC_ENOENT, xipc_proc_spawn(&p, argv.data(), &o))
        << which << " system error " << xipc_last_system_error();
    EXPECT_EQ(nullptr, p);
  }
  // A directory cannot be a child's stdout: XIPC_EACCES on both platforms.
  std::string dir = std::filesystem::temp_directory_path().u8string();
  xipc_spawn_options od = {};
  od.stdout_mode = XIPC_STDIO_FILE;
  od.stdout_path = dir.c_str();
  xipc_proc *p = nullptr;
  EXPECT_EQ(XIPC_EACCES, xipc_proc_spawn(&p, argv.data(), &od));
  EXPECT_EQ(nullptr, p);
  xt::sleep_ms(xt::scaled_ms(200));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::u8path(marker))) << "a child ran";
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::u8path(missing)));
}

TEST(Child, NullStdioReadsNothing) {
  xipc_spawn_options sp = {};
  sp.stdin_mode = XIPC_STDIO_NULL;
  xipc_run_options o = no_timeout(&sp);
  Result res;
  XT_OK(run_self("echo_stdin", {}, &o, &res.r));
  EXPECT_EQ(0u, res.r.out_len);
  EXPECT_EQ(0, res.r.status.exit_code);
}

// ---- xipc_proc_run ---------------------------------------------------------------

TEST(Child, RunReportsExitCodeAndBothStreams) {
  Result res;
  XT_OK(run_self("say", {"hello"}, nullptr, &res.r));
  EXPECT_EQ("hello", res.out());
  EXPECT_EQ("E:hello", res.err());
  EXPECT_EQ(1, res.r.status.exited);
  Result res2;
  XT_OK(run_self("exit_with", {"9"}, nullptr, &res2.r));
  EXPECT_EQ(9, res2.r.status.exit_code);
  ASSERT_NE(nullptr, res2.r.out) << "empty output is an empty string, not NULL";
  EXPECT_EQ('\0', res2.r.out[0]);
  Result res3;
  xipc_run_options o = {};
  o.input = "";
  o.input_len = 0;
  o.timeout_ms = -1;
  XT_OK(run_self("echo_stdin", {}, &o, &res3.r)) << "empty input: end of stream at once";
  EXPECT_EQ(0u, res3.r.out_len);
}

TEST(Child, RunTimeoutKillsTheChildAndKeepsItsOutput) {
  xipc_run_options o = {};
  o.timeout_ms = xt::scaled_ms(3000);
  Result res;
  int64_t t0 = xt::now_ms();
  EXPECT_EQ(XIPC_ETIMEDOUT, run_self("print_then_sleep", {}, &o, &res.r));
  EXPECT_GE(xt::now_ms() - t0, o.timeout_ms - 1);
  EXPECT_EQ(0, res.r.status.exited);
  EXPECT_EQ(XIPC_SIGKILL, res.r.status.signal);
  std::string out = res.out(), err = res.err();
  out.erase(std::remove(out.begin(), out.end(), '\r'), out.end());
  err.erase(std::remove(err.begin(), err.end(), '\r'), err.end());
  EXPECT_EQ("started\n", out);
  EXPECT_EQ("err\n", err);
}

TEST(Child, RunOutputLimitKillsTheChild) {
  xipc_run_options o = {};
  o.timeout_ms = -1;
  o.max_output = 100000;
  Result res;
  EXPECT_EQ(XIPC_EMSGSIZE, run_self("spew_forever", {}, &o, &res.r));
  EXPECT_EQ(100000u, res.r.out_len) << "the output up to the limit is kept";
  EXPECT_EQ(std::string(100000, 'x'), res.out());
  EXPECT_EQ(0, res.r.status.exited);
  EXPECT_EQ(XIPC_SIGKILL, res.r.status.signal);
  Result exact;
  o.max_output = 7;  // stderr gets "E:12345"
  XT_OK(run_self("say", {"12345"}, &o, &exact.r)) << "exactly the limit is fine";
  EXPECT_EQ("12345", exact.out());
}

TEST(Child, ManyRunsLeakNoHandles) {
  { Result warm; XT_OK(run_self("say", {"x"}, nullptr, &warm.r)); }
  long before = xt::open_handle_count();
  for (int i = 0; i < 20; i++) {
    Result res;
    ASSERT_EQ(0, run_self("say", {"x"}, nullptr, &res.r)) << i;
  }
  int64_t deadline = xt::now_ms() + 30000;
  long after = xt::open_handle_count();
  while (after > before && xt::now_ms() < deadline) {
    xt::sleep_ms(10);
    after = xt::open_handle_count();
  }
  EXPECT_LE(after, before);
}

// ---- process groups and signals by handle --------------------------------------

TEST(Child, NewGroupKeepsConsoleCtrlCAway) {
  xipc_spawn_options o = {};
  o.flags = XIPC_SPAWN_NEW_GROUP;
  xt::Child c;
  XT_OK(c.start("group_leader", {}, &o));
  int code = c.exit_code(xt::scaled_ms(120000));
  if (code == 77) GTEST_SKIP() << "no console could be allocated";
  EXPECT_EQ(0, code);
}

TEST(Child, SignalByHandle) {
  xt::Flag ready("ready"), ready2("ready2");
  xt::Child c;
  XT_OK(c.start("wait_usr1", {ready}));
  ASSERT_TRUE(xt::ready_wait(ready, xt::scaled_ms(60000), &c));
  XT_OK(xipc_proc_signal(c.proc(), XIPC_SIGUSR1));
  EXPECT_EQ(42, c.exit_code()) << "the handler ran";
  EXPECT_EQ(XIPC_ESRCH, xipc_proc_signal(c.proc(), XIPC_SIGTERM)) << "reaped";

  xt::Child d;
  XT_OK(d.start("sleep_ready", {ready2}));
  ASSERT_TRUE(xt::ready_wait(ready2, xt::scaled_ms(60000), &d));
  XT_OK(xipc_proc_signal(d.proc(), XIPC_SIGTERM));
  xipc_exit_status st = {-1, -1, -1};
  XT_OK(d.wait(xt::scaled_ms(60000), &st));
  EXPECT_EQ(0, st.exited);
  EXPECT_EQ(XIPC_SIGTERM, st.signal) << "the default action";

  xipc_proc *p = nullptr;
  std::string exe = xt::self_exe();
  const char *argv[] = {exe.c_str(), "--helper=exit_with", "0", nullptr};
  XT_OK(xipc_proc_spawn(&p, argv, nullptr));
  // Exited but not waited for: still ESRCH, and the status stays available.
  int64_t deadline = xt::now_ms() + xt::scaled_ms(60000);
  int rc;
  while ((rc = xipc_proc_signal(p, XIPC_SIGKILL)) == 0 && xt::now_ms() < deadline) xt::sleep_ms(5);
  // The kill may have landed before the child exited; either way it is gone.
  EXPECT_EQ(XIPC_ESRCH, rc);
  XT_EXPECT_OK(xipc_proc_wait(p, 0, &st));
  xipc_proc_close(p);
}

// ---- bad input ---------------------------------------------------------------------

TEST(Child, BadInput) {
  std::string exe = xt::self_exe();
  const char *argv[] = {exe.c_str(), "--helper=exit_with", "0", nullptr};
  xipc_proc *p = nullptr;
  auto spawn = [&](const xipc_spawn_options &o) { return xipc_proc_spawn(&p, argv, &o); };
  xipc_spawn_options o = {};
  o.stdout_mode = XIPC_STDIO_STREAM;  // no stream
  EXPECT_EQ(XIPC_EINVAL, spawn(o));
  o = {};
  o.stdin_mode = XIPC_STDIO_STDOUT;
  EXPECT_EQ(XIPC_EINVAL, spawn(o)) << "only stderr can follow stdout";
  o = {};
  o.stdout_mode = XIPC_STDIO_STDOUT;
  EXPECT_EQ(XIPC_EINVAL, spawn(o));
  o = {};
  o.stderr_mode = XIPC_STDIO_FILE;  // no path
  EXPECT_EQ(XIPC_EINVAL, spawn(o));
  o.stderr_path = "";
  EXPECT_EQ(XIPC_EINVAL, spawn(o));
  o = {};
  o.flags = 1u << 20;
  EXPECT_EQ(XIPC_EINVAL, spawn(o)) << "unknown flag";
  o = {};
  o.flags = XIPC_SPAWN_STDOUT_APPEND;
  EXPECT_EQ(XIPC_EINVAL, spawn(o)) << "append without a FILE";
  o = {};
  o.npass = 1;
  EXPECT_EQ(XIPC_EINVAL, spawn(o)) << "npass without pass";
  xipc_stream *nulls[] = {nullptr};
  o.pass = nulls;
  EXPECT_EQ(XIPC_EINVAL, spawn(o)) << "a NULL stream in pass";
  o = {};
  o.stdin_mode = -1;
  EXPECT_EQ(XIPC_EINVAL, spawn(o));
  EXPECT_EQ(nullptr, p);
  // A stream that was shut down has nothing left to give the child.
  xipc_stream *r = nullptr, *w = nullptr;
  XT_OK(xipc_pipe(&r, &w));
  XT_OK(xipc_stream_shutdown(w));
  o = {};
  o.stdout_mode = XIPC_STDIO_STREAM;
  o.stdout_stream = w;
  EXPECT_EQ(XIPC_ECLOSED, spawn(o));
  xipc_stream_close(r);
  xipc_stream_close(w);

  EXPECT_EQ(XIPC_EINVAL, xipc_proc_signal(nullptr, XIPC_SIGTERM));
  EXPECT_EQ(nullptr, xipc_proc_stdin(nullptr));
  EXPECT_EQ(nullptr, xipc_proc_stdout(nullptr));
  EXPECT_EQ(nullptr, xipc_proc_stderr(nullptr));
  xt::Child c;
  XT_OK(c.start("exit_with", {"0"}));
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_signal(c.proc(), 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_signal(c.proc(), 99));
  EXPECT_EQ(nullptr, xipc_proc_stdout(c.proc())) << "not a PIPE";
  EXPECT_EQ(0, c.exit_code());

  xipc_run_result r0;
  std::memset(&r0, 0x5a, sizeof r0);
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_run(argv, nullptr, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_run(nullptr, nullptr, &r0));
  EXPECT_EQ(nullptr, r0.out) << "the result is cleared";
  xipc_run_options ro = {};
  ro.timeout_ms = -2;
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_run(argv, &ro, &r0));
  ro = {};
  ro.timeout_ms = -1;
  ro.input_len = 5;  // without input
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_run(argv, &ro, &r0));
  xipc_spawn_options sp = {};
  sp.stdout_mode = XIPC_STDIO_NULL;  // stdout is the run's own
  ro = {};
  ro.timeout_ms = -1;
  ro.spawn = &sp;
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_run(argv, &ro, &r0));
  sp = {};
  sp.stdin_mode = XIPC_STDIO_NULL;
  ro.input = "x";
  ro.input_len = 1;
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_run(argv, &ro, &r0)) << "input needs stdin";
  const char *missing[] = {"/nonexistent-xipc-dir/prog", nullptr};
  EXPECT_EQ(XIPC_ENOENT, xipc_proc_run(missing, nullptr, &r0));
  EXPECT_EQ(nullptr, r0.out);
  xipc_run_result_free(&r0);
  xipc_run_result_free(nullptr);
}
