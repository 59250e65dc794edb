// Streams (pipes): bytes and end of stream, timeouts that leave the stream
// working, EPIPE without SIGPIPE, framed messages, export/import, bad input
// and a writer that dies mid-write.
#include "harness.h"
#include "internal.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#ifndef _WIN32
#include <csignal>
#include <pthread.h>
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


std::vector<unsigned char> pattern(size_t n, uint32_t seed) {
  std::vector<unsigned char> v(n);
  std::mt19937 g(seed);
  for (auto &c : v) c = static_cast<unsigned char>(g());
  return v;
}

}  // namespace

TEST(Stream, PipeMovesBytesAndEndOfStream) {
  Pipe p;
  const char msg[] = "hello, pipe";
  size_t n = 0;
  XT_OK(xipc_stream_write(p.w, msg, sizeof msg, &n, -1));
  EXPECT_EQ(sizeof msg, n);
  std::vector<unsigned char> got;
  XT_OK(xt::read_exact(p.r, got, sizeof msg, 1000));
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
  XT_OK(xt::read_exact(p.r, got, data.size(), xt::scaled_ms(5000)));
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
  XT_OK(xt::read_exact(p.r, got, 3, 1000));
  EXPECT_EQ(std::string("abc"), std::string(got.begin(), got.end()));
  EXPECT_EQ(XIPC_EAGAIN, xipc_stream_read(p.r, buf, sizeof buf, &n, 0));
}

TEST(Stream, WriteTimeoutOnFullPipeLosesNothing) {
  Pipe p;
  size_t filled = xt::fill_pipe(p.w);
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
  XT_OK(xt::read_exact(p.r, got, filled, xt::scaled_ms(2000)));
  ASSERT_EQ(filled, got.size());
  for (size_t i = 0; i < got.size(); i++) ASSERT_EQ(0x5a, got[i]) << i;
  char c;
  EXPECT_EQ(XIPC_EAGAIN, xipc_stream_read(p.r, &c, 1, &n, 0));
  XT_OK(xipc_stream_write(p.w, tail, 4, &n, 1000));
  XT_OK(xt::read_exact(p.r, got, 4, 1000));
  EXPECT_EQ(std::string("TAIL"), std::string(got.begin(), got.end()));
}

TEST(Stream, TimeoutsWorkWithoutRwfNowait) {
  if (!xipc__stream_os_poll_fallback_for_testing(true))
    GTEST_SKIP() << "only POSIX has the poll-first fallback for old kernels";
  xt::Cleanup restore([] { xipc__stream_os_poll_fallback_for_testing(false); });
  Pipe p;
  char buf[16];
  size_t n = 0;
  EXPECT_EQ(XIPC_EAGAIN, xipc_stream_read(p.r, buf, sizeof buf, &n, 0));
  int64_t t0 = xt::now_ms();
  EXPECT_EQ(XIPC_ETIMEDOUT, xipc_stream_read(p.r, buf, sizeof buf, &n, 30));
  EXPECT_GE(xt::now_ms() - t0, 30);
  size_t filled = xt::fill_pipe(p.w);
  EXPECT_GT(filled, 0u);
  EXPECT_EQ(XIPC_ETIMEDOUT, xipc_stream_write(p.w, "x", 1, &n, 30));
  std::vector<unsigned char> got;
  XT_OK(xt::read_exact(p.r, got, filled, 1000));
  EXPECT_EQ(filled, got.size());
  EXPECT_EQ(XIPC_EAGAIN, xipc_stream_read(p.r, buf, 1, &n, 0));
  // A big timed write goes in PIPE_BUF steps and arrives whole.
  auto data = pattern(300000, 4);
  std::thread writer([&] {
    size_t m = 0;
    EXPECT_EQ(0, xipc_stream_write(p.w, data.data(), data.size(), &m, xt::scaled_ms(10000)));
    EXPECT_EQ(data.size(), m);
  });
  XT_OK(xt::read_exact(p.r, got, data.size(), xt::scaled_ms(10000)));
  writer.join();
  EXPECT_TRUE(got == data);
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
  XT_OK(xt::read_exact(p.r, got, data.size() + 1, xt::scaled_ms(20000)));
  writer.join();
  EXPECT_TRUE(got == data);
}

