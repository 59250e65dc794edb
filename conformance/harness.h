// Conformance-suite harness: helper processes, unique names, cleanup guards.
#pragma once

#include "xipc.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace xt {

// A helper is a function the test binary runs instead of GoogleTest when it
// is started as `xipc_conformance --helper=NAME args...`. Its return value
// is the process exit code.
using HelperFn = int (*)(int argc, char **argv);
struct HelperReg {
  HelperReg(const char *name, HelperFn fn);
};
int run_helper(const char *name, int argc, char **argv);

#define XT_HELPER(name)                                                       \
  static int xt_helper_##name(int argc, char **argv);                         \
  static xt::HelperReg xt_helper_reg_##name(#name, xt_helper_##name);         \
  static int xt_helper_##name(int argc XIPC_XT_UNUSED,                        \
                              char **argv XIPC_XT_UNUSED)
#define XIPC_XT_UNUSED __attribute__((unused))

// A name unique to this process and call: "xt<pid>-<counter>-<tag>".
std::string unique_name(const char *tag);

// A path in the system temp directory unique to this process and call. The
// file is not created.
std::string temp_path(const char *tag);

// This test binary's own path (UTF-8).
std::string self_exe();

// Runs fn when the scope ends (also when an ASSERT fails and returns).
class Cleanup {
 public:
  explicit Cleanup(std::function<void()> fn) : fn_(std::move(fn)) {}
  ~Cleanup() {
    if (fn_) fn_();
  }
  Cleanup(const Cleanup &) = delete;
  Cleanup &operator=(const Cleanup &) = delete;

 private:
  std::function<void()> fn_;
};

// A helper child process. The destructor kills and reaps a child that is
// still running, so no process outlives a failed test.
class Child {
 public:
  Child() = default;
  ~Child();
  Child(const Child &) = delete;
  Child &operator=(const Child &) = delete;

  // Starts `self --helper=helper args...`. Returns the xipc result.
  int start(const char *helper, const std::vector<std::string> &args = {},
            const xipc_spawn_options *opts = nullptr);
  // Waits for the exit (xipc_proc_wait semantics).
  int wait(int timeout_ms, xipc_exit_status *st);
  // Waits up to timeout_ms and returns the exit code, or -1000 - err on a
  // wait failure, or -2000 - signal if the child was signalled. Without an
  // argument it waits up to xt::scaled_ms(60000).
  int exit_code(int timeout_ms);
  int exit_code();
  int kill();
  xipc_pid pid() const { return proc_ ? xipc_proc_pid(proc_) : -1; }
  xipc_proc *proc() { return proc_; }

 private:
  xipc_proc *proc_ = nullptr;
  bool reaped_ = false;
};

// A flag that one process sets and another waits for ("ready", "go"): a
// named xipc semaphore, created with count 0 by the test and held open for
// the Flag's lifetime, so a set by a helper that exits at once is never lost
// to the object's last close. Its token (the semaphore's name) goes to the
// helper as an argument; a Flag converts to its token, so it can stand in an
// argument list. A set flag stays set: every wait returns at once after it.
class Flag {
 public:
  explicit Flag(const char *tag = "flag");
  ~Flag();
  Flag(const Flag &) = delete;
  Flag &operator=(const Flag &) = delete;
  const std::string &token() const { return name_; }
  operator const std::string &() const { return name_; }
  // Sets the flag (the test's side of a "go").
  int set();
  // True once the flag is set; false after timeout_ms, or as soon as
  // `child` has exited without setting it. Sleeps on the semaphore, waking
  // every 50 ms only to look at the child.
  bool wait(int timeout_ms, Child *child = nullptr);

 private:
  std::string name_;
  xipc_sem *sem_ = nullptr;
};

// Helper side, by token: set the flag, or wait up to timeout_ms for it.
// Both return the xipc result (use XT_CHECK).
int flag_set(const std::string &token);
int flag_wait(const std::string &token, int timeout_ms);

// The readiness handshake in the words of the tests: the helper calls
// ready_signal(token) when it is ready; the test's ready_wait(flag, ...)
// is flag.wait(...).
inline int ready_signal(const std::string &token) { return flag_set(token); }
inline bool ready_wait(Flag &flag, int timeout_ms, Child *child = nullptr) {
  return flag.wait(timeout_ms, child);
}

// Reads a whole file; empty string if missing.
std::string read_file(const std::string &path);
// Writes a whole file atomically (write temp + rename).
bool write_file(const std::string &path, const std::string &data);
void remove_file(const std::string &path);

// Sleeps for ms milliseconds (only for pacing loops, never for sync).
void sleep_ms(int ms);
// Monotonic milliseconds.
int64_t now_ms();

}  // namespace xt

