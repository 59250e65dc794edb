// bench_queue: xipc_queue (copying, and zero-copy as "xipc_zc") against a
// pipe (FIFO), a POSIX message queue, an
// AF_UNIX SOCK_SEQPACKET connection and Boost.Interprocess message_queue,
// all measured in the same run, between separate processes (this program
// started again with a role). Prints a table and writes a CSV
// (bench_queue.csv, or the path given as the first argument); see
// bench/plot_queue.sh for a plot. On Windows only xipc is measured.
//
// Scenarios (64-byte messages unless said otherwise):
//   1p1c      one producer process, one consumer process: msgs/s and CPU
//             time per message (both processes, user + system); the median
//             of three runs
//   4p1c      four producers, one consumer: msgs/s in total (median of 3)
//   pingpong  round trip through two channels, the echo answers at once:
//             p50 / p99 in microseconds
//   sleeping  the same, but the pinger pauses 200 us between rounds and the
//             echo "thinks" 100 us (busy) before answering, so both sides
//             block in the kernel every time; the think time is subtracted
//             (both after 1000 uncounted warm-up rounds, see pingpong())
//   size      1p1c with 8 B .. 64 KiB messages: MB/s
// xipc puts and gets with a 10 s timeout armed, as an application would.
#include <xipc.h>

#include "bench_clock.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <mqueue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#endif

#if defined(XIPC_BENCH_HAVE_BOOST) && !defined(_WIN32)
#include <boost/interprocess/ipc/message_queue.hpp>
#endif

