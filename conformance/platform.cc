// The few probes the suite needs that differ per platform. Tests call these
// instead of carrying #ifdefs of their own.
#include "harness.h"

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#ifdef _WIN32
#include <windows.h>
// after windows.h
#include <aclapi.h>
#include <sddl.h>
#include <fcntl.h>
#include <io.h>
#include <tlhelp32.h>
#else
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <cerrno>
#endif

namespace xt {

#ifdef _WIN32
static std::wstring widen(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, nullptr, 0);
  std::wstring w(n > 0 ? n - 1 : 0, L'\0');
  if (n > 1) MultiByteToWideChar(CP_UTF8, 0, s, -1, &w[0], n);
  return w;
}

static std::string narrow(const wchar_t *s) {
  int n = WideCharToMultiByte(CP_UTF8, 0, s, -1, nullptr, 0, nullptr, nullptr);
  std::string u(n > 0 ? n - 1 : 0, '\0');
  if (n > 1) WideCharToMultiByte(CP_UTF8, 0, s, -1, &u[0], n, nullptr, nullptr);
  return u;
}

void set_env(const char *name, const char *value) {
  SetEnvironmentVariableW(widen(name).c_str(), value ? widen(value).c_str() : nullptr);
}

std::string get_env(const char *name, bool *present) {
  wchar_t buf[32768];
  DWORD n = GetEnvironmentVariableW(widen(name).c_str(), buf, 32768);
  if (present) *present = n > 0 || GetLastError() != ERROR_ENVVAR_NOT_FOUND;
  if (n == 0 || n >= 32768) return std::string();
  return narrow(buf);
}

// Wine's GetProcessHandleCount() returns 0, so count the handle values
// that GetHandleInformation() accepts (the table holds far fewer than 2^18).
long open_handle_count() {
  long n = 0;
  DWORD flags;
  for (uintptr_t v = 4; v < (1u << 18); v += 4)
    if (GetHandleInformation(reinterpret_cast<HANDLE>(v), &flags)) n++;
  return n;
}

long zombie_children() { return 0; }

long child_processes() {
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snap == INVALID_HANDLE_VALUE) return -1;
  long n = 0;
  DWORD self = GetCurrentProcessId();
  PROCESSENTRY32W e;
  e.dwSize = sizeof e;
  for (BOOL ok = Process32FirstW(snap, &e); ok; ok = Process32NextW(snap, &e))
    if (e.th32ParentProcessID == self && e.th32ProcessID != self) n++;
  CloseHandle(snap);
  return n;
}

bool drop_root() { return false; }

int fork_and_run(const std::function<int()> &) { return -1; }

int foreign_send(xipc_pid pid, int sig) {
  std::wstring name = L"Local\\xipc.sig." + std::to_wstring(pid) + L"." + std::to_wstring(sig);
  HANDLE ev = OpenEventW(EVENT_MODIFY_STATE, FALSE, name.c_str());
  if (ev == nullptr) return -1;
  BOOL ok = SetEvent(ev);
  CloseHandle(ev);
  return ok ? 0 : -1;
}

void *foreign_map_create(const std::string &name, size_t size) {
  HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE, 0,
                                static_cast<DWORD>(size), widen(name.c_str()).c_str());
  if (h != nullptr && GetLastError() == ERROR_ALREADY_EXISTS) {
    CloseHandle(h);
    return nullptr;
  }
  return h;
}

void foreign_map_close(void *h, const std::string &) { CloseHandle(static_cast<HANDLE>(h)); }

bool run_after_main_thread_exits(const std::function<int()> &) { return false; }

bool shm_name_exists(const std::string &name) {
  HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, widen(name.c_str()).c_str());
  if (h != nullptr) CloseHandle(h);
  return h != nullptr;
}

std::string shm_object_path(const std::string &) { return std::string(); }

bool make_fifo(const std::string &) { return false; }

// The section handles of attached views: Wine drops a section's name with
// its last handle even while a view remains, so the handle stays open.
static std::map<void *, HANDLE> attached;

void *foreign_map_attach(const std::string &name, size_t size) {
  HANDLE h = OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE, FALSE, widen(name.c_str()).c_str());
  if (h == nullptr) return nullptr;
  void *p = MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, size);
  if (p == nullptr)
    CloseHandle(h);
  else
    attached[p] = h;
  return p;
}

void foreign_map_detach(void *p, size_t) {
  UnmapViewOfFile(p);
  auto it = attached.find(p);
  if (it == attached.end()) return;
  CloseHandle(it->second);
  attached.erase(it);
}

