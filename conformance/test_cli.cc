// The xipc command (cli/xipc.c), run as a separate program the way a user
// runs it: ls/stat show what helpers hold, put/get move messages between
// the command and a helper, stale objects and sweep, rm and --force, send,
// and the exit status contract (0 / 1 with the XIPC_E* name / 2 with one
// line for usage errors).
#include "harness.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

const int kWait = xt::scaled_ms(30000);

// ---- running the command -----------------------------------------------------

// BUILD/cli/xipc(.exe), next to this binary's directory BUILD/conformance.
std::string cli_path() {
  std::string self = xt::self_exe();
  size_t slash = self.find_last_of("/\\");
  std::string dir = slash == std::string::npos ? "." : self.substr(0, slash);
  size_t up = dir.find_last_of("/\\");
  std::string build = up == std::string::npos ? "." : dir.substr(0, up);
  char sep = self.find('\\') != std::string::npos ? '\\' : '/';
  bool exe = self.size() > 4 && (self.compare(self.size() - 4, 4, ".exe") == 0 ||
                                 self.compare(self.size() - 4, 4, ".EXE") == 0);
  return build + sep + "cli" + sep + "xipc" + (exe ? ".exe" : "");
}

struct CliRun {
  int rc = -1;           // xipc_proc_run's result
  int exit_code = -1;    // the command's exit status (-1: did not exit)
  std::string out, err;  // stdout, stderr
};

CliRun run_cli(const std::vector<std::string> &args, const std::string *input = nullptr) {
  std::string exe = cli_path();
  std::vector<const char *> argv{exe.c_str()};
  for (const auto &a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  xipc_run_options o = {};
  o.timeout_ms = kWait;
  if (input != nullptr) {
    o.input = input->data();
    o.input_len = input->size();
  }
  xipc_run_result r = {};
  CliRun res;
  res.rc = xipc_proc_run(argv.data(), &o, &r);
  if (r.out != nullptr) res.out.assign(r.out, r.out_len);
  if (r.err != nullptr) res.err.assign(r.err, r.err_len);
  if (res.rc == 0 && r.status.exited) res.exit_code = r.status.exit_code;
  xipc_run_result_free(&r);
  return res;
}

std::string describe(const std::vector<std::string> &args, const CliRun &r) {
  std::string s = "xipc";
  for (const auto &a : args) s += " " + a;
  return s + " -> run " + xipc_err_name(r.rc) + ", exit " + std::to_string(r.exit_code) +
         "\nstdout: " + r.out + "\nstderr: " + r.err;
}

// ---- a small JSON reader (only what the command prints) --------------------------

struct Json {
  enum Type { Null, Bool, Number, String, Array, Object } type = Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Json> arr;
  std::map<std::string, Json> obj;
  bool has(const std::string &k) const { return type == Object && obj.count(k) != 0; }
  const Json &at(const std::string &k) const {
    static const Json none;
    auto it = obj.find(k);
    return it == obj.end() ? none : it->second;
  }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string &s) : s_(s) {}
  bool parse(Json *out) {
    if (!value(out, 0)) return false;
    ws();
    return i_ == s_.size();
  }

 private:
  const std::string &s_;
  size_t i_ = 0;
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
      i_++;
  }
  bool lit(const char *w) {
    size_t n = std::strlen(w);
    if (s_.compare(i_, n, w) != 0) return false;
    i_ += n;
    return true;
  }
  bool string(std::string *out) {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    for (i_++; i_ < s_.size(); i_++) {
      char c = s_[i_];
      if (c == '"') {
        i_++;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        char e = s_[i_];
        if (e == 'u') {
          if (i_ + 4 >= s_.size()) return false;
          out->push_back(static_cast<char>(std::strtol(s_.substr(i_ + 1, 4).c_str(), nullptr, 16)));
          i_ += 4;
        } else if (e == 'n') {
          out->push_back('\n');
        } else if (e == '"' || e == '\\' || e == '/') {
          out->push_back(e);
        } else {
          return false;
        }
        continue;
      }
      out->push_back(c);
    }
    return false;
  }
  bool value(Json *v, int depth) {
    if (depth > 32) return false;
    ws();
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '{') {
      v->type = Json::Object;
      i_++;
      ws();
      if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
      for (;;) {
        std::string k;
        ws();
        if (!string(&k)) return false;
        ws();
        if (i_ >= s_.size() || s_[i_++] != ':') return false;
        if (!value(&v->obj[k], depth + 1)) return false;
        ws();
        if (i_ >= s_.size()) return false;
        if (s_[i_] == ',') {
          i_++;
          continue;
        }
        return s_[i_++] == '}';
      }
    }
    if (c == '[') {
      v->type = Json::Array;
      i_++;
      ws();
      if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
      for (;;) {
        v->arr.emplace_back();
        if (!value(&v->arr.back(), depth + 1)) return false;
        ws();
        if (i_ >= s_.size()) return false;
        if (s_[i_] == ',') {
          i_++;
          continue;
        }
        return s_[i_++] == ']';
      }
    }
    if (c == '"') {
      v->type = Json::String;
      return string(&v->str);
    }
    if (lit("true")) return v->type = Json::Bool, v->b = true, true;
    if (lit("false")) return v->type = Json::Bool, v->b = false, true;
    if (lit("null")) return v->type = Json::Null, true;
    size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') i_++;
    while (i_ < s_.size() && ((s_[i_] >= '0' && s_[i_] <= '9') || s_[i_] == '.' || s_[i_] == 'e' ||
                              s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-'))
      i_++;
    if (i_ == start) return false;
    v->type = Json::Number;
    v->num = std::strtod(s_.substr(start, i_ - start).c_str(), nullptr);
    return true;
  }
};

