// Named semaphores and robust named mutexes: cross-process counting and
// exclusion, timeouts, owner death and recovery, lifetime, bad input.
#include "harness.h"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

// Helpers report an xipc failure as exit code -rc (XIPC_EOWNERDEAD -> 15).
int code_of(int rc) { return rc < 0 ? -rc : rc; }

// How long a helper waits for the test (a scaled minute, so a helper never
// outlives a crashed test run for long).
int helper_wait_ms() { return xt::scaled_ms(60000); }

// Keeps a helper alive until it is killed (at most helper_wait_ms()).
int linger() {
  xt::sleep_ms(helper_wait_ms());
  xt::helper_failed(__FILE__, __LINE__, "not killed within the helper wait", 1);
  return XT_HELPER_FAILED;
}

// Args: name count. Opens an existing semaphore and posts count times.
XT_HELPER(sem_post_n) {
  XT_REQUIRE(argc >= 2);
  xipc_sem *s;
  int rc = xipc_sem_open(&s, argv[0], 0, 0);
  for (long i = std::atol(argv[1]); rc == 0 && i > 0; i--) rc = xipc_sem_post(s);
  if (rc == 0) rc = xipc_sem_close(s);
  return code_of(rc);
}

// Args: name timeout_ms. Opens an existing semaphore and waits once.
XT_HELPER(sem_wait_once) {
  XT_REQUIRE(argc >= 2);
  xipc_sem *s;
  int rc = xipc_sem_open(&s, argv[0], 0, 0);
  if (rc != 0) return code_of(rc);
  rc = xipc_sem_wait(s, std::atoi(argv[1]));
  xipc_sem_close(s);
  return code_of(rc);
}

// Args: name ready. Creates the semaphore and holds it open until killed.
XT_HELPER(sem_hold) {
  XT_REQUIRE(argc >= 2);
  xipc_sem *s;
  int rc = xipc_sem_open(&s, argv[0], 0, XIPC_CREATE);
  if (rc != 0) return code_of(rc);
  XT_CHECK(xt::ready_signal(argv[1]));
  return linger();
}

// Args: name resultfile ready [go]. Opens (creating if needed) and locks
// the mutex, writes the lock result to resultfile and signals ready, then
// either unlocks once go is set or holds the lock until killed.
XT_HELPER(mutex_hold) {
  XT_REQUIRE(argc >= 3);
  xipc_mutex *m;
  int rc = xipc_mutex_open(&m, argv[0], XIPC_CREATE);
  if (rc == 0) rc = xipc_mutex_lock(m, xt::scaled_ms(30000));
  if (rc != 0 && rc != XIPC_EOWNERDEAD) return code_of(rc);
  XT_REQUIRE(xt::write_file(argv[1], std::to_string(rc)));
  XT_CHECK(xt::ready_signal(argv[2]));
  if (argc < 4) return linger();
  XT_CHECK(xt::flag_wait(argv[3], helper_wait_ms()));
  rc = xipc_mutex_unlock(m);
  if (rc == 0) rc = xipc_mutex_close(m);
  return code_of(rc);
}

// Args: name. Opens an existing mutex, locks and unlocks it once.
XT_HELPER(mutex_lock_once) {
  XT_REQUIRE(argc >= 1);
  xipc_mutex *m;
  int rc = xipc_mutex_open(&m, argv[0], 0);
  if (rc != 0) return code_of(rc);
  rc = xipc_mutex_lock(m, xt::scaled_ms(30000));
  if (rc == 0) rc = xipc_mutex_unlock(m);
  xipc_mutex_close(m);
  return code_of(rc);
}

// Args: mutex map go iterations. Waits for the start semaphore `go`, then
// increments the counter at the start of the named mapping `iterations`
// times, each under the mutex, with a read-modify-write made slow enough
// that without exclusion updates get lost (even on one CPU, by preemption).
XT_HELPER(mutex_count) {
  XT_REQUIRE(argc >= 4);
  xipc_mutex *m;
  xipc_map *map;
  xipc_sem *go;
  int rc = xipc_mutex_open(&m, argv[0], 0);
  if (rc == 0) rc = xipc_map_named(&map, argv[1], 0, XIPC_ACCESS_WRITE, 0);
  if (rc == 0) rc = xipc_sem_open(&go, argv[2], 0, 0);
  if (rc == 0) rc = xipc_sem_wait(go, helper_wait_ms());
  if (rc != 0) return code_of(rc);
  volatile uint64_t *counter = static_cast<uint64_t *>(xipc_map_data(map));
  for (long i = std::atol(argv[3]); rc == 0 && i > 0; i--) {
    rc = xipc_mutex_lock(m, xt::scaled_ms(30000));
    if (rc != 0) break;
    uint64_t v = *counter;
    for (volatile int spin = 0; spin < 100; spin = spin + 1) {
    }
    *counter = v + 1;
    rc = xipc_mutex_unlock(m);
  }
  xipc_sem_close(go);
  xipc_map_close(map);
  xipc_mutex_close(m);
  return code_of(rc);
}

