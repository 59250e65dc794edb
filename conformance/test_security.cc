// Hostile names and foreign objects (issue 11): objects planted by another
// user, forged "managed" marks, FIFOs and symlinks at a name, existence
// against size, exits in the middle of a close, and Python's resource
// tracker.
#include "harness.h"

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

const int kWait = 30000;

// "" when this process can fork a helper that becomes another user;
// otherwise why not.
std::string no_other_user() {
  int rc = xt::fork_and_run([] { return xt::drop_root() ? 0 : 77; });
  if (rc == -1)
    return "no fork() or second user here: on Windows WindowsObjectOwnedByAnotherSidIsRefused "
           "plants foreign-owned objects instead";
  if (rc != 0) return "needs root to switch to another user (uid 65534)";
  return "";
}

// Waits for a helper of another user to write `path` (see plant_as_nobody);
// false after timeout_ms or once the child has exited without writing it.
bool file_appears(const std::string &path, int timeout_ms, xt::Child *c) {
  for (int64_t end = xt::now_ms() + timeout_ms; xt::now_ms() < end; xt::sleep_ms(10)) {
    if (!xt::read_file(path).empty()) return true;
    xipc_exit_status st;
    if (c->proc() != nullptr && xipc_proc_wait(c->proc(), 0, &st) == 0)
      return !xt::read_file(path).empty();
  }
  return false;
}

// Keeps a helper alive until it is killed (at most a minute).
int linger() {
  xt::sleep_ms(60000);
  return 3;
}

// Args: base readyfile. As uid 65534, plants world-writable or default
// objects at the names a victim will use: mapping base.m (mode 0666,
// holding "planted"), semaphore and mutex base, queue base.q; then holds
// them until killed.
XT_HELPER(plant_as_nobody) {
  XT_REQUIRE(argc >= 2);
  XT_REQUIRE(xt::drop_root());
  std::string base = argv[0];
  xipc_map_options o = {};
  o.mode = 0666;
  xipc_map *m;
  xipc_sem *s;
  xipc_mutex *mx;
  xipc_queue *q;
  XT_CHECK(xipc_map_named_ex(&m, (base + ".m").c_str(), 64, XIPC_ACCESS_WRITE,
                             XIPC_CREATE | XIPC_EXCL, &o));
  std::memcpy(xipc_map_data(m), "planted", 7);
  XT_CHECK(xipc_sem_open(&s, base.c_str(), 0, XIPC_CREATE | XIPC_EXCL));
  XT_CHECK(xipc_mutex_open(&mx, base.c_str(), XIPC_CREATE | XIPC_EXCL));
  XT_CHECK(xipc_queue_open(&q, (base + ".q").c_str(), nullptr, XIPC_CREATE | XIPC_EXCL));
  // A file, not an xt::Flag: this helper runs as another user, who can
  // neither open nor (by design) adopt the test's owner-only semaphore.
  XT_REQUIRE(xt::write_file(argv[1], "ready"));
  return linger();
}

void unlink_planted(const std::string &base) {
  xipc_map_unlink((base + ".m").c_str());
  xipc_sem_unlink(base.c_str());
  xipc_mutex_unlink(base.c_str());
  xipc_queue_unlink((base + ".q").c_str());
}

}  // namespace

// ---- point 7: objects of another user ------------------------------------