// ---- framed messages -------------------------------------------------------

namespace {

// Message i of a run: a slice of a shared random block.
struct Messages {
  std::vector<unsigned char> block = pattern((256u << 10) + 4096, 99);
  std::vector<size_t> sizes;
  explicit Messages(size_t count, uint32_t seed = 7) {
    std::mt19937 g(seed);
    for (size_t i = 0; i < count; i++)
      sizes.push_back(i % 2 ? g() % 512 : g() % ((256u << 10) + 1));
  }
  const unsigned char *data(size_t i) const { return block.data() + i % 4096; }
};

// Writes raw bytes (a crafted frame) with the byte API.
void put_raw(xipc_stream *w, const std::vector<unsigned char> &bytes) {
  size_t n = 0;
  ASSERT_EQ(0, xipc_stream_write(w, bytes.data(), bytes.size(), &n, -1));
}

std::vector<unsigned char> frame(const std::vector<unsigned char> &body) {
  std::vector<unsigned char> f(12);
  f.resize(xipc__frame_header_encode(f.data(), body.size()));
  f.insert(f.end(), body.begin(), body.end());
  return f;
}

}  // namespace

TEST(Stream, TenThousandFramedMessagesBetweenThreads) {
  Pipe p;
  Messages m(10000);
  std::thread writer([&] {
    for (size_t i = 0; i < m.sizes.size(); i++)
      if (xipc_stream_send(p.w, m.data(i), m.sizes[i], xt::scaled_ms(30000))) {
        ADD_FAILURE() << "send " << i;
        break;
      }
    EXPECT_EQ(0, xipc_stream_shutdown(p.w));
  });
  std::vector<unsigned char> buf((256u << 10) + 1);
  size_t i = 0, len = 0;
  for (; i < m.sizes.size(); i++) {
    int rc = xipc_stream_recv(p.r, buf.data(), buf.size(), &len,
                              xt::scaled_ms(30000));
    ASSERT_EQ(0, rc) << "message " << i << ": " << xipc_err_name(rc);
    ASSERT_EQ(m.sizes[i], len) << "message " << i;
    ASSERT_EQ(0, std::memcmp(buf.data(), m.data(i), len)) << "message " << i;
  }
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_recv(p.r, buf.data(), buf.size(), &len,
                                           xt::scaled_ms(5000)));
  writer.join();
}

TEST(Stream, WireFormatIsPythonMultiprocessing) {
  Pipe p;
  XT_OK(xipc_stream_send(p.w, "abc", 3, -1));
  XT_OK(xipc_stream_send(p.w, "", 0, -1));
  std::vector<unsigned char> got;
  XT_OK(xt::read_exact(p.r, got, 11, 1000));
  const unsigned char want[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0};
  ASSERT_EQ(sizeof want, got.size());
  EXPECT_EQ(0, std::memcmp(want, got.data(), sizeof want));
  // A frame written by hand as Python's send_bytes would.
  put_raw(p.w, {0, 0, 0, 2, '\r', '\n'});
  char buf[8];
  size_t len = 0;
  XT_OK(xipc_stream_recv(p.r, buf, sizeof buf, &len, 1000));
  ASSERT_EQ(2u, len);
  EXPECT_EQ(0, std::memcmp(buf, "\r\n", 2));
}