// Expects `call` to reject every malformed name with the documented code.
void expect_bad_names(const std::function<int(const char *)> &call) {
  EXPECT_EQ(XIPC_EINVAL, call(nullptr));
  for (const char *bad : {"", ".hidden", "a/b", "a\\b", "sp ace", "caf\xc3\xa9"})
    EXPECT_EQ(XIPC_EINVAL, call(bad)) << bad;
  // The longest sync name leaves room for the private suffix.
  EXPECT_EQ(XIPC_ENAMETOOLONG, call(std::string(XIPC_SYNC_NAME_MAX + 1, 'a').c_str()));
  EXPECT_EQ(XIPC_ENAMETOOLONG, call(std::string(XIPC_NAME_MAX + 1, 'a').c_str()));
}

// Closes a semaphore at scope end.
struct SemGuard {
  xipc_sem *s = nullptr;
  ~SemGuard() {
    if (s) xipc_sem_close(s);
  }
};

// Unlocks (if this thread holds it) and closes a mutex at scope end.
struct MutexGuard {
  xipc_mutex *m = nullptr;
  ~MutexGuard() {
    if (!m) return;
    xipc_mutex_unlock(m);
    xipc_mutex_close(m);
  }
};

// Starts mutex_hold on `name` and waits until it holds the lock; returns the
// helper's lock result (0 or XIPC_EOWNERDEAD), or 1 if it never got there.
int start_holder(xt::Child &c, const std::string &name, const xt::Flag *go = nullptr) {
  std::string result = xt::temp_path("result");
  xt::Cleanup rm([&] { xt::remove_file(result); });
  xt::Flag ready("ready");
  std::vector<std::string> args = {name, result, ready};
  if (go != nullptr) args.push_back(go->token());
  if (c.start("mutex_hold", args) != 0) return 1;
  if (!xt::ready_wait(ready, xt::scaled_ms(60000), &c)) return 1;
  return std::atoi(xt::read_file(result).c_str());
}

// Starts a holder of `name` and kills it while it holds the lock.
void kill_holder(const std::string &name, int expect_lock_rc = 0) {
  xt::Child c;
  ASSERT_EQ(expect_lock_rc, start_holder(c, name));
  XT_OK(c.kill());
  ASSERT_EQ(-2000 - XIPC_SIGKILL, c.exit_code());
}

// Opens (creating) mutex `name`, then lets a helper die holding it.
void open_with_dead_owner(xipc_mutex **m, const std::string &name) {
  XT_OK(xipc_mutex_open(m, name.c_str(), XIPC_CREATE));
  kill_holder(name);
}

}  // namespace

// ---- semaphores ----------------------------------------------------------

TEST(Sem, PostInOneProcessWaitInAnother) {
  std::string a = xt::unique_name("sem"), b = xt::unique_name("sem");
  SemGuard sa, sb;
  XT_OK(xipc_sem_open(&sa.s, a.c_str(), 0, XIPC_CREATE | XIPC_EXCL));
  XT_OK(xipc_sem_open(&sb.s, b.c_str(), 0, XIPC_CREATE | XIPC_EXCL));

  // The helper blocks forever on a; our post releases it.
  xt::Child waiter;
  XT_OK(waiter.start("sem_wait_once", {a, "-1"}));
  XT_OK(xipc_sem_post(sa.s));
  EXPECT_EQ(0, waiter.exit_code(xt::scaled_ms(60000)));

  // The helper posts b; our wait sees it.
  xt::Child poster;
  XT_OK(poster.start("sem_post_n", {b, "1"}));
  XT_EXPECT_OK(xipc_sem_wait(sb.s, xt::scaled_ms(60000)));
  EXPECT_EQ(0, poster.exit_code());
  EXPECT_EQ(XIPC_EAGAIN, xipc_sem_wait(sb.s, 0));
}