namespace xt {
inline testing::AssertionResult IsOk(const char *expr, int rc) {
  if (rc == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << expr << " -> " << xipc_err_name(rc) << " (" << xipc_strerror(rc)
         << ", system error " << xipc_last_system_error() << ")";
}
}  // namespace xt

// ASSERT that an xipc call returns 0, printing the code's name otherwise.
#define XT_OK(expr) ASSERT_PRED_FORMAT1(xt::IsOk, expr)
// EXPECT_ variant.
#define XT_EXPECT_OK(expr) EXPECT_PRED_FORMAT1(xt::IsOk, expr)

// Helper-side checks: a helper is a plain function returning its exit code,
// so GoogleTest's ASSERTs do not apply there. XT_CHECK(expr) returns
// XT_HELPER_FAILED from the helper after printing file, line, the expression
// and xipc_err_name of a non-zero xipc result to stderr (which ctest shows);
// XT_REQUIRE(cond) does the same for a false condition.
#define XT_HELPER_FAILED 90
#define XT_CHECK(expr)                                                        \
  do {                                                                        \
    int xt_rc_ = (expr);                                                      \
    if (xt_rc_ != 0) {                                                        \
      xt::helper_failed(__FILE__, __LINE__, #expr, xt_rc_);                   \
      return XT_HELPER_FAILED;                                                \
    }                                                                         \
  } while (0)
#define XT_REQUIRE(cond)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      xt::helper_failed(__FILE__, __LINE__, #cond, 1);                        \
      return XT_HELPER_FAILED;                                                \
    }                                                                         \
  } while (0)

namespace xt {
// Prints "file:line: helper check failed: expr -> XIPC_E... (message)" (or
// "is false" when rc is 1) to stderr and flushes it.
void helper_failed(const char *file, int line, const char *expr, int rc);

// The suite's time scale: XIPC_TEST_TIME_SCALE from the environment (a
// positive number, default 1; ci/test.sh sets it for Wine and sanitizer
// legs). Every "within N ms" bound and helper wait is scaled by it.
double time_scale();
// ms * time_scale(), rounded up.
int scaled_ms(int ms);

// Reads exactly n bytes of stream s into out (fewer at end of stream: out
// is then cut to what came); 0 or the first failing read's error.
int read_exact(xipc_stream *s, std::vector<unsigned char> &out, size_t n,
               int timeout_ms = -1);

// Held for the whole of a test that sweeps (xipc_map_sweep, xipc_objects_sweep,
// `xipc sweep`): a sweep removes every stale object of the user, so two such
// tests running at once under ctest -j could take each other's objects. A
// robust named mutex, so a test killed while holding it does not stop the
// others.
class SweepGuard {
 public:
  SweepGuard();
  ~SweepGuard();
  SweepGuard(const SweepGuard &) = delete;
  SweepGuard &operator=(const SweepGuard &) = delete;

 private:
  xipc_mutex *m_ = nullptr;
  bool locked_ = false;
};
}  // namespace xt

