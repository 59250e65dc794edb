// Processes: spawn, argv/env/cwd, exit status, wait timeouts, kill, leaks.
#include "harness.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

// Args: outfile arg... Writes each argument followed by '\n'-free framing:
// "<len>:<bytes>" concatenated.
XT_HELPER(echo_argv) {
  XT_REQUIRE(argc >= 1);
  std::string out;
  for (int i = 1; i < argc; i++)
    out += std::to_string(std::string(argv[i]).size()) + ":" + argv[i];
  XT_REQUIRE(xt::write_file(argv[0], out));
  return 0;
}

// Args: outfile. Writes XT_VAR, XT_UNI and whether XT_PARENT_ONLY is set.
XT_HELPER(echo_env) {
  XT_REQUIRE(argc >= 1);
  bool parent_only = false;
  xt::get_env("XT_PARENT_ONLY", &parent_only);
  std::string out = xt::get_env("XT_VAR") + "|" + xt::get_env("XT_UNI") + "|" +
                    (parent_only ? "leaked" : "absent");
  XT_REQUIRE(xt::write_file(argv[0], out));
  return 0;
}

// Args: outfile. Writes the current directory.
XT_HELPER(echo_cwd) {
  XT_REQUIRE(argc >= 1);
  XT_REQUIRE(xt::write_file(argv[0], std::filesystem::current_path().u8string()));
  return 0;
}

// Args: code. Exits with code (the value under test).
XT_HELPER(exit_with) {
  XT_REQUIRE(argc >= 1);
  return std::atoi(argv[0]);
}

// Args: ready go (flags). Signals ready, then exits 7 once go is set.
XT_HELPER(wait_for_go) {
  XT_REQUIRE(argc >= 2);
  XT_CHECK(xt::ready_signal(argv[0]));
  XT_CHECK(xt::flag_wait(argv[1], xt::scaled_ms(60000)));
  return 7;
}

std::string encode(const std::vector<std::string> &args) {
  std::string out;
  for (const auto &a : args) out += std::to_string(a.size()) + ":" + a;
  return out;
}

}  // namespace

TEST(Proc, ArgvRoundTripsExactly) {
  const std::vector<std::string> tricky = {
      "plain", "", "two words", "  leading and trailing  ", "tab\there",
      "quote\"inside", "\"", "\"\"", "back\\slash", "trailing\\",
      "trailing\\\\", "\\\"", "a\\\\\"b", "a\\\\\\\"b", "end quote\"",
      "*?[]", "%PATH%", "$HOME", "caf\xc3\xa9 \xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac",
      "new\nline", "-", "--flag=value with space", "'single'"};
  std::string out = xt::temp_path("argv");
  xt::Cleanup rm([&] { xt::remove_file(out); });
  std::vector<std::string> args = {out};
  args.insert(args.end(), tricky.begin(), tricky.end());
  xt::Child c;
  XT_OK(c.start("echo_argv", args));
  ASSERT_EQ(0, c.exit_code());
  EXPECT_EQ(encode(tricky), xt::read_file(out));
}

TEST(Proc, EnvIsHonoured) {
  std::string out = xt::temp_path("env");
  xt::Cleanup rm([&] { xt::remove_file(out); });
  xt::set_env("XT_PARENT_ONLY", "1");
  xt::Cleanup unset([] { xt::set_env("XT_PARENT_ONLY", nullptr); });
  std::string sysroot = "SystemRoot=" + xt::get_env("SystemRoot");
  const char *env[] = {"XT_VAR=hello world", "XT_UNI=\xc3\xa9\xe2\x82\xac",
                       sysroot.c_str(), nullptr};
  xipc_spawn_options o = {};
  o.env = env;
  xt::Child c;
  XT_OK(c.start("echo_env", {out}, &o));
  ASSERT_EQ(0, c.exit_code());
  EXPECT_EQ("hello world|\xc3\xa9\xe2\x82\xac|absent", xt::read_file(out));
}

