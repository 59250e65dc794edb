#include "harness.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace xt {

static std::map<std::string, HelperFn> &helpers() {
  static std::map<std::string, HelperFn> table;
  return table;
}

HelperReg::HelperReg(const char *name, HelperFn fn) { helpers()[name] = fn; }

int run_helper(const char *name, int argc, char **argv) {
  auto it = helpers().find(name);
  if (it == helpers().end()) {
    std::fprintf(stderr, "unknown helper %s\n", name);
    return 199;
  }
  return it->second(argc, argv);
}

static std::atomic<unsigned> counter{0};

std::string unique_name(const char *tag) {
  std::ostringstream os;
  os << "xt" << xipc_self_pid() << "-" << counter++ << "-" << tag;
  return os.str();
}

std::string temp_path(const char *tag) {
  auto dir = std::filesystem::temp_directory_path();
  return (dir / unique_name(tag)).u8string();
}

std::string self_exe() {
  char buf[4096];
  size_t len = 0;
  if (xipc_exe_path(buf, sizeof buf, &len) != 0) return std::string();
  return std::string(buf, len);
}

Child::~Child() {
  if (proc_ == nullptr) return;
  if (!reaped_) {
    xipc_exit_status st;
    if (xipc_proc_wait(proc_, 0, &st) != 0) {
      xipc_proc_kill(proc_);
      xipc_proc_wait(proc_, 30000, &st);
    }
  }
  xipc_proc_close(proc_);
}

int Child::start(const char *helper, const std::vector<std::string> &args,
                 const xipc_spawn_options *opts) {
  std::string exe = self_exe();
  std::string flag = std::string("--helper=") + helper;
  std::vector<const char *> argv;
  argv.push_back(exe.c_str());
  argv.push_back(flag.c_str());
  for (const auto &a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  return xipc_proc_spawn(&proc_, argv.data(), opts);
}

int Child::wait(int timeout_ms, xipc_exit_status *st) {
  if (proc_ == nullptr) return XIPC_EINVAL;
  int rc = xipc_proc_wait(proc_, timeout_ms, st);
  if (rc == 0) reaped_ = true;
  return rc;
}

int Child::exit_code(int timeout_ms) {
  xipc_exit_status st;
  int rc = wait(timeout_ms, &st);
  if (rc != 0) return -1000 + rc;
  if (!st.exited) return -2000 - st.signal;
  return st.exit_code;
}

int Child::exit_code() { return exit_code(scaled_ms(60000)); }

int Child::kill() { return proc_ ? xipc_proc_kill(proc_) : XIPC_EINVAL; }

Flag::Flag(const char *tag) : name_(unique_name(tag)) {
  int rc = xipc_sem_open(&sem_, name_.c_str(), 0, XIPC_CREATE | XIPC_EXCL);
  if (rc != 0) {
    ADD_FAILURE() << "xt::Flag: xipc_sem_open(" << name_ << ") -> " << xipc_err_name(rc);
    sem_ = nullptr;
  }
}

Flag::~Flag() {
  if (sem_ == nullptr) return;
  xipc_sem_close(sem_);
  // A helper killed right after its set may not have closed its handle yet;
  // on POSIX its semaphore would then outlive the test in /dev/shm. Remove
  // the name (ENOENT if the close above was the last one; ENOTSUP on
  // Windows, where the kernel drops a dead process's handles anyway).
  xipc_sem_unlink(name_.c_str());
}

int Flag::set() { return sem_ ? xipc_sem_post(sem_) : XIPC_EINVAL; }

// Takes the flag's count if it is set and puts it back, so the flag stays
// set for every later waiter.
static int take_and_keep(xipc_sem *s, int timeout_ms) {
  int rc = xipc_sem_wait(s, timeout_ms);
  if (rc == 0) rc = xipc_sem_post(s);
  return rc;
}

bool Flag::wait(int timeout_ms, Child *child) {
  if (sem_ == nullptr) return false;
  const int kSlice = 50;
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int64_t left = deadline - now_ms();
    int rc = take_and_keep(sem_, left < kSlice ? (left > 0 ? static_cast<int>(left) : 0) : kSlice);
    if (rc == 0) return true;
    if (rc != XIPC_ETIMEDOUT && rc != XIPC_EAGAIN) return false;
    if (left <= kSlice) return false;
    if (child != nullptr && child->proc() != nullptr) {
      xipc_exit_status st;
      // The child is gone; it may have set the flag just before exiting.
      if (xipc_proc_wait(child->proc(), 0, &st) == 0) return take_and_keep(sem_, 0) == 0;
    }
  }
}

