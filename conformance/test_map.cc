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
  XT_REQUIRE(argc >= 2);
  xipc_map *m = nullptr;
  XT_CHECK(xipc_map_named(&m, argv[0], 0, XIPC_ACCESS_WRITE, 0));
  XT_CHECK(xipc_map_write(m, argv[1], std::strlen(argv[1])));
  XT_CHECK(xipc_map_close(m));
  return 0;
}

// Args: name text ready go (flags). Creates `name` holding exactly text,
// signals ready and keeps it open until go is set; then exits 0 if the
// parent's 'P' shows at offset 0.
XT_HELPER(map_create_hold) {
  XT_REQUIRE(argc >= 4);
  size_t n = std::strlen(argv[1]);
  xipc_map *m = nullptr;
  XT_CHECK(xipc_map_named(&m, argv[0], n, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  std::memcpy(xipc_map_data(m), argv[1], n);
  XT_CHECK(xt::ready_signal(argv[2]));
  XT_CHECK(xt::flag_wait(argv[3], xt::scaled_ms(60000)));
  char first = static_cast<char *>(xipc_map_data(m))[0];
  XT_CHECK(xipc_map_close(m));
  XT_REQUIRE(first == 'P');
  return 0;
}

// Args: name ready. Opens `name`, signals ready and holds it until
// killed.
XT_HELPER(map_hold) {
  XT_REQUIRE(argc >= 2);
  xipc_map *m = nullptr;
  XT_CHECK(xipc_map_named(&m, argv[0], 0, XIPC_ACCESS_WRITE, 0));
  XT_CHECK(xt::ready_signal(argv[1]));
  for (;;) xt::sleep_ms(50);
}

const int kWait = xt::scaled_ms(30000);

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
  xt::Flag ready("ready"), go("go");
  // 13 bytes: far from a page multiple, so a rounded size would show.
  xt::Child c;
  XT_OK(c.start("map_create_hold", {name, "from helper\n!", ready, go}));
  ASSERT_TRUE(xt::ready_wait(ready, kWait, &c));
  MapHandle h;
  XT_OK(xipc_map_named(&h.m, name.c_str(), 0, XIPC_ACCESS_WRITE, 0));
  EXPECT_EQ(0, xipc_map_created(h.m));
  EXPECT_EQ(13u, xipc_map_size(h.m));
  EXPECT_EQ("from helper\n!", h.str());
  XT_OK(xipc_map_write_byte(h.m, 'P'));  // and back to the helper
  XT_OK(go.set());
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
  // Without CREATE a shorter length maps the first bytes; a longer one
  // does not fit.
  MapHandle c;
  XT_OK(xipc_map_named(&c.m, name.c_str(), 10, XIPC_ACCESS_READ, 0));
  EXPECT_EQ(10u, xipc_map_size(c.m));
  xipc_map *d = nullptr;
  EXPECT_EQ(XIPC_ERANGE, xipc_map_named(&d, name.c_str(), 101, XIPC_ACCESS_READ, 0));
  EXPECT_EQ(nullptr, d);
  // With CREATE existence wins: the object is opened at its own size,
  // whatever length was asked for.
  MapHandle e, f;
  XT_OK(xipc_map_named(&e.m, name.c_str(), 4096, XIPC_ACCESS_READ, XIPC_CREATE));
  EXPECT_EQ(0, xipc_map_created(e.m));
  EXPECT_EQ(100u, xipc_map_size(e.m));
  XT_OK(xipc_map_named(&f.m, name.c_str(), 10, XIPC_ACCESS_READ, XIPC_CREATE));
  EXPECT_EQ(100u, xipc_map_size(f.m));
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
  xt::Flag ready("ready");
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

TEST(Map, SweepRemovesOnlyObjectsWithoutHolders) {
  xt::SweepGuard sweeping;  // see harness.h
  std::string dead = xt::unique_name("dead"), live = xt::unique_name("live");
  std::string foreign = xt::unique_name("foreign");
  xt::Flag ready("ready"), go("go");
  void *f = xt::foreign_map_create(foreign, 10);
  ASSERT_NE(nullptr, f);
  xt::Cleanup rmf([&] { xt::foreign_map_close(f, foreign); });
  MapHandle held;
  XT_OK(xipc_map_named(&held.m, live.c_str(), 10, XIPC_ACCESS_WRITE, XIPC_CREATE));
  xt::Child c;
  XT_OK(c.start("map_create_hold", {dead, "doomed", ready, go}));
  ASSERT_TRUE(xt::ready_wait(ready, kWait, &c));
  XT_OK(c.kill());
  xipc_exit_status st;
  XT_OK(c.wait(kWait, &st));
  // POSIX still has the name (nobody was there to remove it); Windows
  // freed the object with the dead process's handles.
  bool left_behind = xt::shm_name_exists(dead);
  size_t removed = 0;
  XT_OK(xipc_map_sweep(&removed));
  EXPECT_FALSE(xt::shm_name_exists(dead));
  if (left_behind) {
    EXPECT_GE(removed, 1u);
  }
  EXPECT_TRUE(xt::shm_name_exists(live));
  EXPECT_TRUE(xt::shm_name_exists(foreign));
  XT_OK(xipc_map_sweep(nullptr));
  EXPECT_TRUE(exists_by_name(live));
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

TEST(Map, ForeignObjectIsNeverRemoved) {
  std::string name = xt::unique_name("foreign");
  void *f = xt::foreign_map_create(name, 100);
  ASSERT_NE(nullptr, f);
  xt::Cleanup rm([&] { xt::foreign_map_close(f, name); });
  MapHandle h;
  XT_OK(xipc_map_named(&h.m, name.c_str(), 0, XIPC_ACCESS_WRITE, 0));
  // Exact on POSIX; Windows reports an object without xipc's size record
  // rounded up to the page (the documented fallback).
  size_t size = xipc_map_size(h.m);
  EXPECT_TRUE(size == 100 || size == 4096) << size;
  XT_OK(xipc_map_set(h.m, 0, "xi", 2));
  h.reset();
  EXPECT_TRUE(exists_by_name(name));
  XT_OK(xipc_map_named(&h.m, name.c_str(), 50, XIPC_ACCESS_WRITE, XIPC_CREATE));
  EXPECT_EQ(0, xipc_map_created(h.m));
  EXPECT_EQ(size, xipc_map_size(h.m));  // existence wins: its own size
  XT_OK(xipc_map_set(h.m, 2, "pc", 2));
  h.reset();
  EXPECT_TRUE(exists_by_name(name));
  XT_OK(xipc_map_named(&h.m, name.c_str(), 4, XIPC_ACCESS_READ, 0));
  EXPECT_EQ("xipc", h.str());
}

TEST(Map, NamedIsOwnerOnlyByDefault) {
  std::string name = xt::unique_name("perm"), open_name = xt::unique_name("perm");
  std::string path = xt::temp_path("perm");
  xt::Cleanup rm([&] { xt::remove_file(path); });
  MapHandle priv, open, file;
  XT_OK(xipc_map_named(&priv.m, name.c_str(), 8, XIPC_ACCESS_WRITE, XIPC_CREATE));
  xipc_map_options o = {};
  o.mode = 0644;
  XT_OK(xipc_map_named_ex(&open.m, open_name.c_str(), 8, XIPC_ACCESS_WRITE, XIPC_CREATE, &o));
  XT_OK(xipc_map_file_ex(&file.m, path.c_str(), 8, 0, XIPC_ACCESS_WRITE,
                         XIPC_CREATE | XIPC_MAP_EXTEND, nullptr));
  // Another user must be refused the default objects and allowed to read
  // the 0644 one when it accepts objects of other users.
  int rc = xt::fork_and_run([&] {
    if (!xt::drop_root()) return 77;
    xipc_map *m = nullptr;
    XT_REQUIRE(xipc_map_named(&m, name.c_str(), 0, XIPC_ACCESS_READ, 0) == XIPC_EACCES);
    XT_REQUIRE(xipc_map_file(&m, path.c_str(), 0, 0, XIPC_ACCESS_READ) == XIPC_EACCES);
    XT_REQUIRE(xipc_map_named(&m, open_name.c_str(), 0, XIPC_ACCESS_READ, 0) == XIPC_EACCES);
    XT_CHECK(xipc_map_named(&m, open_name.c_str(), 0, XIPC_ACCESS_READ, XIPC_ANY_OWNER));
    xipc_map_close(m);
    XT_REQUIRE(xipc_map_named(&m, open_name.c_str(), 0, XIPC_ACCESS_WRITE, XIPC_ANY_OWNER) ==
               XIPC_EACCES);
    return 0;
  });
  if (rc == -1) GTEST_SKIP() << "no fork(): Windows objects get the creator's default DACL";
  if (rc == 77) GTEST_SKIP() << "needs root to switch to another user";
  EXPECT_EQ(0, rc);
}

TEST(Map, NamedCorruptSizeRecordIsEcorrupt) {
  std::string name = xt::unique_name("corrupt");
  MapHandle h, rec;
  XT_OK(xipc_map_named(&h.m, name.c_str(), 100, XIPC_ACCESS_WRITE, XIPC_CREATE));
  // The record xipc keeps beside the object, where there is one: another
  // process could scribble on it.
  int rc = xipc_map_named(&rec.m, (name + ".xmsz").c_str(), 0, XIPC_ACCESS_WRITE, 0);
  if (rc == XIPC_ENOENT) GTEST_SKIP() << "no size record: the OS keeps the exact size";
  XT_OK(rc);
  uint64_t huge = UINT64_MAX / 2;
  XT_OK(xipc_map_set(rec.m, 8, &huge, sizeof huge));
  xipc_map *m = nullptr;
  EXPECT_EQ(XIPC_ECORRUPT, xipc_map_named(&m, name.c_str(), 0, XIPC_ACCESS_READ, 0));
  EXPECT_EQ(nullptr, m);
}

TEST(Map, NamedGlobalNamespace) {
  std::string name = xt::unique_name("global");
  xipc_map_options o = {};
  o.ns = XIPC_MAP_NS_GLOBAL;
  MapHandle a, b;
  int rc = xipc_map_named_ex(&a.m, name.c_str(), 10, XIPC_ACCESS_WRITE, XIPC_CREATE, &o);
  if (rc == XIPC_EPERM || rc == XIPC_EACCES) GTEST_SKIP() << "no right to create global objects";
  XT_OK(rc);
  XT_OK(xipc_map_named_ex(&b.m, name.c_str(), 0, XIPC_ACCESS_READ, 0, &o));
  EXPECT_EQ(10u, xipc_map_size(b.m));
  XT_OK(xipc_map_set(a.m, 0, "global", 6));
  EXPECT_EQ("global", b.str().substr(0, 6));
}

// One round of the race: open-or-create `name`; while holding it, the name
// must lead to the same object (a byte written through the first handle
// shows through a second one opened without CREATE). XIPC_ECORRUPT if not.
static int churn_once(const char *name, size_t slot, char token) {
  xipc_map *a = nullptr, *b = nullptr;
  int rc = xipc_map_named(&a, name, 64, XIPC_ACCESS_WRITE, XIPC_CREATE);
  if (rc != 0) return rc;
  static_cast<volatile char *>(xipc_map_data(a))[slot] = token;
  rc = xipc_map_named(&b, name, 0, XIPC_ACCESS_READ, 0);
  if (rc == 0 && static_cast<volatile char *>(xipc_map_data(b))[slot] != token)
    rc = XIPC_ECORRUPT;
  if (b) xipc_map_close(b);
  xipc_map_close(a);
  return rc;
}

// Args: name rounds ready. Signals ready, then opens (creating if
// needed), writes and closes the mapping `rounds` times.
XT_HELPER(map_churn) {
  XT_REQUIRE(argc >= 3);
  XT_CHECK(xt::ready_signal(argv[2]));
  for (int i = 0, n = std::atoi(argv[1]); i < n; i++)
    XT_CHECK(churn_once(argv[0], 32 + i % 32, static_cast<char>(i)));
  return 0;
}

TEST(Map, NamedOpenRacesTheLastClose) {
  // Two processes create, open and close the same name as fast as they
  // can, so opens keep meeting last closes. Every open must succeed and
  // reach the object the name stands for, and nothing may be left.
  std::string name = xt::unique_name("churn");
  xt::Flag ready("ready");
  xt::Child c;
  XT_OK(c.start("map_churn", {name, "1000", ready}));
  ASSERT_TRUE(xt::ready_wait(ready, kWait, &c));
  for (int i = 0; i < 1000; i++) XT_OK(churn_once(name.c_str(), i % 32, static_cast<char>(i)));
  EXPECT_EQ(0, c.exit_code());
  EXPECT_FALSE(exists_by_name(name));
}

// ---- file mappings ---------------------------------------------------------

namespace {

// A temp file holding `content`, removed at the end of the test.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string &content, const char *tag = "file")
      : path(xt::temp_path(tag)) {
    xt::write_file(path, content);
  }
  ~TempFile() { xt::remove_file(path); }
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
  return s;
}

}  // namespace

TEST(Map, FileWritesReachTheFileAfterFlushAndClose) {
  TempFile f(std::string(10000, '.'));
  MapHandle h;
  XT_OK(xipc_map_file(&h.m, f.path.c_str(), 0, 0, XIPC_ACCESS_WRITE));
  ASSERT_EQ(10000u, xipc_map_size(h.m));
  XT_OK(xipc_map_set(h.m, 0, "head", 4));
  XT_OK(xipc_map_set(h.m, 9996, "tail", 4));
  XT_OK(xipc_map_flush(h.m, 0, 0));
  XT_OK(xipc_map_seek(h.m, 5000, XIPC_SEEK_SET));
  XT_OK(xipc_map_write(h.m, "middle", 6));
  XT_OK(xipc_map_flush(h.m, 5001, 3));  // any offset is fine
  h.reset();
  std::string got = xt::read_file(f.path);
  ASSERT_EQ(10000u, got.size());
  EXPECT_EQ("head", got.substr(0, 4));
  EXPECT_EQ("middle", got.substr(5000, 6));
  EXPECT_EQ("tail", got.substr(9996));
  EXPECT_EQ('.', got[4]);
}

TEST(Map, FileCopyNeverChangesTheFile) {
  TempFile f("original content");
  MapHandle h;
  XT_OK(xipc_map_file(&h.m, f.path.c_str(), 0, 0, XIPC_ACCESS_COPY));
  XT_OK(xipc_map_write(h.m, "CHANGED!", 8));
  XT_OK(xipc_map_flush(h.m, 0, 0));
  EXPECT_EQ("CHANGED! content", h.str());
  EXPECT_EQ(XIPC_EACCES, xipc_map_resize(h.m, 100));
  h.reset();
  EXPECT_EQ("original content", xt::read_file(f.path));
}

TEST(Map, FileOffsetsNeedNoAlignment) {
  size_t g = xipc_map_granularity();
  ASSERT_GE(g, 4096u);
  ASSERT_EQ(0u, g & (g - 1));
  std::string content = pattern(2 * g + 1000);
  TempFile f(content);
  const uint64_t offsets[] = {1, 7, 4095, 4097, g - 1, g, g + 13, 2 * g + 999};
  for (uint64_t off : offsets) {
    SCOPED_TRACE(off);
    MapHandle h;
    XT_OK(xipc_map_file(&h.m, f.path.c_str(), 0, off, XIPC_ACCESS_READ));
    EXPECT_EQ(content.substr(off), h.str());
    h.reset();
    XT_OK(xipc_map_file(&h.m, f.path.c_str(), 1, off, XIPC_ACCESS_WRITE));
    XT_OK(xipc_map_write_byte(h.m, '#'));
    EXPECT_EQ(XIPC_ERANGE, xipc_map_write_byte(h.m, '#'));
    h.reset();
    content[off] = '#';
    EXPECT_EQ(content, xt::read_file(f.path));
  }
}

TEST(Map, FileLengthAndOffsetLimits) {
  TempFile f(std::string(100, 'x'));
  TempFile empty("", "empty");
  xipc_map *m = nullptr;
  const char *p = f.path.c_str();
  EXPECT_EQ(XIPC_ERANGE, xipc_map_file(&m, p, 101, 0, XIPC_ACCESS_READ));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_file(&m, p, 2, 99, XIPC_ACCESS_READ));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_file(&m, p, 0, 100, XIPC_ACCESS_READ));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_file(&m, p, 0, 101, XIPC_ACCESS_READ));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_file(&m, p, 1, UINT64_MAX, XIPC_ACCESS_READ));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_file(&m, empty.path.c_str(), 0, 0, XIPC_ACCESS_READ));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_file(&m, empty.path.c_str(), 1, 0, XIPC_ACCESS_WRITE));
  EXPECT_EQ(XIPC_ENOENT,
            xipc_map_file(&m, xt::temp_path("missing").c_str(), 0, 0, XIPC_ACCESS_READ));
  EXPECT_EQ(nullptr, m);
  MapHandle h;
  XT_OK(xipc_map_file(&h.m, p, 1, 99, XIPC_ACCESS_READ));
  EXPECT_EQ("x", h.str());
}