void *plant_foreign_owned(const std::string &name, int kind, bool *owner_kept) {
  *owner_kept = false;
  PSECURITY_DESCRIPTOR sd = nullptr;
  // Owner Everyone (WD), full access for everyone.
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(L"O:WDD:(A;;GA;;;WD)", SDDL_REVISION_1,
                                                            &sd, nullptr))
    return nullptr;
  SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
  std::wstring w = widen(name.c_str());
  HANDLE h = nullptr;
  if (kind == 0)
    h = CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, 0, 4096, w.c_str());
  else if (kind == 1)
    h = CreateSemaphoreW(&sa, 0, 0x7fffffff, w.c_str());
  else
    h = CreateMutexW(&sa, FALSE, w.c_str());
  LocalFree(sd);
  if (h == nullptr) return nullptr;
  PSID owner = nullptr;
  PSECURITY_DESCRIPTOR got = nullptr;
  if (GetSecurityInfo(h, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &owner, nullptr, nullptr,
                      nullptr, &got) == ERROR_SUCCESS) {
    PSID world = nullptr;
    SID_IDENTIFIER_AUTHORITY wa = SECURITY_WORLD_SID_AUTHORITY;
    if (AllocateAndInitializeSid(&wa, 1, SECURITY_WORLD_RID, 0, 0, 0, 0, 0, 0, 0, &world)) {
      *owner_kept = owner != nullptr && EqualSid(owner, world);
      FreeSid(world);
    }
    LocalFree(got);
  }
  return h;
}

void close_planted(void *h) { CloseHandle(static_cast<HANDLE>(h)); }

bool page_mapped(const void *p) {
  MEMORY_BASIC_INFORMATION mbi;
  return VirtualQuery(p, &mbi, sizeof mbi) != 0 && mbi.State != MEM_FREE;
}
void stdio_binary() {
  _setmode(0, _O_BINARY);
  _setmode(1, _O_BINARY);
  _setmode(2, _O_BINARY);
}

static std::wstring event_name(const std::string &path) {
  std::string base = std::filesystem::u8path(path).filename().u8string();
  return L"Local\\xt-leak-" + widen(base.c_str());
}

intptr_t leaky_open(const std::string &path) {
  SECURITY_ATTRIBUTES sa = {sizeof sa, nullptr, TRUE};
  HANDLE h = CreateEventW(&sa, TRUE, TRUE, event_name(path).c_str());
  return h ? reinterpret_cast<intptr_t>(h) : -1;
}

void leaky_close(intptr_t h) { CloseHandle(reinterpret_cast<HANDLE>(h)); }

// h is the named event if toggling the event through its name shows at h.
bool leaky_usable(intptr_t v, const std::string &path) {
  HANDLE h = reinterpret_cast<HANDLE>(v), named;
  DWORD flags;
  if (!GetHandleInformation(h, &flags)) return false;
  named = OpenEventW(EVENT_MODIFY_STATE | SYNCHRONIZE, FALSE, event_name(path).c_str());
  if (named == nullptr) return false;
  bool same = true;
  for (int round = 0; round < 2 && same; round++) {
    if (round == 0) ResetEvent(named); else SetEvent(named);
    DWORD want = round == 0 ? WAIT_TIMEOUT : WAIT_OBJECT_0;
    same = WaitForSingleObject(h, 0) == want;
  }
  CloseHandle(named);
  return same;
}

bool own_process_group() { return true; }

bool own_console() {
  FreeConsole();
  if (!AllocConsole()) return false;
  SetConsoleCtrlHandler(nullptr, FALSE);  // a parent's "ignore Ctrl+C" is undone
  return true;
}

int interrupt_group() { return GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0) ? 0 : -1; }