TEST(Sem, PostsFromSeveralProcessesAddUp) {
  const int kHelpers = 4, kPosts = 2500;  // 10,000 posts in all
  std::string name = xt::unique_name("sem");
  SemGuard s;
  XT_OK(xipc_sem_open(&s.s, name.c_str(), 0, XIPC_CREATE | XIPC_EXCL));
  std::vector<xt::Child> kids(kHelpers);
  for (auto &k : kids) XT_OK(k.start("sem_post_n", {name, std::to_string(kPosts)}));
  // Consume while they post, so waits block and are woken across processes.
  int got = 0;
  while (got < kHelpers * kPosts && xipc_sem_wait(s.s, xt::scaled_ms(60000)) == 0) got++;
  EXPECT_EQ(kHelpers * kPosts, got);
  for (auto &k : kids) EXPECT_EQ(0, k.exit_code());
  EXPECT_EQ(XIPC_EAGAIN, xipc_sem_wait(s.s, 0));
}

TEST(Sem, InitialCountOnlyWhenCreated) {
  std::string name = xt::unique_name("sem");
  SemGuard a, b;
  XT_OK(xipc_sem_open(&a.s, name.c_str(), 2, XIPC_CREATE));
  XT_OK(xipc_sem_open(&b.s, name.c_str(), 5, XIPC_CREATE));  // joins: 5 ignored
  XT_EXPECT_OK(xipc_sem_wait(b.s, 0));
  XT_EXPECT_OK(xipc_sem_wait(a.s, 0));
  EXPECT_EQ(XIPC_EAGAIN, xipc_sem_wait(b.s, 0));
  XT_EXPECT_OK(xipc_sem_post(a.s));
  XT_EXPECT_OK(xipc_sem_wait(b.s, 0));
}

TEST(Sem, TimedWaitTimesOutAfterTheTimeout) {
  std::string name = xt::unique_name("sem");
  SemGuard s;
  XT_OK(xipc_sem_open(&s.s, name.c_str(), 0, XIPC_CREATE));
  for (int timeout : {1, 150}) {
    int64_t t0 = xt::now_ms();
    EXPECT_EQ(XIPC_ETIMEDOUT, xipc_sem_wait(s.s, timeout));
    int64_t took = xt::now_ms() - t0;
    EXPECT_GE(took, timeout);
    EXPECT_LT(took, timeout + xt::scaled_ms(5000));
  }
}

TEST(Sem, ZeroTimeoutDoesNotBlock) {
  std::string name = xt::unique_name("sem");
  SemGuard s;
  XT_OK(xipc_sem_open(&s.s, name.c_str(), 1, XIPC_CREATE));
  XT_EXPECT_OK(xipc_sem_wait(s.s, 0));
  int64_t t0 = xt::now_ms();
  for (int i = 0; i < 10; i++) EXPECT_EQ(XIPC_EAGAIN, xipc_sem_wait(s.s, 0));
  EXPECT_LT(xt::now_ms() - t0, xt::scaled_ms(500));  // 10 polls; one blocking wait is >= 1 ms
}

TEST(Sem, CountIsBoundedByValueMax) {
  std::string name = xt::unique_name("sem");
  SemGuard s;
  XT_OK(xipc_sem_open(&s.s, name.c_str(), XIPC_SEM_VALUE_MAX, XIPC_CREATE));
  EXPECT_EQ(XIPC_ERANGE, xipc_sem_post(s.s));
  XT_EXPECT_OK(xipc_sem_wait(s.s, 0));
  XT_EXPECT_OK(xipc_sem_post(s.s));
  EXPECT_EQ(XIPC_ERANGE, xipc_sem_post(s.s));
}

TEST(Sem, CreateExclAndMissing) {
  std::string name = xt::unique_name("sem");
  SemGuard a, b;
  EXPECT_EQ(XIPC_ENOENT, xipc_sem_open(&a.s, name.c_str(), 0, 0));
  XT_OK(xipc_sem_open(&a.s, name.c_str(), 0, XIPC_CREATE | XIPC_EXCL));
  EXPECT_EQ(XIPC_EEXIST, xipc_sem_open(&b.s, name.c_str(), 0, XIPC_CREATE | XIPC_EXCL));
  XT_OK(xipc_sem_open(&b.s, name.c_str(), 0, 0));
  XT_EXPECT_OK(xipc_sem_post(a.s));  // one object behind both handles
  XT_EXPECT_OK(xipc_sem_wait(b.s, 0));
}