TEST(Stream, FrameHeaderCodecIncludingLongForm) {
  unsigned char h[12];
  size_t hlen = 0;
  uint64_t len = 0;
  struct Case { uint64_t len; size_t hlen; };
  const Case cases[] = {{0, 4}, {1, 4}, {0x7ffffffe, 4}, {0x7fffffff, 12},
                        {0x80000000u, 12}, {(1ull << 32) + 5, 12},
                        {(uint64_t)INT64_MAX, 12}};
  for (const Case &c : cases) {
    ASSERT_EQ(c.hlen, xipc__frame_header_encode(h, c.len)) << c.len;
    for (size_t cut = 0; cut < c.hlen; cut++)
      EXPECT_EQ(XIPC_EAGAIN, xipc__frame_header_decode(h, cut, &hlen, &len));
    XT_OK(xipc__frame_header_decode(h, c.hlen, &hlen, &len));
    EXPECT_EQ(c.hlen, hlen);
    EXPECT_EQ(c.len, len);
  }
  // The long form is -1 then the 8-byte big-endian length.
  xipc__frame_header_encode(h, 0x0102030405060708ull);
  const unsigned char want[] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(0, std::memcmp(h, want, 12));
  // Python writes 2^31 - 1 in the short form; that reads too.
  const unsigned char py[] = {0x7f, 0xff, 0xff, 0xff};
  XT_OK(xipc__frame_header_decode(py, 4, &hlen, &len));
  EXPECT_EQ(0x7fffffffu, len);
  const unsigned char neg[] = {0xff, 0xff, 0xff, 0xfe};
  EXPECT_EQ(XIPC_ECORRUPT, xipc__frame_header_decode(neg, 4, &hlen, &len));
  const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(XIPC_ECORRUPT, xipc__frame_header_decode(huge, 12, &hlen, &len));
}

TEST(Stream, RecvOfCraftedLongHeaderReportsSize) {
  Pipe p;
  // A 3 GiB message announced in the long form; only the header is sent.
  unsigned char h[12];
  size_t hn = xipc__frame_header_encode(h, 3ull << 30);
  put_raw(p.w, std::vector<unsigned char>(h, h + hn));
  char buf[16];
  size_t len = 0;
  EXPECT_EQ(XIPC_EMSGSIZE, xipc_stream_recv(p.r, buf, sizeof buf, &len, 1000));
  EXPECT_EQ(sizeof(size_t) >= 8 ? size_t(3ull << 30) : SIZE_MAX, len);
  // A negative length other than -1 is not the format.
  Pipe q;
  put_raw(q.w, {0xff, 0xff, 0xff, 0xfe, 1, 2});
  EXPECT_EQ(XIPC_ECORRUPT, xipc_stream_recv(q.r, buf, sizeof buf, &len, 1000));
}

TEST(Stream, RecvTooSmallKeepsMessageForRetry) {
  for (size_t size : {size_t(100), size_t(200u << 10)}) {
    Pipe p;
    auto body = pattern(size, 3);
    std::thread writer([&] {
      EXPECT_EQ(0, xipc_stream_send(p.w, body.data(), body.size(), -1));
      EXPECT_EQ(0, xipc_stream_send(p.w, "next", 4, -1));
    });
    std::vector<unsigned char> buf(size);
    size_t len = 0;
    EXPECT_EQ(XIPC_EMSGSIZE, xipc_stream_recv(p.r, nullptr, 0, &len, 5000));
    EXPECT_EQ(size, len);
    EXPECT_EQ(XIPC_EMSGSIZE, xipc_stream_recv(p.r, buf.data(), size - 1, &len, 5000));
    EXPECT_EQ(size, len);
    XT_OK(xipc_stream_recv(p.r, buf.data(), buf.size(), &len, xt::scaled_ms(5000)));
    ASSERT_EQ(size, len);
    EXPECT_TRUE(buf == body);
    XT_OK(xipc_stream_recv(p.r, buf.data(), buf.size(), &len, xt::scaled_ms(5000)));
    EXPECT_EQ(std::string("next"), std::string(buf.begin(), buf.begin() + len));
    writer.join();
  }
}