TEST(Security, PlantedObjectsOfAnotherUserAreRefused) {
  std::string why = no_other_user();
  if (!why.empty()) GTEST_SKIP() << why;
  std::string base = xt::unique_name("plant"), ready = xt::temp_path("ready");
  xt::Cleanup rm([&] {
    xt::remove_file(ready);
    unlink_planted(base);
  });
  xt::Child c;
  XT_OK(c.start("plant_as_nobody", {base, ready}));
  ASSERT_TRUE(file_appears(ready, kWait, &c));
  // The victim (root) opens, with XIPC_CREATE, names another user holds.
  xipc_map *m = reinterpret_cast<xipc_map *>(1);
  EXPECT_EQ(XIPC_EACCES, xipc_map_named(&m, (base + ".m").c_str(), 64, XIPC_ACCESS_WRITE, XIPC_CREATE));
  EXPECT_EQ(nullptr, m);
  EXPECT_EQ(XIPC_EACCES, xipc_map_named(&m, (base + ".m").c_str(), 0, XIPC_ACCESS_READ, 0));
  xipc_sem *s = nullptr;
  EXPECT_EQ(XIPC_EACCES, xipc_sem_open(&s, base.c_str(), 1, XIPC_CREATE));
  xipc_mutex *mx = nullptr;
  EXPECT_EQ(XIPC_EACCES, xipc_mutex_open(&mx, base.c_str(), XIPC_CREATE));
  xipc_queue *q = nullptr;
  EXPECT_EQ(XIPC_EACCES, xipc_queue_open(&q, (base + ".q").c_str(), nullptr, XIPC_CREATE));
  // Accepting other owners is explicit.
  XT_OK(xipc_map_named(&m, (base + ".m").c_str(), 0, XIPC_ACCESS_READ, XIPC_ANY_OWNER));
  EXPECT_EQ(0, xipc_map_created(m));
  EXPECT_EQ(0, std::memcmp(xipc_map_data(m), "planted", 7));
  XT_EXPECT_OK(xipc_map_close(m));
  XT_OK(xipc_sem_open(&s, base.c_str(), 0, XIPC_ANY_OWNER));
  XT_EXPECT_OK(xipc_sem_close(s));
  XT_OK(xipc_mutex_open(&mx, base.c_str(), XIPC_CREATE | XIPC_ANY_OWNER));
  XT_EXPECT_OK(xipc_mutex_close(mx));
  XT_OK(xipc_queue_open(&q, (base + ".q").c_str(), nullptr, XIPC_ANY_OWNER));
  XT_EXPECT_OK(xipc_queue_close(q));
}

TEST(Security, RootNeverRemovesAnotherUsersObject) {
  xt::SweepGuard sweeping;  // see harness.h
  std::string why = no_other_user();
  if (!why.empty()) GTEST_SKIP() << why;
  std::string name = xt::unique_name("stale");
  xt::Cleanup rm([&] { xipc_map_unlink(name.c_str()); });
  // Another user's xipc object whose holder is gone (it exits without
  // closing): stale, world-writable, and not ours to remove.
  int rc = xt::fork_and_run([&] {
    if (!xt::drop_root()) return 77;
    xipc_map_options o = {};
    o.mode = 0666;
    xipc_map *m;
    return xipc_map_named_ex(&m, name.c_str(), 64, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL, &o) == 0
               ? 0 : 1;
  });
  ASSERT_EQ(0, rc);
  ASSERT_TRUE(xt::shm_name_exists(name));
  size_t removed = 0;
  XT_OK(xipc_map_sweep(&removed));
  EXPECT_TRUE(xt::shm_name_exists(name));
  xipc_map *m = nullptr;
  EXPECT_EQ(XIPC_EACCES, xipc_map_named(&m, name.c_str(), 64, XIPC_ACCESS_WRITE, XIPC_CREATE));
  EXPECT_TRUE(xt::shm_name_exists(name));
  // Even opened explicitly, and closed as its only holder, it stays.
  XT_OK(xipc_map_named(&m, name.c_str(), 0, XIPC_ACCESS_WRITE, XIPC_ANY_OWNER));
  XT_EXPECT_OK(xipc_map_close(m));
  EXPECT_TRUE(xt::shm_name_exists(name));
}

TEST(Security, WritableByOthersIsRefusedUnlessAsked) {
  std::string name = xt::unique_name("wr");
  if (xt::shm_object_path(name).empty())
    GTEST_SKIP() << "Windows objects have no mode bits: they get the creator's default DACL";
  xipc_map_options o = {};
  o.mode = 0666;
  xipc_map *a = nullptr, *b = reinterpret_cast<xipc_map *>(1);
  XT_OK(xipc_map_named_ex(&a, name.c_str(), 64, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL, &o));
  xt::Cleanup close_a([&] { xipc_map_close(a); });
  EXPECT_EQ(XIPC_EACCES, xipc_map_named(&b, name.c_str(), 0, XIPC_ACCESS_READ, 0));
  EXPECT_EQ(nullptr, b);
  XT_OK(xipc_map_named_ex(&b, name.c_str(), 0, XIPC_ACCESS_READ, 0, &o));
  XT_EXPECT_OK(xipc_map_close(b));
  XT_OK(xipc_map_named(&b, name.c_str(), 0, XIPC_ACCESS_READ, XIPC_ANY_OWNER));
  XT_EXPECT_OK(xipc_map_close(b));
}