TEST(Map, FileCreateAndExtend) {
  std::string path = xt::temp_path("new-caf\xc3\xa9-\xe6\x97\xa5");  // UTF-8 path
  xt::Cleanup rm([&] { xt::remove_file(path); });
  xipc_map *m = nullptr;
  EXPECT_EQ(XIPC_ENOENT, xipc_map_file_ex(&m, path.c_str(), 10, 0, XIPC_ACCESS_WRITE,
                                          XIPC_MAP_EXTEND, nullptr));
  MapHandle h;
  XT_OK(xipc_map_file_ex(&h.m, path.c_str(), 10, 5, XIPC_ACCESS_WRITE,
                         XIPC_CREATE | XIPC_EXCL | XIPC_MAP_EXTEND, nullptr));
  EXPECT_EQ(10u, xipc_map_size(h.m));
  EXPECT_EQ(std::string(10, '\0'), h.str());
  XT_OK(xipc_map_write(h.m, "0123456789", 10));
  h.reset();
  EXPECT_EQ(std::string(5, '\0') + "0123456789", xt::read_file(path));
  EXPECT_EQ(XIPC_EEXIST, xipc_map_file_ex(&m, path.c_str(), 10, 0, XIPC_ACCESS_WRITE,
                                          XIPC_CREATE | XIPC_EXCL, nullptr));
  // Extending never shrinks.
  XT_OK(xipc_map_file_ex(&h.m, path.c_str(), 3, 0, XIPC_ACCESS_WRITE, XIPC_MAP_EXTEND, nullptr));
  h.reset();
  EXPECT_EQ(15u, xt::read_file(path).size());
  XT_OK(xipc_map_file_ex(&h.m, path.c_str(), 20, 0, XIPC_ACCESS_WRITE, XIPC_MAP_EXTEND, nullptr));
  h.reset();
  EXPECT_EQ(20u, xt::read_file(path).size());
}