TEST(Proc, EnvIsInheritedByDefault) {
  std::string out = xt::temp_path("env");
  xt::Cleanup rm([&] { xt::remove_file(out); });
  xt::set_env("XT_VAR", "inherited");
  xt::Cleanup unset([] { xt::set_env("XT_VAR", nullptr); });
  xt::Child c;
  XT_OK(c.start("echo_env", {out}));
  ASSERT_EQ(0, c.exit_code());
  EXPECT_EQ("inherited||absent", xt::read_file(out));
}

TEST(Proc, CwdIsHonoured) {
  namespace fs = std::filesystem;
  fs::path dir = fs::u8path(xt::temp_path("cwd-\xc3\xbc"));
  fs::create_directory(dir);
  std::string out = xt::temp_path("cwd-out");
  xt::Cleanup rm([&] {
    std::error_code ec;
    fs::remove(dir, ec);
    xt::remove_file(out);
  });
  std::string dir8 = dir.u8string();
  xipc_spawn_options o = {};
  o.cwd = dir8.c_str();
  xt::Child c;
  XT_OK(c.start("echo_cwd", {out}, &o));
  ASSERT_EQ(0, c.exit_code());
  EXPECT_TRUE(fs::equivalent(dir, fs::u8path(xt::read_file(out))))
      << xt::read_file(out);
}

TEST(Proc, MissingProgramIsENOENT) {
  xipc_proc *p = nullptr;
  const char *abs[] = {"/nonexistent-xipc-dir/no-such-program", nullptr};
  EXPECT_EQ(XIPC_ENOENT, xipc_proc_spawn(&p, abs, nullptr));
  const char *bare[] = {"xipc-no-such-program-on-path", nullptr};
  EXPECT_EQ(XIPC_ENOENT, xipc_proc_spawn(&p, bare, nullptr));
  EXPECT_EQ(nullptr, p);
}

TEST(Proc, MissingCwdIsENOENT) {
  xipc_proc *p = nullptr;
  std::string exe = xt::self_exe();
  std::string dir = xt::temp_path("no-such-dir");
  const char *argv[] = {exe.c_str(), "--helper=exit_with", "0", nullptr};
  xipc_spawn_options o = {};
  o.cwd = dir.c_str();
  EXPECT_EQ(XIPC_ENOENT, xipc_proc_spawn(&p, argv, &o));
  EXPECT_EQ(nullptr, p);
}

TEST(Proc, ExitCodesComeBack) {
  for (int code : {0, 1, 42, 255}) {
    xt::Child c;
    XT_OK(c.start("exit_with", {std::to_string(code)}));
    xipc_exit_status st = {-1, -1, -1};
    XT_OK(c.wait(xt::scaled_ms(60000), &st));
    EXPECT_EQ(1, st.exited);
    EXPECT_EQ(code, st.exit_code);
    EXPECT_EQ(0, st.signal);
  }
}

TEST(Proc, StdioCanBeNull) {
  xipc_spawn_options o = {};
  o.stdin_mode = o.stdout_mode = o.stderr_mode = XIPC_STDIO_NULL;
  xt::Child c;
  XT_OK(c.start("exit_with", {"5"}, &o));
  EXPECT_EQ(5, c.exit_code());
}

TEST(Proc, WaitTimeoutSemantics) {
  xt::Flag ready("ready"), go("go");
  xt::Child c;
  XT_OK(c.start("wait_for_go", {ready, go}));
  ASSERT_TRUE(xt::ready_wait(ready, xt::scaled_ms(60000), &c));
  xipc_exit_status st;
  EXPECT_EQ(XIPC_EAGAIN, c.wait(0, &st));
  int64_t t0 = xt::now_ms();
  EXPECT_EQ(XIPC_ETIMEDOUT, c.wait(200, &st));
  EXPECT_GE(xt::now_ms() - t0, 199);
  XT_OK(go.set());
  XT_OK(c.wait(-1, &st));
  EXPECT_EQ(1, st.exited);
  EXPECT_EQ(7, st.exit_code);
  XT_OK(c.wait(0, &st)) << "waiting again returns the same status";
  EXPECT_EQ(7, st.exit_code);
}