namespace {

// The SDDL of h's owner and DACL, for the report.
std::string sddl_of(PSECURITY_DESCRIPTOR sd) {
  LPSTR str = nullptr;
  std::string out = "?";
  if (ConvertSecurityDescriptorToStringSecurityDescriptorA(
          sd, SDDL_REVISION_1, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &str,
          nullptr)) {
    out = str;
    LocalFree(str);
  }
  return out;
}

// True if kernel object h is owned by this process's user and its DACL
// holds allow entries for exactly that user and SYSTEM, nothing else.
bool owner_and_system_only(HANDLE h, const char *what, std::string *detail) {
  PSID owner = nullptr;
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR sd = nullptr;
  DWORD e =
      GetSecurityInfo(h, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                      &owner, nullptr, &dacl, nullptr, &sd);
  if (e != ERROR_SUCCESS) {
    *detail += std::string(what) + ": GetSecurityInfo error " + std::to_string(e) + "; ";
    return false;
  }
  *detail += std::string(what) + ": " + sddl_of(sd) + "; ";
  union {
    TOKEN_USER user;
    DWORD64 room[64];
  } tu;
  DWORD n = 0;
  HANDLE tok = nullptr;
  bool ok = OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok) &&
            GetTokenInformation(tok, TokenUser, &tu, sizeof tu, &n);
  if (tok) CloseHandle(tok);
  BYTE sys[SECURITY_MAX_SID_SIZE];
  DWORD syslen = sizeof sys;
  ok = ok && CreateWellKnownSid(WinLocalSystemSid, nullptr, sys, &syslen);
  ok = ok && owner != nullptr && EqualSid(owner, tu.user.User.Sid) && dacl != nullptr;
  bool saw_user = false, saw_system = false;
  for (DWORD i = 0; ok && i < dacl->AceCount; i++) {
    ACE_HEADER *ace = nullptr;
    if (!GetAce(dacl, i, reinterpret_cast<void **>(&ace)) ||
        ace->AceType != ACCESS_ALLOWED_ACE_TYPE) {
      ok = false;
      break;
    }
    PSID sid = &reinterpret_cast<ACCESS_ALLOWED_ACE *>(ace)->SidStart;
    if (EqualSid(sid, tu.user.User.Sid))
      saw_user = true;
    else if (EqualSid(sid, sys))
      saw_system = true;
    else
      ok = false;
  }
  LocalFree(sd);
  return ok && saw_user && saw_system;
}

}  // namespace

// The pipe is read through a client handle with READ_CONTROL only (it
// takes one pending instance of the listener, which the test never
// accepts); the listener's lock section "<name>.xlsn" (win32/listen.c) is
// checked the same way.
bool listener_dacl_owner_only(const std::string &name, std::string *detail) {
  std::string d;
  std::wstring pipe = L"\\\\.\\pipe\\xipc." + std::wstring(name.begin(), name.end());
  std::wstring lock = std::wstring(name.begin(), name.end()) + L".xlsn";
  bool ok = false;
  HANDLE h = CreateFileW(pipe.c_str(), READ_CONTROL, 0, nullptr, OPEN_EXISTING, 0, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    d += "pipe: CreateFileW error " + std::to_string(GetLastError()) + "; ";
  } else {
    ok = owner_and_system_only(h, "pipe", &d);
    CloseHandle(h);
  }
  h = OpenFileMappingW(READ_CONTROL, FALSE, lock.c_str());
  if (h == nullptr) {
    d += "lock: OpenFileMappingW error " + std::to_string(GetLastError());
    ok = false;
  } else {
    ok = owner_and_system_only(h, "lock", &d) && ok;
    CloseHandle(h);
  }
  if (detail != nullptr) *detail = d;
  return ok;
}
int squat_listener_name(const std::string &name, bool message_type, const std::string &ready,
                        const std::string &touched, const std::string &got) {
  std::wstring pipe = L"\\\\.\\pipe\\xipc." + std::wstring(name.begin(), name.end());
  DWORD type = message_type ? PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE : PIPE_TYPE_BYTE;
  HANDLE h = CreateNamedPipeW(pipe.c_str(), PIPE_ACCESS_DUPLEX, type | PIPE_WAIT,
                              PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, nullptr);
  if (h == INVALID_HANDLE_VALUE) return -1;
  flag_set(ready);
  for (;;) {
    if (!ConnectNamedPipe(h, nullptr) && GetLastError() != ERROR_PIPE_CONNECTED) return -1;
    flag_set(touched);
    char c;
    DWORD n = 0;
    if (ReadFile(h, &c, 1, &n, nullptr) && n > 0) flag_set(got);
    DisconnectNamedPipe(h);
  }
}

intptr_t open_listener_lock(const std::string &name) {
  std::wstring lock = std::wstring(name.begin(), name.end()) + L".xlsn";
  HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, lock.c_str());
  return h ? reinterpret_cast<intptr_t>(h) : -1;
}

void close_listener_lock(intptr_t h) {
  if (h != -1) CloseHandle(reinterpret_cast<HANDLE>(h));
}

// Far above any handle value this process hands out (checked, to be sure).
intptr_t native_invalid() {
  DWORD flags;
  for (uintptr_t v = 0x3ffffffcu;; v -= 4)
    if (!GetHandleInformation(reinterpret_cast<HANDLE>(v), &flags)) return static_cast<intptr_t>(v);
}

bool raw_signal_handler(int, void (*)()) { return false; }

void raw_signal_default(int) {}