TEST(Map, FileResizeFollowsTheFile) {
  TempFile f(pattern(5000));
  MapHandle h;
  XT_OK(xipc_map_file(&h.m, f.path.c_str(), 0, 3, XIPC_ACCESS_WRITE));
  XT_OK(xipc_map_seek(h.m, 0, XIPC_SEEK_END));
  XT_OK(xipc_map_resize(h.m, 70000));
  EXPECT_EQ(70000u, xipc_map_size(h.m));
  EXPECT_EQ(4997u, xipc_map_tell(h.m));
  EXPECT_EQ(pattern(5000).substr(3), h.str().substr(0, 4997));
  XT_OK(xipc_map_set(h.m, 69999, "Z", 1));
  XT_OK(xipc_map_resize(h.m, 10));
  EXPECT_EQ(10u, xipc_map_tell(h.m));  // clamped
  EXPECT_EQ(pattern(13).substr(3), h.str());
  h.reset();
  EXPECT_EQ(pattern(13), xt::read_file(f.path));
}

TEST(Map, FileReadAccess) {
  TempFile f("read only");
  MapHandle h;
  XT_OK(xipc_map_file(&h.m, f.path.c_str(), 0, 0, XIPC_ACCESS_READ));
  EXPECT_EQ(XIPC_EACCES, xipc_map_write(h.m, "x", 1));
  EXPECT_EQ(XIPC_EACCES, xipc_map_write_byte(h.m, 'x'));
  EXPECT_EQ(XIPC_EACCES, xipc_map_set(h.m, 0, "x", 1));
  EXPECT_EQ(XIPC_EACCES, xipc_map_move(h.m, 0, 1, 1));
  EXPECT_EQ(XIPC_EACCES, xipc_map_resize(h.m, 4));
  XT_OK(xipc_map_flush(h.m, 0, 0));
  EXPECT_EQ(0u, xipc_map_tell(h.m));
  EXPECT_EQ("read only", h.str());
}