// The documented fields of one object in `ls --json` (and stat, sweep).
::testing::AssertionResult has_object_fields(const Json &o) {
  const std::pair<const char *, Json::Type> fields[] = {
      {"name", Json::String},        {"kind", Json::String},     {"managed", Json::Bool},
      {"size", Json::Number},        {"creator", Json::Number},  {"created_ms", Json::Number},
      {"holders_known", Json::Bool}, {"nholders", Json::Number}, {"holders", Json::Array},
      {"stale", Json::Bool}};
  for (const auto &f : fields) {
    if (!o.has(f.first)) return ::testing::AssertionFailure() << "no field " << f.first;
    if (o.at(f.first).type != f.second)
      return ::testing::AssertionFailure() << "field " << f.first << " has the wrong type";
  }
  return ::testing::AssertionSuccess();
}

// `xipc ls --json`, parsed; the entry called name of kind, or nullptr.
struct Listing {
  Json root;
  bool ok = false;
  std::string text;
  const Json *find(const std::string &name, const char *kind) const {
    for (const auto &o : root.at("objects").arr)
      if (o.at("name").str == name && o.at("kind").str == kind) return &o;
    return nullptr;
  }
};

Listing ls_json() {
  Listing l;
  CliRun r = run_cli({"ls", "--json"});
  l.text = describe({"ls", "--json"}, r);
  if (r.rc != 0 || r.exit_code != 0) return l;
  l.ok = JsonParser(r.out).parse(&l.root) && l.root.type == Json::Object &&
         l.root.at("objects").type == Json::Array;
  return l;
}

bool holds(const Json &o, xipc_pid pid) {
  for (const auto &h : o.at("holders").arr)
    if (static_cast<xipc_pid>(h.num) == pid) return true;
  return false;
}

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; i++) s.push_back(static_cast<char>(i));
  return s;
}

// What `xipc get` prints for a message in text mode.
std::string escaped(const std::string &m) {
  std::string s;
  char b[8];
  for (unsigned char c : m) {
    if (c == '\\') {
      s += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      std::snprintf(b, sizeof b, "\\x%02x", c);
      s += b;
    } else {
      s.push_back(static_cast<char>(c));
    }
  }
  return s + "\n";
}

struct QueueHandle {
  xipc_queue *q = nullptr;
  ~QueueHandle() {
    if (q) xipc_queue_close(q);
  }
};

// ---- helpers -------------------------------------------------------------------