TEST(Proc, KilledChildIsReportedAsKilled) {
  xt::Flag ready("ready"), go("go");
  xt::Child c;
  XT_OK(c.start("wait_for_go", {ready, go}));
  ASSERT_TRUE(xt::ready_wait(ready, xt::scaled_ms(60000), &c));
  XT_OK(c.kill());
  xipc_exit_status st = {-1, -1, -1};
  XT_OK(c.wait(xt::scaled_ms(60000), &st));
  EXPECT_EQ(0, st.exited);
  EXPECT_EQ(XIPC_SIGKILL, st.signal);
  XT_OK(c.kill()) << "killing an exited child is a no-op";
}

TEST(Proc, PidsAreDistinctAndPositive) {
  xt::Child c;
  XT_OK(c.start("exit_with", {"0"}));
  EXPECT_GT(c.pid(), 0);
  EXPECT_NE(c.pid(), xipc_self_pid());
  EXPECT_GT(xipc_self_pid(), 0);
  EXPECT_EQ(0, c.exit_code());
}

TEST(Proc, EnvEntryWithoutEqualsIsEINVAL) {
  std::string exe = xt::self_exe();
  const char *argv[] = {exe.c_str(), "--helper=exit_with", "0", nullptr};
  const char *no_equals[] = {"XT_VAR=fine", "XT_NO_EQUALS", nullptr};
  const char *no_name[] = {"=value", nullptr};
  xipc_proc *p = nullptr;
  xt::Cleanup reap([&] {
    if (p == nullptr) return;  // only when spawn wrongly succeeded
    xipc_proc_wait(p, -1, nullptr);
    xipc_proc_close(p);
  });
  xipc_spawn_options o = {};
  o.env = no_equals;
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_spawn(&p, argv, &o));
  ASSERT_EQ(nullptr, p) << "started a child with an entry that is not K=V";
  o.env = no_name;
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_spawn(&p, argv, &o));
  ASSERT_EQ(nullptr, p) << "started a child with an entry of no name";
}

// Many short timed waits on a running child, each started at a chosen
// point of a millisecond of the monotonic clock: a deadline kept in whole
// milliseconds, or a wait that the OS ends a timer tick early, shows as a
// XIPC_ETIMEDOUT before timeout_ms have passed.
TEST(Proc, TimedWaitNeverEndsEarly) {
  using clock = std::chrono::steady_clock;
  xt::Flag ready("ready"), go("go");
  xt::Child c;
  XT_OK(c.start("wait_for_go", {ready, go}));
  ASSERT_TRUE(xt::ready_wait(ready, xt::scaled_ms(60000), &c));
  int waits = 0, early = 0, worst_timeout = 0;
  int64_t worst_ns = 0;  // the largest shortfall
  for (int round = 0; round < 5; round++)
    for (int timeout = 1; timeout <= 5; timeout++)
      for (int phase_us : {0, 500, 900, 990, 996, 998}) {
        // Start phase_us (+ up to 1) into a millisecond, so that the call
        // crosses into the next one; give up aligning after 20 ms (a busy
        // machine) and start anywhere.
        clock::time_point t0, give_up = clock::now() + std::chrono::milliseconds(20);
        int64_t in_ms;
        do {
          t0 = clock::now();
          in_ms = std::chrono::duration_cast<std::chrono::microseconds>(
                      t0.time_since_epoch()).count() % 1000;
        } while ((in_ms < phase_us || in_ms > phase_us + 1) && t0 < give_up);
        xipc_exit_status st;
        int rc = xipc_proc_wait(c.proc(), timeout, &st);
        int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         clock::now() - t0).count();
        ASSERT_EQ(XIPC_ETIMEDOUT, rc) << xipc_err_name(rc);
        waits++;
        int64_t shortfall = timeout * INT64_C(1000000) - ns;
        if (shortfall > 0) early++;
        if (shortfall > worst_ns) {
          worst_ns = shortfall;
          worst_timeout = timeout;
        }
      }
  EXPECT_EQ(0, early) << early << " of " << waits << " waits ended early; the worst "
                      << worst_ns << " ns before its " << worst_timeout << " ms";
  XT_OK(go.set());
  EXPECT_EQ(7, c.exit_code());
}