TEST(Sem, GoneAfterLastClose) {
  std::string name = xt::unique_name("sem");
  xipc_sem *a, *b;
  XT_OK(xipc_sem_open(&a, name.c_str(), 3, XIPC_CREATE));
  XT_OK(xipc_sem_open(&b, name.c_str(), 0, 0));
  XT_OK(xipc_sem_close(a));
  XT_OK(xipc_sem_open(&a, name.c_str(), 0, 0));  // b keeps it alive
  XT_EXPECT_OK(xipc_sem_wait(a, 0));
  XT_OK(xipc_sem_close(a));
  XT_OK(xipc_sem_close(b));
  EXPECT_EQ(XIPC_ENOENT, xipc_sem_open(&a, name.c_str(), 0, 0));
  // A new semaphore of the same name starts from its own initial count.
  XT_OK(xipc_sem_open(&a, name.c_str(), 0, XIPC_CREATE | XIPC_EXCL));
  EXPECT_EQ(XIPC_EAGAIN, xipc_sem_wait(a, 0));
  XT_OK(xipc_sem_close(a));
}

TEST(Sem, GoneAfterKilledHolder) {
  std::string name = xt::unique_name("sem");
  xt::Flag ready("ready");
  xt::Child c;
  XT_OK(c.start("sem_hold", {name, ready}));
  ASSERT_TRUE(xt::ready_wait(ready, xt::scaled_ms(60000), &c));
  xipc_sem *s;
  XT_OK(xipc_sem_open(&s, name.c_str(), 0, 0));
  XT_OK(xipc_sem_close(s));
  XT_OK(c.kill());
  ASSERT_EQ(-2000 - XIPC_SIGKILL, c.exit_code());
  EXPECT_EQ(XIPC_ENOENT, xipc_sem_open(&s, name.c_str(), 0, 0));
}