namespace xt {
// Platform probes used by the tests (the only platform code in the suite).
void set_env(const char *name, const char *value);  // value NULL: unset
std::string get_env(const char *name, bool *present = nullptr);  // UTF-8
long open_handle_count();  // fds on POSIX, GetProcessHandleCount on Windows
long zombie_children();    // always 0 on Windows, which has no zombies
long child_processes();    // children of this process in any state
// POSIX, running as root: permanently become user "nobody" (65534) and
// return true. False if not root, or on Windows (where every process of the
// session belongs to the same user).
bool drop_root();
// POSIX: fork(); the child runs fn and _exit()s with its result. Returns
// the child's exit code, or -1000 - signal if it was killed. Windows has no
// fork(): returns -1 without running fn.
int fork_and_run(const std::function<int()> &fn);
// Sends sig to pid the way a program without xipc would: POSIX runs the
// system's `kill -USR1 <pid>` (SIGBREAK is QUIT); Windows sets the
// documented channel event "Local\xipc.sig.<pid>.<sig>" as Python's ctypes
// could. 0 on success.
int foreign_send(xipc_pid pid, int sig);
// Creates named shared memory `name` of `size` bytes the way a program
// without xipc does (POSIX: shm_open("/name", O_CREAT|O_EXCL, 0600) and
// ftruncate, as Python's SharedMemory; Windows: CreateFileMappingW of the
// bare name, as Python's mmap(tagname=...)). Returns a handle for
// foreign_map_close, or nullptr.
void *foreign_map_create(const std::string &name, size_t size);
// Closes that handle and, on POSIX, unlinks the name.
void foreign_map_close(void *h, const std::string &name);
// POSIX: ends the calling (main) thread with pthread_exit while a second
// thread waits for that, runs fn once /proc shows the leader as a zombie
// ('Z') and ends the process with fn's result; does not return. Windows:
// returns false without running fn (its process liveness is the process
// object's, there is no leader-thread state to mistake).
bool run_after_main_thread_exits(const std::function<int()> &fn);
// Whether the OS still has a shared memory object called `name`, asked
// without xipc (POSIX: /dev/shm/<name> exists; Windows: OpenFileMappingW).
bool shm_name_exists(const std::string &name);
// POSIX: the file behind shared memory object `name` ("/dev/shm/<name>").
// Windows: "" (kernel objects have no path, mode bits, FIFOs or symlinks
// that a test could plant).
std::string shm_object_path(const std::string &name);
// POSIX: mkfifo(path, 0600). False on failure and on Windows.
bool make_fifo(const std::string &path);
// Maps the first `size` bytes of the existing shared memory object `name`
// read-write the way a program without xipc does (POSIX: shm_open +
// mmap, no lock; Windows: OpenFileMappingW + MapViewOfFile). Returns the
// memory, or nullptr; foreign_map_detach(p, size) unmaps it.
void *foreign_map_attach(const std::string &name, size_t size);
void foreign_map_detach(void *p, size_t size);
// Windows: creates, in this process, the kernel object `name` (kind 0 a
// file mapping of 4096 bytes, 1 a semaphore, 2 a mutex) with a security
// descriptor whose owner is another SID (Everyone), as an object planted by
// another user would look, and sets *owner_kept to whether the OS reports
// that owner back. Returns a handle for close_planted, or nullptr.
// POSIX: nullptr (tests plant objects as another uid instead).
void *plant_foreign_owned(const std::string &name, int kind, bool *owner_kept);
void close_planted(void *h);
// Whether the page at p is mapped in this process (POSIX mincore;
// Windows VirtualQuery). Lets a test see that another thread's unmap has
// happened.
bool page_mapped(const void *p);
// Puts stdin, stdout and stderr in binary mode (Windows' CRT starts them in
// text mode, which would turn \n into \r\n); nothing to do on POSIX.
void stdio_binary();
// A descriptor opened the careless way, not through xipc: POSIX open() of
// the file at path without O_CLOEXEC; Windows an inheritable handle to a
// new event named after path's last component. -1 on failure.
intptr_t leaky_open(const std::string &path);
void leaky_close(intptr_t h);
// In a child: whether the parent's leaky_open(path) value h names the same
// object here (POSIX: fstat of h is the file at path; Windows: h is the
// event opened by that name).
bool leaky_usable(intptr_t h, const std::string &path);
// Whether this process leads its own process group (POSIX getpgrp() ==
// getpid(); always true on Windows, which needs no such guard).
bool own_process_group();
// Gives this process a console of its own (Windows: FreeConsole +
// AllocConsole; children started afterwards share it); true on POSIX.
bool own_console();
// A Ctrl+C for everything on this terminal/console: POSIX kill(0, SIGINT)
// (this process's group); Windows GenerateConsoleCtrlEvent(CTRL_C_EVENT,
// 0). 0 on success.
int interrupt_group();
// Windows: reads back the DACL of the named pipe a listener on `name`
// created (\\.\pipe\xipc.<name>) with GetSecurityInfo and returns true if
// its entries grant access to the owner and SYSTEM only; *detail says what
// was found (the entries, or why it could not be read). POSIX: false, with
// *detail saying that abstract sockets have no DACL (tests do not call it
// there; Linux checks SO_PEERCRED instead).
bool listener_dacl_owner_only(const std::string &name, std::string *detail);
// A squatter for the tests: takes the OS name a listener on `name` would
// use, with raw system calls and default security (POSIX: bind and listen
// on the abstract AF_UNIX address "\0xipc.<name>"; Windows: one instance
// of \\.\pipe\xipc.<name> from CreateNamedPipeW, of message type if
// `message_type`, the type xipc's listeners use, else of byte type), sets
// the flag `ready`, then serves raw connections one at a time until
// killed: sets `touched` for every client that connects and `got` once any
// client sends it a byte. Returns -1 (without setting `ready`) if it cannot
// take the name.
int squat_listener_name(const std::string &name, bool message_type, const std::string &ready,
                        const std::string &touched, const std::string &got);
// Windows: opens (FILE_MAP_READ) the lock section "<name>.xlsn" of the
// listener on `name` (win32/listen.c), as a client reading it would, and
// returns the handle for close_listener_lock; -1 if there is none. POSIX:
// -1 (a listener has no lock object there).
intptr_t open_listener_lock(const std::string &name);
void close_listener_lock(intptr_t h);
// A value that names no open descriptor (POSIX) or handle (Windows).
intptr_t native_invalid();
// POSIX: installs fn as the raw sigaction() handler of XIPC_SIG* sig,
// bypassing xipc, and returns true; raw_signal_default puts SIG_DFL back.
// Windows: false, nothing done (it has no asynchronous signal handlers).
bool raw_signal_handler(int sig, void (*fn)());
void raw_signal_default(int sig);
}  // namespace xt

namespace xt {
// Waitsets (test_waitset_os.cc): a native object the caller can make ready
// and not ready, as a program's own descriptor / handle would be. POSIX: a
// pipe (*waitable its read end, readable while a byte is in it; *setter the
// write end); Windows: a manual-reset event (both are the one handle).
bool native_signal_open(intptr_t *waitable, intptr_t *setter);
void native_signal_set(intptr_t setter);
void native_signal_clear(intptr_t waitable);
void native_signal_close(intptr_t waitable, intptr_t setter);
// Whether native object h becomes ready within timeout_ms, as another
// event loop would see it: POSIX poll() for POLLIN; Windows
// WaitForSingleObject (signaled).
bool native_ready(intptr_t h, int timeout_ms);
}  // namespace xt