TEST(Map, FileBadInput) {
  TempFile f("data");
  xipc_map *m = nullptr;
  const char *p = f.path.c_str();
  EXPECT_EQ(XIPC_EINVAL, xipc_map_file(nullptr, p, 0, 0, XIPC_ACCESS_READ));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_file(&m, nullptr, 0, 0, XIPC_ACCESS_READ));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_file(&m, "", 0, 0, XIPC_ACCESS_READ));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_file(&m, p, 0, 0, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_file(&m, p, SIZE_MAX, 0, XIPC_ACCESS_READ));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_file_ex(&m, p, 0, 0, XIPC_ACCESS_READ, 0x4000, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_file_ex(&m, p, 4, 0, XIPC_ACCESS_READ, XIPC_MAP_EXTEND, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_file_ex(&m, p, 0, 0, XIPC_ACCESS_WRITE, XIPC_MAP_EXTEND, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_file_ex(&m, p, 4, 0, XIPC_ACCESS_WRITE, XIPC_EXCL, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_file_ex(&m, p, 4, 0, XIPC_ACCESS_WRITE, XIPC_MAP_PERSIST, nullptr));
  std::string dir = std::filesystem::path(std::filesystem::u8path(f.path)).parent_path().u8string();
  EXPECT_EQ(XIPC_EACCES, xipc_map_file(&m, dir.c_str(), 0, 0, XIPC_ACCESS_READ));
  EXPECT_EQ(nullptr, m);
  EXPECT_EQ("data", xt::read_file(f.path));
}

// ---- anonymous memory --------------------------------------------------------

TEST(Map, AnonymousIsZeroedAndResizes) {
  MapHandle h;
  XT_OK(xipc_map_anonymous(&h.m, 100));
  EXPECT_EQ(std::string(100, '\0'), h.str());
  XT_OK(xipc_map_write(h.m, "keep me", 7));
  XT_OK(xipc_map_resize(h.m, 300000));
  EXPECT_EQ(300000u, xipc_map_size(h.m));
  EXPECT_EQ("keep me", h.str().substr(0, 7));
  EXPECT_EQ(std::string(300000 - 7, '\0'), h.str().substr(7));
  XT_OK(xipc_map_resize(h.m, 4));
  EXPECT_EQ("keep", h.str());
  EXPECT_EQ(4u, xipc_map_tell(h.m));
  XT_OK(xipc_map_flush(h.m, 0, 0));
  xipc_map *m = nullptr;
  EXPECT_EQ(XIPC_EINVAL, xipc_map_anonymous(nullptr, 10));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_anonymous(&m, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_anonymous(&m, SIZE_MAX));
  EXPECT_EQ(nullptr, m);
  EXPECT_EQ(XIPC_EINVAL, xipc_map_resize(h.m, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_resize(h.m, SIZE_MAX));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_resize(nullptr, 10));
  EXPECT_EQ("keep", h.str());
}

// ---- the cursor API, with expected values from CPython's mmap ---------------

namespace {

const int64_t kEnd = INT64_MAX;

// A WRITE anonymous mapping holding `s`, cursor at 0.
void fill(MapHandle &h, const std::string &s) {
  ASSERT_EQ(0, xipc_map_anonymous(&h.m, s.size()));
  ASSERT_EQ(0, xipc_map_set(h.m, 0, s.data(), s.size()));
}

}  // namespace

TEST(Map, CursorFindAndRfindFollowPython) {
  struct Case {
    const char *needle;
    int64_t start, end, find, rfind;
  };
  // m = mmap(-1, 10); m.write(b"abcabcab\nc"); m.find(needle, start, end)
  const Case cases[] = {
      {"ab", 0, kEnd, 0, 6},       {"ab", 1, kEnd, 3, 6},
      {"ab", -4, kEnd, 6, 6},      {"ab", -100, -1, 0, 6},
      {"ab", 0, -3, 0, 3},         {"ab", 3, 5, 3, 3},
      {"ab", 3, 4, -1, -1},        {"c", -1, kEnd, 9, 9},
      {"c", -2, -1, -1, -1},       {"", 0, kEnd, 0, 10},
      {"", 4, 2, -1, -1},          {"", 20, 30, 10, 10},
      {"", -3, 100, 7, 10},        {"", -3, -3, 7, 7},
      {"abcabcab\nc", 0, kEnd, 0, 0}, {"abcabcab\nc!", 0, kEnd, -1, -1},
      {"x", 0, kEnd, -1, -1},      {"\n", 0, kEnd, 8, 8},
      {"bc", -9, -5, 1, 1},        {"ca", 2, -1, 2, 5},
      {"a", kEnd, kEnd, -1, -1},   {"a", INT64_MIN, 2, 0, 0},
  };
  MapHandle h;
  fill(h, "abcabcab\nc");
  for (const Case &c : cases) {
    SCOPED_TRACE(std::string("needle '") + c.needle + "' start " + std::to_string(c.start) +
                 " end " + std::to_string(c.end));
    int64_t pos = -99;
    XT_EXPECT_OK(xipc_map_find(h.m, c.needle, std::strlen(c.needle), c.start, c.end, &pos));
    EXPECT_EQ(c.find, pos);
    XT_EXPECT_OK(xipc_map_rfind(h.m, c.needle, std::strlen(c.needle), c.start, c.end, &pos));
    EXPECT_EQ(c.rfind, pos);
  }
  EXPECT_EQ(0u, xipc_map_tell(h.m));
}

TEST(Map, CursorSeekFollowsPython) {
  struct Case {
    size_t from;
    int64_t offset;
    int whence, rc;
    size_t pos;
  };
  const Case cases[] = {
      {3, 0, XIPC_SEEK_SET, 0, 0},   {3, 10, XIPC_SEEK_SET, 0, 10},
      {3, 11, XIPC_SEEK_SET, XIPC_ERANGE, 3}, {3, -1, XIPC_SEEK_SET, XIPC_ERANGE, 3},
      {3, 2, XIPC_SEEK_CUR, 0, 5},   {3, -3, XIPC_SEEK_CUR, 0, 0},
      {3, -4, XIPC_SEEK_CUR, XIPC_ERANGE, 3}, {3, 7, XIPC_SEEK_CUR, 0, 10},
      {3, 8, XIPC_SEEK_CUR, XIPC_ERANGE, 3}, {3, 0, XIPC_SEEK_END, 0, 10},
      {3, -10, XIPC_SEEK_END, 0, 0}, {3, -11, XIPC_SEEK_END, XIPC_ERANGE, 3},
      {3, 1, XIPC_SEEK_END, XIPC_ERANGE, 3}, {3, INT64_MAX, XIPC_SEEK_CUR, XIPC_ERANGE, 3},
      {3, INT64_MIN, XIPC_SEEK_END, XIPC_ERANGE, 3}, {3, 0, 3, XIPC_EINVAL, 3},
  };
  MapHandle h;
  fill(h, "0123456789");
  for (const Case &c : cases) {
    SCOPED_TRACE(std::to_string(c.offset) + " whence " + std::to_string(c.whence));
    ASSERT_EQ(0, xipc_map_seek(h.m, static_cast<int64_t>(c.from), XIPC_SEEK_SET));
    EXPECT_EQ(c.rc, xipc_map_seek(h.m, c.offset, c.whence));
    EXPECT_EQ(c.pos, xipc_map_tell(h.m));
  }
}

TEST(Map, CursorReadlineReadAndReadByte) {
  MapHandle h;
  fill(h, "line1\nline2\n\nlast");
  // Python: [m.readline() for _ in range(6)]
  const char *lines[] = {"line1\n", "line2\n", "\n", "last", "", ""};
  char buf[64];
  size_t len = 99;
  for (const char *want : lines) {
    XT_OK(xipc_map_readline(h.m, buf, sizeof buf, &len));
    EXPECT_EQ(want, std::string(buf, len));
  }
  // cap bounds a line like fgets; the rest comes next.
  XT_OK(xipc_map_seek(h.m, 0, XIPC_SEEK_SET));
  XT_OK(xipc_map_readline(h.m, buf, 3, &len));
  EXPECT_EQ("lin", std::string(buf, len));
  XT_OK(xipc_map_readline(h.m, buf, 3, &len));
  EXPECT_EQ("e1\n", std::string(buf, len));
  XT_OK(xipc_map_readline(h.m, nullptr, 0, &len));
  EXPECT_EQ(0u, len);
  EXPECT_EQ(6u, xipc_map_tell(h.m));
  // read stops at the end: m.read(4), m.read(100), m.read(5)
  XT_OK(xipc_map_seek(h.m, 0, XIPC_SEEK_SET));
  size_t n = 0;
  XT_OK(xipc_map_read(h.m, buf, 4, &n));
  EXPECT_EQ("line", std::string(buf, n));
  XT_OK(xipc_map_read(h.m, buf, sizeof buf, &n));
  EXPECT_EQ("1\nline2\n\nlast", std::string(buf, n));
  XT_OK(xipc_map_read(h.m, buf, 5, &n));
  EXPECT_EQ(0u, n);
  int byte = -1;
  EXPECT_EQ(XIPC_ERANGE, xipc_map_read_byte(h.m, &byte));  // "read byte out of range"
  XT_OK(xipc_map_seek(h.m, -4, XIPC_SEEK_END));
  XT_OK(xipc_map_read_byte(h.m, &byte));
  EXPECT_EQ('l', byte);
  XT_OK(xipc_map_read(h.m, buf, SIZE_MAX, nullptr));
  EXPECT_EQ(17u, xipc_map_tell(h.m));
}

TEST(Map, CursorWriteAndMoveFollowPython) {
  struct Case {
    size_t dest, src, count;
    int rc;
    const char *after;
  };
  // m = mmap(-1, 10); m.write(b"0123456789"); m.move(dest, src, count)
  const Case cases[] = {
      {2, 0, 5, 0, "0101234789"},           {0, 3, 7, 0, "3456789789"},
      {5, 5, 5, 0, "0123456789"},           {0, 0, 10, 0, "0123456789"},
      {9, 0, 2, XIPC_ERANGE, "0123456789"}, {0, 9, 2, XIPC_ERANGE, "0123456789"},
      {10, 0, 0, 0, "0123456789"},          {11, 0, 0, XIPC_ERANGE, "0123456789"},
      {0, 10, 0, 0, "0123456789"},          {0, 1, SIZE_MAX, XIPC_ERANGE, "0123456789"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(std::to_string(c.dest) + "," + std::to_string(c.src) + "," +
                 std::to_string(c.count));
    MapHandle h;
    fill(h, "0123456789");
    EXPECT_EQ(c.rc, xipc_map_move(h.m, c.dest, c.src, c.count));
    EXPECT_EQ(c.after, h.str());
  }
  // A write past the end writes nothing and keeps the cursor.
  MapHandle h;
  fill(h, "0123456789");
  XT_OK(xipc_map_seek(h.m, 8, XIPC_SEEK_SET));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_write(h.m, "xyz", 3));
  EXPECT_EQ(8u, xipc_map_tell(h.m));
  EXPECT_EQ("0123456789", h.str());
  XT_OK(xipc_map_write(h.m, "xy", 2));
  XT_OK(xipc_map_write(h.m, "", 0));  // an empty write at the end is fine
  EXPECT_EQ(XIPC_ERANGE, xipc_map_write_byte(h.m, 'z'));
  EXPECT_EQ("01234567xy", h.str());
  XT_OK(xipc_map_seek(h.m, 0, XIPC_SEEK_SET));
  XT_OK(xipc_map_write_byte(h.m, 255));
  EXPECT_EQ(1u, xipc_map_tell(h.m));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_write_byte(h.m, 256));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_write_byte(h.m, -1));
  EXPECT_EQ("\xff" "1234567xy", h.str());
}