TEST(Security, WindowsObjectOwnedByAnotherSidIsRefused) {
  std::string base = xt::unique_name("sid");
  bool kept = false;
  void *h = xt::plant_foreign_owned(base, 0, &kept);
  if (h == nullptr && xt::shm_object_path(base).size() > 0)
    GTEST_SKIP() << "POSIX: covered by PlantedObjectsOfAnotherUserAreRefused (a second uid)";
  ASSERT_NE(nullptr, h);
  xt::Cleanup close_h([&] { xt::close_planted(h); });
  if (!kept)
    GTEST_SKIP() << "Wine does not keep the owner SID given in a kernel object's security "
                    "descriptor, so a foreign owner cannot be planted";
  void *sem = xt::plant_foreign_owned(base + ".xsem", 1, &kept);
  xt::Cleanup close_s([&] { xt::close_planted(sem); });
  void *mtx = xt::plant_foreign_owned(base + ".xmtx", 2, &kept);
  xt::Cleanup close_m([&] { xt::close_planted(mtx); });
  xipc_map *m = reinterpret_cast<xipc_map *>(1);
  EXPECT_EQ(XIPC_EACCES, xipc_map_named(&m, base.c_str(), 64, XIPC_ACCESS_WRITE, XIPC_CREATE));
  EXPECT_EQ(nullptr, m);
  xipc_sem *s = nullptr;
  EXPECT_EQ(XIPC_EACCES, xipc_sem_open(&s, base.c_str(), 0, XIPC_CREATE));
  xipc_mutex *mx = nullptr;
  EXPECT_EQ(XIPC_EACCES, xipc_mutex_open(&mx, base.c_str(), XIPC_CREATE));
  xipc_queue *q = nullptr;  // a queue is the mapping at its name
  EXPECT_EQ(XIPC_EACCES, xipc_queue_open(&q, base.c_str(), nullptr, XIPC_CREATE));
  XT_OK(xipc_map_named(&m, base.c_str(), 0, XIPC_ACCESS_WRITE, XIPC_ANY_OWNER));
  XT_EXPECT_OK(xipc_map_close(m));
  XT_OK(xipc_sem_open(&s, base.c_str(), 0, XIPC_ANY_OWNER));
  XT_EXPECT_OK(xipc_sem_close(s));
}

// ---- point 1 (map layer): existence wins over size -----------------------