bool native_signal_open(intptr_t *waitable, intptr_t *setter) {
  HANDLE h = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  *waitable = *setter = reinterpret_cast<intptr_t>(h);
  return h != nullptr;
}
void native_signal_set(intptr_t setter) { SetEvent(reinterpret_cast<HANDLE>(setter)); }
void native_signal_clear(intptr_t waitable) { ResetEvent(reinterpret_cast<HANDLE>(waitable)); }
void native_signal_close(intptr_t waitable, intptr_t) { CloseHandle(reinterpret_cast<HANDLE>(waitable)); }
bool native_ready(intptr_t h, int timeout_ms) {
  DWORD ms = timeout_ms < 0 ? INFINITE : static_cast<DWORD>(timeout_ms);
  return WaitForSingleObject(reinterpret_cast<HANDLE>(h), ms) == WAIT_OBJECT_0;
}

#else
void set_env(const char *name, const char *value) {
  if (value)
    setenv(name, value, 1);
  else
    unsetenv(name);
}

std::string get_env(const char *name, bool *present) {
  const char *v = getenv(name);
  if (present) *present = v != nullptr;
  return v ? std::string(v) : std::string();
}

long open_handle_count() {
  long n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

// Counts this process's children from /proc/<pid>/stat ("pid (comm) S ppid").
static long scan_children(bool zombies_only) {
  long n = 0;
  std::string self = std::to_string(getpid());
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::ifstream f(it->path() / "stat");
    std::string line;
    if (!f || !std::getline(f, line)) continue;
    auto rp = line.rfind(')');
    if (rp == std::string::npos || rp + 4 > line.size()) continue;
    char state = line[rp + 2];
    std::string rest = line.substr(rp + 4);
    std::string ppid = rest.substr(0, rest.find(' '));
    if (ppid == self && (!zombies_only || state == 'Z')) n++;
  }
  return n;
}

long zombie_children() { return scan_children(true); }

long child_processes() { return scan_children(false); }

bool drop_root() {
  if (geteuid() != 0) return false;
  if (setgid(65534) != 0 || setuid(65534) != 0) return false;
  return geteuid() != 0 && getuid() != 0;
}

int fork_and_run(const std::function<int()> &fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  if (pid < 0) return -1;
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1000 - WTERMSIG(ws);
}

int foreign_send(xipc_pid pid, int sig) {
  std::string name = sig == XIPC_SIGBREAK ? "QUIT" : xipc_signal_name(sig) + 3;
  std::string cmd = "kill -" + name + " " + std::to_string(pid);
  const char *argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
  xipc_proc *p = nullptr;
  xipc_exit_status st = {0, -1, 0};
  if (xipc_proc_spawn(&p, argv, nullptr) != 0) return -1;
  int rc = xipc_proc_wait(p, 60000, &st);
  xipc_proc_close(p);
  return rc == 0 && st.exited ? st.exit_code : -1;
}

void *foreign_map_create(const std::string &name, size_t size) {
  int fd = shm_open(("/" + name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return nullptr;
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    close(fd);
    shm_unlink(("/" + name).c_str());
    return nullptr;
  }
  return reinterpret_cast<void *>(static_cast<intptr_t>(fd) + 1);
}

void foreign_map_close(void *h, const std::string &name) {
  close(static_cast<int>(reinterpret_cast<intptr_t>(h) - 1));
  shm_unlink(("/" + name).c_str());
}

bool shm_name_exists(const std::string &name) { return access(("/dev/shm/" + name).c_str(), F_OK) == 0; }

namespace {
struct AfterMain {
  pthread_t main_thread;
  std::function<int()> fn;
};

// The leader's state letter in /proc/self/stat ('?' if unreadable).
char leader_state() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t p = text.rfind(')');
  return p != std::string::npos && p + 2 < text.size() ? text[p + 2] : '?';
}

void *after_main(void *arg) {
  auto *a = static_cast<AfterMain *>(arg);
  pthread_join(a->main_thread, nullptr);
  // The join returns as the leader exits; wait until the kernel shows it.
  for (int i = 0; i < 5000 && leader_state() != 'Z'; i++) usleep(1000);
  int rc = a->fn();
  std::fflush(nullptr);
  _exit(rc);
}
}  // namespace

bool run_after_main_thread_exits(const std::function<int()> &fn) {
  static AfterMain a;
  a.main_thread = pthread_self();
  a.fn = fn;
  pthread_t t;
  if (pthread_create(&t, nullptr, after_main, &a) != 0) return false;
  pthread_exit(nullptr);
}