TEST(Stream, PeerClosingMidMessageGivesClosedAfterCompleteOnes) {
  // A torn header, a torn small body, a torn large body.
  for (size_t torn : {size_t(2), size_t(4 + 10), size_t(4 + (100u << 10))}) {
    Pipe p;
    auto big = pattern(150u << 10, 5);
    std::thread writer([&] {
      EXPECT_EQ(0, xipc_stream_send(p.w, "one", 3, -1));
      EXPECT_EQ(0, xipc_stream_send(p.w, "two", 3, -1));
      auto f = frame(big);
      size_t n = 0;
      EXPECT_EQ(0, xipc_stream_write(p.w, f.data(), torn, &n, -1));
      p.close_w();
    });
    std::vector<unsigned char> buf(big.size());
    size_t len = 0;
    XT_OK(xipc_stream_recv(p.r, buf.data(), buf.size(), &len, xt::scaled_ms(5000)));
    EXPECT_EQ(3u, len);
    XT_OK(xipc_stream_recv(p.r, buf.data(), buf.size(), &len, xt::scaled_ms(5000)));
    EXPECT_EQ(std::string("two"), std::string(buf.begin(), buf.begin() + len));
    EXPECT_EQ(XIPC_ECLOSED, xipc_stream_recv(p.r, buf.data(), buf.size(), &len,
                                             xt::scaled_ms(5000))) << torn;
    EXPECT_EQ(0u, len);
    EXPECT_EQ(XIPC_ECLOSED, xipc_stream_recv(p.r, buf.data(), buf.size(), &len, 0));
    writer.join();
  }
}

TEST(Stream, RecvTimeoutMidMessageKeepsBytesRead) {
  for (size_t size : {size_t(1000), size_t(300u << 10)}) {
    Pipe p;
    auto body = pattern(size, 8);
    auto f = frame(body);
    size_t half = f.size() / 2, n = 0;
    std::thread first([&] {
      EXPECT_EQ(0, xipc_stream_write(p.w, f.data(), half, &n, -1));
    });
    std::vector<unsigned char> buf(size);
    size_t len = 0;
    int64_t t0 = xt::now_ms();
    EXPECT_EQ(XIPC_ETIMEDOUT, xipc_stream_recv(p.r, buf.data(), size, &len,
                                               xt::scaled_ms(300)));
    EXPECT_GE(xt::now_ms() - t0, xt::scaled_ms(300));
    first.join();
    EXPECT_EQ(XIPC_EAGAIN, xipc_stream_recv(p.r, buf.data(), size, &len, 0));
    std::thread rest([&] {
      size_t m = 0;
      EXPECT_EQ(0, xipc_stream_write(p.w, f.data() + half, f.size() - half, &m, -1));
    });
    XT_OK(xipc_stream_recv(p.r, buf.data(), size, &len, xt::scaled_ms(5000)));
    rest.join();
    ASSERT_EQ(size, len);
    EXPECT_TRUE(buf == body) << size;
  }
}

TEST(Stream, SendCutShortByTimeoutKeepsRestOfMessage) {
  Pipe p;
  auto body = pattern(300u << 10, 21);  // more than any pipe buffer here
  XT_OK(xipc_stream_send(p.w, body.data(), body.size(), 50));  // part went
  EXPECT_EQ(XIPC_EAGAIN, xipc_stream_send(p.w, "x", 1, 0));   // pipe is full
  std::thread writer([&] {
    EXPECT_EQ(0, xipc_stream_send(p.w, "after", 5, xt::scaled_ms(10000)));
  });
  std::vector<unsigned char> buf(body.size());
  size_t len = 0;
  XT_OK(xipc_stream_recv(p.r, buf.data(), buf.size(), &len, xt::scaled_ms(10000)));
  ASSERT_EQ(body.size(), len);
  EXPECT_TRUE(buf == body);
  XT_OK(xipc_stream_recv(p.r, buf.data(), buf.size(), &len, xt::scaled_ms(10000)));
  EXPECT_EQ(std::string("after"), std::string(buf.begin(), buf.begin() + len));
  writer.join();
}

TEST(Stream, ReadAfterRecvGetsReadAheadBytesFirst) {
  Pipe p;
  XT_OK(xipc_stream_send(p.w, "msg", 3, -1));
  size_t n = 0;
  XT_OK(xipc_stream_write(p.w, "raw", 3, &n, -1));
  char buf[16];
  size_t len = 0;
  XT_OK(xipc_stream_recv(p.r, buf, sizeof buf, &len, 1000));
  EXPECT_EQ(3u, len);
  std::vector<unsigned char> got;
  XT_OK(xt::read_exact(p.r, got, 3, 1000));
  EXPECT_EQ(std::string("raw"), std::string(got.begin(), got.end()));
}

// ---- export / import, child ends, bad input --------------------------------