TEST(Security, CreateExclOnASmallerObjectIsEexist) {
  std::string name = xt::unique_name("small");
  xipc_map *a = nullptr, *b = reinterpret_cast<xipc_map *>(1);
  XT_OK(xipc_map_named(&a, name.c_str(), 64, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  xt::Cleanup close_a([&] { xipc_map_close(a); });
  EXPECT_EQ(XIPC_EEXIST,
            xipc_map_named(&b, name.c_str(), 1 << 20, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  EXPECT_EQ(nullptr, b);
  XT_OK(xipc_map_named(&b, name.c_str(), 1 << 20, XIPC_ACCESS_WRITE, XIPC_CREATE));
  EXPECT_EQ(0, xipc_map_created(b));
  EXPECT_EQ(64u, xipc_map_size(b));
  XT_EXPECT_OK(xipc_map_close(b));
}

// ---- point 5: a FIFO at the name -----------------------------------------

TEST(Security, FifoAtTheNameIsRefusedAtOnce) {
  std::string name = xt::unique_name("fifo");
  std::string path = xt::shm_object_path(name);
  if (path.empty()) GTEST_SKIP() << "Windows has no FIFOs in the kernel object namespace";
  ASSERT_TRUE(xt::make_fifo(path));
  xt::Cleanup rm([&] { xt::remove_file(path); });
  for (int access : {XIPC_ACCESS_READ, XIPC_ACCESS_WRITE}) {
    std::atomic<int> rc{1};
    std::thread t([&] {
      xipc_map *m = nullptr;
      rc = xipc_map_named(&m, name.c_str(), 0, access, 0);
      if (m) xipc_map_close(m);
    });
    int64_t until = xt::now_ms() + xt::scaled_ms(5000);
    while (rc == 1 && xt::now_ms() < until) xt::sleep_ms(2);
    bool blocked = rc == 1;
    if (blocked) std::ofstream(path) << "x";  // a writer lets the open return
    t.join();
    EXPECT_FALSE(blocked) << "the open blocked on the FIFO";
    EXPECT_EQ(XIPC_EACCES, rc.load());
  }
  xipc_map *m = nullptr;
  EXPECT_EQ(XIPC_EACCES, xipc_map_named(&m, name.c_str(), 64, XIPC_ACCESS_WRITE, XIPC_CREATE));
  EXPECT_TRUE(fs::exists(fs::u8path(path)));
}

// ---- point 9: symlinks and directories -----------------------------------

TEST(Security, SymlinkAtTheNameIsRefusedNotFollowed) {
  std::string name = xt::unique_name("link");
  std::string path = xt::shm_object_path(name);
  if (path.empty())
    GTEST_SKIP() << "Windows: the kernel object namespace has no symlinks a user can plant here";
  std::string target = xt::temp_path("target");
  ASSERT_TRUE(xt::write_file(target, "secret"));
  xt::Cleanup rm([&] {
    xt::remove_file(path);
    xt::remove_file(target);
  });
  std::error_code ec;
  fs::create_symlink(fs::u8path(target), fs::u8path(path), ec);
  ASSERT_FALSE(ec) << ec.message();
  xipc_map *m = nullptr;
  EXPECT_EQ(XIPC_EACCES, xipc_map_named(&m, name.c_str(), 0, XIPC_ACCESS_READ, 0));
  EXPECT_EQ(XIPC_EACCES, xipc_map_named(&m, name.c_str(), 0, XIPC_ACCESS_WRITE, 0));
  EXPECT_EQ(XIPC_EACCES, xipc_map_named(&m, name.c_str(), 64, XIPC_ACCESS_WRITE, XIPC_CREATE));
  EXPECT_EQ(XIPC_EACCES,
            xipc_map_named(&m, name.c_str(), 64, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_ANY_OWNER));
  EXPECT_EQ("secret", xt::read_file(target));
}

TEST(Security, FileMappingOfADirectoryIsEacces) {
  std::string dir = xt::temp_path("dir");
  std::error_code ec;
  ASSERT_TRUE(fs::create_directory(fs::u8path(dir), ec)) << ec.message();
  xt::Cleanup rm([&] { fs::remove(fs::u8path(dir), ec); });
  xipc_map *m = nullptr;
  EXPECT_EQ(XIPC_EACCES, xipc_map_file(&m, dir.c_str(), 0, 0, XIPC_ACCESS_WRITE));
  EXPECT_EQ(XIPC_EACCES, xipc_map_file(&m, dir.c_str(), 0, 0, XIPC_ACCESS_READ));
  EXPECT_EQ(XIPC_EACCES, xipc_map_file_ex(&m, dir.c_str(), 8, 0, XIPC_ACCESS_WRITE,
                                          XIPC_MAP_EXTEND, nullptr));
  EXPECT_EQ(nullptr, m);
}

// ---- point 8: the managed mark -------------------------------------------

TEST(Security, ModeBitAloneIsNotTheManagedMark) {
  xt::SweepGuard sweeping;  // see harness.h
  std::string name = xt::unique_name("forge");
  std::string path = xt::shm_object_path(name);
  if (path.empty())
    GTEST_SKIP() << "Windows removes kernel objects only with their last handle: there is no mark";
  // Another program's object that happens to have mode 01600 and no lock,
  // mapped by that program.
  void *f = xt::foreign_map_create(name, 4096);
  ASSERT_NE(nullptr, f);
  xt::Cleanup rm([&] { xt::foreign_map_close(f, name); });
  fs::permissions(fs::u8path(path),
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::sticky_bit);
  void *p = xt::foreign_map_attach(name, 4096);
  ASSERT_NE(nullptr, p);
  xt::Cleanup detach([&] { xt::foreign_map_detach(p, 4096); });
  std::memcpy(p, "theirs", 6);
  size_t removed = 0;
  XT_OK(xipc_map_sweep(&removed));
  EXPECT_TRUE(xt::shm_name_exists(name));
  xipc_map *m = nullptr;
  XT_OK(xipc_map_named(&m, name.c_str(), 0, XIPC_ACCESS_READ, 0));
  EXPECT_EQ(0, std::memcmp(xipc_map_data(m), "theirs", 6));
  XT_EXPECT_OK(xipc_map_close(m));
  EXPECT_TRUE(xt::shm_name_exists(name));
}

namespace {
// Args: name ready.  Opens xipc object `name`, signals ready, holds it.
XT_HELPER(sec_hold) {
  XT_REQUIRE(argc >= 2);
  xipc_map *m;
  XT_CHECK(xipc_map_named(&m, argv[0], 0, XIPC_ACCESS_WRITE, 0));
  xt::ready_signal(argv[1]);
  return linger();
}
}  // namespace

TEST(Security, StaleObjectStillMappedByAProgramIsKept) {
  xt::SweepGuard sweeping;  // see harness.h
  std::string name = xt::unique_name("kept");
  xt::Flag ready("ready");
  xt::Cleanup rm([&] { xipc_map_unlink(name.c_str()); });
  {
    xipc_map *m;
    XT_OK(xipc_map_named(&m, name.c_str(), 4096, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
    xt::Child c;
    XT_OK(c.start("sec_hold", {name, ready}));
    ASSERT_TRUE(xt::ready_wait(ready, kWait, &c));
    XT_OK(xipc_map_close(m));
    // A program without xipc maps the object; then the only xipc holder dies.
    void *p = xt::foreign_map_attach(name, 4096);
    ASSERT_NE(nullptr, p);
    xt::Cleanup detach([&] { xt::foreign_map_detach(p, 4096); });
    std::memcpy(p, "mapped", 6);
    XT_OK(c.kill());
    c.exit_code();
    size_t removed = 0;
    XT_OK(xipc_map_sweep(&removed));
    EXPECT_TRUE(xt::shm_name_exists(name));
    XT_OK(xipc_map_named(&m, name.c_str(), 0, XIPC_ACCESS_READ, 0));
    EXPECT_EQ(0, std::memcmp(xipc_map_data(m), "mapped", 6));
    XT_EXPECT_OK(xipc_map_close(m));
  }
}

// ---- point 15: exit while another thread closes --------------------------

namespace {
xipc_map *g_closing_map;
std::atomic<int> g_close_started{0};

void close_in_handler(int, void *) {
  g_close_started = 1;
  xipc_map_close(g_closing_map);
}

// Args: name. Creates `name` (1 MiB, every page touched), lets a signal
// handler close it and exits from main as soon as the close has begun
// (its view is gone: the unmap is the close's first step).
XT_HELPER(exit_while_closing) {
  XT_REQUIRE(argc >= 1);
  const size_t n = 1u << 20;
  XT_CHECK(xipc_map_named(&g_closing_map, argv[0], n, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  void *p = xipc_map_data(g_closing_map);
  std::memset(p, 1, n);
  XT_CHECK(xipc_signal_handle(XIPC_SIGUSR1, close_in_handler, nullptr));
  XT_CHECK(xipc_signal_send(xipc_self_pid(), XIPC_SIGUSR1));
  while (g_close_started == 0 || xt::page_mapped(p)) {
  }
  return 0;
}
}  // namespace

TEST(Security, ExitWhileAHandlerClosesLeavesNoObject) {
  int left = 0;
  for (int i = 0; i < 60; i++) {
    std::string name = xt::unique_name("exit");
    xt::Child c;
    XT_OK(c.start("exit_while_closing", {name}));
    ASSERT_EQ(0, c.exit_code());
    if (xt::shm_name_exists(name)) {
      left++;
      xipc_map_unlink(name.c_str());
    }
  }
  EXPECT_EQ(0, left) << "runs of 60 that left the object behind";
}

// ---- Python interop: the resource tracker --------------------------------

namespace {
// Runs argv with stdout and stderr discarded; its exit code or -1.
int run_quiet(const std::vector<const char *> &args) {
  std::vector<const char *> argv(args);
  argv.push_back(nullptr);
  xipc_spawn_options o = {};
  o.stdout_mode = XIPC_STDIO_NULL;
  o.stderr_mode = XIPC_STDIO_NULL;
  xipc_proc *p = nullptr;
  if (xipc_proc_spawn(&p, argv.data(), &o) != 0) return -1;
  xipc_exit_status st = {0, -1, 0};
  int rc = xipc_proc_wait(p, xt::scaled_ms(60000), &st);
  xipc_proc_close(p);
  return rc == 0 && st.exited ? st.exit_code : -1;
}
}  // namespace

TEST(Security, PythonResourceTrackerUnlinkLeavesXipcHandlesWorking) {
  std::string name = xt::unique_name("py");
  if (xt::shm_object_path(name).empty())
    GTEST_SKIP() << "Windows Python does not unlink: its SharedMemory has no resource "
                    "tracker for kernel objects, which die with their last handle";
  if (run_quiet({"python3", "-c", "import multiprocessing.shared_memory"}) != 0)
    GTEST_SKIP() << "python3 with multiprocessing.shared_memory is not installed";
  xipc_map *m = nullptr;
  XT_OK(xipc_map_named(&m, name.c_str(), 4096, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  xt::Cleanup close_m([&] { xipc_map_close(m); });
  std::memcpy(xipc_map_data(m), "hello", 5);
  std::string code = "from multiprocessing import shared_memory as s\n"
                     "m = s.SharedMemory(name='" + name + "')\n"
                     "assert bytes(m.buf[:5]) == b'hello'\n"
                     "m.buf[5:7] = b'py'\n"
                     "m.close()\n";
  ASSERT_EQ(0, run_quiet({"python3", "-c", code.c_str()}));
  // Its resource tracker unlinks the name once the Python process is gone.
  int64_t until = xt::now_ms() + xt::scaled_ms(10000);
  while (xt::shm_name_exists(name) && xt::now_ms() < until) xt::sleep_ms(10);
  if (xt::shm_name_exists(name))
    GTEST_SKIP() << "this python3's SharedMemory does not unlink at exit";
  // The xipc handle keeps working; the name is gone for new opens.
  EXPECT_EQ(0, std::memcmp(xipc_map_data(m), "hellopy", 7));
  XT_OK(xipc_map_set(m, 7, "!", 1));
  xipc_map *n = reinterpret_cast<xipc_map *>(1);
  EXPECT_EQ(XIPC_ENOENT, xipc_map_named(&n, name.c_str(), 0, XIPC_ACCESS_READ, 0));
  EXPECT_EQ(nullptr, n);
}

// ---- points 11, 13, 14: contract details ---------------------------------

TEST(Security, BadCharacterWinsOverLength) {
  std::string bad(XIPC_NAME_MAX + 50, 'n');
  bad[10] = '/';
  EXPECT_EQ(XIPC_EINVAL, xipc_name_check(bad.c_str()));
  bad[10] = 'n';
  bad.back() = ' ';
  EXPECT_EQ(XIPC_EINVAL, xipc_name_check(bad.c_str()));
  xipc_map *m = nullptr;
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, bad.c_str(), 8, XIPC_ACCESS_WRITE, XIPC_CREATE));
  xipc_sem *s = nullptr;
  EXPECT_EQ(XIPC_EINVAL, xipc_sem_open(&s, bad.c_str(), 0, XIPC_CREATE));
  xipc_queue *q = nullptr;
  EXPECT_EQ(XIPC_EINVAL, xipc_queue_open(&q, bad.c_str(), nullptr, XIPC_CREATE));
  bad.back() = 'n';
  EXPECT_EQ(XIPC_ENAMETOOLONG, xipc_name_check(bad.c_str()));
}

TEST(Security, AnonymousResizeToPtrdiffMaxIsEnomem) {
  xipc_map *m = nullptr;
  XT_OK(xipc_map_anonymous(&m, 4096));
  xt::Cleanup close_m([&] { xipc_map_close(m); });
  static_cast<char *>(xipc_map_data(m))[0] = 'k';
  EXPECT_EQ(XIPC_ENOMEM, xipc_map_resize(m, static_cast<size_t>(PTRDIFF_MAX)));
  EXPECT_EQ(4096u, xipc_map_size(m));
  EXPECT_EQ('k', static_cast<char *>(xipc_map_data(m))[0]);
}

TEST(Security, FailedOpensSetOutToNull) {
  // Each opener, given garbage in *out and an input it must refuse (a bad
  // argument first, then a missing object), leaves NULL there.
  void *const garbage = reinterpret_cast<void *>(0x5a5a5a5a);
  std::string missing = xt::unique_name("none");
  xipc_map *m;
  m = static_cast<xipc_map *>(garbage);
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, "a/b", 8, XIPC_ACCESS_WRITE, XIPC_CREATE));
  EXPECT_EQ(nullptr, m);
  m = static_cast<xipc_map *>(garbage);
  EXPECT_EQ(XIPC_ENOENT, xipc_map_named(&m, missing.c_str(), 0, XIPC_ACCESS_READ, 0));
  EXPECT_EQ(nullptr, m);
  m = static_cast<xipc_map *>(garbage);
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, missing.c_str(), 8, XIPC_ACCESS_WRITE,
                                        XIPC_CREATE | XIPC_MAP_PERSIST));
  EXPECT_EQ(nullptr, m);
  xipc_map_options bad_opts = {};
  bad_opts.mode = 01777;
  m = static_cast<xipc_map *>(garbage);
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named_ex(&m, missing.c_str(), 8, XIPC_ACCESS_WRITE, XIPC_CREATE,
                                           &bad_opts));
  EXPECT_EQ(nullptr, m);
  m = static_cast<xipc_map *>(garbage);
  EXPECT_EQ(XIPC_EINVAL, xipc_map_file(&m, "", 0, 0, XIPC_ACCESS_READ));
  EXPECT_EQ(nullptr, m);
  m = static_cast<xipc_map *>(garbage);
  EXPECT_EQ(XIPC_ENOENT, xipc_map_file(&m, xt::temp_path("none").c_str(), 0, 0, XIPC_ACCESS_READ));
  EXPECT_EQ(nullptr, m);
  m = static_cast<xipc_map *>(garbage);
  EXPECT_EQ(XIPC_EINVAL, xipc_map_file_ex(&m, "x", 0, 0, XIPC_ACCESS_READ, 1u << 30, nullptr));
  EXPECT_EQ(nullptr, m);
  m = static_cast<xipc_map *>(garbage);
  EXPECT_EQ(XIPC_EINVAL, xipc_map_anonymous(&m, 0));
  EXPECT_EQ(nullptr, m);
  xipc_sem *s = static_cast<xipc_sem *>(garbage);
  EXPECT_EQ(XIPC_EINVAL, xipc_sem_open(&s, missing.c_str(), 0, XIPC_EXCL));
  EXPECT_EQ(nullptr, s);
  s = static_cast<xipc_sem *>(garbage);
  EXPECT_EQ(XIPC_ENOENT, xipc_sem_open(&s, missing.c_str(), 0, 0));
  EXPECT_EQ(nullptr, s);
  xipc_mutex *mx = static_cast<xipc_mutex *>(garbage);
  EXPECT_EQ(XIPC_EINVAL, xipc_mutex_open(&mx, "", XIPC_CREATE));
  EXPECT_EQ(nullptr, mx);
  mx = static_cast<xipc_mutex *>(garbage);
  EXPECT_EQ(XIPC_ENOENT, xipc_mutex_open(&mx, missing.c_str(), 0));
  EXPECT_EQ(nullptr, mx);
  xipc_queue *q = static_cast<xipc_queue *>(garbage);
  EXPECT_EQ(XIPC_EINVAL, xipc_queue_open(&q, missing.c_str(), nullptr, 1u << 30));
  EXPECT_EQ(nullptr, q);
  q = static_cast<xipc_queue *>(garbage);
  EXPECT_EQ(XIPC_ENOENT, xipc_queue_open(&q, missing.c_str(), nullptr, 0));
  EXPECT_EQ(nullptr, q);
  xipc_proc *p = static_cast<xipc_proc *>(garbage);
  const char *empty_argv[] = {nullptr};
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_spawn(&p, empty_argv, nullptr));
  EXPECT_EQ(nullptr, p);
  p = static_cast<xipc_proc *>(garbage);
  std::string nofile = xt::temp_path("nofile");
  const char *missing_argv[] = {nofile.c_str(), nullptr};
  EXPECT_NE(0, xipc_proc_spawn(&p, missing_argv, nullptr));
  EXPECT_EQ(nullptr, p);
}
