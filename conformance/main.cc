// Conformance suite entry point. `--helper=NAME args...` as the first
// argument runs a helper (see harness.h) instead of GoogleTest.
#include "harness.h"

#include <cstring>

int main(int argc, char **argv) {
  char **args = argv;
  if (xipc_args_utf8(argc, argv, &args) != 0) args = argv;
  if (argc >= 2 && std::strncmp(args[1], "--helper=", 9) == 0)
    return xt::run_helper(args[1] + 9, argc - 2, args + 2);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