TEST(Sem, BadInput) {
  xipc_sem *s = nullptr;
  std::string ok = xt::unique_name("sem");
  expect_bad_names([&](const char *n) { return xipc_sem_open(&s, n, 0, XIPC_CREATE); });
  expect_bad_names(xipc_sem_unlink);
  EXPECT_EQ(XIPC_EINVAL, xipc_sem_open(nullptr, ok.c_str(), 0, XIPC_CREATE));
  EXPECT_EQ(XIPC_EINVAL, xipc_sem_open(&s, ok.c_str(), 0, XIPC_EXCL));
  EXPECT_EQ(XIPC_EINVAL, xipc_sem_open(&s, ok.c_str(), 0, 1u << 7));
  EXPECT_EQ(XIPC_ERANGE, xipc_sem_open(&s, ok.c_str(), XIPC_SEM_VALUE_MAX + 1u, XIPC_CREATE));
  EXPECT_EQ(nullptr, s);  // nothing was created by the failures above
  EXPECT_EQ(XIPC_ENOENT, xipc_sem_open(&s, ok.c_str(), 0, 0));
  EXPECT_EQ(XIPC_ENOENT, xipc_sem_unlink(ok.c_str()));
  std::string longest = ok + std::string(XIPC_SYNC_NAME_MAX - ok.size(), 'x');
  XT_OK(xipc_sem_open(&s, longest.c_str(), 0, XIPC_CREATE | XIPC_EXCL));
  EXPECT_EQ(XIPC_EINVAL, xipc_sem_wait(s, -2));
  EXPECT_EQ(XIPC_EINVAL, xipc_sem_wait(s, -1000));
  XT_EXPECT_OK(xipc_sem_close(s));
  EXPECT_EQ(XIPC_EINVAL, xipc_sem_wait(nullptr, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_sem_post(nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_sem_close(nullptr));
}

// ---- mutexes -------------------------------------------------------------

TEST(Mutex, ExcludesAcrossProcesses) {
  // Under Wine every lock and unlock is a wineserver round trip: 3 helpers x
  // 100,000 contended increments take about 8 s there (0.15 s on Linux).
  const int kHelpers = 3;
  const long kIters = 100000;
  std::string mname = xt::unique_name("mtx"), cname = xt::unique_name("cnt"),
              gname = xt::unique_name("go");
  MutexGuard m;
  SemGuard go;
  XT_OK(xipc_mutex_open(&m.m, mname.c_str(), XIPC_CREATE | XIPC_EXCL));
  XT_OK(xipc_sem_open(&go.s, gname.c_str(), 0, XIPC_CREATE | XIPC_EXCL));
  xipc_map *map;
  XT_OK(xipc_map_named(&map, cname.c_str(), 64, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  xt::Cleanup close_map([&] { xipc_map_close(map); });
  auto *counter = static_cast<volatile uint64_t *>(xipc_map_data(map));
  *counter = 0;
  std::vector<xt::Child> kids(kHelpers);
  for (auto &k : kids)
    XT_OK(k.start("mutex_count", {mname, cname, gname, std::to_string(kIters)}));
  for (int i = 0; i < kHelpers; i++) XT_OK(xipc_sem_post(go.s));  // start together
  for (auto &k : kids) EXPECT_EQ(0, k.exit_code(xt::scaled_ms(110000)));
  XT_OK(xipc_mutex_lock(m.m, 0));
  EXPECT_EQ(uint64_t(kHelpers) * kIters, *counter);
  XT_OK(xipc_mutex_unlock(m.m));
}

TEST(Mutex, TimedLockWhileAnotherProcessHoldsIt) {
  std::string name = xt::unique_name("mtx");
  xt::Flag go("go");
  MutexGuard m;
  XT_OK(xipc_mutex_open(&m.m, name.c_str(), XIPC_CREATE));
  xt::Child c;
  ASSERT_EQ(0, start_holder(c, name, &go));
  int64_t t0 = xt::now_ms();
  EXPECT_EQ(XIPC_EAGAIN, xipc_mutex_lock(m.m, 0));
  EXPECT_LT(xt::now_ms() - t0, xt::scaled_ms(500));
  t0 = xt::now_ms();
  EXPECT_EQ(XIPC_ETIMEDOUT, xipc_mutex_lock(m.m, 150));
  EXPECT_GE(xt::now_ms() - t0, 150);
  EXPECT_EQ(XIPC_EPERM, xipc_mutex_unlock(m.m));  // held by the helper
  XT_OK(go.set());
  XT_EXPECT_OK(xipc_mutex_lock(m.m, -1));  // woken by the helper's unlock
  EXPECT_EQ(0, c.exit_code());
  XT_EXPECT_OK(xipc_mutex_unlock(m.m));
}

TEST(Mutex, DeadOwnerIsReportedThenConsistentRecovers) {
  std::string name = xt::unique_name("mtx");
  MutexGuard m;
  open_with_dead_owner(&m.m, name);
  if (HasFatalFailure()) return;
  ASSERT_EQ(XIPC_EOWNERDEAD, xipc_mutex_lock(m.m, xt::scaled_ms(30000)));
  // The caller holds it now: another thread cannot take it.
  int other = 1;
  std::thread([&] { other = xipc_mutex_lock(m.m, 0); }).join();
  EXPECT_EQ(XIPC_EAGAIN, other);
  XT_EXPECT_OK(xipc_mutex_consistent(m.m));
  EXPECT_EQ(XIPC_EINVAL, xipc_mutex_consistent(m.m));  // already consistent
  XT_OK(xipc_mutex_unlock(m.m));
  // Normal use again, in this process and in another.
  xt::Child c;
  XT_OK(c.start("mutex_lock_once", {name}));
  EXPECT_EQ(0, c.exit_code());
  XT_EXPECT_OK(xipc_mutex_lock(m.m, 0));
  XT_EXPECT_OK(xipc_mutex_unlock(m.m));
}

TEST(Mutex, UnlockWithoutConsistentMakesItUnrecoverable) {
  std::string name = xt::unique_name("mtx");
  MutexGuard m, m2;
  open_with_dead_owner(&m.m, name);
  if (HasFatalFailure()) return;
  ASSERT_EQ(XIPC_EOWNERDEAD, xipc_mutex_lock(m.m, xt::scaled_ms(30000)));
  XT_OK(xipc_mutex_unlock(m.m));
  EXPECT_EQ(XIPC_ENOTRECOVERABLE, xipc_mutex_lock(m.m, -1));
  EXPECT_EQ(XIPC_ENOTRECOVERABLE, xipc_mutex_lock(m.m, 0));
  EXPECT_EQ(XIPC_EPERM, xipc_mutex_consistent(m.m));
  EXPECT_EQ(XIPC_EPERM, xipc_mutex_unlock(m.m));
  XT_OK(xipc_mutex_open(&m2.m, name.c_str(), 0));
  EXPECT_EQ(XIPC_ENOTRECOVERABLE, xipc_mutex_lock(m2.m, xt::scaled_ms(1000)));
  xt::Child c;
  XT_OK(c.start("mutex_lock_once", {name}));
  EXPECT_EQ(code_of(XIPC_ENOTRECOVERABLE), c.exit_code());
  // It stays unusable until every handle is closed; then the name is free.
  XT_OK(xipc_mutex_close(m.m));
  m.m = nullptr;
  XT_OK(xipc_mutex_close(m2.m));
  m2.m = nullptr;
  XT_OK(xipc_mutex_open(&m.m, name.c_str(), XIPC_CREATE | XIPC_EXCL));
  XT_EXPECT_OK(xipc_mutex_lock(m.m, 0));
}

TEST(Mutex, OwnerDyingBeforeRepairIsReportedAgain) {
  std::string name = xt::unique_name("mtx");
  MutexGuard m;
  open_with_dead_owner(&m.m, name);
  if (HasFatalFailure()) return;
  kill_holder(name, XIPC_EOWNERDEAD);  // inherits a dead owner, dies too
  if (HasFatalFailure()) return;
  ASSERT_EQ(XIPC_EOWNERDEAD, xipc_mutex_lock(m.m, xt::scaled_ms(30000)));
  XT_EXPECT_OK(xipc_mutex_consistent(m.m));
  XT_EXPECT_OK(xipc_mutex_unlock(m.m));
}

TEST(Mutex, ThreadExitingWithTheLockIsADeadOwner) {
  std::string name = xt::unique_name("mtx");
  MutexGuard m;
  XT_OK(xipc_mutex_open(&m.m, name.c_str(), XIPC_CREATE));
  int rc = 1;
  std::thread([&] { rc = xipc_mutex_lock(m.m, 0); }).join();  // never unlocks
  XT_OK(rc);
  ASSERT_EQ(XIPC_EOWNERDEAD, xipc_mutex_lock(m.m, xt::scaled_ms(30000)));
  XT_EXPECT_OK(xipc_mutex_consistent(m.m));
  XT_EXPECT_OK(xipc_mutex_unlock(m.m));
  XT_EXPECT_OK(xipc_mutex_close(m.m));  // the handle is not left "held"
  m.m = nullptr;
}

TEST(Mutex, RelockByTheOwnerIsBusy) {
  std::string name = xt::unique_name("mtx");
  MutexGuard a, b;
  XT_OK(xipc_mutex_open(&a.m, name.c_str(), XIPC_CREATE));
  XT_OK(xipc_mutex_open(&b.m, name.c_str(), 0));
  XT_OK(xipc_mutex_lock(a.m, -1));
  EXPECT_EQ(XIPC_EBUSY, xipc_mutex_lock(a.m, -1));  // no self-deadlock
  EXPECT_EQ(XIPC_EBUSY, xipc_mutex_lock(a.m, 0));
  EXPECT_EQ(XIPC_EBUSY, xipc_mutex_lock(b.m, 100));  // same thread, other handle
  EXPECT_EQ(XIPC_EPERM, xipc_mutex_unlock(b.m));
  XT_OK(xipc_mutex_unlock(a.m));  // one unlock releases it: no recursion
  EXPECT_EQ(XIPC_EPERM, xipc_mutex_unlock(a.m));
  int other = 1;
  std::thread([&] {
    other = xipc_mutex_lock(b.m, 0);
    if (other == 0) other = xipc_mutex_unlock(b.m);
  }).join();
  EXPECT_EQ(0, other);
}

TEST(Mutex, OnlyTheOwningThreadMayUnlock) {
  std::string name = xt::unique_name("mtx");
  MutexGuard m;
  XT_OK(xipc_mutex_open(&m.m, name.c_str(), XIPC_CREATE));
  EXPECT_EQ(XIPC_EPERM, xipc_mutex_unlock(m.m));  // never locked
  EXPECT_EQ(XIPC_EPERM, xipc_mutex_consistent(m.m));
  XT_OK(xipc_mutex_lock(m.m, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_mutex_consistent(m.m));  // owner is alive
  int unlock_rc = 1, consistent_rc = 1, lock_rc = 1;
  std::thread([&] {
    unlock_rc = xipc_mutex_unlock(m.m);
    consistent_rc = xipc_mutex_consistent(m.m);
    lock_rc = xipc_mutex_lock(m.m, 50);
  }).join();
  EXPECT_EQ(XIPC_EPERM, unlock_rc);
  EXPECT_EQ(XIPC_EPERM, consistent_rc);
  EXPECT_EQ(XIPC_ETIMEDOUT, lock_rc);
  XT_EXPECT_OK(xipc_mutex_unlock(m.m));
}

TEST(Mutex, CloseWhileLockedIsBusy) {
  std::string name = xt::unique_name("mtx");
  xipc_mutex *m;
  XT_OK(xipc_mutex_open(&m, name.c_str(), XIPC_CREATE));
  XT_OK(xipc_mutex_lock(m, 0));
  EXPECT_EQ(XIPC_EBUSY, xipc_mutex_close(m));
  XT_OK(xipc_mutex_unlock(m));  // the handle is still usable
  XT_OK(xipc_mutex_close(m));
}

TEST(Mutex, CreateExclAndMissing) {
  std::string name = xt::unique_name("mtx");
  MutexGuard a, b;
  EXPECT_EQ(XIPC_ENOENT, xipc_mutex_open(&a.m, name.c_str(), 0));
  XT_OK(xipc_mutex_open(&a.m, name.c_str(), XIPC_CREATE | XIPC_EXCL));
  EXPECT_EQ(XIPC_EEXIST, xipc_mutex_open(&b.m, name.c_str(), XIPC_CREATE | XIPC_EXCL));
  XT_OK(xipc_mutex_open(&b.m, name.c_str(), XIPC_CREATE));
  XT_OK(xipc_mutex_lock(a.m, 0));  // one object behind both handles
  EXPECT_EQ(XIPC_EBUSY, xipc_mutex_lock(b.m, 0));
  XT_OK(xipc_mutex_unlock(a.m));
}

TEST(Mutex, GoneAfterLastCloseAndAfterKilledHolder) {
  std::string name = xt::unique_name("mtx");
  xipc_mutex *m;
  XT_OK(xipc_mutex_open(&m, name.c_str(), XIPC_CREATE));
  XT_OK(xipc_mutex_close(m));
  EXPECT_EQ(XIPC_ENOENT, xipc_mutex_open(&m, name.c_str(), 0));
  // The helper creates it and dies holding the lock: nothing is left.
  xt::Child c;
  ASSERT_EQ(0, start_holder(c, name));
  XT_OK(xipc_mutex_open(&m, name.c_str(), 0));
  XT_OK(xipc_mutex_close(m));
  XT_OK(c.kill());
  ASSERT_EQ(-2000 - XIPC_SIGKILL, c.exit_code());
  EXPECT_EQ(XIPC_ENOENT, xipc_mutex_open(&m, name.c_str(), 0));
}

TEST(Mutex, BadInput) {
  xipc_mutex *m = nullptr;
  std::string ok = xt::unique_name("mtx");
  expect_bad_names([&](const char *n) { return xipc_mutex_open(&m, n, XIPC_CREATE); });
  expect_bad_names(xipc_mutex_unlink);
  EXPECT_EQ(XIPC_EINVAL, xipc_mutex_open(nullptr, ok.c_str(), XIPC_CREATE));
  EXPECT_EQ(XIPC_EINVAL, xipc_mutex_open(&m, ok.c_str(), XIPC_EXCL));
  EXPECT_EQ(XIPC_EINVAL, xipc_mutex_open(&m, ok.c_str(), 1u << 7));
  EXPECT_EQ(nullptr, m);
  EXPECT_EQ(XIPC_ENOENT, xipc_mutex_unlink(ok.c_str()));
  std::string longest = ok + std::string(XIPC_SYNC_NAME_MAX - ok.size(), 'x');
  XT_OK(xipc_mutex_open(&m, longest.c_str(), XIPC_CREATE | XIPC_EXCL));
  EXPECT_EQ(XIPC_EINVAL, xipc_mutex_lock(m, -2));
  XT_EXPECT_OK(xipc_mutex_close(m));
  EXPECT_EQ(XIPC_EINVAL, xipc_mutex_lock(nullptr, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_mutex_consistent(nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_mutex_unlock(nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_mutex_close(nullptr));
}

// ---- both ----------------------------------------------------------------

TEST(Sync, SameNameForMapSemAndMutexDoesNotClash) {
  std::string name = xt::unique_name("all");
  xipc_map *map;
  SemGuard s;
  MutexGuard m;
  XT_OK(xipc_map_named(&map, name.c_str(), 4096, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  xt::Cleanup close_map([&] { xipc_map_close(map); });
  XT_EXPECT_OK(xipc_sem_open(&s.s, name.c_str(), 0, XIPC_CREATE | XIPC_EXCL));
  XT_EXPECT_OK(xipc_mutex_open(&m.m, name.c_str(), XIPC_CREATE | XIPC_EXCL));
}

TEST(Sync, ForeignObjectUnderTheDerivedNameIsCorrupt) {
  // A mapping squatting on the private names, full of garbage.
  std::string base = xt::unique_name("sq");
  std::string sem_name = base + ".xsem", mtx_name = base + ".xmtx";
  xipc_map *a, *b;
  XT_OK(xipc_map_named(&a, sem_name.c_str(), 4096, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  xt::Cleanup close_a([&] { xipc_map_close(a); });
  XT_OK(xipc_map_named(&b, mtx_name.c_str(), 4096, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  xt::Cleanup close_b([&] { xipc_map_close(b); });
  std::memset(xipc_map_data(a), 0xa5, 4096);
  std::memset(xipc_map_data(b), 0xa5, 4096);
  xipc_sem *s = nullptr;
  xipc_mutex *m = nullptr;
  EXPECT_EQ(XIPC_ECORRUPT, xipc_sem_open(&s, base.c_str(), 0, 0));
  EXPECT_EQ(XIPC_ECORRUPT, xipc_sem_open(&s, base.c_str(), 0, XIPC_CREATE));
  EXPECT_EQ(XIPC_ECORRUPT, xipc_mutex_open(&m, base.c_str(), 0));
  EXPECT_EQ(XIPC_ECORRUPT, xipc_mutex_open(&m, base.c_str(), XIPC_CREATE));
  EXPECT_EQ(nullptr, s);
  EXPECT_EQ(nullptr, m);
}

TEST(Sync, UnlinkRemovesTheNameEarly) {
  std::string name = xt::unique_name("ul");
  SemGuard s, s2;
  MutexGuard m, m2;
  XT_OK(xipc_sem_open(&s.s, name.c_str(), 1, XIPC_CREATE | XIPC_EXCL));
  XT_OK(xipc_mutex_open(&m.m, name.c_str(), XIPC_CREATE | XIPC_EXCL));
  int sem_rc = xipc_sem_unlink(name.c_str());
  int mutex_rc = xipc_mutex_unlink(name.c_str());
  if (sem_rc == XIPC_ENOTSUP && mutex_rc == XIPC_ENOTSUP)
    GTEST_SKIP() << "this platform cannot remove a kernel object's name early; "
                    "it goes away with the last handle";
  XT_OK(sem_rc);
  XT_OK(mutex_rc);
  EXPECT_EQ(XIPC_ENOENT, xipc_sem_open(&s2.s, name.c_str(), 0, 0));
  EXPECT_EQ(XIPC_ENOENT, xipc_mutex_open(&m2.m, name.c_str(), 0));
  EXPECT_EQ(XIPC_ENOENT, xipc_sem_unlink(name.c_str()));
  // The open handles still work; a new CREATE makes different objects.
  XT_EXPECT_OK(xipc_sem_wait(s.s, 0));
  XT_EXPECT_OK(xipc_mutex_lock(m.m, 0));
  XT_OK(xipc_sem_open(&s2.s, name.c_str(), 0, XIPC_CREATE | XIPC_EXCL));
  XT_OK(xipc_mutex_open(&m2.m, name.c_str(), XIPC_CREATE | XIPC_EXCL));
  XT_EXPECT_OK(xipc_sem_post(s.s));
  EXPECT_EQ(XIPC_EAGAIN, xipc_sem_wait(s2.s, 0));
  std::thread([&] { XT_EXPECT_OK(xipc_mutex_lock(m2.m, 0)); xipc_mutex_unlock(m2.m); }).join();
}

TEST(Sync, OpenAndCloseLeakNoHandles) {
  std::string name = xt::unique_name("leak");
  auto cycle = [&] {
    xipc_sem *s, *s2;
    xipc_mutex *m, *m2;
    XT_OK(xipc_sem_open(&s, name.c_str(), 0, XIPC_CREATE | XIPC_EXCL));
    EXPECT_EQ(XIPC_EEXIST, xipc_sem_open(&s2, name.c_str(), 0, XIPC_CREATE | XIPC_EXCL));
    XT_OK(xipc_mutex_open(&m, name.c_str(), XIPC_CREATE | XIPC_EXCL));
    EXPECT_EQ(XIPC_EEXIST, xipc_mutex_open(&m2, name.c_str(), XIPC_CREATE | XIPC_EXCL));
    XT_OK(xipc_mutex_lock(m, 0));
    XT_OK(xipc_mutex_unlock(m));
    XT_OK(xipc_sem_close(s));
    XT_OK(xipc_mutex_close(m));
    EXPECT_EQ(XIPC_ENOENT, xipc_sem_open(&s, name.c_str(), 0, 0));
    EXPECT_EQ(XIPC_ENOENT, xipc_mutex_open(&m, name.c_str(), 0));
  };
  cycle();  // warm up lazily created OS state before counting
  long before = xt::open_handle_count();
  ASSERT_GT(before, 0);
  for (int i = 0; i < 50 && !HasFatalFailure(); i++) cycle();
  EXPECT_EQ(before, xt::open_handle_count());
}