// Args: map queue ready go. Creates the mapping (64 bytes, "cli!") and the
// queue, signals ready and holds both until go.
XT_HELPER(cli_hold_objects) {
  XT_REQUIRE(argc >= 4);
  xipc_map *m = nullptr;
  xipc_queue *q = nullptr;
  XT_CHECK(xipc_map_named(&m, argv[0], 64, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  std::memcpy(xipc_map_data(m), "cli!", 4);
  XT_CHECK(xipc_queue_open(&q, argv[1], nullptr, XIPC_CREATE | XIPC_EXCL));
  XT_CHECK(xt::ready_signal(argv[2]));
  XT_CHECK(xt::flag_wait(argv[3], kWait));
  XT_CHECK(xipc_queue_close(q));
  XT_CHECK(xipc_map_close(m));
  return 0;
}

// Args: map ready. Creates the mapping, signals ready and holds it until
// killed.
XT_HELPER(cli_hold_map) {
  XT_REQUIRE(argc >= 2);
  xipc_map *m = nullptr;
  XT_CHECK(xipc_map_named(&m, argv[0], 32, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  XT_CHECK(xt::ready_signal(argv[1]));
  for (;;) xt::sleep_ms(50);
}

// Args: queue ready. Creates the queue, signals ready, then expects the
// messages "hello cli", all 256 byte values, "one", "two" (from the
// command) and exits 0 when they came in that order.
XT_HELPER(cli_consume) {
  XT_REQUIRE(argc >= 2);
  xipc_queue *q = nullptr;
  XT_CHECK(xipc_queue_open(&q, argv[0], nullptr, XIPC_CREATE | XIPC_EXCL));
  XT_CHECK(xt::ready_signal(argv[1]));
  const std::string want[] = {"hello cli", all_bytes(), "one", "two"};
  char buf[1024];
  for (const auto &w : want) {
    size_t len = 0;
    XT_CHECK(xipc_queue_get(q, buf, sizeof buf, &len, kWait));
    XT_REQUIRE(std::string(buf, len) == w);
  }
  XT_CHECK(xipc_queue_close(q));
  return 0;
}

// Args: queue ready go. Creates the queue, puts "from helper", all 256
// byte values twice, signals ready and keeps the queue until go.
XT_HELPER(cli_produce) {
  XT_REQUIRE(argc >= 3);
  xipc_queue *q = nullptr;
  XT_CHECK(xipc_queue_open(&q, argv[0], nullptr, XIPC_CREATE | XIPC_EXCL));
  std::string bin = all_bytes();
  XT_CHECK(xipc_queue_put(q, "from helper", 11, 0));
  XT_CHECK(xipc_queue_put(q, bin.data(), bin.size(), 0));
  XT_CHECK(xipc_queue_put(q, bin.data(), bin.size(), 0));
  XT_CHECK(xt::ready_signal(argv[1]));
  XT_CHECK(xt::flag_wait(argv[2], kWait));
  XT_CHECK(xipc_queue_close(q));
  return 0;
}

struct TermFlags {
  std::vector<std::string> tokens;
  std::atomic<size_t> next{0};
};

void on_term(int sig, void *arg) {
  auto *f = static_cast<TermFlags *>(arg);
  size_t i = f->next.fetch_add(1);
  if (sig == XIPC_SIGTERM && i < f->tokens.size()) xt::flag_set(f->tokens[i]);
}

// Args: ready h1 h2 h3. Handles SIGTERM: the n-th run of the handler sets
// flag hn. Signals ready, exits 0 after the third run.
XT_HELPER(cli_term_handler) {
  XT_REQUIRE(argc >= 4);
  static TermFlags f;
  f.tokens = {argv[1], argv[2], argv[3]};
  XT_CHECK(xipc_signal_handle(XIPC_SIGTERM, on_term, &f));
  XT_CHECK(xt::ready_signal(argv[0]));
  XT_CHECK(xt::flag_wait(argv[3], kWait));
  XT_CHECK(xipc_signal_default(XIPC_SIGTERM));
  return 0;
}

}  // namespace

// ---- tests ---------------------------------------------------------------------

TEST(Cli, VersionAndHelpExitZero) {
  CliRun v = run_cli({"--version"});
  ASSERT_EQ(0, v.exit_code) << describe({"--version"}, v);
  EXPECT_EQ(std::string("xipc ") + xipc_version() + "\n", v.out);
  for (const char *cmd : {"ls", "stat", "rm", "sweep", "put", "get", "send", "cat"}) {
    CliRun h = run_cli({cmd, "--help"});
    EXPECT_EQ(0, h.exit_code) << describe({cmd, "--help"}, h);
    EXPECT_EQ(0u, h.out.find(std::string("usage: xipc ") + cmd)) << h.out;
    EXPECT_EQ("", h.err);
  }
  CliRun top = run_cli({"--help"});
  EXPECT_EQ(0, top.exit_code);
  EXPECT_NE(std::string::npos, top.out.find("xipc sweep")) << top.out;
}

TEST(Cli, EveryUsageErrorExitsTwoWithOneLine) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"bogus"},
      {"--bogus"},
      {"help", "bogus"},
      {"ls", "--bogus"},
      {"ls", "extra"},
      {"ls", "--json", "--json"},
      {"ls", "--json=yes"},
      {"stat"},
      {"stat", "a", "b"},
      {"stat", "bad/name"},
      {"stat", "x", "--kind", "nope"},
      {"stat", "x", "--kind"},
      {"rm"},
      {"rm", "x", "-f"},
      {"sweep", "x"},
      {"put", "q"},
      {"put", "q", "m", "--lines"},
      {"put", "q", "m", "--timeout", "-2"},
      {"get"},
      {"get", "q", "--timeout", "abc"},
      {"get", "q", "--timeout"},
      {"get", "q", "--count", "0"},
      {"get", "q", "--count", "1x"},
      {"send", "abc", "TERM"},
      {"send", "0", "TERM"},
      {"send", "1", "NOPE"},
      {"send", "1", "99"},
      {"send", "1"},
      {"cat"},
      {"cat", "x", "--hex=1"},
  };
  for (const auto &args : cases) {
    CliRun r = run_cli(args);
    EXPECT_EQ(2, r.exit_code) << describe(args, r);
    EXPECT_EQ("", r.out) << describe(args, r);
    ASSERT_FALSE(r.err.empty()) << describe(args, r);
    EXPECT_EQ(r.err.size() - 1, r.err.find('\n')) << "not one line: " << describe(args, r);
  }
}