// Opens the flag's semaphore (the test holds it, so it exists), runs fn on
// it and closes it.
template <typename Fn>
static int with_flag(const std::string &token, Fn fn) {
  xipc_sem *s = nullptr;
  int rc = xipc_sem_open(&s, token.c_str(), 0, 0);
  if (rc != 0) return rc;
  rc = fn(s);
  int crc = xipc_sem_close(s);
  return rc != 0 ? rc : crc;
}

int flag_set(const std::string &token) { return with_flag(token, xipc_sem_post); }

int flag_wait(const std::string &token, int timeout_ms) {
  return with_flag(token, [&](xipc_sem *s) { return take_and_keep(s, timeout_ms); });
}

std::string read_file(const std::string &path) {
  std::ifstream f(std::filesystem::u8path(path), std::ios::binary);
  if (!f) return std::string();
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

bool write_file(const std::string &path, const std::string &data) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(std::filesystem::u8path(tmp), std::ios::binary | std::ios::trunc);
    if (!f) return false;
    f << data;
    if (!f.good()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(std::filesystem::u8path(tmp), std::filesystem::u8path(path), ec);
  return !ec;
}

void remove_file(const std::string &path) {
  std::error_code ec;
  std::filesystem::remove(std::filesystem::u8path(path), ec);
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void helper_failed(const char *file, int line, const char *expr, int rc) {
  if (rc == 1)
    std::fprintf(stderr, "%s:%d: helper check failed: %s is false\n", file, line, expr);
  else
    std::fprintf(stderr, "%s:%d: helper check failed: %s -> %s (%s, system error %d)\n",
                 file, line, expr, xipc_err_name(rc), xipc_strerror(rc),
                 xipc_last_system_error());
  std::fflush(stderr);
}

double time_scale() {
  static const double scale = [] {
    const char *v = std::getenv("XIPC_TEST_TIME_SCALE");
    double s = v ? std::atof(v) : 1.0;
    return s > 0 ? s : 1.0;
  }();
  return scale;
}

int scaled_ms(int ms) {
  double v = ms * time_scale();
  return v >= 2e9 ? 2000000000 : static_cast<int>(v + 0.999);
}

SweepGuard::SweepGuard() {
  int rc = xipc_mutex_open(&m_, "xt-sweep-serial", XIPC_CREATE);
  if (rc != 0) {
    ADD_FAILURE() << "sweep guard: xipc_mutex_open: " << xipc_err_name(rc);
    return;
  }
  rc = xipc_mutex_lock(m_, scaled_ms(100000));
  if (rc == XIPC_EOWNERDEAD)
    rc = xipc_mutex_consistent(m_);
  if (rc != 0)
    ADD_FAILURE() << "sweep guard: xipc_mutex_lock: " << xipc_err_name(rc);
  locked_ = rc == 0;
}

SweepGuard::~SweepGuard() {
  if (locked_)
    xipc_mutex_unlock(m_);
  if (m_ != nullptr)
    xipc_mutex_close(m_);
}

int read_exact(xipc_stream *s, std::vector<unsigned char> &out, size_t n,
               int timeout_ms) {
  out.resize(n);
  size_t have = 0;
  while (have < n) {
    size_t got = 0;
    int rc = xipc_stream_read(s, out.data() + have, n - have, &got, timeout_ms);
    if (rc != 0) return rc;
    if (got == 0) break;
    have += got;
  }
  out.resize(have);
  return 0;
}

size_t fill_pipe(xipc_stream *w) {
  std::vector<unsigned char> chunk(4096, 0x5a);
  size_t total = 0;
  for (;;) {
    size_t n = 0;
    int rc = xipc_stream_write(w, chunk.data(), chunk.size(), &n, 0);
    total += n;
    if (rc == XIPC_EAGAIN) return total;
    EXPECT_EQ(0, rc);
    if (rc != 0 || total > (64u << 20)) return total;
  }
}

}  // namespace xt