TEST(Stream, ImportRejectsGarbageTokens) {
  const char *bad[] = {"", "x", "xipc-stream:", "xipc-stream:1:", "xipc-stream:1::r:s",
                       "xipc-stream:2:3:r:s", "xipc-stream:1:-3:r:s", "xipc-stream:1:+3:r:s",
                       "xipc-stream:1:3:x:s", "xipc-stream:1:3:r:x", "xipc-stream:1:3:r:",
                       "xipc-stream:1:3:r:s:", "xipc-stream:1:3:r:s ", " xipc-stream:1:3:r:s",
                       "xipc-stream:1:3r:s", "xipc-stream:1:99999999999999999999:r:s",
                       "XIPC-STREAM:1:3:r:s"};
  for (const char *t : bad) {
    xipc_stream *s = reinterpret_cast<xipc_stream *>(1);
    EXPECT_EQ(XIPC_EINVAL, xipc_stream_import(&s, t)) << "'" << t << "'";
    EXPECT_EQ(nullptr, s);
  }
  std::string longer(5000, '7');
  xipc_stream *s = nullptr;
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_import(&s, ("xipc-stream:1:" + longer + ":r:s").c_str()));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_import(&s, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_import(nullptr, "xipc-stream:1:3:r:s"));
}

TEST(Stream, ExportGivesTokenAndImportChecksIt) {
  Pipe p;
  char tok[XIPC_STREAM_TOKEN_MAX];
  XT_OK(xipc_stream_export(p.w, tok, sizeof tok));
  EXPECT_EQ(0, std::strncmp(tok, "xipc-stream:1:", 14)) << tok;
  std::string t(tok);
  char small[8] = "zzz";
  EXPECT_EQ(XIPC_ERANGE, xipc_stream_export(p.w, small, sizeof small));
  EXPECT_EQ('\0', small[0]);
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_export(nullptr, tok, sizeof tok));
  EXPECT_EQ('\0', tok[0]);
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_export(p.w, nullptr, 0));
  // The token with the other end's kind is refused (it is not that end).
  std::string wrong = t.substr(0, t.size() - 3) + "r" + t.substr(t.size() - 2);
  xipc_stream *s = nullptr;
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_import(&s, wrong.c_str())) << wrong;
  // A token of a closed pipe names nothing.
  char gone[XIPC_STREAM_TOKEN_MAX];
  {
    Pipe q;
    XT_OK(xipc_stream_export(q.r, gone, sizeof gone));
  }
  EXPECT_EQ(XIPC_ENOENT, xipc_stream_import(&s, gone)) << gone;
  EXPECT_EQ(nullptr, s);
}

TEST(Stream, SameTokenImportedTwiceIsBusy) {
  // In one process the imported stream shares the descriptor of p.w, which
  // is closed only once, through the import.
  Pipe p;
  char tok[XIPC_STREAM_TOKEN_MAX];
  XT_OK(xipc_stream_export(p.w, tok, sizeof tok));
  xipc_stream *w2 = nullptr, *w3 = nullptr;
  XT_OK(xipc_stream_import(&w2, tok));
  EXPECT_EQ(XIPC_EBUSY, xipc_stream_import(&w3, tok));
  EXPECT_EQ(nullptr, w3);
  size_t n = 0;
  XT_OK(xipc_stream_write(w2, "via", 3, &n, 1000));
  std::vector<unsigned char> got;
  XT_OK(xt::read_exact(p.r, got, 3, 1000));
  EXPECT_EQ(std::string("via"), std::string(got.begin(), got.end()));
  XT_OK(xipc_stream_close(w2));  // closes the OS end both handles name
  char c;
  XT_OK(xipc_stream_read(p.r, &c, 1, &n, xt::scaled_ms(2000)));
  EXPECT_EQ(0u, n);
  // p.w's OS end is gone already; forget it without closing it again.
  xipc__stream_os_detach(p.w);
}