namespace {

// ---- clocks -------------------------------------------------------------------

uint64_t now_ns() { return (uint64_t)bench_now_ns(); }

uint64_t cpu_ns() {
#ifdef _WIN32
  FILETIME c, e, k, u;
  GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u);
  auto v = [](FILETIME f) { return ((uint64_t)f.dwHighDateTime << 32 | f.dwLowDateTime) * 100; };
  return v(k) + v(u);
#else
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void busy_ns(uint64_t ns) {
  uint64_t end = now_ns() + ns;
  while (now_ns() < end) {
  }
}

void die(const char *what, int rc = 0) {
  std::fprintf(stderr, "bench_queue: %s failed (%d: %s)\n", what, rc,
               rc < 0 ? xipc_err_name(rc) : std::strerror(rc));
  std::exit(1);
}

// ---- transports ---------------------------------------------------------------
// A channel is one direction of messages, named by a string. The parent
// creates (and finally destroys) it; each process opens its end.

struct Channel {
  virtual ~Channel() = default;
  virtual void send(const void *p, size_t n) = 0;
  virtual size_t recv(void *p, size_t cap) = 0;
};

struct Transport {
  const char *name;
  bool multi_producer;
  size_t max_size;
  void (*create)(const std::string &ch, size_t size);
  void (*destroy)(const std::string &ch);
  Channel *(*open)(const std::string &ch, size_t size, bool sender);
};

// xipc
struct XipcChannel : Channel {
  xipc_queue *q = nullptr;
  XipcChannel(const std::string &ch) {
    int rc = xipc_queue_open(&q, ch.c_str(), nullptr, 0);
    if (rc != 0) die("xipc_queue_open", rc);
  }
  ~XipcChannel() override { xipc_queue_close(q); }
  void send(const void *p, size_t n) override {
    int rc = xipc_queue_put(q, p, n, 10000);
    if (rc != 0) die("xipc_queue_put", rc);
  }
  size_t recv(void *p, size_t cap) override {
    size_t len = 0;
    int rc = xipc_queue_get(q, p, cap, &len, 10000);
    if (rc != 0) die("xipc_queue_get", rc);
    return len;
  }
};

// The parent's handle keeps the queue alive while children come and go.
std::vector<std::pair<std::string, xipc_queue *>> xipc_keep;

void xipc_create_flags(const std::string &ch, size_t size, unsigned flags) {
  xipc_queue_options o = {std::max<size_t>(256 * 1024, 4 * (size + 8)), std::max<size_t>(size, 64), 0};
  xipc_queue *q = nullptr;
  int rc = xipc_queue_open(&q, ch.c_str(), &o, XIPC_CREATE | XIPC_EXCL | flags);
  if (rc != 0) die("xipc create", rc);
  xipc_keep.emplace_back(ch, q);
}
void xipc_create(const std::string &ch, size_t size) { xipc_create_flags(ch, size, 0); }
void xipc_destroy(const std::string &ch) {
  for (auto &k : xipc_keep)
    if (k.first == ch && k.second) {
      xipc_queue_close(k.second);
      k.second = nullptr;
    }
}

// xipc_persist: the same calls on a persistent queue (XIPC_QUEUE_PERSIST:
// /dev/shm without the lifetime mark on Linux, a file in %LOCALAPPDATA%
// on Windows), removed by unlink at the end.
void xipc_persist_create(const std::string &ch, size_t size) {
  xipc_create_flags(ch, size, XIPC_QUEUE_PERSIST);
}
void xipc_persist_destroy(const std::string &ch) {
  xipc_destroy(ch);
  xipc_queue_unlink(ch.c_str());
}
Channel *xipc_open(const std::string &ch, size_t, bool) { return new XipcChannel(ch); }

// xipc_zc: the same queue through reserve/commit and peek/release. The
// producer writes its message straight into the ring; the consumer reads
// one byte of each cache line where it lies, instead of copying it out.
uint64_t g_sink;

struct XipcZcChannel : XipcChannel {
  using XipcChannel::XipcChannel;
  void send(const void *p, size_t n) override {
    void *at = nullptr;
    int rc = xipc_queue_reserve(q, n, &at, 10000);
    if (rc != 0) die("xipc_queue_reserve", rc);
    std::memcpy(at, p, n);
    rc = xipc_queue_commit(q, n);
    if (rc != 0) die("xipc_queue_commit", rc);
  }
  size_t recv(void *, size_t) override {
    const void *msg = nullptr;
    size_t len = 0;
    int rc = xipc_queue_peek(q, &msg, &len, 10000);
    if (rc != 0) die("xipc_queue_peek", rc);
    // One byte of every cache line: the lines come over to this CPU, as a
    // copy's would, without a loop slower than the copy.
    const unsigned char *b = static_cast<const unsigned char *>(msg);
    uint64_t sum = 0;
    for (size_t i = 0; i < len; i += 64) sum += b[i];
    g_sink += sum;
    rc = xipc_queue_release(q);
    if (rc != 0) die("xipc_queue_release", rc);
    return len;
  }
};
Channel *xipc_zc_open(const std::string &ch, size_t, bool) { return new XipcZcChannel(ch); }

#ifndef _WIN32
std::string fifo_path(const std::string &ch) { return "/tmp/" + ch + ".fifo"; }

// pipe: a named FIFO, so unrelated processes can open it.
struct FdChannel : Channel {
  int fd;
  explicit FdChannel(int f) : fd(f) {}
  ~FdChannel() override { close(fd); }
  void send(const void *p, size_t n) override {
    const char *c = static_cast<const char *>(p);
    while (n > 0) {
      ssize_t w = write(fd, c, n);
      if (w <= 0) die("write", errno);
      c += w;
      n -= (size_t)w;
    }
  }
  size_t recv(void *p, size_t cap) override {  // pipe: exactly cap bytes
    char *c = static_cast<char *>(p);
    size_t got = 0;
    while (got < cap) {
      ssize_t r = read(fd, c + got, cap - got);
      if (r <= 0) die("read", errno);
      got += (size_t)r;
    }
    return got;
  }
};
void fifo_create(const std::string &ch, size_t) {
  if (mkfifo(fifo_path(ch).c_str(), 0600) != 0) die("mkfifo", errno);
}
void fifo_destroy(const std::string &ch) { unlink(fifo_path(ch).c_str()); }
Channel *fifo_open(const std::string &ch, size_t, bool sender) {
  int fd = open(fifo_path(ch).c_str(), sender ? O_WRONLY : O_RDONLY);
  if (fd < 0) die("open fifo", errno);
  return new FdChannel(fd);
}

// POSIX message queue.
struct MqChannel : Channel {
  mqd_t q;
  explicit MqChannel(mqd_t m) : q(m) {}
  ~MqChannel() override { mq_close(q); }
  void send(const void *p, size_t n) override {
    if (mq_send(q, static_cast<const char *>(p), n, 0) != 0) die("mq_send", errno);
  }
  size_t recv(void *p, size_t cap) override {
    ssize_t r = mq_receive(q, static_cast<char *>(p), cap, nullptr);
    if (r < 0) die("mq_receive", errno);
    return (size_t)r;
  }
};
std::string mq_name(const std::string &ch) { return "/" + ch; }
void mq_create(const std::string &ch, size_t size) {
  mq_attr a = {};
  a.mq_msgsize = (long)size;
  for (long depth : {256L, 64L, 10L}) {  // non-root limit: fs.mqueue.msg_max
    a.mq_maxmsg = depth;
    mqd_t q = mq_open(mq_name(ch).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &a);
    if (q != (mqd_t)-1) {
      mq_close(q);
      return;
    }
  }
  die("mq_open create", errno);
}
void mq_destroy(const std::string &ch) { mq_unlink(mq_name(ch).c_str()); }
Channel *mq_open_end(const std::string &ch, size_t, bool sender) {
  mqd_t q = mq_open(mq_name(ch).c_str(), sender ? O_WRONLY : O_RDONLY);
  if (q == (mqd_t)-1) die("mq_open", errno);
  return new MqChannel(q);
}

// AF_UNIX SOCK_SEQPACKET: the receiver listens on an abstract address, the
// sender connects (retrying until the receiver is there).
sockaddr_un seq_addr(const std::string &ch, socklen_t *len) {
  sockaddr_un a = {};
  a.sun_family = AF_UNIX;
  std::string n = "xb-" + ch;
  std::memcpy(a.sun_path + 1, n.data(), std::min(n.size(), sizeof a.sun_path - 2));
  *len = (socklen_t)(offsetof(sockaddr_un, sun_path) + 1 + std::min(n.size(), sizeof a.sun_path - 2));
  return a;
}
void seq_create(const std::string &, size_t) {}
void seq_destroy(const std::string &) {}
Channel *seq_open(const std::string &ch, size_t size, bool sender) {
  socklen_t len;
  sockaddr_un a = seq_addr(ch, &len);
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket", errno);
  int buf = (int)std::max<size_t>(256 * 1024, 4 * size);
  setsockopt(s, SOL_SOCKET, sender ? SO_SNDBUF : SO_RCVBUF, &buf, sizeof buf);
  if (sender) {
    for (int i = 0; connect(s, (sockaddr *)&a, len) != 0; i++) {
      if (i > 20000) die("connect", errno);
      usleep(500);
    }
    return new FdChannel(s);
  }
  if (bind(s, (sockaddr *)&a, len) != 0 || listen(s, 1) != 0) die("bind", errno);
  int c = accept4(s, nullptr, nullptr, SOCK_CLOEXEC);
  if (c < 0) die("accept", errno);
  close(s);
  setsockopt(c, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  struct SeqChannel : FdChannel {
    using FdChannel::FdChannel;
    size_t recv(void *p, size_t cap) override {
      ssize_t r = ::recv(fd, p, cap, 0);
      if (r <= 0) die("recv", errno);
      return (size_t)r;
    }
  };
  return new SeqChannel(c);
}
#endif

#if defined(XIPC_BENCH_HAVE_BOOST) && !defined(_WIN32)
namespace bip = boost::interprocess;
struct BoostChannel : Channel {
  bip::message_queue q;
  explicit BoostChannel(const std::string &ch) : q(bip::open_only, ch.c_str()) {}
  void send(const void *p, size_t n) override { q.send(p, n, 0); }
  size_t recv(void *p, size_t cap) override {
    bip::message_queue::size_type got;
    unsigned prio;
    q.receive(p, cap, got, prio);
    return got;
  }
};
void boost_create(const std::string &ch, size_t size) {
  bip::message_queue::remove(ch.c_str());
  // receive() needs a buffer of max_msg_size bytes: make it the size used.
  bip::message_queue q(bip::create_only, ch.c_str(), 256, size);
}
void boost_destroy(const std::string &ch) { bip::message_queue::remove(ch.c_str()); }
Channel *boost_open(const std::string &ch, size_t, bool) { return new BoostChannel(ch); }
#endif

const Transport kTransports[] = {
    {"xipc", true, 65536, xipc_create, xipc_destroy, xipc_open},
    {"xipc_zc", true, 65536, xipc_create, xipc_destroy, xipc_zc_open},
    {"xipc_persist", true, 65536, xipc_persist_create, xipc_persist_destroy, xipc_open},
#ifndef _WIN32
    {"pipe", true, 65536, fifo_create, fifo_destroy, fifo_open},
    {"posix_mq", true, 8192, mq_create, mq_destroy, mq_open_end},
    {"seqpacket", false, 65536, seq_create, seq_destroy, seq_open},
#endif
#if defined(XIPC_BENCH_HAVE_BOOST) && !defined(_WIN32)
    {"boost_mq", true, 65536, boost_create, boost_destroy, boost_open},
#endif
};

const Transport *find_transport(const char *name) {
  for (const auto &t : kTransports)
    if (std::strcmp(t.name, name) == 0) return &t;
  return nullptr;
}

// ---- control block shared with the children -----------------------------------

struct Ctl {
  std::atomic<int> ready;
  std::atomic<int> go;
  std::atomic<uint64_t> t_end;
  std::atomic<uint64_t> cpu[8];
  std::atomic<uint64_t> ping, pong;
};

std::string g_self;
std::string g_ctl_name;

Ctl *map_ctl(xipc_map **m, bool create) {
  int rc = xipc_map_named(m, g_ctl_name.c_str(), create ? sizeof(Ctl) : 0, XIPC_ACCESS_WRITE,
                          create ? XIPC_CREATE | XIPC_EXCL : 0);
  if (rc != 0) die("control mapping", rc);
  return static_cast<Ctl *>(xipc_map_data(*m));
}

void wait_go(Ctl *c) {
  c->ready.fetch_add(1);
  while (c->go.load() == 0) std::this_thread::yield();
}

// ---- child roles ------------------------------------------------------------------
// argv: role transport ctl channel count size index

int role_main(int argc, char **argv) {
  if (argc < 9) return 2;
  std::string role = argv[2];
  const Transport *t = find_transport(argv[3]);
  g_ctl_name = argv[4];
  std::string ch = argv[5];
  uint64_t n = std::strtoull(argv[6], nullptr, 10);
  size_t size = std::strtoull(argv[7], nullptr, 10);
  int index = std::atoi(argv[8]);
  if (t == nullptr) return 3;
  xipc_map *m;
  Ctl *c = map_ctl(&m, false);
  std::vector<char> buf(std::max<size_t>(size, 64), 'x');
  if (role == "producer") {
    std::unique_ptr<Channel> out(t->open(ch, size, true));
    wait_go(c);
    uint64_t c0 = cpu_ns();
    for (uint64_t i = 0; i < n; i++) out->send(buf.data(), size);
    c->cpu[index] = cpu_ns() - c0;
  } else if (role == "consumer") {
    std::unique_ptr<Channel> in(t->open(ch, size, false));
    wait_go(c);
    uint64_t c0 = cpu_ns();
    for (uint64_t i = 0; i < n; i++) in->recv(buf.data(), size);
    c->t_end = now_ns();
    c->cpu[index] = cpu_ns() - c0;
  } else if (role == "c2c") {
    c->ready.fetch_add(1);
    for (uint64_t i = 1; i <= n; i++) {
      while (c->ping.load() != i) relax();
      c->pong = i;
    }
  } else if (role == "echo") {  // index: think time in microseconds
    std::unique_ptr<Channel> in(t->open(ch + "a", size, false));
    std::unique_ptr<Channel> out(t->open(ch + "b", size, true));
    c->ready.fetch_add(1);
    for (uint64_t i = 0; i < n; i++) {
      in->recv(buf.data(), size);
      if (index > 0) busy_ns((uint64_t)index * 1000);
      out->send(buf.data(), size);
    }
  }
  xipc_map_close(m);
  return 0;
}

// ---- parent side ------------------------------------------------------------------

struct Kids {
  std::vector<xipc_proc *> procs;
  void start(const char *role, const Transport &t, const std::string &ch, uint64_t n,
             size_t size, int index) {
    std::string ns = std::to_string(n), ss = std::to_string(size), is = std::to_string(index);
    const char *argv[] = {g_self.c_str(), "--role", role, t.name, g_ctl_name.c_str(),
                          ch.c_str(), ns.c_str(), ss.c_str(), is.c_str(), nullptr};
    xipc_proc *p;
    int rc = xipc_proc_spawn(&p, argv, nullptr);
    if (rc != 0) die("spawn", rc);
    procs.push_back(p);
  }
  void wait_all() {
    bool bad = false;
    for (auto *p : procs) {
      xipc_exit_status st;
      int rc = bad ? xipc_proc_kill(p) : xipc_proc_wait(p, 600000, &st);
      if (bad || rc != 0 || !st.exited || st.exit_code != 0) {
        bad = true;
        for (auto *o : procs) xipc_proc_kill(o);  // peers blocked on the dead one
      }
      xipc_proc_wait(p, 600000, &st);
      xipc_proc_close(p);
    }
    procs.clear();
    if (bad) die("child");
  }
};

struct Result {
  double seconds;
  double cpu_per_msg_ns;
};

int g_run = 0;
std::string next_channel() { return "xb" + std::to_string((long long)xipc_self_pid()) + "-" + std::to_string(g_run++); }

// nprod producers, one consumer, n messages per producer.
Result throughput(const Transport &t, int nprod, uint64_t n, size_t size) {
  std::string ch = next_channel();
  g_ctl_name = ch + "-ctl";
  xipc_map *m;
  Ctl *c = map_ctl(&m, true);
  t.create(ch, size);
  Kids k;
  k.start("consumer", t, ch, n * (uint64_t)nprod, size, 0);
  for (int i = 0; i < nprod; i++) k.start("producer", t, ch, n, size, 1 + i);
  while (c->ready.load() < nprod + 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  uint64_t t0 = now_ns();
  c->go = 1;
  k.wait_all();
  uint64_t cpu = 0;
  for (int i = 0; i <= nprod; i++) cpu += c->cpu[i];
  Result r = {(double)(c->t_end - t0) / 1e9, (double)cpu / (double)(n * (uint64_t)nprod)};
  t.destroy(ch);
  xipc_map_close(m);
  return r;
}

// The run with the median time of three (the machine may be shared).
template <class F>
Result median3(F run) {
  Result r[3] = {run(), run(), run()};
  std::sort(r, r + 3, [](const Result &a, const Result &b) { return a.seconds < b.seconds; });
  return r[1];
}

// Round trips: p50 and p99 in microseconds.
// The first `warm` rounds are not counted: after a scenario that kept both
// CPUs busy (the spinning ping-pong), the kernel keeps a pair of processes
// that wake each other by futex on separate CPUs for some tens of
// milliseconds before it puts them on one (measured: 40-290 sleeping rounds
// of 300 us; pipes, whose wake-ups carry the kernel's "sync" hint, up to
// some 60). The steady state is what the targets are about.
std::pair<double, double> pingpong(const Transport &t, uint64_t warm, uint64_t rounds, int think_us,
                                   int gap_us) {
  std::string ch = next_channel();
  g_ctl_name = ch + "-ctl";
  xipc_map *m;
  Ctl *c = map_ctl(&m, true);
  const size_t size = 64;
  t.create(ch + "a", size);
  t.create(ch + "b", size);
  Kids k;
  k.start("echo", t, ch, warm + rounds, size, think_us);
  std::unique_ptr<Channel> out(t.open(ch + "a", size, true));
  std::unique_ptr<Channel> in(t.open(ch + "b", size, false));
  while (c->ready.load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::vector<double> us;
  char buf[64] = {0};
  for (uint64_t i = 0; i < warm + rounds; i++) {
    if (gap_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
    uint64_t t0 = now_ns();
    out->send(buf, size);
    in->recv(buf, size);
    if (i >= warm) us.push_back((double)(now_ns() - t0) / 1000.0 - think_us);
  }
  k.wait_all();
  out.reset();
  in.reset();
  t.destroy(ch + "a");
  t.destroy(ch + "b");
  xipc_map_close(m);
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

// Core-to-core round trip: two processes bounce a cache line by spinning,
// in microseconds. It shows where the machine's CPUs are at the moment (on
// a shared virtual machine it changes: 0.1 us when the two vCPUs sit on
// neighbouring cores, 0.5 us when they are far apart, which slows every
// shared-memory transport that moves cache lines between them).
double core_to_core_us() {
  const uint64_t n = 20000;
  std::string ch = next_channel();
  g_ctl_name = ch + "-ctl";
  xipc_map *m;
  Ctl *c = map_ctl(&m, true);
  Kids k;
  k.start("c2c", kTransports[0], ch, n, 0, 0);
  while (c->ready.load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // The median of batches of 100, so that a preemption does not count.
  std::vector<double> batch;
  for (uint64_t i = 1; i <= n;) {
    uint64_t t0 = now_ns();
    for (uint64_t end = i + 100; i < end; i++) {
      c->ping = i;
      while (c->pong.load() != i) relax();
    }
    batch.push_back((double)(now_ns() - t0) / 1000.0 / 100.0);
  }
  k.wait_all();
  xipc_map_close(m);
  std::sort(batch.begin(), batch.end());
  return batch[batch.size() / 2];
}

FILE *g_csv;

void row(const char *scenario, const char *transport, size_t size, double value, const char *unit) {
  std::fprintf(g_csv, "%s,%s,%zu,%.6g,%s\n", scenario, transport, size, value, unit);
  std::fflush(g_csv);
}

bool fast(const Transport &t) { return std::strncmp(t.name, "xipc", 4) == 0; }
bool xipc_row(const Transport &t) { return std::strcmp(t.name, "xipc") == 0; }

// True if the comma-separated list in environment variable `var` is unset
// or names `item`.
bool listed(const char *var, const char *item) {
  const char *only = std::getenv(var);
  if (only == nullptr) return true;
  std::string list = std::string(",") + only + ",";
  return list.find(std::string(",") + item + ",") != std::string::npos;
}

// XIPC_BENCH_ONLY=name[,name...] measures only those transports.
bool wanted(const Transport &t) { return listed("XIPC_BENCH_ONLY", t.name); }

// XIPC_BENCH_PARTS=scenario[,...] (1p1c 4p1c pingpong sleeping size) runs
// only those scenarios.
bool part(const char *scenario) { return listed("XIPC_BENCH_PARTS", scenario); }

}  // namespace

int main(int argc, char **argv) {
  char **args;
  if (xipc_args_utf8(argc, argv, &args) != 0) return 1;
  if (argc > 1 && std::strcmp(args[1], "--role") == 0) return role_main(argc, args);
  char self[4096];
  size_t len;
  if (xipc_exe_path(self, sizeof self, &len) != 0) return 1;
  g_self = self;
  const char *csv = argc > 1 ? args[1] : "bench_queue.csv";
  g_csv = std::fopen(csv, "w");
  if (!g_csv) die("open csv", errno);
  std::fprintf(g_csv, "scenario,transport,size,value,unit\n");
  const double scale = std::getenv("XIPC_BENCH_SCALE") ? std::atof(std::getenv("XIPC_BENCH_SCALE")) : 1.0;
  auto count = [&](const Transport &t, double base) {
    return (uint64_t)std::max(1000.0, base * scale * (fast(t) ? 10 : 1));
  };

  std::printf("%-10s %12s %9s %12s %10s %10s %10s %10s %9s\n", "transport", "1p1c msg/s", "ns cpu/m",
              "4p1c msg/s", "pp p50 us", "pp p99 us", "sleep p50", "sleep p99", "c2c us");
  std::printf("(c2c: core-to-core round trip before/after the row, see core_to_core_us)\n");
  double base1 = 0, base4 = 0, pipe_sleep = 0, xipc_sleep = 0;
  double boost1 = 0, boost4 = 0;
  for (const auto &t : kTransports) {
    if (!wanted(t)) continue;
    double c2c_before = core_to_core_us();
    uint64_t n = count(t, 1e6);
    Result r1 = {0, 0};
    double m1 = 0, m4 = 0;
    std::pair<double, double> pp = {0, 0}, sl = {0, 0};
    if (part("1p1c")) {
      r1 = median3([&] { return throughput(t, 1, n, 64); });
      m1 = (double)n / r1.seconds;
      row("1p1c", t.name, 64, m1, "msgs/s");
      row("cpu_per_msg", t.name, 64, r1.cpu_per_msg_ns, "ns");
    }
    if (t.multi_producer && part("4p1c")) {
      uint64_t n4 = count(t, 2.5e5);
      Result r4 = median3([&] { return throughput(t, 4, n4, 64); });
      m4 = 4.0 * (double)n4 / r4.seconds;
      row("4p1c", t.name, 64, m4, "msgs/s");
    }
    if (part("pingpong")) {
      pp = pingpong(t, 1000, (uint64_t)(1e5 * scale), 0, 0);
      row("pingpong_p50", t.name, 64, pp.first, "us");
      row("pingpong_p99", t.name, 64, pp.second, "us");
    }
    if (part("sleeping")) {
      sl = pingpong(t, 1000, (uint64_t)std::max(200.0, 2000 * scale), 100, 200);
      row("sleeping_p50", t.name, 64, sl.first, "us");
      row("sleeping_p99", t.name, 64, sl.second, "us");
    }
    std::string m4s = t.multi_producer ? std::to_string((long long)m4) : "n/a";
    double c2c_after = core_to_core_us();
    row("core_to_core_rtt", t.name, 0, c2c_before, "us");
    row("core_to_core_rtt", t.name, 1, c2c_after, "us");
    char c2c[32];
    std::snprintf(c2c, sizeof c2c, "%.2f/%.2f", c2c_before, c2c_after);
    std::printf("%-10s %12.0f %9.0f %12s %10.2f %10.2f %10.2f %10.2f %9s\n", t.name, m1,
                r1.cpu_per_msg_ns, m4s.c_str(), pp.first, pp.second, sl.first, sl.second, c2c);
    std::fflush(stdout);
    if (xipc_row(t)) base1 = m1, base4 = m4, xipc_sleep = sl.first;
    if (std::strcmp(t.name, "pipe") == 0) pipe_sleep = sl.first;
    if (std::strcmp(t.name, "boost_mq") == 0) boost1 = m1, boost4 = m4;
  }
  if (boost1 > 0 && base1 > 0)
    std::printf("\nratios: 1p1c xipc/boost %.1fx, 4p1c xipc/boost %.1fx\n", base1 / boost1,
                base4 / boost4);
  if (pipe_sleep > 0 && xipc_sleep > 0)
    std::printf("ratio: sleeping round trip xipc/pipe %.2f\n", xipc_sleep / pipe_sleep);

  if (!part("size")) {
    std::fclose(g_csv);
    std::printf("\nCSV: %s\n", csv);
    return 0;
  }
  std::printf("\n1p1c MB/s by message size\n%-10s", "transport");
  const size_t sizes[] = {8, 64, 512, 4096, 32768, 65536};
  for (size_t s : sizes) std::printf(" %9zuB", s);
  std::printf(" %9s\n", "c2c us");
  for (const auto &t : kTransports) {
    if (!wanted(t)) continue;
    std::printf("%-10s", t.name);
    double c2c_before = core_to_core_us();
    for (size_t s : sizes) {
      if (s > t.max_size) {
        std::printf(" %10s", "n/a");
        continue;
      }
      double bytes = (fast(t) ? 1e9 : 2.5e8) * scale;
      uint64_t n = (uint64_t)std::max(200.0, std::min(bytes / (double)s, (double)count(t, 1e6)));
      Result r = throughput(t, 1, n, s);
      double mbs = (double)n * (double)s / r.seconds / 1e6;
      row("size_mbs", t.name, s, mbs, "MB/s");
      std::printf(" %10.1f", mbs);
      std::fflush(stdout);
    }
    char c2c[32];
    std::snprintf(c2c, sizeof c2c, "%.2f/%.2f", c2c_before, core_to_core_us());
    std::printf(" %9s\n", c2c);
  }
  std::fclose(g_csv);
  std::printf("\nCSV: %s\n", csv);
  return 0;
}