TEST(Proc, ManySpawnsLeakNoHandlesAndNoZombies) {
  // Warm up lazily created OS state before counting.
  { xt::Child c; XT_OK(c.start("exit_with", {"0"})); ASSERT_EQ(0, c.exit_code()); }
  long before = xt::open_handle_count();
  ASSERT_GT(before, 0);
  for (int i = 0; i < 200; i++) {
    xipc_proc *p = nullptr;
    std::string exe = xt::self_exe();
    const char *argv[] = {exe.c_str(), "--helper=exit_with", "3", nullptr};
    ASSERT_EQ(0, xipc_proc_spawn(&p, argv, nullptr)) << i;
    if (i % 2 == 0) {
      xipc_exit_status st;
      ASSERT_EQ(0, xipc_proc_wait(p, xt::scaled_ms(60000), &st));
      ASSERT_EQ(3, st.exit_code);
    }
    // Odd ones are closed while (perhaps) still running: xipc must reap them.
    ASSERT_EQ(0, xipc_proc_close(p));
  }
  // Children closed while running exit in their own time; once none is
  // left at all, none may linger as a zombie.
  int64_t deadline = xt::now_ms() + xt::scaled_ms(60000);
  while (xt::child_processes() > 0 && xt::now_ms() < deadline) xt::sleep_ms(10);
  EXPECT_EQ(0, xt::child_processes());
  EXPECT_EQ(0, xt::zombie_children());
  // Reaper threads (POSIX) may still be finishing; allow them to drain.
  long after = xt::open_handle_count();
  while (after > before && xt::now_ms() < deadline) {
    xt::sleep_ms(10);
    after = xt::open_handle_count();
  }
  EXPECT_LE(after, before);
}

TEST(Proc, ExePathIsThisBinary) {
  char buf[4096];
  size_t len = 0;
  XT_OK(xipc_exe_path(buf, sizeof buf, &len));
  EXPECT_EQ(len, std::string(buf).size());
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::u8path(buf)));
  char tiny[2];
  size_t need = 0;
  EXPECT_EQ(XIPC_ERANGE, xipc_exe_path(tiny, sizeof tiny, &need));
  EXPECT_EQ(len, need) << "the needed length is reported";
  EXPECT_EQ(XIPC_EINVAL, xipc_exe_path(nullptr, 10, &need));
}

TEST(Proc, BadInput) {
  xipc_proc *p = nullptr;
  const char *argv[] = {"x", nullptr};
  const char *empty[] = {nullptr};
  const char *blank[] = {"", nullptr};
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_spawn(nullptr, argv, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_spawn(&p, nullptr, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_spawn(&p, empty, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_spawn(&p, blank, nullptr));
  xipc_spawn_options o = {};
  o.stdout_mode = 7;
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_spawn(&p, argv, &o));
  const char *badutf[] = {"\xff\xfe", nullptr};
  int rc = xipc_proc_spawn(&p, badutf, nullptr);
  EXPECT_TRUE(rc == XIPC_EINVAL || rc == XIPC_ENOENT) << xipc_err_name(rc);
  xipc_exit_status st;
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_wait(nullptr, 0, &st));
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_kill(nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_close(nullptr));
  EXPECT_EQ(-1, xipc_proc_pid(nullptr));
  xt::Child c;
  XT_OK(c.start("exit_with", {"0"}));
  EXPECT_EQ(XIPC_EINVAL, c.wait(-2, &st));
  EXPECT_EQ(0, c.exit_code());
}
