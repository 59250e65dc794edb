// Mappings: named shared memory across processes and its lifetime, file
// mappings, anonymous memory, and the cursor API against CPython's mmap.
#include "harness.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

// Opens `name`, or creates it when CREATE is in flags; NULL on failure.
struct MapHandle {
  xipc_map *m = nullptr;
  ~MapHandle() { reset(); }
  void reset() {
    if (m) xipc_map_close(m);
    m = nullptr;
  }
  std::string str() const {
    return std::string(static_cast<const char *>(xipc_map_data(m)), xipc_map_size(m));
  }
};

bool exists_by_name(const std::string &name) {
  xipc_map *m = nullptr;
  int rc = xipc_map_named(&m, name.c_str(), 0, XIPC_ACCESS_READ, 0);
  if (rc == 0) xipc_map_close(m);
  return rc == 0;
}

// Args: name text. Opens an existing mapping and writes text at offset 0.
XT_HELPER(map_write) {
  if (argc < 2) return 2;
  xipc_map *m = nullptr;
  if (xipc_map_named(&m, argv[0], 0, XIPC_ACCESS_WRITE, 0) != 0) return 3;
  int rc = xipc_map_write(m, argv[1], std::strlen(argv[1]));
  xipc_map_close(m);
  return rc == 0 ? 0 : 4;
}

// Args: name text readyfile gofile. Creates `name` holding exactly text,
// signals ready and keeps it open until gofile exists.
XT_HELPER(map_create_hold) {
  if (argc < 4) return 2;
  size_t n = std::strlen(argv[1]);
  xipc_map *m = nullptr;
  if (xipc_map_named(&m, argv[0], n, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL) != 0)
    return 3;
  std::memcpy(xipc_map_data(m), argv[1], n);
  xt::ready_signal(argv[2]);
  while (!std::filesystem::exists(std::filesystem::u8path(argv[3]))) xt::sleep_ms(2);
  xipc_map_close(m);
  return 0;
}

// Args: name readyfile. Opens `name`, signals ready and holds it until
// killed.
XT_HELPER(map_hold) {
  if (argc < 2) return 2;
  xipc_map *m = nullptr;
  if (xipc_map_named(&m, argv[0], 0, XIPC_ACCESS_WRITE, 0) != 0) return 3;
  xt::ready_signal(argv[1]);
  for (;;) xt::sleep_ms(50);
}

const int kWait = 30000;

}  // namespace

// ---- named shared memory --------------------------------------------------

TEST(Map, NamedParentCreatesHelperWrites) {
  std::string name = xt::unique_name("map");
  MapHandle h;
  XT_OK(xipc_map_named(&h.m, name.c_str(), 3000, XIPC_ACCESS_WRITE, XIPC_CREATE));
  EXPECT_EQ(1, xipc_map_created(h.m));
  xt::Child c;
  XT_OK(c.start("map_write", {name, "written by the helper"}));
  ASSERT_EQ(0, c.exit_code());
  EXPECT_EQ(0, std::memcmp(xipc_map_data(h.m), "written by the helper", 21));
  EXPECT_EQ(0, static_cast<char *>(xipc_map_data(h.m))[21]);
}

TEST(Map, NamedHelperCreatesParentReadsExactSize) {
  std::string name = xt::unique_name("map");
  std::string ready = xt::temp_path("ready"), go = xt::temp_path("go");
  xt::Cleanup rm([&] {
    xt::remove_file(ready);
    xt::remove_file(go);
  });
  // 13 bytes: far from a page multiple, so a rounded size would show.
  xt::Child c;
  XT_OK(c.start("map_create_hold", {name, "from helper\n!", ready, go}));
  ASSERT_TRUE(xt::ready_wait(ready, kWait, &c));
  MapHandle h;
  XT_OK(xipc_map_named(&h.m, name.c_str(), 0, XIPC_ACCESS_READ, 0));
  EXPECT_EQ(0, xipc_map_created(h.m));
  EXPECT_EQ(13u, xipc_map_size(h.m));
  EXPECT_EQ("from helper\n!", h.str());
  xt::write_file(go, "go");
  EXPECT_EQ(0, c.exit_code());
}