std::string shm_object_path(const std::string &name) { return "/dev/shm/" + name; }

bool make_fifo(const std::string &path) { return mkfifo(path.c_str(), 0600) == 0; }

void *foreign_map_attach(const std::string &name, size_t size) {
  int fd = shm_open(("/" + name).c_str(), O_RDWR, 0);
  if (fd < 0) return nullptr;
  void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  return p == MAP_FAILED ? nullptr : p;
}

void foreign_map_detach(void *p, size_t size) { munmap(p, size); }

void *plant_foreign_owned(const std::string &, int, bool *owner_kept) {
  *owner_kept = false;
  return nullptr;
}

void close_planted(void *) {}

bool page_mapped(const void *p) {
  unsigned char vec;
  uintptr_t page = reinterpret_cast<uintptr_t>(p) & ~static_cast<uintptr_t>(sysconf(_SC_PAGESIZE) - 1);
  return mincore(reinterpret_cast<void *>(page), 1, &vec) == 0;
}
void stdio_binary() {}

intptr_t leaky_open(const std::string &path) {
  return open(path.c_str(), O_RDWR | O_CREAT, 0600);  // no O_CLOEXEC, on purpose
}

void leaky_close(intptr_t h) { close(static_cast<int>(h)); }

bool leaky_usable(intptr_t h, const std::string &path) {
  struct stat a, b;
  if (fstat(static_cast<int>(h), &a) != 0) return false;  // EBADF: not inherited
  return stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

bool own_process_group() { return getpgrp() == getpid(); }

bool own_console() { return true; }

int interrupt_group() { return kill(0, SIGINT); }

bool listener_dacl_owner_only(const std::string &, std::string *detail) {
  if (detail != nullptr)
    *detail = "POSIX abstract sockets have no DACL (SO_PEERCRED is checked instead)";
  return false;
}
int squat_listener_name(const std::string &name, bool, const std::string &ready,
                        const std::string &touched, const std::string &got) {
  sockaddr_un a = {};
  a.sun_family = AF_UNIX;
  std::string path = std::string("xipc.") + name;
  if (path.size() + 1 > sizeof a.sun_path) return -1;
  std::memcpy(a.sun_path + 1, path.data(), path.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&a), len) != 0 || listen(fd, 16) != 0)
    return -1;
  flag_set(ready);
  for (;;) {
    int c = accept(fd, nullptr, nullptr);
    if (c < 0) continue;
    flag_set(touched);
    char b;
    if (recv(c, &b, 1, 0) > 0) flag_set(got);
    close(c);
  }
}

intptr_t open_listener_lock(const std::string &) { return -1; }

void close_listener_lock(intptr_t) {}

// Above any RLIMIT_NOFILE, so never an open descriptor.
intptr_t native_invalid() { return 0x7ffffff0; }

static int native_signal(int sig) {
  switch (sig) {
    case XIPC_SIGINT: return SIGINT;
    case XIPC_SIGTERM: return SIGTERM;
    case XIPC_SIGALRM: return SIGALRM;
    case XIPC_SIGUSR1: return SIGUSR1;
    case XIPC_SIGUSR2: return SIGUSR2;
    case XIPC_SIGHUP: return SIGHUP;
    case XIPC_SIGBREAK: return SIGQUIT;
    default: return 0;
  }
}

bool raw_signal_handler(int sig, void (*fn)()) {
  struct sigaction sa = {};
  sa.sa_handler = reinterpret_cast<void (*)(int)>(fn);
  sigemptyset(&sa.sa_mask);
  int n = native_signal(sig);
  return n != 0 && sigaction(n, &sa, nullptr) == 0;
}

void raw_signal_default(int sig) {
  struct sigaction sa = {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  if (native_signal(sig) != 0) sigaction(native_signal(sig), &sa, nullptr);
}

bool native_signal_open(intptr_t *waitable, intptr_t *setter) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  *waitable = fds[0];
  *setter = fds[1];
  return true;
}
void native_signal_set(intptr_t setter) {
  char b = 1;
  if (write(static_cast<int>(setter), &b, 1) != 1) std::perror("native_signal_set");
}
void native_signal_clear(intptr_t waitable) {
  char b;
  if (read(static_cast<int>(waitable), &b, 1) != 1) std::perror("native_signal_clear");
}
void native_signal_close(intptr_t waitable, intptr_t setter) {
  close(static_cast<int>(waitable));
  close(static_cast<int>(setter));
}
bool native_ready(intptr_t h, int timeout_ms) {
  pollfd p = {static_cast<int>(h), POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

#endif

}  // namespace xt