TEST(Cli, FailureExitsOneWithTheErrorName) {
  std::string name = xt::unique_name("cli-none");
  CliRun r = run_cli({"stat", name});
  EXPECT_EQ(1, r.exit_code) << describe({"stat", name}, r);
  EXPECT_NE(std::string::npos, r.err.find("XIPC_ENOENT")) << r.err;
  EXPECT_EQ(r.err.size() - 1, r.err.find('\n')) << r.err;
  CliRun g = run_cli({"get", name, "--timeout", "0"});
  EXPECT_EQ(1, g.exit_code) << describe({"get", name}, g);
  EXPECT_NE(std::string::npos, g.err.find("XIPC_ENOENT")) << g.err;
}

TEST(Cli, LsShowsAHelpersObjectsWithItsPidAsHolder) {
  std::string map = xt::unique_name("cli-map"), queue = xt::unique_name("cli-q");
  xt::Flag ready("ready"), go("go");
  xt::Child c;
  xt::Cleanup stop([&] {
    go.set();
    c.exit_code(kWait);
  });
  XT_OK(c.start("cli_hold_objects", {map, queue, ready, go}));
  ASSERT_TRUE(xt::ready_wait(ready, kWait, &c));

  Listing l = ls_json();
  ASSERT_TRUE(l.ok) << l.text;
  const Json *m = l.find(map, "mapping"), *q = l.find(queue, "queue");
  ASSERT_NE(nullptr, m) << l.text;
  ASSERT_NE(nullptr, q) << l.text;
  for (const Json *o : {m, q}) {
    EXPECT_TRUE(has_object_fields(*o)) << l.text;
    EXPECT_TRUE(o->at("managed").b);
    EXPECT_FALSE(o->at("stale").b);
    double creator = o->at("creator").num;
    EXPECT_TRUE(creator == 0 || creator == static_cast<double>(c.pid())) << l.text;
    if (o->at("holders_known").b) {
      EXPECT_TRUE(holds(*o, c.pid())) << "pid " << c.pid() << " not a holder: " << l.text;
      EXPECT_EQ(o->at("nholders").num, static_cast<double>(o->at("holders").arr.size()));
    } else {
      // Where the OS does not say who holds it (Wine), the helper must at
      // least show as the creator, from xipc's own record.
      std::printf("note: this platform does not say who holds %s\n", o->at("name").str.c_str());
      EXPECT_EQ(static_cast<double>(c.pid()), creator) << l.text;
    }
  }
  EXPECT_LE(64.0, m->at("size").num);

  // The table has the same objects.
  CliRun t = run_cli({"ls"});
  ASSERT_EQ(0, t.exit_code) << describe({"ls"}, t);
  EXPECT_NE(std::string::npos, t.out.find(map)) << t.out;
  EXPECT_NE(std::string::npos, t.out.find(queue)) << t.out;

  // stat: the queue's xipc_queue_info, and the mapping's bytes through cat.
  CliRun s = run_cli({"stat", queue, "--json"});
  ASSERT_EQ(0, s.exit_code) << describe({"stat", queue, "--json"}, s);
  Json st;
  ASSERT_TRUE(JsonParser(s.out).parse(&st)) << s.out;
  EXPECT_TRUE(has_object_fields(st)) << s.out;
  EXPECT_EQ("queue", st.at("kind").str);
  const Json &qi = st.at("queue");
  ASSERT_EQ(Json::Object, qi.type) << s.out;
  for (const char *f :
       {"capacity", "max_message", "max_producers", "producers", "count", "bytes", "unfinished"})
    EXPECT_EQ(Json::Number, qi.at(f).type) << f << ": " << s.out;
  EXPECT_EQ(0.0, qi.at("count").num);
  EXPECT_FALSE(qi.at("closed").b);
  EXPECT_FALSE(qi.at("persistent").b);
  CliRun cat = run_cli({"cat", map});
  ASSERT_EQ(0, cat.exit_code) << describe({"cat", map}, cat);
  ASSERT_LE(4u, cat.out.size());
  EXPECT_EQ("cli!", cat.out.substr(0, 4));
  CliRun hex = run_cli({"cat", map, "--hex"});
  ASSERT_EQ(0, hex.exit_code) << describe({"cat", map, "--hex"}, hex);
  EXPECT_EQ(0u, hex.out.find("00000000  63 6c 69 21 00")) << hex.out;
}