TEST(Map, NamedCreateOpensAnExistingObject) {
  std::string name = xt::unique_name("map");
  MapHandle a, b;
  XT_OK(xipc_map_named(&a.m, name.c_str(), 100, XIPC_ACCESS_WRITE, XIPC_CREATE));
  XT_OK(xipc_map_named(&b.m, name.c_str(), 100, XIPC_ACCESS_WRITE, XIPC_CREATE));
  EXPECT_EQ(1, xipc_map_created(a.m));
  EXPECT_EQ(0, xipc_map_created(b.m));
  static_cast<char *>(xipc_map_data(a.m))[99] = 'x';
  EXPECT_EQ('x', static_cast<char *>(xipc_map_data(b.m))[99]);
  // A shorter length maps the first bytes; a longer one does not fit.
  MapHandle c;
  XT_OK(xipc_map_named(&c.m, name.c_str(), 10, XIPC_ACCESS_READ, 0));
  EXPECT_EQ(10u, xipc_map_size(c.m));
  xipc_map *d = nullptr;
  EXPECT_EQ(XIPC_ERANGE, xipc_map_named(&d, name.c_str(), 101, XIPC_ACCESS_READ, 0));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_named(&d, name.c_str(), 4096, XIPC_ACCESS_READ, XIPC_CREATE));
  EXPECT_EQ(nullptr, d);
}

