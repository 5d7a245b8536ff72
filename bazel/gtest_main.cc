// main() for every test, as an object of the test binary itself (see BUILD.bazel, gtest_main).
#include "gtest/gtest.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