TEST(Stream, ChildEndsWorkInTheParentToo) {
  xipc_stream *r = nullptr, *w = nullptr;
  XT_OK(xipc_pipe_ex(&r, &w, XIPC_PIPE_CHILD_READ | XIPC_PIPE_CHILD_WRITE));
  xt::Cleanup done([&] { xipc_stream_close(r), xipc_stream_close(w); });
  char buf[8];
  size_t n = 0;
  EXPECT_EQ(XIPC_EAGAIN, xipc_stream_read(r, buf, sizeof buf, &n, 0));
  int64_t t0 = xt::now_ms();
  EXPECT_EQ(XIPC_ETIMEDOUT, xipc_stream_read(r, buf, sizeof buf, &n, 30));
  EXPECT_GE(xt::now_ms() - t0, 30);
  XT_OK(xipc_stream_write(w, "sync", 4, &n, -1));
  std::vector<unsigned char> got;
  XT_OK(xt::read_exact(r, got, 4, 1000));
  EXPECT_EQ(std::string("sync"), std::string(got.begin(), got.end()));
  // A timed write cannot be bounded on a synchronous Windows handle.
#ifdef _WIN32
  EXPECT_EQ(XIPC_ENOTSUP, xipc_stream_write(w, "x", 1, &n, 100));
#else
  XT_OK(xipc_stream_write(w, "x", 1, &n, 100));
#endif
  XT_OK(xipc_stream_shutdown(w));
  XT_OK(xt::read_exact(r, got, 2, 1000));
  EXPECT_LE(got.size(), 1u);  // "x" (POSIX) and then the end of stream
}