TEST(Cli, PutFromTheCommandGetInAHelper) {
  std::string queue = xt::unique_name("cli-put");
  xt::Flag ready("ready");
  xt::Child c;
  XT_OK(c.start("cli_consume", {queue, ready}));
  ASSERT_TRUE(xt::ready_wait(ready, kWait, &c));
  CliRun a = run_cli({"put", queue, "hello cli"});
  EXPECT_EQ(0, a.exit_code) << describe({"put", queue, "hello cli"}, a);
  std::string bin = all_bytes();
  CliRun b = run_cli({"put", queue, "-"}, &bin);
  EXPECT_EQ(0, b.exit_code) << describe({"put", queue, "-"}, b);
  std::string lines = "one\ntwo\n";
  CliRun l = run_cli({"put", queue, "-", "--lines", "--timeout", "5000"}, &lines);
  EXPECT_EQ(0, l.exit_code) << describe({"put", queue, "-", "--lines"}, l);
  EXPECT_EQ(0, c.exit_code(kWait));
}

TEST(Cli, GetFromTheCommandPutInAHelper) {
  std::string queue = xt::unique_name("cli-get");
  xt::Flag ready("ready"), go("go");
  xt::Child c;
  xt::Cleanup stop([&] {
    go.set();
    c.exit_code(kWait);
  });
  XT_OK(c.start("cli_produce", {queue, ready, go}));
  ASSERT_TRUE(xt::ready_wait(ready, kWait, &c));
  std::vector<std::string> text = {"get", queue, "--timeout", std::to_string(kWait)};
  CliRun a = run_cli(text);
  EXPECT_EQ(0, a.exit_code) << describe(text, a);
  EXPECT_EQ("from helper\n", a.out);
  std::vector<std::string> raw = {"get", queue, "--raw", "--timeout", "0"};
  CliRun b = run_cli(raw);
  EXPECT_EQ(0, b.exit_code) << describe(raw, b);
  EXPECT_EQ(all_bytes(), b.out);
  CliRun e = run_cli({"get", queue, "--timeout", "0"});
  EXPECT_EQ(0, e.exit_code) << describe({"get", queue}, e);
  EXPECT_EQ(escaped(all_bytes()), e.out);
  // Empty now: a zero timeout is XIPC_EAGAIN, exit 1.
  CliRun none = run_cli({"get", queue, "--timeout", "0", "--count", "2"});
  EXPECT_EQ(1, none.exit_code) << describe({"get", queue, "--count", "2"}, none);
  EXPECT_NE(std::string::npos, none.err.find("XIPC_EAGAIN")) << none.err;
}