TEST(Map, CursorSlicesGetAndSet) {
  MapHandle h;
  fill(h, "0123456789");
  char buf[16] = {};
  XT_OK(xipc_map_get(h.m, 2, 5, buf));
  EXPECT_EQ("234", std::string(buf, 3));
  XT_OK(xipc_map_get(h.m, 10, 10, nullptr));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_get(h.m, 5, 2, buf));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_get(h.m, 0, 11, buf));
  XT_OK(xipc_map_set(h.m, 7, "abc", 3));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_set(h.m, 8, "abc", 3));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_set(h.m, SIZE_MAX, "a", 1));
  XT_OK(xipc_map_set(h.m, 10, nullptr, 0));
  EXPECT_EQ("0123456abc", h.str());
  EXPECT_EQ(0u, xipc_map_tell(h.m));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_flush(h.m, 11, 0));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_flush(h.m, 5, 6));
  EXPECT_EQ(XIPC_ERANGE, xipc_map_flush(h.m, 1, SIZE_MAX));
}

TEST(Map, CursorBadInput) {
  MapHandle h;
  fill(h, "abc");
  char buf[4];
  size_t n;
  int b;
  int64_t pos;
  EXPECT_EQ(XIPC_EINVAL, xipc_map_read(nullptr, buf, 1, &n));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_read(h.m, nullptr, 1, &n));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_read_byte(nullptr, &b));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_read_byte(h.m, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_readline(nullptr, buf, 4, &n));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_readline(h.m, nullptr, 4, &n));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_readline(h.m, buf, 4, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_write(nullptr, "a", 1));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_write(h.m, nullptr, 1));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_write_byte(nullptr, 'a'));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_seek(nullptr, 0, XIPC_SEEK_SET));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_seek(h.m, 0, -1));
  EXPECT_EQ(0u, xipc_map_tell(nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_find(nullptr, "a", 1, 0, kEnd, &pos));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_find(h.m, nullptr, 1, 0, kEnd, &pos));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_find(h.m, "a", 1, 0, kEnd, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_rfind(nullptr, "a", 1, 0, kEnd, &pos));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_rfind(h.m, nullptr, 1, 0, kEnd, &pos));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_rfind(h.m, "a", 1, 0, kEnd, nullptr));
  XT_OK(xipc_map_find(h.m, nullptr, 0, 1, kEnd, &pos));
  EXPECT_EQ(1, pos);
  EXPECT_EQ(XIPC_EINVAL, xipc_map_move(nullptr, 0, 0, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_flush(nullptr, 0, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_get(nullptr, 0, 1, buf));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_get(h.m, 0, 1, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_set(nullptr, 0, "a", 1));
  EXPECT_EQ(XIPC_EINVAL, xipc_map_set(h.m, 0, nullptr, 1));
  EXPECT_EQ("abc", h.str());
  EXPECT_EQ(0u, xipc_map_tell(h.m));
}

TEST(Map, NoHandleLeaks) {
  std::string name = xt::unique_name("leak");
  TempFile f(std::string(100, 'f'));
  auto cycle = [&] {
    MapHandle a, b, c, d, e;
    XT_OK(xipc_map_named(&a.m, name.c_str(), 100, XIPC_ACCESS_WRITE, XIPC_CREATE));
    XT_OK(xipc_map_named(&b.m, name.c_str(), 0, XIPC_ACCESS_READ, 0));
    xipc_map *fail = nullptr;
    EXPECT_EQ(XIPC_EEXIST, xipc_map_named(&fail, name.c_str(), 100, XIPC_ACCESS_WRITE,
                                          XIPC_CREATE | XIPC_EXCL));
    EXPECT_EQ(XIPC_ERANGE, xipc_map_named(&fail, name.c_str(), 101, XIPC_ACCESS_READ, 0));
    XT_OK(xipc_map_file(&c.m, f.path.c_str(), 0, 0, XIPC_ACCESS_WRITE));
    XT_OK(xipc_map_resize(c.m, 200));
    EXPECT_EQ(XIPC_ERANGE, xipc_map_file(&fail, f.path.c_str(), 1000, 0, XIPC_ACCESS_READ));
    XT_OK(xipc_map_anonymous(&d.m, 100));
    XT_OK(xipc_map_resize(d.m, 100000));
    XT_OK(xipc_map_file(&e.m, f.path.c_str(), 0, 7, XIPC_ACCESS_COPY));
  };
  cycle();  // first use may allocate lasting runtime state
  long before = xt::open_handle_count();
  for (int i = 0; i < 5; i++) cycle();
  EXPECT_EQ(before, xt::open_handle_count());
  EXPECT_FALSE(exists_by_name(name));
}