TEST(Map, NamedExclOnExistingIsEexist) {
  std::string name = xt::unique_name("map");
  MapHandle a;
  XT_OK(xipc_map_named(&a.m, name.c_str(), 64, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  xipc_map *b = nullptr;
  EXPECT_EQ(XIPC_EEXIST,
            xipc_map_named(&b, name.c_str(), 64, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  EXPECT_EQ(nullptr, b);
  // The failed attempt must not have taken the object away.
  EXPECT_TRUE(exists_by_name(name));
}

TEST(Map, NamedMissingIsEnoent) {
  std::string name = xt::unique_name("missing");
  xipc_map *m = nullptr;
  EXPECT_EQ(XIPC_ENOENT, xipc_map_named(&m, name.c_str(), 0, XIPC_ACCESS_READ, 0));
  EXPECT_EQ(XIPC_ENOENT, xipc_map_named(&m, name.c_str(), 16, XIPC_ACCESS_WRITE, 0));
  EXPECT_EQ(nullptr, m);
}

TEST(Map, NamedLivesUntilTheLastClose) {
  std::string name = xt::unique_name("map");
  MapHandle a, b;
  XT_OK(xipc_map_named(&a.m, name.c_str(), 32, XIPC_ACCESS_WRITE, XIPC_CREATE));
  XT_OK(xipc_map_named(&b.m, name.c_str(), 0, XIPC_ACCESS_WRITE, 0));
  a.reset();  // the creator leaves first
  EXPECT_TRUE(exists_by_name(name));
  b.reset();
  EXPECT_FALSE(exists_by_name(name));
  // A new object under the same name starts from zero.
  MapHandle c;
  XT_OK(xipc_map_named(&c.m, name.c_str(), 32, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  EXPECT_EQ(1, xipc_map_created(c.m));
}

TEST(Map, NamedGoneAfterAKilledHolder) {
  std::string name = xt::unique_name("map");
  std::string ready = xt::temp_path("ready");
  xt::Cleanup rm([&] { xt::remove_file(ready); });
  MapHandle a;
  XT_OK(xipc_map_named(&a.m, name.c_str(), 5000, XIPC_ACCESS_WRITE, XIPC_CREATE));
  xt::Child c;
  XT_OK(c.start("map_hold", {name, ready}));
  ASSERT_TRUE(xt::ready_wait(ready, kWait, &c));
  a.reset();
  // The helper still holds it.
  EXPECT_TRUE(exists_by_name(name));
  XT_OK(c.kill());
  xipc_exit_status st;
  XT_OK(c.wait(kWait, &st));
  EXPECT_EQ(0, st.exited);
  xipc_map *m = nullptr;
  EXPECT_EQ(XIPC_ENOENT, xipc_map_named(&m, name.c_str(), 0, XIPC_ACCESS_READ, 0));
}

TEST(Map, NamedUnlinkRemovesTheNameEarly) {
  std::string name = xt::unique_name("map");
  MapHandle a;
  XT_OK(xipc_map_named(&a.m, name.c_str(), 8, XIPC_ACCESS_WRITE, XIPC_CREATE));
  int rc = xipc_map_unlink(name.c_str());
  if (rc == XIPC_ENOTSUP) {
    EXPECT_TRUE(exists_by_name(name));
    a.reset();
    EXPECT_EQ(XIPC_ENOENT, xipc_map_unlink(name.c_str()));
    GTEST_SKIP() << "this platform cannot remove the name of a live object";
  }
  XT_OK(rc);
  EXPECT_FALSE(exists_by_name(name));
  // The open handle keeps working, and a new object takes the name.
  std::memcpy(xipc_map_data(a.m), "still ok", 8);
  MapHandle b;
  XT_OK(xipc_map_named(&b.m, name.c_str(), 8, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  EXPECT_NE(0, std::memcmp(xipc_map_data(b.m), "still ok", 8));
  a.reset();  // must not remove b's object
  EXPECT_TRUE(exists_by_name(name));
  EXPECT_EQ(XIPC_ENOENT, xipc_map_unlink(xt::unique_name("missing").c_str()));
}

TEST(Map, NamedPersistOutlivesTheLastClose) {
  std::string name = xt::unique_name("map");
  MapHandle a;
  int rc = xipc_map_named_ex(&a.m, name.c_str(), 8, XIPC_ACCESS_WRITE,
                             XIPC_CREATE | XIPC_MAP_PERSIST, nullptr);
  if (rc == XIPC_ENOTSUP) GTEST_SKIP() << "kernel objects here always die with their last handle";
  XT_OK(rc);
  xt::Cleanup rm([&] { xipc_map_unlink(name.c_str()); });
  std::memcpy(xipc_map_data(a.m), "persists", 8);
  a.reset();
  MapHandle b;
  XT_OK(xipc_map_named(&b.m, name.c_str(), 0, XIPC_ACCESS_READ, 0));
  EXPECT_EQ("persists", b.str());
  b.reset();
  XT_OK(xipc_map_unlink(name.c_str()));
  EXPECT_FALSE(exists_by_name(name));
}

TEST(Map, NamedAccessModes) {
  std::string name = xt::unique_name("map");
  MapHandle w, r, c;
  XT_OK(xipc_map_named(&w.m, name.c_str(), 4, XIPC_ACCESS_WRITE, XIPC_CREATE));
  XT_OK(xipc_map_set(w.m, 0, "abcd", 4));
  XT_OK(xipc_map_named(&r.m, name.c_str(), 0, XIPC_ACCESS_READ, 0));
  EXPECT_EQ(XIPC_EACCES, xipc_map_write(r.m, "x", 1));
  EXPECT_EQ(XIPC_EACCES, xipc_map_set(r.m, 0, "x", 1));
  XT_OK(xipc_map_named(&c.m, name.c_str(), 0, XIPC_ACCESS_COPY, 0));
  XT_OK(xipc_map_write(c.m, "XY", 2));
  EXPECT_EQ("XYcd", c.str());
  EXPECT_EQ("abcd", w.str());  // the copy stays private
  EXPECT_EQ("abcd", r.str());
  EXPECT_EQ(XIPC_ENOTSUP, xipc_map_resize(w.m, 8));
  EXPECT_EQ(4u, xipc_map_size(w.m));
}

TEST(Map, NamedBadInput) {
  xipc_map *m = nullptr;
  const unsigned C = XIPC_CREATE;
  std::string name = xt::unique_name("bad");
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(nullptr, name.c_str(), 8, XIPC_ACCESS_WRITE, C));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, nullptr, 8, XIPC_ACCESS_WRITE, C));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, "", 8, XIPC_ACCESS_WRITE, C));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, "a/b", 8, XIPC_ACCESS_WRITE, C));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, "a\\b", 8, XIPC_ACCESS_WRITE, C));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, "/abs", 8, XIPC_ACCESS_WRITE, C));
  EXPECT_EQ(XIPC_ENAMETOOLONG,
            xipc_map_named(&m, std::string(XIPC_NAME_MAX + 1, 'n').c_str(), 8, XIPC_ACCESS_WRITE, C));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, name.c_str(), 8, 0, C));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, name.c_str(), 8, 4, C));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, name.c_str(), 8, XIPC_ACCESS_WRITE, 0x80));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, name.c_str(), 8, XIPC_ACCESS_WRITE, XIPC_EXCL));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, name.c_str(), 0, XIPC_ACCESS_WRITE, C));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named(&m, name.c_str(), SIZE_MAX, XIPC_ACCESS_WRITE, C));
  EXPECT_EQ(XIPC_EINVAL,
            xipc_map_named(&m, name.c_str(), 8, XIPC_ACCESS_WRITE, C | XIPC_MAP_PERSIST));
  xipc_map_options o = {};
  o.mode = 01777;
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named_ex(&m, name.c_str(), 8, XIPC_ACCESS_WRITE, C, &o));
  o.mode = 0;
  o.ns = 7;
  EXPECT_EQ(XIPC_EINVAL, xipc_map_named_ex(&m, name.c_str(), 8, XIPC_ACCESS_WRITE, C, &o));
  EXPECT_EQ(nullptr, m);
  EXPECT_FALSE(exists_by_name(name));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_unlink(nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_unlink("a/b"));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_close(nullptr));
  EXPECT_EQ(nullptr, xipc_map_data(nullptr));
  EXPECT_EQ(0u, xipc_map_size(nullptr));
  EXPECT_EQ(0, xipc_map_created(nullptr));
}