// One round of KilledHolder...: a helper holding `dead` is killed, then ls
// and sweep. Returns false, without failing, when another test's sweep
// (ctest runs tests in parallel) removed `dead` before ours could.
bool stale_round(const std::string &dead, const std::string &live) {
  xt::Flag ready("ready");
  xt::Child c;
  if (c.start("cli_hold_map", {dead, ready}) != 0 || !xt::ready_wait(ready, kWait, &c)) {
    ADD_FAILURE() << "the helper did not start";
    return true;
  }
  EXPECT_EQ(0, c.kill());
  xipc_exit_status st;
  EXPECT_EQ(0, c.wait(kWait, &st));

  // POSIX keeps the name of an object whose holders died (nobody was there
  // to remove it): ls says stale. Windows freed it with the process.
  bool left_behind = xt::shm_name_exists(dead);
  Listing l = ls_json();
  EXPECT_TRUE(l.ok) << l.text;
  const Json *d = l.find(dead, "mapping");
  if (left_behind && d == nullptr && !xt::shm_name_exists(dead)) return false;
  if (left_behind) {
    EXPECT_NE(nullptr, d) << l.text;
    if (d != nullptr) {
      EXPECT_TRUE(d->at("stale").b) << l.text;
      EXPECT_EQ(0.0, d->at("nholders").num) << l.text;
    }
  } else {
    EXPECT_EQ(nullptr, d) << "the kernel freed it, ls must not list it: " << l.text;
  }
  const Json *q = l.find(live, "queue");
  EXPECT_NE(nullptr, q) << l.text;
  if (q != nullptr) {
    EXPECT_FALSE(q->at("stale").b) << l.text;
    if (q->at("holders_known").b) {
      EXPECT_TRUE(holds(*q, xipc_self_pid())) << l.text;
    }
  }

  CliRun s = run_cli({"sweep"});
  EXPECT_EQ(0, s.exit_code) << describe({"sweep"}, s);
  bool reported = s.out.find("removed mapping " + dead + "\n") != std::string::npos;
  if (left_behind && !reported && !xt::shm_name_exists(dead)) return false;
  if (left_behind) {
    EXPECT_TRUE(reported) << s.out;
  }
  EXPECT_EQ(std::string::npos, s.out.find(live)) << s.out;
  EXPECT_FALSE(xt::shm_name_exists(dead));
  Listing after = ls_json();
  EXPECT_TRUE(after.ok) << after.text;
  EXPECT_EQ(nullptr, after.find(dead, "mapping")) << after.text;
  EXPECT_NE(nullptr, after.find(live, "queue")) << after.text;
  return true;
}

TEST(Cli, KilledHolderLeavesAStaleObjectThatSweepRemovesAndLiveOnesStay) {
  xt::SweepGuard sweeping;  // see harness.h
  std::string live = xt::unique_name("cli-live");
  std::vector<std::string> deads;
  xt::Cleanup rm([&] {
    for (const auto &d : deads) xipc_map_unlink(d.c_str());
    xipc_queue_unlink(live.c_str());
  });
  QueueHandle held;
  XT_OK(xipc_queue_open(&held.q, live.c_str(), nullptr, XIPC_CREATE | XIPC_EXCL));
  bool done = false;
  for (int round = 0; round < 3 && !done; round++) {
    deads.push_back(xt::unique_name("cli-dead"));
    done = stale_round(deads.back(), live);
  }
  EXPECT_TRUE(done) << "another process swept the stale object away three times in a row";
  // The live queue still works.
  XT_EXPECT_OK(xipc_queue_put(held.q, "x", 1, 0));
}

TEST(Cli, RmOfALiveObjectNeedsForce) {
  std::string name = xt::unique_name("cli-rm");
  xt::Cleanup rm([&] { xipc_map_unlink(name.c_str()); });
  xt::Flag ready("ready");
  xt::Child c;
  XT_OK(c.start("cli_hold_map", {name, ready}));
  ASSERT_TRUE(xt::ready_wait(ready, kWait, &c));
  Listing l = ls_json();
  ASSERT_TRUE(l.ok) << l.text;
  const Json *o = l.find(name, "mapping");
  ASSERT_NE(nullptr, o) << l.text;

  CliRun r = run_cli({"rm", name});
  EXPECT_EQ(1, r.exit_code) << describe({"rm", name}, r);
  if (o->at("holders_known").b) {
    EXPECT_NE(std::string::npos, r.err.find("XIPC_EBUSY")) << r.err;
  }
  EXPECT_TRUE(xt::shm_name_exists(name));

  // --force: POSIX removes the name while the helper still maps it;
  // Windows cannot remove a kernel object's name (XIPC_ENOTSUP).
  CliRun f = run_cli({"rm", name, "--force"});
  if (f.exit_code == 0) {
    EXPECT_FALSE(xt::shm_name_exists(name));
  } else {
    EXPECT_EQ(1, f.exit_code) << describe({"rm", name, "--force"}, f);
    EXPECT_NE(std::string::npos, f.err.find("XIPC_ENOTSUP")) << f.err;
    EXPECT_TRUE(xt::shm_name_exists(name));
  }
  XT_OK(c.kill());
  xipc_exit_status st;
  XT_OK(c.wait(kWait, &st));
}

