// Streams (pipes): bytes and end of stream, timeouts that leave the stream
// working, EPIPE without SIGPIPE, framed messages, export/import, bad input
// and a writer that dies mid-write.
#include "harness.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#ifndef _WIN32
#include <csignal>
#endif

namespace {

// Both ends of one pipe, closed at the end of the test.
struct Pipe {
  xipc_stream *r = nullptr, *w = nullptr;
  Pipe() { EXPECT_EQ(0, xipc_pipe(&r, &w)); }
  ~Pipe() {
    if (r) xipc_stream_close(r);
    if (w) xipc_stream_close(w);
  }
  void close_r() { xipc_stream_close(r), r = nullptr; }
  void close_w() { xipc_stream_close(w), w = nullptr; }
};

// Reads exactly n bytes (or up to end of stream) into out.
int read_exact(xipc_stream *s, std::vector<unsigned char> &out, size_t n,
               int timeout_ms = -1) {
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

std::vector<unsigned char> pattern(size_t n, uint32_t seed) {
  std::vector<unsigned char> v(n);
  std::mt19937 g(seed);
  for (auto &c : v) c = static_cast<unsigned char>(g());
  return v;
}

// Fills the pipe until a write with timeout 0 moves nothing; returns how
// many bytes went in.
size_t fill(xipc_stream *w) {
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

}  // namespace

TEST(Stream, PipeMovesBytesAndEndOfStream) {
  Pipe p;
  const char msg[] = "hello, pipe";
  size_t n = 0;
  XT_OK(xipc_stream_write(p.w, msg, sizeof msg, &n, -1));
  EXPECT_EQ(sizeof msg, n);
  std::vector<unsigned char> got;
  XT_OK(read_exact(p.r, got, sizeof msg, 1000));
  ASSERT_EQ(sizeof msg, got.size());
  EXPECT_EQ(0, std::memcmp(msg, got.data(), sizeof msg));
  XT_OK(xipc_stream_shutdown(p.w));
  char c;
  XT_OK(xipc_stream_read(p.r, &c, 1, &n, xt::scaled_ms(2000)));
  EXPECT_EQ(0u, n);  // end of stream
  XT_OK(xipc_stream_read(p.r, &c, 1, &n, 0));
  EXPECT_EQ(0u, n);  // and it stays so
}

TEST(Stream, BinaryBytesPassUnchanged) {
  Pipe p;
  // Every byte value, CR LF pairs, lone LF and CR, and 0x1A (DOS end of file).
  std::vector<unsigned char> data;
  for (int rep = 0; rep < 64; rep++)
    for (int b = 0; b < 256; b++) data.push_back(static_cast<unsigned char>(b));
  const unsigned char tricky[] = {'\r', '\n', '\n', '\r', 0x1a, 0, 0x1a, '\r'};
  data.insert(data.begin(), tricky, tricky + sizeof tricky);
  data.insert(data.end(), tricky, tricky + sizeof tricky);
  std::thread writer([&] {
    size_t n = 0;
    EXPECT_EQ(0, xipc_stream_write(p.w, data.data(), data.size(), &n, -1));
    EXPECT_EQ(data.size(), n);
  });
  std::vector<unsigned char> got;
  XT_OK(read_exact(p.r, got, data.size(), xt::scaled_ms(5000)));
  writer.join();
  EXPECT_TRUE(got == data);
}

TEST(Stream, ReadTimeoutOnEmptyPipeIsNeverEarly) {
  Pipe p;
  char buf[16];
  size_t n = 7;
  EXPECT_EQ(XIPC_EAGAIN, xipc_stream_read(p.r, buf, sizeof buf, &n, 0));
  EXPECT_EQ(0u, n);
  for (int ms : {1, 20, 100}) {
    int64_t t0 = xt::now_ms();
    EXPECT_EQ(XIPC_ETIMEDOUT, xipc_stream_read(p.r, buf, sizeof buf, &n, ms));
    EXPECT_GE(xt::now_ms() - t0, ms) << "timeout " << ms;
  }
  // The stream still works: nothing pending, nothing lost.
  XT_OK(xipc_stream_write(p.w, "abc", 3, &n, 0));
  std::vector<unsigned char> got;
  XT_OK(read_exact(p.r, got, 3, 1000));
  EXPECT_EQ(std::string("abc"), std::string(got.begin(), got.end()));
  EXPECT_EQ(XIPC_EAGAIN, xipc_stream_read(p.r, buf, sizeof buf, &n, 0));
}

TEST(Stream, WriteTimeoutOnFullPipeLosesNothing) {
  Pipe p;
  size_t filled = fill(p.w);
  ASSERT_GT(filled, 0u);
  const char tail[] = "TAIL";
  size_t n = 9;
  EXPECT_EQ(XIPC_EAGAIN, xipc_stream_write(p.w, tail, 4, &n, 0));
  EXPECT_EQ(0u, n);
  int64_t t0 = xt::now_ms();
  EXPECT_EQ(XIPC_ETIMEDOUT, xipc_stream_write(p.w, tail, 4, &n, 50));
  EXPECT_GE(xt::now_ms() - t0, 50);
  EXPECT_EQ(0u, n);
  // Drain: exactly what went in, every byte 0x5a; then a write works again.
  std::vector<unsigned char> got;
  XT_OK(read_exact(p.r, got, filled, xt::scaled_ms(2000)));
  ASSERT_EQ(filled, got.size());
  for (size_t i = 0; i < got.size(); i++) ASSERT_EQ(0x5a, got[i]) << i;
  char c;
  EXPECT_EQ(XIPC_EAGAIN, xipc_stream_read(p.r, &c, 1, &n, 0));
  XT_OK(xipc_stream_write(p.w, tail, 4, &n, 1000));
  XT_OK(read_exact(p.r, got, 4, 1000));
  EXPECT_EQ(std::string("TAIL"), std::string(got.begin(), got.end()));
}

TEST(Stream, WriteWithoutReaderIsEpipe) {
#ifndef _WIN32
  struct sigaction before {};
  sigaction(SIGPIPE, nullptr, &before);
#endif
  Pipe p;
  p.close_r();
  size_t n = 5;
  EXPECT_EQ(XIPC_EPIPE, xipc_stream_write(p.w, "x", 1, &n, -1));
  EXPECT_EQ(0u, n);
  EXPECT_EQ(XIPC_EPIPE, xipc_stream_write(p.w, "x", 1, &n, 100));
  EXPECT_EQ(XIPC_EPIPE, xipc_stream_write(p.w, "x", 1, &n, 0));
#ifndef _WIN32
  // Still alive (no SIGPIPE), the disposition is unchanged and no SIGPIPE
  // was left pending for this thread.
  struct sigaction after {};
  sigaction(SIGPIPE, nullptr, &after);
  EXPECT_EQ(before.sa_handler, after.sa_handler);
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGPIPE));
#endif
}

TEST(Stream, LargeWriteReachesReaderInOrder) {
  Pipe p;
  auto data = pattern(4u << 20, 12);
  std::thread writer([&] {
    size_t n = 0;
    EXPECT_EQ(0, xipc_stream_write(p.w, data.data(), data.size(), &n,
                                   xt::scaled_ms(20000)));
    EXPECT_EQ(data.size(), n);
    EXPECT_EQ(0, xipc_stream_shutdown(p.w));
  });
  std::vector<unsigned char> got;
  XT_OK(read_exact(p.r, got, data.size() + 1, xt::scaled_ms(20000)));
  writer.join();
  EXPECT_TRUE(got == data);
}