TEST(Stream, BadInputIsRejected) {
  xipc_stream *r = reinterpret_cast<xipc_stream *>(1), *w = r;
  EXPECT_EQ(XIPC_EINVAL, xipc_pipe(nullptr, &w));
  EXPECT_EQ(nullptr, w);
  EXPECT_EQ(XIPC_EINVAL, xipc_pipe(&r, nullptr));
  EXPECT_EQ(nullptr, r);
  EXPECT_EQ(XIPC_EINVAL, xipc_pipe(&r, &r));
  EXPECT_EQ(XIPC_EINVAL, xipc_pipe_ex(&r, &w, 1u << 7));
  EXPECT_EQ(nullptr, r);
  Pipe p;
  char buf[8] = {0};
  size_t n = 9;
  // NULL handles and buffers, zero capacity, bad timeouts.
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_read(nullptr, buf, 1, &n, 0));
  EXPECT_EQ(0u, n);
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_read(p.r, nullptr, 1, &n, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_read(p.r, buf, 0, &n, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_read(p.r, buf, 1, nullptr, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_read(p.r, buf, 1, &n, -2));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_write(nullptr, buf, 1, &n, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_write(p.w, nullptr, 1, &n, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_write(p.w, buf, 1, &n, -5));
  XT_OK(xipc_stream_write(p.w, nullptr, 0, &n, 0));  // nothing to write
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_send(nullptr, buf, 1, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_send(p.w, nullptr, 1, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_send(p.w, buf, 1, -2));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_recv(nullptr, buf, 1, &n, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_recv(p.r, nullptr, 1, &n, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_recv(p.r, buf, 1, nullptr, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_recv(p.r, buf, 1, &n, -2));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_shutdown(nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_close(nullptr));
  // The wrong end.
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_read(p.w, buf, 1, &n, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_recv(p.w, buf, 1, &n, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_write(p.r, buf, 1, &n, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_send(p.r, buf, 1, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_stream_shutdown(p.r));
  // Use after shutdown.
  XT_OK(xipc_stream_shutdown(p.w));
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_shutdown(p.w));
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_write(p.w, buf, 1, &n, 0));
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_send(p.w, buf, 1, 0));
  char tok[XIPC_STREAM_TOKEN_MAX];
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_export(p.w, tok, sizeof tok));
  // The reader sees the end: read gives 0 bytes, recv XIPC_ECLOSED.
  XT_OK(xipc_stream_read(p.r, buf, 1, &n, 1000));
  EXPECT_EQ(0u, n);
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_recv(p.r, buf, 1, &n, 1000));
}

// ---- across processes (streams passed to a helper) --------------------------

namespace {

// Args: token count. Imports the passed write end (a second import must be
// XIPC_EBUSY) and sends the messages of Messages(count).
XT_HELPER(stream_send_messages) {
  XT_REQUIRE(argc >= 2);
  xipc_stream *w = nullptr, *again = nullptr;
  XT_CHECK(xipc_stream_import(&w, argv[0]));
  XT_REQUIRE(xipc_stream_import(&again, argv[0]) == XIPC_EBUSY);
  Messages m(std::strtoul(argv[1], nullptr, 10));
  for (size_t i = 0; i < m.sizes.size(); i++)
    XT_CHECK(xipc_stream_send(w, m.data(i), m.sizes[i], 60000));
  XT_CHECK(xipc_stream_close(w));
  return 0;
}

// Args: token. Sends 100 KiB messages (more than a pipe holds) until killed.
XT_HELPER(stream_send_forever) {
  XT_REQUIRE(argc >= 1);
  xipc_stream *w = nullptr;
  XT_CHECK(xipc_stream_import(&w, argv[0]));
  Messages m(0);
  for (size_t i = 0; i < 100000000; i++)
    XT_CHECK(xipc_stream_send(w, m.data(i), 100u << 10, 60000));
  return 3;
}

// Spawns helper with w passed and its token as the first argument, then
// closes this process's w, so that the end of stream is the helper's.
int start_with_writer(xt::Child &c, const char *helper, xipc_stream *&w,
                      std::vector<std::string> args) {
  char tok[XIPC_STREAM_TOKEN_MAX];
  int rc = xipc_stream_export(w, tok, sizeof tok);
  if (rc != 0) return rc;
  xipc_spawn_options o = {};
  xipc_stream *pass[] = {w};
  o.pass = pass;
  o.npass = 1;
  args.insert(args.begin(), tok);
  rc = c.start(helper, args, &o);
  xipc_stream_close(w);
  w = nullptr;
  return rc;
}

}  // namespace

TEST(Stream, FramedMessagesAcrossProcessesByToken) {
  Pipe p;
  xt::Child c;
  XT_OK(start_with_writer(c, "stream_send_messages", p.w, {"2000"}));
  Messages m(2000);
  std::vector<unsigned char> buf((256u << 10) + 1);
  size_t len = 0;
  for (size_t i = 0; i < m.sizes.size(); i++) {
    int rc = xipc_stream_recv(p.r, buf.data(), buf.size(), &len, xt::scaled_ms(30000));
    ASSERT_EQ(0, rc) << "message " << i << ": " << xipc_err_name(rc);
    ASSERT_EQ(m.sizes[i], len) << "message " << i;
    ASSERT_EQ(0, std::memcmp(buf.data(), m.data(i), len)) << "message " << i;
  }
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_recv(p.r, buf.data(), buf.size(), &len,
                                           xt::scaled_ms(10000)));
  EXPECT_EQ(0, c.exit_code());
}

TEST(Stream, WriterKilledMidMessageGivesClosedAfterCompleteOnes) {
  Pipe p;
  xt::Child c;
  XT_OK(start_with_writer(c, "stream_send_forever", p.w, {}));
  Messages m(0);
  std::vector<unsigned char> buf(100u << 10);
  size_t len = 0, i = 0;
  for (; i < 3; i++) {
    XT_OK(xipc_stream_recv(p.r, buf.data(), buf.size(), &len, xt::scaled_ms(30000)));
    ASSERT_EQ(buf.size(), len);
    ASSERT_EQ(0, std::memcmp(buf.data(), m.data(i), len)) << "message " << i;
  }
  // The helper is now blocked in the middle of a send (a message is larger
  // than the pipe holds), so the kill leaves a torn message in the pipe.
  xt::sleep_ms(50);
  XT_OK(c.kill());
  EXPECT_EQ(-2000 - XIPC_SIGKILL, c.exit_code());
  int rc;
  while ((rc = xipc_stream_recv(p.r, buf.data(), buf.size(), &len,
                                xt::scaled_ms(10000))) == 0) {
    ASSERT_EQ(buf.size(), len) << "message " << i;
    ASSERT_EQ(0, std::memcmp(buf.data(), m.data(i), len)) << "message " << i;
    i++;
  }
  EXPECT_EQ(XIPC_ECLOSED, rc) << xipc_err_name(rc);
  EXPECT_EQ(XIPC_ECLOSED, xipc_stream_recv(p.r, buf.data(), buf.size(), &len, 0));
  char c1;
  size_t n = 9;
  XT_OK(xipc_stream_read(p.r, &c1, 1, &n, 0));
  EXPECT_EQ(0u, n);
}

namespace {

// Copies stdin to stdout with plain blocking C stdio until end of input.
XT_HELPER(stream_echo_stdio) {
  xt::stdio_binary();
  std::vector<char> buf(65536);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), stdin)) > 0)
    XT_REQUIRE(std::fwrite(buf.data(), 1, n, stdout) == n);
  XT_REQUIRE(std::fflush(stdout) == 0);
  return 0;
}

}  // namespace