TEST(Cli, RmRemovesAnObjectNobodyHolds) {
  xt::SweepGuard sweeping;  // see harness.h
  std::string name = xt::unique_name("cli-pq");
  xt::Cleanup rm([&] { xipc_queue_unlink(name.c_str()); });
  QueueHandle q;
  XT_OK(xipc_queue_open(&q.q, name.c_str(), nullptr, XIPC_CREATE | XIPC_EXCL | XIPC_QUEUE_PERSIST));
  XT_OK(xipc_queue_put(q.q, "kept", 4, 0));
  XT_OK(xipc_queue_close(q.q));
  q.q = nullptr;
  CliRun s = run_cli({"stat", name, "--json"});
  ASSERT_EQ(0, s.exit_code) << describe({"stat", name}, s);
  Json st;
  ASSERT_TRUE(JsonParser(s.out).parse(&st)) << s.out;
  EXPECT_EQ("persistent-queue", st.at("kind").str) << s.out;
  EXPECT_FALSE(st.at("stale").b) << s.out;
  EXPECT_EQ(1.0, st.at("queue").at("count").num) << s.out;
  EXPECT_TRUE(st.at("queue").at("persistent").b) << s.out;
  // A persistent queue is never stale: sweep leaves it, rm removes it.
  CliRun sw = run_cli({"sweep"});
  EXPECT_EQ(std::string::npos, sw.out.find(name)) << sw.out;
  CliRun r = run_cli({"rm", name});
  EXPECT_EQ(0, r.exit_code) << describe({"rm", name}, r);
  CliRun again = run_cli({"stat", name});
  EXPECT_EQ(1, again.exit_code) << describe({"stat", name}, again);
  EXPECT_NE(std::string::npos, again.err.find("XIPC_ENOENT")) << again.err;
}

TEST(Cli, SendTermRunsTheHelpersHandler) {
  xt::Flag ready("ready"), h1("h1"), h2("h2"), h3("h3");
  xt::Child c;
  XT_OK(c.start("cli_term_handler", {ready, h1, h2, h3}));
  ASSERT_TRUE(xt::ready_wait(ready, kWait, &c));
  std::string pid = std::to_string(c.pid());
  xt::Flag *flags[] = {&h1, &h2, &h3};
  const char *spellings[] = {"TERM", "SIGTERM", "15"};
  for (int i = 0; i < 3; i++) {
    CliRun r = run_cli({"send", pid, spellings[i]});
    ASSERT_EQ(0, r.exit_code) << describe({"send", pid, spellings[i]}, r);
    EXPECT_TRUE(flags[i]->wait(kWait, &c)) << "the handler did not run for " << spellings[i];
  }
  EXPECT_EQ(0, c.exit_code(kWait));
}

TEST(Cli, AmbiguousNameNeedsAKind) {
  std::string name = xt::unique_name("cli-two");
  xipc_map *m = nullptr;
  xipc_sem *s = nullptr;
  XT_OK(xipc_map_named(&m, name.c_str(), 16, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL));
  xt::Cleanup closem([&] { xipc_map_close(m); });
  XT_OK(xipc_sem_open(&s, name.c_str(), 0, XIPC_CREATE | XIPC_EXCL));
  xt::Cleanup closes([&] { xipc_sem_close(s); });
  CliRun both = run_cli({"stat", name});
  EXPECT_EQ(1, both.exit_code) << describe({"stat", name}, both);
  EXPECT_NE(std::string::npos, both.err.find("XIPC_EEXIST")) << both.err;
  for (const char *kind : {"mapping", "semaphore"}) {
    std::vector<std::string> args = {"stat", name, "--kind", kind, "--json"};
    CliRun r = run_cli(args);
    ASSERT_EQ(0, r.exit_code) << describe(args, r);
    Json o;
    ASSERT_TRUE(JsonParser(r.out).parse(&o)) << r.out;
    EXPECT_EQ(kind, o.at("kind").str);
    EXPECT_EQ(name, o.at("name").str);
  }
  xipc_object_info info;
  EXPECT_EQ(XIPC_EEXIST, xipc_object_stat(name.c_str(), 0, &info));
  XT_EXPECT_OK(xipc_object_stat(name.c_str(), XIPC_OBJ_SEMAPHORE, &info));
  EXPECT_EQ(XIPC_OBJ_SEMAPHORE, info.kind);
  EXPECT_STREQ(name.c_str(), info.name);
}

