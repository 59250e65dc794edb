// Errors, version and names: the same answers on every platform.
#include "harness.h"

#include <cstring>
#include <set>
#include <string>

TEST(Errors, EveryCodeHasANameAndAMessage) {
  std::set<std::string> names, messages;
  int count = 0;
#define XT_CHECK_CODE(name, value, msg)                                       \
  EXPECT_STREQ("XIPC_" #name, xipc_err_name(XIPC_##name));                    \
  EXPECT_STREQ(msg, xipc_strerror(XIPC_##name));                              \
  EXPECT_LT(XIPC_##name, 0);                                                  \
  names.insert(xipc_err_name(XIPC_##name));                                   \
  messages.insert(xipc_strerror(XIPC_##name));                                \
  count++;
  XIPC_ERRNO_MAP(XT_CHECK_CODE)
#undef XT_CHECK_CODE
  EXPECT_EQ(count, static_cast<int>(names.size())) << "names are unique";
  EXPECT_EQ(count, static_cast<int>(messages.size())) << "messages are unique";
  EXPECT_EQ(-count, static_cast<int>(XIPC__ERR_LAST) + 1);
}

TEST(Errors, ApiContractCodesExist) {
  const int required[] = {XIPC_EINVAL, XIPC_ENOENT, XIPC_EEXIST, XIPC_EACCES,
                          XIPC_ENOMEM, XIPC_ENOSPC, XIPC_ERANGE, XIPC_EAGAIN,
                          XIPC_ETIMEDOUT, XIPC_ENOTSUP, XIPC_EBUSY, XIPC_ESRCH,
                          XIPC_EMSGSIZE, XIPC_ECLOSED, XIPC_EOWNERDEAD,
                          XIPC_ECORRUPT, XIPC_ENAMETOOLONG, XIPC_EIO};
  for (int code : required) {
    EXPECT_STRNE("XIPC_E?", xipc_err_name(code));
    EXPECT_STRNE("unknown error", xipc_strerror(code));
  }
}

TEST(Errors, SuccessAndUnknownCodes) {
  EXPECT_STREQ("XIPC_OK", xipc_err_name(0));
  EXPECT_STREQ("success", xipc_strerror(0));
  EXPECT_STREQ("XIPC_E?", xipc_err_name(-9999));
  EXPECT_STREQ("unknown error", xipc_strerror(-9999));
  EXPECT_STREQ("XIPC_E?", xipc_err_name(12345));
}

TEST(Errors, LastSystemErrorIsKeptAndCleared) {
  xipc_proc *p = nullptr;
  const char *argv[] = {"/nonexistent-dir-xipc/none", nullptr};
  EXPECT_EQ(XIPC_ENOENT, xipc_proc_spawn(&p, argv, nullptr));
  EXPECT_NE(0, xipc_last_system_error()) << "raw OS error is kept";
  EXPECT_EQ(XIPC_EINVAL, xipc_proc_spawn(nullptr, argv, nullptr));
  EXPECT_EQ(0, xipc_last_system_error()) << "argument errors are xipc's own";
}

TEST(Version, MatchesMacros) {
  std::string expect = std::to_string(XIPC_VERSION_MAJOR) + "." +
                       std::to_string(XIPC_VERSION_MINOR) + "." +
                       std::to_string(XIPC_VERSION_PATCH);
  EXPECT_EQ(expect, xipc_version());
}

TEST(Names, PortableNameRule) {
  EXPECT_EQ(0, xipc_name_check("a"));
  EXPECT_EQ(0, xipc_name_check("Abc-1.2_x"));
  EXPECT_EQ(0, xipc_name_check(std::string(XIPC_NAME_MAX, 'n').c_str()));
  EXPECT_EQ(XIPC_ENAMETOOLONG,
            xipc_name_check(std::string(XIPC_NAME_MAX + 1, 'n').c_str()));
  EXPECT_EQ(XIPC_EINVAL, xipc_name_check(nullptr));
  EXPECT_EQ(XIPC_EINVAL, xipc_name_check(""));
  EXPECT_EQ(XIPC_EINVAL, xipc_name_check("."));
  EXPECT_EQ(XIPC_EINVAL, xipc_name_check(".."));
  EXPECT_EQ(XIPC_EINVAL, xipc_name_check(".hidden"));
  EXPECT_EQ(XIPC_EINVAL, xipc_name_check("a/b"));
  EXPECT_EQ(XIPC_EINVAL, xipc_name_check("a\\b"));
  EXPECT_EQ(XIPC_EINVAL, xipc_name_check("Global\\x"));
  EXPECT_EQ(XIPC_EINVAL, xipc_name_check("sp ace"));
  EXPECT_EQ(XIPC_EINVAL, xipc_name_check("caf\xc3\xa9"));
}