// Plain xipc_pipe ends (overlapped on Windows) as a child's stdin and
// stdout: the child's blocking C stdio works on them (Wine; Windows does
// not promise it, see XIPC_PIPE_CHILD_*), and so do ends made for a child.
TEST(Stream, PipeEndsServeAsChildStdio) {
  for (unsigned flags : {0u, unsigned(XIPC_PIPE_CHILD_READ | XIPC_PIPE_CHILD_WRITE)}) {
    xipc_stream *in_r = nullptr, *in_w = nullptr, *out_r = nullptr, *out_w = nullptr;
    XT_OK(xipc_pipe_ex(&in_r, &in_w, flags & XIPC_PIPE_CHILD_READ));
    XT_OK(xipc_pipe_ex(&out_r, &out_w, flags & XIPC_PIPE_CHILD_WRITE));
    xt::Cleanup done([&] {
      for (xipc_stream *s : {in_r, in_w, out_r, out_w})
        if (s) xipc_stream_close(s);
    });
    xipc_spawn_options o = {};
    o.stdin_mode = o.stdout_mode = XIPC_STDIO_STREAM;
    o.stdin_stream = in_r;
    o.stdout_stream = out_w;
    xt::Child c;
    XT_OK(c.start("stream_echo_stdio", {}, &o));
    xipc_stream_close(in_r), in_r = nullptr;
    xipc_stream_close(out_w), out_w = nullptr;
    auto data = pattern(1u << 20, 31);
    std::thread writer([&] {
      size_t n = 0;
      EXPECT_EQ(0, xipc_stream_write(in_w, data.data(), data.size(), &n, xt::scaled_ms(30000)));
      EXPECT_EQ(0, xipc_stream_shutdown(in_w));
    });
    std::vector<unsigned char> got;
    XT_OK(xt::read_exact(out_r, got, data.size() + 1, xt::scaled_ms(30000)));
    writer.join();
    EXPECT_TRUE(got == data) << "flags " << flags << ": " << got.size() << " bytes";
    EXPECT_EQ(0, c.exit_code());
  }
}

TEST(Stream, EpipeLeavesACallersPendingSigpipeAlone) {
#ifdef _WIN32
  GTEST_SKIP() << "Windows has no SIGPIPE: a write without a reader is only XIPC_EPIPE";
#else
  // On a thread of its own, so that the mask games stay there.
  std::thread t([] {
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
    const timespec zero = {0, 0};
    Pipe p;
    p.close_r();
    size_t n = 0;
    // Blocked and not pending: the SIGPIPE the write caused is taken back.
    EXPECT_EQ(XIPC_EPIPE, xipc_stream_write(p.w, "x", 1, &n, -1));
    sigpending(&pending);
    EXPECT_FALSE(sigismember(&pending, SIGPIPE));
    // Blocked and pending already (the caller's own): it stays pending.
    pthread_kill(pthread_self(), SIGPIPE);
    EXPECT_EQ(XIPC_EPIPE, xipc_stream_write(p.w, "x", 1, &n, 100));
    sigpending(&pending);
    EXPECT_TRUE(sigismember(&pending, SIGPIPE));
    EXPECT_EQ(SIGPIPE, sigtimedwait(&pipe_set, nullptr, &zero));
    // The mask is as the caller left it: SIGPIPE still blocked.
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, nullptr, &now);
    EXPECT_TRUE(sigismember(&now, SIGPIPE));
  });
  t.join();
#endif
}