TEST(Cli, EnumerationCallsRejectBadInput) {
  xt::SweepGuard sweeping;  // see harness.h
  xipc_object_info *v = reinterpret_cast<xipc_object_info *>(1);
  size_t n = 7;
  EXPECT_EQ(XIPC_EINVAL, xipc_objects_list(nullptr, &n));
  EXPECT_EQ(0u, n);
  EXPECT_EQ(XIPC_EINVAL, xipc_objects_list(&v, nullptr));
  EXPECT_EQ(nullptr, v);
  xipc_objects_free(nullptr);
  xipc_object_info info;
  std::string missing = xt::unique_name("cli-missing");
  EXPECT_EQ(XIPC_EINVAL, xipc_object_stat(missing.c_str(), 0, nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_object_stat(nullptr, 0, &info));
  EXPECT_EQ(XIPC_EINVAL, xipc_object_stat("bad/name", 0, &info));
  EXPECT_EQ(XIPC_ENAMETOOLONG,
            xipc_object_stat(std::string(XIPC_NAME_MAX + 1, 'a').c_str(), 0, &info));
  EXPECT_EQ(XIPC_EINVAL, xipc_object_stat(missing.c_str(), 99, &info));
  EXPECT_EQ(XIPC_EINVAL, xipc_object_stat(missing.c_str(), -1, &info));
  EXPECT_EQ(XIPC_ENOENT, xipc_object_stat(missing.c_str(), 0, &info));
  EXPECT_EQ(XIPC_EINVAL, xipc_object_remove(missing.c_str(), 0, 0x100));
  EXPECT_EQ(XIPC_EINVAL, xipc_object_remove(nullptr, 0, 0));
  EXPECT_EQ(XIPC_EINVAL, xipc_object_remove(missing.c_str(), 7, 0));
  EXPECT_EQ(XIPC_ENOENT, xipc_object_remove(missing.c_str(), 0, XIPC_REMOVE_FORCE));
  XT_EXPECT_OK(xipc_objects_sweep(nullptr, nullptr));
  EXPECT_STREQ("?", xipc_object_kind_name(0));
  EXPECT_STREQ("?", xipc_object_kind_name(XIPC_OBJ_LISTENER + 1));
  EXPECT_STREQ("persistent-queue", xipc_object_kind_name(XIPC_OBJ_PERSISTENT_QUEUE));
  EXPECT_EQ(0, xipc_object_kind_parse(nullptr));
  EXPECT_EQ(0, xipc_object_kind_parse("Queue"));
  for (int k = XIPC_OBJ_MAPPING; k <= XIPC_OBJ_LISTENER; k++)
    EXPECT_EQ(k, xipc_object_kind_parse(xipc_object_kind_name(k)));
}

TEST(Cli, AnotherUsersObjectsAreNeitherListedNorRemoved) {
  xt::SweepGuard sweeping;  // see harness.h
  int probe = xt::fork_and_run([] { return xt::drop_root() ? 0 : 77; });
  if (probe == -1)
    GTEST_SKIP() << "no fork() or second user here (Windows lists only objects "
                    "that pass the owner check, see Objects.*)";
  if (probe != 0) GTEST_SKIP() << "needs root to switch to another user (uid 65534)";
  std::string theirs = xt::unique_name("cli-theirs"), fifo = xt::unique_name("cli-fifo");
  xt::Cleanup rm([&] {
    xipc_map_unlink(theirs.c_str());
    xt::remove_file(xt::shm_object_path(fifo));
  });
  // Another user's xipc mapping whose holder is gone (it exits without
  // closing): stale for that user, not ours to list, sweep or remove.
  int rc = xt::fork_and_run([&] {
    if (!xt::drop_root()) return 77;
    xipc_map *m;
    return xipc_map_named(&m, theirs.c_str(), 64, XIPC_ACCESS_WRITE, XIPC_CREATE | XIPC_EXCL);
  });
  ASSERT_EQ(0, rc);
  ASSERT_TRUE(xt::shm_name_exists(theirs));
  // A FIFO at a name: not an object, and listing must not block on it.
  ASSERT_TRUE(xt::make_fifo(xt::shm_object_path(fifo)));
  Listing l = ls_json();
  ASSERT_TRUE(l.ok) << l.text;
  for (const auto &o : l.root.at("objects").arr) {
    EXPECT_NE(theirs, o.at("name").str) << l.text;
    EXPECT_NE(fifo, o.at("name").str) << l.text;
  }
  CliRun s = run_cli({"sweep"});
  EXPECT_EQ(0, s.exit_code) << describe({"sweep"}, s);
  EXPECT_TRUE(xt::shm_name_exists(theirs));
  for (const std::string &name : {theirs, fifo}) {
    CliRun r = run_cli({"rm", name, "--force"});
    EXPECT_EQ(1, r.exit_code) << describe({"rm", name, "--force"}, r);
    EXPECT_NE(std::string::npos, r.err.find("XIPC_ENOENT")) << r.err;
  }
  EXPECT_TRUE(xt::shm_name_exists(theirs));
  EXPECT_TRUE(xt::shm_name_exists(fifo));
}
